"""DAGs of the DataArts Migration tests (their tasks are adjusted per test before ``dag.test()``)."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_dataarts.operators.migration import DataArtsRunMigrationJobOperator
from airflow_provider_dataarts.sensors.migration import DataArtsMigrationJobSensor

CLUSTER = "00000000-0000-4000-8000-000000000cd1"

with DAG(
    dag_id="test_migration",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=None,
    params={"job_name": "orders_to_dws", "variables": {"day": "2026-12-01"}},
    render_template_as_native_obj=True,
) as migration_dag:
    DataArtsRunMigrationJobOperator(
        task_id="migrate",
        cluster_id=CLUSTER,
        job_name="{{ params.job_name }}",
        variables="{{ params.variables }}",
        poll_interval=0.2,
    )

with DAG(
    dag_id="test_migration_sensor",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=None,
    params={"job_name": "orders_to_dws", "submission_id": ""},
) as migration_sensor_dag:
    DataArtsMigrationJobSensor(
        task_id="wait",
        cluster_id=CLUSTER,
        job_name="{{ params.job_name }}",
        submission_id="{{ params.submission_id }}",
        poke_interval=0.2,
        timeout=60,
    )
