"""
A worker-side wait (poke and reschedule sensors) spreads its polls while DataArts does not answer.

The outage is a minute of permanent 500s from the emulator; the sensor's clock (the provider's
modules' ``time``) is a fake one that only the waiting moves forward, so a minute of pokes takes
well under a second. The emulator's own per-family limits count real seconds: they are off here,
since a minute of requests arrives within that second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.hooks.dataarts import DataArtsHook
from airflow_provider_dataarts.sensors.quality import DataArtsQualityInstanceSensor
from airflow_provider_dataarts.waiting import TaskState

LIST = "/quality/instances"


class Clock:
    """``time`` as the provider's modules see it: real, except that it only moves when slept on."""

    def __init__(self) -> None:
        self.now = time.time()
        self._origin = time.monotonic()

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self._origin + (self.now - time.time())

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)

    def __getattr__(self, name: str) -> Any:  # strftime, gmtime, ...: the real ones
        return getattr(time, name)


class Store:
    """``task_state_store`` as a worker sees it: what a poke saves, the next poke (or try) reads."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value

    def delete(self, key: str) -> None:
        self.data.pop(key, None)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    from airflow_provider_dataarts import waiting
    from airflow_provider_dataarts.client import core, sync

    fake = Clock()
    for module in (waiting, core, sync):
        monkeypatch.setattr(module, "time", fake)
    return fake


@pytest.mark.parametrize("mode", ["poke", "reschedule"])
def test_a_poke_sensor_through_a_minute_of_outage_spreads_its_polls_and_resets_on_the_first_answer(
    mode: str,
    clock: Clock,
    emulator: DataArtsEmulator,
    connect: Callable[..., str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator.set_limits(enabled=False)
    conn_id = connect("aksk", max_retries=2)
    # A run that outlasts the test however slow the machine: the sensor only ever sees it RUNNING.
    emulator.add_quality_job("orders_freshness", run_seconds=3600)
    instance_id = DataArtsHook(conn_id).rerun_quality_job(emulator.job_id("orders_freshness"))
    emulator.inject("status", status=500, method="GET", path=LIST, count=10**6)
    before = emulator.count("GET", LIST)
    store = Store()
    context: dict[str, Any] = {"task_state_store": store, "ti": SimpleNamespace(max_tries=1)}

    def sensor() -> DataArtsQualityInstanceSensor:
        made = DataArtsQualityInstanceSensor(
            task_id="wait",
            instance_id=instance_id,
            job_name="orders_freshness",
            dataarts_conn_id=conn_id,
            poke_interval=1,
            timeout=3600,
            mode=mode,
        )
        made._state = TaskState(context, made.state_key, made.log)
        made._state.load()
        return made

    waiting = sensor()
    pokes = 0
    end = clock.now + 60
    while clock.now < end:
        if mode == "reschedule":  # each poke a new try of the task: only the store carries over
            waiting = sensor()
        assert waiting.poke(context) is False
        pokes += 1
        clock.sleep(1)  # poke_interval
    sent = emulator.count("GET", LIST) - before
    print(f"{mode}: {pokes} pokes, {sent} requests in a minute of outage")
    assert pokes >= 25, "the sensor kept poking at its interval"
    assert sent <= 30, f"{sent} requests in a minute of outage (3 a poke without the backoff)"
    assert "polling again in 2 s" in capsys.readouterr().out, "the backoff is logged (the task log)"
    assert store.data["dataarts_quality_wait"]["outage"]["failures"] >= 3

    emulator.clear_faults()  # DataArts answers again: the first answer resets the backoff
    answered_at = None
    for _ in range(120):
        if mode == "reschedule":
            waiting = sensor()
        waiting.poke(context)
        if emulator.requests[-1]["status"] == 200:
            answered_at = clock.now
            break
        clock.sleep(1)
    assert answered_at is not None and answered_at - end <= 61, "polled again within the longest backoff"
    assert not store.data["dataarts_quality_wait"].get("outage"), "the answer ended the outage"
    after = emulator.count("GET", LIST)
    for _ in range(3):
        clock.sleep(1)
        waiting.poke(context)
    assert emulator.count("GET", LIST) - after == 3, "back to one request a poke"
