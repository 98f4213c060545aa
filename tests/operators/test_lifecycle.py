"""
Retries and lost answers of the operators, and the checks made before any request, under
``dag.test()`` against the emulator. (Clears, marks, kills and the triggerer are exercised on a
real Airflow in tests/system/.)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from tests.integration.dagrun import load_dag, run_dag

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.filterwarnings("ignore")]

FAST = 0.2
MODES = {"sync": {"deferrable": False}, "deferrable": {"deferrable": True}}
# The emulator lists an instance at once: the search for a lost answer's instance waits out this
# grace (extra ``not_listed_grace``) rather than the default 2 minutes, as in test_lost_answers.py.
LIST_GRACE = 1


def job_instances(emulator: DataArtsEmulator, job_name: str) -> list[str]:
    job = emulator.state.job_by_name(job_name)
    return [str(instance.id) for instance in emulator.state.by_job.get(job.id, [])]


@pytest.mark.parametrize("mode", list(MODES))
def test_a_rerun_whose_answer_was_lost_is_adopted_not_sent_again(
    mode: str, emulator: DataArtsEmulator, connect: Callable[..., str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The rerun reached DataArts, then the connection broke: the instance it started is adopted."""
    connect("aksk", not_listed_grace=LIST_GRACE)
    emulator.add_quality_job("lost_answer_job", run_seconds=0.5)
    emulator.inject("reset", method="POST", path="/instances/restart", when="after")
    outcome = run_dag(
        load_dag("example_dataarts_quality_gate"),
        {"job_name": "lost_answer_job"},
        quality_gate={"retries": 2, "retry_delay": timedelta(0), "poll_interval": FAST, **MODES[mode]},
    )
    assert outcome.states["quality_gate"] == "success"
    assert emulator.count("POST", "/instances/restart") == 1, "never a second run"
    (instance_id,) = job_instances(emulator, "lost_answer_job")
    assert outcome.xcom("quality_gate") == instance_id
    assert outcome.xcom("quality_gate", "quality_result")["instance_id"] == instance_id
    out = capsys.readouterr()
    assert f"Adopting DataArts quality instance {instance_id}" in out.out + out.err


def test_a_lost_rerun_answer_adopts_nothing_older(
    emulator: DataArtsEmulator, connect: Callable[..., str]
) -> None:
    """An instance of the same job that ran just before is not mistaken for the one just started."""
    connect("aksk", not_listed_grace=LIST_GRACE)
    emulator.add_quality_job("busy_job", run_seconds=0.3)
    earlier = run_dag(
        load_dag("example_dataarts_quality_gate"),
        {"job_name": "busy_job"},
        quality_gate={"poll_interval": FAST, "deferrable": False},
    )
    assert earlier.states["quality_gate"] == "success"
    emulator.inject("reset", method="POST", path="/instances/restart", when="after")
    outcome = run_dag(
        load_dag("example_dataarts_quality_gate"),
        {"job_name": "busy_job"},
        quality_gate={"poll_interval": FAST, "deferrable": False},
    )
    assert outcome.states["quality_gate"] == "success"
    first, second = job_instances(emulator, "busy_job")
    assert earlier.xcom("quality_gate") == first
    assert outcome.xcom("quality_gate") == second


