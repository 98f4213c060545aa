"""
OpenLineage facets of a finished quality instance: built from real emulator answers, checked
against openlineage-python's classes, and emitted end to end by Airflow's OpenLineage provider.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import typing
from pathlib import Path
from typing import Any

import attr
import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.hooks.dataarts import DataArtsHook
from airflow_provider_dataarts.openlineage_facets import (
    ASSERTIONS_FACET,
    GATE_FACET,
    TEST_RUN_FACET,
    quality_lineage,
    sub_rule_checks,
)
from airflow_provider_dataarts.statuses import is_alarming

pytest.importorskip("airflow.providers.openlineage")
from openlineage.client.facet_v2 import data_quality_assertions_dataset as dq
from openlineage.client.facet_v2 import test_run
from openlineage.client.serde import Serde

JOBS = {"orders_completeness": "quality", "orders_freshness": "quality", "orders_vs_warehouse": "comparison"}


class Log:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, message: str, *args: Any) -> None:
        self.warnings.append(message % args)


def finished_result(hook: DataArtsHook, job: str) -> dict[str, Any]:
    """A ``quality_result`` as the operator pushes it, from a real rerun on the emulator."""
    kind = JOBS.get(job, "quality")
    instance_id = hook.rerun_quality_job(hook.resolve_job_id(job, kind), kind)
    deadline = time.time() + 10
    while (instance := hook.get_quality_instance(instance_id))["run_status"] == "RUNNING":
        assert time.time() < deadline
        time.sleep(0.1)
    return {
        "instance_id": instance_id,
        "run_status": instance["run_status"],
        "instance": instance,
        "sub_rules": hook.get_quality_instance_results(instance_id),
    }


def check_against(cls: type, emitted: dict[str, Any]) -> None:
    """
    ``emitted`` (JSON) holds exactly fields of the openlineage-python ``cls``, of their types, with
    every required one; and it rebuilds into ``cls``.
    """
    fields = {f.name.lstrip("_"): f for f in attr.fields(cls)}
    hints = typing.get_type_hints(cls)
    names = {name for name in emitted if not name.startswith("_")}
    assert names <= set(fields), f"{cls.__name__}: unknown fields {names - set(fields)}"
    required = {name for name, f in fields.items() if f.default is attr.NOTHING}
    assert required <= names, f"{cls.__name__}: missing {required - names}"
    for name in names:
        allowed = tuple(
            typing.get_origin(arg) or arg for arg in (typing.get_args(hints[name]) or (hints[name],))
        )
        allowed = tuple(object if a is typing.Any else a for a in allowed)
        assert isinstance(emitted[name], tuple(a for a in allowed if isinstance(a, type))) or (
            emitted[name] is None and type(None) in allowed
        ), f"{cls.__name__}.{name} = {emitted[name]!r} is not {hints[name]}"
    cls(**{name: emitted[name] for name in names})


def check_assertions_facet(facet: dict[str, Any]) -> list[dict[str, Any]]:
    assert facet["_schemaURL"] == dq.DataQualityAssertionsDatasetFacet._get_schema()
    assert "/1-1-0/DataQualityAssertionsDatasetFacet.json" in facet["_schemaURL"]
    for assertion in facet["assertions"]:
        check_against(dq.Assertion, assertion)
    return facet["assertions"]


def check_test_run_facet(facet: dict[str, Any]) -> list[dict[str, Any]]:
    assert facet["_schemaURL"] == test_run.TestRunFacet._get_schema()
    for test in facet["tests"]:
        check_against(test_run.TestExecution, test)
    return facet["tests"]


@pytest.mark.parametrize("job", list(JOBS))
def test_one_assertion_per_sub_rule_on_each_checked_table(
    job: str, dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    hook = DataArtsHook(dataarts_conn)
    result = finished_result(hook, job)
    lineage = json.loads(Serde.to_json(quality_lineage(hook, result, fail_on_alarm=True, log=Log())))

    host = emulator.url.split("://")[1]
    expected_tables = {f"dataarts://{host}/w1/dws_sales": "sales.orders"}
    if JOBS[job] == "comparison":
        expected_tables[f"dataarts://{host}/w1/dli_warehouse"] = "warehouse.orders"
    assert {d["namespace"]: d["name"] for d in lineage["inputs"]} == expected_tables
    assert lineage["outputs"] == []
    passed = {r["sub_rule_id"]: not is_alarming(r) for r in result["sub_rules"]}
    for dataset in lineage["inputs"]:
        assertions = check_assertions_facet(dataset["inputFacets"][ASSERTIONS_FACET])
        assert [a["params"]["sub_rule_id"] for a in assertions] == list(passed)
        assert [a["success"] for a in assertions] == list(passed.values())
        assert all(a["severity"] == "error" for a in assertions)
        assert all(a["actual"] and "Total Rows=" in a["actual"] for a in assertions)
    tests = check_test_run_facet(lineage["run_facets"][TEST_RUN_FACET])
    assert [t["status"] for t in tests] == ["pass" if ok else "fail" for ok in passed.values()]
    if job == "orders_freshness":
        assert list(passed.values()) == [False, False, True, True]


def test_assertions_carry_name_column_condition_and_template(
    dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    hook = DataArtsHook(dataarts_conn)
    result = finished_result(hook, "orders_freshness")
    detail = hook.get_quality_job(result["instance"]["task_id"])
    checks = sub_rule_checks(result, detail, host="h", workspace="w1", fail_on_alarm=False)

    assert [c.name for c in checks] == [r["sub_rule_name"] for r in detail["sub_rules"]]
    assert [c.column for c in checks] == ["region", "order_id", None, "order_date"]
    assert [c.assertion for c in checks] == ["completeness", "uniqueness", "accuracy", "validity"]
    assert [c.expected for c in checks] == [r["alarm_condition"] for r in detail["sub_rules"]]
    assert checks[3].content and checks[3].content.startswith("SELECT")
    assert {c.severity for c in checks} == {"warn"}, "fail_on_alarm=False: an alarm does not block"
    assert checks[0].params["template_id"] == detail["sub_rules"][0]["template_id"]
    assert checks[0].params["level"] == "MAJOR"


def test_assertions_carry_each_sub_rules_severity_and_threshold_under_warn_only(
    dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    """``severity``: what an alarm of that rule does under the task's policy; ``expected``: its threshold."""
    from airflow_provider_dataarts.quality_policy import QualityPolicy
    from airflow_provider_dataarts.results.quality import judge

    hook = DataArtsHook(dataarts_conn)
    result = finished_result(hook, "orders_freshness")
    policy = QualityPolicy(warn_only=("Completeness", "Validity"))
    result["verdict"] = judge(hook, result["instance"], result["sub_rules"], policy, Log()).word
    lineage = json.loads(
        Serde.to_json(
            quality_lineage(hook, result, fail_on_alarm=True, warn_only=policy.warn_only, log=Log())
        )
    )

    (dataset,) = lineage["inputs"]
    assertions = check_assertions_facet(dataset["inputFacets"][ASSERTIONS_FACET])
    assert [(a["name"], a["success"], a["severity"], a["expected"]) for a in assertions] == [
        ("region_not_null", False, "warn", "${1}>0"),
        ("order_id_unique", False, "error", "${1}>0"),
        ("orders_row_count", True, "error", "${1}<100"),
        ("no_future_order_dates", True, "warn", "${1}>0"),  # would only warn, had it alarmed
    ]
    assert [a["params"].get("gate") for a in assertions] == ["warn", "fail", None, None]
    gate = lineage["run_facets"][GATE_FACET]
    assert gate["_schemaURL"].endswith("#dataartsqualitygate")
    assert (gate["verdict"], gate["runStatus"], gate["failOnAlarm"]) == ("failed", "ALARMING", True)
    assert gate["warnOnly"] == ["Completeness", "Validity"]
    assert gate["alarms"] == [
        {
            "subRuleId": result["sub_rules"][0]["sub_rule_id"],
            "name": "region_not_null",
            "dimension": "Completeness",
            "target": "sales.orders.region",
            "threshold": "${1}>0",
            "severity": "warn",
        },
        {
            "subRuleId": result["sub_rules"][1]["sub_rule_id"],
            "name": "order_id_unique",
            "dimension": "Uniqueness",
            "target": "sales.orders.order_id",
            "threshold": "${1}>0",
            "severity": "fail",
        },
    ]


