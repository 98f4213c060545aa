"""
Rerun a DataArts quality job, wait for it in the triggerer, and report every sub-rule downstream.

Runs against the local DataArts emulator (see README) or a real workspace: set the connection
``dataarts_default`` and the ``job_name`` param.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_dataarts.operators.quality import RerunQualityJobOperator
from airflow_provider_dataarts.sensors.quality import DataArtsQualityInstanceSensor

with DAG(
    dag_id="example_dataarts_quality",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    params={"job_name": "orders_completeness", "rule_type": "quality"},
    tags=["dataarts", "example"],
) as dag:
    rerun = RerunQualityJobOperator(
        task_id="rerun_quality_job",
        job_name="{{ params.job_name }}",
        rule_type="{{ params.rule_type }}",
    )

    wait = DataArtsQualityInstanceSensor(
        task_id="wait_for_quality_instance",
        instance_id=rerun.output,
        job_name="{{ params.job_name }}",
        started_after="{{ dag_run.start_date }}",
        deferrable=True,
        poke_interval=2,
        timeout=600,
    )

    @task
    def report(quality_result: dict[str, Any]) -> dict[str, int]:
        """Report each sub-rule of the finished instance; return counts for downstream tasks."""
        alarming = 0
        for sub_rule in quality_result["sub_rules"]:
            bad = any(str(row.get("Status")).lower() == "false" for row in sub_rule["results"])
            alarming += bad
            print(
                f"sub-rule {sub_rule['sub_rule_id']}: {'ALARM' if bad else 'ok'} "
                f"{sub_rule['results'][0] if sub_rule['results'] else {}}"
            )
        print(f"instance {quality_result['instance_id']}: {quality_result['run_status']}")
        return {"sub_rules": len(quality_result["sub_rules"]), "alarming": alarming}

    report(wait.output)
