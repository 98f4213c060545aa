"""DataArtsExecuteScriptOperator under dag.test() against the emulator."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.operators.script import DataArtsExecuteScriptOperator
from tests.integration.dagrun import RunOutcome, load_dag, run_dag

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.filterwarnings("ignore")]

MODES = {"deferrable": {"deferrable": True}, "sync": {"deferrable": False}}


def run_script(script_name: str, **changes: object) -> RunOutcome:
    return run_dag(load_dag("test_script"), {"script_name": script_name}, run=changes)


@pytest.mark.parametrize("mode", list(MODES))
def test_rows_come_back_as_records(mode: str, emulator: DataArtsEmulator, dataarts_conn: str) -> None:
    outcome = run_script("daily_orders_sql", **MODES[mode])
    assert outcome.states == {"run": "success"}
    instance_id = outcome.xcom("run", "instance_id")
    result = outcome.xcom("run")
    assert result["instance_id"] == instance_id
    assert result["script_name"] == "daily_orders_sql"
    assert result["status"] == "FINISHED"
    (result_set,) = result["results"]
    assert result_set["rowCount"] == 3
    assert [r["region"] for r in result_set["records"]] == ["north", "south", "west"]
    day = emulator.script_instance("daily_orders_sql", instance_id)["params"]["date"]
    assert all(record["order_date"] == day for record in result_set["records"])
    columns = ["order_date", "region", "orders", "revenue"]
    (served,) = emulator.script_instance("daily_orders_sql", instance_id)["results"]
    assert result_set["records"] == [dict(zip(columns, row, strict=True)) for row in served["rows"]]
    assert "rows" not in result_set
    assert emulator.count("POST", "/execute") == 1


@pytest.mark.parametrize("mode", list(MODES))
def test_a_failed_script_fails_with_its_message(
    mode: str, emulator: DataArtsEmulator, dataarts_conn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = run_script("failing_sql", **MODES[mode])
    assert outcome.states == {"run": "failed"}
    assert outcome.xcom("run", "instance_id")
    out = capsys.readouterr()
    assert "Table dws.orders_missing does not exist" in out.out + out.err


@pytest.mark.parametrize("mode", list(MODES))
def test_timeout(mode: str, emulator: DataArtsEmulator, dataarts_conn: str) -> None:
    outcome = run_script("slow_script", timeout=1, **MODES[mode])
    assert outcome.states == {"run": "failed"}


@pytest.mark.parametrize("mode", list(MODES))
def test_max_rows_bounds_what_goes_to_xcom(
    mode: str, emulator: DataArtsEmulator, dataarts_conn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = run_script("big_result_sql", max_rows=100, **MODES[mode])
    (result_set,) = outcome.xcom("run")["results"]
    assert len(result_set["records"]) == 100
    assert result_set["rowCount"] == 2500
    assert result_set["records"][99] == {"id": 99, "value": "value-99"}
    out = capsys.readouterr()
    assert "returned 2500 rows; kept the first 100" in out.out + out.err


def test_older_services_result_and_snake_case_ids(emulator: DataArtsEmulator, dataarts_conn: str) -> None:
    emulator.add_script("legacy_sql", legacy=True, schema=[{"n": "int"}], rows=[[1], [2]])
    outcome = run_script("legacy_sql", deferrable=True)
    assert outcome.states == {"run": "success"}
    assert outcome.xcom("run")["results"][0]["records"] == [{"n": 1}, {"n": 2}]


def test_without_waiting_it_returns_the_instance_id(emulator: DataArtsEmulator, dataarts_conn: str) -> None:
    outcome = run_script("slow_script", wait_for_completion=False)
    assert outcome.states == {"run": "success"}
    assert outcome.xcom("run") == outcome.xcom("run", "instance_id")
    assert emulator.count("GET") == 0


def test_a_retry_reconnects_instead_of_executing_again(
    emulator: DataArtsEmulator, connect: Callable[..., str]
) -> None:
    connect("aksk", max_retries=0)
    emulator.add_script("three_second_sql", schema=[{"n": "int"}], rows=[[7]], run_seconds=3)
    # The first try's first status check fails (a 400 is not retried): the task is retried.
    emulator.inject("status", status=400, method="GET", path="/instances/", count=1)
    outcome = run_script("three_second_sql", deferrable=False, retries=1, retry_delay=timedelta(0))
    assert outcome.states == {"run": "success"}
    assert emulator.count("POST", "/execute") == 1
    assert outcome.xcom("run")["results"][0]["records"] == [{"n": 7}]


@pytest.mark.parametrize("bad", [["a", "list"], 42])
def test_script_params_must_be_a_dict(bad: object) -> None:
    with pytest.raises(ValueError, match="script_params must be a dict"):
        DataArtsExecuteScriptOperator(task_id="run", script_name="x", script_params=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "size"),
    [
        ({}, (30_000, 40_000)),
        ({"include_rows": True}, (50_000, 60_000)),
        ({"max_xcom_bytes": 10_000}, (9_000, 10_000)),
    ],
    ids=["records", "records-and-rows", "byte-bound"],
)
def test_what_1000_rows_cost_in_xcom(
    changes: dict[str, object], size: tuple[int, int], emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    """The XCom as stored (JSON), measured: by default records alone, not the same data twice."""
    outcome = run_script("big_result_sql", deferrable=False, **changes)
    result = outcome.xcom("run")
    (result_set,) = result["results"]
    assert ("rows" in result_set) is bool(changes.get("include_rows"))
    assert size[0] < len(json.dumps(result)) <= size[1]
    kept = len(result_set["records"])
    assert kept == 1000 if "max_xcom_bytes" not in changes else 100 < kept < 1000
    assert result_set["records"][kept - 1] == {"id": kept - 1, "value": f"value-{kept - 1}"}
