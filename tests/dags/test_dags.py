"""DAGs that only the tests run (their tasks are adjusted per test before ``dag.test()``)."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_dataarts.operators.script import DataArtsExecuteScriptOperator
from airflow_provider_dataarts.sensors.quality import DataArtsQualityInstanceSensor
from airflow_provider_dataarts.sensors.script import DataArtsScriptInstanceSensor

with DAG(
    dag_id="test_quality_sensor",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=None,
    params={"instance_id": "", "job_name": None, "started_after": None},
) as quality_sensor_dag:
    DataArtsQualityInstanceSensor(
        task_id="wait",
        instance_id="{{ params.instance_id }}",
        job_name="{{ params.job_name or '' }}",
        started_after="{{ params.started_after or '' }}",
        poke_interval=0.2,
    )

with DAG(
    dag_id="test_script",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=None,
    params={"script_name": "daily_orders_sql"},
) as script_dag:
    DataArtsExecuteScriptOperator(
        task_id="run",
        script_name="{{ params.script_name }}",
        script_params={"date": "{{ ds }}"},
        poll_interval=0.2,
    )

with DAG(
    dag_id="test_script_sensor",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=None,
    params={"script_name": "daily_orders_sql", "instance_id": ""},
) as script_sensor_dag:
    DataArtsScriptInstanceSensor(
        task_id="wait",
        script_name="{{ params.script_name }}",
        instance_id="{{ params.instance_id }}",
        poke_interval=0.2,
    )
