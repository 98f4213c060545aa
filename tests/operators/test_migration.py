"""
DataArtsRunMigrationJobOperator under ``dag.test()`` against the emulator: results, failures with
DataArts' error summary, lost start answers, a job already running, bad input. (Clears, marks, kills
and shutdowns: tests/system/test_migration.py.)
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from tests.integration.dagrun import load_dag, run_dag

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.filterwarnings("ignore")]

MODES = {"sync": {"deferrable": False}, "deferrable": {"deferrable": True}}
FAST = {"boot_seconds": 0.1, "run_seconds": 0.4, "rows": 321}


def migrate(job_name: str, variables: Any = None, **changes: Any) -> Any:
    conf = {"job_name": job_name, "variables": variables if variables is not None else {"day": "2026-12-01"}}
    return run_dag(load_dag("test_migration"), conf, migrate=changes)


@pytest.mark.parametrize("mode", list(MODES))
def test_a_migration_pushes_its_id_link_and_row_counts(
    mode: str, emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    emulator.add_migration_job("fast_job", **FAST)
    outcome = migrate("fast_job", {"day": "2026-12-01", "batch": 3}, **MODES[mode])
    assert outcome.states == {"migrate": "success"}
    (submission,) = emulator.migration_submissions("fast_job")
    assert submission["variables"] == {"day": "2026-12-01", "batch": "3"}
    submission_id = str(submission["submission-id"])
    assert outcome.xcom("migrate") == submission_id
    assert "clusterId=00000000-0000-4000-8000-000000000cd1" in outcome.xcom("migrate", "instance_url")
    result = outcome.xcom("migrate", "migration_result")
    assert set(result) == {
        "submission_id", "job_name", "cluster_id", "status", "progress", "creation_date", "execute_date",
        "last_update_date", "rows_written", "rows_updated", "rows_deleted", "counters", "error_summary",
        "error_details",
    }  # fmt: skip
    assert (result["submission_id"], result["job_name"], result["status"]) == (
        submission_id,
        "fast_job",
        "SUCCEEDED",
    )
    assert result["rows_written"] == 321 and result["counters"]["rows_read"] == 321
    assert result["cluster_id"] == "00000000-0000-4000-8000-000000000cd1"


@pytest.mark.parametrize("mode", list(MODES))
def test_a_failed_migration_fails_with_dataarts_error_summary_after_its_result(
    mode: str, emulator: DataArtsEmulator, dataarts_conn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.add_migration_job(
        "bad_job", outcome="FAILED", error_summary="Table public.x does not exist.", **FAST
    )
    outcome = migrate("bad_job", **MODES[mode])
    assert outcome.states == {"migrate": "failed"}
    result = outcome.xcom("migrate", "migration_result")
    assert result["status"] == "FAILED" and result["error_summary"] == "Table public.x does not exist."
    assert "is FAILED: Table public.x does not exist." in capsys.readouterr().out


def test_a_start_whose_answer_was_lost_adopts_the_one_new_submission(
    emulator: DataArtsEmulator, connect: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    connect("aksk", not_listed_grace=1)
    emulator.add_migration_job("fast_job", **FAST)
    emulator.state.migration.start("00000000-0000-4000-8000-000000000cd1", "fast_job", None)  # never ours
    time.sleep(0.6)
    emulator.inject("reset", method="PUT", path="/start", when="after")
    outcome = migrate("fast_job", retries=2, retry_delay=timedelta(0), deferrable=False)
    assert outcome.states == {"migrate": "success"}
    assert emulator.count("PUT", "/start") == 1, "never a second start"
    ids = [str(s["submission-id"]) for s in emulator.migration_submissions("fast_job")]
    assert len(ids) == 2 and outcome.xcom("migrate") == ids[1]
    assert f"Adopting DataArts migration submission {ids[1]}" in capsys.readouterr().out


def test_a_start_lost_before_it_arrived_starts_the_job_again(
    emulator: DataArtsEmulator, connect: Any
) -> None:
    connect("aksk", not_listed_grace=0.5)
    emulator.add_migration_job("fast_job", **FAST)
    emulator.inject("status", status=504, method="PUT", path="/start")  # the gateway timed out: no run
    outcome = migrate("fast_job", deferrable=False)
    assert outcome.states == {"migrate": "success"}
    assert emulator.count("PUT", "/start") == 2
    assert len(emulator.migration_submissions("fast_job")) == 1


def test_a_lost_answer_with_two_candidates_fails_without_retry_naming_them(
    emulator: DataArtsEmulator, connect: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    connect("aksk", not_listed_grace=1.5)
    emulator.add_migration_job("busy_job", boot_seconds=0.0, run_seconds=0.1)
    emulator.inject("reset", method="PUT", path="/start", when="after")

    def someone_else_starts_it_after_ours_ended() -> None:
        deadline = time.time() + 60
        while emulator.count("PUT", "/start") == 0 and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)
        emulator.state.migration.start("00000000-0000-4000-8000-000000000cd1", "busy_job", None)

    other = threading.Thread(target=someone_else_starts_it_after_ours_ended)
    other.start()
    outcome = migrate("busy_job", retries=2, retry_delay=timedelta(0), deferrable=False)
    other.join()
    assert outcome.states == {"migrate": "failed"}
    assert outcome.tries["migrate"] == 1, "not retried"
    assert emulator.count("PUT", "/start") == 1
    out = capsys.readouterr().out
    for submission in emulator.migration_submissions("busy_job"):
        assert str(submission["submission-id"]) in out
    assert "started inside its time window" in out and "fails without retry" in out


def test_a_job_already_running_is_not_adopted_and_the_task_says_which_runs(
    emulator: DataArtsEmulator, dataarts_conn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.add_migration_job("long_job", boot_seconds=0.1, run_seconds=60)
    foreign = emulator.state.migration.start("00000000-0000-4000-8000-000000000cd1", "long_job", None)
    outcome = migrate("long_job", deferrable=False)
    assert outcome.states == {"migrate": "failed"}
    assert outcome.xcom("migrate") is None, "another's run is never reported as this task's"
    out = capsys.readouterr().out
    assert f"DataArts Migration job long_job is already running (submission {foreign.id}" in out
    assert len(emulator.migration_submissions("long_job")) == 1


@pytest.mark.parametrize(
    ("job_name", "variables", "said"),
    [
        ("no_such_job", None, "job_name 'no_such_job': DataArts Migration cluster"),
        ("orders_to_dws", {"day": ["2026-12-01"]}, "variables['day'] is a list"),
        ("orders_to_dws", "day=2026-12-01", "variables must be a dict"),
    ],
)
def test_bad_input_fails_without_retry_naming_it(
    job_name: str, variables: Any, said: str, emulator: DataArtsEmulator, dataarts_conn: str,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    outcome = migrate(job_name, variables, retries=2, retry_delay=timedelta(0), deferrable=False)
    assert outcome.states == {"migrate": "failed"} and outcome.tries["migrate"] == 1
    assert said in capsys.readouterr().out
    assert emulator.migration_submissions() == []


@pytest.mark.parametrize("mode", list(MODES))
def test_execution_timeout_stops_the_submission_and_the_retry_starts_a_new_one(
    mode: str, emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    emulator.add_migration_job("long_job", boot_seconds=0.1, run_seconds=3600)
    outcome = migrate(
        "long_job", execution_timeout=timedelta(seconds=3), retries=1, retry_delay=timedelta(0), **MODES[mode]
    )
    assert outcome.states == {"migrate": "failed"} and outcome.tries["migrate"] == 2
    started = emulator.migration_submissions("long_job")
    assert len(started) == 2, "the retry started a new submission"
    assert [s["stopped"] for s in started] == [True, True]
    assert emulator.count("PUT", "/stop") == 2


@pytest.mark.parametrize("mode", list(MODES))
def test_a_stop_cdm_carries_out_slowly_is_waited_for_before_the_retry_starts_the_job(
    mode: str, emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    """
    CDM ends a stopped submission some seconds after it accepted the stop, and refuses to start the
    job meanwhile: the retry (or a cleared try) that stopped its own earlier submission waits for it
    to end, then starts the job; it never fails as if someone else's run were in the way.
    """
    emulator.add_migration_job("long_job", boot_seconds=0.1, run_seconds=3600, stop_seconds=2)
    outcome = migrate(
        "long_job", execution_timeout=timedelta(seconds=3), retries=1, retry_delay=timedelta(0), **MODES[mode]
    )
    started = emulator.migration_submissions("long_job")
    assert len(started) == 2, "the retry started the job once its stopped submission had ended"
    assert started[0]["stopped"] and started[0]["status"] == "FAILED"
    assert outcome.tries["migrate"] == 2
