"""
Shared polls of the quality instance list, for every trigger of one triggerer process.

The gateway throttles per user (``APIG.0308``), so 5,000 sensors polling on their own every 10 s
(500 requests/s) would be throttled. Instead, triggers that share a connection and a poll interval
hand their instance to one ``SharedInstancePoller``; at each tick it reads the list call (newest
first, 100 a page) from the start of the oldest waiting instance on, and answers every waiter it
finds as soon as its page arrives. A waiter without a start hint, or so far back that its window
would cost more pages than looking the rest up one by one, is looked up on its own with the
narrowest filter. The request rate grows with pages of instances, not with the number of sensors.

After the first page (whose ``count`` tells how many there are) a round reads the rest
``PAGE_CONCURRENCY`` at a time (``read_list``, the one list reader every shared listing uses),
within the request budget of the connection (``client.core.RequestBudget``, shared by every request
of the triggerer to that user): the round asks it for the rate that reads its pages within
``ROUND_SHARE`` of the interval, and the budget grows towards that rate while the gateway accepts
and halves on a 429. Once an instance has been seen, its own start time (not the caller's hint,
which may be far older) bounds the window: later rounds read fewer pages.

A round's failure reaches only the waiters it had not answered, and every waiter's future is
resolved whatever happens in the round, a bug included.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_dataarts.client.aio import AsyncTransport
    from airflow_provider_dataarts.client.config import DataArtsConfig
    from airflow_provider_dataarts.client.core import ApiRequest

log = logging.getLogger(__name__)

# Lookups of single waiters run this many at a time, so one round never floods the pool.
LOOKUP_CONCURRENCY = 8
# Pages of one list read at a time: enough to keep the budget busy, few enough that a 429's cut
# and pause reach the rest before they are sent.
PAGE_CONCURRENCY = 8
# A round asks the budget for the rate that sends its requests within this share of its interval;
# the rest is room for retries and for the other pollers of the connection.
ROUND_SHARE = 0.5
# While the budget, not the interval, sets the pace, a poller says so at most this often.
PACE_LOG_EVERY = 60.0


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


@dataclass(eq=False)  # by identity: a list of thousands is searched for one
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
    # The start time (epoch ms) each waited-for instance was listed with: a tighter window than
    # the waiter's hint. Only the instances of the last round are kept.
    starts: dict[str, int] = field(default_factory=dict)
    _pace_logged: float | None = None

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
            # An answered waiter has left the list already; only one given up on may still be in it
            # (searching it on every answer would cost a round of N waiters N * N / 2 comparisons).
            if waiter.future.cancelled() and waiter in self.waiting:
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
        # This round's own requests (rounds may overlap when one takes longer than the interval:
        # the poller's total would count the other's too, and stretch the interval twice over).
        sent = [0]
        _ROUND_SENT.set(sent)
        try:
            await self._round(batch, due)
        except Exception as error:
            log.debug("Shared DataArts poll round failed: %s", error)
            _settle(batch, error)
        finally:
            _settle(batch, RoundFailed("the round ended without an answer for this instance"))
            self._stretch(sent[0])

    def _stretch(self, sent: int, *, expected: bool = False) -> None:
        """
        Spread the next round so that rounds like this one stay within the request budget: at the
        budget's rate, or (``expected``, a round's first page) at the rate it is growing towards.
        """
        from airflow_provider_dataarts.client.aio import shared_budget

        budget = shared_budget(self.transport.config)
        rate = budget.rate
        if expected:
            rate = max(rate, min(budget.top, sent / (self.interval * ROUND_SHARE)))
        stretched = max(self.interval, sent / rate)
        now = time.monotonic()
        if (
            not expected
            and stretched > self.interval
            and (self._pace_logged is None or now - self._pace_logged >= PACE_LOG_EVERY)
        ):
            self._pace_logged = now
            log.warning(
                "DataArts quality request budget of %.2f requests/s (at most %g/s: "
                "extra.rate_limits.quality) sets the pace: polling every %.3g s instead of %g s "
                "(%d requests a round)",
                budget.rate,
                budget.ceiling,
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

    def _hint(self, waiters: list[_Waiter]) -> int | None:
        """The latest start the instance of ``waiters`` is known to have: the start it was listed with."""
        hints = [h for w in waiters if (h := w.wanted.started_after) is not None]
        known = self.starts.get(waiters[0].wanted.instance_id)
        if known is not None:
            hints.append(known)
        return max(hints) if hints else None

    def _seen(self, instance: dict[str, Any] | None) -> None:
        start = instance.get("start_time") if instance else None
        if isinstance(start, int) and not isinstance(start, bool):
            self.starts[str(instance["id"])] = start  # type: ignore[index]

    async def _round(self, batch: list[_Waiter], due: float) -> None:
        by_id: dict[str, list[_Waiter]] = {}
        for waiter in batch:
            by_id.setdefault(waiter.wanted.instance_id, []).append(waiter)
        self.starts = {i: s for i, s in self.starts.items() if i in by_id}
        hints = {i: self._hint(ws) for i, ws in by_id.items()}
        hinted = {i: ws for i, ws in by_id.items() if hints[i] is not None}
        alone = [ws for i, ws in by_id.items() if i not in hinted]
        if len(hinted) == 1:  # a window read for one instance is just its own lookup
            alone += hinted.values()
            hinted = {}
        left = await self._window(hinted, hints, due) if hinted else []
        await self._look_up([*alone, *left], due, hints)

    async def _window(
        self, hinted: dict[str, list[_Waiter]], hints: dict[str, int | None], due: float
    ) -> list[list[_Waiter]]:
        """
        Read the list from the oldest start on, answering waiters as their pages arrive.

        Stops when every waiter is found, or when the pages still to read would cost more than
        looking the waiters still missing up one by one: those it returns, with those the list
        may have skipped (it grew while read). A failed page's error reaches only the waiters
        still missing at the end.
        """
        from airflow_provider_dataarts.client import operations as ops

        window_start = min(h for i in hinted if (h := hints[i]) is not None)
        missing = dict(hinted)

        first = True

        def read(page: list[dict[str, Any]], pages_left: int) -> bool:
            nonlocal first
            if first:  # the list's count tells what this round will cost: stretch at once
                self._stretch(1 + pages_left, expected=True)
                first = False
            for item in page:
                waiters = missing.pop(str(item.get("id")), None)
                if waiters is not None:
                    instance = ops.normalize_instance(item)
                    self._seen(instance)
                    self._answer(waiters, instance, due)
            return not missing or pages_left > len(missing)

        listing = await read_list(
            self.transport,
            partial(ops.instances_request, self.project_id, start_time=window_start),
            read,
            pace=self.interval * ROUND_SHARE,
            who=(id(self), "pages"),
        )
        tally(self, listing.sent)
        if listing.error is not None:
            _settle(list(w for ws in missing.values() for w in ws), listing.error)
            return []
        if listing.complete:  # every instance since the oldest start was read: the missing are not listed
            for waiters in missing.values():
                self._answer(waiters, None, due)
            return []
        return list(missing.values())

    async def _look_up(self, groups: list[list[_Waiter]], due: float, hints: dict[str, int | None]) -> None:
        """Each instance on its own, with the narrowest filter its hints allow; failures stay its own."""
        from airflow_provider_dataarts.client import operations as ops

        if not groups:
            return
        gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)
        pace = self.interval * ROUND_SHARE
        ask_budget(self.transport, (id(self), "lookups"), len(groups), pace, 4 * pace)

        async def one(waiters: list[_Waiter]) -> None:
            first = waiters[0].wanted
            wanted = Wanted(
                first.instance_id,
                hints.get(first.instance_id),
                next((w.wanted.name for w in waiters if w.wanted.name), None),
                next((w.wanted.task_type for w in waiters if w.wanted.task_type), None),
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
            self._seen(instance)
            self._answer(waiters, instance, due)

        await asyncio.gather(*(one(waiters) for waiters in groups))


def ask_budget(transport: AsyncTransport, who: Any, requests: int, within: float, hold: float) -> None:
    """Tell the connection's budget that ``who`` needs ``requests`` sent within ``within`` seconds."""
    from airflow_provider_dataarts.client.aio import shared_budget

    shared_budget(transport.config).need(who, requests / max(within, 1e-3), time.time() + hold)


