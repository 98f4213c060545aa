"""
A human in the loop for alarming data: when the DataArts quality job ends ALARMING, the data owner
sees the failing sub-rules and approves or rejects the load (Airflow 3.1+, standard provider's
human-in-the-loop operators; on older versions this file defines no DAG).

The gate runs with ``fail_on_alarm=False``, so ALARMING passes it; a branch sends a clean instance
to the load and an alarming one to ``data_owner_approval`` ("Required actions" in the UI).
"Approve" runs the load, "Reject" skips it; without an answer within a day the load is skipped.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.exceptions import AirflowOptionalProviderFeatureException
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, task

from airflow_provider_dataarts.assets import quality_event_extra
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
        params={"job_name": "orders_freshness"},
        tags=["dataarts", "example", "hitl"],
    ) as dag:
        gate = RerunQualityJobOperator(
            task_id="quality_gate",
            job_name="{{ params.job_name }}",
            wait_for_completion=True,
            fail_on_alarm=False,
            poll_interval=2,
            timeout=600,
            retries=0,
        )

        @task.branch
        def route_on_verdict(ti: Any = None) -> str:
            """A clean instance goes straight to the load; an alarming one to the data owner."""
            result = ti.xcom_pull(task_ids="quality_gate", key="quality_result")
            return "clean_verdict" if result["run_status"] == "SUCCESS" else "describe_alarms"

        @task
        def describe_alarms(ti: Any = None) -> str:
            """The failing sub-rules, as Markdown for the approval request."""
            result = ti.xcom_pull(task_ids="quality_gate", key="quality_result")
            verdict = quality_event_extra(result)
            alarming = set(verdict["alarming_sub_rules"])
            lines = [
                f"DataArts quality instance **{verdict['dataarts_instance_id']}** of job "
                f"**{verdict['job_name']}** ended **{verdict['run_status']}**: "
                f"{len(alarming)} of {verdict['sub_rules']} sub-rules alarm.",
                "",
                "| sub-rule | result |",
                "|---|---|",
            ]
            for sub_rule in result["sub_rules"]:
                if sub_rule["sub_rule_id"] in alarming:
                    rows = "; ".join(
                        ", ".join(f"{k}={v}" for k, v in row.items()) for row in sub_rule["results"]
                    )
                    lines.append(f"| {sub_rule['sub_rule_id']} | {rows} |")
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
