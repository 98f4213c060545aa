"""DataArtsQualityInstanceTrigger: run() as async against the emulator, serialization, events."""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.hooks.dataarts import DataArtsHook
from airflow_provider_dataarts.triggers.quality import DataArtsQualityInstanceTrigger
from tests.triggers.airflow_side import task_state_after_kill

pytestmark = pytest.mark.filterwarnings("ignore")


async def events_of(trigger: Any, limit: float = 20) -> list[dict[str, Any]]:
    """Every event the trigger yields (it must stop by itself after the first)."""

    async def collect() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    return await asyncio.wait_for(collect(), limit)


def rerun(conn_id: str, emulator: DataArtsEmulator, job: str) -> tuple[str, int]:
    started = int(time.time() * 1000)
    return DataArtsHook(conn_id).rerun_quality_job(emulator.job_id(job)), started


def test_serialize_round_trip_is_json_safe() -> None:
    trigger = DataArtsQualityInstanceTrigger(
        instance_id="1012386207306600449",
        dataarts_conn_id="my_conn",
        poll_interval=5,
        end_time=1795000000.5,
        job_name="orders",
        task_type="QUALITY_TASK",
        started_after=1795000000000,
    )
    path, kwargs = trigger.serialize()
    assert path == "airflow_provider_dataarts.triggers.quality.DataArtsQualityInstanceTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs
    module, _, name = path.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    assert rebuilt.serialize() == (path, kwargs)


