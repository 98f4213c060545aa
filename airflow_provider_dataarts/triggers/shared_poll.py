"""
Shared polls of the quality instance list, for every trigger of one triggerer process.

The gateway throttles per user (``APIG.0308``), so 5,000 sensors polling on their own every 10 s
(500 requests/s) would be throttled. Instead, triggers that share a connection and a poll interval
hand their instance id to one ``SharedInstancePoller``; at each tick it pages through the list
call (newest first, 100 a page) until every waiting instance is found, and answers them all. The
request rate grows with pages of instances, not with the number of sensors.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_dataarts.client.aio import AsyncTransport

# A round stops after this many pages; waiters still not found then look themselves up.
MAX_ROUND_PAGES = 200


@dataclass
class RoundAnswer:
    """What one shared round learnt about an instance: its overview, or None if it was not listed."""

    instance: dict[str, Any] | None
    due: float  # the tick this round served (epoch seconds)


@dataclass
class _Waiter:
    future: asyncio.Future[RoundAnswer]
    started_after: int | None


@dataclass
class SharedInstancePoller:
    transport: AsyncTransport
    project_id: str
    interval: float
    origin: float = field(default_factory=time.time)
    waiting: dict[str, list[_Waiter]] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None

    async def poll(self, instance_id: str, started_after: int | None) -> RoundAnswer:
        """Wait for the next tick and return what its round found for ``instance_id``."""
        future: asyncio.Future[RoundAnswer] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(future, started_after)
        self.waiting.setdefault(instance_id, []).append(waiter)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())
        try:
            return await future
        finally:
            waiters = self.waiting.get(instance_id)
            if waiters and waiter in waiters:
                waiters.remove(waiter)
                if not waiters:
                    del self.waiting[instance_id]

    def next_tick(self, now: float) -> float:
        """Ticks fall every ``interval`` from the poller's start; a round never runs early."""
        elapsed = max(0.0, now - self.origin)
        ticks = -(-elapsed // self.interval)  # ceil
        return self.origin + ticks * self.interval

    async def _run(self) -> None:
        last_due = float("-inf")
        while self.waiting:
            due = self.next_tick(time.time())
            if due <= last_due:
                due = last_due + self.interval
            last_due = due
            await asyncio.sleep(max(0.0, due - time.time()))
            batch, self.waiting = self.waiting, {}
            batch = {key: [w for w in ws if not w.future.done()] for key, ws in batch.items()}
            batch = {key: ws for key, ws in batch.items() if ws}
            if not batch:
                continue
            try:
                found = await self._round(batch)
            except Exception as error:
                for waiters in batch.values():
                    for waiter in waiters:
                        if not waiter.future.done():
                            waiter.future.set_exception(error)
                continue
            for instance_id, waiters in batch.items():
                answer = RoundAnswer(found.get(instance_id), due)
                for waiter in waiters:
                    if not waiter.future.done():
                        waiter.future.set_result(answer)

    async def _round(self, batch: dict[str, list[_Waiter]]) -> dict[str, dict[str, Any]]:
        from airflow_provider_dataarts.client import operations as ops

        hints = [w.started_after for ws in batch.values() for w in ws]
        started_after = None if None in hints else min(h for h in hints if h is not None)
        wanted = set(batch)
        seen: set[str] = set()
        pages = 0

        def stop(page: list[dict[str, Any]]) -> bool:
            nonlocal pages
            pages += 1
            seen.update(key for item in page if (key := str(item.get("id"))) in wanted)
            return len(seen) == len(wanted) or pages >= MAX_ROUND_PAGES

        listing = ops.paginate(
            partial(ops.instances_request, self.project_id, start_time=started_after), stop
        )
        items = await self.transport.run(listing)
        found: dict[str, dict[str, Any]] = {}
        for item in items:
            key = str(item.get("id"))
            if key in wanted and key not in found:
                found[key] = ops.normalize_instance(item)
        return found


_POLLERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, SharedInstancePoller]] = (
    weakref.WeakKeyDictionary()
)


def shared_poller(
    key: Any, transport: AsyncTransport, project_id: str, interval: float
) -> SharedInstancePoller:
    """The poller of this event loop for ``key`` (connection identity and interval), made on first use."""
    pollers = _POLLERS.setdefault(asyncio.get_running_loop(), {})
    poller = pollers.get(key)
    if poller is None:
        poller = pollers[key] = SharedInstancePoller(transport, project_id, interval)
    return poller
