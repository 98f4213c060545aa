"""DAGs of the system-test harness's own smoke tests (tests/system/test_deployment.py)."""

from __future__ import annotations

import time
from datetime import timedelta

import pendulum
from airflow.sdk import DAG, get_current_context, task

from airflow_provider_dataarts.operators.quality import RerunQualityJobOperator

with DAG(
    dag_id="system_deferred_rerun",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    params={"job_name": "orders_completeness"},
    tags=["system-test"],
):
    RerunQualityJobOperator(
        task_id="rerun",
        job_name="{{ params.job_name }}",
        wait_for_completion=True,
        deferrable=True,
        poll_interval=1,
        timeout=300,
    )

with DAG(
    dag_id="system_sleeper",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    params={"seconds": 0, "retry_seconds": 0},
    default_args={"retries": 1, "retry_delay": timedelta(seconds=1)},
    tags=["system-test"],
):

    @task
    def sleep() -> int:
        """Sleep ``seconds`` on the first try, ``retry_seconds`` on later ones; return the try number."""
        context = get_current_context()
        try_number = context["ti"].try_number
        seconds = float(context["params"]["seconds" if try_number == 1 else "retry_seconds"])
        print(f"try {try_number}: sleeping {seconds} s")
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(0.2)
        print(f"try {try_number}: done")
        return int(try_number)

    sleep()
