"""DAGs of the PatchData tests (their tasks are adjusted per test before ``dag.test()``)."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_dataarts.operators.job import DataArtsPatchDataOperator

with DAG(
    dag_id="test_patchdata",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=None,
    params={
        "job_name": "quick_hourly",
        "from_date": "2026-12-01T00:00:00+00:00",
        "to_date": "2026-12-01T03:00:00+00:00",
    },
) as patchdata_dag:
    DataArtsPatchDataOperator(
        task_id="patch",
        job_name="{{ params.job_name }}",
        from_date="{{ params.from_date }}",
        to_date="{{ params.to_date }}",
        parallel=2,
        poll_interval=0.2,
    )
