"""Operator that reruns a DataArts Quality job (quality or comparison job)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowException,
    BaseOperator,
    ResumableJobMixin,
    conf,
)

from airflow_provider_dataarts.links.dataarts import DataArtsQualityInstanceLink
from airflow_provider_dataarts.openlineage import QualityLineageMixin
from airflow_provider_dataarts.operators.base import NOT_FOUND, deferral_deadline, wait_in_worker
from airflow_provider_dataarts.statuses import (
    DEFAULT_CONN_ID,
    TASK_TYPES,
    Verdict,
    is_quality_terminal,
    not_listed_too_long,
    quality_verdict,
    rule_type_code,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_dataarts.hooks.dataarts import DataArtsHook

# The list call is searched from this long before the rerun, for clock skew between us and DataArts.
CLOCK_SKEW_MS = 5 * 60 * 1000


def _is_template(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value


class RerunQualityJobOperator(QualityLineageMixin, ResumableJobMixin, BaseOperator):
    """
    Rerun a DataArts Quality job or comparison job, and optionally wait for its instance.

    Pushes the new instance id (``return_value``) and its console link (``instance_url``) right
    after the rerun. When waiting, pushes ``quality_result`` (every sub-rule result) as soon as the
    instance is terminal, then passes on ``SUCCESS``, fails on ``FAILED``, and on ``ALARMING`` fails
    unless ``fail_on_alarm=False``. A retry while the instance still runs reconnects to it instead
    of starting a second run (``task_state_store``, Airflow 3.3+).

    :param rule_id: Id of the job to rerun. (templated)
    :param job_name: Exact name of the job, instead of ``rule_id``. (templated)
    :param rule_type: ``"quality"`` (1) or ``"comparison"`` (2). (templated)
    :param dataarts_conn_id: The Airflow connection of type ``dataarts``.
    :param wait_for_completion: Wait for the instance to finish.
    :param deferrable: Wait in the triggerer instead of a worker slot.
    :param poll_interval: Seconds between status checks while waiting.
    :param timeout: Seconds to wait at most (``None``: no limit).
    :param fail_on_alarm: Fail when the instance ends ``ALARMING``.
    """

    template_fields: Sequence[str] = ("rule_id", "job_name", "rule_type")
    operator_extra_links = (DataArtsQualityInstanceLink(),)
    ui_color = "#c7e6f9"
    external_id_key = "dataarts_quality_instance_id"

    def __init__(
        self,
        *,
        rule_id: str | int | None = None,
        job_name: str | None = None,
        rule_type: str | int = "quality",
        dataarts_conn_id: str = DEFAULT_CONN_ID,
        wait_for_completion: bool = False,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 30.0,
        timeout: float | timedelta | None = None,
        fail_on_alarm: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (rule_id is None) == (job_name is None):
            raise ValueError(f"{self.task_id}: give exactly one of rule_id and job_name.")
        if not _is_template(rule_type):
            rule_type_code(rule_type)
        if poll_interval <= 0:
            raise ValueError(f"{self.task_id}: poll_interval must be positive, not {poll_interval!r}.")
        self.rule_id = rule_id
        self.job_name = job_name
        self.rule_type = rule_type
        self.dataarts_conn_id = dataarts_conn_id
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        self.fail_on_alarm = fail_on_alarm
        self._result: Any = None

    @cached_property
    def hook(self) -> DataArtsHook:
        from airflow_provider_dataarts.hooks.dataarts import DataArtsHook

        return DataArtsHook(dataarts_conn_id=self.dataarts_conn_id)

    def _instance_task_type(self) -> str:
        # Not a property named ``task_type``: BaseOperator uses that name for the class name.
        return TASK_TYPES[rule_type_code(self.rule_type)]

    def execute(self, context: Context) -> Any:
        return self.execute_resumable(context)

    # --- ResumableJobMixin ------------------------------------------------------------------------

    def submit_job(self, context: Context) -> str:
        rule_id = self.rule_id
        if rule_id is None:
            rule_id = self.hook.resolve_job_id(str(self.job_name), self.rule_type)
            self.log.info("DataArts %s job %r has id %s", self.rule_type, self.job_name, rule_id)
        self._started_after = int(time.time() * 1000) - CLOCK_SKEW_MS
        instance_id = self.hook.rerun_quality_job(str(rule_id), self.rule_type)
        self._announce(context, instance_id)
        return instance_id

    def get_job_status(self, external_id: Any, context: Context) -> str:
        from airflow_provider_dataarts.hooks.dataarts import DataArtsInstanceNotFound

        try:
            return str(self._instance(str(external_id)).get("run_status"))
        except DataArtsInstanceNotFound:
            return NOT_FOUND

    def is_job_active(self, status: str) -> bool:
        return status != NOT_FOUND and not is_quality_terminal(status)

    def is_job_succeeded(self, status: str) -> bool:
        return quality_verdict(status, fail_on_alarm=self.fail_on_alarm) in (Verdict.SUCCESS, Verdict.WARN)

    def poll_until_complete(self, external_id: Any, context: Context) -> Any:
        instance_id = str(external_id)
        if self._result is not None:
            return self._result
        if context["ti"].xcom_pull(task_ids=self.task_id, key="return_value") is None:
            self._announce(context, instance_id)  # a reconnecting try: XComs were cleared
        if not self.wait_for_completion:
            self._result = instance_id
        elif self.deferrable:
            self._defer(instance_id)
        else:
            from airflow_provider_dataarts.results import finish_quality

            finish_quality(
                self.hook, context, self._wait(instance_id), fail_on_alarm=self.fail_on_alarm, log=self.log
            )
            self._result = instance_id
        return self._result

    def get_job_result(self, external_id: Any, context: Context) -> Any:
        return self.poll_until_complete(external_id, context)

    # --- waiting ----------------------------------------------------------------------------------

    def _announce(self, context: Context, instance_id: str) -> None:
        """Push the id and console link at once, so both survive a later failure."""
        from airflow_provider_dataarts.links.dataarts import instance_url

        url = instance_url(self.hook.config, instance_id)
        context["ti"].xcom_push(key="return_value", value=instance_id)
        context["ti"].xcom_push(key="instance_url", value=url)
        self.log.info("DataArts quality instance: %s", url)

    def _instance(self, instance_id: str) -> dict[str, Any]:
        return self.hook.get_quality_instance(
            instance_id,
            name=self.job_name,
            task_type=self._instance_task_type(),
            started_after=getattr(self, "_started_after", None),
        )

    def _wait(self, instance_id: str) -> dict[str, Any]:
        from airflow_provider_dataarts.hooks.dataarts import DataArtsInstanceNotFound

        waiting_since = time.time()

        def check() -> dict[str, Any]:
            try:
                return self._instance(instance_id)
            except DataArtsInstanceNotFound:
                if not_listed_too_long(waiting_since, None, time.time()):
                    raise
                return {"run_status": "NOT_LISTED_YET"}

        return wait_in_worker(
            check,
            lambda instance: instance.get("run_status"),
            is_quality_terminal,
            what=f"quality instance {instance_id}",
            poll_interval=self.poll_interval,
            timeout=self.timeout,
            log=self.log,
        )

    def _defer(self, instance_id: str) -> None:
        from airflow_provider_dataarts.triggers.quality import DataArtsQualityInstanceTrigger

        end_time, backstop = deferral_deadline(self.timeout)
        self.defer(
            trigger=DataArtsQualityInstanceTrigger(
                instance_id=instance_id,
                dataarts_conn_id=self.dataarts_conn_id,
                poll_interval=self.poll_interval,
                end_time=end_time,
                job_name=self.job_name,
                task_type=self._instance_task_type(),
                started_after=getattr(self, "_started_after", None),
            ),
            method_name="execute_complete",
            timeout=backstop,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        """Resume after the trigger: validate its event, then fetch results and decide."""
        from airflow_provider_dataarts.results import finish_quality, validate_event

        event = validate_event(event)
        instance = event.get("instance") or self.hook.get_quality_instance(event["instance_id"])
        if not is_quality_terminal(instance.get("run_status")):
            raise AirflowException(f"DataArts trigger resumed on a running instance: {event!r}")
        finish_quality(self.hook, context, instance, fail_on_alarm=self.fail_on_alarm, log=self.log)
        return str(event["instance_id"])
