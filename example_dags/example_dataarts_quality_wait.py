"""One task: rerun a DataArts comparison job and wait for it (no separate sensor)."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_dataarts.operators.quality import RerunQualityJobOperator

with DAG(
    dag_id="example_dataarts_quality_wait",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    params={"job_name": "orders_vs_warehouse", "rule_type": "comparison"},
    tags=["dataarts", "example"],
) as dag:
    RerunQualityJobOperator(
        task_id="rerun_and_wait",
        job_name="{{ params.job_name }}",
        rule_type="{{ params.rule_type }}",
        wait_for_completion=True,
        poll_interval=2,
        timeout=600,
    )
