"""The DataArts tab's PatchData page on a hand-made stored result: the slots in plan-time order, escaped."""

from __future__ import annotations

from typing import Any

from airflow_provider_dataarts.plugins.data import TaskView
from airflow_provider_dataarts.plugins.render import render_task

DEC_1 = 1_796_083_200_000
HOUR = 3_600_000


def result(**changes: Any) -> dict[str, Any]:
    return {
        "name": "af_backfill_patch_0123456789ab_t1",
        "job_name": "hourly_orders",
        "jobs": ["hourly_orders"],
        "status": "FAIL",
        "start_date": DEC_1,
        "end_date": DEC_1 + 3 * HOUR - 1000,
        "submitted_date": DEC_1 + 9 * 24 * HOUR,
        "instances": [
            {
                "job_name": "hourly_orders",
                "instance_id": "1012386207306600449",
                "plan_time": DEC_1 + 2 * HOUR,
                "status": "fail",
            },
            {
                "job_name": "hourly_orders",
                "instance_id": "1012386207306608368",
                "plan_time": DEC_1,
                "status": "success",
            },
            {
                "job_name": "<b>x</b>",
                "instance_id": "1012386207306616287",
                "plan_time": DEC_1 + HOUR,
                "status": "success",
            },
        ],
        **changes,
    }


def page(value: dict[str, Any]) -> str:
    view = TaskView(
        "dag",
        "backfill__2026-12-01T00:00:00+00:00",
        "patch",
        -1,
        "failed",
        "Op",
        {"patch_data_result": value, "instance_url": "https://console.example/p?name=x"},
    )
    return render_task(view)


def test_a_patch_data_page_shows_every_slot_as_a_timeline_in_plan_time_order() -> None:
    html = page(result())
    assert "DataArts Factory PatchData, 3 job instances, 1 failed" in html
    assert "class='banner FAILED'" in html and "af_backfill_patch_0123456789ab_t1" in html
    order = [html.index(i) for i in ("1012386207306608368", "1012386207306616287", "1012386207306600449")]
    assert order == sorted(order), "by plan time"
    assert html.count("<div class='bar'>") == 3
    assert "2026-12-01 02:00:00" in html
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "https://console.example/p?name=x" in html


def test_a_successful_run_with_no_listed_instances_says_so() -> None:
    html = page(result(status="SUCCESS", instances=[]))
    assert "class='banner SUCCESS'" in html
    assert "DataArts lists no job instance of this PatchData run" in html
