"""DataArtsJobInstanceTrigger against the emulator: events, the shared job listing, plan-time waits, kills."""

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
from airflow_provider_dataarts.triggers.job import DataArtsJobInstanceTrigger
from tests.triggers.airflow_side import task_state_after_kill
from tests.triggers.test_quality import events_of

pytestmark = pytest.mark.filterwarnings("ignore")

NODES = [
    {"name": "extract", "type": "CDMJob", "seconds": 0.2},
    {"name": "load", "type": "DWSSQL", "seconds": 0.2},
]


def run(conn_id: str, job: str) -> tuple[str, int]:
    started = int(time.time() * 1000)
    return DataArtsHook(conn_id).run_job(job), started


def test_serialize_round_trip_is_json_safe() -> None:
    trigger = DataArtsJobInstanceTrigger(
        job_name="daily_orders",
        instance_id="1012386207306600449",
        planned_after=1795000000000,
        dataarts_conn_id="my_conn",
        poll_interval=5,
        end_time=1795000000.5,
        cancel_on_kill=True,
    )
    path, kwargs = trigger.serialize()
    assert path == "airflow_provider_dataarts.triggers.job.DataArtsJobInstanceTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs
    module, _, name = path.rpartition(".")
    assert getattr(importlib.import_module(module), name)(**kwargs).serialize() == (path, kwargs)
    with pytest.raises(ValueError, match="instance_id or a plan_time"):
        DataArtsJobInstanceTrigger(job_name="daily_orders")


