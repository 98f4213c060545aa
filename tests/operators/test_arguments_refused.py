"""
Issue 23, finding 6: every argument is checked in ``validate()``, before the run record is written
and before any request. A refused argument fails the task without retry (a retry renders the same
values), naming it; nothing reaches DataArts, and no retry takes the refusal for a lost answer.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from tests.integration.dagrun import RunOutcome, load_dag, run_dag

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.filterwarnings("ignore")]

RETRY = {"retries": 2, "retry_delay": timedelta(0), "deferrable": False}


def refused(outcome: RunOutcome, task_id: str, parameter: str, emulator: DataArtsEmulator, out: str) -> None:
    assert outcome.states[task_id] == "failed"
    assert outcome.tries[task_id] == 1, "a refused argument is not retried"
    assert f"{parameter}" in out
    assert "may have started" not in out
    assert emulator.count() == 0, "nothing was sent"


def output(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    return captured.out + captured.err


@pytest.mark.parametrize(
    ("changes", "parameter"),
    [
        ({"script_params": {"a": None}}, "script_params['a']"),
        ({"script_params": {"a": [1]}}, "script_params['a']"),
        ({"script_params": {"": "x"}}, "script_params: every key"),
        ({"script_params": "{'a': 1}"}, "script_params must be a dict"),
        ({"script_name": "dir/daily_orders_sql"}, "script_name 'dir/daily_orders_sql'"),
        ({"script_name": ""}, "script_name must not be empty"),
    ],
)
def test_a_refused_script_argument(
    changes: dict[str, Any],
    parameter: str,
    emulator: DataArtsEmulator,
    dataarts_conn: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    outcome = run_dag(load_dag("test_script"), {"script_name": "daily_orders_sql"}, run={**RETRY, **changes})
    refused(outcome, "run", parameter, emulator, output(capsys))


@pytest.mark.parametrize(
    "rule_id",
    ["", "  ", "1.5", 1.5, True, [1, 2], 1.0123861907181289e18, "12a", "1/2", "١٢"],
)
def test_a_refused_rule_id(
    rule_id: Any, emulator: DataArtsEmulator, dataarts_conn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = run_dag(
        load_dag("example_dataarts_quality_gate"),
        quality_gate={**RETRY, "rule_id": rule_id, "job_name": None},
    )
    refused(outcome, "quality_gate", "rule_id", emulator, output(capsys))


def test_a_rule_id_as_an_int_or_digits_is_sent_as_digits(
    emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    rule_id = emulator.job_id("orders_completeness")
    outcome = run_dag(
        load_dag("example_dataarts_quality_gate"),
        quality_gate={**RETRY, "rule_id": int(rule_id), "job_name": None, "poll_interval": 0.2},
    )
    assert outcome.states["quality_gate"] == "success"
    (rerun,) = [r for r in emulator.requests if r["path"].endswith("/restart")]
    assert rerun["body"]["rule_id"] == rule_id


def test_a_refused_job_name(
    emulator: DataArtsEmulator, dataarts_conn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = run_dag(load_dag("test_job"), run={**RETRY, "job_name": "folder/daily_orders"})
    refused(outcome, "run", "job_name 'folder/daily_orders'", emulator, output(capsys))


@pytest.mark.parametrize(
    ("dag_id", "conf", "parameter"),
    [
        ("test_script_sensor", {"script_name": "a/b", "instance_id": "1"}, "script_name 'a/b'"),
        (
            "test_script_sensor",
            {"script_name": "daily_orders_sql", "instance_id": ""},
            "instance_id must not",
        ),
        ("test_quality_sensor", {"instance_id": ""}, "instance_id must not be empty"),
        ("test_quality_sensor", {"instance_id": "1", "started_after": "someday"}, "started_after"),
        ("test_job_instance_sensor", {"job_name": "a/b", "instance_id": "1"}, "job_name 'a/b'"),
    ],
)
def test_a_refused_sensor_argument(
    dag_id: str,
    conf: dict[str, Any],
    parameter: str,
    emulator: DataArtsEmulator,
    dataarts_conn: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    outcome = run_dag(load_dag(dag_id), conf, wait={"retries": 2, "retry_delay": timedelta(0)})
    refused(outcome, "wait", parameter, emulator, output(capsys))
