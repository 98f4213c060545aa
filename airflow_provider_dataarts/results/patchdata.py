"""A finished PatchData run: ``patch_data_result`` in XCom (every slot's instance), the log, the verdict."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_dataarts.results import SUMMARY_ROWS

if TYPE_CHECKING:
    from airflow_provider_dataarts.hooks.dataarts import DataArtsHook

PATCH_DATA_RESULT_KEY = "patch_data_result"


def _when(millis: Any) -> str:
    if not millis:
        return "-"
    return datetime.datetime.fromtimestamp(int(millis) / 1000, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def patch_data_result(
    job_name: str, jobs: list[str], row: dict[str, Any], instances: list[dict[str, Any]]
) -> dict[str, Any]:
    """XCom ``patch_data_result`` (DESIGN's shape) from the PatchData row and the instances it made."""
    return {
        "name": str(row.get("name")),
        "job_name": job_name,
        "jobs": [str(job) for job in row.get("job_list") or jobs],
        "status": row.get("status"),
        "start_date": row.get("start_date"),
        "end_date": row.get("end_date"),
        "submitted_date": row.get("submitted_date"),
        "instances": [
            {
                "job_name": item.get("jobName"),
                "instance_id": str(item.get("instanceId")),
                "plan_time": item.get("planTime"),
                "status": item.get("status"),
            }
            for item in instances
        ],
    }


def failed_slots(result: dict[str, Any]) -> list[dict[str, Any]]:
    from airflow_provider_dataarts.statuses import JOB_FAILED

    return [item for item in result["instances"] if item.get("status") in JOB_FAILED]


def summarize(result: dict[str, Any]) -> str:
    """The verdict and a table of the slots (plan time, job, instance, status)."""
    slots = result["instances"]
    lines = [
        f"DataArts PatchData {result['name']} of job {result['job_name']}: {result['status']} "
        f"({_when(result['start_date'])} to {_when(result['end_date'])} UTC, {len(slots)} job instances)",
        f"{'plan time (UTC)':<20} {'job':<24} {'instance':<20} status",
    ]
    lines.extend(
        f"{_when(s['plan_time']):<20} {s['job_name']!s:<24} {s['instance_id']:<20} {s['status']}"
        for s in slots[:SUMMARY_ROWS]
    )
    if len(slots) > SUMMARY_ROWS:
        lines.append(f"... and {len(slots) - SUMMARY_ROWS} more (see XCom patch_data_result)")
    return "\n".join(lines)


def finish_patch_data(
    hook: DataArtsHook,
    job_name: str,
    jobs: list[str],
    row: dict[str, Any],
    context: Any,
    *,
    log: Any,
    delivered: Callable[[bool], None] = lambda passed: None,
) -> dict[str, Any]:
    """
    Read the job instances the run made, push ``patch_data_result`` (before the verdict), log the
    slots, then pass on SUCCESS or fail naming the plan times of the failed slots. A failed read of
    the instances leaves them out with a warning, never the verdict.
    """
    from airflow_provider_dataarts.client.patchdata import passed
    from airflow_provider_dataarts.exceptions import DataArtsAPIError

    row = {**row, "job_list": row.get("job_list") or jobs}
    try:
        instances = hook.list_patch_data_instances(row)
    except DataArtsAPIError as error:
        log.warning("Could not read the job instances of PatchData %s: %s", row.get("name"), error)
        instances = []
    result = patch_data_result(job_name, jobs, row, instances)
    context["ti"].xcom_push(key=PATCH_DATA_RESULT_KEY, value=result)
    ok = passed(result["status"])
    delivered(ok)
    summary = summarize(result)
    failed = failed_slots(result)
    if not ok:
        log.error("%s", summary)
        times = ", ".join(f"{_when(s['plan_time'])} ({s['job_name']})" for s in failed) or "none listed"
        raise AirflowException(
            f"DataArts PatchData {result['name']} of job {job_name} is {result['status']}; "
            f"failed slots (plan time UTC): {times}"
        )
    log.info("%s", summary)
    if failed:
        log.warning(
            "DataArts says PatchData %s succeeded, but %d of its job instances failed: %s",
            result["name"],
            len(failed),
            ", ".join(_when(s["plan_time"]) for s in failed),
        )
    return result
