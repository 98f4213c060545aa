"""
DAGs of the production-lifecycle system tests (tests/system/test_production.py): what Kubernetes and
Airflow do to a waiting task (SIGTERM shutdowns, ``execution_timeout``, clears of other tasks, a
lost answer while someone else runs the same job, a failing read before the rerun, a cleared
deferred sensor with a ``started_after`` hint).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_dataarts.operators.job import DataArtsRunJobOperator
from airflow_provider_dataarts.operators.quality import RerunQualityJobOperator
from airflow_provider_dataarts.operators.script import DataArtsExecuteScriptOperator
from airflow_provider_dataarts.sensors.quality import DataArtsQualityInstanceSensor

WAYS: dict[str, dict[str, Any]] = {"sync": {"deferrable": False}, "deferred": {"deferrable": True}}


def production_dag(dag_id: str, params: dict[str, Any], retries: int = 1) -> DAG:
    return DAG(
        dag_id=dag_id,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        schedule=None,
        catchup=False,
        params=params,
        default_args={"retries": retries, "retry_delay": timedelta(seconds=1)},
        tags=["system-test"],
    )


for way, options in WAYS.items():
    # execution_timeout passes while the gate waits: the run is stopped, the retry reruns.
    with production_dag(f"production_quality_execution_timeout_{way}", {"job_name": "orders_completeness"}):
        RerunQualityJobOperator(
            task_id="gate",
            job_name="{{ params.job_name }}",
            wait_for_completion=True,
            poll_interval=1,
            execution_timeout=timedelta(seconds=8),
            **options,
        )

with production_dag("production_job_execution_timeout", {"job_name": "daily_orders"}):
    DataArtsRunJobOperator(
        task_id="run",
        job_name="{{ params.job_name }}",
        poll_interval=1,
        execution_timeout=timedelta(seconds=8),
    )

with production_dag("production_script_execution_timeout", {"script_name": "daily_orders_sql"}):
    DataArtsExecuteScriptOperator(
        task_id="run",
        script_name="{{ params.script_name }}",
        poll_interval=1,
        execution_timeout=timedelta(seconds=8),
    )

# Another task of the run fails and is cleared while the gate (and the script) wait.
with production_dag(
    "production_clear_another_task",
    {"job_name": "orders_completeness", "script_name": "daily_orders_sql", "factory_job": "daily_orders"},
):
    RerunQualityJobOperator(
        task_id="gate", job_name="{{ params.job_name }}", wait_for_completion=True, poll_interval=1
    )
    DataArtsExecuteScriptOperator(task_id="run", script_name="{{ params.script_name }}", poll_interval=1)
    DataArtsRunJobOperator(task_id="job", job_name="{{ params.factory_job }}", poll_interval=1)

    @task(retries=0)
    def flaky() -> None:
        raise RuntimeError("an unrelated task that fails, so that a user clears it")

    flaky()

# Reruns whose answer may be lost, without retries: what a try does is all there is to see.
with production_dag("production_quality_once", {"job_name": "orders_completeness"}, retries=0):
    RerunQualityJobOperator(
        task_id="gate", job_name="{{ params.job_name }}", wait_for_completion=True, poll_interval=1
    )

# The README's own pattern, a deferred sensor that waits for what started after its DAG run did,
# on an instance that started before it: what a clear of the sensor in a finished run amounts to
# (the clear resets the DAG run's start date past the instance's start).
with production_dag("production_sensor_started_after", {"instance_id": ""}, retries=0):
    DataArtsQualityInstanceSensor(
        task_id="wait",
        instance_id="{{ params.instance_id }}",
        started_after="{{ dag_run.start_date }}",
        poke_interval=1,
        timeout=120,
        deferrable=True,
    )
