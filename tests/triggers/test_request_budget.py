"""
The adaptive request budget and the concurrent page reads of the shared poller.

The budget's arithmetic is checked with the clock passed in (no sleeps, nothing timed); its
behaviour on the wire against the emulator's gateway limit (429 ``APIG.0308`` with Retry-After).
Where times are asserted, they are lower bounds (a loaded machine only makes them longer).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import pytest

from airflow_provider_dataarts.client import core
from airflow_provider_dataarts.client.aio import AsyncTransport, shared_budget
from airflow_provider_dataarts.client.config import DataArtsConfig
from airflow_provider_dataarts.client.core import RequestBudget
from airflow_provider_dataarts.client.operations import instances_request
from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.exceptions import DataArtsAPIError
from airflow_provider_dataarts.triggers.shared_poll import RoundAnswer, Wanted, shared_poller
from tests.support import AK, PROJECT, SK, WORKSPACE

pytestmark = pytest.mark.filterwarnings("ignore")
LIST = "/quality/instances"


def config(emulator: DataArtsEmulator, **changes: Any) -> DataArtsConfig:
    extra = {"project_id": PROJECT, "workspace": WORKSPACE, "retry_wait": 0.05, **changes}
    return DataArtsConfig.from_connection(conn_id="t", host=emulator.url, login=AK, password=SK, extra=extra)


def now_ms() -> int:
    return int(time.time() * 1000)


def start(emulator: DataArtsEmulator, job: str = "orders_freshness") -> str:
    """An instance running for the whole test."""
    return emulator.start_quality_instance(job, run_seconds=300)


def noise(emulator: DataArtsEmulator, count: int) -> None:
    """Other jobs' instances, running for the whole test."""
    if "other_teams_job" not in {job.name for job in emulator.state.jobs.values()}:
        emulator.add_quality_job("other_teams_job", sub_rules=1)
    emulator.state.add_running_instances("other_teams_job", count, 300, 400)
    time.sleep(0.002)


def list_reads(emulator: DataArtsEmulator) -> list[dict[str, Any]]:
    return [r for r in emulator.requests if r["method"] == "GET" and LIST in r["path"]]


# --- the arithmetic, clock passed in ---------------------------------------------------------------


def test_a_budget_starts_at_its_ceiling_less_a_headroom_and_spaces_requests_at_its_rate() -> None:
    budget = RequestBudget(4.0, family="quality", window=10.0)
    assert budget.rate == pytest.approx(40 / (10 + core.BUDGET_MARGIN)), "40 in any 10 s and a margin"
    assert budget.rate < budget.ceiling == 4.0
    spacing = 1 / budget.rate
    assert budget.reserve(100.0) == 0.0
    assert budget.reserve(100.0) == pytest.approx(spacing), "the next slot is 1/rate later"
    assert budget.reserve(100.1) == pytest.approx(spacing - 0.1), "asking again takes no slot meanwhile"
    assert budget.reserve(100.0 + spacing) == 0.0


def test_the_families_and_their_ceilings() -> None:
    family = core.request_family
    assert family("GET", "quality", "/v2/p1/quality/instances") == "quality"
    assert family("GET", "quality", "/v2/p1/quality/quality-tasks/7") == "quality"
    assert family("POST", "factory", "/v1/p1/scripts/s/execute") == "factory"
    assert family("POST", "factory", "/v1/p1/jobs/daily/run-immediate") == "factory"
    assert family("GET", "factory", "/v1/p1/jobs/instances/detail") == "factory"
    assert family("GET", "factory", "/v1/p1/jobs/daily/instances/42") == "factory"
    assert family("GET", "factory", "/v1/p1/jobs/daily") == "factory_detail"
    assert family("POST", "factory", "/v1/p1/jobs/daily/export") == "factory_detail"
    assert family("POST", "factory", "/v1/p1/jobs/daily/stop") == "factory"
    assert family("POST", "factory", "/v2/p1/factory/supplement-data") == "factory_v2"
    assert family("GET", "migration", "/v1.1/p1/clusters/c1/cdm/job/j/status") == "migration"
    assert family("GET", "migration", "/v1.1/p1/clusters/c1/cdm/submissions") == "migration"
    assert family("PUT", "migration", "/v1.1/p1/clusters/c1/cdm/job/j/start") == "migration_control"
    assert family("POST", "iam", "/v3/auth/tokens") == "iam"
    registry = core.BudgetRegistry()
    cfg = DataArtsConfig.from_connection(
        conn_id="t",
        host="http://h",
        login=AK,
        password=SK,
        extra={"project_id": PROJECT, "rate_limits": {"quality": 2, "factory_v2": 5.5}},
    )
    assert registry.get(cfg, "quality").ceiling == 2.0
    assert registry.get(cfg, "factory_v2").ceiling == 5.5
    assert registry.get(cfg, "factory").ceiling == 30.0 and registry.get(cfg, "migration").ceiling == 2.0
    assert registry.get(cfg, "iam") is None, "the token call has no DataArts budget"
    assert registry.get(cfg, "quality") is registry.get(cfg, "quality"), "one per user and family"


