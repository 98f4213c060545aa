"""
The human-in-the-loop example on a real Airflow: an ALARMING verdict waits for the data owner, who
sees the failing sub-rules and answers through the REST API (as the "Required actions" page does).
"""

from __future__ import annotations

import time

import pytest

from tests.system.client import TERMINAL_TI_STATES, AirflowClient, EmulatorClient
from tests.system.deployment import wait_until

DAG_ID = "example_dataarts_quality_hitl"


@pytest.mark.parametrize(("answer", "load_state"), [("Approve", "success"), ("Reject", "skipped")])
def test_the_data_owner_decides_on_an_alarming_verdict(
    answer: str, load_state: str, airflow_api: AirflowClient, dataarts_emulator: EmulatorClient
) -> None:
    pytest.importorskip("airflow.providers.standard.operators.hitl")
    run_id = airflow_api.trigger_dag(DAG_ID, {"job_name": "orders_freshness"})
    airflow_api.wait_for_task(
        DAG_ID, run_id, "data_owner_approval", "awaiting_input", 150, fail_states=TERMINAL_TI_STATES
    )
    path = f"dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/data_owner_approval/-1/hitlDetails"
    request = airflow_api.request("GET", path)
    result = airflow_api.xcom(DAG_ID, run_id, "quality_gate", "quality_result")
    alarming = [s["sub_rule_id"] for s in result["sub_rules"] if s["results"][0]["Status"] == "false"]
    assert len(alarming) == 2
    assert "orders_freshness is ALARMING" in request["subject"]
    assert all(sub_rule_id in request["body"] for sub_rule_id in alarming)
    assert request["options"] == ["Approve", "Reject"]

    # Airflow 3.3 race: an answer given before the scheduler has taken the parked try's executor
    # event re-queues the task, and that stale "success" event then fails it. People take longer.
    wait_until(
        "the parked try's process to end",
        lambda: not airflow_api.task_processes(DAG_ID, run_id, "data_owner_approval"),
        timeout=30,
    )
    time.sleep(5)
    airflow_api.request("PATCH", path, json={"chosen_options": [answer], "params_input": {}})

    run = airflow_api.wait_for_dag_run(DAG_ID, run_id, timeout=120)
    states = {ti["task_id"]: ti["state"] for ti in airflow_api.task_instances(DAG_ID, run_id)}
    assert states["quality_gate"] == "success", "every alarm is warn_only: the gate passes with warnings"
    assert states["clean_verdict"] == "skipped"
    assert states["data_owner_approval"] == "success"
    assert states["load_orders"] == load_state
    assert run["state"] == "success"
