"""
Adversarial review findings (branch wt-review): each test failed on the code before its fix.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.emulator import patchdata as emulated
from tests.integration.dagrun import load_dag, run_dag

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.filterwarnings("ignore")]


def _quick_job(emulator: DataArtsEmulator, name: str = "quick_hourly") -> None:
    emulated.of(emulator.state.factory).list_lag = 0.3
    emulator.add_factory_job(
        name, schedule_seconds=3600, nodes=[{"name": "load", "type": "DWSSQL", "seconds": 0.2}]
    )


def test_a_lost_patch_data_answer_never_adopts_an_older_run_of_the_same_given_name(
    emulator: DataArtsEmulator, connect: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """
    A user's patch_data_name (e.g. templated on ``ds``) exists already from an earlier run (a clear of
    this task, an earlier DAG run). This try's create reaches DataArts, which refuses the duplicate,
    but the answer is lost: the lookup by name finds the *old* run. It was not started by this try,
    so its verdict must not be this task's.
    """
    connect("aksk", not_listed_grace=2)
    _quick_job(emulator)
    old = emulated.of(emulator.state.factory).create(
        {
            "name": "nightly_patch",
            "job_name": "quick_hourly",
            "start_date": "2026-11-01T00:00:00 +00",
            "end_date": "2026-11-01T00:59:59 +00",
            "parallel": 1,
        }
    )
    old.submitted -= 24 * 3600  # yesterday's run of the same name
    emulator.inject("reset", method="POST", path="/supplement-data", when="after")
    outcome = run_dag(
        load_dag("test_patchdata"),
        {},
        patch={
            "patch_data_name": "nightly_patch",
            "retries": 0,
            "retry_delay": timedelta(0),
            "deferrable": False,
        },
    )
    out = capsys.readouterr().out
    assert "Adopting DataArts PatchData run nightly_patch" not in out, "adopted a run it did not start"
    assert outcome.states == {"patch": "failed"}
    assert "PatchData run of that name submitted before it" in out


def test_a_clear_while_a_patch_data_creation_was_unanswered_stops_it_before_the_new_run(
    emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    """
    The first lease's create reached DataArts but its answer was lost (the record says SUBMITTING,
    with the name it chose); the user clears the task (a user's kill: its on_kill had no id to stop).
    The cleared try starts a new run under a new name, and must stop the earlier lease's run by its
    name first, as it does for a recorded run: never two backfills of the same interval.
    """
    import time

    from airflow_provider_dataarts.lifecycle import RunRecord
    from airflow_provider_dataarts.operators.job import DataArtsPatchDataOperator
    from tests.operators.test_kills import Store, task_instance

    emulated.of(emulator.state.factory).list_lag = 0.0
    emulator.add_factory_job(
        "slow_hourly", schedule_seconds=3600, nodes=[{"name": "load", "type": "DWSSQL", "seconds": 60}]
    )
    body = {
        "name": "af_first_lease_run",
        "job_name": "slow_hourly",
        "start_date": "2026-12-01T00:00:00 +00",
        "end_date": "2026-12-01T02:59:59 +00",
        "parallel": 1,
    }
    emulated.of(emulator.state.factory).create(body)
    store = Store()
    key = DataArtsPatchDataOperator.state_key
    marker = {"name": body["name"], "job_name": "slow_hourly", "submitted_at": int(time.time() * 1000)}
    store.values[key] = RunRecord.submitting(1, marker).to_json()
    op = DataArtsPatchDataOperator(
        task_id="run",
        job_name="slow_hourly",
        from_date="2026-12-01T00:00:00+00:00",
        to_date="2026-12-01T03:00:00+00:00",
        wait_for_completion=False,
    )
    name = op.execute({"ti": task_instance("running", max_tries=3), "task_state_store": store})  # type: ignore[arg-type]
    runs = emulated.of(emulator.state.factory).runs
    assert name != body["name"] and name in runs
    assert runs[body["name"]].stopped_at is not None, (
        "the earlier lease's PatchData still runs beside the new one"
    )


@pytest.mark.parametrize("mode", ["sync", "deferrable"])
def test_a_migration_stop_that_cdm_answers_with_an_error_is_not_recorded_as_done(
    mode: str, emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    """
    CDM answers its stop with ``validation-result`` items (SDK ``JobValidationResult``: ``status``
    ERROR or WARNING, ``message`` the error): an ERROR is a stop not done. After an
    ``execution_timeout`` the submission then still runs, so the retry must wait for it, not start
    the job again (CDM would refuse, and a later retry would run it twice).
    """
    from tests.operators.test_migration import migrate

    emulator.add_migration_job("long_job", boot_seconds=0.1, run_seconds=3600)
    refused = {"validation-result": [{"status": "ERROR", "message": "Job[long_job] cannot be stopped now."}]}
    emulator.inject("answer", status=200, body=refused, method="PUT", path="/stop", count=10)
    outcome = migrate(
        "long_job",
        execution_timeout=timedelta(seconds=3),
        retries=1,
        retry_delay=timedelta(0),
        deferrable=mode == "deferrable",
    )
    assert outcome.states == {"migrate": "failed"}
    assert emulator.count("PUT", "/start") == 1, "the retry started the job again beside the running one"
    (submission,) = emulator.migration_submissions("long_job")
    assert not submission["stopped"]


def test_a_given_patch_data_name_that_exists_fails_at_once_naming_the_parameter(
    emulator: DataArtsEmulator, dataarts_conn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """
    ``patch_data_name`` templated on the run (``backfill_{{ ds_nodash }}``) is used again by a retry
    after a verdict, or an earlier run: DataArts refuses the duplicate (400). Every retry would get
    the same refusal; the task fails at once, saying which parameter to change.
    """
    _quick_job(emulator)
    old = emulated.of(emulator.state.factory).create(
        {
            "name": "nightly_patch",
            "job_name": "quick_hourly",
            "start_date": "2026-11-01T00:00:00 +00",
            "end_date": "2026-11-01T00:59:59 +00",
            "parallel": 1,
        }
    )
    old.submitted -= 24 * 3600
    outcome = run_dag(
        load_dag("test_patchdata"),
        {},
        patch={
            "patch_data_name": "nightly_patch",
            "retries": 2,
            "retry_delay": timedelta(0),
            "deferrable": False,
        },
    )
    out = capsys.readouterr().out
    assert (outcome.states, outcome.tries) == ({"patch": "failed"}, {"patch": 1})
    assert "patch_data_name 'nightly_patch'" in out


def test_a_503_from_dataarts_itself_after_a_run_immediate_never_runs_the_job_twice(
    emulator: DataArtsEmulator, connect: Any
) -> None:
    """
    A 503 that is not the gateway's own (no ``APIG.`` code) may come after DataArts acted on the
    POST: ``client.core.should_retry`` says so (it never resends it), but ``operators.base.
    may_have_started`` took it for a refusal, so the task's retry ran the job a second time.
    """
    connect("aksk", not_listed_grace=2)
    emulator.add_factory_job("busy_job", nodes=[{"name": "extract", "type": "CDMJob", "seconds": 0.3}])
    busy = {"error_code": "DLF.0503", "error_msg": "Service busy, please try again later."}
    emulator.inject("answer", status=503, body=busy, method="POST", path="/run-immediate", when="after")
    outcome = run_dag(
        load_dag("test_job"),
        {"job_name": "busy_job", "job_params": {}},
        run={"retries": 1, "retry_delay": timedelta(0), "deferrable": False, "poll_interval": 0.2},
    )
    assert len(emulator.job_instances("busy_job")) == 1, "the job ran twice"
    assert outcome.states == {"run": "success"}


def test_a_start_whose_answer_is_lost_every_time_is_not_resent_without_end(
    emulator: DataArtsEmulator, connect: Any
) -> None:
    """
    Every run-immediate answered 502 by the gateway (nothing started): each lost answer is looked
    for, none found, and the POST sent again, with no bound but the task's ``timeout`` (None by
    default): the try never ends while the gateway is down. It should give up like any retried call
    (``extra.max_retries``, 5 by default) and let Airflow's retries take over.
    """
    connect("aksk", not_listed_grace=0.1, max_retries=2)
    emulator.add_factory_job("down_job", nodes=[{"name": "extract", "type": "CDMJob", "seconds": 0.2}])
    emulator.inject("status", status=502, method="POST", path="/run-immediate", count=40)
    outcome = run_dag(
        load_dag("test_job"),
        {"job_name": "down_job", "job_params": {}},
        run={"retries": 0, "deferrable": False, "poll_interval": 0.2},
    )
    assert emulator.count("POST", "/run-immediate") <= 3, "the POST was sent again and again"
    assert outcome.states == {"run": "failed"}
