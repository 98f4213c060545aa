"""DAGs of the Factory job tests (their tasks are adjusted per test before ``dag.test()``)."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_dataarts.operators.job import DataArtsRunJobOperator
from airflow_provider_dataarts.sensors.job import DataArtsJobInstanceSensor

with DAG(
    dag_id="test_job",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=None,
    params={"job_name": "daily_orders", "job_params": {"day": "2026-12-01"}},
    render_template_as_native_obj=True,
) as job_dag:
    DataArtsRunJobOperator(
        task_id="run",
        job_name="{{ params.job_name }}",
        job_params="{{ params.job_params }}",
        poll_interval=0.2,
    )

with DAG(
    dag_id="test_job_sensor",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=None,
    params={"job_name": "hourly_orders", "plan_time": ""},
) as job_sensor_dag:
    DataArtsJobInstanceSensor(
        task_id="wait",
        job_name="{{ params.job_name }}",
        plan_time="{{ params.plan_time }}",
        poke_interval=0.2,
        timeout=60,
    )

with DAG(
    dag_id="test_job_instance_sensor",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=None,
    params={"job_name": "daily_orders", "instance_id": ""},
) as job_instance_sensor_dag:
    DataArtsJobInstanceSensor(
        task_id="wait",
        job_name="{{ params.job_name }}",
        instance_id="{{ params.instance_id }}",
        poke_interval=0.2,
        timeout=60,
    )
