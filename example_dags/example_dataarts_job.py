"""
Load with a DataArts Factory job, check the loaded table with a quality job, then publish.

1. ``load_orders`` runs the Factory batch job ``daily_orders`` once, with parameters from the DAG
   run, and waits for it in the triggerer. A retry after a failed instance reruns it from its
   failed node (``repair_on_retry``) instead of loading everything again.
2. ``check_orders`` reruns the quality job ``orders_completeness`` on the table the job loaded and
   gates on it (a failed or alarming check fails the task).
3. ``publish`` reads ``job_result`` (every node of the job instance) and ``quality_result``.

Runs against the local DataArts emulator (see docs/factory-jobs.md) or a real workspace: set the
connection ``dataarts_default`` and the params. Works with or without a logical date.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_dataarts.operators.job import DataArtsRunJobOperator
from airflow_provider_dataarts.operators.quality import RerunQualityJobOperator

with DAG(
    dag_id="example_dataarts_job",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    params={"job_name": "daily_orders", "region": "north", "quality_job": "orders_completeness"},
    tags=["dataarts", "example"],
) as dag:
    load = DataArtsRunJobOperator(
        task_id="load_orders",
        job_name="{{ params.job_name }}",
        # The day of the run: the logical date's when there is one, else when the run was made.
        job_params={
            "day": "{{ (dag_run.logical_date or dag_run.run_after) | ds }}",
            "region": "{{ params.region }}",
        },
        deferrable=True,
        poll_interval=5,
        timeout=3600,
        retries=1,
        repair_on_retry=True,
    )

    check = RerunQualityJobOperator(
        task_id="check_orders",
        job_name="{{ params.quality_job }}",
        wait_for_completion=True,
        deferrable=True,
        poll_interval=5,
        timeout=1800,
    )

    @task
    def publish(**context: Any) -> dict[str, Any]:
        """Publish what was loaded and checked: rows per node, and the quality verdict."""
        ti = context["ti"]
        job_result = ti.xcom_pull(task_ids="load_orders", key="job_result")
        quality_result = ti.xcom_pull(task_ids="check_orders", key="quality_result")
        rows = {node["node_name"]: node["input_row_count"] for node in job_result["nodes"]}
        print(f"job {job_result['job_name']} instance {job_result['instance_id']}: {job_result['status']}")
        for name, count in rows.items():
            print(f"  node {name}: {count} rows")
        print(f"quality instance {quality_result['instance_id']}: {quality_result['run_status']}")
        return {
            "job_instance": job_result["instance_id"],
            "rows_loaded": sum(int(count or 0) for count in rows.values()),
            "quality": quality_result["run_status"],
        }

    load >> check >> publish()
