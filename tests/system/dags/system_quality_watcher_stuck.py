"""
A DAG scheduled on a watched DataArts job (``system_stuck_orders``) whose results calls the system
test makes fail for one instance: polled every second, a stuck instance retried for 20 s.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_provider_dataarts.triggers.quality_events import DataArtsQualityJobEventTrigger

WATCHED = Asset(
    "system_stuck_orders_checked",
    watchers=[
        AssetWatcher(
            name="system_stuck_orders_instances",
            trigger=DataArtsQualityJobEventTrigger(
                job_name="system_stuck_orders", poll_interval=1, results_retry_seconds=20
            ),
        )
    ],
)

with DAG(
    dag_id="system_quality_watcher_stuck",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=[WATCHED],
    catchup=False,
    max_active_runs=1,
) as dag:

    @task
    def payloads(triggering_asset_events: Any = None) -> list[dict[str, Any]]:
        """Each event's whole payload (``results_error`` included)."""
        return [dict(e.extra["payload"]) for e in triggering_asset_events[WATCHED]]

    payloads()
