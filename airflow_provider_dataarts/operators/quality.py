"""Operator that reruns a DataArts Quality job (quality or comparison job)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_dataarts.links.dataarts import DataArtsQualityInstanceLink
from airflow_provider_dataarts.openlineage import QualityLineageMixin
from airflow_provider_dataarts.operators.base import DEFAULT_DEFERRABLE, DataArtsRunOperator
from airflow_provider_dataarts.quality_policy import check_warn_only_at_parse, warn_only_patterns
from airflow_provider_dataarts.statuses import (
    DEFAULT_CONN_ID,
    TASK_TYPES,
    is_quality_terminal,
    rule_type_code,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_dataarts.triggers.quality import DataArtsQualityInstanceTrigger

# Instances are searched from this long before our own clock's "now", for skew between us and DataArts.
CLOCK_SKEW_MS = 5 * 60 * 1000


def _is_template(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value


class RerunQualityJobOperator(QualityLineageMixin, DataArtsRunOperator):
    """
    Rerun a DataArts Quality job or comparison job, and optionally wait for its instance.

    Pushes the new instance id (``return_value``) and its console link (``instance_url``) right
    after the rerun. When waiting, pushes ``quality_result`` (every sub-rule result) as soon as the
    instance is terminal, then passes on ``SUCCESS``, fails on ``FAILED``, and on ``ALARMING`` fails
    unless every alarming sub-rule is ``warn_only`` or ``fail_on_alarm=False`` (then it passes with a
    warning; ``quality_result.verdict`` says ``passed_with_warnings``). Retries, clears and kills
    follow the docs page "Retries, clears and kills": a retry while the instance runs, also after a
    worker's shutdown (SIGTERM), reconnects to it (Airflow 3.3+); a retry or clear after a verdict,
    or after ``execution_timeout`` stopped the instance, reruns the job; a rerun whose answer was
    lost adopts the one instance of the job that started inside its window, and fails naming them
    when there are several; a user who kills the waiting task stops the instance (``cancel_on_kill``).

    :param rule_id: Id of the job to rerun. (templated)
    :param job_name: Exact name of the job, instead of ``rule_id``. (templated)
    :param rule_type: ``"quality"`` (1) or ``"comparison"`` (2). (templated)
    :param dataarts_conn_id: The Airflow connection of type ``dataarts``. (templated)
    :param wait_for_completion: Wait for the instance to finish.
    :param deferrable: Wait in the triggerer instead of a worker slot.
    :param poll_interval: Seconds between status checks while waiting.
    :param timeout: Seconds to wait at most (``None``: no limit), retries of each check included.
    :param fail_on_alarm: Fail when the instance ends ``ALARMING``.
    :param warn_only: Sub-rule names or dimensions (as in the job's definition, e.g.
        ``"Completeness"``; ``fnmatch`` patterns, case ignored) whose alarms only warn: a list, or
        one string with commas between entries. (templated)
    :param cancel_on_kill: Stop the instance when a user kills the waiting task.
    """

    template_fields: Sequence[str] = (
        "rule_id",
        "job_name",
        "rule_type",
        "warn_only",
        *DataArtsRunOperator.template_fields,
    )
    operator_extra_links = (DataArtsQualityInstanceLink(),)
    ui_color = "#c7e6f9"
    state_key = "dataarts_quality_run"
    what = "quality instance"
    submit_service = "quality"

    def __init__(
        self,
        *,
        rule_id: str | int | None = None,
        job_name: str | None = None,
        rule_type: str | int = "quality",
        dataarts_conn_id: str = DEFAULT_CONN_ID,
        wait_for_completion: bool = False,
        deferrable: bool = DEFAULT_DEFERRABLE,
        poll_interval: float = 30.0,
        timeout: float | timedelta | None = None,
        fail_on_alarm: bool = True,
        warn_only: list[str] | str | None = None,
        cancel_on_kill: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            dataarts_conn_id=dataarts_conn_id,
            wait_for_completion=wait_for_completion,
            deferrable=deferrable,
            poll_interval=poll_interval,
            timeout=timeout,
            cancel_on_kill=cancel_on_kill,
            **kwargs,
        )
        if (rule_id is None) == (job_name is None):
            raise ValueError(f"{self.task_id}: give exactly one of rule_id and job_name.")
        if not _is_template(rule_type):
            rule_type_code(rule_type)
        self.rule_id = rule_id
        self.job_name = job_name
        self.rule_type = rule_type
        self.fail_on_alarm = fail_on_alarm
        self.warn_only = check_warn_only_at_parse(warn_only, self.task_id)
        self._resolved_rule_id: str | None = None

    def _instance_task_type(self) -> str:
        # Not a property named ``task_type``: BaseOperator uses that name for the class name.
        return TASK_TYPES[rule_type_code(self.rule_type)]

    def _rule_id(self) -> str:
        if self._resolved_rule_id is None:
            if self.rule_id is not None:
                from airflow_provider_dataarts.client.operations import rule_id_text

                self._resolved_rule_id = rule_id_text(self.rule_id)
            else:
                self._resolved_rule_id = self.hook.resolve_job_id(str(self.job_name), self.rule_type)
                self.log.info(
                    "DataArts %s job %r has id %s", self.rule_type, self.job_name, self._resolved_rule_id
                )
        return self._resolved_rule_id

    # --- the lifecycle's calls ----------------------------------------------------------------

    def validate(self, context: Context) -> None:
        from airflow_provider_dataarts.client.core import segment
        from airflow_provider_dataarts.client.operations import rule_id_text
        from airflow_provider_dataarts.exceptions import refused_without_retry

        with refused_without_retry(self.task_id):  # rendered now: a template may have produced anything
            rule_type_code(self.rule_type)
            if self.rule_id is not None:
                rule_id_text(self.rule_id)
            else:
                segment(self.job_name, "job_name")
            warn_only_patterns(self.warn_only, f"{self.task_id}: warn_only")
        self.hook.config.require_workspace()

    def _job_instances(self, since_ms: int) -> list[dict[str, Any]]:
        """This job's instances started since ``since_ms`` (minus clock skew), newest first."""
        rule_id = self._rule_id()
        listed = self.hook.list_quality_instances(
            task_type=self._instance_task_type(),
            name=self.job_name or None,
            start_time=since_ms - CLOCK_SKEW_MS,
        )
        return [item for item in listed if str(item.get("task_id")) == rule_id]

    def submission(self, context: Context) -> dict[str, Any]:
        from airflow_provider_dataarts.exceptions import DataArtsAPIError

        now_ms = int(time.time() * 1000)
        marker: dict[str, Any] = {"rule_id": self._rule_id(), "submitted_at": now_ms}
        # The instances that exist before the rerun are never candidates for a lost answer. This
        # read only improves that recovery: if it fails, the rerun goes on without it.
        try:
            listed = self._job_instances(now_ms)
            marker["known"] = [str(item["id"]) for item in listed]
            # Still running before this rerun: someone else runs this job now (lifecycle.the_one_candidate).
            marker["others"] = [
                str(item["id"]) for item in listed if not is_quality_terminal(item.get("run_status"))
            ]
        except DataArtsAPIError as error:
            self.log.warning(
                "Could not list the job's instances before the rerun (%s); rerunning all the same. "
                "Should the rerun's answer be lost, its instance is found by its start time alone.",
                error,
            )
        return marker

    def submit(self, context: Context, marker: dict[str, Any]) -> str:
        return self.hook.rerun_quality_job(marker["rule_id"], self.rule_type)

    def recover(self, context: Context, marker: dict[str, Any]) -> str | None:
        """
        The one instance of this job that started inside the rerun's own time window, looked for
        until the list lag (``not_listed_grace``) has passed: none, then none started; several, then
        this try fails naming them (``lifecycle.the_one_candidate``).
        """
        from airflow_provider_dataarts.lifecycle import (
            in_window,
            lost_too_long_ago,
            the_one_candidate,
            too_old,
        )

        if too_old(marker, int(time.time() * 1000)):
            raise lost_too_long_ago("rerun")
        submitted_at = int(marker["submitted_at"])
        known = set(marker.get("known") or [])

        def candidates() -> list[str]:
            nonlocal marker
            listed = self._job_instances(submitted_at)
            if "skew_ms" not in marker:  # a record from before the measurement: measured now
                marker = self._measured_skew(dict(marker))
            return [
                str(item["id"])
                for item in listed
                if str(item["id"]) not in known and in_window(item.get("start_time"), marker)
            ]

        found = self.candidates_once_settled(
            marker,
            candidates,
            "Looking for the instance the unanswered rerun started: instances of job "
            f"{marker.get('rule_id')} that started inside its window, until the instance list has caught up",
            "the instance the unanswered rerun may have started",
        )
        return the_one_candidate(sorted(found), "quality instance", marker.get("others"))

    def announce(self, context: Context, instance_id: str) -> None:
        """Push the id and console link at once, so both survive a later failure."""
        from airflow_provider_dataarts.links.dataarts import instance_url

        url = instance_url(self.hook.config, instance_id)
        self.push_link(context, instance_id, url)
        self.log.info("DataArts quality instance: %s", url)

    def is_running(self, instance_id: str) -> bool | None:
        return not is_quality_terminal(self.hook.get_quality_instance(instance_id).get("run_status"))

    def _hints(self) -> dict[str, Any]:
        # The submission's marker is in the run record (the waiting state holds no marker).
        submitted_at = self._submitted_at()
        return {
            "name": self.job_name or None,
            "task_type": self._instance_task_type(),
            "started_after": int(submitted_at) - CLOCK_SKEW_MS if submitted_at else None,
        }

    def wait(self, context: Context, instance_id: str) -> dict[str, Any]:
        from airflow_provider_dataarts.waiting import quality_instance_check

        assert self._state is not None
        return self.worker_wait(
            quality_instance_check(
                self.hook, self._state, instance_id, self._hints(), self.log, poll_interval=self.poll_interval
            ),
            lambda instance: instance.get("run_status"),
            is_quality_terminal,
            f"quality instance {instance_id}",
        )

    def make_trigger(self, instance_id: str, end_time: float | None) -> DataArtsQualityInstanceTrigger:
        from airflow_provider_dataarts.triggers.quality import DataArtsQualityInstanceTrigger

        hints = self._hints()
        return DataArtsQualityInstanceTrigger(
            instance_id=instance_id,
            job_name=hints["name"],
            task_type=hints["task_type"],
            started_after=hints["started_after"],
            **self.trigger_arguments(end_time),
        )

    def deliver(self, context: Context, instance_id: str, answer: dict[str, Any]) -> str:
        from airflow_provider_dataarts.results.quality import finish_quality

        finish_quality(
            self.hook,
            context,
            answer,
            fail_on_alarm=self.fail_on_alarm,
            warn_only=self.warn_only,
            log=self.log,
            delivered=self.delivered,
        )
        return instance_id

    def stop(self, instance_id: str) -> None:
        self.hook.stop_quality_instances([instance_id])

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        """Resume after the trigger: validate its event, then fetch results and decide."""
        instance_id, event = self.resume(context, event)
        instance = event.get("instance") or self.hook.get_quality_instance(instance_id)
        if not is_quality_terminal(instance.get("run_status")):
            raise AirflowException(f"DataArts trigger resumed on a running instance: {event!r}")
        return self.deliver(context, instance_id, instance)