@pytest.mark.parametrize(("outcome", "status"), [("success", "success"), ("fail_at:2", "fail")])
def test_one_success_event_with_every_node_when_terminal(
    outcome: str, status: str, dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    emulator.add_factory_job("fast_job", nodes=NODES, outcome=outcome)
    instance_id, started = run(dataarts_conn, "fast_job")
    trigger = DataArtsJobInstanceTrigger(
        job_name="fast_job", instance_id=instance_id, planned_after=started, poll_interval=0.1
    )
    (event,) = asyncio.run(events_of(trigger))
    assert event["status"] == "success"
    assert (event["instance_id"], event["job_name"], event["job_status"]) == (instance_id, "fast_job", status)
    assert event["instance"]["instanceId"] == instance_id
    # A wait alone is looked up by id (the detail call): its event has the nodes already.
    assert [n["nodeName"] for n in event["instance"]["nodes"]] == ["extract", "load"]


def test_waits_for_a_scheduled_instance_that_appears_later(
    dataarts_conn: str, emulator: DataArtsEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.add_factory_job("nightly", nodes=NODES)
    plan = int(time.time() * 1000) + 3_600_000
    trigger = DataArtsJobInstanceTrigger(job_name="nightly", plan_time=plan, poll_interval=0.1)

    async def appear_later() -> list[dict[str, Any]]:
        waiting = asyncio.create_task(events_of(trigger))
        await asyncio.sleep(0.5)
        assert not waiting.done()
        await asyncio.to_thread(emulator.schedule_job_instance, "nightly", plan)
        return await waiting

    (event,) = asyncio.run(appear_later())
    (instance,) = emulator.job_instances("nightly")
    assert event["status"] == "success" and event["job_status"] == "success"
    assert event["instance_id"] == instance["instanceId"]
    assert capsys.readouterr().out.count("no instance planned at") == 1, "said once"


def test_a_scheduled_instance_that_never_appears_times_out(
    dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    trigger = DataArtsJobInstanceTrigger(
        job_name="daily_orders", plan_time=1, poll_interval=0.1, end_time=time.time() + 0.6
    )
    (event,) = asyncio.run(events_of(trigger))
    assert event["status"] == "timeout"
    assert "no instance of job daily_orders planned at 1" in event["message"]
    assert event["instance_id"], "validate_event needs an id to name"


def test_triggers_of_many_jobs_share_one_listing(dataarts_conn: str, emulator: DataArtsEmulator) -> None:
    """40 runs of 4 jobs cost about one list request per interval, whatever their number."""
    hook = DataArtsHook(dataarts_conn)
    for number in range(4):
        emulator.add_factory_job(f"job_{number}", nodes=NODES)
    started = int(time.time() * 1000)
    runs = [(f"job_{n % 4}", hook.run_job(f"job_{n % 4}")) for n in range(40)]
    emulator.emulation.log.clear()

    async def all_events() -> list[list[dict[str, Any]]]:
        triggers = [
            DataArtsJobInstanceTrigger(job_name=job, instance_id=i, planned_after=started, poll_interval=0.25)
            for job, i in runs
        ]
        return await asyncio.gather(*(events_of(t) for t in triggers))

    began = time.monotonic()
    results = asyncio.run(all_events())
    rounds = (time.monotonic() - began) / 0.25 + 1
    assert [event["instance_id"] for (event,) in results] == [i for _, i in runs]
    lists = emulator.count("GET", "/jobs/instances/detail")
    details = emulator.count("GET") - lists
    assert lists <= rounds + 2, f"{lists} list requests in {rounds:.0f} intervals for 40 triggers"
    assert details == 0, "the nodes are the resumed task's to read"
    query = next(r["query"] for r in emulator.requests if r["path"].endswith("/instances/detail"))
    assert "jobName" not in query and query["limit"] == ["1000"], "one listing across jobs"


def test_a_failed_page_reaches_only_the_waiters_it_did_not_answer(
    dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    emulator.add_factory_job("bulk", nodes=NODES)
    created = emulator.state.factory.add_running_instances("bulk", 1500, 0.1, 0.2)
    time.sleep(0.3)
    newest, oldest = created[-1], created[0]  # newest first: page one and page two
    emulator.inject("status", status=403, path="/jobs/instances/detail", query="offset=1", count=100)

    async def both() -> list[list[dict[str, Any]]]:
        triggers = [
            DataArtsJobInstanceTrigger(
                job_name="bulk", instance_id=item["id"], planned_after=item["plan_time"], poll_interval=0.2
            )
            for item in (newest, oldest)
        ]
        return await asyncio.gather(*(events_of(t) for t in triggers))

    (first,), (second,) = asyncio.run(both())
    assert first["status"] == "success" and first["instance_id"] == newest["id"]
    assert second["status"] == "error" and "403" in second["message"]


def test_an_instance_the_list_does_not_show_yet_is_read_by_id_after_the_grace(
    connect: Callable[..., str], emulator: DataArtsEmulator
) -> None:
    conn_id = connect("aksk", not_listed_grace=0.5)
    emulator.add_factory_job("lagging", nodes=NODES, list_lag=3600)
    instance_id, started = run(conn_id, "lagging")
    trigger = DataArtsJobInstanceTrigger(
        job_name="lagging", instance_id=instance_id, planned_after=started, poll_interval=0.1
    )
    (event,) = asyncio.run(events_of(trigger))
    assert event["status"] == "success" and event["job_status"] == "success"


def test_a_person_waiting_status_is_said_once_and_keeps_waiting(
    dataarts_conn: str, emulator: DataArtsEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.add_factory_job("confirm_job", nodes=NODES)
    instance_id, started = run(dataarts_conn, "confirm_job")
    emulator.state.factory.set_status(instance_id, "waiting-confirm")
    trigger = DataArtsJobInstanceTrigger(
        job_name="confirm_job", instance_id=instance_id, planned_after=started, poll_interval=0.1
    )

    async def confirm_later() -> list[dict[str, Any]]:
        waiting = asyncio.create_task(events_of(trigger))
        await asyncio.sleep(0.8)
        assert not waiting.done()
        emulator.state.factory.set_status(instance_id, None)
        return await waiting

    (event,) = asyncio.run(confirm_later())
    assert event["job_status"] == "success"
    assert capsys.readouterr().out.count("waits on a person in DataArts") == 1


@pytest.mark.parametrize("cancel_on_kill", [True, False])
def test_on_kill_stops_the_instance_only_for_the_task_that_started_it(
    cancel_on_kill: bool, dataarts_conn: str, emulator: DataArtsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.add_factory_job("long_job", nodes=[{"name": "long", "seconds": 600}])
    instance_id, started = run(dataarts_conn, "long_job")
    trigger = DataArtsJobInstanceTrigger(
        job_name="long_job",
        instance_id=instance_id,
        planned_after=started,
        poll_interval=0.1,
        cancel_on_kill=cancel_on_kill,
    )
    task_state_after_kill(trigger, monkeypatch)  # a user cleared the task

    async def run_then_kill() -> None:
        task = asyncio.create_task(events_of(trigger))
        await asyncio.sleep(0.3)
        task.cancel()
        await trigger.on_kill()

    asyncio.run(run_then_kill())
    assert emulator.job_instance(instance_id)["stopped"] is cancel_on_kill
    assert emulator.job_instance(instance_id)["status"] == ("manual-stop" if cancel_on_kill else "running")
