"""
A quality gate with a policy: the load runs only if the data passed its DataArts quality job, or if
every rule that alarmed is one whose alarms only warn (``warn_only``).

``orders_freshness`` ends ALARMING on the emulator with two alarming sub-rules: ``region_not_null``
(dimension Completeness: a null in an optional column, only a warning here) and
``order_id_unique`` (Uniqueness: duplicate order ids). With the default ``warn_only``
(``["Completeness"]``) the gate fails on the duplicates: the load does not run, and the
notification task reads the alarming sub-rules from the gate's ``quality_result`` XCom, each with
its threshold and whether it failed the gate. Trigger it with
``{"warn_only": ["Completeness", "order_id_*"]}`` and the gate passes with warnings
(``quality_result["verdict"] == "passed_with_warnings"``): the load runs.
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
    params={"job_name": "orders_freshness", "rule_type": "quality", "warn_only": ["Completeness"]},
    tags=["dataarts", "example"],
) as dag:
    gate = RerunQualityJobOperator(
        task_id="quality_gate",
        job_name="{{ params.job_name }}",
        rule_type="{{ params.rule_type }}",
        wait_for_completion=True,
        # Names or dimensions from the job's definition, fnmatch patterns allowed: their alarms warn.
        warn_only="{{ params.warn_only }}",
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
        # ``severity`` is "fail" or "warn" for an alarming sub-rule (the gate's policy), else None.
        alarming = [sub_rule for sub_rule in result.get("sub_rules", []) if sub_rule.get("severity")]
        for sub_rule in alarming:
            print(
                f"ALARM ({sub_rule['severity']}) {sub_rule.get('name') or sub_rule['sub_rule_id']} "
                f"[{sub_rule.get('dimension')}] on {sub_rule.get('table')}.{sub_rule.get('column')}, "
                f"threshold {sub_rule.get('alarm_condition')}: {sub_rule['results']}"
            )
        print(
            f"quality instance {result.get('instance_id')} is {result.get('run_status')}: "
            f"{result.get('verdict')}"
        )
        return alarming

    gate >> [load_orders(), notify_data_owner()]
