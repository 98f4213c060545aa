"""Trigger that waits for a DataArts Quality instance to reach a terminal status."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_dataarts.statuses import is_quality_terminal
from airflow_provider_dataarts.triggers.base import DataArtsPollingTrigger

if TYPE_CHECKING:
    from airflow.triggers.base import TriggerEvent

    from airflow_provider_dataarts.client.aio import AsyncTransport
    from airflow_provider_dataarts.client.config import DataArtsConfig
    from airflow_provider_dataarts.triggers.shared_poll import Wanted


class DataArtsQualityInstanceTrigger(DataArtsPollingTrigger):
    """
    Wait, without a worker, until a DataArts Quality instance is ``SUCCESS``, ``ALARMING`` or ``FAILED``.

    Triggers of one triggerer that share a connection and a poll interval share their polls: one
    list request per interval (and page) answers them all. Event: ``{"status": "success"|"error"|
    "timeout", "instance_id", "run_status", "message", "instance"}``; "success" means the instance is
    terminal, whatever its ``run_status``: the task decides what that means.

    :param instance_id: The quality instance id.
    :param dataarts_conn_id: The Airflow connection of type ``dataarts``.
    :param poll_interval: Seconds between polls.
    :param end_time: Absolute deadline (epoch seconds); a "timeout" event is sent then.
    :param job_name: Optional job name, to narrow a lookup.
    :param task_type: Optional ``QUALITY_TASK``/``CONSISTENCY_TASK``, to narrow a lookup.
    :param started_after: Optional time (epoch milliseconds) no later than the instance's start.
    :param cancel_on_kill: Stop the instance when a user kills the deferred task (the rerun
        operator's trigger; a sensor's never does).
    :param stop_at: The task's ``execution_timeout`` as an epoch time (see the base trigger).
    """

    def __init__(
        self,
        *,
        instance_id: str,
        dataarts_conn_id: str = "dataarts_default",
        poll_interval: float = 30.0,
        end_time: float | None = None,
        job_name: str | None = None,
        task_type: str | None = None,
        started_after: int | None = None,
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
        self.job_name = job_name
        self.task_type = task_type
        self.started_after = int(started_after) if started_after is not None else None
        self._wanted: Wanted | None = None
        self._poller_key: Any = None
        self._told_stretched = False

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "airflow_provider_dataarts.triggers.quality.DataArtsQualityInstanceTrigger",
            {
                **self._base_kwargs(),
                "job_name": self.job_name,
                "task_type": self.task_type,
                "started_after": self.started_after,
            },
        )

    def _last_seen(self) -> dict[str, Any]:
        return {"run_status": self._status}

    def validate(self, config: DataArtsConfig) -> None:
        config.require_workspace()

    def _what(self) -> str:
        return f"quality instance {self.instance_id}"

    async def stop(self, transport: AsyncTransport) -> None:
        from airflow_provider_dataarts.client import operations as ops

        await transport.run(ops.stop_quality_instances(transport.config.project_id, [self.instance_id]))

    async def poll(self, transport: AsyncTransport) -> TriggerEvent | None:
        # Imported here, not at the top: the triggerer loads the module, DAG files never need it.
        from airflow_provider_dataarts.triggers.shared_poll import Wanted, poller_key, shared_poller

        config = transport.config
        if self._wanted is None:
            self._wanted = Wanted(self.instance_id, self.started_after, self.job_name, self.task_type)
            self._poller_key = poller_key(config, self.poll_interval)
        # Looked up at every poll, not kept: a poller is dropped when nothing waits on it.
        answer = await shared_poller(config, self.poll_interval, self._poller_key).poll(self._wanted)
        if answer.interval > self.poll_interval and not self._told_stretched:
            self.log.warning(
                "DataArts request budget (the quality ceiling, extra.rate_limits.quality): "
                "polling every %.0f s, not %g s",
                answer.interval,
                self.poll_interval,
            )
            self._told_stretched = True
        instance = answer.instance
        if instance is None:
            return self._not_found(config)
        status = instance.get("run_status")
        self._saw(status)
        if is_quality_terminal(status):
            return self._event(
                "success",
                f"quality instance {self.instance_id} finished: {status}",
                run_status=status,
                instance=instance,
            )
        return None

    def _not_found(self, config: DataArtsConfig) -> TriggerEvent | None:
        from airflow_provider_dataarts.triggers.shared_poll import Wanted

        if self._wanted is not None and self._wanted.started_after is not None:
            # The hint is only a hint (a cleared run's start date moves past its instance's start):
            # as the hook does in poke mode, look again without it before judging.
            self.log.info(
                "DataArts quality instance %s did not start after %s; looking for it without that hint",
                self.instance_id,
                self.started_after,
            )
            self._wanted = Wanted(self.instance_id, None, self.job_name, self.task_type)
            return None
        hinted_start = self._wanted.started_after if self._wanted is not None else self.started_after
        event = self._not_listed(
            hinted_start,
            config.not_listed_grace,
            f"quality instance {self.instance_id} is not in the instance list of workspace "
            f"{config.workspace}",
            run_status=None,
        )
        if event is None:
            self.log.info("DataArts quality instance %s is not listed yet", self.instance_id)
        return event
