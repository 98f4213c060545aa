"""DataArtsScriptInstanceSensor in poke, reschedule and deferrable modes."""

from __future__ import annotations

import json
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
@pytest.mark.parametrize("soft_fail", [True, False])
def test_failed_fails_or_skips_with_soft_fail(
    mode: str,
    soft_fail: bool,
    emulator: DataArtsEmulator,
    dataarts_conn: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, outcome = sense(dataarts_conn, "failing_sql", timeout=30, soft_fail=soft_fail, **MODES[mode])
    assert outcome.states == {"wait": "skipped" if soft_fail else "failed"}
    out = capsys.readouterr()
    assert "Table dws.orders_missing does not exist" in out.out + out.err


@pytest.mark.parametrize("mode", ["poke", "deferrable"])
def test_max_rows_bounds_what_goes_to_xcom(mode: str, emulator: DataArtsEmulator, dataarts_conn: str) -> None:
    _, outcome = sense(dataarts_conn, "big_result_sql", timeout=30, max_rows=10, **MODES[mode])
    (result_set,) = outcome.xcom("wait")["results"]
    assert result_set["rowCount"] == 2500
    assert result_set["records"] == [{"id": i, "value": f"value-{i}"} for i in range(10)]


def test_older_services_result_list(emulator: DataArtsEmulator, dataarts_conn: str) -> None:
    emulator.add_script("legacy_sql", legacy=True, schema=[{"n": "int"}], rows=[[1], [2]])
    _, outcome = sense(dataarts_conn, "legacy_sql", timeout=30, **MODES["poke"])
    assert outcome.states == {"wait": "success"}
    assert outcome.xcom("wait")["results"][0]["records"] == [{"n": 1}, {"n": 2}]


@pytest.mark.parametrize("mode", ["poke", "deferrable"])
@pytest.mark.parametrize("soft_fail", [True, False])
def test_timeout_and_soft_fail_agree(
    mode: str, soft_fail: bool, emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    _, outcome = sense(dataarts_conn, "slow_script", timeout=1, soft_fail=soft_fail, **MODES[mode])
    assert outcome.states == {"wait": "skipped" if soft_fail else "failed"}


@pytest.mark.parametrize("mode", ["poke", "deferrable"])
def test_include_rows_and_max_xcom_bytes(
    mode: str, emulator: DataArtsEmulator, dataarts_conn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, outcome = sense(
        dataarts_conn, "big_result_sql", timeout=30, include_rows=True, max_xcom_bytes=4000, **MODES[mode]
    )
    (result_set,) = outcome.xcom("wait")["results"]
    kept = len(result_set["records"])
    assert 0 < kept < 1000
    assert result_set["rows"] == [[i, f"value-{i}"] for i in range(kept)]
    assert len(json.dumps(outcome.xcom("wait"))) <= 4000
    out = capsys.readouterr()
    assert f"returned 2500 rows; kept the first {kept} in XCom (max_xcom_bytes=4000" in out.out + out.err