@dataclass
class ListRead:
    """How a ``read_list`` went."""

    complete: bool  # every page was read, and the list did not grow meanwhile
    sent: int  # pages asked for (their retries not counted)
    error: BaseException | None = None  # the first page's failure, if a page failed


async def read_list(
    transport: AsyncTransport,
    make_request: Callable[[int], ApiRequest],
    read: Callable[[list[dict[str, Any]], int], bool],
    *,
    pace: float,
    who: Any,
    concurrency: int = PAGE_CONCURRENCY,
) -> ListRead:
    """
    The pages of a ``{count, resources}`` list: the first alone, then the rest (its ``count`` says
    how many) ``concurrency`` at a time, each handed to ``read(page, pages_left)`` as it arrives;
    when ``read`` returns True no further page is sent. Every request waits for the connection's
    budget, which is asked for the rate that reads every page within ``pace`` seconds.

    A page that fails (after its retries) does not stop the others: its error is returned and the
    list is not ``complete``. Nor is it when its count changed while it was read (instances started
    meanwhile shift the pages: an item may have moved onto a page already read). A list without a
    ``count`` is read one page after another. The first page's failure is raised.
    """
    from airflow_provider_dataarts.client import operations as ops
    from airflow_provider_dataarts.exceptions import DataArtsAPIError

    first = make_request(0)
    page, count = ops.page_items(await transport.call(first), first)
    sent = 1
    if count is None:  # no count: no telling where the pages are; one after another
        offset = len(page)
        while True:
            if read(page, 0 if len(page) < ops.PAGE_SIZE else 1) or len(page) < ops.PAGE_SIZE:
                return ListRead(len(page) < ops.PAGE_SIZE, sent)
            if sent >= ops.MAX_PAGES:
                raise DataArtsAPIError(
                    f"more than {ops.MAX_PAGES} pages", method=first.method, path=first.path
                )
            request = make_request(offset)
            page, _ = ops.page_items(await transport.call(request), request)
            offset += len(page)
            sent += 1
    total = max(1, -(-count // ops.PAGE_SIZE))
    if total > ops.MAX_PAGES:
        raise DataArtsAPIError(f"more than {ops.MAX_PAGES} pages", method=first.method, path=first.path)
    left = total - 1
    if read(page, left) or left == 0 or len(page) < ops.PAGE_SIZE:
        return ListRead(left == 0 or len(page) < ops.PAGE_SIZE, sent)
    ask_budget(transport, who, total, pace, 4 * pace)
    offsets = iter(range(ops.PAGE_SIZE, count, ops.PAGE_SIZE))
    stopped = grew = False
    error: BaseException | None = None

    async def reader() -> None:
        nonlocal left, sent, stopped, grew, error
        for offset in offsets:  # shared by the readers: each offset is read once
            if stopped:
                return
            request = make_request(offset)
            sent += 1
            try:
                page, now_count = ops.page_items(await transport.call(request), request)
            except Exception as failure:
                error = error or failure
                continue
            left -= 1
            grew = grew or now_count != count
            if not stopped and read(page, left):
                stopped = True

    await asyncio.gather(*(reader() for _ in range(min(concurrency, left))))
    return ListRead(not stopped and not grew and error is None, sent, error)


_ROUND_SENT: contextvars.ContextVar[list[int]] = contextvars.ContextVar("dataarts_round_sent")


def tally(poller: SharedInstancePoller, requests: int) -> None:
    """Count ``requests`` as the poller's, and as the current round's (``_serve``)."""
    poller.requests += requests
    sent = _ROUND_SENT.get(None)
    if sent is not None:
        sent[0] += requests


def _counted(poller: SharedInstancePoller, operation: Any) -> Any:
    """The operation, counting its requests as the poller's."""
    request = next(operation)
    try:
        while True:
            tally(poller, 1)
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
