"""
A quality gate: the load runs only if the data passed its DataArts quality job.

``orders_freshness`` ends ALARMING on the emulator: the gate fails, the load does not run, and the
notification task reads the alarming sub-rules from the gate's ``quality_result`` XCom.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_dataarts.operators.quality import RerunQualityJobOperator

with DAG(
    dag_id="example_dataarts_quality_gate",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    params={"job_name": "orders_freshness", "rule_type": "quality"},
    tags=["dataarts", "example"],
) as dag:
    gate = RerunQualityJobOperator(
        task_id="quality_gate",
        job_name="{{ params.job_name }}",
        rule_type="{{ params.rule_type }}",
        wait_for_completion=True,
        poll_interval=2,
        timeout=600,
        retries=0,
    )

    @task
    def load_orders() -> str:
        """Stands for the load that must only see data that passed the quality job."""
        return "loaded"

    @task(trigger_rule="one_failed")
    def notify_data_owner(ti: Any = None) -> list[dict[str, Any]]:
        """Tell the data owner which sub-rules alarmed (a real DAG would page or e-mail)."""
        result = ti.xcom_pull(task_ids="quality_gate", key="quality_result") or {}
        alarming = [
            sub_rule
            for sub_rule in result.get("sub_rules", [])
            if any(str(row.get("Status")).lower() == "false" for row in sub_rule["results"])
        ]
        for sub_rule in alarming:
            print(f"ALARM sub-rule {sub_rule['sub_rule_id']}: {sub_rule['results']}")
        print(f"quality instance {result.get('instance_id')} is {result.get('run_status')}")
        return alarming

    gate >> [load_orders(), notify_data_owner()]
