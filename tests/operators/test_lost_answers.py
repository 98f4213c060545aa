"""
Issue 22, findings 4 and 5: a lost answer adopts only a run that is provably this task's (docs
"Retries, clears and kills", "A lost answer: what is provably ours"), for Factory jobs and quality
jobs, under ``dag.test()`` against the emulator.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from tests.integration.dagrun import load_dag, run_dag

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.filterwarnings("ignore")]

FAST = 0.2
NODES = [{"name": "extract", "type": "CDMJob", "seconds": 0.3}]


def after_the_post(
    emulator: DataArtsEmulator, path: str, seconds: float, then: Callable[[], Any]
) -> threading.Thread:
    """Run ``then`` ``seconds`` after the first POST to ``path`` reached the emulator (a console user)."""

    def wait_then_act() -> None:
        deadline = time.time() + 60
        while emulator.count("POST", path) == 0 and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(seconds)
        then()

    thread = threading.Thread(target=wait_then_act)
    thread.start()
    return thread


def run_job(job_name: str, **changes: Any) -> Any:
    return run_dag(load_dag("test_job"), {"job_name": job_name, "job_params": {}}, run=changes)


def test_a_lost_job_answer_never_adopts_a_console_run_started_after_the_post(
    emulator: DataArtsEmulator, connect: Callable[..., str]
) -> None:
    """
    Finding 4: a 502 that never reached DataArts, then a console run 3 s later (inside the old
    five-minute search, outside the POST's own window): the task runs the job itself and reports
    its own run, never the console run's failure.
    """
    connect("aksk", not_listed_grace=4)
    emulator.add_factory_job("shared_job", nodes=NODES, outcomes=["fail_at:1", "success"])
    emulator.inject("status", status=502, method="POST", path="/run-immediate")
    console: list[str] = []
    user = after_the_post(
        emulator,
        "/run-immediate",
        3.0,
        lambda: console.append(str(emulator.state.factory.run_immediate("shared_job", {}).id)),
    )
    outcome = run_job("shared_job", retries=0, deferrable=False, poll_interval=FAST)
    user.join()
    assert outcome.xcom("run") != console[0], "the console run is not this task's"
    assert outcome.states == {"run": "success"}
    assert outcome.xcom("run", "job_result")["status"] == "success"


def test_a_lost_job_answer_never_adopts_a_scheduled_instance(
    emulator: DataArtsEmulator, connect: Callable[..., str]
) -> None:
    """Finding 4: the schedule makes an instance right after a lost POST: not run once, not ours."""
    connect("aksk", not_listed_grace=2)
    emulator.add_factory_job("scheduled_job", nodes=NODES, outcomes=["fail_at:1", "success"])
    emulator.inject("reset", method="POST", path="/run-immediate")
    scheduled: list[str] = []
    user = after_the_post(
        emulator,
        "/run-immediate",
        0.0,
        lambda: scheduled.append(emulator.schedule_job_instance("scheduled_job", int(time.time() * 1000))),
    )
    outcome = run_job("scheduled_job", retries=0, deferrable=False, poll_interval=FAST)
    user.join()
    assert outcome.xcom("run") != scheduled[0]
    assert outcome.states == {"run": "success"}


def test_a_lost_quality_answer_never_adopts_a_console_run_inside_the_old_margin(
    emulator: DataArtsEmulator, connect: Callable[..., str]
) -> None:
    """
    Finding 5: a gateway 502 (the rerun never reached DataArts), then a console run 3 s later, inside
    the old 30 s widening: the window is now what the service's Date header measured, so the console
    run's ALARMING is not this task's; the task reruns and reports its own run.
    """
    connect("aksk", not_listed_grace=4)
    emulator.add_quality_job("shared_quality", run_seconds=0.3)
    emulator.inject("status", status=502, method="POST", path="/instances/restart")
    console: list[str] = []

    def console_run() -> None:
        emulator.add_quality_job("shared_quality", outcome="ALARMING", run_seconds=0.3)
        console.append(emulator.start_quality_instance("shared_quality"))
        emulator.add_quality_job("shared_quality", outcome="SUCCESS", run_seconds=0.3)

    user = after_the_post(emulator, "/instances/restart", 3.0, console_run)
    outcome = run_dag(
        load_dag("example_dataarts_quality_gate"),
        {"job_name": "shared_quality"},
        quality_gate={"retries": 0, "poll_interval": FAST, "deferrable": False, "wait_for_completion": True},
    )
    user.join()
    assert outcome.xcom("quality_gate") != console[0]
    assert outcome.states["quality_gate"] == "success"
    assert emulator.count("POST", "/instances/restart") == 2


def test_a_lost_quality_answer_while_others_run_the_job_fails_naming_the_candidate(
    emulator: DataArtsEmulator, connect: Callable[..., str], capsys: pytest.CaptureFixture[str]
) -> None:
    """
    Finding 5: the pre-rerun list shows a console run still going; the rerun's answer is lost and one
    instance started in its window. It may be the console user's second run: the try fails without
    retry naming it, rather than report a verdict that may be another's.
    """
    connect("aksk", not_listed_grace=1)
    emulator.add_quality_job("busy_quality", run_seconds=30)
    other = emulator.start_quality_instance("busy_quality")
    emulator.add_quality_job("busy_quality", run_seconds=0.3)
    emulator.inject("reset", method="POST", path="/instances/restart", when="after")
    outcome = run_dag(
        load_dag("example_dataarts_quality_gate"),
        {"job_name": "busy_quality"},
        quality_gate={"retries": 2, "retry_delay": timedelta(0), "poll_interval": FAST, "deferrable": False},
    )
    assert outcome.states["quality_gate"] == "failed"
    assert outcome.tries["quality_gate"] == 1, "not retried"
    assert emulator.count("POST", "/instances/restart") == 1, "never a second run"
    out = capsys.readouterr().out
    assert "others run this job too" in out and other in out


def test_a_run_never_listed_within_the_grace_is_not_run_a_second_time(
    emulator: DataArtsEmulator, connect: Callable[..., str], capsys: pytest.CaptureFixture[str]
) -> None:
    """
    Found by the model test (tests/model/, long run: quality in a worker, list lag 0.6 s over a
    0.15 s grace, the run ends before the grace): DataArts gave the id, the run ended before it
    was ever listed, its stop changed nothing, and the retry ran the job a second time. A run
    never listed within the grace now fails the task without retry, naming it.
    """
    connect("aksk", not_listed_grace=1)
    emulator.add_quality_job("unlisted_quality", run_seconds=0.3, list_lag=600)
    outcome = run_dag(
        load_dag("example_dataarts_quality_gate"),
        {"job_name": "unlisted_quality"},
        quality_gate={"retries": 2, "retry_delay": timedelta(0), "poll_interval": FAST, "deferrable": False},
    )
    assert outcome.states["quality_gate"] == "failed"
    assert emulator.count("POST", "/instances/restart") == 1, "never a second run"
    assert outcome.tries["quality_gate"] == 1, "not retried"
    assert "never listed" in capsys.readouterr().out


def test_a_lost_answer_never_adopts_this_tasks_own_earlier_run(
    emulator: DataArtsEmulator, connect: Callable[..., str]
) -> None:
    """
    Found by the model test (tests/model/, long run: a Factory job, deferred; a user marks the task
    success while it waits, which stops its run; a clear; the new try's POST gets a gateway 502 and
    the list has not caught up with the stopped run yet): the earlier lease's run started just
    before the POST's window and was adopted, its manual-stop reported as this try's verdict. A run
    this task instance recorded before is never a candidate.
    """
    from airflow_provider_dataarts.lifecycle import RunRecord
    from airflow_provider_dataarts.operators.job import DataArtsRunJobOperator
    from tests.operators.test_kills import Store, task_instance

    connect("aksk", not_listed_grace=0.5)
    emulator.add_factory_job("cleared_job", nodes=[{"name": "only", "type": "Shell", "seconds": 600}])
    earlier = emulator.state.factory.run_immediate("cleared_job", {})  # the earlier lease's run
    emulator.state.factory.stop("cleared_job", str(earlier.id))  # stopped by the user's mark
    with emulator.state.lock:
        emulator.state.factory.jobs["cleared_job"].list_lag = 0.3  # not listed at the pre-POST list
    store = Store()
    store.set(
        "dataarts_job_run",
        RunRecord.submitting(1, {"submitted_at": int(time.time() * 1000)})
        .submitted(str(earlier.id))
        .to_json(),
    )
    emulator.inject("status", status=502, method="POST", path="/run-immediate")
    op = DataArtsRunJobOperator(task_id="run", job_name="cleared_job", job_params={}, poll_interval=FAST)
    ti = task_instance(max_tries=3)  # a clear: another lease

    def the_new_run_ends() -> None:
        deadline = time.time() + 30
        while time.time() < deadline:
            new = [i for i in emulator.job_instances("cleared_job") if i["instanceId"] != str(earlier.id)]
            if new:
                emulator.finish_job_instance(new[0]["instanceId"])
                return
            time.sleep(0.05)

    ender = threading.Thread(target=the_new_run_ends)
    ender.start()
    op.execute({"ti": ti, "task_state_store": store})
    ender.join()
    assert op._instance_id != str(earlier.id), "the stopped run of the earlier lease was adopted"
