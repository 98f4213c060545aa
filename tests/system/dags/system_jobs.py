"""
DAGs of the Factory job system tests (tests/system/test_jobs.py): the job operator in each way it
waits, with and without ``repair_on_retry``, and the job sensor by plan time, poke and deferred.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG

from airflow_provider_dataarts.operators.job import DataArtsRunJobOperator
from airflow_provider_dataarts.sensors.job import DataArtsJobInstanceSensor


def jobs_dag(dag_id: str, params: dict[str, object]) -> DAG:
    return DAG(
        dag_id=dag_id,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        schedule=None,
        catchup=False,
        params=params,
        default_args={"retries": 1, "retry_delay": timedelta(seconds=1)},
        tags=["system-test"],
    )


for way, deferrable in (("sync", False), ("deferred", True)):
    for repair in (False, True):
        dag_id = f"jobs_run_{way}" + ("_repair" if repair else "")
        with jobs_dag(dag_id, {"job_name": "daily_orders"}):
            DataArtsRunJobOperator(
                task_id="run",
                job_name="{{ params.job_name }}",
                job_params={"day": "{{ dag_run.run_after | ds }}"},
                deferrable=deferrable,
                repair_on_retry=repair,
                poll_interval=1,
                timeout=300,
            )

SENSOR_WAYS: dict[str, dict[str, Any]] = {
    "poke": {"deferrable": False, "mode": "poke"},
    # Pokes 5 s apart: the scheduler reads a poke's executor event before the next poke runs (1 s
    # apart, Airflow's reschedule race, apache/airflow#71172, failed both tries on a loaded machine).
    "reschedule": {"deferrable": False, "mode": "reschedule", "poke_interval": 5},
    "deferred": {"deferrable": True},
}
for way, options in SENSOR_WAYS.items():
    with jobs_dag(f"jobs_sensor_{way}", {"job_name": "hourly_orders", "plan_time": ""}):
        DataArtsJobInstanceSensor(
            task_id="wait",
            job_name="{{ params.job_name }}",
            plan_time="{{ params.plan_time }}",
            timeout=300,
            **{"poke_interval": 1, **options},
        )
