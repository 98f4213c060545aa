"""
Shared polls of DataArts Migration (CDM) job histories, for every migration trigger of one triggerer.

CDM allows 2 status or history requests a second per user. The history (``GET .../cdm/submissions
?jname=``) lists every recent submission of a job in one answer, so the waits that share a connection
and a poll interval hand what they wait for to one ``MigrationPoller``: at each tick it reads each
job's history once (whatever the number of waits on that job: an operator and its sensors, a job
waited for by several DAGs) and answers every waiter from it. A failed read reaches only the waits
on that job.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_dataarts.triggers.shared_poll import (
    LOOKUP_CONCURRENCY,
    ROUND_SHARE,
    SharedInstancePoller,
    Wanted,
    _counted,
    _settle,
    _Waiter,
    ask_budget,
)

if TYPE_CHECKING:
    from airflow_provider_dataarts.client.config import DataArtsConfig


@dataclass(frozen=True)
class WantedSubmission(Wanted):
    """A submission of job ``name`` on ``cluster_id``: by id, or (id empty) the job's newest."""

    cluster_id: str = ""

    @property
    def job(self) -> tuple[str, str]:
        return self.cluster_id, str(self.name)


class MigrationPoller(SharedInstancePoller):
    """Shared polls of ``GET .../cdm/submissions?jname=``: one request per job and round."""

    async def _round(self, batch: list[_Waiter], due: float) -> None:
        from airflow_provider_dataarts.client import migration
        from airflow_provider_dataarts.client.migration import pick

        by_job: dict[tuple[str, str], list[_Waiter]] = {}
        for waiter in batch:
            wanted = waiter.wanted
            assert isinstance(wanted, WantedSubmission)
            by_job.setdefault(wanted.job, []).append(waiter)
        pace = self.interval * ROUND_SHARE
        ask_budget(self.transport, (id(self), "histories"), len(by_job), pace, 4 * pace)
        self._stretch(len(by_job), expected=True)
        gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)

        async def one(job: tuple[str, str], waiters: list[_Waiter]) -> None:
            async with gate:
                try:
                    history = await self.transport.run(
                        _counted(self, migration.list_submissions(self.project_id, job[0], job[1]))
                    )
                except Exception as error:
                    _settle(waiters, error)
                    return
            for waiter in waiters:
                self._answer([waiter], pick(history, waiter.wanted.instance_id), due)

        await asyncio.gather(*(one(job, waiters) for job, waiters in by_job.items()))


def migration_poller_key(config: DataArtsConfig, interval: float) -> tuple[str, str, float]:
    from airflow_provider_dataarts.client.core import connection_key

    return "migration", connection_key(config), float(interval)
