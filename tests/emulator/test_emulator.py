"""The emulator answers like the service: raw HTTP, no client of ours in between."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from airflow_provider_dataarts.client.signer import sign
from airflow_provider_dataarts.emulator import DataArtsEmulator
from tests.support import AK, SK


def call(
    emulator: DataArtsEmulator,
    method: str,
    path: str,
    *,
    signed: bool = True,
    body: Any = None,
    **headers: str,
) -> tuple[int, bytes]:
    payload = json.dumps(body).encode() if body is not None else b""
    raw_path, _, query = path.partition("?")
    sent = {"Content-Type": "application/json", "workspace": "w1", "X-Project-Id": "p1", **headers}
    if signed:
        sent.update(
            {
                "Host": emulator.url.split("://")[1],
                "X-Sdk-Date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
            }
        )
        pairs = [tuple(p.split("=", 1)) for p in query.split("&")] if query else []
        sent = sign(method, raw_path, pairs, sent, payload, AK, SK)
    request = urllib.request.Request(emulator.url + path, data=payload or None, method=method, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_list_ids_are_19_digit_json_numbers(emulator: DataArtsEmulator) -> None:
    status, body = call(emulator, "GET", "/v2/p1/quality/instances?limit=2&offset=0")
    assert status == 200
    text = body.decode()
    first_id = str(json.loads(body)["resources"][0]["id"])
    assert len(first_id) == 19
    assert f'"id": {first_id}' in text, "a bare number, not a string"
    assert json.loads(body)["count"] == 150


def test_limit_above_100_is_refused(emulator: DataArtsEmulator) -> None:
    status, body = call(emulator, "GET", "/v2/p1/quality/instances?limit=101&offset=0")
    assert status == 400
    assert "limit" in json.loads(body)["error_msg"]


def test_quality_calls_need_the_workspace_header(emulator: DataArtsEmulator) -> None:
    status, body = call(emulator, "GET", "/v2/p1/quality/instances?limit=1&offset=0", workspace="")
    assert status == 400
    assert json.loads(body)["error_code"] == "DQC.0001"


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, Signature=00"}, {}],
    ids=["bad-signature", "no-credentials"],
)
def test_unauthenticated_requests_get_apig_0301(emulator: DataArtsEmulator, headers: dict[str, str]) -> None:
    status, body = call(emulator, "GET", "/v2/p1/quality/instances", signed=False, **headers)
    assert status == 401
    assert json.loads(body)["error_code"] == "APIG.0301"


def test_a_rerun_answers_a_string_id_and_runs_to_the_job_outcome(emulator: DataArtsEmulator) -> None:
    job = emulator.job_id("orders_broken")
    status, body = call(
        emulator, "POST", "/v2/p1/quality/instances/restart", body={"rule_type": 1, "rule_id": job}
    )
    instance_id = json.loads(body)["instance_id"]
    assert status == 200
    assert isinstance(instance_id, str)
    assert emulator.instance(instance_id)["run_status"] == "RUNNING"
    time.sleep(0.7)
    assert emulator.instance(instance_id)["run_status"] == "FAILED"


def test_scripts_go_launching_running_finished(emulator: DataArtsEmulator) -> None:
    emulator.add_script("three_phase", schema=[{"x": "int"}], rows=[[1]], run_seconds=0.9, launch_seconds=0.3)
    _, body = call(emulator, "POST", "/v1/p1/scripts/three_phase/execute", body={"params": {"a": "1"}})
    instance_id = json.loads(body)["instanceId"]
    seen = []
    for _ in range(12):
        _, answer = call(emulator, "GET", f"/v1/p1/scripts/three_phase/instances/{instance_id}")
        status = json.loads(answer)["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        time.sleep(0.1)
    assert seen == ["LAUNCHING", "RUNNING", "FINISHED"]
    status, body = call(emulator, "POST", f"/v1/p1/scripts/three_phase/instances/{instance_id}/stop")
    assert (status, body) == (204, b"")


def test_the_command_line_serves_and_prints_a_connection(tmp_path: Any) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"quality_jobs": [{"name": "only_job"}], "scripts": []}))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_dataarts.emulator",
            "--port",
            "0",
            "--seed",
            str(seed),
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first = process.stdout.readline() if process.stdout else ""
        assert first.startswith("DataArts emulator on http://127.0.0.1:")
        url = first.split()[-1]
        with urllib.request.urlopen(f"{url}/_emulator/health", timeout=5) as answer:
            assert json.loads(answer.read())["status"] == "ok"
        lines = [process.stdout.readline() for _ in range(8)] if process.stdout else []
        (printed,) = [line for line in lines if line.startswith("AIRFLOW_CONN_DATAARTS_DEFAULT=")]
        assert any("jobs: only_job" in line for line in lines)
        assert any("gateway limits: DataArts' documented per-user limits" in line for line in lines)
        connection = json.loads(printed.partition("=")[2].strip().strip("'"))
        console_url = connection["extra"]["console_url"]
        assert console_url == f"{url}/console/quality/instances/{{instance_id}}"
        with urllib.request.urlopen(f"{url}/console/", timeout=5) as answer:
            assert "<h1>Recent instances</h1>" in answer.read().decode()
    finally:
        process.terminate()
        process.wait(timeout=10)


def control(emulator: DataArtsEmulator, path: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(f"{emulator.url}/_emulator/{path}", timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_control_routes_report_instances_with_string_ids(emulator: DataArtsEmulator) -> None:
    job_id = emulator.add_quality_job("reported_job", run_seconds=60)
    instance = emulator.state.rerun(job_id, 1)
    status, listed = control(emulator, "instances?job_name=reported_job")
    assert status == 200
    assert [i["id"] for i in listed["instances"]] == [str(instance.id)]
    status, one = control(emulator, f"instances/{instance.id}")
    assert status == 200
    assert one == {**listed["instances"][0], "run_status": "RUNNING"}
    assert (one["task_id"], one["stopped"]) == (job_id, False)
    assert control(emulator, "instances/123")[0] == 404
    assert control(emulator, "instances/not-an-id")[0] == 404


def test_control_routes_report_script_instances(emulator: DataArtsEmulator) -> None:
    first = emulator.state.execute_script("daily_orders_sql", {"date": "2026-01-01"})
    second = emulator.state.execute_script("daily_orders_sql", {"date": "2026-01-02"})
    status, listed = control(emulator, "scripts/daily_orders_sql/instances")
    assert status == 200
    assert [(i["instance_id"], i["params"]) for i in listed["instances"]] == [
        (first.id, {"date": "2026-01-01"}),
        (second.id, {"date": "2026-01-02"}),
    ]
    status, one = control(emulator, f"scripts/daily_orders_sql/instances/{second.id}")
    assert (status, one["instance_id"], one["stopped"]) == (200, second.id, False)
    assert control(emulator, "scripts/no_such_script/instances")[0] == 400


def test_control_routes_finish_running_instances_now(emulator: DataArtsEmulator) -> None:
    job_id = emulator.add_quality_job("finished_early", outcome="ALARMING", run_seconds=3600)
    instance = emulator.state.rerun(job_id, 1)
    request = urllib.request.Request(
        f"{emulator.url}/_emulator/instances/{instance.id}/finish", method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert json.loads(answer.read())["run_status"] == "ALARMING"
    assert control(emulator, f"instances/{instance.id}")[1]["run_status"] == "ALARMING"
    script = emulator.state.execute_script("slow_script", {})
    path = f"scripts/slow_script/instances/{script.id}"
    assert control(emulator, path)[1]["status"] == "LAUNCHING"
    request = urllib.request.Request(f"{emulator.url}/_emulator/{path}/finish", method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert json.loads(answer.read())["status"] == "FINISHED"
    assert control(emulator, path)[1]["status"] == "FINISHED"


def test_limit_0_answers_the_count_alone(emulator: DataArtsEmulator) -> None:
    """The result page's range is [0,100] in the reference; 0 gives the count and no sub-rules."""
    job = emulator.job_id("orders_completeness")
    instance_id = max(i.id for i in emulator.state.instances.values() if str(i.job.id) == job)
    status, body = call(emulator, "GET", f"/v2/p1/quality/instances/{instance_id}/result?limit=0&offset=0")
    assert status == 200, body
    assert json.loads(body) == {"count": 3, "resources": []}
    status, body = call(emulator, "GET", f"/v2/p1/quality/instances/{instance_id}/result?limit=-1&offset=0")
    assert status == 400


