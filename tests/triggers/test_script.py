"""DataArtsScriptInstanceTrigger: run() as async against the emulator, serialization, on_kill."""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from typing import Any

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.hooks.dataarts import DataArtsHook
from airflow_provider_dataarts.triggers.script import DataArtsScriptInstanceTrigger
from tests.triggers.airflow_side import task_state_after_kill

pytestmark = pytest.mark.filterwarnings("ignore")


async def events_of(trigger: Any, limit: float = 20) -> list[dict[str, Any]]:
    async def collect() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    return await asyncio.wait_for(collect(), limit)


def rebuilt(trigger: Any) -> Any:
    """The trigger as the triggerer runs it: rebuilt from its serialized, JSON-stored form."""
    path, kwargs = trigger.serialize()
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)(**json.loads(json.dumps(kwargs)))


def test_serialize_round_trip_is_json_safe() -> None:
    trigger = DataArtsScriptInstanceTrigger(
        instance_id="a1ad-448a", script_name="my script/中", poll_interval=3, end_time=1795000000.0
    )
    path, kwargs = trigger.serialize()
    assert path == "airflow_provider_dataarts.triggers.script.DataArtsScriptInstanceTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs
    module, _, name = path.rpartition(".")
    assert getattr(importlib.import_module(module), name)(**kwargs).serialize() == (path, kwargs)


@pytest.mark.parametrize(("script", "status"), [("daily_orders_sql", "FINISHED"), ("failing_sql", "FAILED")])
def test_one_event_when_the_script_ends(
    script: str, status: str, dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    instance_id = DataArtsHook(dataarts_conn).execute_script(script)
    trigger = DataArtsScriptInstanceTrigger(instance_id=instance_id, script_name=script, poll_interval=0.1)
    (event,) = asyncio.run(events_of(rebuilt(trigger)))
    assert event == {
        "status": "success",
        "instance_id": instance_id,
        "script_name": script,
        "script_status": status,
        "message": f"script {script} instance {instance_id} finished: {status}",
    }


def test_timeout_event(dataarts_conn: str, emulator: DataArtsEmulator) -> None:
    instance_id = DataArtsHook(dataarts_conn).execute_script("slow_script")
    trigger = DataArtsScriptInstanceTrigger(
        instance_id=instance_id, script_name="slow_script", poll_interval=0.2, end_time=time.time() + 0.7
    )
    (event,) = asyncio.run(events_of(trigger))
    assert event["status"] == "timeout"
    assert event["script_status"] in ("LAUNCHING", "RUNNING")


def test_unknown_instance_is_an_error_event(dataarts_conn: str, emulator: DataArtsEmulator) -> None:
    trigger = DataArtsScriptInstanceTrigger(
        instance_id="nope", script_name="daily_orders_sql", poll_interval=0.1
    )
    (event,) = asyncio.run(events_of(trigger))
    assert event["status"] == "error"
    assert "DLF.6205" in event["message"]


@pytest.mark.parametrize("cancel_on_kill", [True, False])
def test_on_kill_stops_the_script_instance_only_for_the_task_that_started_it(
    cancel_on_kill: bool, dataarts_conn: str, emulator: DataArtsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator's trigger stops its script when the task is killed; a sensor's only watches."""
    instance_id = DataArtsHook(dataarts_conn).execute_script("slow_script")
    trigger = DataArtsScriptInstanceTrigger(
        instance_id=instance_id, script_name="slow_script", poll_interval=0.1, cancel_on_kill=cancel_on_kill
    )
    trigger = rebuilt(trigger)
    task_state_after_kill(trigger, monkeypatch)  # a user cleared the task

    async def run_then_kill() -> None:
        task = asyncio.create_task(events_of(trigger))
        await asyncio.sleep(0.3)
        task.cancel()  # what the triggerer does to a trigger whose task a user killed
        await trigger.on_kill()

    asyncio.run(run_then_kill())
    assert emulator.count("POST", f"/instances/{instance_id}/stop") == int(cancel_on_kill)
    assert emulator.script_instance("slow_script", instance_id)["stopped"] is cancel_on_kill


def test_on_kill_gives_up_with_a_warning_when_the_stop_hangs(
    dataarts_conn: str,
    emulator: DataArtsEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("airflow_provider_dataarts.triggers.base.ON_KILL_TIMEOUT", 0.5)
    instance_id = DataArtsHook(dataarts_conn).execute_script("slow_script")
    emulator.inject("delay", method="POST", path="/stop", delay=3)
    trigger = DataArtsScriptInstanceTrigger(
        instance_id=instance_id, script_name="slow_script", cancel_on_kill=True
    )
    task_state_after_kill(trigger, monkeypatch)
    started = time.monotonic()
    asyncio.run(trigger.on_kill())
    assert time.monotonic() - started < 2
    out = capsys.readouterr()
    assert f"stop of script slow_script instance {instance_id} within 0.5 s" in out.out + out.err
