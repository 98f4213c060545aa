"""A sensor with an outlet and ``fail_on_alarm=False``, for the asset event tests."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Asset

from airflow_provider_dataarts.sensors.quality import DataArtsQualityInstanceSensor

with DAG(
    dag_id="test_quality_sensor_outlet",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=None,
    params={"instance_id": ""},
) as sensor_outlet_dag:
    DataArtsQualityInstanceSensor(
        task_id="wait",
        instance_id="{{ params.instance_id }}",
        fail_on_alarm=False,
        poke_interval=0.2,
        outlets=[Asset("test_sensor_checked"), Asset("test_sensor_checked_too")],
    )