def saturate(budget: RequestBudget, start: float, seconds: float) -> float:
    """Callers always waiting for the budget for ``seconds``: the clock when they stop."""
    now = start
    caller = object()
    while now < start + seconds:
        wait = budget.reserve(now, caller)
        if wait > 0:
            now += wait
        else:
            caller = object()  # the next caller is already there: told to wait, it queues
            now += 1e-6
            budget.reserve(now, caller)
    budget.forget(caller)  # the callers stop
    return now


def test_waiting_callers_are_served_first_come_first_served() -> None:
    budget = RequestBudget(30.0, start=5.0)
    first, second, third = object(), object(), object()
    assert budget.reserve(10.0, object()) == 0.0
    assert budget.reserve(10.0, first) == pytest.approx(0.2)
    assert budget.reserve(10.05, second) == pytest.approx(0.35), "behind the first: a slot later"
    assert budget.reserve(10.1, third) == pytest.approx(0.5)
    assert budget.reserve(10.2, third) > 0, "the slot is free, but two asked before"
    assert budget.reserve(10.2, second) > 0
    assert budget.reserve(10.2, first) == 0.0
    budget.forget(second)  # cancelled while waiting: it holds nobody back
    assert budget.reserve(10.4, third) == 0.0


def test_a_budget_below_its_ceiling_grows_to_what_declared_callers_need_or_else_to_the_ceiling() -> None:
    budget = RequestBudget(30.0, start=5.0)
    budget.need("poller", 20.0, until=100.0)
    saturate(budget, 10.0, 1.0)
    assert 8.0 < budget.rate < 12.0, "doubling in a second before any 429"
    saturate(budget, 11.0, 5.0)
    assert budget.rate == 20.0, "it stops at what its callers need"
    budget.need("another poller", 30.0, until=100.0)
    saturate(budget, 16.0, 5.0)
    assert budget.rate == budget.top, "needs add up, up to the ceiling (less its headroom)"
    plain = RequestBudget(10.0, start=1.0)  # a worker's hook: callers waiting in its queue
    saturate(plain, 0.0, 6.0)
    assert plain.rate == plain.top <= 10.0, "undeclared callers that wait make it grow to the ceiling"
    saturate(plain, 10.0, 30.0)
    assert plain.rate <= plain.ceiling, "never above it"


def test_a_429_halves_the_rate_once_per_burst_and_pauses_everyone_for_retry_after() -> None:
    budget = RequestBudget(30.0)
    budget.need("poller", 1000.0, until=1e9)
    budget.rate = 20.0
    budget.refused(50.0, retry_after=3.0)
    assert budget.rate == 10.0 and budget.refused_at == 20.0
    budget.refused(50.1, retry_after=3.0)
    budget.refused(50.5, retry_after=None)
    assert budget.rate == 10.0, "429s answering requests sent before the cut do not cut again"
    assert budget.throttled == 3
    assert budget.reserve(51.0) == pytest.approx(2.1), "nobody sends before Retry-After has passed"
    budget.refused(54.0, retry_after=None)  # a later 429 without Retry-After: the gateway's 2 s
    assert budget.rate == 5.0
    assert budget.reserve(55.0) == pytest.approx(1.0)
    for _ in range(20):
        budget.refused(budget._hold_until, retry_after=0.0)
    assert budget.rate == core.BUDGET_MIN_RATE, "never stopped altogether"


