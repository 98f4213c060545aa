"""
docs/patchdata.md on a real Airflow (api-server, scheduler, dag-processor, triggerer, LocalExecutor)
driven through its REST API, against the emulator: an Airflow backfill drives one PatchData run per
DAG run; a worker's shutdown stops nothing and the retry reconnects; a user's clear of a waiting task
stops the run and starts a new one under a new name; a lost create answer is recovered by name.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from tests.system.client import TERMINAL_TI_STATES, AirflowClient, APIError, EmulatorClient
from tests.system.deployment import wait_until
from tests.system.test_lifecycle import announced
from tests.system.test_production import shut_down_worker

EXAMPLE = "example_dataarts_patchdata"
HOLD = [{"name": "long_load", "type": "DWSSQL", "seconds": 3600}]
FAST = [{"name": "load", "type": "DWSSQL", "seconds": 1}]
DEC_1 = 1_796_083_200_000  # 2026-12-01T00:00:00Z
DAY_MS = 24 * 3_600_000


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def patch_runs(emulator: EmulatorClient, job_name: str) -> list[dict[str, Any]]:
    """The emulator's PatchData runs of one job, oldest first, each with its slots."""
    runs: list[dict[str, Any]] = emulator._call("GET", "patch-data")["runs"]
    return [run for run in runs if run["job_list"][:1] == [job_name]]


def test_an_airflow_backfill_of_the_example_drives_one_patch_data_run_per_day(
    airflow_api: AirflowClient, dataarts_emulator: EmulatorClient
) -> None:
    """POST /api/v2/backfills over three days: three DAG runs, three PatchData runs of 24 hours each."""
    dataarts_emulator.add_factory_job("hourly_orders", schedule_seconds=3600, nodes=FAST)
    before = len(patch_runs(dataarts_emulator, "hourly_orders"))
    body = {
        "dag_id": EXAMPLE,
        "from_date": "2026-12-01T00:00:00Z",
        "to_date": "2026-12-03T00:00:00Z",
        "max_active_runs": 3,
        "reprocess_behavior": "none",
    }

    def create_backfill() -> Any:
        # On SQLite, Airflow answers 503 "Database is locked" while the scheduler writes: ask again.
        try:
            return airflow_api.request("POST", "backfills", json=body)
        except APIError as error:
            if error.status != 503:
                raise
            time.sleep(1)
            return None

    backfill = wait_until("Airflow to create the backfill", create_backfill, timeout=120)
    airflow_api.request("PATCH", f"dags/{EXAMPLE}", json={"is_paused": False})  # created paused

    def backfill_runs() -> list[dict[str, Any]]:
        runs: list[dict[str, Any]] = airflow_api.request("GET", f"dags/{EXAMPLE}/dagRuns")["dag_runs"]
        return [run for run in runs if run["run_type"] == "backfill"]

    wait_until(
        "the backfill's three DAG runs to finish",
        lambda: (
            len(done := [r for r in backfill_runs() if r["state"] in ("success", "failed")]) == 3 and done
        ),
        timeout=300,
    )
    runs = backfill_runs()
    for run in runs:
        assert run["state"] == "success", airflow_api.log(EXAMPLE, run["dag_run_id"], "patch_hourly_orders")[
            -4000:
        ]
    assert backfill["dag_id"] == EXAMPLE
    made = patch_runs(dataarts_emulator, "hourly_orders")[before:]
    assert sorted(run["start_date"] for run in made) == [DEC_1, DEC_1 + DAY_MS, DEC_1 + 2 * DAY_MS]
    assert all(run["status"] == "SUCCESS" and len(run["instances"]) == 24 for run in made)
    for dag_run in runs:
        result = airflow_api.xcom(EXAMPLE, dag_run["dag_run_id"], "patch_hourly_orders", "patch_data_result")
        (mine,) = [run for run in made if run["name"] == result["name"]]
        assert [slot["instance_id"] for slot in result["instances"]] == [
            slot["instanceId"] for slot in sorted(mine["instances"], key=lambda s: s["planTime"])
        ]


