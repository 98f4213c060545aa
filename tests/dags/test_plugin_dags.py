"""A DAG for the DataArts tab's tests: one task stores a Factory job's ``job_result``, one nothing."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, task

# Job start 2026-01-01 00:00:00 UTC; nodes one after the other, the second one failed.
JOB_START = 1767225600000
JOB_RESULT = {
    "instance_id": "1012386190718128901",
    "job_name": "daily_orders",
    "status": "fail",
    "plan_time": JOB_START,
    "start_time": JOB_START,
    "end_time": JOB_START + 95_000,
    "nodes": [
        {
            "node_name": "extract_orders",
            "type": "DLISQL",
            "status": "success",
            "start_time": JOB_START,
            "end_time": JOB_START + 30_000,
            "retry_times": 0,
            "input_row_count": 125000,
            "log_path": "obs://dlf-log/daily_orders/extract_orders.log",
        },
        {
            "node_name": "<script>alert('node')</script>",
            "type": "DWSSQL",
            "status": "fail",
            "start_time": JOB_START + 30_000,
            "end_time": JOB_START + 95_000,
            "retry_times": 2,
            "input_row_count": 0,
            "log_path": "obs://dlf-log/daily_orders/load.log",
        },
    ],
}

with DAG(
    dag_id="test_dataarts_tab",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=None,
) as tab_dag:

    @task(task_id="run_job")
    def run_job(**context: Any) -> None:
        context["ti"].xcom_push(key="job_result", value=JOB_RESULT)

    @task(task_id="plain")
    def plain() -> None:
        return None

    run_job()
    plain()
