"""Sensor that waits for a DataArts Factory job instance: one by id, or a scheduled one by plan time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import PokeReturnValue

from airflow_provider_dataarts.operators.base import DEFAULT_DEFERRABLE
from airflow_provider_dataarts.sensors.base import DataArtsSensor
from airflow_provider_dataarts.statuses import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_dataarts.triggers.job import DataArtsJobInstanceTrigger


class DataArtsJobInstanceSensor(DataArtsSensor):
    """
    Wait for a DataArts Factory job instance to finish, then pass, skip or fail on its status.

    The instance is ``instance_id``, or, for a job that DataArts schedules itself, the instance of
    ``job_name`` planned at ``plan_time`` (e.g. ``"{{ data_interval_end }}"``). That instance may
    not exist yet when the sensor starts: the sensor waits for it to appear, up to its ``timeout``
    (Airflow's default for sensors: 7 days), saying once in the log that it is not there yet.

    As soon as the instance is terminal, pushes XCom ``job_result`` (every node; also the
    ``return_value`` on success). ``success`` (or ``forceSuccess``/``ignoreSuccess``) passes;
    ``fail``, ``running-exception``, ``manual-stop`` fail, naming the failed nodes; ``skip-by-depend``
    skips; anything else keeps waiting. Poke, reschedule and deferrable; it never stops anything.

    :param job_name: The Factory job's name. (templated)
    :param instance_id: The job instance id; or give ``plan_time``. (templated)
    :param plan_time: The plan time of the scheduled instance: a datetime, ISO text or epoch
        milliseconds. (templated)
    :param dataarts_conn_id: The Airflow connection of type ``dataarts``. (templated)
    :param deferrable: Wait in the triggerer instead of a worker slot.
    """

    template_fields: Sequence[str] = ("job_name", "instance_id", "plan_time", *DataArtsSensor.template_fields)
    ui_color = "#d9ecd0"
    state_key = "dataarts_job_wait"

    def __init__(
        self,
        *,
        job_name: str,
        instance_id: str | int | None = None,
        plan_time: Any = None,
        dataarts_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool = DEFAULT_DEFERRABLE,
        **kwargs: Any,
    ) -> None:
        super().__init__(dataarts_conn_id=dataarts_conn_id, deferrable=deferrable, **kwargs)
        if (instance_id is None) == (plan_time is None):
            raise ValueError(f"{self.task_id}: give exactly one of instance_id and plan_time.")
        self.job_name = job_name
        self.instance_id = instance_id
        self.plan_time = plan_time

    def validate(self) -> None:
        from airflow_provider_dataarts.client.core import segment
        from airflow_provider_dataarts.client.operations import name_segment
        from airflow_provider_dataarts.exceptions import refused_without_retry

        with refused_without_retry(self.task_id):
            name_segment(self.job_name, "job_name")
            if self.instance_id is not None:
                segment(self.instance_id, "instance_id")
            self._plan_ms()
        super().validate()

    def _plan_ms(self) -> int | None:
        from airflow_provider_dataarts.hooks.dataarts import epoch_millis

        if self.instance_id is not None:
            return None
        return epoch_millis(self.plan_time, "plan_time")

    def make_trigger(self, end_time: float) -> DataArtsJobInstanceTrigger:
        from airflow_provider_dataarts.triggers.job import DataArtsJobInstanceTrigger

        return DataArtsJobInstanceTrigger(
            job_name=self.job_name,
            instance_id=str(self.instance_id or ""),
            plan_time=self._plan_ms(),
            dataarts_conn_id=self.dataarts_conn_id,
            poll_interval=self.poke_interval,
            end_time=end_time,
        )

    def _find_scheduled(self) -> str | None:
        """The id of the newest instance of the job at the plan time, or None while there is none."""
        plan = self._plan_ms()
        found = [
            item
            for item in self.hook.list_job_instances(self.job_name, min_plan_time=plan, max_plan_time=plan)
            if item.get("planTime") == plan and item.get("jobName") == self.job_name
        ]
        if not found:
            if not self.state.record.get("told_absent"):
                self.log.info(
                    "DataArts job %s has no instance planned at %s yet; waiting for it", self.job_name, plan
                )
                self.state.save(told_absent=True)
            return None
        newest = str(max(found, key=lambda item: int(str(item["instanceId"])))["instanceId"])
        self.log.info("DataArts job %s instance %s is the one planned at %s", self.job_name, newest, plan)
        return newest

    def poke(self, context: Context) -> bool | PokeReturnValue:
        from airflow_provider_dataarts.exceptions import DataArtsAPIError
        from airflow_provider_dataarts.statuses import is_job_terminal
        from airflow_provider_dataarts.waiting import guarded, job_instance_check

        try:
            instance_id = str(self.instance_id or self.state.record.get("instance_id") or "")
            if not instance_id:
                found = guarded(
                    lambda: {"id": self._find_scheduled()},
                    self.hook,
                    self.state,
                    f"job {self.job_name}",
                    self.log,
                    poll_interval=self.poke_interval,
                )()
                if not found or not found["id"]:
                    return False
                instance_id = found["id"]
                self.state.save(instance_id=instance_id)
            check = job_instance_check(
                self.hook, self.state, self.job_name, instance_id, self.log, poll_interval=self.poke_interval
            )
            detail = check()
        except DataArtsAPIError as error:
            self._skip_if_soft_fail(error)
            raise
        if detail is None or not is_job_terminal(detail):
            return False
        return PokeReturnValue(is_done=True, xcom_value=self._finish(context, detail))

    def _finish(self, context: Context, detail: dict[str, Any]) -> dict[str, Any]:
        from airflow_provider_dataarts.results.job import finish_job

        return finish_job(
            self.job_name,
            detail,
            context,
            log=self.log,
            retryable=False,
            delivered=lambda passed: self._state.forget() if self._state is not None else None,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger: validate its event, then decide on the instance it found."""
        from airflow_provider_dataarts.results import validate_event
        from airflow_provider_dataarts.results.job import job_detail_for

        event = validate_event(event, str(self.instance_id) if self.instance_id is not None else None)
        instance = event.get("instance") or self.hook.get_job_instance(
            self.job_name, str(event["instance_id"])
        )
        return self._finish(context, job_detail_for(self.hook, self.job_name, instance))
