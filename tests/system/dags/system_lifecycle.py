"""
DAGs of the lifecycle system tests (tests/system/test_lifecycle.py): each operator and sensor in
each way it can wait, one task per DAG, everything else taken from ``params``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG

from airflow_provider_dataarts.operators.quality import RerunQualityJobOperator
from airflow_provider_dataarts.operators.script import DataArtsExecuteScriptOperator
from airflow_provider_dataarts.sensors.quality import DataArtsQualityInstanceSensor
from airflow_provider_dataarts.sensors.script import DataArtsScriptInstanceSensor

RETRY = {"retries": 1, "retry_delay": timedelta(seconds=1)}
WAYS: dict[str, dict[str, Any]] = {
    "sync": {"deferrable": False},
    "deferred": {"deferrable": True},
}
SENSOR_WAYS: dict[str, dict[str, Any]] = {
    "poke": {"deferrable": False, "mode": "poke"},
    "reschedule": {"deferrable": False, "mode": "reschedule"},
    "deferred": {"deferrable": True},
}


def lifecycle_dag(dag_id: str, params: dict[str, Any]) -> DAG:
    return DAG(
        dag_id=dag_id,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        schedule=None,
        catchup=False,
        params=params,
        default_args=RETRY,
        tags=["system-test"],
    )


for way, options in WAYS.items():
    with lifecycle_dag(f"lifecycle_quality_{way}", {"job_name": "orders_completeness"}):
        RerunQualityJobOperator(
            task_id="gate",
            job_name="{{ params.job_name }}",
            wait_for_completion=True,
            poll_interval=1,
            timeout=300,
            **options,
        )
    with lifecycle_dag(f"lifecycle_quality_timeout_{way}", {"job_name": "orders_completeness"}):
        RerunQualityJobOperator(
            task_id="gate",
            job_name="{{ params.job_name }}",
            wait_for_completion=True,
            poll_interval=1,
            timeout=4,
            **options,
        )
    with lifecycle_dag(f"lifecycle_script_{way}", {"script_name": "daily_orders_sql"}):
        DataArtsExecuteScriptOperator(
            task_id="run",
            script_name="{{ params.script_name }}",
            script_params={"date": "2026-01-01"},
            poll_interval=1,
            timeout=300,
            **options,
        )

for way, options in SENSOR_WAYS.items():
    with lifecycle_dag(f"lifecycle_quality_sensor_{way}", {"instance_id": "", "soft_fail": False}):
        DataArtsQualityInstanceSensor(
            task_id="wait",
            instance_id="{{ params.instance_id }}",
            poke_interval=1,
            timeout=300,
            **options,
        )
    with lifecycle_dag(f"lifecycle_script_sensor_{way}", {"script_name": "slow_script", "instance_id": ""}):
        DataArtsScriptInstanceSensor(
            task_id="wait",
            script_name="{{ params.script_name }}",
            instance_id="{{ params.instance_id }}",
            poke_interval=1,
            timeout=300,
            **options,
        )

with lifecycle_dag("lifecycle_quality_sensor_grace", {"instance_id": ""}):
    DataArtsQualityInstanceSensor(
        task_id="wait",
        instance_id="{{ params.instance_id }}",
        dataarts_conn_id="dataarts_short_grace",
        mode="reschedule",
        poke_interval=1,
        timeout=300,
        retries=0,
    )

for way, options in SENSOR_WAYS.items():
    with lifecycle_dag(f"lifecycle_quality_sensor_timeout_{way}", {"instance_id": ""}):
        DataArtsQualityInstanceSensor(
            task_id="wait",
            instance_id="{{ params.instance_id }}",
            poke_interval=1,
            timeout=6,
            soft_fail=True,
            **options,
        )