def test_after_a_429_it_grows_back_probes_the_refused_rate_slowly_never_past_the_ceiling() -> None:
    budget = RequestBudget(30.0)
    budget.rate = 20.0
    budget.refused(0.0, retry_after=1.0)  # 20 refused: down to 10
    saturate(budget, 2.0, 4.0)
    assert budget.rate == pytest.approx(10.0 + 4 * core.BUDGET_INCREASE, abs=0.3), "additive now"
    saturate(budget, 6.0, 12.0)
    safe = 20.0 * core.BUDGET_SAFE_SHARE
    assert budget.rate == pytest.approx(safe, abs=0.3), "up to a safe share of the refused rate quickly"
    saturate(budget, 18.0, 5.0)
    assert safe < budget.rate <= safe + 0.3 + 5 * 20 * core.BUDGET_PROBE, "beyond it, slowly"
    saturate(budget, 30.0, 600.0)
    assert budget.rate == budget.top < budget.ceiling, "back to the ceiling in time, never above it"


# --- on the wire -------------------------------------------------------------------------------------


def test_a_round_of_many_pages_runs_at_the_ceiling_without_a_429(
    emulator: DataArtsEmulator,
) -> None:
    emulator.set_limits(quality=(120, 10.0))  # a gateway at 12 a second for quality
    started = now_ms()
    waiting = []
    for _ in range(16):  # a waiter on each of 16 pages
        waiting.append(start(emulator))
        noise(emulator, 99)
    cfg = config(emulator, rate_limits={"quality": 12})

    async def rounds() -> tuple[float, int]:
        poller = shared_poller(cfg, 0.5)
        for _ in range(3):
            answers = await asyncio.gather(*(poller.poll(Wanted(i, started)) for i in waiting))
            assert [a.instance["id"] for a in answers] == waiting
        budget = shared_budget(cfg)
        return budget.rate, budget.throttled

    rate, throttled = asyncio.run(rounds())
    assert rate == pytest.approx(120 / (10 + core.BUDGET_MARGIN)), (
        f"16 pages need 64 a second: at its bound, not {rate}"
    )
    assert throttled == 0
    assert all(r["status"] == 200 for r in list_reads(emulator))


def test_a_429_cuts_the_budget_and_its_retry_after_holds_every_request_back(
    emulator: DataArtsEmulator,
) -> None:
    emulator.inject("status", status=429, retry_after=1.5, count=1, path=LIST)
    cfg = config(emulator)

    async def calls() -> RequestBudget:
        transport = AsyncTransport(cfg, logging.getLogger("test"))
        first = asyncio.create_task(transport.call(instances_request(PROJECT, 0)))
        await asyncio.sleep(0.3)  # the 429 has come back; another caller of the connection comes
        await transport.call(instances_request(PROJECT, 100))
        await first
        return shared_budget(cfg)

    budget = asyncio.run(calls())
    reads = list_reads(emulator)
    assert [r["status"] for r in reads] == [429, 200, 200]
    assert all(r["time"] - reads[0]["time"] >= 1.45 for r in reads[1:]), "both waited out Retry-After"
    assert budget.refused_at == budget.top, "the 429 cut the rate it was sent at"
    assert budget.rate < budget.top


