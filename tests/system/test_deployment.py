"""
Smoke tests of the system-test harness: each drives the real deployment through the REST API and
checks what Airflow itself does (runs, deferral through the triggerer, clear, mark, a dead worker,
a triggerer restart). Provider semantics on top of these are tested elsewhere.
"""

from __future__ import annotations

import re
import signal
import uuid

from tests.support import AK, SK
from tests.system.client import TERMINAL_TI_STATES, AirflowClient, EmulatorClient
from tests.system.deployment import Deployment, wait_until

SLEEPER, DEFERRED = "system_sleeper", "system_deferred_rerun"


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def test_an_example_dag_runs_to_success(
    airflow_api: AirflowClient, dataarts_emulator: EmulatorClient
) -> None:
    dag_id = "example_dataarts_quality"
    run_id = airflow_api.trigger_dag(dag_id, {"job_name": "orders_completeness", "rule_type": "quality"})

    run = airflow_api.wait_for_dag_run(dag_id, run_id, timeout=150)

    assert run["state"] == "success"
    assert run["logical_date"] is None, "a run triggered through the API has no logical date"
    result = airflow_api.xcom(dag_id, run_id, "wait_for_quality_instance", "quality_result")
    instance_id = result["instance_id"]
    assert re.fullmatch(r"\d{19}", instance_id), "the id arrives as a 19-digit string, exactly"
    assert airflow_api.xcom(dag_id, run_id, "rerun_quality_job") == instance_id
    assert result["run_status"] == "SUCCESS"
    assert len(result["sub_rules"]) == 3
    assert dataarts_emulator.instance(instance_id)["run_status"] == "SUCCESS"
    assert f"instance {instance_id}: SUCCESS" in airflow_api.log(dag_id, run_id, "report")
    assert airflow_api.xcom(dag_id, run_id, "report") == {"sub_rules": 3, "alarming": 0}


def test_a_deferred_task_is_resumed_by_the_triggerer(
    airflow_api: AirflowClient, dataarts_emulator: EmulatorClient
) -> None:
    job = unique("deferred")
    dataarts_emulator.add_quality_job(job, run_seconds=3600)  # finished below, once the wait is seen
    run_id = airflow_api.trigger_dag(DEFERRED, {"job_name": job})

    deferred = airflow_api.wait_for_task(
        DEFERRED, run_id, "rerun", "deferred", 90, fail_states=TERMINAL_TI_STATES
    )
    assert deferred["trigger"] is not None
    picked_up = wait_until(
        "the triggerer to take the trigger",
        lambda: airflow_api.task_instance(DEFERRED, run_id, "rerun").get("triggerer_job"),
        timeout=30,
    )
    assert picked_up["job_type"] == "TriggererJob"
    assert not airflow_api.task_processes(DEFERRED, run_id, "rerun"), "no worker process while deferred"
    (instance,) = dataarts_emulator.instances(job)
    wait_until("the trigger's polls", lambda: dataarts_emulator.count("GET", "/quality/instances") >= 2, 30)
    dataarts_emulator.finish_instance(instance["id"])

    done = airflow_api.wait_for_task(DEFERRED, run_id, "rerun", "success", 90, fail_states=("failed",))

    assert done["try_number"] == 1
    result = airflow_api.xcom(DEFERRED, run_id, "rerun", "quality_result")
    assert (result["instance_id"], result["run_status"]) == (instance["id"], "SUCCESS")
    assert len(dataarts_emulator.instances(job)) == 1


