"""The shared poller against the emulator: its transport and key, its cost, its request budget."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_dataarts.client.aio import AsyncTransport
from airflow_provider_dataarts.client.config import DataArtsConfig
from airflow_provider_dataarts.client.operations import instances_request
from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.hooks.dataarts import DataArtsHook
from airflow_provider_dataarts.triggers import shared_poll
from airflow_provider_dataarts.triggers.quality import DataArtsQualityInstanceTrigger
from airflow_provider_dataarts.triggers.shared_poll import Wanted, shared_poller
from tests.support import AK, PROJECT, SK, WORKSPACE

pytestmark = pytest.mark.filterwarnings("ignore")
LIST = "/quality/instances"


def config(emulator: DataArtsEmulator, **changes: Any) -> DataArtsConfig:
    extra = {"project_id": PROJECT, "workspace": WORKSPACE, "retry_wait": 0.05, **changes}
    return DataArtsConfig.from_connection(conn_id="t", host=emulator.url, login=AK, password=SK, extra=extra)


def now_ms() -> int:
    return int(time.time() * 1000)


def rerun(emulator: DataArtsEmulator, job: str = "orders_freshness") -> str:
    return emulator.state.rerun(emulator.job_id(job), 1).id.__str__()


def noise(emulator: DataArtsEmulator, count: int) -> None:
    """Another job's instances, still running for the whole test."""
    emulator.add_quality_job("other_teams_job", sub_rules=1)
    emulator.state.add_running_instances("other_teams_job", count, 300, 400)
    time.sleep(0.01)


async def one_round(cfg: DataArtsConfig, interval: float, *wanted: Wanted) -> list[Any]:
    poller = shared_poller(cfg, interval)
    return await asyncio.gather(*(poller.poll(w) for w in wanted))


# --- transport, key, eviction ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [{"timeout": 5}, {"max_retries": 1}, {"verify": False}, {"workspace": "w2"}, {"auth_type": "token"}],
)
def test_a_poller_is_shared_only_by_identical_settings(
    change: dict[str, Any], emulator: DataArtsEmulator
) -> None:
    async def check() -> None:
        base = config(emulator)
        same = config(emulator)
        other = dataclasses.replace(base, **change)
        poller = shared_poller(base, 1.0)
        assert shared_poller(same, 1.0) is poller
        assert shared_poller(other, 1.0) is not poller
        assert shared_poller(base, 2.0) is not poller, "the interval is part of the key"
        assert shared_poller(other, 1.0).transport.config == other, "each serves with its own settings"

    asyncio.run(check())


def test_a_poller_is_dropped_when_nothing_waits_on_it(emulator: DataArtsEmulator) -> None:
    instance_id = rerun(emulator)

    async def check() -> None:
        cfg = config(emulator)
        poller = shared_poller(cfg, 0.05)
        (answer,) = await one_round(cfg, 0.05, Wanted(instance_id, now_ms() - 1000, "orders_freshness"))
        assert answer.instance["id"] == instance_id
        await asyncio.sleep(poller.effective_interval + 0.2)  # it lingers one (budget-stretched) interval
        assert shared_poll._POLLERS[asyncio.get_running_loop()] == {}
        assert shared_poller(cfg, 0.05) is not poller

    asyncio.run(check())


def test_the_key_never_holds_a_secret(emulator: DataArtsEmulator) -> None:
    key = shared_poll.poller_key(config(emulator), 1.0)
    assert SK not in repr(key) and AK not in repr(key)


# --- cost ------------------------------------------------------------------------------------------


def test_an_unhinted_waiter_costs_one_narrow_lookup(emulator: DataArtsEmulator) -> None:
    noise(emulator, 300)
    instance_id = rerun(emulator)
    before = emulator.count("GET", LIST)
    (answer,) = asyncio.run(one_round(config(emulator), 0.05, Wanted(instance_id, name="orders_freshness")))
    assert answer.instance["id"] == instance_id
    assert emulator.count("GET", LIST) - before == 1


def test_a_round_reads_only_the_window_of_its_waiters(emulator: DataArtsEmulator) -> None:
    noise(emulator, 300)  # older than every waiter: outside the window
    started = now_ms()
    ids = [rerun(emulator) for _ in range(3)]
    before = emulator.count("GET", LIST)
    answers = asyncio.run(one_round(config(emulator), 0.05, *(Wanted(i, started) for i in ids)))
    assert [a.instance["id"] for a in answers] == ids
    assert emulator.count("GET", LIST) - before == 1


