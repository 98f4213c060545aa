"""
The pipeline example (migrate, transform, check, publish) against the emulator, and what the
migration leaves besides XCom: the asset event with its row counts, and its OpenLineage datasets.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.emulator.migration import CLUSTER_ID
from tests.integration.dagrun import load_dag, run_dag
from tests.test_assets import asset_events, latest_run_id

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.filterwarnings("ignore")]

FAST_NODES = [{"name": "extract_orders", "type": "CDMJob", "seconds": 0.3}]


@pytest.mark.parametrize("logical", [True, False], ids=["logical-date", "no-logical-date"])
def test_the_pipeline_migrates_transforms_checks_and_publishes(
    logical: bool, emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    emulator.add_factory_job("daily_orders", nodes=FAST_NODES)
    emulator.add_migration_job("orders_to_dws", boot_seconds=0.1, run_seconds=0.5, rows=12_480)
    when = datetime(2026, 11, 30, 6, tzinfo=UTC)
    dag = load_dag("example_dataarts_pipeline")
    outcome = run_dag(
        dag,
        logical_date=when if logical else None,
        without_logical_date=not logical,
        migrate_orders={"poll_interval": 0.2},
        transform_orders={"poll_interval": 0.2},
        check_orders={"poll_interval": 0.2},
    )
    assert outcome.states == {
        "migrate_orders": "success",
        "transform_orders": "success",
        "check_orders": "success",
        "publish": "success",
    }
    (submission,) = emulator.migration_submissions("orders_to_dws")
    day = (when if logical else outcome.run_after).strftime("%Y-%m-%d")
    assert submission["variables"] == {"day": day}
    (instance,) = emulator.job_instances("daily_orders")[-1:]
    assert outcome.xcom("publish") == {
        "rows_migrated": 12_480,
        "job_instance": instance["instanceId"],
        "quality": "SUCCESS",
    }
    assert asset_events("dataarts_dws_orders", latest_run_id(dag.dag_id)) == [
        {
            "dataarts_submission_id": str(submission["submission-id"]),
            "job_name": "orders_to_dws",
            "cluster_id": CLUSTER_ID,
            "status": "SUCCEEDED",
            "rows_read": 12_480,
            "rows_written": 12_480,
            "rows_updated": 0,
            "rows_deleted": 0,
        }
    ]


def test_a_failed_migration_stops_the_pipeline_before_the_warehouse_is_touched(
    emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    outcome = run_dag(
        load_dag("example_dataarts_pipeline"),
        {"migration_job": "customers_to_dws"},
        migrate_orders={"poll_interval": 0.2, "retries": 0},
    )
    assert outcome.states["migrate_orders"] == "failed"
    assert outcome.states["transform_orders"] == "upstream_failed"
    assert emulator.count("POST", "/run-immediate") == 0, "nothing ran downstream"
    assert asset_events("dataarts_dws_orders", latest_run_id("example_dataarts_pipeline")) == []


def test_openlineage_names_the_source_and_target_with_their_row_counts(
    emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    pytest.importorskip("airflow.providers.openlineage")
    from openlineage.client.serde import Serde

    from airflow_provider_dataarts.hooks.dataarts import DataArtsHook
    from airflow_provider_dataarts.operators.migration import DataArtsRunMigrationJobOperator
    from airflow_provider_dataarts.results.migration import migration_result

    hook = DataArtsHook(dataarts_conn)
    emulator.add_migration_job("orders_to_dws", boot_seconds=0.0, run_seconds=0.1, rows=500)
    started = hook.start_migration_job(CLUSTER_ID, "orders_to_dws")
    time.sleep(0.3)
    (submission,) = hook.list_migration_submissions(CLUSTER_ID, "orders_to_dws")
    task = DataArtsRunMigrationJobOperator(task_id="migrate", cluster_id=CLUSTER_ID, job_name="orders_to_dws")
    assert task.get_openlineage_facets_on_complete(None) is None, "nothing before a submission finished"
    task.migration_result_for_lineage = migration_result(CLUSTER_ID, "orders_to_dws", submission)
    lineage = task.get_openlineage_facets_on_complete(None)
    assert submission["submission-id"] == started["submission-id"]
    host = emulator.url.split("://")[1]
    namespace = f"dataarts://{host}/{CLUSTER_ID}"
    (source,) = lineage.inputs
    (target,) = lineage.outputs
    assert (source.namespace, source.name) == (f"{namespace}/mysql_link", "sales.orders")
    assert (target.namespace, target.name) == (f"{namespace}/dws_link", "public.orders")
    assert source.inputFacets["inputStatistics"].rowCount == 500
    assert target.outputFacets["outputStatistics"].rowCount == 500
    assert '"rowCount": 500' in Serde.to_json(target)


def test_without_a_definition_lineage_is_empty_and_says_why(
    emulator: DataArtsEmulator, dataarts_conn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("airflow.providers.openlineage")
    from airflow_provider_dataarts.operators.migration import DataArtsRunMigrationJobOperator

    task = DataArtsRunMigrationJobOperator(task_id="migrate", cluster_id=CLUSTER_ID, job_name="gone_job")
    task.migration_result_for_lineage = {
        "cluster_id": CLUSTER_ID,
        "job_name": "gone_job",
        "status": "SUCCEEDED",
    }
    lineage = task.get_openlineage_facets_on_complete(None)
    assert lineage.inputs == [] and lineage.outputs == []
    assert "OpenLineage: no definition of DataArts Migration job gone_job" in capsys.readouterr().out
