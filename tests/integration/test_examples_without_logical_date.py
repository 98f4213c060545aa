"""
Every example DAG in a run without a logical date: what ``airflow dags trigger`` and the REST API
create in Airflow 3 (only the UI's trigger dialog fills one in). ``{{ ds }}`` is undefined there.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from airflow import __version__ as airflow_version
from packaging.version import Version

from airflow_provider_dataarts.emulator import DataArtsEmulator
from tests.integration.dagrun import load_dag, run_dag

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.filterwarnings("ignore")]

FAST = 0.2
# dag id -> (the task to speed up, its interval attribute, the run's state, each task's state)
EXAMPLES: dict[str, tuple[str, str, str, dict[str, str]]] = {
    "example_dataarts_quality": (
        "wait_for_quality_instance",
        "poke_interval",
        "success",
        {"rerun_quality_job": "success", "wait_for_quality_instance": "success", "report": "success"},
    ),
    "example_dataarts_quality_wait": (
        "rerun_and_wait",
        "poll_interval",
        "success",
        {"rerun_and_wait": "success"},
    ),
    # Documented: orders_freshness ends ALARMING, so the gate fails and the owner is notified.
    "example_dataarts_quality_gate": (
        "quality_gate",
        "poll_interval",
        "failed",
        {"quality_gate": "failed", "load_orders": "upstream_failed", "notify_data_owner": "success"},
    ),
    "example_dataarts_script": (
        "run_script",
        "poll_interval",
        "success",
        {"run_script": "success", "revenue_by_region": "success"},
    ),
}


@pytest.mark.parametrize("dag_id", list(EXAMPLES))
def test_example_runs_without_a_logical_date(
    dag_id: str, emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    task_id, interval, run_state, states = EXAMPLES[dag_id]
    outcome = run_dag(load_dag(dag_id), without_logical_date=True, **{task_id: {interval: FAST}})
    assert outcome.logical_date is None
    assert outcome.states == states
    assert outcome.state == run_state
    if dag_id == "example_dataarts_script":
        (instance,) = emulator.state.script_instances.values()
        assert instance.params == {"date": outcome.run_after.strftime("%Y-%m-%d")}


def airflow(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{db}"}
    return subprocess.run(
        [sys.executable, "-m", "airflow", *args], capture_output=True, text=True, timeout=300, env=env
    )


def private_copy(db: Path, target: Path) -> Path:
    """
    A copy of the test database for ``airflow`` commands to write: SQLite files that this process
    has open and other processes write to were seen corrupted ("database disk image is
    malformed"), which broke every later test of the session.
    """
    with sqlite3.connect(db) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    return target


@pytest.mark.skipif(
    Version(airflow_version) < Version("3.2"),
    reason="before Airflow 3.2, `airflow tasks test` fails on a run no scheduler has started "
    "(dag_run.start_date is None: a TIRunContext validation error, yet exit code 0)",
)
def test_the_script_example_triggered_from_the_cli(
    emulator: DataArtsEmulator, dataarts_conn: str, airflow_db: Path, tmp_path: Path
) -> None:
    """`airflow dags trigger` with no date, then each task of that run, as a worker would run it."""
    db = private_copy(airflow_db / "airflow.db", tmp_path / "airflow.db")
    assert airflow("dags", "reserialize", db=db).returncode == 0
    run_id = f"cli_{time.time_ns()}"
    triggered = airflow("dags", "trigger", "example_dataarts_script", "--run-id", run_id, db=db)
    assert triggered.returncode == 0, triggered.stderr[-3000:]
    for task_id in ("run_script", "revenue_by_region"):
        ran = airflow("tasks", "test", "example_dataarts_script", task_id, run_id, db=db)
        assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
        assert "UndefinedError" not in ran.stdout + ran.stderr

    # What the task log shows (Airflow 3.1's `tasks test` keeps no XCom row to read back).
    assert "Returned value was: {'north': 18234.5, 'south': 15880.25, 'west': 12011.0}" in ran.stdout
    with sqlite3.connect(db) as copy:
        logical_date, run_after = copy.execute(
            "SELECT logical_date, run_after FROM dag_run WHERE run_id = ?", (run_id,)
        ).fetchone()
    assert logical_date is None
    (instance,) = emulator.state.script_instances.values()
    assert instance.params == {"date": str(run_after)[:10]}