def test_a_far_back_waiter_is_looked_up_alone_not_through_every_page(emulator: DataArtsEmulator) -> None:
    old_start = now_ms()
    old = rerun(emulator, "orders_completeness")
    noise(emulator, 300)
    started = now_ms()
    recent = [rerun(emulator) for _ in range(2)]
    before = emulator.count("GET", LIST)
    wanted = [Wanted(old, old_start, "orders_completeness"), *(Wanted(i, started) for i in recent)]
    answers = asyncio.run(one_round(config(emulator), 0.05, *wanted))
    assert [a.instance["id"] for a in answers] == [old, *recent]
    sent = emulator.count("GET", LIST) - before
    assert sent <= 3, f"{sent} requests: more than one per waiter (the per-trigger baseline)"


def test_an_instance_not_in_its_window_is_reported_not_listed(emulator: DataArtsEmulator) -> None:
    started = now_ms()
    ids = [rerun(emulator) for _ in range(2)]
    answers = asyncio.run(one_round(config(emulator), 0.05, *(Wanted(i, started) for i in [*ids, "1"])))
    assert [a.instance is None for a in answers] == [False, False, True]


# --- budget ----------------------------------------------------------------------------------------


def test_the_poller_stretches_its_interval_to_its_budget_and_says_so_once(
    connect: Callable[..., str],
    emulator: DataArtsEmulator,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    conn_id = connect(max_requests_per_minute=60)  # one round a second, at one page a round
    started = now_ms()
    hook = DataArtsHook(conn_id)
    ids = [hook.rerun_quality_job(emulator.job_id("orders_completeness")) for _ in range(2)]
    before = emulator.count("GET", LIST)

    async def both() -> list[Any]:
        return await asyncio.gather(
            *(
                _events(
                    DataArtsQualityInstanceTrigger(instance_id=i, poll_interval=0.1, started_after=started)
                )
                for i in ids
            )
        )

    began = time.time()
    with caplog.at_level(logging.INFO):
        results = asyncio.run(both())
    took = time.time() - began
    assert [events[0]["run_status"] for events in results] == ["SUCCESS", "SUCCESS"]
    sent = emulator.count("GET", LIST) - before
    # Unstretched, a round every 0.1 s: over ten requests a second.
    assert sent <= took + 2, f"{sent} requests in {took:.1f} s: the interval was not stretched"
    assert sent >= 1
    logs = caplog.text + capsys.readouterr().out
    assert logs.count("polling every 1 s, not 0.1 s") == 2, "once in each waiting task's log"


def test_a_429_slows_every_request_of_the_connection(emulator: DataArtsEmulator) -> None:
    emulator.inject("status", status=429, retry_after=0.6, count=1, path=LIST)
    cfg = config(emulator)

    async def two_calls() -> None:
        transport = AsyncTransport(cfg, logging.getLogger("test"))
        first = asyncio.create_task(transport.call(instances_request(PROJECT, 0)))
        await asyncio.sleep(0.2)  # the 429 has arrived; another caller of the connection comes
        await AsyncTransport(cfg, logging.getLogger("test")).call(instances_request(PROJECT, 0))
        await first

    asyncio.run(two_calls())
    times = [r["time"] for r in emulator.requests if LIST in r["path"]]
    assert len(times) == 3
    assert times[1] - times[0] >= 0.55 and times[2] - times[0] >= 0.55, "both waited out Retry-After"


async def _events(trigger: Any) -> list[dict[str, Any]]:
    async def collect() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    return await asyncio.wait_for(collect(), 20)


def test_triggers_starting_together_read_their_connection_once(connect: Callable[..., str]) -> None:
    from airflow_provider_dataarts.triggers.base import load_config

    async def check() -> None:
        with pytest.raises(Exception, match="dataarts_later"):
            await load_config("dataarts_later")
        connect(conn_id="dataarts_later")  # a failure is not kept: it is read again
        configs = await asyncio.gather(*(load_config("dataarts_later") for _ in range(100)))
        assert all(config is configs[0] for config in configs)
        assert configs[0].project_id == PROJECT

    asyncio.run(check())
