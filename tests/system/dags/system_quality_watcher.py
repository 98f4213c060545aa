"""A DAG scheduled on a watched DataArts job (``system_watched_orders``), polled every second."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_provider_dataarts.assets import quality_verdict_of
from airflow_provider_dataarts.triggers.quality_events import DataArtsQualityJobEventTrigger

WATCHED = Asset(
    "system_watched_orders_checked",
    watchers=[
        AssetWatcher(
            name="system_watched_orders_instances",
            trigger=DataArtsQualityJobEventTrigger(job_name="system_watched_orders", poll_interval=1),
        )
    ],
)

with DAG(
    dag_id="system_quality_watcher",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=[WATCHED],
    catchup=False,
    max_active_runs=1,
) as dag:

    @task
    def verdicts(triggering_asset_events: Any = None) -> list[dict[str, Any]]:
        return [v for e in triggering_asset_events[WATCHED] if (v := quality_verdict_of(e)) is not None]

    verdicts()
