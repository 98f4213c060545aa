"""
The quality gate policy end to end against the emulator, in every mode: the rerun operator waiting
in a worker or deferred, the sensor in poke, reschedule and deferrable mode. ``orders_freshness``
ends ALARMING with two alarming sub-rules: ``region_not_null`` (Completeness) and
``order_id_unique`` (Uniqueness).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.hooks.dataarts import DataArtsHook
from airflow_provider_dataarts.operators.quality import RerunQualityJobOperator
from airflow_provider_dataarts.quality_policy import WarnOnlyWarning
from tests.integration.dagrun import RunOutcome, load_dag, run_dag

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.filterwarnings("ignore")]

OPERATOR_MODES = {"sync": {"deferrable": False}, "deferred": {"deferrable": True}}
SENSOR_MODES = {
    "poke": {"mode": "poke", "deferrable": False},
    "reschedule": {"mode": "reschedule", "deferrable": False},
    "deferred": {"deferrable": True},
}
BOTH = ["Completeness", "order_id_*"]


def gate(warn_only: Any, mode: str) -> RunOutcome:
    """The gate example (rerun orders_freshness, wait, load or notify) with this warn_only."""
    return run_dag(
        load_dag("example_dataarts_quality_gate"),
        {"warn_only": warn_only},
        quality_gate={"poll_interval": 0.2, **OPERATOR_MODES[mode]},
    )


def sensor(emulator: DataArtsEmulator, conn_id: str, mode: str, **kwargs: Any) -> RunOutcome:
    instance_id = DataArtsHook(conn_id).rerun_quality_job(emulator.job_id("orders_freshness"))
    return run_dag(
        load_dag("test_quality_sensor"),
        {"instance_id": instance_id},
        wait={"timeout": 60, **SENSOR_MODES[mode], **kwargs},
    )


def output(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    return captured.out + captured.err


@pytest.mark.parametrize("mode", list(OPERATOR_MODES))
def test_the_operator_passes_when_every_alarm_is_warn_only(
    mode: str, emulator: DataArtsEmulator, dataarts_conn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = gate(BOTH, mode)

    assert outcome.states == {
        "quality_gate": "success",
        "load_orders": "success",
        "notify_data_owner": "skipped",
    }
    result = outcome.xcom("quality_gate", "quality_result")
    assert (result["run_status"], result["verdict"]) == ("ALARMING", "passed_with_warnings")
    severities = {s["name"]: s["severity"] for s in result["sub_rules"]}
    assert severities == {
        "region_not_null": "warn",
        "order_id_unique": "warn",
        "orders_row_count": None,
        "no_future_order_dates": None,
    }
    log = output(capsys)
    assert "passing with warnings since every alarming sub-rule is warn_only" in log
    assert "region_not_null, order_id_unique" in log


@pytest.mark.parametrize("mode", list(OPERATOR_MODES))
def test_the_operator_fails_on_an_alarm_that_is_not_warn_only_with_a_table(
    mode: str, emulator: DataArtsEmulator, dataarts_conn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = gate(["Completeness"], mode)

    assert outcome.states == {
        "quality_gate": "failed",
        "load_orders": "upstream_failed",
        "notify_data_owner": "success",
    }
    result = outcome.xcom("quality_gate", "quality_result")
    assert result["verdict"] == "failed"
    log = output(capsys)
    assert "with 2 alarming sub-rule(s) of 4, 1 of them failing the task (not warn_only)" in log
    rows = {
        line.split()[0]: line.split()
        for line in log.splitlines()
        if line.split()[:1] in (["region_not_null"], ["order_id_unique"])
    }
    assert rows["region_not_null"][:4] == ["region_not_null", "Completeness", "sales.orders.region", "${1}>0"]
    assert rows["region_not_null"][-2] == "warn"
    assert rows["order_id_unique"][:4] == ["order_id_unique", "Uniqueness", "sales.orders.order_id", "${1}>0"]
    assert rows["order_id_unique"][-2] == "fail"
    assert "Abnormal Rows=13" in " ".join(rows["region_not_null"])
    # The notification task reads the same from the XCom.
    assert "ALARM (fail) order_id_unique [Uniqueness] on sales.orders.order_id, threshold ${1}>0" in log


@pytest.mark.parametrize("mode", list(SENSOR_MODES))
def test_the_sensor_applies_the_same_policy_in_every_mode(
    mode: str, emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    passing = sensor(emulator, dataarts_conn, mode, warn_only=["completeness", "Uniqueness"])
    assert passing.states == {"wait": "success"}
    assert passing.xcom("wait", "quality_result")["verdict"] == "passed_with_warnings"
    assert passing.xcom("wait")["verdict"] == "passed_with_warnings", "return_value is the same object"

    failing = sensor(emulator, dataarts_conn, mode, warn_only="region_*")  # one string: one pattern
    assert failing.states == {"wait": "failed"}
    result = failing.xcom("wait", "quality_result")
    assert result["verdict"] == "failed"
    assert [s["severity"] for s in result["sub_rules"]] == ["warn", "fail", None, None]


def test_a_failed_definition_read_never_turns_a_failure_into_a_pass(
    emulator: DataArtsEmulator, dataarts_conn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.inject("status", status=403, path="/quality-tasks/", count=5)
    outcome = gate(BOTH, "sync")

    assert outcome.states["quality_gate"] == "failed", "without names warn_only matches nothing"
    result = outcome.xcom("quality_gate", "quality_result")
    assert result["verdict"] == "failed"
    for sub_rule in result["sub_rules"]:
        assert not {"name", "dimension", "table", "column", "alarm_condition"} & set(sub_rule)
    assert [s["severity"] for s in result["sub_rules"]] == ["fail", "fail", None, None]
    log = output(capsys)
    assert "Could not read the definition of quality job" in log and "403" in log
    assert "warn_only ['Completeness', 'order_id_*'] matches nothing in this run" in log


def test_a_failed_definition_read_leaves_a_passing_instance_passing(
    emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    emulator.inject("status", status=403, path="/quality-tasks/", count=5)
    outcome = run_dag(
        load_dag("example_dataarts_quality_gate"),
        {"job_name": "orders_completeness", "warn_only": BOTH},
        quality_gate={"poll_interval": 0.2},
    )
    assert outcome.states["quality_gate"] == "success"
    assert outcome.xcom("quality_gate", "quality_result")["verdict"] == "passed"


def test_a_pattern_that_matched_no_sub_rule_is_named_in_the_log(
    emulator: DataArtsEmulator, dataarts_conn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = gate([*BOTH, "Timeliness", "freshness_*"], "sync")
    assert outcome.states["quality_gate"] == "success"
    log = output(capsys)
    for pattern in ("Timeliness", "freshness_*"):
        assert f"warn_only pattern '{pattern}' matched no sub-rule of job orders_freshness" in log
    assert "dimensions: Accuracy, Completeness, Uniqueness, Validity" in log
    assert "warn_only pattern 'Completeness' matched" not in log


def test_a_pattern_that_can_match_nothing_warns_when_the_dag_is_parsed() -> None:
    with pytest.warns(WarnOnlyWarning, match=r"rerun: warn_only pattern 'Completness' is no DataArts"):
        RerunQualityJobOperator(task_id="rerun", rule_id="1", warn_only=["Completness"])


def test_a_rendered_warn_only_of_the_wrong_type_fails_before_the_rerun(
    emulator: DataArtsEmulator, dataarts_conn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = run_dag(
        load_dag("example_dataarts_quality_gate"), quality_gate={"warn_only": "[1, 2]", "poll_interval": 0.2}
    )
    assert outcome.states["quality_gate"] == "failed"
    assert "quality_gate: warn_only must hold sub-rule names or dimensions as text, not 1" in output(capsys)
    assert emulator.count("POST", "/restart") == 0


def test_the_xcom_shape(emulator: DataArtsEmulator, dataarts_conn: str) -> None:
    started = time.time()
    outcome = gate(["Completeness"], "sync")
    result = outcome.xcom("quality_gate", "quality_result")
    job = emulator.state.job_by_name("orders_freshness")

    assert list(result) == ["instance_id", "run_status", "verdict", "instance", "sub_rules"]
    assert isinstance(result["instance_id"], str) and result["instance"]["start_time"] >= (started - 5) * 1000
    first = result["sub_rules"][0]
    assert set(first) == {
        "sub_rule_id",
        "sub_instance_instance_id",
        "abnormal_table_status",
        "results",
        "name",
        "dimension",
        "table",
        "column",
        "alarm_condition",
        "severity",
    }
    assert first == {
        "sub_rule_id": str(job.sub_rule_ids[0]),
        "sub_instance_instance_id": first["sub_instance_instance_id"],
        "abnormal_table_status": "UNSUPPORTED",
        "results": [
            {"Total Rows": "1000", "Abnormal Rows": "13", "Status": "false", "Name": "dws.orders.rule_1"}
        ],
        "name": "region_not_null",
        "dimension": "Completeness",
        "table": "sales.orders",
        "column": "region",
        "alarm_condition": "${1}>0",
        "severity": "warn",
    }
    accuracy = result["sub_rules"][2]
    assert (accuracy["column"], accuracy["alarm_condition"], accuracy["severity"]) == (None, "${1}<100", None)
    assert emulator.count("GET", f"/quality/quality-tasks/{job.id}") == 1, "one definition read"
