"""
Execute a DataArts Factory script, wait for it in the triggerer, and use its rows downstream.

Runs against the local DataArts emulator (see README) or a real workspace: set the connection
``dataarts_default`` and the ``script_name`` param. ``daily_orders_sql`` on the emulator returns one
row per region for the ``date`` it is given.

The date is the run's logical date when it has one (a scheduled run, or the UI's trigger dialog),
else the day the run was triggered: ``airflow dags trigger`` and the REST API create runs without a
logical date in Airflow 3, and ``{{ ds }}`` is undefined in those.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_dataarts.operators.script import DataArtsExecuteScriptOperator

with DAG(
    dag_id="example_dataarts_script",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    params={"script_name": "daily_orders_sql"},
    tags=["dataarts", "example"],
) as dag:
    run_script = DataArtsExecuteScriptOperator(
        task_id="run_script",
        script_name="{{ params.script_name }}",
        script_params={"date": "{{ (dag_run.logical_date or dag_run.run_after) | ds }}"},
        deferrable=True,
        poll_interval=1,
        timeout=600,
        max_rows=1000,
    )

    @task
    def revenue_by_region(script_result: dict[str, Any]) -> dict[str, float]:
        """Use the script's rows as records (dicts keyed by column name)."""
        totals: dict[str, float] = {}
        for result_set in script_result["results"]:
            for record in result_set["records"]:
                totals[record["region"]] = totals.get(record["region"], 0.0) + float(record["revenue"])
        for region, revenue in sorted(totals.items()):
            print(f"{region}: {revenue:,.2f}")
        return totals

    revenue_by_region(run_script.output)
