"""
Data-aware scheduling on a DataArts verdict: a quality gate produces an asset, a consumer DAG runs
on it and reads the verdict from the asset event.

``example_dataarts_quality_asset_producer`` reruns the quality job and waits (the gate). When the
instance passes, the gate's outlet ``dataarts_checked_orders`` gets an asset event whose ``extra`` is
``{"dataarts_instance_id", "job_name", "run_status", "sub_rules", "alarming_sub_rules"}``; an
ALARMING instance fails the gate, so no event is emitted and the consumer does not run. (With
``fail_on_alarm=False`` the event is emitted with ``run_status: "ALARMING"`` and the consumer
decides: this one then skips its load.)

Trigger the producer with ``{"job_name": "orders_freshness"}`` on the emulator to see the gate stop.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, task

from airflow_provider_dataarts.assets import quality_verdict_of
from airflow_provider_dataarts.operators.quality import RerunQualityJobOperator

CHECKED_ORDERS = Asset("dataarts_checked_orders")

with DAG(
    dag_id="example_dataarts_quality_asset_producer",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    params={"job_name": "orders_completeness"},
    tags=["dataarts", "example", "assets"],
) as producer:
    RerunQualityJobOperator(
        task_id="quality_gate",
        job_name="{{ params.job_name }}",
        wait_for_completion=True,
        poll_interval=2,
        timeout=600,
        retries=0,
        outlets=[CHECKED_ORDERS],
    )

with DAG(
    dag_id="example_dataarts_quality_asset_consumer",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=[CHECKED_ORDERS],
    catchup=False,
    tags=["dataarts", "example", "assets"],
) as consumer:

    @task
    def load_checked_orders(triggering_asset_events: Any = None) -> list[dict[str, Any]]:
        """Load only data whose DataArts verdict passed; return the verdicts this run was given."""
        from airflow.providers.common.compat.sdk import AirflowSkipException

        verdicts = [
            verdict
            for event in triggering_asset_events[CHECKED_ORDERS]
            if (verdict := quality_verdict_of(event)) is not None
        ]
        for verdict in verdicts:
            print(
                f"DataArts instance {verdict['dataarts_instance_id']} of {verdict['job_name']}: "
                f"{verdict['run_status']}, {verdict['sub_rules']} sub-rules, "
                f"alarming: {verdict['alarming_sub_rules'] or 'none'}"
            )
        if not verdicts or any(v["run_status"] != "SUCCESS" for v in verdicts):
            raise AirflowSkipException("the triggering verdict did not pass: not loading")
        return verdicts

    load_checked_orders()
