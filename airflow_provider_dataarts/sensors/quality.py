"""Sensor that waits for a DataArts Quality instance and gates the pipeline on its result."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import PokeReturnValue

from airflow_provider_dataarts.openlineage import QualityLineageMixin
from airflow_provider_dataarts.operators.base import DEFAULT_DEFERRABLE
from airflow_provider_dataarts.quality_policy import check_warn_only_at_parse, warn_only_patterns
from airflow_provider_dataarts.sensors.base import DataArtsSensor
from airflow_provider_dataarts.statuses import DEFAULT_CONN_ID, is_quality_terminal

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_dataarts.triggers.quality import DataArtsQualityInstanceTrigger


class DataArtsQualityInstanceSensor(QualityLineageMixin, DataArtsSensor):
    """
    Wait for a DataArts Quality instance to finish, then pass or fail on its result.

    As soon as the instance is terminal, pushes XCom ``quality_result`` (the instance and every
    sub-rule result, all pages), then: ``SUCCESS`` passes, ``FAILED`` fails, ``ALARMING`` fails unless
    every alarming sub-rule is ``warn_only`` or ``fail_on_alarm=False`` (then passes with a warning).
    Works in poke, reschedule and deferrable mode; ``timeout`` and ``soft_fail`` behave the same in
    all three. It never stops the instance.

    :param instance_id: The quality instance id. (templated)
    :param job_name: Optional job name, to find the instance with one request. (templated)
    :param started_after: Optional time no later than the instance's start (datetime, ISO text or
        epoch milliseconds), to narrow the lookup. (templated)
    :param dataarts_conn_id: The Airflow connection of type ``dataarts``. (templated)
    :param fail_on_alarm: Fail when the instance ends ``ALARMING``.
    :param warn_only: Sub-rule names or dimensions (as in the job's definition, e.g.
        ``"Completeness"``; ``fnmatch`` patterns, case ignored) whose alarms only warn: a list, or
        one string with commas between entries. (templated)
    :param deferrable: Wait in the triggerer instead of a worker slot.
    """

    template_fields: Sequence[str] = (
        "instance_id",
        "job_name",
        "started_after",
        "warn_only",
        *DataArtsSensor.template_fields,
    )
    ui_color = "#c7e6f9"
    state_key = "dataarts_quality_wait"

    def __init__(
        self,
        *,
        instance_id: str | int,
        job_name: str | None = None,
        started_after: Any = None,
        dataarts_conn_id: str = DEFAULT_CONN_ID,
        fail_on_alarm: bool = True,
        warn_only: list[str] | str | None = None,
        deferrable: bool = DEFAULT_DEFERRABLE,
        **kwargs: Any,
    ) -> None:
        super().__init__(dataarts_conn_id=dataarts_conn_id, deferrable=deferrable, **kwargs)
        self.instance_id = instance_id
        self.job_name = job_name
        self.started_after = started_after
        self.fail_on_alarm = fail_on_alarm
        self.warn_only = check_warn_only_at_parse(warn_only, self.task_id)

    def validate(self) -> None:
        from airflow_provider_dataarts.client.core import segment
        from airflow_provider_dataarts.exceptions import DataArtsConfigError, refused_without_retry
        from airflow_provider_dataarts.hooks.dataarts import epoch_millis

        with refused_without_retry(self.task_id):
            segment(self.instance_id, "instance_id")
            if self.job_name is not None and not isinstance(self.job_name, str):
                raise DataArtsConfigError(f"job_name must be text, not {type(self.job_name).__name__}.")
            epoch_millis(self.started_after)
            warn_only_patterns(self.warn_only, f"{self.task_id}: warn_only")  # rendered now
        self.hook.config.require_workspace()

    def _hints(self) -> dict[str, Any]:
        from airflow_provider_dataarts.hooks.dataarts import epoch_millis

        return {"name": self.job_name or None, "started_after": epoch_millis(self.started_after)}

    def make_trigger(self, end_time: float) -> DataArtsQualityInstanceTrigger:
        from airflow_provider_dataarts.triggers.quality import DataArtsQualityInstanceTrigger

        hints = self._hints()
        return DataArtsQualityInstanceTrigger(
            instance_id=str(self.instance_id),
            dataarts_conn_id=self.dataarts_conn_id,
            poll_interval=self.poke_interval,
            end_time=end_time,
            job_name=hints["name"],
            started_after=hints["started_after"],
        )

    def poke(self, context: Context) -> bool | PokeReturnValue:
        from airflow_provider_dataarts.exceptions import DataArtsAPIError
        from airflow_provider_dataarts.results.quality import finish_quality
        from airflow_provider_dataarts.waiting import quality_instance_check

        instance_id = str(self.instance_id)
        check = quality_instance_check(
            self.hook, self.state, instance_id, self._hints(), self.log, poll_interval=self.poke_interval
        )
        try:
            instance = check()
        except DataArtsAPIError as error:
            self._skip_if_soft_fail(error)
            raise
        if instance is None:
            return False
        status = instance.get("run_status")
        if not is_quality_terminal(status):
            self.log.info("DataArts quality instance %s is %s", instance_id, status)
            return False
        result = finish_quality(
            self.hook,
            context,
            instance,
            fail_on_alarm=self.fail_on_alarm,
            warn_only=self.warn_only,
            log=self.log,
            delivered=lambda passed: self.state.forget(),
        )
        return PokeReturnValue(is_done=True, xcom_value=result)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger: validate its event, fetch the sub-rule results, decide."""
        from airflow_provider_dataarts.results import validate_event
        from airflow_provider_dataarts.results.quality import finish_quality

        event = validate_event(event, str(self.instance_id))
        instance = event.get("instance") or self.hook.get_quality_instance(str(self.instance_id))
        return finish_quality(
            self.hook,
            context,
            instance,
            fail_on_alarm=self.fail_on_alarm,
            warn_only=self.warn_only,
            log=self.log,
        )
