"""
Asset events that carry a DataArts Quality verdict, so that an asset-scheduled DAG can read it.

The quality operator and sensor set, on each ``Asset`` among their ``outlets``, the event ``extra``
``{"dataarts_instance_id", "job_name", "run_status", "sub_rules", "alarming_sub_rules", "verdict"}``:
the instance id, the job name, the instance's ``run_status``, the number of sub-rules, the ids of the
sub-rules that alarmed (ids as strings), and the quality gate policy's verdict (``"passed"``,
``"passed_with_warnings"`` or ``"failed"``, see ``quality_policy``). A verdict that fails the task
(``FAILED``, or ``ALARMING`` with an alarming sub-rule that is not ``warn_only``) sets nothing:
Airflow emits outlet events only for a task that succeeds, so a DAG scheduled on the asset runs only
on data that passed.

``DataArtsQualityJobEventTrigger`` (an asset watcher) emits the same ``extra`` as its event payload;
Airflow stores it as ``{"from_trigger": true, "payload": {...}}``. ``quality_verdict_of(event)``
reads either shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

EXTRA_KEYS = ("dataarts_instance_id", "job_name", "run_status", "sub_rules", "alarming_sub_rules", "verdict")


def quality_event_extra(quality_result: dict[str, Any]) -> dict[str, Any]:
    """The asset event ``extra`` for a finished quality instance (its ``quality_result``)."""
    from airflow_provider_dataarts.statuses import is_alarming

    sub_rules = quality_result.get("sub_rules") or []
    instance = quality_result.get("instance") or {}
    return {
        "dataarts_instance_id": str(quality_result["instance_id"]),
        "job_name": instance.get("name"),
        "run_status": quality_result.get("run_status"),
        "sub_rules": len(sub_rules),
        "alarming_sub_rules": [str(s.get("sub_rule_id")) for s in sub_rules if is_alarming(s)],
        "verdict": quality_result.get("verdict"),
    }


def _put_on_outlets(context: Any, extra: Callable[[], dict[str, Any]]) -> tuple[str, dict[str, Any]] | None:
    """
    Put ``extra()`` on the asset event of each ``Asset`` among the task's ``outlets``; the names of
    those assets and the extra, or None when the task declares none.
    """
    from airflow.sdk import Asset

    outlets = [
        outlet for outlet in getattr(context.get("task"), "outlets", None) or [] if isinstance(outlet, Asset)
    ]
    if not outlets:
        return None
    values = extra()
    for outlet in outlets:
        context["outlet_events"][outlet].extra.update(values)
    return ", ".join(outlet.name for outlet in outlets), values


def set_outlet_events(context: Any, quality_result: dict[str, Any], *, passes: bool, log: Any) -> None:
    """Put the verdict on the asset event of each declared ``Asset`` outlet, unless the task will fail."""
    if not passes:
        return
    put = _put_on_outlets(context, lambda: quality_event_extra(quality_result))
    if put is not None:
        names, extra = put
        log.info(
            "Asset event(s) %s carry DataArts quality instance %s: %s",
            names,
            extra["dataarts_instance_id"],
            extra["run_status"],
        )


def quality_verdict_of(asset_event: Any) -> dict[str, Any] | None:
    """
    The verdict an asset event carries, from the operator or sensor (``extra``) or from the asset
    watcher (``extra["payload"]``); ``None`` if the event carries none.
    """
    extra = getattr(asset_event, "extra", asset_event)
    if not isinstance(extra, dict):
        return None
    if extra.get("from_trigger") and isinstance(extra.get("payload"), dict):
        extra = extra["payload"]
    if "dataarts_instance_id" not in extra:
        return None
    return {key: extra.get(key) for key in EXTRA_KEYS}


# --- DataArts Migration (CDM) ------------------------------------------------------------------------

MIGRATION_EXTRA_KEYS = (
    "dataarts_submission_id",
    "job_name",
    "cluster_id",
    "status",
    "rows_read",
    "rows_written",
    "rows_updated",
    "rows_deleted",
)


def migration_event_extra(migration_result: dict[str, Any]) -> dict[str, Any]:
    """The asset event ``extra`` for a finished migration submission (its ``migration_result``)."""
    counters = migration_result.get("counters") or {}
    return {
        "dataarts_submission_id": str(migration_result["submission_id"]),
        "job_name": migration_result.get("job_name"),
        "cluster_id": migration_result.get("cluster_id"),
        "status": migration_result.get("status"),
        "rows_read": counters.get("rows_read"),
        "rows_written": migration_result.get("rows_written"),
        "rows_updated": migration_result.get("rows_updated"),
        "rows_deleted": migration_result.get("rows_deleted"),
    }


def set_migration_outlet_events(context: Any, migration_result: dict[str, Any], *, log: Any) -> None:
    """Put the submission and its row counts on the asset event of each declared ``Asset`` outlet."""
    put = _put_on_outlets(context, lambda: migration_event_extra(migration_result))
    if put is not None:
        names, extra = put
        log.info(
            "Asset event(s) %s carry DataArts Migration submission %s: %s rows written",
            names,
            extra["dataarts_submission_id"],
            extra["rows_written"],
        )
