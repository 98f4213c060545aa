"""The DataArts tab's renderers on hand-made stored results: order, escaping, bounds, links, the chart."""

from __future__ import annotations

import re
from typing import Any

import pytest

from airflow_provider_dataarts.plugins.app import parse_map_index
from airflow_provider_dataarts.plugins.data import HistoryMark, TaskView
from airflow_provider_dataarts.plugins.render import render_page, render_task

ID = "1012386190718128129"  # 19 digits: a float keeps only 15-17 of them


def sub_rule(number: int, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "sub_rule_id": f"10123861907181281{number:02d}",
        "sub_instance_instance_id": f"20123861907181281{number:02d}",
        "abnormal_table_status": "UNSUPPORTED",
        "results": [
            {"Total Rows": "100", "Abnormal Rows": "0" if status == "true" else "7", "Status": status}
        ],
        **extra,
    }


def view(xcoms: dict[str, Any], state: str = "failed", **kwargs: Any) -> TaskView:
    return TaskView("dag", "manual__2026-01-01T00:00:00+00:00", "gate", -1, state, "Op", xcoms, **kwargs)


def quality(sub_rules: list[dict[str, Any]], run_status: str = "ALARMING", **kwargs: Any) -> TaskView:
    result = {
        "instance_id": ID,
        "run_status": run_status,
        "instance": {
            "id": ID,
            "name": "orders",
            "task_type": "QUALITY_TASK",
            "start_time": 1767225600000,
            "end_time": 1767225661000,
        },
        "sub_rules": sub_rules,
    }
    return view({"quality_result": result, "instance_url": "https://console.example/x?id=1"}, **kwargs)


def test_alarming_sub_rules_come_first_and_keep_dataarts_order() -> None:
    page = render_task(
        quality([sub_rule(1, "true"), sub_rule(2, "false"), {"sub_rule_id": "3"}, sub_rule(4, "false")])
    )
    assert re.findall(r"<td class='status'[^>]*>([a-z ]+)</td>", page) == [
        "alarming",
        "alarming",
        "passed",
        "no result",
    ]
    ids = re.findall(r"<td class='mono'[^>]*>(10123861907181281\d\d)</td>", page)
    assert ids == ["1012386190718128102", "1012386190718128104", "1012386190718128101"]
    assert f"<code id='instance-id'>{ID}</code>" in page and "2 of 4 sub-rules alarming" in page
    assert "2026-01-01 00:00:00 UTC" in page and "1 min 1 s" in page
    assert "<th>Total Rows</th>" in page and "<th>Abnormal Rows</th>" in page


def test_everything_from_dataarts_is_escaped() -> None:
    evil = "<script>alert(1)</script>"
    rule = sub_rule(1, "false", sub_rule_id=evil)
    rule["results"][0]["<img src=x onerror=alert(2)>"] = evil
    page = render_task(quality([rule], run_status=evil))
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x onerror=alert(2)&gt;" in page


def test_the_checked_table_shows_only_when_the_result_names_it() -> None:
    assert "Checked table" not in render_task(quality([sub_rule(1, "false")]))
    page = render_task(quality([sub_rule(1, "false", table="dws.orders"), sub_rule(2, "true")]))
    assert "<th>Checked table</th>" in page and "<td>dws.orders</td>" in page


def test_only_http_console_links() -> None:
    page = render_task(quality([sub_rule(1, "true")], run_status="SUCCESS"))
    assert "href='https://console.example/x?id=1'" in page
    evil = quality([sub_rule(1, "true")])
    evil.xcoms["instance_url"] = "javascript:alert(1)"
    assert "javascript:" not in render_task(evil)


def test_the_filter_needs_no_script() -> None:
    page = render_page("t", render_task(quality([sub_rule(1, "true"), sub_rule(2, "false")])))
    assert "<script" not in page
    assert "<input type='checkbox' id='only-alarming'" in page
    assert "#only-alarming:checked ~ .scroll tbody.passed" in page  # CSS hides the passed ones
    assert page.count("<tbody class='passed'>") == 1 and page.count("<tbody class='alarming'>") == 1


