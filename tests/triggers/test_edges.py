"""
The run triggers at the lifecycle's edges, against the emulator: a cancel that is not a user's
(another triggerer took the trigger over), a deadline that passed while the triggerer was down, an
``execution_timeout`` whose stop DataArts refuses, and a repaired job whose list still shows the
failed attempt.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.hooks.dataarts import DataArtsHook
from airflow_provider_dataarts.triggers.job import DataArtsJobInstanceTrigger
from tests.triggers.airflow_side import task_state_after_kill
from tests.triggers.test_quality import events_of

pytestmark = pytest.mark.filterwarnings("ignore")
LONG = [{"name": "long", "seconds": 600}]


@pytest.fixture
def comms(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    def install(trigger: Any, state: str | None, delay: float = 0.0) -> Any:
        return task_state_after_kill(trigger, monkeypatch, state, delay)

    return install


def started(conn_id: str, job: str) -> tuple[str, int]:
    at = int(time.time() * 1000)
    return DataArtsHook(conn_id).run_job(job), at


def trigger_for(instance_id: str, at: int, **kwargs: Any) -> DataArtsJobInstanceTrigger:
    return DataArtsJobInstanceTrigger(
        job_name="long_job",
        instance_id=instance_id,
        planned_after=at,
        poll_interval=0.1,
        cancel_on_kill=True,
        **kwargs,
    )


def cancelled(trigger: DataArtsJobInstanceTrigger) -> None:
    """The triggerer cancels the trigger "by user action" and calls its on_kill."""

    async def run_then_cancel() -> None:
        task = asyncio.create_task(events_of(trigger))
        await asyncio.sleep(0.3)
        task.cancel()
        await trigger.on_kill()

    asyncio.run(run_then_cancel())


@pytest.mark.parametrize(
    ("state", "stops"),
    [
        (None, True),  # a clear
        ("failed", True),  # mark failed
        ("success", True),  # mark success
        ("deferred", False),  # another triggerer took the trigger over
        ("scheduled", False),  # it fired on another triggerer: the task resumes
        ("queued", False),
        ("running", False),
    ],
)
def test_a_cancelled_trigger_stops_only_after_a_users_action(
    state: str | None,
    stops: bool,
    comms: Callable[..., Any],
    dataarts_conn: str,
    emulator: DataArtsEmulator,
) -> None:
    emulator.add_factory_job("long_job", nodes=LONG)
    instance_id, at = started(dataarts_conn, "long_job")
    trigger = trigger_for(instance_id, at)
    channel = comms(trigger, state)
    cancelled(trigger)
    assert channel.asked == 1
    assert emulator.job_instance(instance_id)["stopped"] is stops


def test_a_cancel_whose_state_cannot_be_read_stops_nothing(
    comms: Callable[..., Any],
    dataarts_conn: str,
    emulator: DataArtsEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("airflow_provider_dataarts.triggers.base.STATE_QUERY_TIMEOUT", 0.2)
    emulator.add_factory_job("long_job", nodes=LONG)
    instance_id, at = started(dataarts_conn, "long_job")
    trigger = trigger_for(instance_id, at)
    comms(trigger, None, delay=5)
    cancelled(trigger)
    assert not emulator.job_instance(instance_id)["stopped"]


@pytest.mark.parametrize("deadline", ["end_time", "stop_at"])
def test_a_trigger_started_after_its_deadline_reports_the_real_verdict(
    deadline: str, dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    emulator.add_factory_job("long_job", nodes=[{"name": "quick", "seconds": 0.2}], outcome="fail_at:1")
    instance_id, at = started(dataarts_conn, "long_job")
    time.sleep(0.5)
    (event,) = asyncio.run(events_of(trigger_for(instance_id, at, **{deadline: time.time() - 60})))
    assert event["status"] == "success"
    assert event["job_status"] == "fail"
    assert not emulator.job_instance(instance_id)["stopped"]


@pytest.mark.parametrize("refused", [False, True])
def test_an_execution_timeout_event_says_whether_the_stop_was_accepted(
    refused: bool, dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    emulator.add_factory_job("long_job", nodes=LONG)
    instance_id, at = started(dataarts_conn, "long_job")
    if refused:
        emulator.inject("status", status=503, count=50, method="POST", path="/stop")
    (event,) = asyncio.run(events_of(trigger_for(instance_id, at, stop_at=time.time() + 0.5)))
    assert event["status"] == "execution_timeout"
    assert event["stopped"] is not refused
    assert emulator.job_instance(instance_id)["stopped"] is not refused
    assert ("not accepted" in event["message"]) is refused
