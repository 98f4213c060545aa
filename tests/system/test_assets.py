"""
Asset scheduling on DataArts verdicts, on a real Airflow: the asset-scheduled consumer runs after a
clean gate and not after an alarming one; a DAG scheduled on a watched job runs once per instance
that DataArts finishes (started through the emulator's control routes, not by Airflow), also
across a triggerer restart.
"""

from __future__ import annotations

import time
from typing import Any

from tests.system.client import AirflowClient, EmulatorClient
from tests.system.deployment import Deployment, wait_until

PRODUCER, CONSUMER = "example_dataarts_quality_asset_producer", "example_dataarts_quality_asset_consumer"
WATCHER, WATCHED_JOB = "system_quality_watcher", "system_watched_orders"


def dag_runs(api: AirflowClient, dag_id: str) -> list[dict[str, Any]]:
    answer = api.request("GET", f"dags/{dag_id}/dagRuns", params={"limit": 100, "order_by": "id"})
    return list(answer["dag_runs"])


def finished_runs(api: AirflowClient, dag_id: str) -> list[dict[str, Any]]:
    return [run for run in dag_runs(api, dag_id) if run["state"] in ("success", "failed")]


def start_instance(emulator: EmulatorClient, job: str, run_seconds: float) -> str:
    """An instance started as DataArts' own schedule would: a control route, not the rerun API."""
    answer = emulator._call("POST", f"quality-jobs/{job}/instances", {"run_seconds": run_seconds})
    return str(answer["id"])


def test_the_consumer_runs_after_a_clean_gate_and_not_after_an_alarming_one(
    airflow_api: AirflowClient, dataarts_emulator: EmulatorClient
) -> None:
    before = len(dag_runs(airflow_api, CONSUMER))
    clean = airflow_api.trigger_dag(PRODUCER, {"job_name": "orders_completeness"})
    assert airflow_api.wait_for_dag_run(PRODUCER, clean, timeout=150)["state"] == "success"
    instance_id = airflow_api.xcom(PRODUCER, clean, "quality_gate")

    runs = wait_until(
        "the consumer to run on the clean verdict",
        lambda: (r := finished_runs(airflow_api, CONSUMER)) and len(r) > before and r,
        timeout=90,
    )
    consumer_run = runs[-1]
    assert consumer_run["state"] == "success" and consumer_run["run_type"] == "asset_triggered"
    (verdict,) = airflow_api.xcom(CONSUMER, consumer_run["dag_run_id"], "load_checked_orders")
    assert verdict == {
        "dataarts_instance_id": instance_id,
        "job_name": "orders_completeness",
        "run_status": "SUCCESS",
        "sub_rules": 3,
        "alarming_sub_rules": [],
        "verdict": "passed",
    }

    alarming = airflow_api.trigger_dag(PRODUCER, {"job_name": "orders_freshness"})
    assert airflow_api.wait_for_dag_run(PRODUCER, alarming, timeout=150)["state"] == "failed"
    result = airflow_api.xcom(PRODUCER, alarming, "quality_gate", "quality_result")
    assert result["run_status"] == "ALARMING"
    time.sleep(15)  # the scheduler would have queued a consumer run by now
    assert len(dag_runs(airflow_api, CONSUMER)) == before + 1, "no run on an alarming verdict"


def test_a_watched_job_runs_the_dag_once_per_finished_instance_also_across_a_triggerer_restart(
    deployment: Deployment, airflow_api: AirflowClient, dataarts_emulator: EmulatorClient
) -> None:
    dataarts_emulator.add_quality_job(WATCHED_JOB, outcome="ALARMING", sub_rules=3, alarming_sub_rules=1)
    before = len(dag_runs(airflow_api, WATCHER))
    started = [start_instance(dataarts_emulator, WATCHED_JOB, 1)]
    reported = wait_for_watcher_runs(airflow_api, before + 1)
    started.append(start_instance(dataarts_emulator, WATCHED_JOB, 1))
    reported = wait_for_watcher_runs(airflow_api, before + 2)

    # This instance ends while no triggerer runs: the new triggerer reports it, and nothing twice.
    started.append(start_instance(dataarts_emulator, WATCHED_JOB, 0))
    deployment.restart_triggerer()
    reported = wait_for_watcher_runs(airflow_api, before + 3)
    time.sleep(10)
    reported = wait_for_watcher_runs(airflow_api, before + 3)

    assert [v["dataarts_instance_id"] for v in reported] == started
    assert {v["run_status"] for v in reported} == {"ALARMING"}
    assert all(v["job_name"] == WATCHED_JOB and v["sub_rules"] == 3 for v in reported)
    assert all(len(v["alarming_sub_rules"]) == 1 for v in reported)
    assert dataarts_emulator.count("POST", "/instances/restart") == 0, "Airflow reran nothing"


def wait_for_watcher_runs(api: AirflowClient, count: int) -> list[dict[str, Any]]:
    """Wait for ``count`` finished runs of the watcher DAG; every verdict they were given, in order."""
    runs = wait_until(
        f"{count} runs of {WATCHER}",
        lambda: (r := finished_runs(api, WATCHER)) and len(r) >= count and r,
        timeout=120,
    )
    assert len(runs) == count, [r["dag_run_id"] for r in runs]
    assert {r["state"] for r in runs} == {"success"}
    return [v for r in runs for v in api.xcom(WATCHER, r["dag_run_id"], "verdicts")]
