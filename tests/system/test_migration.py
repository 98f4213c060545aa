"""
docs/migration.md on a real Airflow driven through its REST API, against the emulator: the pipeline
example ends as documented; a worker's SIGTERM shutdown leaves the submission running and the retry
reconnects; a user's mark-failed of a waiting migration (worker and deferred) stops it; a lost start
answer is adopted, never started twice.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

from tests.system.client import TERMINAL_TI_STATES, AirflowClient, EmulatorClient
from tests.system.deployment import wait_until
from tests.system.test_lifecycle import announced
from tests.system.test_production import shut_down_worker

RUN = "migration_run_{}"
# Runs of the pipeline example in a row (max_active_runs=1: CDM runs one submission of a job at a
# time). Each takes ~50 s (three deferrals, each event held 10 s): 5 runs took 255 s here, too long
# for the suite, so 2 by default; DATAARTS_PIPELINE_RUNS=5 runs the "5 of 5".
PIPELINE_RUNS = int(os.environ.get("DATAARTS_PIPELINE_RUNS", "2"))


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def add_job(emulator: EmulatorClient, name: str, **options: Any) -> None:
    emulator._call("POST", "migration/jobs", {"name": name, **options})


def submissions(emulator: EmulatorClient, name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = emulator._call("GET", "migration/submissions", job_name=name)["submissions"]
    return found


def finish(emulator: EmulatorClient, submission_id: str) -> None:
    emulator._call("POST", f"migration/submissions/{submission_id}/finish")


def test_the_pipeline_example_ends_as_documented(
    airflow_api: AirflowClient, dataarts_emulator: EmulatorClient
) -> None:
    """Migrate orders_to_dws, run daily_orders, gate on orders_completeness, publish: every run succeeds."""
    dag_id = "example_dataarts_pipeline"
    runs = [airflow_api.trigger_dag(dag_id) for _ in range(PIPELINE_RUNS)]
    for run_id in runs:
        run = airflow_api.wait_for_dag_run(dag_id, run_id, timeout=300)
        if run["state"] != "success":
            tis = airflow_api.task_instances(dag_id, run_id)
            raise AssertionError(
                f"{run_id}: {run['state']}; tasks: "
                + ", ".join(f"{ti['task_id']}={ti['state']}" for ti in tis)
                + "\n"
                + "\n".join(airflow_api._log_for_failure(dag_id, run_id, ti["task_id"]) for ti in tis)
            )
    done = [s for s in submissions(dataarts_emulator, "orders_to_dws") if s["status"] == "SUCCEEDED"]
    for run_id in runs:
        submission_id = airflow_api.xcom(dag_id, run_id, "migrate_orders")
        published = airflow_api.xcom(dag_id, run_id, "publish")
        assert published["rows_migrated"] == 12_480 and published["quality"] == "SUCCESS"
        assert published["job_instance"] == airflow_api.xcom(dag_id, run_id, "transform_orders")
        assert submission_id in [str(s["submission-id"]) for s in done]
        result = airflow_api.xcom(dag_id, run_id, "migrate_orders", "migration_result")
        assert (result["submission_id"], result["status"]) == (submission_id, "SUCCEEDED")
        links = airflow_api.request(
            "GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/migrate_orders/links"
        )
        assert f"submissionId={submission_id}" in links["extra_links"]["DataArts Migration job"]


def test_a_shutdown_leaves_the_migration_and_a_users_mark_failed_stops_it(
    airflow_api: AirflowClient, dataarts_emulator: EmulatorClient
) -> None:
    """Row 1 (SIGTERM shutdown: the retry reconnects) and row 6 (mark failed, worker and deferred)."""
    evicted = unique("cdm_evicted")
    marked = {way: unique(f"cdm_marked_{way}") for way in ("sync", "deferred")}
    for job in (evicted, *marked.values()):
        add_job(dataarts_emulator, job, boot_seconds=0.5, run_seconds=3600)
    evicted_run = airflow_api.trigger_dag(RUN.format("sync"), {"job_name": evicted})
    marked_runs = {
        way: airflow_api.trigger_dag(RUN.format(way), {"job_name": job}) for way, job in marked.items()
    }
    evicted_id = announced(airflow_api, RUN.format("sync"), evicted_run, "migrate", "return_value")
    started = {
        way: announced(airflow_api, RUN.format(way), run_id, "migrate", "return_value")
        for way, run_id in marked_runs.items()
    }
    for way, run_id in marked_runs.items():
        waiting = "deferred" if way == "deferred" else "running"
        airflow_api.wait_for_task(
            RUN.format(way), run_id, "migrate", waiting, 90, fail_states=TERMINAL_TI_STATES
        )
    # Airflow calls on_kill only for a trigger that a triggerer runs: wait until one has taken it.
    wait_until(
        "a triggerer to take the deferred migration's trigger",
        lambda: (
            airflow_api.task_instance(RUN.format("deferred"), marked_runs["deferred"], "migrate").get(
                "trigger"
            )
            or {}
        ).get("triggerer_id"),
        timeout=60,
    )
    time.sleep(2)

    shut_down_worker(airflow_api, RUN.format("sync"), evicted_run, "migrate")
    for way, run_id in marked_runs.items():
        airflow_api.mark_failed(RUN.format(way), run_id, "migrate")

    (evicted_submission,) = submissions(dataarts_emulator, evicted)
    assert evicted_submission["stopped"] is False, "the shutdown stopped nothing"
    airflow_api.wait_for_task(RUN.format("sync"), evicted_run, "migrate", "running", 150, try_number=2)
    for way in marked:
        wait_until(
            f"the {way} migration to be stopped",
            lambda way=way: submissions(dataarts_emulator, marked[way])[0]["stopped"],
            timeout=60,
        )
        (submission,) = submissions(dataarts_emulator, marked[way])
        assert str(submission["submission-id"]) == started[way] and submission["status"] == "FAILED"
    finish(dataarts_emulator, evicted_id)
    airflow_api.wait_for_task(RUN.format("sync"), evicted_run, "migrate", "success", 90, try_number=2)
    assert [str(s["submission-id"]) for s in submissions(dataarts_emulator, evicted)] == [evicted_id], (
        "one start"
    )
    assert "the worker is shutting down" in airflow_api.log(RUN.format("sync"), evicted_run, "migrate", 1)
    assert f"Reconnecting to DataArts migration submission {evicted_id}" in airflow_api.log(
        RUN.format("sync"), evicted_run, "migrate", 2
    )
    for way, run_id in marked_runs.items():
        ti = airflow_api.task_instance(RUN.format(way), run_id, "migrate")
        assert ti["state"] == "failed" and ti["try_number"] == 1, f"{way}: a user's mark is not retried"


def test_a_lost_start_answer_is_adopted_never_started_twice(
    airflow_api: AirflowClient, dataarts_emulator: EmulatorClient
) -> None:
    """Row 5: the gateway drops the start's answer after CDM acted; the one new submission is adopted."""
    job = unique("cdm_lost")
    add_job(dataarts_emulator, job, boot_seconds=0.5, run_seconds=2, rows=7)
    dataarts_emulator.inject("reset", method="PUT", path=f"/cdm/job/{job}/start", when="after")
    run_id = airflow_api.trigger_dag(RUN.format("deferred"), {"job_name": job})
    ti = airflow_api.wait_for_task(
        RUN.format("deferred"), run_id, "migrate", "success", 180, fail_states=("failed",)
    )
    (submission,) = submissions(dataarts_emulator, job)
    assert dataarts_emulator.count("PUT", f"/cdm/job/{job}/start") == 1, "never a second start"
    assert airflow_api.xcom(RUN.format("deferred"), run_id, "migrate") == str(submission["submission-id"])
    assert (
        airflow_api.xcom(RUN.format("deferred"), run_id, "migrate", "migration_result")["rows_written"] == 7
    )
    logs = "".join(
        airflow_api.log(RUN.format("deferred"), run_id, "migrate", n) for n in range(1, ti["try_number"] + 1)
    )
    assert f"Adopting DataArts migration submission {submission['submission-id']}" in logs
