"""
DAGs of the lifecycle-edge system tests (tests/system/test_edges.py): a deferred wait with an
``execution_timeout`` (its trigger stops the run), and a deferred wait with a short ``timeout``
that passes while the triggerer is down.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_dataarts.operators.job import DataArtsRunJobOperator


def edges_dag(dag_id: str) -> DAG:
    return DAG(
        dag_id=dag_id,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        schedule=None,
        catchup=False,
        params={"job_name": "daily_orders"},
        default_args={"retries": 1, "retry_delay": timedelta(seconds=1)},
        tags=["system-test"],
    )


with edges_dag("edges_job_execution_timeout_deferred"):
    DataArtsRunJobOperator(
        task_id="run",
        job_name="{{ params.job_name }}",
        poll_interval=1,
        deferrable=True,
        execution_timeout=timedelta(seconds=8),
    )

with edges_dag("edges_job_deadline_deferred"):
    DataArtsRunJobOperator(
        task_id="run", job_name="{{ params.job_name }}", poll_interval=1, deferrable=True, timeout=25
    )