def test_without_the_job_detail_the_assertions_land_on_the_job(
    dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    hook = DataArtsHook(dataarts_conn)
    result = finished_result(hook, "orders_completeness")
    emulator.inject("status", status=403, path="/quality-tasks/", count=1)
    log = Log()
    lineage = quality_lineage(hook, result, fail_on_alarm=True, log=log)

    assert [(d.namespace, d.name) for d in lineage.inputs] == [
        (f"dataarts://{emulator.url.split('://')[1]}/w1", "jobs/orders_completeness")
    ]
    assert len(lineage.inputs[0].inputFacets[ASSERTIONS_FACET].assertions) == 3
    assert log.warnings and "Could not read the definition" in log.warnings[0]


def test_a_failed_instance_reports_rules_that_did_not_run_as_skipped(
    dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    hook = DataArtsHook(dataarts_conn)
    result = finished_result(hook, "orders_broken")
    checks = sub_rule_checks(result, None, host="h", workspace="w", fail_on_alarm=True)
    assert result["run_status"] == "FAILED"
    assert [c.status for c in checks] == ["skip", "pass"]


# --- end to end: Airflow's OpenLineage provider, file transport, the example DAG -----------------


def airflow(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "airflow", *args], capture_output=True, text=True, timeout=300, env=env
    )


def lineage_events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.usefixtures("airflow_db")
@pytest.mark.parametrize("job", ["orders_completeness", "orders_freshness"])
def test_example_dag_emits_a_complete_event_with_one_assertion_per_sub_rule(
    job: str, tmp_path: Path, emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    events_file = tmp_path / "openlineage.jsonl"
    env = {
        **os.environ,
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events_file), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "dataarts-tests",
        "AIRFLOW__OPENLINEAGE__DISABLED": "False",
    }
    done = airflow(
        "dags", "test", "example_dataarts_quality", "--conf", json.dumps({"job_name": job}), env=env
    )
    assert events_file.exists(), done.stdout[-3000:] + done.stderr[-3000:]

    events = lineage_events(events_file)
    waited = [e for e in events if e["job"]["name"] == "example_dataarts_quality.wait_for_quality_instance"]
    final = [e for e in waited if e["eventType"] in ("COMPLETE", "FAIL")]
    assert len(final) == 1, ([(e["eventType"], e["job"]["name"]) for e in events], done.stdout[-3000:])
    event = final[0]
    instance_id = max(emulator.state.instances)
    expected = emulator.state.instances[instance_id].results
    passed = {str(r["sub_rule_id"]): r["results"][0]["Status"] == "true" for r in expected}
    if job == "orders_completeness":
        assert event["eventType"] == "COMPLETE"
    else:  # ALARMING fails the task: the FAIL event carries the same assertions
        assert event["eventType"] == "FAIL"
        assert list(passed.values()) == [False, False, True, True]
    (dataset,) = event["inputs"]
    assert dataset["name"] == "sales.orders" and dataset["namespace"].endswith("/w1/dws_sales")
    assertions = check_assertions_facet(dataset["inputFacets"][ASSERTIONS_FACET])
    assert {a["params"]["sub_rule_id"]: a["success"] for a in assertions} == passed
    assert all(a["params"]["sub_rule_instance_id"] for a in assertions)
    tests = check_test_run_facet(event["run"]["facets"][TEST_RUN_FACET])
    assert {t["params"]["sub_rule_id"]: t["status"] == "pass" for t in tests} == passed
    gate = event["run"]["facets"][GATE_FACET]
    assert gate["verdict"] == ("passed" if job == "orders_completeness" else "failed")
    assert [(a["name"], a["severity"]) for a in gate["alarms"]] == (
        [] if job == "orders_completeness" else [("region_not_null", "fail"), ("order_id_unique", "fail")]
    )
