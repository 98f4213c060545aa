"""Operator that executes a DataArts Factory script and returns its rows."""

from __future__ import annotations

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

from airflow_provider_dataarts.operators.base import NOT_FOUND, deferral_deadline, wait_in_worker
from airflow_provider_dataarts.statuses import DEFAULT_CONN_ID, Verdict, script_verdict

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_dataarts.hooks.dataarts import DataArtsHook

INSTANCE_ID_KEY = "instance_id"


class DataArtsExecuteScriptOperator(ResumableJobMixin, BaseOperator):
    """
    Execute a DataArts Factory script (SQL, shell, ...), wait for it, and return its result sets.

    Pushes the script instance id (XCom ``instance_id``) as soon as the script starts. When it
    waits (the default), returns ``{"instance_id", "script_name", "status", "results": [{"schema",
    "records", "rowCount", "duration", "message"}]}`` with at most ``max_rows`` rows in all;
    ``FAILED`` fails the task with the service's message. A retry while the instance still runs
    reconnects to it instead of executing again (``task_state_store``, Airflow 3.3+); killing the
    task stops the instance.

    :param script_name: Name of the script in DataArts Factory. (templated)
    :param script_params: The script's parameters, sent as the execute body's ``params``. (templated)
    :param dataarts_conn_id: The Airflow connection of type ``dataarts``.
    :param wait_for_completion: Wait for the instance and return its rows; else return its id.
    :param deferrable: Wait in the triggerer instead of a worker slot.
    :param poll_interval: Seconds between status checks while waiting.
    :param timeout: Seconds to wait at most (``None``: no limit).
    :param max_rows: Most rows to return (XCom lives in the metadata database).
    :param include_rows: Also return each result set's ``rows`` (the API's lists: the same data as
        ``records`` again, so about twice the XCom).
    :param max_xcom_bytes: Most bytes of JSON to return (default 512 KiB; ``None``: no bound): the
        first rows that fit are kept, with a warning saying what was cut.
    """

    template_fields: Sequence[str] = ("script_name", "script_params")
    template_fields_renderers = {"script_params": "json"}
    ui_color = "#d5e8f9"
    external_id_key = "dataarts_script_instance_id"

    def __init__(
        self,
        *,
        script_name: str,
        script_params: dict[str, Any] | None = None,
        dataarts_conn_id: str = DEFAULT_CONN_ID,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 10.0,
        timeout: float | timedelta | None = None,
        max_rows: int = 1000,
        include_rows: bool = False,
        max_xcom_bytes: int | None = 512 * 1024,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(script_params, dict | str | type(None)):
            raise ValueError(
                f"{self.task_id}: script_params must be a dict, not {type(script_params).__name__}."
            )
        if poll_interval <= 0:
            raise ValueError(f"{self.task_id}: poll_interval must be positive, not {poll_interval!r}.")
        if max_rows < 0:
            raise ValueError(f"{self.task_id}: max_rows must be 0 or more, not {max_rows!r}.")
        if max_xcom_bytes is not None and max_xcom_bytes <= 0:
            raise ValueError(
                f"{self.task_id}: max_xcom_bytes must be positive or None, not {max_xcom_bytes!r}."
            )
        self.script_name = script_name
        self.script_params = script_params
        self.dataarts_conn_id = dataarts_conn_id
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        self.max_rows = max_rows
        self.include_rows = include_rows
        self.max_xcom_bytes = max_xcom_bytes
        self._instance_id: str | None = None
        self._finished = False
        self._result: Any = None

    @cached_property
    def hook(self) -> DataArtsHook:
        from airflow_provider_dataarts.hooks.dataarts import DataArtsHook

        return DataArtsHook(dataarts_conn_id=self.dataarts_conn_id)

    def execute(self, context: Context) -> Any:
        if self.script_params is not None and not isinstance(self.script_params, dict):
            raise ValueError(f"{self.task_id}: script_params rendered to {self.script_params!r}, not a dict.")
        return self.execute_resumable(context)

    # --- ResumableJobMixin ------------------------------------------------------------------------

    def submit_job(self, context: Context) -> str:
        instance_id = self.hook.execute_script(self.script_name, self.script_params)
        self._instance_id = instance_id
        context["ti"].xcom_push(key=INSTANCE_ID_KEY, value=instance_id)
        return instance_id

    def get_job_status(self, external_id: Any, context: Context) -> str:
        from airflow_provider_dataarts.exceptions import DataArtsAPIError

        try:
            return str(self.hook.get_script_instance(self.script_name, str(external_id)).get("status"))
        except DataArtsAPIError as error:
            if error.error_code == "DLF.6205":  # the script instance does not exist (any more)
                return NOT_FOUND
            raise

    def is_job_active(self, status: str) -> bool:
        return status != NOT_FOUND and script_verdict(status) is Verdict.WAIT

    def is_job_succeeded(self, status: str) -> bool:
        return script_verdict(status) is Verdict.SUCCESS

    def poll_until_complete(self, external_id: Any, context: Context) -> Any:
        instance_id = str(external_id)
        if self._result is not None:
            return self._result
        self._instance_id = instance_id
        if context["ti"].xcom_pull(task_ids=self.task_id, key=INSTANCE_ID_KEY) is None:
            context["ti"].xcom_push(key=INSTANCE_ID_KEY, value=instance_id)  # a reconnecting try
        if not self.wait_for_completion:
            self._result = instance_id
        elif self.deferrable:
            self._defer(instance_id)
        else:
            self._result = self._finish(self._wait(instance_id), instance_id)
        return self._result

    def get_job_result(self, external_id: Any, context: Context) -> Any:
        return self.poll_until_complete(external_id, context)

    # --- waiting ----------------------------------------------------------------------------------

    def _wait(self, instance_id: str) -> dict[str, Any]:
        return wait_in_worker(
            lambda: self.hook.get_script_instance(self.script_name, instance_id),
            lambda answer: answer.get("status"),
            lambda status: script_verdict(status) is not Verdict.WAIT,
            what=f"script {self.script_name} instance {instance_id}",
            poll_interval=self.poll_interval,
            timeout=self.timeout,
            log=self.log,
        )

    def _finish(self, answer: dict[str, Any], instance_id: str) -> dict[str, Any]:
        from airflow_provider_dataarts.results import finish_script

        self._finished = True
        return finish_script(
            self.script_name,
            instance_id,
            answer,
            max_rows=self.max_rows,
            log=self.log,
            include_rows=self.include_rows,
            max_xcom_bytes=self.max_xcom_bytes,
        )

    def _defer(self, instance_id: str) -> None:
        from airflow_provider_dataarts.triggers.script import DataArtsScriptInstanceTrigger

        end_time, backstop = deferral_deadline(self.timeout)
        self.defer(
            trigger=DataArtsScriptInstanceTrigger(
                instance_id=instance_id,
                script_name=self.script_name,
                dataarts_conn_id=self.dataarts_conn_id,
                poll_interval=self.poll_interval,
                end_time=end_time,
            ),
            method_name="execute_complete",
            timeout=backstop,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the trigger: validate its event, then fetch the rows and decide."""
        from airflow_provider_dataarts.results import validate_event

        event = validate_event(event)
        # dag.test() resumes without defer kwargs: the event carries what the resume needs.
        script_name = str(event.get("script_name") or self.script_name)
        instance_id = str(event["instance_id"])
        self._instance_id = instance_id
        answer = self.hook.get_script_instance(script_name, instance_id)
        if script_verdict(answer.get("status")) is Verdict.WAIT:
            raise AirflowException(f"DataArts trigger resumed on a running script instance: {event!r}")
        return self._finish(answer, instance_id)

    def on_kill(self) -> None:
        """The task was killed: stop the script instance it started, if it still runs."""
        if self._instance_id is None or self._finished:
            return
        try:
            self.hook.stop_script_instance(self.script_name, self._instance_id)
        except Exception:
            self.log.exception(
                "Could not stop DataArts script %s instance %s", self.script_name, self._instance_id
            )
