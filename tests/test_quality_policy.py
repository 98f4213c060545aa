"""
The quality gate policy (``quality_policy.decide``) on hand-made sub-rules, its ``warn_only``
checks at parse time, and the alarm table of the log and failure message.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from airflow_provider_dataarts.exceptions import DataArtsConfigError
from airflow_provider_dataarts.quality_policy import (
    QualityPolicy,
    WarnOnlyWarning,
    check_warn_only_at_parse,
    decide,
    warn_only_patterns,
)
from airflow_provider_dataarts.results.quality import alarm_table
from airflow_provider_dataarts.statuses import Verdict


def rule(
    number: int, alarming: bool, name: str | None = None, dimension: str | None = None
) -> dict[str, Any]:
    described = {"name": name, "dimension": dimension} if name or dimension else {}
    return {
        "sub_rule_id": str(number),
        "sub_instance_instance_id": str(100 + number),
        "results": [
            {
                "Total Rows": "1000",
                "Abnormal Rows": "13" if alarming else "0",
                "Status": str(not alarming).lower(),
            }
        ],
        **described,
    }


FRESHNESS = [
    rule(1, True, "region_not_null", "Completeness"),
    rule(2, True, "order_id_unique", "Uniqueness"),
    rule(3, False, "orders_row_count", "Accuracy"),
]


@pytest.mark.parametrize(
    ("run_status", "warn_only", "fail_on_alarm", "verdict", "severities"),
    [
        ("SUCCESS", (), True, Verdict.SUCCESS, {"1": "fail", "2": "fail"}),
        ("FAILED", ("*",), True, Verdict.FAIL, {"1": "warn", "2": "warn"}),  # FAILED always fails
        ("ALARMING", (), True, Verdict.FAIL, {"1": "fail", "2": "fail"}),
        ("ALARMING", ("Completeness",), True, Verdict.FAIL, {"1": "warn", "2": "fail"}),
        ("ALARMING", ("completeness", "ORDER_ID_*"), True, Verdict.WARN, {"1": "warn", "2": "warn"}),
        ("ALARMING", ("region_not_null", "Uniqueness"), True, Verdict.WARN, {"1": "warn", "2": "warn"}),
        ("ALARMING", (), False, Verdict.WARN, {"1": "warn", "2": "warn"}),
        ("RUNNING", ("*",), True, Verdict.WAIT, {"1": "warn", "2": "warn"}),
    ],
)
def test_the_policy_decides_by_name_or_dimension(
    run_status: str,
    warn_only: tuple[str, ...],
    fail_on_alarm: bool,
    verdict: Verdict,
    severities: dict[str, str],
) -> None:
    decision = decide(run_status, FRESHNESS, QualityPolicy(fail_on_alarm, warn_only))
    assert decision.verdict is verdict
    assert decision.severities == severities, "only alarming sub-rules have a severity"


def test_an_alarming_instance_with_no_alarming_sub_rule_to_excuse_fails() -> None:
    """ALARMING, but no result row says which rule: nothing is warn_only, so the default verdict."""
    quiet = [rule(3, False, "orders_row_count", "Accuracy")]
    assert decide("ALARMING", quiet, QualityPolicy(warn_only=("*",))).verdict is Verdict.FAIL


def test_without_the_definition_warn_only_matches_nothing() -> None:
    """A failed definition read leaves names out: the verdict is the default policy's."""
    bare = [rule(1, True), rule(2, True)]
    decision = decide("ALARMING", bare, QualityPolicy(warn_only=("*",)))
    assert decision.verdict is Verdict.FAIL
    assert decision.definition_known is False and decision.unmatched == []


def test_patterns_that_matched_no_sub_rule_are_named() -> None:
    decision = decide("ALARMING", FRESHNESS, QualityPolicy(warn_only=("Completeness", "Timeliness", "x_*")))
    assert decision.unmatched == ["Timeliness", "x_*"]


@pytest.mark.parametrize(
    ("value", "patterns"),
    [
        (None, ()),
        (["Completeness", "order_*"], ("Completeness", "order_*")),
        ("Completeness, order_*", ("Completeness", "order_*")),
        ("['Completeness', 'order_*']", ("Completeness", "order_*")),  # "{{ params.warn_only }}"
        ("[]", ()),
        ("", ()),
        ("[abc]*", ("[abc]*",)),  # a pattern, not a list
    ],
)
def test_warn_only_as_a_list_or_rendered_text(value: Any, patterns: tuple[str, ...]) -> None:
    assert warn_only_patterns(value) == patterns


@pytest.mark.parametrize("value", [3, {"Completeness": True}, [1, "x"], "[1, 2]"])
def test_a_warn_only_of_the_wrong_type_is_refused_naming_it(value: Any) -> None:
    with pytest.raises(DataArtsConfigError, match="gate: warn_only"):
        warn_only_patterns(value, "gate: warn_only")


def test_patterns_that_can_match_nothing_warn_at_parse_time_naming_them() -> None:
    with pytest.warns(WarnOnlyWarning) as caught:
        check_warn_only_at_parse(
            ["", "Completness", "x[ab", "order_*", "Uniqueness", "region_not_null"], "gate"
        )
    messages = [str(w.message) for w in caught]
    assert len(messages) == 3
    assert "gate: warn_only pattern '' can match no sub-rule: it is empty" in messages[0]
    assert "'Completness' is no DataArts dimension (did you mean 'Completeness'?)" in messages[1]
    assert "'x[ab'" in messages[2] and "never closed" in messages[2]


def test_a_template_is_checked_once_rendered() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_warn_only_at_parse("{{ params.warn_only }}", "gate") == "{{ params.warn_only }}"
        check_warn_only_at_parse(["{{ params.one }}", "Completeness"], "gate")


def test_the_alarm_table_lists_threshold_table_column_numbers_and_severity() -> None:
    rules = [
        {
            **rule(1, True, "region_not_null", "Completeness"),
            "table": "sales.orders",
            "column": "region",
            "alarm_condition": "${1}>0",
            "severity": "warn",
        },
        {**rule(2, True), "severity": "fail"},  # no definition: its id, dashes
        rule(3, False, "orders_row_count", "Accuracy"),
    ]
    lines = alarm_table(rules).splitlines()
    assert lines[0].split() == [
        "sub-rule",
        "dimension",
        "table.column",
        "threshold",
        "result",
        "severity",
        "sub-rule",
        "instance",
    ]
    assert lines[1].split() == [
        "region_not_null",
        "Completeness",
        "sales.orders.region",
        "${1}>0",
        "Total",
        "Rows=1000,",
        "Abnormal",
        "Rows=13",
        "warn",
        "101",
    ]
    assert lines[2].split()[:4] == ["2", "-", "-", "-"] and lines[2].split()[-2:] == ["fail", "102"]
    assert len(lines) == 3, "the sub-rule that did not alarm is not listed"
