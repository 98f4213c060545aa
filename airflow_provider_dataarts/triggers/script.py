"""Trigger that waits for a DataArts Factory script instance to finish."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_dataarts.statuses import Verdict, script_verdict
from airflow_provider_dataarts.triggers.base import DataArtsPollingTrigger

if TYPE_CHECKING:
    from airflow.triggers.base import TriggerEvent

    from airflow_provider_dataarts.client.aio import AsyncTransport


class DataArtsScriptInstanceTrigger(DataArtsPollingTrigger):
    """
    Wait, without a worker, until a DataArts Factory script instance is ``FINISHED`` or ``FAILED``.

    Event: ``{"status": "success"|"error"|"timeout", "instance_id", "script_name", "script_status",
    "message"}``; "success" means the instance is terminal, whatever its status: the task decides.
    When a user kills the deferred task (Airflow 3.3+) and ``cancel_on_kill`` is set (the execute
    operator's trigger), ``on_kill`` stops the script instance; a sensor's trigger never does.

    :param instance_id: The script instance id.
    :param script_name: The script's name.
    :param dataarts_conn_id: The Airflow connection of type ``dataarts``.
    :param poll_interval: Seconds between polls.
    :param end_time: Absolute deadline (epoch seconds); a "timeout" event is sent then.
    :param cancel_on_kill: Stop the instance when a user kills the deferred task.
    :param stop_at: The task's ``execution_timeout`` as an epoch time (see the base trigger).
    """

    def __init__(
        self,
        *,
        instance_id: str,
        script_name: str,
        dataarts_conn_id: str = "dataarts_default",
        poll_interval: float = 10.0,
        end_time: float | None = None,
        cancel_on_kill: bool = False,
        stop_at: float | None = None,
    ) -> None:
        super().__init__(
            instance_id=instance_id,
            dataarts_conn_id=dataarts_conn_id,
            poll_interval=poll_interval,
            end_time=end_time,
            cancel_on_kill=cancel_on_kill,
            stop_at=stop_at,
        )
        self.script_name = script_name

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "airflow_provider_dataarts.triggers.script.DataArtsScriptInstanceTrigger",
            {**self._base_kwargs(), "script_name": self.script_name},
        )

    def _event(self, status: str, message: str, **fields: Any) -> TriggerEvent:
        return super()._event(status, message, script_name=self.script_name, **fields)

    def _last_seen(self) -> dict[str, Any]:
        return {"script_status": self._status}

    async def poll(self, transport: AsyncTransport) -> TriggerEvent | None:
        await self._paced()
        from airflow_provider_dataarts.client import operations as ops

        answer = await transport.run(
            ops.get_script_instance(transport.config.project_id, self.script_name, self.instance_id),
            deadline=self.end_time,
        )
        status = answer.get("status")
        self._saw(status)
        if script_verdict(status) is Verdict.WAIT:
            return None
        return self._event(
            "success",
            f"script {self.script_name} instance {self.instance_id} finished: {status}",
            script_status=status,
        )

    def _what(self) -> str:
        return f"script {self.script_name} instance {self.instance_id}"

    async def stop(self, transport: AsyncTransport) -> None:
        from airflow_provider_dataarts.client import operations as ops

        await transport.run(
            ops.stop_script_instance(transport.config.project_id, self.script_name, self.instance_id)
        )
