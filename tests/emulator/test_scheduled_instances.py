"""The control route that starts a quality instance as DataArts' own schedule would."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from airflow_provider_dataarts.emulator import DataArtsEmulator


def post(emulator: DataArtsEmulator, path: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        emulator.url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_an_instance_started_outside_the_api_runs_to_its_job_outcome(emulator: DataArtsEmulator) -> None:
    status, body = post(emulator, "/_emulator/quality-jobs/orders_freshness/instances", {"run_seconds": 0.2})

    assert status == 201 and body["job_name"] == "orders_freshness"
    assert emulator.count() == 0, "not an API call"
    assert emulator.instance(body["id"])["run_status"] == "RUNNING"
    time.sleep(0.3)
    assert emulator.instance(body["id"])["run_status"] == "ALARMING"
    assert emulator.instance(body["id"])["task_id"] == int(emulator.job_id("orders_freshness"))


def test_an_unknown_job_is_a_clear_error(emulator: DataArtsEmulator) -> None:
    status, body = post(emulator, "/_emulator/quality-jobs/no_such_job/instances", {})
    assert status == 400 and "no_such_job" in body["error_msg"]
