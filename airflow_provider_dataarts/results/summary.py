"""
The small per-run summary a finished DataArts result leaves beside its full XCom (``dataarts_summary``):
the verdict and the counts the DataArts tab's history shows, a few hundred bytes, so that the tab
reads thirty of them instead of thirty whole results (a quality result can hold megabytes of rows).
"""

from __future__ import annotations

from typing import Any

SUMMARY_KEY = "dataarts_summary"
SUMMARY_VERSION = 1


def _alarming(sub_rule: dict[str, Any]) -> bool:
    """``statuses.is_alarming``, tolerant of result rows that are not dicts (they do not alarm)."""
    from airflow_provider_dataarts.statuses import is_alarming

    rows = sub_rule.get("results")
    if not isinstance(rows, list):
        return False
    return is_alarming({"results": [row for row in rows if isinstance(row, dict)]})


def quality_summary(result: dict[str, Any]) -> dict[str, Any]:
    """What the history needs of one ``quality_result``: its status, verdict and sub-rule counts."""
    sub_rules = [s for s in result.get("sub_rules") or [] if isinstance(s, dict)]
    alarming = sum(_alarming(s) for s in sub_rules)
    no_result = sum(1 for s in sub_rules if not s.get("results"))
    summary: dict[str, Any] = {
        "version": SUMMARY_VERSION,
        "kind": "quality",
        "instance_id": result.get("instance_id"),
        "run_status": result.get("run_status"),
        "sub_rules": len(sub_rules),
        "alarming": alarming,
        "no_result": no_result,
    }
    if result.get("verdict") is not None:  # "passed", "passed_with_warnings" or "failed"
        summary["verdict"] = result["verdict"]
    return summary


def push_quality_summary(context: Any, result: dict[str, Any]) -> None:
    """Push the summary of a ``quality_result`` just pushed (``finish_quality`` calls this, once)."""
    context["ti"].xcom_push(key=SUMMARY_KEY, value=quality_summary(result))
