"""
A finished DataArts Migration (CDM) submission: ``migration_result`` in XCom, its line in the log,
the asset events and lineage it feeds, then the verdict. Every operator and sensor path (worker,
reschedule, deferred) ends in ``finish_migration``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_dataarts.statuses import Verdict

MIGRATION_RESULT_KEY = "migration_result"


def migration_result(cluster_id: str, job_name: str, submission: dict[str, Any]) -> dict[str, Any]:
    """XCom ``migration_result`` (DESIGN's shape) from a submission as CDM sends it."""
    from airflow_provider_dataarts.client.migration import counters_of

    counters = counters_of(submission)

    def rows(field: str, counter: str | None = None) -> Any:
        value = submission.get(field)
        if value is None and counter is not None:
            value = counters.get(counter)
        return value

    return {
        "submission_id": str(submission.get("submission-id")),
        "job_name": str(submission.get("job-name") or job_name),
        "cluster_id": cluster_id,
        "status": submission.get("status"),
        "progress": submission.get("progress"),
        "creation_date": submission.get("creation-date"),
        "execute_date": submission.get("execute-date"),
        "last_update_date": submission.get("last-update-date"),
        "rows_written": rows("write_rows", "rows_written"),
        "rows_updated": rows("update_rows"),
        "rows_deleted": rows("delete_rows"),
        "counters": counters,
        "error_summary": submission.get("error-summary"),
        "error_details": submission.get("error-details"),
    }


def duration_seconds(result: dict[str, Any]) -> float | None:
    """From CDM taking the start to its last update (the end, once terminal)."""
    start, end = result.get("creation_date"), result.get("last_update_date")
    if not isinstance(start, int | float) or not isinstance(end, int | float) or end < start:
        return None
    return (end - start) / 1000


def summarize_migration(result: dict[str, Any]) -> str:
    duration = duration_seconds(result)
    counters = result.get("counters") or {}
    line = (
        f"DataArts Migration job {result['job_name']} submission {result['submission_id']} "
        f"(cluster {result['cluster_id']}): {result['status']}"
        f"; rows read {counters.get('rows_read', '-')}, written {result.get('rows_written', '-')}"
        f", updated {result.get('rows_updated', '-')}, deleted {result.get('rows_deleted', '-')}"
    )
    if duration is not None:
        line += f"; {duration:.1f} s"
    return line


def finish_migration(
    cluster_id: str,
    job_name: str,
    submission: dict[str, Any],
    context: Any,
    *,
    log: Any,
    retryable: bool = True,
    delivered: Callable[[bool], None] = lambda passed: None,
) -> dict[str, Any]:
    """
    Push ``migration_result`` (before the verdict), keep it for lineage, set the asset events, log
    the counts, then pass or fail with DataArts' error summary.

    A failed submission raises ``AirflowException`` when ``retryable`` (the operator's retry starts
    the job again), else ``AirflowFailException`` (a sensor's retry would find the same submission).
    """
    from airflow_provider_dataarts.assets import set_migration_outlet_events
    from airflow_provider_dataarts.openlineage_migration import remember_migration_result
    from airflow_provider_dataarts.statuses import migration_verdict

    result = migration_result(cluster_id, job_name, submission)
    context["ti"].xcom_push(key=MIGRATION_RESULT_KEY, value=result)
    verdict = migration_verdict(result["status"])
    if verdict is Verdict.WAIT:
        raise AirflowException(f"DataArts Migration submission is not finished: {result!r}")
    remember_migration_result(context, result)
    passed = verdict is not Verdict.FAIL
    if passed:
        set_migration_outlet_events(context, result, log=log)
    delivered(passed)
    summary = summarize_migration(result)
    if not passed:
        log.error("%s", summary)
        if result.get("error_details"):
            log.error("DataArts Migration error details: %s", result["error_details"])
        error = AirflowException if retryable else AirflowFailException
        raise error(
            f"DataArts Migration job {result['job_name']} submission {result['submission_id']} is "
            f"{result['status']}: {result.get('error_summary') or 'DataArts gave no error summary'}"
        )
    log.info("%s", summary)
    return result
