"""
The whole DataArts pipeline in one DAG: migrate, transform, check, publish.

1. ``migrate_orders`` starts the DataArts Migration (CDM) job ``orders_to_dws`` (the day's orders from
   MySQL into the DWS warehouse) with the day as a job variable, and waits for it in the triggerer.
   Its outlet ``dataarts_dws_orders`` gets an asset event with the rows written; with the
   ``openlineage`` extra, the job's source and target are the run's input and output datasets.
2. ``transform_orders`` runs the DataArts Factory job ``daily_orders`` on the migrated data.
3. ``check_orders`` reruns the quality job ``orders_completeness`` and gates on it: a failed or
   alarming check fails the task, so nothing is published.
4. ``publish`` reads ``migration_result`` (rows written), ``job_result`` and ``quality_result``.

A kill of a waiting task (clear, mark failed) stops what it started in DataArts; a worker's shutdown
leaves it running and the retry reconnects to it. Runs against the local DataArts emulator (cluster
``00000000-0000-4000-8000-000000000cd1``, see docs/migration.md) or a real project: set the
connection ``dataarts_default`` (``extra.migration_endpoint`` or ``extra.region``) and the params.
Works with or without a logical date.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, task

from airflow_provider_dataarts.operators.job import DataArtsRunJobOperator
from airflow_provider_dataarts.operators.migration import DataArtsRunMigrationJobOperator
from airflow_provider_dataarts.operators.quality import RerunQualityJobOperator

DWS_ORDERS = Asset("dataarts_dws_orders")

with DAG(
    dag_id="example_dataarts_pipeline",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    # CDM runs one submission of a job at a time (a second start is refused): runs of this DAG queue.
    max_active_runs=1,
    params={
        "cluster_id": "00000000-0000-4000-8000-000000000cd1",
        "migration_job": "orders_to_dws",
        "factory_job": "daily_orders",
        "quality_job": "orders_completeness",
    },
    tags=["dataarts", "example"],
) as dag:
    day = "{{ (dag_run.logical_date or dag_run.run_after) | ds }}"

    migrate = DataArtsRunMigrationJobOperator(
        task_id="migrate_orders",
        cluster_id="{{ params.cluster_id }}",
        job_name="{{ params.migration_job }}",
        variables={"day": day},
        deferrable=True,
        poll_interval=5,
        timeout=3600,
        retries=1,
        outlets=[DWS_ORDERS],
    )

    transform = DataArtsRunJobOperator(
        task_id="transform_orders",
        job_name="{{ params.factory_job }}",
        job_params={"day": day},
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
        """Publish what was migrated, transformed and checked."""
        ti = context["ti"]
        migration = ti.xcom_pull(task_ids="migrate_orders", key="migration_result")
        job = ti.xcom_pull(task_ids="transform_orders", key="job_result")
        quality = ti.xcom_pull(task_ids="check_orders", key="quality_result")
        print(
            f"migration {migration['job_name']} submission {migration['submission_id']}: "
            f"{migration['status']}, {migration['rows_written']} rows written"
        )
        print(f"job {job['job_name']} instance {job['instance_id']}: {job['status']}")
        print(f"quality instance {quality['instance_id']}: {quality['run_status']}")
        return {
            "rows_migrated": migration["rows_written"],
            "job_instance": job["instance_id"],
            "quality": quality["run_status"],
        }

    migrate >> transform >> check >> publish()