def test_clearing_a_finished_task_runs_a_new_try(airflow_api: AirflowClient) -> None:
    run_id = airflow_api.trigger_dag(SLEEPER, {"seconds": 0})
    first = airflow_api.wait_for_task(SLEEPER, run_id, "sleep", "success", 90, fail_states=("failed",))
    assert (first["try_number"], first["max_tries"]) == (1, 1)
    airflow_api.wait_for_dag_run(SLEEPER, run_id, ("success",), timeout=30)

    cleared = airflow_api.clear_task(SLEEPER, run_id, "sleep")

    assert [ti["task_id"] for ti in cleared] == ["sleep"]
    second = airflow_api.wait_for_task(SLEEPER, run_id, "sleep", "success", 90, try_number=2)
    assert second["max_tries"] == 2, "a clear gives the task its retries again, counted from this try"
    tries = airflow_api.tries(SLEEPER, run_id, "sleep")
    assert [(t["try_number"], t["state"]) for t in tries] == [(1, "success"), (2, "success")]
    assert airflow_api.xcom(SLEEPER, run_id, "sleep") == 2
    assert "try 1: done" in airflow_api.log(SLEEPER, run_id, "sleep", try_number=1)
    assert "try 2: done" in airflow_api.log(SLEEPER, run_id, "sleep", try_number=2)
    assert airflow_api.wait_for_dag_run(SLEEPER, run_id, timeout=30)["state"] == "success"


def test_marking_a_running_task_failed_ends_its_process(airflow_api: AirflowClient) -> None:
    run_id = airflow_api.trigger_dag(SLEEPER, {"seconds": 300})
    airflow_api.wait_for_task(SLEEPER, run_id, "sleep", "running", 90, fail_states=TERMINAL_TI_STATES)
    wait_until("the task's process", lambda: airflow_api.task_processes(SLEEPER, run_id, "sleep"), 30)

    (marked,) = airflow_api.mark_failed(SLEEPER, run_id, "sleep")

    assert marked["state"] == "failed"
    wait_until(
        "the task's process to end", lambda: not airflow_api.task_processes(SLEEPER, run_id, "sleep"), 30
    )
    ti = airflow_api.task_instance(SLEEPER, run_id, "sleep")
    assert (ti["state"], ti["try_number"]) == ("failed", 1), "a task marked failed is not retried"
    assert airflow_api.wait_for_dag_run(SLEEPER, run_id, timeout=30)["state"] == "failed"


def test_a_deferred_task_survives_a_triggerer_crash(
    deployment: Deployment, dataarts_emulator: EmulatorClient
) -> None:
    """
    SIGKILL: the trigger moves once the dead triggerer's heartbeat is older than the threshold.
    (A SIGTERM restart, and a dead worker's retry, are in test_lifecycle.py with what they mean
    for the instance.)
    """
    sig = signal.SIGKILL
    api = deployment.api
    job = unique("restart")
    dataarts_emulator.add_quality_job(job, run_seconds=3600)  # finished below, once the new triggerer waits
    run_id = api.trigger_dag(DEFERRED, {"job_name": job})
    api.wait_for_task(DEFERRED, run_id, "rerun", "deferred", 90, fail_states=TERMINAL_TI_STATES)
    old = wait_until(
        "the triggerer", lambda: api.task_instance(DEFERRED, run_id, "rerun").get("triggerer_job"), 30
    )

    api.restart_triggerer(sig)

    def adopted() -> bool:
        ti = api.task_instance(DEFERRED, run_id, "rerun")
        return ti["state"] == "deferred" and (ti.get("triggerer_job") or {}).get("id") not in (
            None,
            old["id"],
        )

    # A crashed triggerer's triggers move once its last heartbeat is older than the health threshold.
    wait_until("the new triggerer to take the trigger", adopted, timeout=60)
    (instance,) = dataarts_emulator.instances(job)
    dataarts_emulator.finish_instance(instance["id"])
    done = api.wait_for_task(DEFERRED, run_id, "rerun", "success", 90, fail_states=("failed",))
    assert done["try_number"] == 1
    assert len(dataarts_emulator.instances(job)) == 1


def test_no_file_of_the_deployment_holds_a_credential(deployment: Deployment) -> None:
    """After the runs above: the logs, the database and the config hold neither the AK nor the SK."""
    files = [path for path in deployment.home.rglob("*") if path.is_file() and not path.is_symlink()]
    assert any(path.suffix == ".log" for path in files)
    leaks = [str(path) for path in files if any(secret.encode() in path.read_bytes() for secret in (AK, SK))]
    assert not leaks, f"credentials written to {leaks}"
