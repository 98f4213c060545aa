"""
DataArtsRunJobOperator under ``dag.test()`` against the emulator: results, failures, repair on retry,
lost answers, bad input. (Clears, marks, kills and dead workers: tests/system/test_jobs.py.)
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from tests.integration.dagrun import load_dag, run_dag

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.filterwarnings("ignore")]

MODES = {"sync": {"deferrable": False}, "deferrable": {"deferrable": True}}
NODES = [
    {"name": "extract", "type": "CDMJob", "seconds": 0.3},
    {"name": "load", "type": "DWSSQL", "seconds": 0.3},
    {"name": "publish", "type": "Shell", "seconds": 0.3},
]


def run_job(job_name: str, job_params: Any = None, **changes: Any) -> Any:
    conf = {
        "job_name": job_name,
        "job_params": job_params if job_params is not None else {"day": "2026-12-01"},
    }
    return run_dag(load_dag("test_job"), conf, run=changes)


@pytest.mark.parametrize("mode", list(MODES))
def test_a_run_pushes_its_id_link_and_every_node(
    mode: str, emulator: DataArtsEmulator, connect: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    connect("aksk", job_console_url=emulator.job_console_url)
    emulator.add_factory_job("fast_job", nodes=NODES)
    outcome = run_job("fast_job", {"day": "2026-12-01", "batch": 3}, **MODES[mode])
    assert outcome.states == {"run": "success"}
    (instance,) = emulator.job_instances("fast_job")
    instance_id = instance["instanceId"]
    assert instance["params"] == {"day": "2026-12-01", "batch": "3"}
    assert outcome.xcom("run") == instance_id
    assert (
        outcome.xcom("run", "instance_url") == f"{emulator.url}/console/jobs/fast_job/instances/{instance_id}"
    )
    result = outcome.xcom("run", "job_result")
    assert set(result) == {
        "instance_id",
        "job_name",
        "status",
        "plan_time",
        "start_time",
        "end_time",
        "nodes",
    }
    assert (result["instance_id"], result["job_name"], result["status"]) == (
        instance_id,
        "fast_job",
        "success",
    )
    assert [node["node_name"] for node in result["nodes"]] == ["extract", "load", "publish"]
    assert set(result["nodes"][0]) == {
        "node_name",
        "type",
        "status",
        "start_time",
        "end_time",
        "retry_times",
        "input_row_count",
        "log_path",
    }
    out = capsys.readouterr().out
    if mode == "sync":  # a worker-side wait logs each node's status as it changes, once
        assert out.count("DataArts job fast_job node load is running") == 1
        assert out.count("DataArts job fast_job node load is success") == 1


@pytest.mark.parametrize("mode", list(MODES))
def test_a_failed_instance_fails_the_task_naming_its_failed_nodes(
    mode: str, emulator: DataArtsEmulator, dataarts_conn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.add_factory_job("broken_job", nodes=NODES, outcome="fail_at:2")
    outcome = run_job("broken_job", **MODES[mode])
    assert outcome.states == {"run": "failed"}
    result = outcome.xcom("run", "job_result")
    assert result["status"] == "fail", "pushed before the verdict"
    out = capsys.readouterr().out
    assert "failed nodes: load" in out
    assert "Failed nodes: 1" in out and f"obs://dlf-log-p1/broken_job/{result['instance_id']}/load.log" in out


@pytest.mark.parametrize("mode", list(MODES))
def test_repair_on_retry_reruns_the_failed_node_not_the_job(
    mode: str, emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    emulator.add_factory_job("flaky_job", nodes=NODES, outcomes=["fail_at:2", "success"])
    outcome = run_job("flaky_job", repair_on_retry=True, retries=1, retry_delay=timedelta(0), **MODES[mode])
    assert outcome.states == {"run": "success"}
    assert outcome.tries["run"] == 2
    assert emulator.count("POST", "/run-immediate") == 1, "one run"
    assert emulator.count("POST", "/restart") == 1
    (instance,) = emulator.job_instances("flaky_job")
    assert [node["retryTimes"] for node in instance["nodes"]] == [0, 1, 1], "from the failed node"
    assert outcome.xcom("run", "job_result")["status"] == "success"


def test_without_repair_a_retry_runs_the_job_again(emulator: DataArtsEmulator, dataarts_conn: str) -> None:
    emulator.add_factory_job("flaky_job", nodes=NODES, outcomes=["fail_at:2", "success"])
    outcome = run_job("flaky_job", retries=1, retry_delay=timedelta(0), deferrable=False)
    assert outcome.states == {"run": "success"}
    assert emulator.count("POST", "/run-immediate") == 2
    assert emulator.count("POST", "/restart") == 0


def test_a_run_whose_answer_was_lost_adopts_the_one_new_instance(
    emulator: DataArtsEmulator, connect: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    connect("aksk", not_listed_grace=1)
    emulator.add_factory_job("fast_job", nodes=NODES)
    before = emulator.state.factory.run_immediate("fast_job", {})  # existed before: never ours
    # Ended before the task runs: history. (One still running would say that others run this job
    # by hand: then even the one candidate is named, not adopted; tests/operators/test_lost_answers.py.)
    emulator.finish_job_instance(str(before.id))
    emulator.inject("reset", method="POST", path="/run-immediate", when="after")
    outcome = run_job("fast_job", retries=2, retry_delay=timedelta(0), deferrable=False)
    assert outcome.states == {"run": "success"}
    assert emulator.count("POST", "/run-immediate") == 1, "never a second run"
    ids = [i["instanceId"] for i in emulator.job_instances("fast_job")]
    assert ids[0] == str(before.id) and len(ids) == 2
    assert outcome.xcom("run") == ids[1]
    assert f"Adopting DataArts job instance {ids[1]}" in capsys.readouterr().out


def test_a_lost_answer_with_two_candidates_fails_without_retry_naming_them(
    emulator: DataArtsEmulator, connect: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    connect("aksk", not_listed_grace=1.5)
    emulator.add_factory_job("busy_job", nodes=NODES)
    emulator.inject("reset", method="POST", path="/run-immediate", when="after")

    def someone_else_runs_it_after_our_post() -> None:
        deadline = time.time() + 60
        while emulator.count("POST", "/run-immediate") == 0 and time.time() < deadline:
            time.sleep(0.02)
        emulator.state.factory.run_immediate("busy_job", {})

    other = threading.Thread(target=someone_else_runs_it_after_our_post)
    other.start()
    outcome = run_job("busy_job", retries=2, retry_delay=timedelta(0), deferrable=False)
    other.join()
    assert outcome.states == {"run": "failed"}
    assert outcome.tries["run"] == 1, "not retried"
    assert emulator.count("POST", "/run-immediate") == 1
    out = capsys.readouterr().out
    for instance in emulator.job_instances("busy_job"):
        assert instance["instanceId"] in out
    assert "started inside its time window" in out and "fails without retry" in out


@pytest.mark.parametrize(
    ("job_name", "job_params", "said"),
    [
        ("no_such_job", None, "job_name 'no_such_job': DataArts Factory has no job of that name"),
        ("orders_stream", None, "job_name 'orders_stream': it is not a batch job"),
        ("daily_orders", {"day": ["2026-12-01"]}, "job_params['day'] is a list"),
        ("daily_orders", "day=2026-12-01", "job_params must be a dict"),
    ],
)
def test_bad_input_fails_before_or_at_the_first_request(
    job_name: str,
    job_params: Any,
    said: str,
    emulator: DataArtsEmulator,
    dataarts_conn: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    outcome = run_job(job_name, job_params, retries=2, retry_delay=timedelta(0), deferrable=False)
    assert outcome.states == {"run": "failed"}
    assert said in capsys.readouterr().out
    runs = emulator.count("POST", "/run-immediate")
    assert runs == (0 if "job_params" in said else 1), "bad params never reach DataArts; no retry"
    assert outcome.tries["run"] == 1


def test_a_failed_pre_run_list_never_stops_the_run_and_says_so(
    emulator: DataArtsEmulator, dataarts_conn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.add_factory_job("fast_job", nodes=NODES)
    emulator.inject("status", status=403, method="GET", path="/jobs/instances/detail")
    outcome = run_job("fast_job", deferrable=False)
    assert outcome.states == {"run": "success"}
    assert emulator.count("POST", "/run-immediate") == 1
    assert "Could not list job fast_job's instances before the run" in capsys.readouterr().out
