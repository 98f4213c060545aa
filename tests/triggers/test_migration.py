"""DataArtsMigrationJobTrigger against the emulator: events, shared history reads, first submission, kills."""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from typing import Any

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.emulator.migration import CLUSTER_ID
from airflow_provider_dataarts.hooks.dataarts import DataArtsHook
from airflow_provider_dataarts.triggers.migration import DataArtsMigrationJobTrigger
from tests.triggers.airflow_side import task_state_after_kill
from tests.triggers.test_quality import events_of

pytestmark = pytest.mark.filterwarnings("ignore")


def start(conn_id: str, job: str) -> str:
    return str(DataArtsHook(conn_id).start_migration_job(CLUSTER_ID, job)["submission-id"])


def test_serialize_round_trip_is_json_safe() -> None:
    trigger = DataArtsMigrationJobTrigger(
        cluster_id=CLUSTER_ID,
        job_name="orders_to_dws",
        submission_id="17",
        started_after=1795000000000,
        dataarts_conn_id="my_conn",
        poll_interval=5,
        end_time=1795000000.5,
        cancel_on_kill=True,
    )
    path, kwargs = trigger.serialize()
    assert path == "airflow_provider_dataarts.triggers.migration.DataArtsMigrationJobTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs
    module, _, name = path.rpartition(".")
    assert getattr(importlib.import_module(module), name)(**kwargs).serialize() == (path, kwargs)


@pytest.mark.parametrize("outcome", ["SUCCEEDED", "FAILED"])
def test_one_success_event_with_the_submission_when_terminal(
    outcome: str, dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    emulator.add_migration_job(
        "fast_job", boot_seconds=0.1, run_seconds=0.3, outcome=outcome, error_summary="boom"
    )
    submission_id = start(dataarts_conn, "fast_job")
    trigger = DataArtsMigrationJobTrigger(
        cluster_id=CLUSTER_ID, job_name="fast_job", submission_id=submission_id, poll_interval=0.1
    )
    (event,) = asyncio.run(events_of(trigger))
    assert (event["status"], event["instance_id"], event["migration_status"]) == (
        "success",
        submission_id,
        outcome,
    )
    assert event["submission"]["submission-id"] == submission_id and event["submission"]["status"] == outcome


def test_waits_on_many_jobs_read_each_history_once_a_round(
    dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    """12 waits (operators and sensors, by id and 'newest') on 3 jobs: at most 3 history reads a round."""
    for number in range(3):
        emulator.add_migration_job(f"job_{number}", boot_seconds=0.1, run_seconds=1.0)
    ids = {f"job_{n}": start(dataarts_conn, f"job_{n}") for n in range(3)}
    emulator.emulation.log.clear()

    async def all_events() -> list[list[dict[str, Any]]]:
        triggers = [
            DataArtsMigrationJobTrigger(
                cluster_id=CLUSTER_ID,
                job_name=f"job_{n % 3}",
                submission_id=ids[f"job_{n % 3}"] if n % 2 else "",
                poll_interval=0.25,
            )
            for n in range(12)
        ]
        return await asyncio.gather(*(events_of(t) for t in triggers))

    began = time.monotonic()
    results = asyncio.run(all_events())
    rounds = (time.monotonic() - began) / 0.25 + 1
    assert [event["instance_id"] for (event,) in results] == [ids[f"job_{n % 3}"] for n in range(12)]
    histories = emulator.count("GET", "/cdm/submissions")
    assert histories <= 3 * (rounds + 2), f"{histories} history reads in {rounds:.0f} intervals for 12 waits"
    assert emulator.count("GET") == histories, "nothing but the shared history reads"


def test_a_job_that_never_ran_is_waited_for_until_its_first_submission(
    dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    emulator.add_migration_job("later_job", boot_seconds=0.0, run_seconds=0.2)

    async def wait_then_start() -> list[dict[str, Any]]:
        trigger = DataArtsMigrationJobTrigger(cluster_id=CLUSTER_ID, job_name="later_job", poll_interval=0.1)
        waiting = asyncio.ensure_future(events_of(trigger))
        await asyncio.sleep(0.5)
        assert not waiting.done()
        await asyncio.to_thread(start, dataarts_conn, "later_job")
        return await waiting

    (event,) = asyncio.run(wait_then_start())
    (submission,) = emulator.migration_submissions("later_job")
    assert (
        event["instance_id"] == str(submission["submission-id"]) and event["migration_status"] == "SUCCEEDED"
    )


@pytest.mark.parametrize("cancel_on_kill", [True, False])
def test_on_kill_stops_the_submission_only_for_the_task_that_started_it(
    cancel_on_kill: bool, dataarts_conn: str, emulator: DataArtsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.add_migration_job("long_job", boot_seconds=0.1, run_seconds=60)
    submission_id = start(dataarts_conn, "long_job")
    trigger = DataArtsMigrationJobTrigger(
        cluster_id=CLUSTER_ID, job_name="long_job", submission_id=submission_id, cancel_on_kill=cancel_on_kill
    )
    task_state_after_kill(trigger, monkeypatch)  # a user cleared the task
    asyncio.run(trigger.on_kill())
    (submission,) = emulator.migration_submissions("long_job")
    assert submission["stopped"] is cancel_on_kill
    assert emulator.count("PUT", "/stop") == (1 if cancel_on_kill else 0)


def test_on_kill_never_stops_a_later_submission_of_another_task(
    dataarts_conn: str, emulator: DataArtsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.add_migration_job("shared_job", boot_seconds=0.0, run_seconds=0.1)
    ours = start(dataarts_conn, "shared_job")
    time.sleep(0.3)
    emulator.add_migration_job("shared_job", boot_seconds=0.0, run_seconds=60)
    start(dataarts_conn, "shared_job")  # another task's, running now
    trigger = DataArtsMigrationJobTrigger(
        cluster_id=CLUSTER_ID, job_name="shared_job", submission_id=ours, cancel_on_kill=True
    )
    task_state_after_kill(trigger, monkeypatch)  # a user cleared the task
    asyncio.run(trigger.on_kill())
    assert emulator.count("PUT", "/stop") == 0
    assert [s["stopped"] for s in emulator.migration_submissions("shared_job")] == [False, False]
