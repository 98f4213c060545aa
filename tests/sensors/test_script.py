"""DataArtsScriptInstanceSensor in poke, reschedule and deferrable modes."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.hooks.dataarts import DataArtsHook
from tests.integration.dagrun import RunOutcome, load_dag, run_dag

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.filterwarnings("ignore")]

MODES = {
    "poke": {"mode": "poke", "deferrable": False},
    "reschedule": {"mode": "reschedule", "deferrable": False},
    "deferrable": {"deferrable": True},
}


def sense(conn_id: str, script: str, **changes: Any) -> tuple[str, RunOutcome]:
    instance_id = DataArtsHook(conn_id).execute_script(script, {"date": "2026-11-23"})
    conf = {"script_name": script, "instance_id": instance_id}
    return instance_id, run_dag(load_dag("test_script_sensor"), conf, wait=changes)


@pytest.mark.parametrize("mode", list(MODES))
def test_finished_returns_records(mode: str, emulator: DataArtsEmulator, dataarts_conn: str) -> None:
    instance_id, outcome = sense(dataarts_conn, "daily_orders_sql", timeout=30, **MODES[mode])
    assert outcome.states == {"wait": "success"}
    result = outcome.xcom("wait")
    assert result["instance_id"] == instance_id
    assert result["results"][0]["records"][0]["order_date"] == "2026-11-23"


@pytest.mark.parametrize("mode", ["poke", "deferrable"])
def test_failed_fails(mode: str, emulator: DataArtsEmulator, dataarts_conn: str) -> None:
    _, outcome = sense(dataarts_conn, "failing_sql", timeout=30, **MODES[mode])
    assert outcome.states == {"wait": "failed"}


@pytest.mark.parametrize("mode", ["poke", "deferrable"])
@pytest.mark.parametrize("soft_fail", [True, False])
def test_timeout_and_soft_fail_agree(
    mode: str, soft_fail: bool, emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    _, outcome = sense(dataarts_conn, "slow_script", timeout=1, soft_fail=soft_fail, **MODES[mode])
    assert outcome.states == {"wait": "skipped" if soft_fail else "failed"}
