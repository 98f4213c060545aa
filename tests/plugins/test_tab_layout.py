"""
What a user sees of the tab's pages in a browser (Debian's chromium, driven by Playwright, never a
downloaded browser): at the width of the UI's frame nothing runs off the side of the page, the gate
and status words stay on one line, every text is readable (WCAG contrast 4.5:1) in light and dark
mode, and each verdict has its colour. The pages are the tab's own HTML (``render_page`` of
``render_task``) for results shaped as the example DAGs store them against the emulator.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from airflow_provider_dataarts.plugins.data import HistoryMark, TaskView
from airflow_provider_dataarts.plugins.render import render_page, render_task

CHROMIUM = "/usr/bin/chromium"
# The DataArts tab's frame in a 1400 px wide browser window (Airflow 3.3's task page, grid open).
FRAME_WIDTH = 950
RUN_ID = "manual__2026-12-07T05:52:31.088537+00:00"
pytestmark = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK), reason=f"{CHROMIUM} is missing: scripts/setup-venv.sh installs it"
)


def sub_rule(number: int, name: str, dimension: str, status: str, severity: str | None) -> dict[str, Any]:
    return {
        "sub_rule_id": f"101238620730760{number:04d}",
        "sub_instance_instance_id": f"101238620737247{number:04d}",
        "abnormal_table_status": "UNSUPPORTED",
        "results": [
            {
                "Total Rows": "1017",
                "Abnormal Rows": "14" if status == "false" else "0",
                "Status": status,
                "Name": f"dws.orders.rule_{number}",
            }
        ],
        "name": name,
        "dimension": dimension,
        "table": "sales.orders",
        "column": "order_id",
        "alarm_condition": "${1}>0",
        "severity": severity,
    }


def gate(verdict: str) -> dict[str, Any]:
    severities = ("warn", "warn") if verdict == "passed_with_warnings" else ("warn", "fail")
    return {
        "instance_id": "1012386207372462772",
        "run_status": "ALARMING",
        "verdict": verdict,
        "instance": {
            "id": "1012386207372462772",
            "name": "orders_freshness",
            "task_type": "QUALITY_TASK",
            "start_time": 1796622764451,
            "end_time": 1796622765451,
        },
        "sub_rules": [
            sub_rule(1, "region_not_null", "Completeness", "false", severities[0]),
            sub_rule(2, "order_id_unique", "Uniqueness", "false", severities[1]),
            sub_rule(3, "orders_row_count", "Accuracy", "true", None),
            sub_rule(4, "no_future_order_dates", "Validity", "true", None),
        ],
    }


QUALITY_URL = (
    "https://console.huaweicloud.com/dataartsstudio/?region=cn-north-4#/dq/taskMonitor"
    "?projectId=0123456789abcdef0123456789abcdef&workspace=w1&instanceId=1012386207372462772"
)
PATCH_URL = (
    "https://console.huaweicloud.com/dataartsstudio/?region=cn-north-4#/dlf/monitor/patchData?projectId=p1"
    "&workspace=w1&jobName=hourly_orders&name=af_example_dataarts_pat_patch_hourly_orders_750073b21b13_t1"
)
HISTORY = [
    HistoryMark("manual__1", "ALARMING", 2, 4, "passed_with_warnings"),
    HistoryMark(RUN_ID, "ALARMING", 2, 4, "failed"),
    HistoryMark("manual__3", "SUCCESS", 0, 3, "passed"),
]


def page_of(task_id: str, xcoms: dict[str, Any], history: list[HistoryMark] | None = None) -> str:
    view = TaskView("example_dag", RUN_ID, task_id, -1, "success", "Op", xcoms, history=history or [])
    return render_page(f"DataArts: {task_id}", render_task(view))


PAGES = {
    "gate failed": page_of(
        "quality_gate", {"quality_result": gate("failed"), "instance_url": QUALITY_URL}, HISTORY
    ),
    "gate passed with warnings": page_of(
        "quality_gate", {"quality_result": gate("passed_with_warnings"), "instance_url": QUALITY_URL}, HISTORY
    ),
    "job": page_of(
        "transform_orders",
        {
            "job_result": {
                "instance_id": "1012386207372541962",
                "job_name": "daily_orders",
                "status": "success",
                "plan_time": 1796622778846,
                "start_time": 1796622778846,
                "end_time": 1796622790846,
                "nodes": [
                    {
                        "node_name": name,
                        "type": "DWSSQL",
                        "status": "success",
                        "start_time": 1796622778846 + 4000 * index,
                        "end_time": 1796622782846 + 4000 * index,
                        "retry_times": 0,
                        "input_row_count": 1000,
                        "log_path": f"obs://dlf-log-p1/daily_orders/1012386207372541962/{name}.log",
                    }
                    for index, name in enumerate(("extract_orders", "load_dws", "aggregate_daily"))
                ],
            }
        },
    ),
    "PatchData": page_of(
        "patch_hourly_orders",
        {
            "patch_data_result": {
                "name": "af_example_dataarts_pat_patch_hourly_orders_750073b21b13_t1",
                "job_name": "hourly_orders",
                "jobs": ["hourly_orders"],
                "status": "SUCCESS",
                "start_date": 1795996800000,
                "end_date": 1796083199000,
                "submitted_date": 1796623082303,
                "instances": [
                    {
                        "job_name": "hourly_orders",
                        "instance_id": f"10123862073725{hour:05d}",
                        "plan_time": 1795996800000 + hour * 3_600_000,
                        "status": "success",
                    }
                    for hour in range(24)
                ],
            },
            "instance_url": PATCH_URL,
        },
    ),
    "migration": page_of(
        "migrate_orders",
        {
            "migration_result": {
                "submission_id": "1",
                "job_name": "orders_to_dws",
                "cluster_id": "00000000-0000-4000-8000-000000000cd1",
                "status": "FAILED",
                "progress": 100.0,
                "creation_date": 1796622764284,
                "last_update_date": 1796622769284,
                "rows_written": 12480,
                "rows_updated": 0,
                "rows_deleted": 0,
                "counters": {"rows_read": 12480, "rows_written_skipped": 0},
                "error_summary": "Table public.orders does not exist",
                "error_details": 'org.postgresql.util.PSQLException: ERROR: relation "public.orders" '
                "does not exist " + "at org.postgresql.core.v3.QueryExecutorImpl.receiveErrorResponse" * 3,
            },
            "instance_url": "https://console.huaweicloud.com/cdm/?region=cn-north-4#/cdm/clusterList/"
            "jobManagement?clusterId=00000000-0000-4000-8000-000000000cd1&jobName=orders_to_dws",
        },
    ),
    "malformed": page_of(
        "quality_gate", {"quality_result": {"run_status": "ALARMING", "sub_rules": "oops"}}, HISTORY
    ),
}

# In the page: the contrast of every visible text with the background it is drawn on, and what
# runs off the side. Colours with alpha are not used by the page; the background is the first
# opaque one of the element or its ancestors.
MEASURE = """
() => {
  const rgb = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const low = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!node.textContent.trim() || !el.getClientRects().length) continue;
    if (el.closest('svg, .swatch')) continue;  // the chart and its legend's colour squares: graphics
    const fg = lum(rgb(getComputedStyle(el).color)), bg = lum(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    if (ratio < 4.5) low.push(`${node.textContent.trim().slice(0, 40)} (${ratio.toFixed(2)})`);
  }
  // The gate and status words, and the times of nodes and slots (their Started / Plan time columns).
  const oneLine = 'td.status, td.sev, table.nodes td:nth-child(5), table.slots td:nth-child(1)';
  const wrapped = [...document.querySelectorAll(oneLine)].filter((td) => {
    const range = document.createRange(); range.selectNodeContents(td);
    return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size > 1;
  }).map((td) => td.textContent);
  const body = getComputedStyle(document.body), banner = document.querySelector('.banner');
  return {
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    low, wrapped,
    body: lum(rgb(body.backgroundColor)),
    banner: banner ? getComputedStyle(banner).backgroundColor : null,
    tables: [...document.querySelectorAll('table')].map((t) => {
      const box = t.parentElement, style = getComputedStyle(box);
      const right = box.getBoundingClientRect().right;
      return { right, overflowX: style.overflowX, wider: t.scrollWidth > box.clientWidth };
    }),
  };
}
"""


@pytest.fixture(scope="module")
def measured() -> dict[tuple[str, str], dict[str, Any]]:
    """Every page measured in both colour schemes, in one browser (about 10 s for all)."""
    from playwright.sync_api import sync_playwright

    found = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"], headless=True
        )
        try:
            for scheme in ("light", "dark"):
                context = browser.new_context(
                    viewport={"width": FRAME_WIDTH, "height": 800}, color_scheme=scheme
                )
                page = context.new_page()
                for name, text in PAGES.items():
                    page.set_content(text)
                    found[name, scheme] = page.evaluate(MEASURE)
                    if name == "gate failed":  # the CSS-only filter, with the table in its scroll box
                        page.check("#only-alarming")
                        found[name, scheme]["filtered"] = page.locator("td.status:visible").all_inner_texts()
                context.close()
        finally:
            browser.close()
    return found


@pytest.mark.parametrize("name", list(PAGES))
def test_nothing_runs_off_the_side_of_the_frame_and_gate_words_stay_on_one_line(
    measured: dict[tuple[str, str], dict[str, Any]], name: str
) -> None:
    seen = measured[name, "light"]
    # The page itself never scrolls sideways: a table wider than the frame scrolls in its own box.
    assert seen["scrollWidth"] <= seen["innerWidth"], seen
    for box in seen["tables"]:
        assert box["right"] <= seen["innerWidth"], seen["tables"]
        if box["wider"]:
            assert box["overflowX"] in ("auto", "scroll"), seen["tables"]
    assert seen["wrapped"] == [], seen["wrapped"]


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("name", list(PAGES))
def test_every_text_is_readable_in_light_and_dark_mode(
    measured: dict[tuple[str, str], dict[str, Any]], name: str, scheme: str
) -> None:
    seen = measured[name, scheme]
    assert seen["low"] == [], f"text below a 4.5:1 contrast ({scheme}): {seen['low']}"
    # Dark mode (the UI's own follows the system's): the frame is dark too, not a white box.
    assert (seen["body"] < 0.05) if scheme == "dark" else (seen["body"] > 0.9), seen["body"]


def test_each_verdict_has_its_colour(measured: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Failed gate: amber (ALARMING); passed with warnings: the yellow of its history mark, #eab308."""
    for scheme in ("light", "dark"):
        assert measured["gate failed", scheme]["banner"] == "rgb(180, 83, 9)"
        assert measured["gate passed with warnings", scheme]["banner"] == "rgb(234, 179, 8)"
        assert measured["migration", scheme]["banner"] == "rgb(185, 28, 28)"  # FAILED: red


def test_the_only_alarming_filter_hides_the_passed_sub_rules(
    measured: dict[tuple[str, str], dict[str, Any]],
) -> None:
    assert measured["gate failed", "light"]["filtered"] == ["alarming", "alarming"]
