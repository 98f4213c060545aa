"""
Drills: a worker killed while waiting, a bad day at the gateway during a whole DAG run, answers
that are malformed or surprising. Each against the emulator over HTTP, with real processes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.exceptions import DataArtsAPIError
from airflow_provider_dataarts.hooks.dataarts import DataArtsHook
from airflow_provider_dataarts.triggers.quality import DataArtsQualityInstanceTrigger
from tests.integration.dagrun import load_dag, run_dag

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.filterwarnings("ignore")]


def airflow(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "airflow", *args], capture_output=True, text=True, timeout=300, **kwargs
    )


def test_a_killed_worker_is_retried_and_reconnects(emulator: DataArtsEmulator, dataarts_conn: str) -> None:
    """
    A worker process dies (SIGKILL) while it waits for the instance; the next try of the task
    instance, in a new process, reconnects to the running instance instead of rerunning the job.

    ``dag.test()`` replaces its DAG run (and so the task's state store), so this drill uses what a
    deployment uses: a DAG run in the database and ``airflow tasks test`` processes running its task.
    """
    emulator.add_quality_job("nightly_orders", run_seconds=30)
    assert airflow("dags", "reserialize").returncode == 0
    conf = '{"job_name": "nightly_orders", "rule_type": "quality"}'
    run_id = f"drill_{int(time.time())}"
    triggered = airflow(
        "dags", "trigger", "example_dataarts_quality_wait", "--run-id", run_id, "--conf", conf
    )
    assert triggered.returncode == 0, triggered.stderr
    task = ["tasks", "test", "example_dataarts_quality_wait", "rerun_and_wait", run_id]

    worker = subprocess.Popen(
        [sys.executable, "-m", "airflow", *task],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        # Waiting has begun once the worker polls after the rerun (the id is stored before polling).
        while emulator.count("GET", "/quality/instances") < 2:
            assert worker.poll() is None, "the worker ended before it was killed"
            assert time.monotonic() < deadline, "the worker never started waiting"
            time.sleep(0.2)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    (instance,) = [i for i in emulator.state.instances.values() if i.job.name == "nightly_orders"]
    assert emulator.count("POST", "/instances/restart") == 1
    assert instance.run_status(time.time()) == "RUNNING", "the instance still runs when the retry starts"

    retry = airflow(*task)
    assert retry.returncode == 0, retry.stdout[-3000:] + retry.stderr[-3000:]
    assert f"Reconnecting to DataArts quality instance {instance.id}" in retry.stdout + retry.stderr
    assert emulator.count("POST", "/instances/restart") == 1, "no second run of the job"
    assert instance.run_status(time.time()) == "SUCCESS"
    assert emulator.count("GET", f"/instances/{instance.id}/result") == 1


def test_a_whole_dag_run_survives_a_bad_day_at_the_gateway(
    emulator: DataArtsEmulator, connect: Callable[..., str]
) -> None:
    connect("password")
    emulator.inject("status", status=500, path="/quality/quality-tasks")
    emulator.inject("status", status=503, path="/instances/restart")  # the gateway refused: retried
    emulator.inject("status", status=502, method="GET", path="/quality/instances", count=2)
    emulator.inject("status", status=429, retry_after=0.3, method="GET", path="/quality/instances")
    emulator.inject("html", status=504, method="GET", path="/quality/instances")
    emulator.inject("reset", method="GET", path="/quality/instances")
    emulator.inject("expire_token", path="/result")
    emulator.inject("malformed_json", path="/result")
    emulator.inject("empty_body", path="/result")

    dag = load_dag("example_dataarts_quality")
    outcome = run_dag(dag, wait_for_quality_instance={"poke_interval": 0.2})

    assert outcome.states == dict.fromkeys(outcome.states, "success")
    assert emulator.count("POST", "/instances/restart") == 2
    assert len([i for i in emulator.state.instances.values() if i.start > time.time() - 120]) == 1
    assert outcome.xcom("report") == {"sub_rules": 3, "alarming": 0}
    assert emulator.token_requests == 2, "the expired token was renewed once"
    assert emulator.count() < 40, f"{emulator.count()} requests: retries must stay bounded"


async def first_event(trigger: Any) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise AssertionError("no event")

    return await asyncio.wait_for(run(), 20)


def overview(instance_id: str, **fields: Any) -> dict[str, Any]:
    return {"count": 1, "resources": [{"id": int(instance_id), "name": "orders_completeness", **fields}]}


@pytest.mark.parametrize(
    "surprise",
    [
        {"run_status": "PAUSED"},  # a status we do not know: keep waiting
        {},  # no run_status at all: keep waiting
    ],
    ids=["unknown-status", "missing-status"],
)
def test_surprising_statuses_mean_wait(
    surprise: dict[str, Any], dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    instance_id = DataArtsHook(dataarts_conn).rerun_quality_job(emulator.job_id("orders_completeness"))
    emulator.inject(
        "answer", body=overview(instance_id, **surprise), method="GET", path="/instances", count=3
    )
    trigger = DataArtsQualityInstanceTrigger(instance_id=instance_id, poll_interval=0.1)
    event = asyncio.run(first_event(trigger))
    assert event["status"] == "success"
    assert event["run_status"] == "SUCCESS"
    hook = DataArtsHook(dataarts_conn)
    emulator.inject("answer", body=overview(instance_id, **surprise), method="GET", path="/instances")
    assert hook.get_quality_instance(instance_id).get("run_status") == surprise.get("run_status")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"resources": "not a list"}, "'resources' is not a list"),
        (["a", "list"], "expected a JSON object"),
        ("just text", "expected a JSON object"),
    ],
)
def test_malformed_lists_are_clear_errors(
    body: Any, message: str, connect: Callable[..., str], emulator: DataArtsEmulator
) -> None:
    emulator.inject("answer", body=body, path="/quality/quality-tasks", count=10)
    with pytest.raises(DataArtsAPIError, match=message):
        DataArtsHook(connect("aksk", max_retries=1)).resolve_job_id("orders_completeness")


@pytest.mark.parametrize("kind", ["malformed_json", "empty_body"])
def test_broken_bodies_fail_clearly_after_bounded_retries(
    kind: str, connect: Callable[..., str], emulator: DataArtsEmulator
) -> None:
    emulator.inject(kind, count=10)
    with pytest.raises(DataArtsAPIError) as caught:
        DataArtsHook(connect("aksk", max_retries=2)).resolve_job_id("orders_completeness")
    assert caught.value.malformed
    assert "JSON" in str(caught.value) or "empty" in str(caught.value)
    assert emulator.count() == 3


def test_a_rerun_answer_without_an_instance_id_is_a_clear_error(
    dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    emulator.inject("answer", body={"error_code": "DQC.0000", "error_msg": ""}, path="/restart")
    with pytest.raises(DataArtsAPIError, match="no 'instance_id'"):
        DataArtsHook(dataarts_conn).rerun_quality_job(emulator.job_id("orders_completeness"))
    assert emulator.count("POST", "/restart") == 1, "a POST is never replayed after an answer arrived"


def test_sub_rules_without_results_still_arrive(dataarts_conn: str, emulator: DataArtsEmulator) -> None:
    body = {
        "count": 2,
        "resources": [{"sub_rule_id": 1012386182602149888}, {"sub_rule_id": "7", "results": None}],
    }
    emulator.inject("answer", body=body, path="/result")
    results = DataArtsHook(dataarts_conn).get_quality_instance_results("1012386190718128129")
    assert [r["sub_rule_id"] for r in results] == ["1012386182602149888", "7"]
    assert [r["results"] for r in results] == [[], []]


@pytest.mark.parametrize(
    "instance_id", ["../../restart", "1/../../x", "%2F..%2Fx", "\uff11\uff12\uff13", "1?limit=1000", "1#frag"]
)
def test_hostile_instance_ids_never_change_the_path(
    instance_id: str, dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    with pytest.raises(DataArtsAPIError) as caught:
        DataArtsHook(dataarts_conn).get_quality_instance_results(instance_id)
    assert caught.value.error_code == "DQC.0003", "the emulator saw one odd id, not another route"
    (request,) = emulator.requests
    assert request["path"].startswith("/v2/p1/quality/instances/")
    assert request["path"].endswith("/result")
    assert request["path"].count("/") == 6
    assert request["query"] == {"limit": ["100"], "offset": ["0"]}
