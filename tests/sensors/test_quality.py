"""DataArtsQualityInstanceSensor in poke, reschedule and deferrable modes: soft_fail and timeout agree."""

from __future__ import annotations

import time
from typing import Any

import pendulum
import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.hooks.dataarts import DataArtsHook
from tests.integration.dagrun import RunOutcome, load_dag, run_dag

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.filterwarnings("ignore")]

MODES = {
    "poke": {"mode": "poke", "deferrable": False},
    "reschedule": {"mode": "reschedule", "deferrable": False},
    "deferrable": {"deferrable": True},
}


def wait_for(
    emulator: DataArtsEmulator, conn_id: str, job: str, **sensor_kwargs: Any
) -> tuple[str, RunOutcome]:
    instance_id = DataArtsHook(conn_id).rerun_quality_job(emulator.job_id(job))
    return instance_id, run_sensor({"instance_id": instance_id}, **sensor_kwargs)


def run_sensor(conf: dict[str, Any], **sensor_kwargs: Any) -> RunOutcome:
    return run_dag(load_dag("test_quality_sensor"), conf, wait=sensor_kwargs)


@pytest.mark.parametrize("mode", list(MODES))
def test_success_pushes_every_sub_rule(mode: str, emulator: DataArtsEmulator, dataarts_conn: str) -> None:
    instance_id, outcome = wait_for(emulator, dataarts_conn, "big_rule_set", timeout=30, **MODES[mode])
    assert outcome.states == {"wait": "success"}
    result = outcome.xcom("wait", "quality_result")
    assert result["instance_id"] == instance_id
    assert len(result["sub_rules"]) == 250
    assert outcome.xcom("wait") == result


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("soft_fail", [True, False])
def test_timeout_is_the_same_in_every_mode(
    mode: str, soft_fail: bool, emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    emulator.add_quality_job("slow_job", run_seconds=60)
    began = time.monotonic()
    _, outcome = wait_for(
        emulator, dataarts_conn, "slow_job", timeout=1.5, soft_fail=soft_fail, **MODES[mode]
    )
    assert outcome.states == {"wait": "skipped" if soft_fail else "failed"}
    assert time.monotonic() - began < 15


@pytest.mark.parametrize("mode", ["poke", "deferrable"])
@pytest.mark.parametrize("soft_fail", [True, False])
def test_api_errors_are_the_same_in_poke_and_deferrable_modes(
    mode: str, soft_fail: bool, emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    instance_id = DataArtsHook(dataarts_conn).rerun_quality_job(emulator.job_id("orders_completeness"))
    emulator.inject("status", status=403, method="GET", path="/quality/instances", count=100)
    outcome = run_sensor({"instance_id": instance_id}, timeout=30, soft_fail=soft_fail, **MODES[mode])
    assert outcome.states == {"wait": "skipped" if soft_fail else "failed"}


@pytest.mark.parametrize("mode", ["poke", "deferrable"])
def test_alarming_passes_with_a_warning_when_allowed(
    mode: str, emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    _, outcome = wait_for(
        emulator, dataarts_conn, "orders_freshness", timeout=30, fail_on_alarm=False, **MODES[mode]
    )
    assert outcome.states == {"wait": "success"}
    assert outcome.xcom("wait", "quality_result")["run_status"] == "ALARMING"


def test_hints_make_each_poke_one_request(emulator: DataArtsEmulator, dataarts_conn: str) -> None:
    # Long enough to be running when a loaded machine has started the DAG run (that takes seconds).
    emulator.add_quality_job("three_second_job", run_seconds=6)
    started = pendulum.now("UTC")
    instance_id = DataArtsHook(dataarts_conn).rerun_quality_job(emulator.job_id("three_second_job"))
    before = emulator.count()
    conf = {"instance_id": instance_id, "job_name": "three_second_job", "started_after": started.isoformat()}
    outcome = run_sensor(conf, timeout=30)
    assert outcome.states == {"wait": "success"}
    lists = [r for r in emulator.requests[before:] if r["path"].endswith("/quality/instances")]
    results = [r for r in emulator.requests[before:] if r["path"].endswith("/result")]
    assert all(r["query"]["name"] == ["three_second_job"] for r in lists)
    assert len(results) == 1, "3 sub-rules: one result page"
    assert len(lists) >= 2, "it poked while the instance ran, then once more"


@pytest.mark.parametrize("mode", list(MODES))
def test_a_connection_without_workspace_fails_before_any_request_in_every_mode(
    mode: str, emulator: DataArtsEmulator, connect: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same check as the hook's, before deferring too: a setting error fails even with soft_fail."""
    connect("aksk", workspace="")
    outcome = run_sensor({"instance_id": "1012386207306600449"}, soft_fail=True, timeout=30, **MODES[mode])
    assert outcome.states == {"wait": "failed"}
    assert emulator.requests == []
    out = capsys.readouterr()
    assert "set extra.workspace" in out.out + out.err
