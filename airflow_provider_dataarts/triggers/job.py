"""Trigger that waits for a DataArts Factory job instance to finish."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from airflow_provider_dataarts.statuses import is_job_terminal, job_status_note, not_listed_too_long
from airflow_provider_dataarts.triggers.base import DataArtsPollingTrigger

if TYPE_CHECKING:
    from airflow.triggers.base import TriggerEvent

    from airflow_provider_dataarts.client.aio import AsyncTransport
    from airflow_provider_dataarts.client.config import DataArtsConfig
    from airflow_provider_dataarts.triggers.job_poll import WantedJob


class DataArtsJobInstanceTrigger(DataArtsPollingTrigger):
    """
    Wait, without a worker, until a DataArts Factory job instance is terminal.

    The instance is given by ``instance_id``, or (a job DataArts schedules itself) as the instance
    of ``job_name`` planned at ``plan_time``, which may not exist yet: then it is waited for until
    ``end_time``. Triggers of one triggerer that share a connection and a poll interval share the
    job instance list (1,000 instances a page, across jobs, in the plan-time window of their
    waits). Event: ``{"status": "success"|"error"|"timeout", "instance_id", "job_name",
    "job_status", "message", "instance"}``, ``instance`` being the instance as the list (or, for a
    wait alone, the detail) shows it; "success" means terminal, whatever the status: the task
    decides, and reads the nodes.

    :param job_name: The job's name.
    :param instance_id: The instance to wait for; empty to wait for the one at ``plan_time``.
    :param plan_time: The plan time (epoch ms) of the scheduled instance to wait for.
    :param planned_after: Epoch ms no later than the instance's plan time (a run's submission
        time): with ``plan_time`` or alone, it lets the wait share the list.
    :param dataarts_conn_id: The Airflow connection of type ``dataarts``.
    :param poll_interval: Seconds between polls.
    :param end_time: Absolute deadline (epoch seconds); a "timeout" event is sent then.
    :param cancel_on_kill: Stop the instance when a user kills the deferred task (the run
        operator's trigger; a sensor's never does).
    :param stop_at: The task's ``execution_timeout`` as an epoch time (see the base trigger).
    :param repaired_after: The instance was rerun from its failed node: the failed attempt's end
        time (epoch ms, DataArts' clock). A terminal status that ended then or earlier is that
        attempt's (the list may still show it): the wait goes on until the new attempt ends.
    """

    def __init__(
        self,
        *,
        job_name: str,
        instance_id: str = "",
        plan_time: int | None = None,
        planned_after: int | None = None,
        dataarts_conn_id: str = "dataarts_default",
        poll_interval: float = 30.0,
        end_time: float | None = None,
        cancel_on_kill: bool = False,
        stop_at: float | None = None,
        repaired_after: int | None = None,
    ) -> None:
        super().__init__(
            instance_id=instance_id or "",
            dataarts_conn_id=dataarts_conn_id,
            poll_interval=poll_interval,
            end_time=end_time,
            cancel_on_kill=cancel_on_kill,
            stop_at=stop_at,
        )
        if not self.instance_id and plan_time is None:
            raise ValueError("DataArtsJobInstanceTrigger needs an instance_id or a plan_time")
        self.job_name = job_name
        self.plan_time = int(plan_time) if plan_time is not None else None
        self.planned_after = int(planned_after) if planned_after is not None else None
        self.repaired_after = int(repaired_after) if repaired_after is not None else None
        self._noted: set[str] = set()
        self._told_absent = False

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "airflow_provider_dataarts.triggers.job.DataArtsJobInstanceTrigger",
            {
                **self._base_kwargs(),
                "job_name": self.job_name,
                "plan_time": self.plan_time,
                "planned_after": self.planned_after,
                "repaired_after": self.repaired_after,
            },
        )

    def _event(self, status: str, message: str, **fields: Any) -> TriggerEvent:
        from airflow.triggers.base import TriggerEvent

        return TriggerEvent(
            {
                "status": status,
                "instance_id": self.instance_id or self._looked_for(),
                "job_name": self.job_name,
                "plan_time": self.plan_time,
                "message": message,
                **fields,
            }
        )

    def _looked_for(self) -> str:
        return f"{self.job_name} at plan time {self.plan_time}"

    def _last_seen(self) -> dict[str, Any]:
        return {"job_status": self._status}

    def _what(self) -> str:
        return f"job {self.job_name} instance {self.instance_id or self._looked_for()}"

    def _wanted(self) -> WantedJob:
        from airflow_provider_dataarts.client.jobs import CLOCK_SKEW_MS
        from airflow_provider_dataarts.triggers.job_poll import WantedJob

        low: int | None
        high: int | None
        if self.plan_time is not None:
            low, high = self.plan_time, self.plan_time
        elif self.planned_after is not None:
            low, high = self.planned_after - CLOCK_SKEW_MS, self.planned_after + CLOCK_SKEW_MS
        else:
            low = high = None
        return WantedJob(self.instance_id, started_after=low, name=self.job_name, plan_to=high)

    async def stop(self, transport: AsyncTransport) -> None:
        from airflow_provider_dataarts.client import jobs

        if self.instance_id:
            await transport.run(
                jobs.stop_job_instance(transport.config.project_id, self.job_name, self.instance_id)
            )

    async def poll(self, transport: AsyncTransport) -> TriggerEvent | None:
        from airflow_provider_dataarts.triggers.job_poll import JobInstancePoller, job_poller_key
        from airflow_provider_dataarts.triggers.shared_poll import shared_poller

        config = transport.config
        poller = shared_poller(
            config, self.poll_interval, job_poller_key(config, self.poll_interval), JobInstancePoller
        )
        answer = await poller.poll(self._wanted())
        instance = answer.instance
        if instance is None:
            instance = await self._absent(transport, config)
            if instance is None:
                return None
        if not self.instance_id:
            self.instance_id = str(instance.get("instanceId"))
            self.log.info("DataArts job %s instance %s is the one planned at %s", *self._found())
        status = instance.get("status")
        if self._saw(status):
            note = job_status_note(status)
            if note and status not in self._noted:
                self._noted.add(str(status))
                self.log.warning("DataArts job %s instance %s: %s", self.job_name, self.instance_id, note)
        if not is_job_terminal(instance) or self._old_attempt(instance):
            return None
        # The nodes (a detail read) are the resumed task's to fetch: the triggerer's requests stay
        # those of the shared listing, whatever the number of waits.
        return self._event(
            "success",
            f"job {self.job_name} instance {self.instance_id} finished: {instance.get('status')}",
            job_status=instance.get("status"),
            instance=instance,
        )

    def _old_attempt(self, instance: dict[str, Any]) -> bool:
        """Whether a terminal instance still shows the attempt a repair reran (``repaired_after``)."""
        from airflow_provider_dataarts.results.job import is_old_attempt

        return is_old_attempt(instance, self.repaired_after)

    def _timeout_event(self) -> TriggerEvent:
        if self.instance_id:
            message = f"job {self.job_name} instance {self.instance_id} not finished by the deadline"
        else:
            message = (
                f"no instance of job {self.job_name} planned at {self.plan_time} appeared by the deadline"
            )
        return self._event("timeout", message, **self._last_seen())

    def _found(self) -> tuple[str, str, Any]:
        return self.job_name, self.instance_id, self.plan_time

    async def _absent(self, transport: AsyncTransport, config: DataArtsConfig) -> dict[str, Any] | None:
        """
        Not in the list: a scheduled instance not made yet is waited for; an instance known by id
        is read by id once the list's lag (``not_listed_grace``) is over.
        """
        if not self.instance_id:
            if not self._told_absent:
                self.log.info(
                    "DataArts job %s has no instance planned at %s yet; waiting for it",
                    self.job_name,
                    self.plan_time,
                )
                self._told_absent = True
            return None
        if not not_listed_too_long(
            self._waiting_since, self.planned_after, time.time(), config.not_listed_grace
        ):
            return None
        from airflow_provider_dataarts.client import jobs

        return await transport.run(
            jobs.get_job_instance(config.project_id, self.job_name, self.instance_id), deadline=self.end_time
        )


class DataArtsPatchDataTrigger(DataArtsPollingTrigger):
    """
    Wait, without a worker, until a DataArts PatchData run is terminal (``SUCCESS``, ``CANCEL``, a
    status with ``FAIL`` in it). The run is found by its exact name in the PatchData list; a run not
    listed ``not_listed_grace`` after its submission ends the wait with a ``not_listed`` error.

    Event: ``{"status": "success"|"error"|"timeout", "instance_id": <name>, "job_name",
    "patch_data_status", "patch_data", "message"}``, ``patch_data`` being the run's row; "success"
    means terminal, whatever the status: the task reads the job instances and decides.

    :param instance_id: The PatchData run's name.
    :param job_name: The job it patches (for messages and the resumed task).
    :param submitted_at: Epoch ms of its submission (the list's lag is counted from there).
    :param dataarts_conn_id: The Airflow connection of type ``dataarts``.
    :param poll_interval: Seconds between polls.
    :param end_time: Absolute deadline (epoch seconds); a "timeout" event is sent then.
    :param cancel_on_kill: Stop the run when a user kills the deferred task.
    :param stop_at: The task's ``execution_timeout`` as an epoch time (see the base trigger).
    """

    def __init__(
        self,
        *,
        instance_id: str,
        job_name: str,
        submitted_at: int | None = None,
        dataarts_conn_id: str = "dataarts_default",
        poll_interval: float = 30.0,
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
        self.job_name = job_name
        self.submitted_at = int(submitted_at) if submitted_at is not None else None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "airflow_provider_dataarts.triggers.job.DataArtsPatchDataTrigger",
            {**self._base_kwargs(), "job_name": self.job_name, "submitted_at": self.submitted_at},
        )

    def _event(self, status: str, message: str, **fields: Any) -> TriggerEvent:
        return super()._event(status, message, job_name=self.job_name, **fields)

    def _last_seen(self) -> dict[str, Any]:
        return {"patch_data_status": self._status}

    def _what(self) -> str:
        return f"PatchData {self.instance_id} of job {self.job_name}"

    def validate(self, config: DataArtsConfig) -> None:
        config.require_workspace()

    async def poll(self, transport: AsyncTransport) -> TriggerEvent | None:
        from airflow_provider_dataarts.client import patchdata

        await self._paced()
        row = await transport.run(
            patchdata.find_patch_data(transport.config.project_id, self.instance_id), deadline=self.end_time
        )
        if row is None:
            grace = transport.config.not_listed_grace
            return self._not_listed(
                self.submitted_at,
                grace,
                f"{self._what()} is not listed {grace:g} s after its submission (extra.not_listed_grace)",
                **self._last_seen(),
            )
        status = row.get("status")
        self._saw(status)
        if not patchdata.is_terminal(status):
            return None
        return self._event(
            "success", f"{self._what()} finished: {status}", patch_data_status=status, patch_data=row
        )

    async def stop(self, transport: AsyncTransport) -> None:
        from airflow_provider_dataarts.client import patchdata

        await transport.run(patchdata.stop_patch_data(transport.config.project_id, self.instance_id))
