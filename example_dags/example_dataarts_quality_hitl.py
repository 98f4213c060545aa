"""
A human in the loop for warnings: when the DataArts quality job ends ALARMING and every alarming
sub-rule is one whose alarms only warn (``warn_only``), the data owner sees those warnings (rule,
dimension, table and column, threshold, result) and approves or rejects the load; an alarm of any
other rule fails the gate, and nothing loads (Airflow 3.1+, standard provider's human-in-the-loop
operators; on older versions this file defines no DAG).

A branch on ``quality_result["verdict"]`` sends ``passed`` to the load and ``passed_with_warnings``
to ``data_owner_approval`` ("Required actions" in the UI). "Approve" runs the load, "Reject" skips
it; without an answer within a day the load is skipped.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.exceptions import AirflowOptionalProviderFeatureException
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, task

from airflow_provider_dataarts.operators.quality import RerunQualityJobOperator

try:
    from airflow.providers.standard.operators.hitl import ApprovalOperator
except (ImportError, AirflowOptionalProviderFeatureException):
    # Airflow before 3.1 (the standard provider says so), or a standard provider without it.
    ApprovalOperator = None

if ApprovalOperator is not None:
    with DAG(
        dag_id="example_dataarts_quality_hitl",
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        schedule=None,
        catchup=False,
        # orders_freshness alarms on region_not_null (Completeness) and order_id_unique (Uniqueness).
        params={"job_name": "orders_freshness", "warn_only": ["Completeness", "Uniqueness"]},
        tags=["dataarts", "example", "hitl"],
    ) as dag:
        gate = RerunQualityJobOperator(
            task_id="quality_gate",
            job_name="{{ params.job_name }}",
            wait_for_completion=True,
            warn_only="{{ params.warn_only }}",  # these alarms go to a person; any other fails the gate
            poll_interval=2,
            timeout=600,
            retries=0,
        )

        @task.branch
        def route_on_verdict(ti: Any = None) -> str:
            """A clean instance goes straight to the load; one with warnings to the data owner."""
            result = ti.xcom_pull(task_ids="quality_gate", key="quality_result")
            return "clean_verdict" if result["verdict"] == "passed" else "describe_alarms"

        @task
        def describe_alarms(ti: Any = None) -> str:
            """The policy's warnings, as Markdown for the approval request."""
            result = ti.xcom_pull(task_ids="quality_gate", key="quality_result")
            warnings = [s for s in result["sub_rules"] if s.get("severity") == "warn"]
            lines = [
                f"DataArts quality instance **{result['instance_id']}** of job "
                f"**{result['instance']['name']}** ended **{result['run_status']}**: "
                f"{len(warnings)} of {len(result['sub_rules'])} sub-rules alarm, each one whose "
                "alarms only warn (`warn_only`).",
                "",
                "| sub-rule | dimension | table.column | threshold | result | severity |",
                "|---|---|---|---|---|---|",
            ]
            for sub_rule in warnings:
                rows = "; ".join(
                    ", ".join(f"{k}={v}" for k, v in row.items() if k != "Status")
                    for row in sub_rule["results"]
                )
                target = ".".join(str(p) for p in (sub_rule.get("table"), sub_rule.get("column")) if p)
                lines.append(
                    f"| {sub_rule.get('name') or ''} ({sub_rule['sub_rule_id']}) "
                    f"| {sub_rule.get('dimension') or ''} | {target} "
                    f"| `{sub_rule.get('alarm_condition') or ''}` | {rows} | {sub_rule['severity']} |"
                )
            lines += ["", "Approve to load these orders anyway, reject to skip the load."]
            return "\n".join(lines)

        approval = ApprovalOperator(
            task_id="data_owner_approval",
            subject="DataArts quality job {{ params.job_name }} is ALARMING: load the orders?",
            body="{{ ti.xcom_pull(task_ids='describe_alarms') }}",
            defaults="Reject",
            # execution_timeout: the name every standard provider with HITL accepts (newer ones
            # call it response_timeout and take the old name too).
            execution_timeout=timedelta(hours=24),
        )

        @task(trigger_rule="none_failed_min_one_success")
        def load_orders(ti: Any = None) -> str:
            """Stands for the load: runs on a clean verdict, or on an alarming one a human approved."""
            result = ti.xcom_pull(task_ids="quality_gate", key="quality_result")
            return f"loaded orders checked by instance {result['instance_id']} ({result['run_status']})"

        clean = EmptyOperator(task_id="clean_verdict")
        load = load_orders()
        alarms = describe_alarms()
        gate >> route_on_verdict() >> [clean, alarms]
        alarms >> approval
        [clean, approval] >> load