def test_a_script_whose_execute_answer_was_lost_fails_without_retry(
    emulator: DataArtsEmulator, dataarts_conn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """No call lists script instances: rather than risk a second execution, the try fails, once."""
    emulator.inject("reset", method="POST", path="/execute", when="after")
    outcome = run_dag(
        load_dag("test_script"),
        {"script_name": "daily_orders_sql"},
        run={"retries": 3, "retry_delay": timedelta(0), "deferrable": False},
    )
    assert outcome.states == {"run": "failed"}
    assert outcome.tries["run"] == 1, "not retried"
    assert emulator.count("POST", "/execute") == 1
    out = capsys.readouterr().out
    assert "DataArts may have started script daily_orders_sql" in out
    assert "check its instances in DataArts Factory" in out


def test_an_execute_that_surely_failed_is_retried(emulator: DataArtsEmulator, dataarts_conn: str) -> None:
    """A 400 proves nothing started: the retry executes the script (one instance in all)."""
    emulator.inject("status", status=400, method="POST", path="/execute")
    outcome = run_dag(
        load_dag("test_script"),
        {"script_name": "daily_orders_sql"},
        run={"retries": 1, "retry_delay": timedelta(0), "deferrable": False},
    )
    assert outcome.states == {"run": "success"}
    assert outcome.tries["run"] == 2
    assert emulator.count("POST", "/execute") == 2
    started = [i for i in emulator.state.script_instances.values() if i.script.name == "daily_orders_sql"]
    assert len(started) == 1


@pytest.mark.parametrize("mode", list(MODES))
def test_a_failed_script_runs_again_on_retry(
    mode: str, emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    """FAILED is a verdict: the retry executes the script anew instead of re-reading the failure."""
    outcome = run_dag(
        load_dag("test_script"),
        {"script_name": "failing_sql"},
        run={"retries": 1, "retry_delay": timedelta(0), **MODES[mode]},
    )
    assert outcome.states == {"run": "failed"}
    assert outcome.tries["run"] == 2
    assert emulator.count("POST", "/execute") == 2


def test_a_retry_waits_for_an_instance_not_listed_yet(
    emulator: DataArtsEmulator, connect: Callable[..., str]
) -> None:
    """The first try dies at its first check; the instance is not listed yet: the retry waits, no rerun."""
    connect("aksk", max_retries=0)
    emulator.add_quality_job("laggy_job", run_seconds=0.5, list_lag=2.0)
    # The first list call (before the rerun) goes through; the first check after it fails.
    emulator.inject("status", status=403, method="GET", path="/quality/instances", count=1, skip=1)
    outcome = run_dag(
        load_dag("example_dataarts_quality_gate"),
        {"job_name": "laggy_job"},
        quality_gate={"retries": 1, "retry_delay": timedelta(0), "deferrable": False, "poll_interval": FAST},
    )
    assert outcome.states["quality_gate"] == "success"
    assert outcome.tries["quality_gate"] == 2
    assert emulator.count("POST", "/instances/restart") == 1


def test_an_unknown_console_url_placeholder_fails_before_the_rerun(
    emulator: DataArtsEmulator, connect: Callable[..., str], capsys: pytest.CaptureFixture[str]
) -> None:
    connect("aksk", console_url="https://console.example/{instanceId}")
    outcome = run_dag(
        load_dag("example_dataarts_quality_gate"),
        {"job_name": "orders_completeness"},
        quality_gate={"retries": 2, "retry_delay": timedelta(0), "poll_interval": FAST},
    )
    assert outcome.states["quality_gate"] == "failed"
    assert emulator.count("POST", "/instances/restart") == 0, "no run started for a bad setting"
    out = capsys.readouterr()
    assert "extra.console_url has an unknown placeholder {instanceId}" in out.out + out.err


@pytest.mark.parametrize("mode", list(MODES))
def test_the_timeout_bounds_the_retries_inside_a_check(
    mode: str, emulator: DataArtsEmulator, connect: Callable[..., str]
) -> None:
    """DataArts throttles every check with Retry-After 30 s: the task still ends at its 2 s timeout."""
    connect("aksk", max_retries=5)
    emulator.add_quality_job("throttled_job", run_seconds=60)
    emulator.inject("status", status=429, retry_after=30, method="GET", path="/quality/instances", count=50)
    started = time.monotonic()
    outcome = run_dag(
        load_dag("example_dataarts_quality_gate"),
        {"job_name": "throttled_job"},
        quality_gate={"timeout": 2, "poll_interval": FAST, **MODES[mode]},
    )
    elapsed = time.monotonic() - started
    assert outcome.states["quality_gate"] == "failed"
    assert elapsed < 15, f"the 2 s timeout took {elapsed:.1f} s"
