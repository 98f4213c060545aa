"""
Shared polls of the quality instance list, for every trigger of one triggerer process.

The gateway throttles per user (``APIG.0308``), so 5,000 sensors polling on their own every 10 s
(500 requests/s) would be throttled. Instead, triggers that share a connection and a poll interval
hand their instance to one ``SharedInstancePoller``; at each tick it reads the list call (newest
first, 100 a page) from the start of the oldest waiting instance on, and answers every waiter it
finds as soon as its page arrives. A waiter without a start hint, or so far back that its window
would cost more pages than looking the rest up one by one, is looked up on its own with the
narrowest filter. The request rate grows with pages of instances, not with the number of sensors.

A round's failure reaches only the waiters it had not answered, and every waiter's future is
resolved whatever happens in the round, a bug included.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_dataarts.client.aio import AsyncTransport
    from airflow_provider_dataarts.client.config import DataArtsConfig

log = logging.getLogger(__name__)

# Lookups of single waiters run this many at a time, so one round never floods the pool.
LOOKUP_CONCURRENCY = 8


@dataclass(frozen=True)
class Wanted:
    """What a trigger waits for, with the hints that narrow a lookup."""

    instance_id: str
    started_after: int | None = None  # epoch milliseconds, no later than the instance's start
    name: str | None = None
    task_type: str | None = None


@dataclass
class RoundAnswer:
    """What one round learnt about an instance: its overview, or None if it is not listed."""

    instance: dict[str, Any] | None
    due: float  # the tick this round served (epoch seconds)
    interval: float  # the poller's interval then: longer than asked when the budget stretched it


@dataclass
class _Waiter:
    wanted: Wanted
    future: asyncio.Future[RoundAnswer]


class RoundFailed(Exception):
    """A round ended without answering a waiter, and without an error of its own to pass on."""


@dataclass
class SharedInstancePoller:
    """One connection's and one interval's shared polls; it owns its transport."""

    transport: AsyncTransport
    interval: float
    key: Any = None
    origin: float = field(default_factory=time.time)
    waiting: list[_Waiter] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    effective_interval: float = 0.0
    requests: int = 0  # sent by this poller, all rounds

    def __post_init__(self) -> None:
        if not self.interval > 0:
            raise ValueError(f"poll_interval must be positive, not {self.interval!r}")
        self.effective_interval = self.interval

    @property
    def project_id(self) -> str:
        return self.transport.config.project_id

    async def poll(self, wanted: Wanted) -> RoundAnswer:
        """Wait for the next tick and return what its round found for ``wanted``."""
        loop = asyncio.get_running_loop()
        waiter = _Waiter(wanted, loop.create_future())
        self.waiting.append(waiter)
        if self.task is None or self.task.done():
            self.task = loop.create_task(self._run())
        try:
            return await waiter.future
        finally:
            if waiter in self.waiting:
                self.waiting.remove(waiter)

    def next_tick(self, now: float) -> float:
        """Ticks fall every ``interval`` from the poller's start; a round never runs early."""
        elapsed = max(0.0, now - self.origin)
        ticks = -(-elapsed // self.interval)  # ceil
        return self.origin + ticks * self.interval

    async def _run(self) -> None:
        last_due = float("-inf")
        rounds: set[asyncio.Task[None]] = set()
        try:
            while self.waiting or rounds:
                due = max(self.next_tick(time.time()), last_due + self.effective_interval)
                while (wait := due - time.time()) > 0:
                    await asyncio.sleep(wait)
                    # A round still reading may have stretched the interval meanwhile.
                    due = max(due, last_due + self.effective_interval)
                last_due = due
                batch, self.waiting = [w for w in self.waiting if not w.future.done()], []
                if batch:
                    # Not awaited: a round held up by a slow page must not hold up the next tick of
                    # the waiters it has already answered.
                    task = asyncio.get_running_loop().create_task(self._serve(batch, due))
                    rounds.add(task)
                    task.add_done_callback(rounds.discard)
        finally:
            # Whatever ended the loop (a bug, cancellation), no waiter may hang on it.
            for task in rounds:
                task.cancel()
            _settle(self.waiting, RoundFailed("the shared poller stopped"))
            _forget(self)

    async def _serve(self, batch: list[_Waiter], due: float) -> None:
        before = self.requests
        try:
            await self._round(batch, due)
        except Exception as error:
            log.debug("Shared DataArts poll round failed: %s", error)
            _settle(batch, error)
        finally:
            _settle(batch, RoundFailed("the round ended without an answer for this instance"))
            self._stretch(self.requests - before)

    def _stretch(self, sent: int) -> None:
        """Spread the next round so that rounds like this one stay within the request budget."""
        per_minute = self.transport.config.max_requests_per_minute
        needed = sent * 60.0 / per_minute
        stretched = max(self.interval, needed)
        if stretched > self.interval and self.effective_interval == self.interval:
            log.warning(
                "DataArts request budget of %g a minute: polling every %.0f s instead of %g s "
                "(%d requests a round)",
                per_minute,
                stretched,
                self.interval,
                sent,
            )
        self.effective_interval = stretched

    def _answer(self, waiters: list[_Waiter], instance: dict[str, Any] | None, due: float) -> None:
        answer = RoundAnswer(instance, due, self.effective_interval)
        for waiter in waiters:
            if not waiter.future.done():
                waiter.future.set_result(answer)

    async def _round(self, batch: list[_Waiter], due: float) -> None:
        by_id: dict[str, list[_Waiter]] = {}
        for waiter in batch:
            by_id.setdefault(waiter.wanted.instance_id, []).append(waiter)
        hinted = {i: ws for i, ws in by_id.items() if any(w.wanted.started_after is not None for w in ws)}
        alone = [ws for i, ws in by_id.items() if i not in hinted]
        if len(hinted) == 1:  # a window read for one instance is just its own lookup
            alone += hinted.values()
            hinted = {}
        left = await self._window(hinted, due) if hinted else []
        await self._look_up([*alone, *left], due)

    async def _window(self, hinted: dict[str, list[_Waiter]], due: float) -> list[list[_Waiter]]:
        """
        Read the list from the oldest hinted start on, answering waiters as their pages arrive.

        Stops when every waiter is found, or when the pages still to read would cost more than
        looking the waiters still missing up one by one: those it returns.
        """
        from airflow_provider_dataarts.client import operations as ops

        window_start = min(
            h for ws in hinted.values() for w in ws if (h := w.wanted.started_after) is not None
        )
        missing = dict(hinted)

        first = True

        def read(page: list[dict[str, Any]], pages_left: int) -> bool:
            nonlocal first
            self.requests += 1
            if first:  # the list's count tells what this round will cost: stretch at once
                self._stretch(1 + pages_left)
                first = False
            for item in page:
                waiters = missing.pop(str(item.get("id")), None)
                if waiters is not None:
                    self._answer(waiters, ops.normalize_instance(item), due)
            return not missing or pages_left > len(missing)

        listed_all = await self.transport.run(
            ops.read_pages(partial(ops.instances_request, self.project_id, start_time=window_start), read)
        )
        if listed_all:  # every instance since the oldest start was read: the missing are not listed
            for waiters in missing.values():
                self._answer(waiters, None, due)
            return []
        return list(missing.values())

    async def _look_up(self, groups: list[list[_Waiter]], due: float) -> None:
        """Each instance on its own, with the narrowest filter its hints allow; failures stay its own."""
        from airflow_provider_dataarts.client import operations as ops

        gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)

        async def one(waiters: list[_Waiter]) -> None:
            wanted = next(
                (w.wanted for w in waiters if w.wanted.started_after is not None), waiters[0].wanted
            )
            async with gate:
                try:
                    instance = await self.transport.run(
                        _counted(
                            self,
                            ops.find_quality_instance(
                                self.project_id,
                                wanted.instance_id,
                                name=wanted.name,
                                task_type=wanted.task_type,
                                started_after=wanted.started_after,
                                exhaustive=False,
                            ),
                        )
                    )
                except Exception as error:
                    _settle(waiters, error)
                    return
            self._answer(waiters, instance, due)

        await asyncio.gather(*(one(waiters) for waiters in groups))


