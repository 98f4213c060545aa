"""
Event-driven scheduling on DataArts verdicts: a DAG that runs each time DataArts itself finishes an
instance of a quality job (its own schedule, the console, another tool), through an asset watcher.

The triggerer polls the job's instances (watchers with one connection and interval share one list
request per interval on Airflow 3.3+); each instance that ends becomes an asset event carrying its
verdict, ``extra["payload"] = {"dataarts_instance_id", "job_name", "run_status", "sub_rules",
"alarming_sub_rules"}``, and the DAG runs once per instance. An instance whose results cannot be
read is reported all the same, with ``sub_rules`` and ``alarming_sub_rules`` ``None``.

On the emulator, start an instance outside Airflow with
``curl -X POST http://127.0.0.1:8790/_emulator/quality-jobs/orders_completeness/instances -d '{}'``.
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_provider_dataarts.assets import quality_verdict_of
from airflow_provider_dataarts.triggers.quality_events import DataArtsQualityJobEventTrigger

ORDERS_CHECKED_BY_DATAARTS = Asset(
    "dataarts_orders_checked_by_dataarts",
    watchers=[
        AssetWatcher(
            name="orders_completeness_instances",
            trigger=DataArtsQualityJobEventTrigger(
                job_name="orders_completeness",
                poll_interval=float(os.environ.get("DATAARTS_EXAMPLE_WATCH_INTERVAL", "30")),
            ),
        )
    ],
)

with DAG(
    dag_id="example_dataarts_quality_watcher",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=[ORDERS_CHECKED_BY_DATAARTS],
    catchup=False,
    tags=["dataarts", "example", "assets"],
) as dag:

    @task
    def react_to_verdict(triggering_asset_events: Any = None) -> list[dict[str, Any]]:
        """Print each verdict that started this run (one finished DataArts instance each)."""
        verdicts = [
            verdict
            for event in triggering_asset_events[ORDERS_CHECKED_BY_DATAARTS]
            if (verdict := quality_verdict_of(event)) is not None
        ]
        for verdict in verdicts:
            finished = (
                f"DataArts finished instance {verdict['dataarts_instance_id']} of {verdict['job_name']}"
            )
            if verdict["sub_rules"] is None:  # its results could not be read (docs/watchers.md)
                print(f"{finished}: {verdict['run_status']} (sub-rule results could not be read)")
                continue
            print(
                f"{finished}: {verdict['run_status']} ({len(verdict['alarming_sub_rules'])} of "
                f"{verdict['sub_rules']} sub-rules alarming)"
            )
        return verdicts

    react_to_verdict()