def test_history_marks_height_by_alarming_colour_by_verdict() -> None:
    marks = [
        HistoryMark("r1", "SUCCESS", 0, 3),
        HistoryMark("r2", None, 0, 0),
        HistoryMark("r3", "ALARMING", 1, 3),
        HistoryMark("manual__2026-01-01T00:00:00+00:00", "ALARMING", 2, 3),
    ]
    page = render_task(quality([sub_rule(1, "false"), sub_rule(2, "false")], history=marks))
    bars = re.findall(r"data-run-id='([^']*)'[^>]*>.*?height='(\d+)' rx='2' fill='(#\w+)'", page)
    assert [b[0] for b in bars] == ["r1", "r2", "r3", "manual__2026-01-01T00:00:00+00:00"]
    heights = [int(b[1]) for b in bars]
    assert heights[1] < heights[0] < heights[2] < heights[3]  # no result < 0 alarming < 1 < 2
    assert [b[2] for b in bars] == ["#1b7f3b", "#9ca3af", "#b45309", "#b45309"]
    assert "href='/dataarts/ti/dag/gate/-1/r3'" in page
    assert "/-1/manual__2026-01-01T00%3A00%3A00%2B00%3A00'" in page  # run ids encoded in links
    assert page.count("stroke='#111827'") == 1  # this run outlined


def test_script_rows_bounded() -> None:
    records = [{"id": i, "name": f"<b>{i}</b>"} for i in range(1200)]
    value = {
        "instance_id": ID,
        "script_name": "s",
        "status": "FINISHED",
        "results": [{"schema": [{"id": "int"}, {"name": "string"}], "records": records, "rowCount": 1200}],
    }
    page = render_task(view({"return_value": value}, state="success"))
    assert "<b>FINISHED</b>" in page and "1200 rows stored of 1200, first 1000 shown" in page
    assert page.count("<tr>") == 1001 and "&lt;b&gt;999&lt;/b&gt;" in page and ">1000<" not in page


def test_other_and_unfinished_tasks_get_a_sentence() -> None:
    assert "stored no DataArts result" in render_task(view({"return_value": 3}, state="success"))
    assert "has not finished yet (state: deferred)" in render_task(view({}, state="deferred"))


def test_map_index_placeholder_is_unmapped() -> None:
    assert parse_map_index("{MAP_INDEX}") == -1
    assert parse_map_index("3") == 3


def test_a_summary_that_passed_with_warnings_gives_a_mark_of_its_own() -> None:
    from airflow_provider_dataarts.plugins.data import mark_of
    from airflow_provider_dataarts.results.summary import quality_summary

    result = {
        "instance_id": ID,
        "run_status": "ALARMING",
        "verdict": "passed_with_warnings",
        "sub_rules": [sub_rule(1, "false"), sub_rule(2, "true"), {"sub_rule_id": "3"}],
    }
    summary = quality_summary(result)
    assert summary == {
        "version": 1,
        "kind": "quality",
        "instance_id": ID,
        "run_status": "ALARMING",
        "sub_rules": 3,
        "alarming": 1,
        "no_result": 1,
        "verdict": "passed_with_warnings",
    }
    marks = [mark_of("r1", summary), mark_of("r2", {**summary, "verdict": "failed"})]
    page = render_task(quality([sub_rule(1, "false")], history=marks))
    bars = re.findall(r"data-run-id='([^']*)'[^>]*>.*?fill='(#\w+)'", page)
    assert bars == [("r1", "#eab308"), ("r2", "#b45309")]
    assert "ALARMING, 1 of 3 sub-rules alarming: passed with warnings" in page
    assert "passed with warnings" in page.split("</svg>")[1]  # the legend names the colour


def test_a_summary_of_odd_shapes_gives_a_mark_not_an_error() -> None:
    from airflow_provider_dataarts.plugins.data import mark_of

    mark = mark_of("r", {"run_status": None, "alarming": float("nan"), "sub_rules": "7", "verdict": ["x"]})
    assert (mark.run_status, mark.alarming, mark.sub_rules) == ("UNKNOWN", 0, 0)


