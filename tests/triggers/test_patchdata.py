"""DataArtsPatchDataTrigger against the emulator (rebuilt from its serialized form): events, on_kill."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.emulator import patchdata as emulated
from airflow_provider_dataarts.hooks.dataarts import DataArtsHook
from airflow_provider_dataarts.triggers.job import DataArtsPatchDataTrigger
from tests.triggers.airflow_side import task_state_after_kill
from tests.triggers.test_script import events_of, rebuilt

pytestmark = pytest.mark.filterwarnings("ignore")


def create(emulator: DataArtsEmulator, conn_id: str, name: str, seconds: float) -> None:
    emulated.of(emulator.state.factory).list_lag = 0.2
    nodes = [{"name": "load", "type": "DWSSQL", "seconds": seconds}]
    emulator.add_factory_job("quick_hourly", schedule_seconds=3600, nodes=nodes)
    DataArtsHook(conn_id).create_patch_data(
        name, "quick_hourly", "2026-12-01T00:00:00Z", "2026-12-01T02:00:00Z", parallel=2
    )


def trigger(name: str, **options: Any) -> DataArtsPatchDataTrigger:
    return rebuilt(
        DataArtsPatchDataTrigger(
            instance_id=name, job_name="quick_hourly", submitted_at=int(time.time() * 1000),
            poll_interval=0.1, **options,
        )
    )  # fmt: skip


def test_one_event_when_the_run_ends_with_its_row(emulator: DataArtsEmulator, dataarts_conn: str) -> None:
    create(emulator, dataarts_conn, "trigger_patch", 0.1)
    (event,) = asyncio.run(events_of(trigger("trigger_patch")))
    assert (event["status"], event["instance_id"], event["patch_data_status"]) == (
        "success", "trigger_patch", "SUCCESS",
    )  # fmt: skip
    assert event["patch_data"]["job_list"] == ["quick_hourly"] and event["job_name"] == "quick_hourly"


def test_a_run_never_listed_ends_the_wait_after_the_grace(emulator: DataArtsEmulator, connect: Any) -> None:
    connect("aksk", not_listed_grace=0.5)
    (event,) = asyncio.run(events_of(trigger("never_made")))
    assert (event["status"], event["not_listed"]) == ("error", True)
    assert "not listed 0.5 s after its submission" in event["message"]


def test_a_users_kill_stops_the_run(
    emulator: DataArtsEmulator, dataarts_conn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    create(emulator, dataarts_conn, "killed_patch", 3600)
    time.sleep(0.4)  # listed
    killed = trigger("killed_patch", cancel_on_kill=True)
    task_state_after_kill(killed, monkeypatch)  # a user cleared the task
    asyncio.run(killed.on_kill())
    (run,) = emulated.of(emulator.state.factory).reports()
    assert run["status"] == "CANCEL"