def test_a_fault_can_hit_one_page_only(emulator: DataArtsEmulator) -> None:
    emulator.inject("status", status=500, count=5, path="/quality/instances", query="offset=100")
    assert call(emulator, "GET", "/v2/p1/quality/instances?limit=100&offset=0")[0] == 200
    assert call(emulator, "GET", "/v2/p1/quality/instances?limit=100&offset=100")[0] == 500


def test_the_gateway_throttles_at_its_per_minute_limit(emulator: DataArtsEmulator) -> None:
    emulator.emulation.throttle(3, 60.0)
    statuses = [call(emulator, "GET", "/v2/p1/quality/instances?limit=1&offset=0")[0] for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    status, body = call(emulator, "GET", "/v2/p1/quality/instances?limit=1&offset=0")
    assert status == 429 and json.loads(body)["error_code"] == "APIG.0308"


def test_the_gateway_throttles_each_user_above_its_per_second_limit(emulator: DataArtsEmulator) -> None:
    emulator.limit_per_second(2)
    path = "/v2/p1/quality/instances?limit=1&offset=0"
    statuses = [call(emulator, "GET", path)[0] for _ in range(3)]
    assert statuses == [200, 200, 429]
    throttled = [r for r in emulator.requests if r["status"] == 429]
    assert len(throttled) == 1
    # Another user (a token, not this access key) has a limit of its own.
    token = emulator.credentials.static_token
    assert call(emulator, "GET", path, signed=False, **{"X-Auth-Token": token})[0] == 200
    time.sleep(1.05)  # a second later the user's window has room again
    assert call(emulator, "GET", path)[0] == 200


def test_a_throttled_answer_says_when_to_come_back(emulator: DataArtsEmulator) -> None:
    emulator.limit_per_second(1)
    headers = {"X-Auth-Token": emulator.credentials.static_token, "workspace": "w1"}
    url = f"{emulator.url}/v2/p1/quality/instances?limit=1&offset=0"
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as first:
        assert first.status == 200
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5)
    assert raised.value.code == 429
    assert raised.value.headers["Retry-After"] == "1"
    assert json.loads(raised.value.read())["error_code"] == "APIG.0308"
