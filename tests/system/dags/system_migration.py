"""
DAGs of the DataArts Migration system tests (tests/system/test_migration.py): the migration operator
waiting in a worker and deferred, one retry each.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_dataarts.operators.migration import DataArtsRunMigrationJobOperator

for way, deferrable in (("sync", False), ("deferred", True)):
    with DAG(
        dag_id=f"migration_run_{way}",
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        schedule=None,
        catchup=False,
        params={"job_name": "orders_to_dws"},
        default_args={"retries": 1, "retry_delay": timedelta(seconds=1)},
        tags=["system-test"],
    ):
        DataArtsRunMigrationJobOperator(
            task_id="migrate",
            cluster_id="00000000-0000-4000-8000-000000000cd1",
            job_name="{{ params.job_name }}",
            variables={"day": "{{ dag_run.run_after | ds }}"},
            deferrable=deferrable,
            poll_interval=1,
            timeout=300,
        )
