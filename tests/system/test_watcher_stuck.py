"""
A stuck instance under an asset watcher, on a real Airflow: its results call keeps failing, yet the
instance that ends after it triggers the DAG at once; the stuck one triggers it too, once, after
the watcher's retry bound, without its results (``results_error`` says why), and the triggerer
logs one ERROR line naming it.
"""

from __future__ import annotations

import time
from typing import Any

from tests.system.client import AirflowClient, EmulatorClient
from tests.system.deployment import Deployment, wait_until
from tests.system.test_assets import dag_runs, finished_runs, start_instance

DAG_ID, JOB = "system_quality_watcher_stuck", "system_stuck_orders"
# The DAG's watcher retries a stuck instance for 20 s: the later instance's run comes well before.


def reported(api: AirflowClient, count: int) -> list[dict[str, Any]]:
    """Wait for ``count`` finished runs of the DAG; every payload they were given, in order."""
    runs = wait_until(
        f"{count} runs of {DAG_ID}",
        lambda: (r := finished_runs(api, DAG_ID)) and len(r) >= count and r,
        timeout=120,
    )
    assert {r["state"] for r in runs} == {"success"}
    return [p for r in runs for p in api.xcom(DAG_ID, r["dag_run_id"], "payloads")]


def test_a_stuck_instance_does_not_stop_later_ones_and_is_reported_without_results_after_the_bound(
    deployment: Deployment, airflow_api: AirflowClient, dataarts_emulator: EmulatorClient
) -> None:
    dataarts_emulator.add_quality_job(JOB, outcome="SUCCESS", sub_rules=2)
    # The watcher reports what ends once it runs: wait for it (the deployment may have just started).
    log_path = deployment.services["triggerer"].log_path
    wait_until(
        f"the watcher of {JOB} to run",
        lambda: (
            f"name={JOB} starts" in (text := log_path.read_text(errors="replace"))
            or f"name={JOB} resumes" in text
        ),
        120,
    )
    before = len(dag_runs(airflow_api, DAG_ID))
    stuck = start_instance(dataarts_emulator, JOB, 2)
    route = f"/quality/instances/{stuck}/result"
    dataarts_emulator.inject("status", status=400, path=route, count=10_000)
    wait_until(
        "a failed results call of the stuck instance", lambda: dataarts_emulator.count("GET", route), 60
    )

    later = start_instance(dataarts_emulator, JOB, 1)
    first = reported(airflow_api, before + 1)  # its own run, before the stuck one's report
    assert [p["dataarts_instance_id"] for p in first[-1:]] == [later], "the later instance is not held up"
    assert first[-1]["sub_rules"] == 2 and "results_error" not in first[-1]

    both = reported(airflow_api, before + 2)
    assert [p["dataarts_instance_id"] for p in both[-2:]] == [later, stuck]
    assert both[-1] == {
        "dataarts_instance_id": stuck,
        "job_name": JOB,
        "run_status": "SUCCESS",
        "sub_rules": None,
        "alarming_sub_rules": None,
        "verdict": "passed",  # SUCCESS; without results nothing is warn_only
        "results_error": both[-1]["results_error"],
    }
    assert "HTTP 400" in both[-1]["results_error"]
    tries = dataarts_emulator.count("GET", route)
    assert tries >= 3, tries

    time.sleep(5)  # never twice, and no more tries
    assert len(finished_runs(airflow_api, DAG_ID)) == before + 2
    assert dataarts_emulator.count("GET", route) == tries
    log = log_path.read_text(errors="replace")
    errors = [line for line in log.splitlines() if stuck in line and "without its results" in line]
    assert len(errors) == 1 and "error" in errors[0].lower(), errors