def two_triggerers(
    emulator: DataArtsEmulator, limit: int, each: float, run_for: float, window: float = 10.0
) -> tuple[list[dict[str, Any]], list[RequestBudget], list[BaseException]]:
    """
    Two event loops in two threads, each with its own budgets (two triggerer processes) on one user,
    behind a quality limit of ``limit`` a second counted over ``window`` (DataArts documents 10 s).
    """
    emulator.set_limits(quality=(int(limit * window), window))
    started = now_ms()
    oldest = start(emulator)
    noise(emulator, 1000)  # 11 pages a round each: 44 a second each would read them in 0.25 s
    cfg = config(emulator, rate_limits={"quality": each})
    budgets: list[RequestBudget] = []
    errors: list[BaseException] = []
    stop_at = time.time() + run_for

    def triggerer() -> None:
        core.budget_scope(core.BudgetRegistry())  # a process of its own

        async def wait() -> None:
            poller = shared_poller(cfg, 0.5)
            budgets.append(shared_budget(cfg))
            while time.time() < stop_at:
                try:
                    await poller.poll(Wanted(oldest, started))
                except DataArtsAPIError as error:  # retries ran out while throttled: the trigger waits on
                    errors.append(error)

        asyncio.run(wait())

    threads = [threading.Thread(target=triggerer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(run_for + 60)
    assert len(budgets) == 2 and budgets[0] is not budgets[1]
    return list_reads(emulator), budgets, errors


def test_two_triggerers_each_at_half_the_ceiling_meet_no_429(emulator: DataArtsEmulator) -> None:
    reads, _, errors = two_triggerers(emulator, limit=6, each=3, run_for=8.0)
    assert [r for r in reads if r["status"] == 429] == []
    assert sum(r["status"] == 200 for r in reads) >= 6 * 8 * 0.5, "both kept polling"
    assert not errors


def test_two_triggerers_each_at_the_whole_ceiling_settle_under_the_gateway_limit_together(
    emulator: DataArtsEmulator,
) -> None:
    run_for = 16.0
    reads, budgets, errors = two_triggerers(emulator, limit=6, each=6, run_for=run_for, window=1.0)
    limit = 6
    began = reads[0]["time"]
    early = [r for r in reads if r["time"] < began + run_for / 2]
    late = [r for r in reads if r["time"] >= began + run_for / 2]
    throttled_early = sum(r["status"] == 429 for r in early)
    throttled_late = sum(r["status"] == 429 for r in late)
    accepted_late = sum(r["status"] == 200 for r in late)
    rates = [round(b.rate, 2) for b in budgets]
    print(f"429s {throttled_early} then {throttled_late}; {accepted_late} accepted late; rates {rates}")
    assert throttled_early > 0, "the budgets started too high to meet the limit: nothing was tested"
    # Settled: at most a 429 or two per budget in the second half (each probes up again slowly). On
    # a quiet machine both cut at once and meet none later (4 then 0); on a loaded one their cuts
    # fell out of step and the second half had 3 (3 then 3, rates 4.3 and 1.05 summing under 6).
    assert throttled_late <= 2 * len(budgets), f"{throttled_late} 429s late: they did not settle"
    assert sum(b.rate for b in budgets) <= limit * 1.1, "together under the gateway's limit"
    assert accepted_late >= limit * (run_for / 2) * 0.3, "they settled by all but stopping"
    assert not errors


def test_a_failed_page_reaches_only_its_own_waiters_and_pages_answer_as_they_arrive(
    emulator: DataArtsEmulator,
) -> None:
    started = now_ms()
    ids = []
    for _ in range(4):  # one waiter at the head of each page, newest first: offsets 300, 200, 100, 0
        noise(emulator, 99)
        ids.append(start(emulator))
    ids.reverse()  # ids[k] is on page k
    emulator.inject("delay", delay=3.0, path=LIST, query="offset=100")
    emulator.inject("status", status=500, count=10, path=LIST, query="offset=200")
    cfg = config(emulator, max_retries=1)
    order: list[str] = []

    async def one_round() -> list[RoundAnswer | BaseException]:
        poller = shared_poller(cfg, 0.05)
        tasks = [asyncio.create_task(poller.poll(Wanted(i, started))) for i in ids]
        for instance_id, task in zip(ids, tasks, strict=True):
            task.add_done_callback(lambda _, i=instance_id: order.append(i))
        return await asyncio.gather(*tasks, return_exceptions=True)

    answers = asyncio.run(asyncio.wait_for(one_round(), 60))
    assert [type(a).__name__ for a in answers] == [
        "RoundAnswer",
        "RoundAnswer",
        "DataArtsAPIError",
        "RoundAnswer",
    ]
    assert [a.instance["id"] for a in answers if isinstance(a, RoundAnswer)] == [ids[0], ids[1], ids[3]]
    assert isinstance(answers[2], DataArtsAPIError) and answers[2].status_code == 500
    assert order.index(ids[3]) < order.index(ids[1]), "page 3 answered before the slow page 1 came back"
    offsets = [r["query"]["offset"][0] for r in list_reads(emulator)]
    assert sorted(set(offsets)) == ["0", "100", "200", "300"], "the window, not a lookup per waiter"
    assert offsets.count("200") == 2, "the failed page alone was tried again (max_retries 1)"


def test_a_known_start_reads_fewer_pages_with_the_same_answers(emulator: DataArtsEmulator) -> None:
    """A waiter's hint may be far older than its instance: once listed, its own start bounds the window."""
    noise(emulator, 250)  # older than the waiters: outside their instances' own window
    waiting = [start(emulator) for _ in range(3)]
    noise(emulator, 150)  # newer: the waiters are on the third page of the window
    far_back = [Wanted(i, 1) for i in waiting]

    async def two_rounds(interval: float) -> tuple[list[Any], list[Any], int, int]:
        poller = shared_poller(config(emulator), interval)
        before = len(list_reads(emulator))
        first = await asyncio.gather(*(poller.poll(w) for w in far_back))
        middle = len(list_reads(emulator))
        second = await asyncio.gather(*(poller.poll(w) for w in far_back))
        return first, second, middle - before, len(list_reads(emulator)) - middle

    first, second, first_cost, second_cost = asyncio.run(two_rounds(0.05))
    # A fresh poller in a new loop knows nothing: what the hints alone give.
    fresh, _, fresh_cost, _ = asyncio.run(two_rounds(0.06))

    def seen(answers: list[Any]) -> list[tuple[str, str]]:
        return [(a.instance["id"], a.instance["run_status"]) for a in answers]

    assert seen(first) == seen(second) == seen(fresh) == [(i, "RUNNING") for i in waiting]
    assert second_cost < first_cost, f"{second_cost} requests, not fewer than {first_cost}"
    assert second_cost <= 2, "the window from the waiters' own start: 150 newer ones, two pages"
    assert fresh_cost == first_cost


def test_the_poller_says_when_the_budget_sets_the_pace_once_then_at_most_once_a_minute(
    emulator: DataArtsEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    started = now_ms()
    waiting = [start(emulator) for _ in range(2)]
    cfg = config(emulator, rate_limits={"quality": 2})  # 1.98 a second: rounds of 0.1 s stretch to 0.505 s

    async def rounds() -> None:
        poller = shared_poller(cfg, 0.1)
        for _ in range(4):
            await asyncio.gather(*(poller.poll(Wanted(i, started)) for i in waiting))
        assert poller.effective_interval == pytest.approx((10 + core.BUDGET_MARGIN) / 20)

    with caplog.at_level(logging.WARNING, logger="airflow_provider_dataarts.triggers.shared_poll"):
        asyncio.run(rounds())
    paced = [r for r in caplog.records if "sets the pace" in r.getMessage()]
    assert len(paced) == 1, [r.getMessage() for r in paced]
    assert "polling every 0.505 s instead of 0.1 s" in paced[0].getMessage()


def test_a_round_longer_than_its_interval_stretches_the_next_by_its_own_requests_only(
    emulator: DataArtsEmulator,
) -> None:
    """Rounds overlap when one outlasts the interval: neither may count the other's pages as its own."""
    emulator.set_limits(enabled=False)
    started = now_ms()
    oldest = start(emulator)  # on the last page, newest first
    noise(emulator, 500)
    newest = start(emulator)  # on the sixth page: polled again (6 pages) while the round still reads
    noise(emulator, 500)  # 11 pages a round
    cfg = config(emulator, rate_limits={"quality": 10})  # 9.9 a second: a round takes about 1.1 s
    # The last page of a few rounds answers late: those rounds outlast the interval.
    emulator.inject("delay", delay=2.5, path=LIST, query="offset=1000", count=3)
    stretched: list[float] = []

    async def rounds() -> None:
        poller = shared_poller(cfg, 0.5)

        async def keep(instance_id: str, times: int) -> None:
            for _ in range(times):
                await poller.poll(Wanted(instance_id, started))
                stretched.append(poller.effective_interval)

        await asyncio.gather(keep(newest, 8), keep(oldest, 3))

    asyncio.run(rounds())
    # A round's own requests: at most its 11 pages, and 11 more to look the oldest up on its own
    # when the window stops early (6 pages read, 5 left, 1 waiter missing): 2.2 s at 9.9 a second.
    own = 22 / (100 / (10 + core.BUDGET_MARGIN))
    assert max(stretched) <= own * 1.15, f"stretched to {stretched}: more than {own:.2f} s a round"