def _counted(poller: SharedInstancePoller, operation: Any) -> Any:
    """The operation, counting its requests as the poller's."""
    request = next(operation)
    try:
        while True:
            poller.requests += 1
            request = operation.send((yield request))
    except StopIteration as done:
        return done.value


def _settle(waiters: list[_Waiter], error: BaseException) -> None:
    for waiter in waiters:
        if not waiter.future.done():
            waiter.future.set_exception(error)


_POLLERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, SharedInstancePoller]] = (
    weakref.WeakKeyDictionary()
)


def poller_key(config: DataArtsConfig, interval: float) -> tuple[str, float]:
    from airflow_provider_dataarts.client.core import connection_key

    return connection_key(config), float(interval)


def shared_poller(
    config: DataArtsConfig,
    interval: float,
    key: Any = None,
    kind: type[SharedInstancePoller] | None = None,
) -> SharedInstancePoller:
    """
    The poller of this event loop for the connection's settings and ``interval``, made on first use
    with a transport of its own, and forgotten when nothing waits on it any more. ``kind``: the
    listing it reads (default the quality instance list; ``triggers.job_poll`` the job instances').
    """
    from airflow_provider_dataarts.client.aio import AsyncTransport

    key = key if key is not None else poller_key(config, interval)
    pollers = _POLLERS.setdefault(asyncio.get_running_loop(), {})
    poller = pollers.get(key)
    if poller is None:
        poller = pollers[key] = (kind or SharedInstancePoller)(AsyncTransport(config, log), interval, key)
    return poller


def _forget(poller: SharedInstancePoller) -> None:
    try:
        pollers = _POLLERS.get(asyncio.get_running_loop(), {})
    except RuntimeError:  # the loop is gone: so is everything in it
        return
    if pollers.get(poller.key) is poller and not poller.waiting:
        del pollers[poller.key]
