"""Asset events carry the DataArts verdict: set on the outlets of a passing gate, never of a failing one."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_dataarts.assets import quality_event_extra, quality_verdict_of
from airflow_provider_dataarts.emulator import DataArtsEmulator
from tests.integration.dagrun import load_dag, run_dag

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.filterwarnings("ignore")]


def asset_events(asset_name: str, run_id: str | None = None) -> list[dict[str, Any]]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetModel.name == asset_name)
        )
        return [dict(row.extra) for row in rows if run_id is None or row.source_run_id == run_id]


def latest_run_id(dag_id: str) -> str:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        run = session.query(DagRun).filter(DagRun.dag_id == dag_id).order_by(DagRun.id.desc()).first()
        return run.run_id


@pytest.mark.parametrize("deferrable", [False, True], ids=["poll", "deferrable"])
def test_a_passing_gate_puts_the_verdict_on_its_outlet(
    deferrable: bool, emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    dag = load_dag("example_dataarts_quality_asset_producer")
    outcome = run_dag(dag, quality_gate={"deferrable": deferrable, "poll_interval": 0.2})

    assert outcome.states == {"quality_gate": "success"}
    instance_id = outcome.xcom("quality_gate")
    events = asset_events("dataarts_checked_orders", latest_run_id(dag.dag_id))
    job = emulator.state.job_by_name("orders_completeness")
    assert events == [
        {
            "dataarts_instance_id": instance_id,
            "job_name": "orders_completeness",
            "run_status": "SUCCESS",
            "sub_rules": job.sub_rules,
            "alarming_sub_rules": [],
            "verdict": "passed",
        }
    ]


@pytest.mark.parametrize("job", ["orders_freshness", "orders_broken"])
def test_a_failing_gate_emits_no_asset_event(
    job: str, emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    dag = load_dag("example_dataarts_quality_asset_producer")
    outcome = run_dag(dag, {"job_name": job}, quality_gate={"poll_interval": 0.2})

    assert outcome.states == {"quality_gate": "failed"}
    assert outcome.xcom("quality_gate", "quality_result")["run_status"] in ("ALARMING", "FAILED")
    assert asset_events("dataarts_checked_orders", latest_run_id(dag.dag_id)) == []


def test_with_fail_on_alarm_off_every_outlet_carries_the_alarm(
    emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    from airflow_provider_dataarts.hooks.dataarts import DataArtsHook

    hook = DataArtsHook(dataarts_conn)
    instance_id = hook.rerun_quality_job(hook.resolve_job_id("orders_freshness"))
    time.sleep(1)
    dag = load_dag("test_quality_sensor_outlet")
    outcome = run_dag(dag, {"instance_id": instance_id})

    assert outcome.states == {"wait": "success"}
    job = emulator.state.job_by_name("orders_freshness")
    expected = {
        "dataarts_instance_id": instance_id,
        "job_name": "orders_freshness",
        "run_status": "ALARMING",
        "sub_rules": 4,
        "alarming_sub_rules": [str(i) for i in job.sub_rule_ids[:2]],
        "verdict": "passed_with_warnings",
    }
    run_id = latest_run_id(dag.dag_id)
    assert asset_events("test_sensor_checked", run_id) == [expected]
    assert asset_events("test_sensor_checked_too", run_id) == [expected]


def test_the_verdict_reads_the_same_from_a_task_event_and_a_watcher_event() -> None:
    result = {
        "instance_id": 1012386190718128129,
        "run_status": "SUCCESS",
        "instance": {"name": "orders_completeness"},
        "sub_rules": [{"sub_rule_id": 1012386182602149888, "results": [{"Status": "true"}]}],
    }
    extra = quality_event_extra(result)
    assert extra["dataarts_instance_id"] == "1012386190718128129"
    assert extra["alarming_sub_rules"] == []
    from_task = SimpleNamespace(extra=extra)
    from_watcher = SimpleNamespace(extra={"from_trigger": True, "payload": extra})
    assert quality_verdict_of(from_task) == quality_verdict_of(from_watcher) == extra
    assert quality_verdict_of(SimpleNamespace(extra={})) is None
