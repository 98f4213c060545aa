"""
Trigger that waits for a DataArts Migration (CDM) submission; its polls share each job's history
read with every other migration wait of the triggerer (``triggers.migration_poll``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_dataarts.statuses import is_migration_terminal
from airflow_provider_dataarts.triggers.base import DataArtsPollingTrigger

if TYPE_CHECKING:
    from airflow.triggers.base import TriggerEvent

    from airflow_provider_dataarts.client.aio import AsyncTransport
    from airflow_provider_dataarts.client.config import DataArtsConfig


async def stop_if_ours(transport: AsyncTransport, cluster_id: str, job_name: str, submission_id: str) -> bool:
    """
    Stop the job only while its running submission is ``submission_id``: CDM's stop acts on the job,
    and a later submission (another task's) must not be stopped for ours. Whether it asked.
    """
    from airflow_provider_dataarts.client import migration

    project = transport.config.project_id
    latest = await transport.run(migration.job_status(project, cluster_id, job_name))
    if latest is None or str(latest.get("submission-id")) != submission_id:
        return False
    if is_migration_terminal(latest.get("status")):
        return False
    await transport.run(migration.stop_job(project, cluster_id, job_name))
    return True


class DataArtsMigrationJobTrigger(DataArtsPollingTrigger):
    """
    Wait, without a worker, until a DataArts Migration (CDM) submission is terminal.

    The submission is ``submission_id``, or (empty) the job's newest, which may not exist yet: then
    it is waited for until ``end_time``. Waits of one triggerer that share a connection and a poll
    interval share the job histories (one request per job and round). Event: ``{"status":
    "success"|"error"|"timeout", "instance_id", "job_name", "cluster_id", "migration_status",
    "message", "submission"}``, ``submission`` being the submission as CDM's history shows it;
    "success" means terminal, whatever the status: the task decides.

    :param cluster_id: The CDM cluster's id.
    :param job_name: The migration job's name.
    :param submission_id: The submission to wait for; empty for the job's newest.
    :param started_after: Epoch ms no later than the submission's creation (the start's time): the
        not-listed grace counts from it.
    :param dataarts_conn_id: The Airflow connection of type ``dataarts``.
    :param poll_interval: Seconds between polls.
    :param end_time: Absolute deadline (epoch seconds); a "timeout" event is sent then.
    :param cancel_on_kill: Stop the submission when a user kills the deferred task (the operator's
        trigger; a sensor's never does).
    :param stop_at: The task's ``execution_timeout`` as an epoch time (see the base trigger).
    :param instance_id: The same as ``submission_id`` (the name the base trigger serializes).
    """

    def __init__(
        self,
        *,
        cluster_id: str,
        job_name: str,
        submission_id: str = "",
        started_after: int | None = None,
        dataarts_conn_id: str = "dataarts_default",
        poll_interval: float = 30.0,
        end_time: float | None = None,
        cancel_on_kill: bool = False,
        stop_at: float | None = None,
        instance_id: str = "",
    ) -> None:
        super().__init__(
            instance_id=submission_id or instance_id or "",
            dataarts_conn_id=dataarts_conn_id,
            poll_interval=poll_interval,
            end_time=end_time,
            cancel_on_kill=cancel_on_kill,
            stop_at=stop_at,
        )
        self.cluster_id = cluster_id
        self.job_name = job_name
        self.started_after = int(started_after) if started_after is not None else None
        self._told_absent = False

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "airflow_provider_dataarts.triggers.migration.DataArtsMigrationJobTrigger",
            {
                **self._base_kwargs(),
                "cluster_id": self.cluster_id,
                "job_name": self.job_name,
                "started_after": self.started_after,
            },
        )

    def _event(self, status: str, message: str, **fields: Any) -> TriggerEvent:
        from airflow.triggers.base import TriggerEvent

        return TriggerEvent(
            {
                "status": status,
                "instance_id": self.instance_id or f"the newest submission of {self.job_name}",
                "job_name": self.job_name,
                "cluster_id": self.cluster_id,
                "message": message,
                **fields,
            }
        )

    def _last_seen(self) -> dict[str, Any]:
        return {"migration_status": self._status}

    def _what(self) -> str:
        return f"migration job {self.job_name} submission {self.instance_id or '(newest)'}"

    def validate(self, config: DataArtsConfig) -> None:
        from airflow_provider_dataarts.client.core import segment

        segment(self.cluster_id, "cluster_id")
        segment(self.job_name, "job_name")

    async def stop(self, transport: AsyncTransport) -> None:
        if self.instance_id and not await stop_if_ours(
            transport, self.cluster_id, self.job_name, self.instance_id
        ):
            self.log.info("DataArts %s is not running: nothing to stop", self._what())

    async def poll(self, transport: AsyncTransport) -> TriggerEvent | None:
        from airflow_provider_dataarts.triggers.migration_poll import (
            MigrationPoller,
            WantedSubmission,
            migration_poller_key,
        )
        from airflow_provider_dataarts.triggers.shared_poll import shared_poller

        config = transport.config
        poller = shared_poller(
            config, self.poll_interval, migration_poller_key(config, self.poll_interval), MigrationPoller
        )
        wanted = WantedSubmission(self.instance_id, name=self.job_name, cluster_id=self.cluster_id)
        answer = await poller.poll(wanted)
        submission = answer.instance
        if submission is None:
            return self._absent(config)
        if not self.instance_id:
            self.instance_id = str(submission.get("submission-id"))
            self.log.info("DataArts Migration job %s: waiting for its newest submission %s", *self._found())
        status = submission.get("status")
        if status != self._status:
            self.log.info(
                "DataArts Migration job %s submission %s is %s (%s%%)",
                self.job_name,
                self.instance_id,
                status,
                submission.get("progress"),
            )
            self._status = status
        if not is_migration_terminal(status):
            return None
        return self._event(
            "success",
            f"migration job {self.job_name} submission {self.instance_id} finished: {status}",
            migration_status=status,
            submission=submission,
        )

    def _found(self) -> tuple[str, str]:
        return self.job_name, self.instance_id

    def _absent(self, config: DataArtsConfig) -> TriggerEvent | None:
        """Not in the history: a job's first submission is waited for; a known id, for the list's lag."""
        if not self.instance_id:
            if not self._told_absent:
                self.log.info(
                    "DataArts Migration job %s has no submission yet; waiting for one", self.job_name
                )
                self._told_absent = True
            return None
        return self._not_listed(
            self.started_after,
            config.not_listed_grace,
            f"migration job {self.job_name} submission {self.instance_id} is not in the job's history "
            f"{config.not_listed_grace:g} s after its start (extra.not_listed_grace)",
            **self._last_seen(),
        )

    def _timeout_event(self) -> TriggerEvent:
        if self.instance_id:
            message = (
                f"migration job {self.job_name} submission {self.instance_id} not finished by the deadline"
            )
        else:
            message = f"no submission of migration job {self.job_name} appeared by the deadline"
        return self._event("timeout", message, **self._last_seen())
