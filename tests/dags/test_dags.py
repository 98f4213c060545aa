"""DAGs that only the tests run (their tasks are adjusted per test before ``dag.test()``)."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_dataarts.sensors.quality import DataArtsQualityInstanceSensor

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
