"""DataArtsHook against the emulator over real HTTP, in every auth mode."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.emulator.server import fingerprint
from airflow_provider_dataarts.exceptions import (
    DataArtsAPIError,
    DataArtsConfigError,
    DataArtsConnectionError,
)
from airflow_provider_dataarts.hooks.dataarts import DataArtsHook, DataArtsInstanceNotFound
from tests.support import AUTH_MODES, RUN_SECONDS, SECRETS, SK, connection_json

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def wait_terminal(hook: DataArtsHook, instance_id: str, **hints: Any) -> dict[str, Any]:
    deadline = time.time() + 10
    while time.time() < deadline:
        instance = hook.get_quality_instance(instance_id, **hints)
        if instance["run_status"] != "RUNNING":
            return instance
        time.sleep(0.1)
    raise AssertionError(f"instance {instance_id} never finished")


@pytest.mark.parametrize("auth_type", AUTH_MODES)
def test_every_hook_method_works_in_every_auth_mode(
    auth_type: str, connect: Callable[..., str], emulator: DataArtsEmulator
) -> None:
    hook = DataArtsHook(connect(auth_type))

    assert hook.test_connection()[0] is True
    job_id = hook.resolve_job_id("orders_freshness")
    assert job_id == emulator.job_id("orders_freshness")
    assert {job["name"] for job in hook.list_quality_jobs()} >= {"orders_completeness", "big_rule_set"}
    assert [job["name"] for job in hook.list_comparison_jobs()] == ["orders_vs_warehouse"]

    started = int(time.time() * 1000)
    instance_id = hook.rerun_quality_job(job_id, "quality")
    assert isinstance(instance_id, str) and len(instance_id) == 19
    running = hook.get_quality_instance(instance_id, name="orders_freshness", started_after=started)
    assert running["run_status"] == "RUNNING"
    assert running["id"] == instance_id and running["task_id"] == job_id
    finished = wait_terminal(hook, instance_id, name="orders_freshness", started_after=started)
    assert finished["run_status"] == "ALARMING"
    results = hook.get_quality_instance_results(instance_id)
    assert len(results) == 4
    assert [r["results"][0]["Status"] for r in results] == ["false", "false", "true", "true"]
    assert sum(1 for _ in hook.list_quality_instances(name="orders_freshness")) == 31

    script_instance = hook.execute_script("daily_orders_sql", {"date": "2026-11-23"})
    assert hook.get_script_instance("daily_orders_sql", script_instance)["status"] in ("LAUNCHING", "RUNNING")
    slow = hook.execute_script("slow_script")
    hook.stop_script_instance("slow_script", slow)
    assert emulator.script_instance("slow_script", slow)["stopped"] is True
    time.sleep(0.7)
    answer = hook.get_script_instance("daily_orders_sql", script_instance)
    assert answer["status"] == "FINISHED"
    assert answer["results"][0]["rows"][0][0] == "2026-11-23"


def test_aksk_requests_are_signed_and_carry_project_and_workspace(
    dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    DataArtsHook(dataarts_conn).rerun_quality_job(emulator.job_id("orders_completeness"))
    (request,) = emulator.requests
    headers = {k.lower(): v for k, v in request["headers"].items()}
    signed_as = f"SDK-HMAC-SHA256 Access={fingerprint('AK-test-0123456789')}, SignedHeaders="
    assert headers["authorization"].startswith(signed_as), "the log keeps no credential, only its shape"
    assert headers["x-project-id"] == "p1"
    assert headers["workspace"] == "w1"
    assert request["body"] == {"rule_type": 1, "rule_id": emulator.job_id("orders_completeness")}


def test_aksk_security_token_is_sent(connect: Callable[..., str], emulator: DataArtsEmulator) -> None:
    hook = DataArtsHook(connect("aksk", security_token="temporary-security-token-xyz"))
    hook.get_quality_instance_results(hook.rerun_quality_job(emulator.job_id("orders_completeness")))
    assert all(
        r["headers"].get("X-Security-Token") == fingerprint("temporary-security-token-xyz")
        for r in emulator.requests
    )


def test_wrong_secret_key_fails_at_once_without_retry(
    monkeypatch: pytest.MonkeyPatch, emulator: DataArtsEmulator
) -> None:
    conn = json.loads(connection_json(emulator.url))
    conn["password"] = "not-the-secret-key"
    monkeypatch.setenv("AIRFLOW_CONN_BAD", json.dumps(conn))
    hook = DataArtsHook("bad")
    with pytest.raises(DataArtsAPIError) as caught:
        hook.rerun_quality_job(emulator.job_id("orders_completeness"))
    assert (caught.value.status_code, caught.value.error_code) == (401, "APIG.0301")
    assert emulator.count() == 1, "a signature failure must never be retried (5 in a row lock the AK)"
    ok, message = hook.test_connection()
    assert not ok and "access key (login) and secret key (password)" in message


def test_password_auth_fetches_one_token_for_many_calls_and_hooks(
    connect: Callable[..., str], emulator: DataArtsEmulator
) -> None:
    conn_id = connect("password")
    for _ in range(3):
        hook = DataArtsHook(conn_id)
        hook.get_quality_instance_results(hook.rerun_quality_job(emulator.job_id("orders_completeness")))
    assert emulator.token_requests == 1
    assert emulator.count("POST", "/v3/auth/tokens") == 1
    api_calls = [r for r in emulator.requests if r["path"].startswith("/v2/")]
    assert len(api_calls) == 6
    issued = {fingerprint(token) for token in emulator.emulation.tokens}
    assert all(r["headers"].get("X-Auth-Token") in issued for r in api_calls)


def test_expired_token_is_renewed_once_and_the_call_succeeds(
    connect: Callable[..., str], emulator: DataArtsEmulator
) -> None:
    hook = DataArtsHook(connect("password"))
    hook.resolve_job_id("orders_completeness")
    emulator.expire_tokens()
    assert hook.resolve_job_id("orders_broken") == emulator.job_id("orders_broken")
    assert emulator.token_requests == 2
    statuses = [r["status"] for r in emulator.requests if r["path"].startswith("/v2/")]
    assert statuses == [200, 401, 200]


def test_wrong_iam_password_is_a_clear_credentials_error(
    monkeypatch: pytest.MonkeyPatch, emulator: DataArtsEmulator
) -> None:
    conn = json.loads(connection_json(emulator.url, "password"))
    conn["password"] = "wrong-password-123"
    monkeypatch.setenv("AIRFLOW_CONN_BADIAM", json.dumps(conn))
    ok, message = DataArtsHook("badiam").test_connection()
    assert not ok
    assert "IAM user (login), password and extra.domain_name" in message
    assert "wrong-password-123" not in message


def test_unknown_static_token_is_rejected(
    monkeypatch: pytest.MonkeyPatch, emulator: DataArtsEmulator
) -> None:
    conn = json.loads(connection_json(emulator.url, "token"))
    conn["password"] = "not-a-token-at-all"
    monkeypatch.setenv("AIRFLOW_CONN_BADTOKEN", json.dumps(conn))
    with pytest.raises(DataArtsAPIError) as caught:
        DataArtsHook("badtoken").resolve_job_id("orders_completeness")
    assert caught.value.status_code == 401
    assert "not-a-token-at-all" not in str(caught.value)


def test_test_connection_tells_workspace_and_unreachable_host_apart(
    connect: Callable[..., str], monkeypatch: pytest.MonkeyPatch, emulator: DataArtsEmulator
) -> None:
    ok, message = DataArtsHook(connect("aksk", conn_id="other_ws", workspace="w-unknown")).test_connection()
    assert not ok and "Unknown workspace 'w-unknown'" in message

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("AIRFLOW_CONN_NOWHERE", connection_json(f"http://127.0.0.1:{closed_port}"))
    started = time.monotonic()
    ok, message = DataArtsHook("nowhere").test_connection()
    assert not ok and message.startswith(f"Cannot reach 127.0.0.1:{closed_port}: connection refused.")
    assert time.monotonic() - started < 5, "the Test button must not sit through retries"


def test_ids_keep_all_19_digits(dataarts_conn: str, emulator: DataArtsEmulator) -> None:
    hook = DataArtsHook(dataarts_conn)
    instances = list(hook.list_quality_instances())
    assert len(instances) == 150
    expected = {str(key) for key in emulator.state.instances}
    assert {item["id"] for item in instances} == expected
    assert all(isinstance(item["id"], str) and int(item["id"]) > 2**53 for item in instances)
    assert all(isinstance(item["task_id"], str) for item in instances)
    # The service sends them as JSON numbers: the emulator's raw answer really has numbers.
    assert isinstance(next(iter(emulator.state.instances)), int)


def test_every_page_is_fetched_100_at_a_time(dataarts_conn: str, emulator: DataArtsEmulator) -> None:
    hook = DataArtsHook(dataarts_conn)
    instance_id = hook.rerun_quality_job(emulator.job_id("big_rule_set"))
    time.sleep(RUN_SECONDS + 0.1)
    before = emulator.count()
    results = hook.get_quality_instance_results(instance_id)
    pages = emulator.requests[before:]
    assert len(results) == 250
    assert len({r["sub_rule_id"] for r in results}) == 250
    assert [p["query"]["offset"] for p in pages] == [["0"], ["100"], ["200"]]
    assert all(p["query"]["limit"] == ["100"] for p in pages)

    before = emulator.count()
    assert len(list(hook.list_quality_instances())) == 151
    assert emulator.count() - before == 2


def test_a_recent_instance_costs_one_request_with_hints(
    dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    hook = DataArtsHook(dataarts_conn)
    started = time.time()
    instance_id = hook.rerun_quality_job(emulator.job_id("orders_completeness"))
    before = emulator.count()
    hook.get_quality_instance(instance_id, name="orders_completeness", started_after=started)
    assert emulator.count() - before == 1


def test_a_missing_instance_is_a_clear_not_found(dataarts_conn: str, emulator: DataArtsEmulator) -> None:
    with pytest.raises(
        DataArtsInstanceNotFound, match="no quality instance 1234567890123456789 in workspace w1"
    ):
        DataArtsHook(dataarts_conn).get_quality_instance("1234567890123456789")


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "status", "status": 500},
        {"kind": "status", "status": 502},
        {"kind": "status", "status": 503},
        {"kind": "status", "status": 504},
        {"kind": "status", "status": 429, "retry_after": 0.2},
        {"kind": "html", "status": 502},
        {"kind": "reset"},
        {"kind": "malformed_json"},
        {"kind": "empty_body"},
    ],
    ids=lambda fault: "-".join(str(v) for v in fault.values()),
)
def test_reads_survive_each_fault_kind(
    fault: dict[str, Any],
    dataarts_conn: str,
    emulator: DataArtsEmulator,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator.inject(**fault, count=2, path="/quality/quality-tasks")
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        assert DataArtsHook(dataarts_conn).resolve_job_id("orders_broken") == emulator.job_id("orders_broken")
    assert emulator.count(path_contains="/quality/quality-tasks") == 3
    logged = caplog.text + capsys.readouterr().out
    retries = [line for line in logged.splitlines() if "retrying in" in line]
    assert len(retries) == 2
    assert "warning" in retries[0].lower()
    assert "(attempt 1 of 6)" in retries[0]
    assert "(attempt 2 of 6)" in retries[1]
    if "retry_after" in fault:
        assert time.monotonic() - started >= 0.4, "Retry-After must be honoured"


def test_retries_are_bounded_by_max_retries(connect: Callable[..., str], emulator: DataArtsEmulator) -> None:
    emulator.inject("status", status=502, count=100)
    with pytest.raises(DataArtsAPIError) as caught:
        DataArtsHook(connect("aksk", max_retries=2)).resolve_job_id("orders_broken")
    assert caught.value.status_code == 502
    assert emulator.count() == 3


def test_client_errors_fail_at_once_with_the_service_message(
    dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    with pytest.raises(DataArtsAPIError) as caught:
        DataArtsHook(dataarts_conn).rerun_quality_job("1012386207306600000")
    error = caught.value
    assert (error.status_code, error.error_code) == (400, "DQC.1001")
    assert "does not exist" in error.error_msg
    assert error.method == "POST" and error.path == "/v2/p1/quality/instances/restart"
    assert error.request_id and len(error.request_id) == 32
    assert emulator.count() == 1


def test_no_second_rerun_after_a_500_that_arrived(dataarts_conn: str, emulator: DataArtsEmulator) -> None:
    emulator.inject("status", status=500, when="after", path="/instances/restart")
    job_id = emulator.job_id("orders_completeness")
    before = len(emulator.state.instances)
    with pytest.raises(DataArtsAPIError) as caught:
        DataArtsHook(dataarts_conn).rerun_quality_job(job_id)
    assert caught.value.status_code == 500
    assert emulator.count("POST", "/instances/restart") == 1
    assert len(emulator.state.instances) == before + 1, "the service did start one run"


def test_no_second_rerun_after_a_reset_that_may_have_arrived(
    dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    emulator.inject("reset", when="after", path="/instances/restart")
    with pytest.raises(DataArtsConnectionError):
        DataArtsHook(dataarts_conn).rerun_quality_job(emulator.job_id("orders_completeness"))
    assert emulator.count("POST", "/instances/restart") == 1


@pytest.mark.parametrize("status", [429, 503])
def test_a_rerun_refused_by_the_gateway_is_retried(
    status: int, dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    emulator.inject("status", status=status, path="/instances/restart")
    before = len(emulator.state.instances)
    instance_id = DataArtsHook(dataarts_conn).rerun_quality_job(emulator.job_id("orders_completeness"))
    assert emulator.count("POST", "/instances/restart") == 2
    assert len(emulator.state.instances) == before + 1
    assert emulator.instance(instance_id)["run_status"] == "RUNNING"


def test_execute_script_is_not_retried_after_a_500(dataarts_conn: str, emulator: DataArtsEmulator) -> None:
    emulator.inject("status", status=500, when="after", path="/execute")
    with pytest.raises(DataArtsAPIError):
        DataArtsHook(dataarts_conn).execute_script("daily_orders_sql")
    assert emulator.count("POST", "/execute") == 1
    assert len(emulator.state.script_instances) == 1


@pytest.mark.parametrize("auth_type", AUTH_MODES)
def test_secrets_never_reach_logs_or_errors(
    auth_type: str,
    connect: Callable[..., str],
    emulator: DataArtsEmulator,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hook = DataArtsHook(connect(auth_type))
    emulator.inject("status", status=503, count=1)
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG):
        hook.get_quality_instance_results(hook.rerun_quality_job(emulator.job_id("orders_completeness")))
        emulator.expire_tokens()
        hook.resolve_job_id("orders_broken")
        with pytest.raises(DataArtsAPIError) as caught:
            hook.get_script_instance("no_such_script", "x")
        texts += [str(caught.value), repr(caught.value), repr(hook.config)]
    out = capsys.readouterr()
    texts += [caplog.text, out.out, out.err]
    issued = list(emulator.emulation.tokens)
    assert issued or auth_type != "password"
    for secret in [*SECRETS, *issued]:
        for text in texts:
            assert secret not in text


def test_bad_configuration_names_the_field_before_any_request(
    monkeypatch: pytest.MonkeyPatch, emulator: DataArtsEmulator
) -> None:
    def hook_with(**changes: Any) -> DataArtsHook:
        conn = json.loads(connection_json(emulator.url))
        extra = conn.pop("extra")
        extra.update(changes.pop("extra", {}))
        for key in changes.pop("drop_extra", []):
            extra.pop(key)
        conn.update(changes, extra=extra)
        monkeypatch.setenv("AIRFLOW_CONN_CFG", json.dumps(conn))
        return DataArtsHook("cfg")

    with pytest.raises(DataArtsConfigError, match="project_id"):
        hook_with(drop_extra=["project_id"]).rerun_quality_job("1")
    with pytest.raises(DataArtsConfigError, match="workspace"):
        hook_with(drop_extra=["workspace"]).rerun_quality_job("1")
    with pytest.raises(DataArtsConfigError, match="auth_type"):
        hook_with(extra={"auth_type": "kerberos"}).rerun_quality_job("1")
    with pytest.raises(DataArtsConfigError, match="host"):
        hook_with(host="ftp://dayu.example.com").rerun_quality_job("1")
    with pytest.raises(DataArtsConfigError, match="rule_type"):
        hook_with().rerun_quality_job("1", rule_type="sometimes")
    with pytest.raises(DataArtsConfigError) as caught:
        hook_with(password=None).rerun_quality_job("1")
    assert SK not in str(caught.value)
    assert emulator.count() == 0


def test_the_workspace_header_is_optional_for_scripts(
    connect: Callable[..., str], emulator: DataArtsEmulator
) -> None:
    hook = DataArtsHook(connect("aksk", conn_id="no_ws", workspace=""))
    instance_id = hook.execute_script("daily_orders_sql")
    assert "workspace" not in {k.lower() for k in emulator.requests[-1]["headers"]}
    assert hook.get_script_instance("daily_orders_sql", instance_id)["status"] in ("LAUNCHING", "RUNNING")


@pytest.mark.parametrize("name", ["%2F..%2F", "name?limit=1000", "名字 😀", "a#b", "..%2F", "a b"])
def test_hostile_script_names_never_change_the_path(
    name: str, dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    with pytest.raises(DataArtsAPIError) as caught:
        DataArtsHook(dataarts_conn).get_script_instance(name, "instance-1")
    assert caught.value.error_code == "DLF.6201", "the emulator saw a script name, not a new path"
    (request,) = emulator.requests
    assert request["path"].startswith("/v1/p1/scripts/")
    assert request["path"].endswith("/instances/instance-1")
    assert request["path"].count("/") == 6
    assert request["query"] == {}


@pytest.mark.parametrize("name", ["../../v2/p1/quality/instances", "a/b", "a\\b"])
def test_script_names_with_a_slash_are_refused_before_any_request(
    name: str, dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    with pytest.raises(DataArtsConfigError, match=r"script_name .* must not contain '/'"):
        DataArtsHook(dataarts_conn).get_script_instance(name, "instance-1")
    assert emulator.requests == []


@pytest.mark.parametrize("bad", ["..", ".", "line\nbreak", "tab\there", ""])
def test_unusable_ids_are_rejected_before_any_request(
    bad: str, dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    with pytest.raises(DataArtsConfigError, match="instance_id"):
        DataArtsHook(dataarts_conn).get_script_instance("daily_orders_sql", bad)
    with pytest.raises(DataArtsConfigError, match="script_name"):
        DataArtsHook(dataarts_conn).execute_script(bad)
    assert emulator.count() == 0


def test_a_token_is_renewed_before_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    """Half-way through its life at the latest (the real 24 h token: 40 minutes before its end)."""
    from airflow_provider_dataarts.client.core import TOKENS
    from tests.support import IAM_PASSWORD

    TOKENS._tokens.clear()
    with DataArtsEmulator(port=0, iam_password=IAM_PASSWORD, token_ttl=2.0) as short_lived:
        monkeypatch.setenv("AIRFLOW_CONN_SHORT", connection_json(short_lived.url, "password"))
        hook = DataArtsHook("short")
        hook.resolve_job_id("orders_completeness")
        hook.resolve_job_id("orders_completeness")
        assert short_lived.token_requests == 1
        time.sleep(1.2)
        hook.resolve_job_id("orders_completeness")
        assert short_lived.token_requests == 2
        api_calls = [r for r in short_lived.requests if r["path"].startswith("/v2/")]
        assert [r["status"] for r in api_calls] == [200, 200, 200], "renewed before the gateway refused it"
