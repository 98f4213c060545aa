"""Deferred waits on a bad day at the gateway: outages, per-page failures, slow pages, permanent errors."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.exceptions import DataArtsConfigError
from airflow_provider_dataarts.hooks.dataarts import DataArtsHook
from airflow_provider_dataarts.triggers.quality import DataArtsQualityInstanceTrigger
from airflow_provider_dataarts.triggers.script import DataArtsScriptInstanceTrigger

pytestmark = pytest.mark.filterwarnings("ignore")
LIST = "/quality/instances"


async def events_of(trigger: Any, limit: float = 20) -> list[dict[str, Any]]:
    async def collect() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    return await asyncio.wait_for(collect(), limit)


def rerun(conn_id: str, emulator: DataArtsEmulator, job: str = "orders_completeness") -> tuple[str, int]:
    started = int(time.time() * 1000)
    return DataArtsHook(conn_id).rerun_quality_job(emulator.job_id(job)), started


def quality(
    instance_id: str, started: int | None, conn_id: str, **kwargs: Any
) -> DataArtsQualityInstanceTrigger:
    return DataArtsQualityInstanceTrigger(
        instance_id=instance_id, dataarts_conn_id=conn_id, poll_interval=0.1, started_after=started, **kwargs
    )


# --- outages ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", [{"kind": "status", "status": 503}, {"kind": "reset"}, {"kind": "html"}])
def test_a_quality_wait_outlives_an_outage_of_several_polls(
    fault: dict[str, Any],
    connect: Callable[..., str],
    emulator: DataArtsEmulator,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    conn_id = connect(max_retries=0)
    instance_id, started = rerun(conn_id, emulator)
    emulator.inject(**fault, count=5, path=LIST, method="GET")
    with caplog.at_level(logging.INFO):
        (event,) = asyncio.run(events_of(quality(instance_id, started, conn_id)))
    assert event["status"] == "success", event
    assert event["run_status"] == "SUCCESS"
    reads = [r["time"] for r in emulator.requests if r["method"] == "GET" and LIST in r["path"]]
    assert len(reads) >= 6, "every failed poll was a request of its own"
    gaps = [later - earlier for earlier, later in itertools.pairwise(reads[:6])]
    # The polls spread out while it fails: 0.2, 0.4, 0.8, 1.6 s after each (the interval is 0.1 s).
    assert gaps[3] >= 1.5 and gaps[3] > gaps[0] * 4, f"no backoff: {gaps}"
    logs = caplog.text + capsys.readouterr().out
    assert logs.count("DataArts unreachable (") == 1, "logged once per outage"
    assert "DataArts was unreachable for" in logs, "and its length when it ended"


def test_a_script_wait_outlives_an_outage(connect: Callable[..., str], emulator: DataArtsEmulator) -> None:
    conn_id = connect(max_retries=0)
    instance_id = DataArtsHook(conn_id).execute_script("daily_orders_sql")
    emulator.inject("status", status=502, count=6, path="/instances/", method="GET")
    trigger = DataArtsScriptInstanceTrigger(
        instance_id=instance_id, script_name="daily_orders_sql", dataarts_conn_id=conn_id, poll_interval=0.1
    )
    (event,) = asyncio.run(events_of(trigger))
    assert event["status"] == "success"
    assert event["script_status"] == "FINISHED"


@pytest.mark.parametrize("kind", ["quality", "script"])
def test_an_outage_longer_than_the_tolerance_ends_the_wait_saying_so(
    kind: str, connect: Callable[..., str], emulator: DataArtsEmulator
) -> None:
    conn_id = connect(max_retries=0, outage_tolerance=0.5)
    if kind == "quality":
        instance_id, started = rerun(conn_id, emulator)
        trigger: Any = quality(instance_id, started, conn_id)
    else:
        instance_id = DataArtsHook(conn_id).execute_script("daily_orders_sql")
        trigger = DataArtsScriptInstanceTrigger(
            instance_id=instance_id,
            script_name="daily_orders_sql",
            dataarts_conn_id=conn_id,
            poll_interval=0.1,
        )
    emulator.inject("status", status=503, count=10_000, method="GET")
    began = time.time()
    (event,) = asyncio.run(events_of(trigger))
    assert event["status"] == "error"
    assert "longer than the outage tolerance of 0.5 s" in event["message"]
    assert "503" in event["message"], "the last error is named"
    assert time.time() - began < 5


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (403, "APIG.0302", "The IAM user is not authorized to access the API."),
        (400, "DQC.0003", "limit must be between 1 and 100"),
        (401, "APIG.0301", "Incorrect IAM authentication information: AK/SK signature failed."),
    ],
)
def test_a_permanent_error_ends_the_wait_at_once_with_the_service_message(
    status: int, code: str, message: str, connect: Callable[..., str], emulator: DataArtsEmulator
) -> None:
    conn_id = connect()
    instance_id, started = rerun(conn_id, emulator)
    emulator.inject(
        "answer", status=status, body={"error_code": code, "error_msg": message}, count=100, path=LIST
    )
    began = time.time()
    (event,) = asyncio.run(events_of(quality(instance_id, started, conn_id)))
    assert event["status"] == "error"
    assert message in event["message"] and code in event["message"]
    assert time.time() - began < 2
    assert emulator.count("GET", LIST) == 1, "not retried"


def test_a_401_after_one_token_renewal_is_permanent(
    connect: Callable[..., str], emulator: DataArtsEmulator
) -> None:
    conn_id = connect("password")
    instance_id, started = rerun(conn_id, emulator)
    refused = {"error_code": "APIG.0307", "error_msg": "The token must be updated."}
    emulator.inject("answer", status=401, body=refused, count=100, path=LIST)
    (event,) = asyncio.run(events_of(quality(instance_id, started, conn_id)))
    assert event["status"] == "error"
    assert "APIG.0307" in event["message"]
    assert emulator.count("GET", LIST) == 2, "one renewal, then the error"


# --- shared rounds: isolation, slow pages, a bug in the round -------------------------------------


def many_waiting(emulator: DataArtsEmulator, conn_id: str, count: int) -> tuple[list[str], int]:
    """``count`` new instances (100 a page, newest first), finishing within a second."""
    started = int(time.time() * 1000) - 1000
    created = emulator.state.add_running_instances("orders_completeness", count, 0.3, 1.0)
    return [item["id"] for item in created], started


def test_a_failed_page_fails_only_the_waiters_it_could_not_answer(
    connect: Callable[..., str], emulator: DataArtsEmulator
) -> None:
    conn_id = connect(max_retries=0, outage_tolerance=60)
    ids, started = many_waiting(emulator, conn_id, 150)
    newest, oldest = ids[-1], ids[0]  # page 1 holds the newest, page 2 the oldest
    emulator.inject("status", status=500, count=4, path=LIST, query="offset=100")

    async def both() -> list[tuple[list[dict[str, Any]], float]]:
        async def timed(instance_id: str) -> tuple[list[dict[str, Any]], float]:
            events = await events_of(quality(instance_id, started, conn_id))
            return events, time.time()

        return await asyncio.gather(timed(newest), timed(oldest))

    began = time.time()
    (new_events, new_at), (old_events, old_at) = asyncio.run(both())
    assert [e["status"] for e in new_events + old_events] == ["success", "success"]
    assert new_events[0]["run_status"] == old_events[0]["run_status"] == "SUCCESS"
    assert new_at - began < 2.0, "the waiter found on page 1 did not wait for page 2 to recover"
    assert old_at > new_at


def test_a_slow_page_does_not_hold_up_waiters_already_found(
    connect: Callable[..., str], emulator: DataArtsEmulator
) -> None:
    conn_id = connect()
    ids, started = many_waiting(emulator, conn_id, 150)
    emulator.inject("delay", delay=1.5, count=100, path=LIST, query="offset=100")

    async def first_answer() -> float:
        began = time.time()
        await events_of(quality(ids[-1], started, conn_id))
        return time.time() - began

    async def both() -> tuple[float, list[dict[str, Any]]]:
        waiting_old = asyncio.create_task(events_of(quality(ids[0], started, conn_id)))
        return await first_answer(), await waiting_old

    new_took, old_events = asyncio.run(both())
    assert new_took < 1.4, f"the page-1 waiter took {new_took:.2f} s"
    assert old_events[0]["run_status"] == "SUCCESS"


def test_a_bug_in_a_round_reaches_its_waiters_instead_of_hanging_them(
    connect: Callable[..., str], emulator: DataArtsEmulator
) -> None:
    conn_id = connect()
    (first, second), started = many_waiting(emulator, conn_id, 2)
    # A page whose items are not objects: the round itself fails, not a request.
    emulator.inject("answer", body={"count": 2, "resources": [1, 2]}, count=100, path=LIST)

    async def both() -> list[list[dict[str, Any]]]:
        return await asyncio.gather(
            events_of(quality(first, started, conn_id), 5), events_of(quality(second, started, conn_id), 5)
        )

    results = asyncio.run(both())
    assert [events[0]["status"] for events in results] == ["error", "error"]


# --- parse-time validation -------------------------------------------------------------------------


@pytest.mark.parametrize("interval", [0, -1, 0.0, float("nan"), "soon"])
def test_a_non_positive_poll_interval_is_refused_naming_it(interval: Any) -> None:
    with pytest.raises(DataArtsConfigError, match="poll_interval"):
        DataArtsQualityInstanceTrigger(instance_id="1", poll_interval=interval)
    with pytest.raises(DataArtsConfigError, match="poll_interval"):
        DataArtsScriptInstanceTrigger(instance_id="1", script_name="s", poll_interval=interval)


@pytest.mark.parametrize("interval", [0, -5])
def test_a_non_positive_poke_interval_is_refused_naming_it(interval: float) -> None:
    from airflow_provider_dataarts.sensors.quality import DataArtsQualityInstanceSensor
    from airflow_provider_dataarts.sensors.script import DataArtsScriptInstanceSensor

    # Airflow refuses negative values itself (a ValueError); DataArtsConfigError is one too.
    with pytest.raises(ValueError, match="poke_interval"):
        DataArtsQualityInstanceSensor(task_id="wait", instance_id="1", poke_interval=interval)
    with pytest.raises(ValueError, match="poke_interval"):
        DataArtsScriptInstanceSensor(task_id="wait", instance_id="1", script_name="s", poke_interval=interval)
