"""
An Airflow backfill drives DataArts' own backfill (PatchData) of a job DataArts schedules itself.

``hourly_orders`` runs on DataArts' schedule, every hour. Each run of this daily DAG asks DataArts
to run it again for every hour of the run's data interval (DataArts PatchData: 24 job instances,
five at a time) and waits, in the triggerer, until they are done; the DataArts tab shows each hour's
instance. A failed hour fails the task, naming its plan time; a retry starts a new PatchData run.

The DAG is created paused and covers three days (``start_date`` to ``end_date``): unpause it, then

    airflow backfill create --dag-id example_dataarts_patchdata \\
        --from-date 2026-12-01 --to-date 2026-12-03

makes three DAG runs, hence three PatchData runs, one per day. Drop ``end_date`` for a DAG that
patches every day as it comes (each run patches the day before).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_dataarts.operators.job import DataArtsPatchDataOperator

with DAG(
    dag_id="example_dataarts_patchdata",
    start_date=pendulum.datetime(2026, 12, 1, tz="UTC"),
    end_date=pendulum.datetime(2026, 12, 3, tz="UTC"),
    # A day-long data interval per run. (Airflow 3 runs a bare "@daily" or timedelta schedule with
    # no data interval, start == end: then from_date / to_date must be given.)
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    catchup=True,
    is_paused_upon_creation=True,
    max_active_runs=3,
    tags=["dataarts", "example"],
) as dag:
    DataArtsPatchDataOperator(
        task_id="patch_hourly_orders",
        job_name="hourly_orders",
        # from_date / to_date default to the run's data interval: one day, 24 hourly slots.
        parallel=5,
        deferrable=True,
        poll_interval=10,
        timeout=6 * 3600,
    )
