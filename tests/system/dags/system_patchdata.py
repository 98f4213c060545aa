"""
DAGs of the PatchData system tests (tests/system/test_patchdata.py): the PatchData operator waiting
in a worker and deferred, on the dates given as params.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_dataarts.operators.job import DataArtsPatchDataOperator

for way, deferrable in (("sync", False), ("deferred", True)):
    with DAG(
        dag_id=f"patchdata_{way}",
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        schedule=None,
        catchup=False,
        params={
            "job_name": "hourly_orders",
            "from_date": "2026-12-01T00:00:00+00:00",
            "to_date": "2026-12-01T03:00:00+00:00",
        },
        default_args={"retries": 1, "retry_delay": timedelta(seconds=1)},
        tags=["system-test"],
    ):
        DataArtsPatchDataOperator(
            task_id="patch",
            job_name="{{ params.job_name }}",
            from_date="{{ params.from_date }}",
            to_date="{{ params.to_date }}",
            parallel=3,
            deferrable=deferrable,
            poll_interval=1,
            timeout=600,
        )
