"""Sensor that waits for a DataArts Migration (CDM) submission: one by id, or the job's newest."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import PokeReturnValue

from airflow_provider_dataarts.openlineage_migration import MigrationLineageMixin
from airflow_provider_dataarts.operators.base import DEFAULT_DEFERRABLE
from airflow_provider_dataarts.sensors.base import DataArtsSensor
from airflow_provider_dataarts.statuses import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_dataarts.triggers.migration import DataArtsMigrationJobTrigger


class DataArtsMigrationJobSensor(MigrationLineageMixin, DataArtsSensor):
    """
    Wait for a DataArts Migration (CDM) submission to finish, then pass or fail on its status.

    The submission is ``submission_id`` (e.g. the operator's ``return_value``), or the job's newest
    submission when the sensor first looks (for a job CDM schedules itself); a job that never ran is
    waited for until its first submission appears.

    As soon as the submission is terminal, pushes XCom ``migration_result`` (also the
    ``return_value`` on success). ``SUCCEEDED`` passes; ``FAILED``, ``FAILURE_ON_SUBMIT``,
    ``NEVER_EXECUTED`` fail with DataArts' error summary; anything else keeps waiting. Poke,
    reschedule and deferrable; it never stops anything.

    :param cluster_id: The CDM cluster's id. (templated)
    :param job_name: The migration job's name. (templated)
    :param submission_id: The submission to wait for; None for the job's newest. (templated)
    :param dataarts_conn_id: The Airflow connection of type ``dataarts``. (templated)
    :param deferrable: Wait in the triggerer instead of a worker slot.
    """

    template_fields: Sequence[str] = (
        "cluster_id",
        "job_name",
        "submission_id",
        *DataArtsSensor.template_fields,
    )
    ui_color = "#d0e4f5"
    state_key = "dataarts_migration_wait"

    def __init__(
        self,
        *,
        cluster_id: str,
        job_name: str,
        submission_id: str | int | None = None,
        dataarts_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool = DEFAULT_DEFERRABLE,
        **kwargs: Any,
    ) -> None:
        super().__init__(dataarts_conn_id=dataarts_conn_id, deferrable=deferrable, **kwargs)
        self.cluster_id = cluster_id
        self.job_name = job_name
        self.submission_id = submission_id

    def validate(self) -> None:
        from airflow_provider_dataarts.client.core import segment
        from airflow_provider_dataarts.exceptions import refused_without_retry

        with refused_without_retry(self.task_id):  # a retry renders the same values
            segment(self.cluster_id, "cluster_id")
            segment(self.job_name, "job_name")
            if self.submission_id not in (None, ""):
                segment(self.submission_id, "submission_id")
        super().validate()

    def _given(self) -> str:
        return "" if self.submission_id in (None, "") else str(self.submission_id)

    def make_trigger(self, end_time: float) -> DataArtsMigrationJobTrigger:
        from airflow_provider_dataarts.triggers.migration import DataArtsMigrationJobTrigger

        return DataArtsMigrationJobTrigger(
            cluster_id=self.cluster_id,
            job_name=self.job_name,
            submission_id=self._given() or str(self.state.record.get("submission_id") or ""),
            dataarts_conn_id=self.dataarts_conn_id,
            poll_interval=self.poke_interval,
            end_time=end_time,
        )

    def poke(self, context: Context) -> bool | PokeReturnValue:
        from airflow_provider_dataarts.client.migration import pick
        from airflow_provider_dataarts.exceptions import DataArtsAPIError
        from airflow_provider_dataarts.statuses import is_migration_terminal
        from airflow_provider_dataarts.waiting import guarded, migration_submission_check

        try:
            submission_id = self._given() or str(self.state.record.get("submission_id") or "")
            if not submission_id:
                # The job's newest submission, once: later pokes (and reschedules) wait for that one.
                found = guarded(
                    lambda: (
                        pick(self.hook.list_migration_submissions(self.cluster_id, self.job_name), None) or {}
                    ),
                    self.hook,
                    self.state,
                    f"migration job {self.job_name}",
                    self.log,
                    poll_interval=self.poke_interval,
                )()
                if not found:
                    if not self.state.record.get("told_absent"):
                        self.log.info(
                            "DataArts Migration job %s has no submission yet; waiting", self.job_name
                        )
                        self.state.save(told_absent=True)
                    return False
                submission_id = str(found["submission-id"])
                self.log.info(
                    "Waiting for DataArts Migration job %s's newest submission %s",
                    self.job_name,
                    submission_id,
                )
                self.state.save(submission_id=submission_id)
            check = migration_submission_check(
                self.hook,
                self.state,
                self.cluster_id,
                self.job_name,
                submission_id,
                self.log,
                poll_interval=self.poke_interval,
            )
            submission = check()
        except DataArtsAPIError as error:
            self._skip_if_soft_fail(error)
            raise
        if submission is None or not is_migration_terminal(submission.get("status")):
            return False
        return PokeReturnValue(is_done=True, xcom_value=self._finish(context, submission))

    def _finish(self, context: Context, submission: dict[str, Any]) -> dict[str, Any]:
        from airflow_provider_dataarts.results.migration import finish_migration

        return finish_migration(
            self.cluster_id,
            self.job_name,
            submission,
            context,
            log=self.log,
            retryable=False,
            delivered=lambda passed: self._state.forget() if self._state is not None else None,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger: validate its event, then decide on the submission it found."""
        from airflow_provider_dataarts.client.migration import pick
        from airflow_provider_dataarts.results import validate_event

        event = validate_event(event, self._given() or None)
        submission = event.get("submission") or pick(
            self.hook.list_migration_submissions(self.cluster_id, self.job_name), str(event["instance_id"])
        )
        if submission is None:
            from airflow.providers.common.compat.sdk import AirflowException

            raise AirflowException(f"DataArts Migration submission {event['instance_id']} is not listed")
        return self._finish(context, submission)
