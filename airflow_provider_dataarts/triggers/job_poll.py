"""
Shared polls of the DataArts Factory job instance list, for every job trigger of one triggerer.

The same scheme as the quality instances' (``shared_poll``): triggers that share a connection and a
poll interval hand what they wait for to one poller. At each tick it reads the job instance list,
across jobs, 1,000 instances a page, in the plan-time window that covers the waiters (at most the
7 days the list allows), and answers every waiter it finds as its page arrives. A waiter alone, or
outside the window, is looked up on its own: an instance by id with the detail call, a scheduled
instance by plan time with the list filtered by its job. A failed page reaches only the waiters it
did not answer.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_dataarts.triggers.shared_poll import (
    LOOKUP_CONCURRENCY,
    SharedInstancePoller,
    Wanted,
    _counted,
    _settle,
    _Waiter,
    tally,
)

if TYPE_CHECKING:
    from airflow_provider_dataarts.client.config import DataArtsConfig


@dataclass(frozen=True)
class WantedJob(Wanted):
    """
    A job instance: by ``instance_id``, or (``instance_id`` empty) the newest instance of job
    ``name`` planned at ``plan_to``. ``started_after``..``plan_to`` is the plan-time window it lies
    in (epoch ms), when known.
    """

    plan_to: int | None = None

    @property
    def key(self) -> str:
        return self.instance_id or f"{self.name}@{self.plan_to}"

    def matches(self, item: dict[str, Any]) -> bool:
        if self.instance_id:
            return str(item.get("instanceId")) == self.instance_id
        return item.get("jobName") == self.name and item.get("planTime") == self.plan_to


def _newest(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Assumption 8 (client.jobs): of several instances at one plan time, the newest."""
    return max(items, key=lambda item: int(str(item.get("instanceId") or 0)), default=None)


class JobInstancePoller(SharedInstancePoller):
    """Shared polls of ``GET /v1/{project_id}/jobs/instances/detail``."""

    async def _round(self, batch: list[_Waiter], due: float) -> None:
        from airflow_provider_dataarts.client.jobs import MAX_WINDOW_MS

        by_key: dict[str, list[_Waiter]] = {}
        for waiter in batch:
            by_key.setdefault(_wanted(waiter).key, []).append(waiter)
        windowed = {
            key: ws
            for key, ws in by_key.items()
            if _wanted(ws[0]).started_after is not None and _wanted(ws[0]).plan_to is not None
        }
        if len(windowed) > 1:
            high = max(int(_wanted(ws[0]).plan_to or 0) for ws in windowed.values())
            low = max(
                min(int(_wanted(ws[0]).started_after or 0) for ws in windowed.values()), high - MAX_WINDOW_MS
            )
            inside = {
                key: ws for key, ws in windowed.items() if int(_wanted(ws[0]).started_after or 0) >= low
            }
        else:
            inside, low, high = {}, 0, 0
        alone = [ws for key, ws in by_key.items() if key not in inside]
        left = await self._job_window(inside, low, high, due) if inside else []
        await self._job_look_up([*alone, *left], due)

    async def _job_window(
        self, groups: dict[str, list[_Waiter]], low: int, high: int, due: float
    ) -> list[list[_Waiter]]:
        from airflow_provider_dataarts.client import jobs

        missing = dict(groups)
        by_plan: dict[str, list[dict[str, Any]]] = {}
        first = True

        def read(page: list[dict[str, Any]], pages_left: int) -> bool:
            nonlocal first
            tally(self, 1)
            if first:
                self._stretch(1 + pages_left)
                first = False
            for item in page:
                waiters = missing.pop(str(item.get("instanceId")), None)
                if waiters is not None:
                    self._answer(waiters, item, due)
                plan_key = f"{item.get('jobName')}@{item.get('planTime')}"
                if plan_key in missing:
                    by_plan.setdefault(plan_key, []).append(item)
            return not missing or pages_left > len(missing)

        listed_all = await self.transport.run(
            jobs.read_instance_pages(
                lambda offset: jobs.instances_request(
                    self.project_id, offset, min_plan_time=low, max_plan_time=high
                ),
                read,
            )
        )
        for plan_key, items in by_plan.items():
            self._answer(missing.pop(plan_key), _newest(items), due)
        if listed_all:  # the whole window was read: the missing are not listed (yet)
            for waiters in missing.values():
                self._answer(waiters, None, due)
            return []
        return list(missing.values())

    async def _job_look_up(self, groups: list[list[_Waiter]], due: float) -> None:
        from airflow_provider_dataarts.client import jobs
        from airflow_provider_dataarts.client.jobs import INSTANCE_NOT_FOUND, error_code_is

        gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)

        async def one(waiters: list[_Waiter]) -> None:
            wanted = _wanted(waiters[0])
            async with gate:
                try:
                    if wanted.instance_id:
                        try:
                            instance: dict[str, Any] | None = await self.transport.run(
                                _counted(
                                    self,
                                    jobs.get_job_instance(
                                        self.project_id, str(wanted.name), wanted.instance_id
                                    ),
                                )
                            )
                        except Exception as error:
                            if not error_code_is(error, INSTANCE_NOT_FOUND):
                                raise
                            instance = None
                    else:
                        found = await self.transport.run(
                            _counted(
                                self,
                                jobs.list_job_instances(
                                    self.project_id,
                                    wanted.name,
                                    min_plan_time=wanted.plan_to,
                                    max_plan_time=wanted.plan_to,
                                ),
                            )
                        )
                        instance = _newest([item for item in found if wanted.matches(item)])
                except Exception as error:
                    _settle(waiters, error)
                    return
            self._answer(waiters, instance, due)

        await asyncio.gather(*(one(waiters) for waiters in groups))


def _wanted(waiter: _Waiter) -> WantedJob:
    wanted = waiter.wanted
    assert isinstance(wanted, WantedJob)
    return wanted


def job_poller_key(config: DataArtsConfig, interval: float) -> tuple[str, str, float]:
    from airflow_provider_dataarts.client.core import connection_key

    return "factory-jobs", connection_key(config), float(interval)
