"""The human-in-the-loop example: a clean verdict loads without asking; no HITL, no DAG."""

from __future__ import annotations

import runpy
import sys

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from tests.integration.dagrun import EXAMPLE_DAGS, load_dag, run_dag

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.filterwarnings("ignore")]


def test_a_clean_verdict_loads_without_asking_the_data_owner(
    emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    dag = load_dag("example_dataarts_quality_hitl")
    outcome = run_dag(dag, {"job_name": "orders_completeness"}, quality_gate={"poll_interval": 0.2})

    assert outcome.states == {
        "quality_gate": "success",
        "route_on_verdict": "success",
        "clean_verdict": "success",
        "describe_alarms": "skipped",
        "data_owner_approval": "skipped",
        "load_orders": "success",
    }
    instance_id = outcome.xcom("quality_gate")
    assert outcome.xcom("load_orders") == f"loaded orders checked by instance {instance_id} (SUCCESS)"


def test_without_human_in_the_loop_operators_the_file_defines_no_dag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "airflow.providers.standard.operators.hitl", None)  # import fails
    namespace = runpy.run_path(str(EXAMPLE_DAGS / "example_dataarts_quality_hitl.py"))
    assert namespace["ApprovalOperator"] is None
    assert "dag" not in namespace


def the_steps_before_the_approval() -> object:
    """The example up to the approval request's body (a person's answer is the system tests' part)."""
    return load_dag("example_dataarts_quality_hitl").partial_subset(
        task_ids=["describe_alarms"], include_upstream=True
    )


def test_the_approval_body_lists_the_policys_warnings_with_their_thresholds(
    emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    outcome = run_dag(the_steps_before_the_approval(), quality_gate={"poll_interval": 0.2})

    assert outcome.states == {
        "quality_gate": "success",
        "route_on_verdict": "success",
        "describe_alarms": "success",
    }
    assert outcome.xcom("quality_gate", "quality_result")["verdict"] == "passed_with_warnings"
    job = emulator.state.job_by_name("orders_freshness")
    body = outcome.xcom("describe_alarms").splitlines()
    assert "ended **ALARMING**: 2 of 4 sub-rules alarm, each one whose alarms only warn" in body[0]
    assert body[2] == "| sub-rule | dimension | table.column | threshold | result | severity |"
    assert body[4] == (
        f"| region_not_null ({job.sub_rule_ids[0]}) | Completeness | sales.orders.region | `${{1}}>0` "
        "| Total Rows=1000, Abnormal Rows=13, Name=dws.orders.rule_1 | warn |"
    )
    assert body[5].startswith(
        f"| order_id_unique ({job.sub_rule_ids[1]}) | Uniqueness | sales.orders.order_id |"
    )


def test_an_alarm_that_is_not_warn_only_fails_the_gate_and_asks_no_one(
    emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    outcome = run_dag(
        the_steps_before_the_approval(), {"warn_only": ["Completeness"]}, quality_gate={"poll_interval": 0.2}
    )
    assert outcome.states == {
        "quality_gate": "failed",
        "route_on_verdict": "upstream_failed",
        "describe_alarms": "upstream_failed",
    }
