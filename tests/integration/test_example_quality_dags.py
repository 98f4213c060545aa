"""Every quality example DAG under ``dag.test()``, in poke and deferrable modes, on each outcome."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from airflow import __version__ as airflow_version
from packaging.version import Version

from airflow_provider_dataarts.emulator import DataArtsEmulator
from tests.integration.dagrun import EXAMPLE_DAGS, dag_bag, load_dag, run_dag

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.filterwarnings("ignore")]

OUTCOMES = {
    "orders_completeness": ("SUCCESS", 3, 0),
    "orders_freshness": ("ALARMING", 4, 2),
    "orders_broken": ("FAILED", 2, 0),
}
FAST = 0.2


def assert_quality_result(result: dict, emulator: DataArtsEmulator, instance_id: str, job: str) -> None:
    run_status, sub_rules, _ = OUTCOMES.get(job, ("SUCCESS", 2, 0))
    assert result["instance_id"] == instance_id
    assert result["run_status"] == run_status
    assert result["instance"]["id"] == instance_id
    assert result["instance"]["task_id"] == emulator.job_id(job)
    assert result["instance"]["name"] == job
    expected = emulator.state.instances[int(instance_id)].results
    assert len(result["sub_rules"]) == sub_rules
    assert [r["sub_rule_id"] for r in result["sub_rules"]] == [r["sub_rule_id"] for r in expected]
    assert all(isinstance(r["sub_rule_id"], str) and len(r["sub_rule_id"]) == 19 for r in result["sub_rules"])


def test_every_example_dag_loads() -> None:
    bag = dag_bag(str(EXAMPLE_DAGS))
    assert bag.import_errors == {}
    assert {
        "example_dataarts_quality",
        "example_dataarts_quality_wait",
        "example_dataarts_quality_gate",
    } <= set(bag.dag_ids)


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "poke"])
@pytest.mark.parametrize("job", list(OUTCOMES))
def test_rerun_then_sensor_then_report(
    job: str, deferrable: bool, emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    dag = load_dag("example_dataarts_quality")
    mode = {"deferrable": deferrable, "mode": "poke", "poke_interval": FAST}
    outcome = run_dag(dag, {"job_name": job}, wait_for_quality_instance=mode)

    run_status, sub_rules, alarming = OUTCOMES[job]
    instance_id = outcome.xcom("rerun_quality_job")
    assert instance_id == str(max(emulator.state.instances))
    assert emulator.count("POST", "/instances/restart") == 1
    assert outcome.xcom("rerun_quality_job", "instance_url").endswith(f"instanceId={instance_id}")
    result = outcome.xcom("wait_for_quality_instance", "quality_result")
    assert_quality_result(result, emulator, instance_id, job)
    if run_status == "SUCCESS":
        assert outcome.states == dict.fromkeys(outcome.states, "success")
        assert outcome.xcom("wait_for_quality_instance") == result
        assert outcome.xcom("report") == {"sub_rules": sub_rules, "alarming": alarming}
    else:
        assert outcome.state == "failed"
        assert outcome.states["wait_for_quality_instance"] == "failed"
        assert outcome.states["report"] == "upstream_failed"


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "poke"])
def test_rerun_and_wait_in_one_task(deferrable: bool, emulator: DataArtsEmulator, dataarts_conn: str) -> None:
    dag = load_dag("example_dataarts_quality_wait")
    outcome = run_dag(dag, rerun_and_wait={"deferrable": deferrable, "poll_interval": FAST})

    assert outcome.states == {"rerun_and_wait": "success"}
    instance_id = outcome.xcom("rerun_and_wait")
    assert emulator.instance(instance_id)["task_type"] == "CONSISTENCY_TASK"
    assert_quality_result(
        outcome.xcom("rerun_and_wait", "quality_result"), emulator, instance_id, "orders_vs_warehouse"
    )


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "poke"])
@pytest.mark.parametrize("job", ["orders_freshness", "orders_completeness", "orders_broken"])
def test_quality_gate(job: str, deferrable: bool, emulator: DataArtsEmulator, dataarts_conn: str) -> None:
    dag = load_dag("example_dataarts_quality_gate")
    outcome = run_dag(dag, {"job_name": job}, quality_gate={"deferrable": deferrable, "poll_interval": FAST})

    run_status, _, alarming = OUTCOMES[job]
    result = outcome.xcom("quality_gate", "quality_result")
    assert_quality_result(result, emulator, outcome.xcom("quality_gate"), job)
    if run_status == "SUCCESS":
        assert outcome.states == {
            "quality_gate": "success",
            "load_orders": "success",
            "notify_data_owner": "skipped",
        }
    else:
        assert outcome.states == {
            "quality_gate": "failed",
            "load_orders": "upstream_failed",
            "notify_data_owner": "success",
        }
        notified = outcome.xcom("notify_data_owner")
        assert len(notified) == alarming
        assert all(row["Status"] == "false" for sub in notified for row in sub["results"])


def test_alarm_tolerated_with_fail_on_alarm_false(emulator: DataArtsEmulator, dataarts_conn: str) -> None:
    dag = load_dag("example_dataarts_quality_gate")
    outcome = run_dag(
        dag,
        {"job_name": "orders_freshness"},
        quality_gate={"fail_on_alarm": False, "deferrable": True, "poll_interval": FAST},
    )
    assert outcome.states["quality_gate"] == "success"
    assert outcome.states["load_orders"] == "success"
    assert outcome.xcom("quality_gate", "quality_result")["run_status"] == "ALARMING"


@pytest.mark.skipif(
    Version(airflow_version) < Version("3.3"),
    reason="reconnecting needs task_state_store (Airflow 3.3+): before it, a retry reruns the job",
)
def test_retry_reconnects_to_the_running_instance(
    emulator: DataArtsEmulator, connect: Callable[..., str]
) -> None:
    """A try that dies while waiting is retried; the retry waits for the same instance, no second rerun."""
    from datetime import timedelta

    connect("aksk", max_retries=0)
    emulator.add_quality_job("slow_orders_job", run_seconds=3)
    # The first try's first status check fails (a 400 is not retried): the task fails and is retried.
    # The list before the rerun (skipped here) only helps recovery: a failure there would not fail it.
    emulator.inject("status", status=400, method="GET", path="/quality/instances", count=1, skip=1)
    dag = load_dag("example_dataarts_quality_gate")
    outcome = run_dag(
        dag,
        {"job_name": "slow_orders_job"},
        quality_gate={"retries": 1, "retry_delay": timedelta(0), "deferrable": False, "poll_interval": FAST},
    )
    assert outcome.states["quality_gate"] == "success"
    assert outcome.tries["quality_gate"] == 2
    assert emulator.count("POST", "/instances/restart") == 1
    instance_id = outcome.xcom("quality_gate")
    assert emulator.instance(instance_id)["run_status"] == "SUCCESS"
    assert outcome.xcom("quality_gate", "quality_result")["instance_id"] == instance_id


def test_no_secret_reaches_airflow_home(
    emulator: DataArtsEmulator, connect: Callable[..., str], airflow_db: Path
) -> None:
    """After every example DAG ran, in every auth mode, no credential or token is in AIRFLOW_HOME."""
    from tests.support import SECRETS, files_holding

    for auth_type in ("aksk", "password", "token"):
        connect(auth_type)
        for dag_id, task_id in [
            ("example_dataarts_quality", "wait_for_quality_instance"),
            ("example_dataarts_quality_wait", "rerun_and_wait"),
            ("example_dataarts_quality_gate", "quality_gate"),
            ("example_dataarts_script", "run_script"),
        ]:
            interval = "poke_interval" if dag_id == "example_dataarts_quality" else "poll_interval"
            outcome = run_dag(load_dag(dag_id), **{task_id: {interval: FAST}})
            assert outcome.states[task_id] in ("success", "failed")
    tokens = {r["headers"]["X-Auth-Token"] for r in emulator.requests if "X-Auth-Token" in r["headers"]}
    assert len(tokens) == 2, "the IAM token and the static token were both used"
    assert (airflow_db / "airflow.db").is_file()
    # Read in a child process: reading the live database's files here would drop this process's
    # SQLite locks (tests.support.files_holding says what that breaks).
    assert files_holding(airflow_db, [*SECRETS, *tokens]) == []