def test_a_shutdown_leaves_the_run_and_a_users_clear_stops_it(
    airflow_api: AirflowClient, dataarts_emulator: EmulatorClient
) -> None:
    """Rows 1 (SIGTERM: reconnect) and 4 (a user's clear, in a worker and deferred: stop, a new name)."""
    jobs = {way: unique(f"patch_{way}") for way in ("sync", "deferred")}
    for job in jobs.values():
        dataarts_emulator.add_factory_job(job, schedule_seconds=3600, nodes=HOLD)
    runs = {way: airflow_api.trigger_dag(f"patchdata_{way}", {"job_name": job}) for way, job in jobs.items()}
    names = {
        way: announced(airflow_api, f"patchdata_{way}", run_id, "patch", "return_value")
        for way, run_id in runs.items()
    }
    airflow_api.wait_for_task("patchdata_sync", runs["sync"], "patch", "running", 90)

    shut_down_worker(airflow_api, "patchdata_sync", runs["sync"], "patch")
    (first,) = patch_runs(dataarts_emulator, jobs["sync"])
    assert (first["name"], first["status"]) == (names["sync"], "RUNNING"), "the shutdown stopped nothing"
    airflow_api.wait_for_task("patchdata_sync", runs["sync"], "patch", "running", 150, try_number=2)

    def reconnected() -> bool:
        try:
            log = airflow_api.log("patchdata_sync", runs["sync"], "patch", 2)
        except AssertionError:
            return False
        return f"Reconnecting to DataArts PatchData run {names['sync']}" in log

    wait_until("the retry to reconnect", reconnected, timeout=60)
    airflow_api.wait_for_task(
        "patchdata_deferred", runs["deferred"], "patch", "deferred", 90, fail_states=TERMINAL_TI_STATES
    )
    wait_until(
        "a triggerer to take the deferred PatchData's trigger",
        lambda: (
            airflow_api.task_instance("patchdata_deferred", runs["deferred"], "patch").get("trigger") or {}
        ).get("triggerer_id"),
        timeout=60,
    )
    time.sleep(2)

    for way, job in jobs.items():
        dataarts_emulator.add_factory_job(job, schedule_seconds=3600, nodes=FAST)  # the next run ends soon
        airflow_api.clear_task(f"patchdata_{way}", runs[way], "patch")
    for way, job in jobs.items():
        wait_until(
            f"the {way} PatchData to be stopped",
            lambda job=job: patch_runs(dataarts_emulator, job)[0]["status"] == "CANCEL",
            timeout=60,
        )
    for way, job in jobs.items():
        wait_until(
            f"the cleared {way} task to finish",
            lambda way=way: (
                airflow_api.task_instance(f"patchdata_{way}", runs[way], "patch")["state"]
                in TERMINAL_TI_STATES
            ),
            timeout=180,
        )
        ti = airflow_api.task_instance(f"patchdata_{way}", runs[way], "patch")
        stopped, new = patch_runs(dataarts_emulator, job)
        assert ti["state"] == "success", f"{way}: {ti['state']}"
        assert (stopped["name"], stopped["status"]) == (names[way], "CANCEL")
        assert new["name"] != names[way] and new["status"] == "SUCCESS", f"{way}: a new run, a new name"
        assert airflow_api.xcom(f"patchdata_{way}", runs[way], "patch") == new["name"]


def test_a_lost_create_answer_is_recovered_by_name(
    airflow_api: AirflowClient, dataarts_emulator: EmulatorClient
) -> None:
    """Row 5: the create reached DataArts but its answer was lost: the run is found by its name, once."""
    job = unique("patch_lost")
    dataarts_emulator.add_factory_job(job, schedule_seconds=3600, nodes=FAST)
    dataarts_emulator.inject("reset", method="POST", path="/factory/supplement-data", when="after")
    run_id = airflow_api.trigger_dag("patchdata_deferred", {"job_name": job})
    ti = airflow_api.wait_for_task("patchdata_deferred", run_id, "patch", tuple(TERMINAL_TI_STATES), 180)
    assert ti["state"] == "success"
    (made,) = patch_runs(dataarts_emulator, job)
    assert dataarts_emulator.count("POST", "/factory/supplement-data") == 1, "created once"
    assert airflow_api.xcom("patchdata_deferred", run_id, "patch") == made["name"]
    assert f"Adopting DataArts PatchData run {made['name']}" in airflow_api.log(
        "patchdata_deferred", run_id, "patch"
    )
