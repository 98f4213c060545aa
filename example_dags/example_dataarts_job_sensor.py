"""
Wait for the instance of a job that DataArts Factory schedules itself, for this DAG run's data interval.

``hourly_orders`` runs on DataArts' own schedule, every hour on the hour. Each run of this DAG
waits for that job's instance planned at the end of its data interval (the instance may not exist
yet: the sensor waits for it to appear, up to its ``timeout``), in the triggerer, and then reads
its nodes. The sensor never stops or starts anything in DataArts.

With no logical date (``airflow dags trigger``, the REST API: no data interval), the plan time
is the hour of the run's ``run_after``. Give ``params.plan_time`` to wait for another one.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_dataarts.sensors.job import DataArtsJobInstanceSensor

with DAG(
    dag_id="example_dataarts_job_sensor",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule="@daily",
    catchup=False,
    params={"job_name": "hourly_orders", "plan_time": None},
    tags=["dataarts", "example"],
) as dag:
    wait = DataArtsJobInstanceSensor(
        task_id="wait_for_hourly_orders",
        job_name="{{ params.job_name }}",
        plan_time=(
            "{{ params.plan_time or (dag_run.data_interval_end or dag_run.run_after)"
            ".replace(minute=0, second=0, microsecond=0).isoformat() }}"
        ),
        deferrable=True,
        poke_interval=10,
        timeout=6 * 3600,
    )

    @task
    def downstream(job_result: dict[str, Any]) -> int:
        """Go on with the data the scheduled job produced."""
        print(f"{job_result['job_name']} planned at {job_result['plan_time']}: {job_result['status']}")
        return sum(int(node["input_row_count"] or 0) for node in job_result["nodes"])

    downstream(wait.output)