def described(number: int, status: str, severity: str | None, **extra: Any) -> dict[str, Any]:
    """A sub-rule as quality_result has it once the job's definition was read (quality gate policy)."""
    return sub_rule(
        number,
        status,
        name=f"rule_{number}",
        dimension="Completeness",
        table="sales.orders",
        column="region",
        alarm_condition="${1}>0",
        severity=severity,
        **extra,
    )


def test_each_alarming_sub_rule_shows_its_gate_severity_and_threshold() -> None:
    rules = [described(1, "true", None), described(2, "false", "warn"), described(3, "false", "fail")]
    result_view = quality(rules)
    result_view.xcoms["quality_result"]["verdict"] = "failed"
    page = render_task(result_view)

    headers = re.findall(r"<th>([^<]*)</th>", page)
    assert headers[:7] == ["Status", "Gate", "Sub-rule", "Dimension", "Checked table", "Column", "Threshold"]
    assert headers[-3:] == ["Abnormal table", "Sub-rule id", "Sub-rule instance id"], "ids right of the rest"
    assert (
        page.count("<tbody class='alarming fail'>") == 1 and page.count("<tbody class='alarming warn'>") == 1
    )
    assert re.findall(r"<td class='sev ?(\w*)'[^>]*>([a-z ]*)</td>", page) == [
        ("warn", "warning only"),
        ("fail", "fails the task"),
        ("", ""),
    ]
    assert page.count("<td class='mono'>${1}&gt;0</td>") == 3
    assert "<span class='verdict'>failed the task (1 fail, 1 only warn)</span>" in page


def test_a_run_that_passed_with_warnings_is_marked_apart() -> None:
    marks = [
        HistoryMark("r1", "ALARMING", 2, 4, "failed"),
        HistoryMark("r2", "ALARMING", 2, 4, "passed_with_warnings"),
        HistoryMark("manual__2026-01-01T00:00:00+00:00", "ALARMING", 1, 2, "passed_with_warnings"),
    ]
    result_view = quality([described(1, "false", "warn"), described(2, "true", None)], history=marks)
    result_view.xcoms["quality_result"]["verdict"] = "passed_with_warnings"
    page = render_task(result_view)

    assert "<div class='banner WARNED' id='verdict'><b>ALARMING</b>" in page
    assert "passed with warnings (1 only warn)" in page
    bars = re.findall(r"data-run-id='([^']*)'[^>]*><title>([^<]*)</title>.*?fill='(#\w+)'", page)
    assert [(b[0], b[2]) for b in bars] == [
        ("r1", "#b45309"),
        ("r2", "#eab308"),
        ("manual__2026-01-01T00:00:00+00:00", "#eab308"),
    ]
    assert bars[1][1] == "r2: ALARMING, 2 of 4 sub-rules alarming: passed with warnings"
    assert "ALARMING, passed with warnings" in page  # in the legend


@pytest.mark.parametrize(
    ("key", "value", "kind"),
    [
        ("quality_result", "just a string", "quality"),
        ("job_result", [1, 2], "job"),
        ("patch_data_result", 7, "PatchData"),
        ("migration_result", None, "migration"),
    ],
)
def test_a_result_stored_as_another_type_than_an_object_is_said_to_be_malformed(
    key: str, value: Any, kind: str
) -> None:
    """A result XCom the task did store, of the wrong type, is not "no DataArts result": it is named."""
    page = render_task(view({key: value}, state="success"))
    assert "stored no DataArts result" not in page
    assert "id='malformed'" in page and f"<code>{key}</code>" in page
    assert f"This task's DataArts {kind} result cannot be shown" in page
    assert f"{key} is {type(value).__name__}, not an object" in page


def test_the_sentence_for_other_tasks_names_every_kind_of_result() -> None:
    page = render_task(view({"return_value": 3}, state="success"))
    for kind in ("quality", "script", "job", "PatchData", "migration"):
        assert kind in page.split("this tab shows the results of")[1], page