@pytest.mark.parametrize(
    ("job", "run_status"),
    [("orders_completeness", "SUCCESS"), ("orders_freshness", "ALARMING"), ("orders_broken", "FAILED")],
)
def test_one_success_event_when_the_instance_is_terminal(
    job: str, run_status: str, dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    instance_id, started = rerun(dataarts_conn, emulator, job)
    trigger = DataArtsQualityInstanceTrigger(
        instance_id=instance_id, poll_interval=0.1, job_name=job, started_after=started
    )
    (event,) = asyncio.run(events_of(trigger))
    assert event["status"] == "success"
    assert event["instance_id"] == instance_id
    assert event["run_status"] == run_status
    assert event["instance"]["id"] == instance_id
    assert run_status in event["message"]


def test_timeout_event_at_the_absolute_deadline(dataarts_conn: str, emulator: DataArtsEmulator) -> None:
    emulator.add_quality_job("slow_job", run_seconds=30)
    instance_id, started = rerun(dataarts_conn, emulator, "slow_job")
    deadline = time.time() + 0.8
    trigger = DataArtsQualityInstanceTrigger(
        instance_id=instance_id, poll_interval=0.2, end_time=deadline, started_after=started
    )
    (event,) = asyncio.run(events_of(trigger))
    assert event["status"] == "timeout"
    assert event["run_status"] == "RUNNING"
    assert abs(time.time() - deadline) < 0.5


def test_a_past_deadline_looks_once_then_times_out(dataarts_conn: str, emulator: DataArtsEmulator) -> None:
    """A trigger started after its deadline (the triggerer was down) looks once before it gives up."""
    trigger = DataArtsQualityInstanceTrigger(instance_id="1", poll_interval=0.5, end_time=time.time() - 1)
    (event,) = asyncio.run(events_of(trigger, limit=15))
    assert event["status"] == "timeout"
    assert emulator.count("GET", "/quality/instances") >= 1


def test_error_event_instead_of_an_exception(connect: Callable[..., str], emulator: DataArtsEmulator) -> None:
    instance_id, _ = rerun(connect("aksk"), emulator, "orders_completeness")
    emulator.inject("status", status=403, path="/quality/instances", count=5)
    trigger = DataArtsQualityInstanceTrigger(instance_id=instance_id, poll_interval=0.1)
    (event,) = asyncio.run(events_of(trigger))
    assert event["status"] == "error"
    assert event["instance_id"] == instance_id
    assert "403" in event["message"]


def test_missing_connection_is_an_error_event(emulator: DataArtsEmulator) -> None:
    trigger = DataArtsQualityInstanceTrigger(instance_id="1", dataarts_conn_id="no_such_connection")
    (event,) = asyncio.run(events_of(trigger, limit=10))
    assert event["status"] == "error"
    assert "no_such_connection" in event["message"]


def test_retries_inside_the_trigger_survive_faults(dataarts_conn: str, emulator: DataArtsEmulator) -> None:
    instance_id, started = rerun(dataarts_conn, emulator, "orders_completeness")
    for fault in ("html", "reset", "malformed_json"):
        emulator.inject(fault, path="/quality/instances", method="GET")
    emulator.inject("status", status=429, retry_after=0.1, path="/quality/instances", method="GET")
    trigger = DataArtsQualityInstanceTrigger(
        instance_id=instance_id, poll_interval=0.1, started_after=started
    )
    (event,) = asyncio.run(events_of(trigger))
    assert event["status"] == "success"
    assert event["run_status"] == "SUCCESS"


@pytest.mark.parametrize("auth_type", ["password", "token"])
def test_token_auth_modes(auth_type: str, connect: Callable[..., str], emulator: DataArtsEmulator) -> None:
    instance_id, started = rerun(connect(auth_type), emulator, "orders_completeness")
    emulator.expire_tokens()
    trigger = DataArtsQualityInstanceTrigger(
        instance_id=instance_id, poll_interval=0.1, started_after=started
    )
    (event,) = asyncio.run(events_of(trigger))
    assert event["run_status"] == "SUCCESS"
    if auth_type == "password":
        assert emulator.token_requests == 2, "renewed once after the token expired"


def test_triggers_in_one_loop_share_their_polls(dataarts_conn: str, emulator: DataArtsEmulator) -> None:
    """50 waiting triggers cost about one list request per interval, not 50."""
    hook = DataArtsHook(dataarts_conn)
    started = int(time.time() * 1000)
    ids = [hook.rerun_quality_job(emulator.job_id("orders_completeness")) for _ in range(50)]
    before = emulator.count("GET", "/quality/instances")

    async def all_events() -> list[list[dict[str, Any]]]:
        triggers = [
            DataArtsQualityInstanceTrigger(instance_id=i, poll_interval=0.25, started_after=started)
            for i in ids
        ]
        return await asyncio.gather(*(events_of(t) for t in triggers))

    began = time.monotonic()
    results = asyncio.run(all_events())
    rounds = (time.monotonic() - began) / 0.25 + 1
    assert [event["instance_id"] for (event,) in results] == ids
    assert all(event["run_status"] == "SUCCESS" for (event,) in results)
    polls = emulator.count("GET", "/quality/instances") - before
    assert polls <= rounds + 2, f"{polls} list requests in {rounds:.0f} intervals for 50 triggers"


@pytest.mark.parametrize("cancel_on_kill", [True, False])
def test_on_kill_stops_the_instance_only_for_the_task_that_started_it(
    cancel_on_kill: bool, dataarts_conn: str, emulator: DataArtsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rerun operator's trigger stops its instance (batch-stop) on a kill; a sensor's only watches."""
    emulator.add_quality_job("long_job", run_seconds=600)
    instance_id, started = rerun(dataarts_conn, emulator, "long_job")
    _, kwargs = DataArtsQualityInstanceTrigger(
        instance_id=instance_id, poll_interval=0.1, started_after=started, cancel_on_kill=cancel_on_kill
    ).serialize()
    trigger = DataArtsQualityInstanceTrigger(**json.loads(json.dumps(kwargs)))
    task_state_after_kill(trigger, monkeypatch)  # a user cleared the task

    async def run_then_kill() -> None:
        task = asyncio.create_task(events_of(trigger))
        await asyncio.sleep(0.3)
        task.cancel()  # what the triggerer does to a trigger whose task a user killed
        await trigger.on_kill()

    asyncio.run(run_then_kill())
    (stop,) = [r for r in emulator.requests if r["path"].endswith("/batch-stop")] or [None]
    if cancel_on_kill:
        assert stop is not None and stop["body"] == [int(instance_id)], "ids go as exact JSON numbers"
        assert emulator.instance(instance_id)["stopped"] is True
    else:
        assert stop is None
        assert emulator.instance(instance_id)["run_status"] == "RUNNING"


def test_a_connection_without_workspace_is_an_error_before_any_request(
    connect: Callable[..., str], emulator: DataArtsEmulator
) -> None:
    """The same check as the hook's: no request, an error event naming the setting."""
    connect("aksk", workspace="")
    trigger = DataArtsQualityInstanceTrigger(instance_id="1012386207306600449", poll_interval=0.1)
    (event,) = asyncio.run(events_of(trigger))
    assert event["status"] == "error"
    assert "extra.workspace" in event["message"]
    assert emulator.requests == []


def test_a_wrong_started_after_hint_does_not_hide_the_instance(
    connect: Callable[..., str], emulator: DataArtsEmulator
) -> None:
    """
    A sensor with ``started_after="{{ dag_run.start_date }}"`` cleared in a finished run gets a
    start date later than the instance's: the trigger finds it as poke mode does, without the hint.
    """
    conn_id = connect(not_listed_grace=1)
    instance_id, started = rerun(conn_id, emulator, "orders_completeness")
    trigger = DataArtsQualityInstanceTrigger(
        instance_id=instance_id,
        dataarts_conn_id=conn_id,
        poll_interval=0.2,
        started_after=started + 3_600_000,  # the DAG run's start date, reset by the clear an hour later
    )
    (event,) = asyncio.run(events_of(trigger))
    assert event["status"] == "success", event
    assert event["run_status"] == "SUCCESS"


@pytest.mark.first_event_delay
def test_no_event_leaves_sooner_than_the_first_event_delay(
    dataarts_conn: str, emulator: DataArtsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Airflow race the delay avoids is in the scheduler; here: the event is held, then sent."""
    monkeypatch.setattr("airflow_provider_dataarts.triggers.base.FIRST_EVENT_DELAY", 1.5)
    instance_id, started = rerun(dataarts_conn, emulator, "orders_completeness")
    trigger = DataArtsQualityInstanceTrigger(
        instance_id=instance_id, poll_interval=0.05, started_after=started
    )
    began = time.monotonic()
    (event,) = asyncio.run(events_of(trigger))
    assert event["status"] == "success"
    assert time.monotonic() - began >= 1.5
