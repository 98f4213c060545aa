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
