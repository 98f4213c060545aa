"""Trigger events, the script XCom and the quality summary, as a user sees them."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowSensorTimeout

from airflow_provider_dataarts.results import validate_event
from airflow_provider_dataarts.results.quality import summarize_quality
from airflow_provider_dataarts.results.script import json_size, script_result
from airflow_provider_dataarts.statuses import is_alarming

LOG = logging.getLogger("tests.results")

# --- validate_event ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        None,
        "success",
        ["success", "1"],
        {},
        {"instance_id": "1"},
        {"status": "done", "instance_id": "1"},
        {"status": "success"},
        {"status": "success", "instance_id": ""},
        {"status": "success", "instance_id": None},
    ],
)
def test_an_unusable_event_is_refused(event: Any) -> None:
    with pytest.raises(AirflowException, match="Unexpected event from the DataArts trigger"):
        validate_event(event, "1")


def test_an_event_for_another_instance_is_refused() -> None:
    with pytest.raises(AirflowException) as caught:
        validate_event({"status": "success", "instance_id": "2"}, "1")
    assert "2" in str(caught.value) and "expected 1" in str(caught.value)


def test_a_success_event_is_returned() -> None:
    event = {"status": "success", "instance_id": 1012386207306600449, "run_status": "SUCCESS"}
    assert validate_event(event, "1012386207306600449") is event  # a numeric id matches its text
    assert validate_event(event) is event  # no expected id: any instance


def test_a_timeout_event_is_a_sensor_timeout() -> None:
    with pytest.raises(AirflowSensorTimeout, match="no result after 60 s"):
        validate_event({"status": "timeout", "instance_id": "1", "message": "no result after 60 s"}, "1")


def test_an_error_event_raises_with_its_message() -> None:
    with pytest.raises(AirflowException, match=r"DLF\.6205 instance gone") as caught:
        validate_event({"status": "error", "instance_id": "1", "message": "DLF.6205 instance gone"}, "1")
    assert not isinstance(caught.value, AirflowSensorTimeout)


def test_the_instance_is_checked_before_the_status() -> None:
    with pytest.raises(AirflowException, match="expected 1") as caught:
        validate_event({"status": "timeout", "instance_id": "2", "message": "m"}, "1")
    assert not isinstance(caught.value, AirflowSensorTimeout)


# --- script_result ----------------------------------------------------------------------------------

SCHEMA = [{"TripID": "int"}, {"City": "string"}, {"Fare": "double"}]


def result_set(rows: list[list[Any]], **fields: Any) -> dict[str, Any]:
    return {"schema": SCHEMA, "rows": rows, "duration": 12, "message": "ok", **fields}


def test_records_are_keyed_by_column_name() -> None:
    answer = {
        "status": "FINISHED",
        "results": [result_set([[1, "北京", 9.5], [2, "Shanghai", None]], rowCount=2)],
    }
    result = script_result("report", "inst-1", answer, max_rows=1000, log=LOG)

    assert (result["instance_id"], result["script_name"], result["status"]) == (
        "inst-1",
        "report",
        "FINISHED",
    )
    (only,) = result["results"]
    assert only["records"] == [
        {"TripID": 1, "City": "北京", "Fare": 9.5},
        {"TripID": 2, "City": "Shanghai", "Fare": None},
    ]
    assert "rows" not in only, "the same data as records: only with include_rows"
    assert only["schema"] == SCHEMA
    assert (only["rowCount"], only["duration"], only["message"]) == (2, 12, "ok")


def test_a_result_set_without_rows() -> None:
    answer = {"status": "FINISHED", "results": [{"schema": None, "rows": None, "message": "DDL done"}]}
    (only,) = script_result("ddl", "i", answer, max_rows=10, log=LOG)["results"]
    assert only == {
        "schema": [],
        "records": [],
        "rowCount": 0,
        "duration": None,
        "message": "DDL done",
    }


def test_no_result_sets() -> None:
    assert script_result("s", "i", {"status": "FINISHED"}, max_rows=10, log=LOG)["results"] == []


def test_a_schema_entry_without_a_name_gets_a_positional_one() -> None:
    answer = {"results": [{"schema": [{"a": "int"}, {}, "junk"], "rows": [[1, 2, 3]]}]}
    (only,) = script_result("s", "i", answer, max_rows=10, log=LOG)["results"]
    assert only["records"] == [{"a": 1, "column_1": 2, "column_2": 3}]


def test_duplicate_column_names_keep_every_value() -> None:
    answer = {"results": [{"schema": [{"id": "int"}, {"id": "int"}], "rows": [[1, 2]]}]}
    (only,) = script_result("s", "i", answer, max_rows=10, log=LOG)["results"]
    assert sorted(only["records"][0].values()) == [1, 2]


def test_rows_are_cut_to_max_rows_across_result_sets(caplog: pytest.LogCaptureFixture) -> None:
    first = result_set([[n, "a", 1.0] for n in range(3)], rowCount=3)
    second = result_set([[n, "b", 2.0] for n in range(10, 14)], rowCount=4)
    answer = {"status": "FINISHED", "results": [first, second]}

    with caplog.at_level(logging.WARNING, logger=LOG.name):
        result = script_result("report", "inst-1", answer, max_rows=5, log=LOG)

    one, two = result["results"]
    assert [r["TripID"] for r in one["records"]] == [0, 1, 2]
    assert [r["TripID"] for r in two["records"]] == [10, 11]
    assert (one["rowCount"], two["rowCount"]) == (3, 4)  # what DataArts counted, not what was kept
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    assert "report" in text and "inst-1" in text and "7 rows" in text and "5" in text


def test_max_rows_zero_keeps_no_rows(caplog: pytest.LogCaptureFixture) -> None:
    answer = {"results": [result_set([[1, "a", 1.0]])]}
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        (only,) = script_result("s", "i", answer, max_rows=0, log=LOG)["results"]
    assert (only["records"], only["rowCount"]) == ([], 1)
    assert any(r.levelno == logging.WARNING for r in caplog.records)


def test_no_warning_when_everything_fits(caplog: pytest.LogCaptureFixture) -> None:
    answer = {"results": [result_set([[1, "a", 1.0], [2, "b", 2.0]])]}
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        (only,) = script_result("s", "i", answer, max_rows=2, log=LOG)["results"]
    assert len(only["records"]) == 2
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_include_rows_brings_back_the_api_lists() -> None:
    answer = {"results": [result_set([[1, "a", 1.0], [2, "b", 2.0], [3, "c", 3.0]])]}
    (only,) = script_result("s", "i", answer, max_rows=2, log=LOG, include_rows=True)["results"]
    assert only["rows"] == [[1, "a", 1.0], [2, "b", 2.0]]
    assert [r["TripID"] for r in only["records"]] == [1, 2]


def wide_answer(sets: int, rows: int) -> dict[str, Any]:
    return {
        "status": "FINISHED",
        "results": [result_set([[n, "x" * 90, float(n)] for n in range(rows)]) for _ in range(sets)],
    }


@pytest.mark.parametrize("include_rows", [False, True])
def test_max_xcom_bytes_keeps_the_first_rows_that_fit(
    include_rows: bool, caplog: pytest.LogCaptureFixture
) -> None:
    answer = wide_answer(2, 100)
    unbounded = script_result(
        "s", "i", answer, max_rows=1000, log=LOG, include_rows=include_rows, max_xcom_bytes=None
    )
    assert json_size(unbounded) > 20_000
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        result = script_result(
            "s", "i", answer, max_rows=1000, log=LOG, include_rows=include_rows, max_xcom_bytes=10_000
        )

    assert 9_000 < json_size(result) <= 10_000, "as many rows as fit, and no more"
    one, two = result["results"]
    assert 0 < len(one["records"]) < 100
    assert [r["TripID"] for r in one["records"]] == list(range(len(one["records"])))
    assert two["records"] == [], "later result sets keep nothing once the bytes ran out"
    assert (one["rowCount"], two["rowCount"]) == (100, 100)
    if include_rows:
        assert len(one["rows"]) == len(one["records"])
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    kept = len(one["records"])
    assert (
        f"returned 200 rows; kept the first {kept} in XCom (max_xcom_bytes=10000; 200 rows would be"
        in warning
    )
    assert f"{json_size(unbounded)} bytes" in warning
    assert f"result set 1: kept {kept} of 100 rows; result set 2: kept 0 of 100 rows" in warning


def test_max_rows_cuts_first_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        result = script_result("s", "i", wide_answer(1, 50), max_rows=10, log=LOG)
    assert len(result["results"][0]["records"]) == 10
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "kept the first 10 in XCom (max_rows=10). Cut: result set 1: kept 10 of 50 rows" in warning


def test_a_bound_smaller_than_the_empty_result_keeps_no_rows() -> None:
    result = script_result("s", "i", wide_answer(1, 5), max_rows=10, log=LOG, max_xcom_bytes=50)
    assert result["results"][0]["records"] == []


# --- quality summary --------------------------------------------------------------------------------


def sub_rule(number: int, status: str | bool | None, table: str = "UNSUPPORTED") -> dict[str, Any]:
    row: dict[str, Any] = {"Total Rows": "4", "Name": f"db.table_{number}"}
    if status is not None:
        row["Status"] = status
    return {
        "sub_rule_id": f"10123861826021{number:05d}",
        "sub_instance_instance_id": f"10123861907181{number:05d}",
        "abnormal_table_status": table,
        "results": [row],
    }


def quality_result(sub_rules: list[dict[str, Any]], run_status: str = "ALARMING") -> dict[str, Any]:
    return {
        "instance_id": "1012386190718128129",
        "run_status": run_status,
        "instance": {"id": "1012386190718128129", "name": "orders_check", "task_type": "QUALITY_TASK"},
        "sub_rules": sub_rules,
    }


@pytest.mark.parametrize(
    ("rule", "alarming"),
    [
        (sub_rule(1, "false"), True),
        (sub_rule(1, "FALSE "), True),
        (sub_rule(1, False), True),
        (sub_rule(1, "true"), False),
        (sub_rule(1, None), False),
        ({"sub_rule_id": "1", "results": []}, False),
        ({"sub_rule_id": "1"}, False),
    ],
)
def test_is_alarming(rule: dict[str, Any], alarming: bool) -> None:
    assert is_alarming(rule) is alarming


def test_summary_counts_sub_rules_and_lists_the_alarming_ones() -> None:
    rules = [
        sub_rule(1, "false"),
        sub_rule(2, "true", table="SUCCESS"),
        sub_rule(3, "false", table="FAILED"),
        sub_rule(4, "true"),
    ]
    text = summarize_quality(quality_result(rules))
    lines = text.splitlines()

    assert lines[0] == "DataArts quality instance 1012386190718128129 (orders_check, quality job): ALARMING"
    assert lines[1] == "Sub-rules: 4 checked: 2 passed, 2 alarming (a result row with Status false)"
    assert lines[2] == (
        "Abnormal tables (where DataArts copies the rows that broke a sub-rule), sub-rules by status: "
        "none, the rule keeps no abnormal table: 2 (UNSUPPORTED); written: 1 (SUCCESS); "
        "writing failed: 1 (FAILED)"
    )
    assert rules[0]["sub_rule_id"] in text and rules[2]["sub_rule_id"] in text
    assert rules[0]["sub_instance_instance_id"] in text
    assert "Name=db.table_3" in text
    assert rules[1]["sub_rule_id"] not in text and rules[3]["sub_rule_id"] not in text


def test_summary_counts_sub_rules_without_a_result_apart() -> None:
    broken = {"sub_rule_id": "7", "abnormal_table_status": "UNSUPPORTED", "results": []}
    text = summarize_quality(quality_result([sub_rule(1, "true"), broken], run_status="FAILED"))
    assert (
        "Sub-rules: 2 checked: 1 passed, 0 alarming (a result row with Status false), 1 without a result"
        in text
    )
    assert "(comparison job)" not in text


def test_summary_of_a_clean_run_lists_nothing() -> None:
    text = summarize_quality(quality_result([sub_rule(1, "true"), sub_rule(2, "true")], run_status="SUCCESS"))
    assert "Sub-rules: 2 checked: 2 passed, 0 alarming" in text
    assert len(text.splitlines()) == 3


def test_summary_of_many_alarming_sub_rules_is_bounded() -> None:
    rules = [sub_rule(n, "false") for n in range(50)]
    text = summarize_quality(quality_result(rules))
    assert "Sub-rules: 50 checked: 0 passed, 50 alarming" in text
    assert rules[0]["sub_rule_id"] in text
    assert rules[49]["sub_rule_id"] not in text
    assert "30 more alarming sub-rules" in text
    assert len(text.splitlines()) < 30
