"""Sensor that waits for a DataArts Factory script instance and returns its rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import PokeReturnValue

from airflow_provider_dataarts.operators.base import DEFAULT_DEFERRABLE
from airflow_provider_dataarts.sensors.base import DataArtsSensor
from airflow_provider_dataarts.statuses import DEFAULT_CONN_ID, Verdict, script_verdict

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_dataarts.triggers.script import DataArtsScriptInstanceTrigger


class DataArtsScriptInstanceSensor(DataArtsSensor):
    """
    Wait for a DataArts Factory script instance to finish and return its result sets.

    ``FINISHED`` passes and returns ``{"instance_id", "script_name", "status", "results": [...]}``
    (each result set with ``records``, at most ``max_rows`` rows in all); ``FAILED`` fails with the
    service's message, without retries (the instance stays ``FAILED``); ``LAUNCHING``/``RUNNING``
    wait. Works in poke, reschedule and deferrable mode; ``timeout`` and ``soft_fail`` (which skips
    on a timeout, a ``FAILED`` instance or an API error) behave the same in all three.

    :param script_name: Name of the script. (templated)
    :param instance_id: The script instance id. (templated)
    :param dataarts_conn_id: The Airflow connection of type ``dataarts``. (templated)
    :param max_rows: Most rows to return (XCom lives in the metadata database).
    :param include_rows: Also return each result set's ``rows`` (the API's lists: the same data as
        ``records`` again, so about twice the XCom).
    :param max_xcom_bytes: Most bytes of JSON to return (default 512 KiB; ``None``: no bound): the
        first rows that fit are kept, with a warning saying what was cut.
    :param deferrable: Wait in the triggerer instead of a worker slot.
    """

    template_fields: Sequence[str] = ("script_name", "instance_id", *DataArtsSensor.template_fields)
    ui_color = "#d5e8f9"
    state_key = "dataarts_script_wait"

    def __init__(
        self,
        *,
        script_name: str,
        instance_id: str,
        dataarts_conn_id: str = DEFAULT_CONN_ID,
        max_rows: int = 1000,
        include_rows: bool = False,
        max_xcom_bytes: int | None = 512 * 1024,
        deferrable: bool = DEFAULT_DEFERRABLE,
        **kwargs: Any,
    ) -> None:
        super().__init__(dataarts_conn_id=dataarts_conn_id, deferrable=deferrable, **kwargs)
        self.script_name = script_name
        self.instance_id = instance_id
        self.max_rows = max_rows
        self.include_rows = include_rows
        self.max_xcom_bytes = max_xcom_bytes

    def validate(self) -> None:
        from airflow_provider_dataarts.client.core import segment
        from airflow_provider_dataarts.client.operations import name_segment
        from airflow_provider_dataarts.exceptions import refused_without_retry

        with refused_without_retry(self.task_id):
            name_segment(self.script_name, "script_name")
            segment(self.instance_id, "instance_id")
        super().validate()

    def make_trigger(self, end_time: float) -> DataArtsScriptInstanceTrigger:
        from airflow_provider_dataarts.triggers.script import DataArtsScriptInstanceTrigger

        return DataArtsScriptInstanceTrigger(
            instance_id=str(self.instance_id),
            script_name=self.script_name,
            dataarts_conn_id=self.dataarts_conn_id,
            poll_interval=self.poke_interval,
            end_time=end_time,
        )

    def poke(self, context: Context) -> bool | PokeReturnValue:
        from airflow_provider_dataarts.exceptions import DataArtsAPIError
        from airflow_provider_dataarts.waiting import script_instance_check

        check = script_instance_check(
            self.hook,
            self.state,
            self.script_name,
            str(self.instance_id),
            self.log,
            poll_interval=self.poke_interval,
        )
        try:
            answer = check()
        except DataArtsAPIError as error:
            self._skip_if_soft_fail(error)
            raise
        if answer is None:
            return False
        status = answer.get("status")
        if script_verdict(status) is Verdict.WAIT:
            self.log.info("DataArts script %s instance %s is %s", self.script_name, self.instance_id, status)
            return False
        return PokeReturnValue(is_done=True, xcom_value=self._finish(answer))

    def _finish(self, answer: dict[str, Any]) -> dict[str, Any]:
        from airflow_provider_dataarts.results.script import finish_script

        return finish_script(
            self.script_name,
            str(self.instance_id),
            answer,
            max_rows=self.max_rows,
            log=self.log,
            retryable=False,
            include_rows=self.include_rows,
            max_xcom_bytes=self.max_xcom_bytes,
            delivered=lambda passed: self._state.forget() if self._state is not None else None,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger: validate its event, fetch the rows, decide."""
        from airflow_provider_dataarts.results import validate_event

        event = validate_event(event, str(self.instance_id))
        return self._finish(self.hook.get_script_instance(self.script_name, str(self.instance_id)))
