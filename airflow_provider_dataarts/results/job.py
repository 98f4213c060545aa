"""A finished Factory job instance: ``job_result`` in XCom (every node), the node table, the verdict."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_dataarts.results import SUMMARY_ROWS
from airflow_provider_dataarts.statuses import Verdict

if TYPE_CHECKING:
    from airflow_provider_dataarts.hooks.dataarts import DataArtsHook

JOB_RESULT_KEY = "job_result"


def is_old_attempt(instance: dict[str, Any], repaired_after: int | None) -> bool:
    """
    Whether a terminal instance (list row or detail) shows the attempt a repair rerun: it ended no
    later than that attempt did (``repaired_after``, epoch ms), or says not when it ended.
    """
    if repaired_after is None:
        return False
    try:
        return int(instance.get("endTime") or 0) <= int(repaired_after)
    except (TypeError, ValueError):
        return True


def job_detail_for(hook: DataArtsHook, job_name: str, instance: dict[str, Any]) -> dict[str, Any]:
    """
    The detail (with every node) of a terminal instance a trigger reported from the list. The
    list's status decides only should the detail still lag behind that same attempt (the detail
    not terminal yet, its nodes all started before the list's attempt ended); a detail that is
    terminal, or shows a later attempt (a rerun from the failed node), speaks for itself.
    """
    from airflow_provider_dataarts.statuses import is_job_terminal

    if "nodes" in instance:
        return instance
    detail = hook.get_job_instance(job_name, str(instance["instanceId"]))
    if is_job_terminal(detail) or not _same_attempt_ended(detail, instance):
        return detail
    verdict_fields = ("status", "forceSuccess", "ignoreSuccess", "endTime")
    return {**detail, **{key: instance[key] for key in verdict_fields if key in instance}}


def _same_attempt_ended(detail: dict[str, Any], listed: dict[str, Any]) -> bool:
    """Whether the list's terminal row ended after every node of the detail started (the same attempt)."""
    try:
        ended = int(listed.get("endTime") or 0)
        starts = [int(node.get("startTime") or 0) for node in detail.get("nodes") or []]
    except (TypeError, ValueError):
        return False
    return bool(ended) and all(start <= ended for start in starts)


def job_result(job_name: str, detail: dict[str, Any]) -> dict[str, Any]:
    """XCom ``job_result`` (DESIGN's shape) from a job instance's detail."""
    from airflow_provider_dataarts.client.jobs import node_summary

    return {
        "instance_id": str(detail.get("instanceId")),
        "job_name": str(detail.get("jobName") or job_name),
        "status": detail.get("status"),
        "plan_time": detail.get("planTime"),
        "start_time": detail.get("startTime"),
        "end_time": detail.get("endTime"),
        "nodes": [node_summary(node) for node in detail.get("nodes") or []],
    }


class NodeWatch:
    """Logs each node's status when it changes (not at every poll); ``seen`` is plain data to keep."""

    def __init__(self, seen: dict[str, Any] | None = None) -> None:
        self.seen: dict[str, Any] = dict(seen or {})

    def observe(self, detail: dict[str, Any], log: Any) -> bool:
        """Log the nodes whose status changed since the last look; whether any did."""
        changed = False
        for node in detail.get("nodes") or []:
            name, status = str(node.get("nodeName")), node.get("status")
            if self.seen.get(name) != status:
                self.seen[name] = status
                changed = True
                log.info("DataArts job %s node %s is %s", detail.get("jobName"), name, status)
        return changed


def failed_nodes(result: dict[str, Any]) -> list[dict[str, Any]]:
    from airflow_provider_dataarts.statuses import NODE_FAILED

    return [node for node in result["nodes"] if node.get("status") in NODE_FAILED]


def summarize_job(result: dict[str, Any]) -> str:
    """The verdict, every node's status and times, and a table of the failed nodes with their log paths."""
    import datetime

    def when(millis: Any, layout: str = "%H:%M:%S") -> str:
        if not millis:
            return "-"
        return datetime.datetime.fromtimestamp(int(millis) / 1000, datetime.UTC).strftime(layout)

    lines = [
        f"DataArts job {result['job_name']} instance {result['instance_id']}: {result['status']} "
        f"(plan time {when(result['plan_time'], '%Y-%m-%d %H:%M:%S')} UTC, {len(result['nodes'])} nodes)",
        f"{'node':<24} {'type':<12} {'status':<18} {'start':<8} {'end':<8} {'rows':>10}",
    ]
    for node in result["nodes"][:SUMMARY_ROWS]:
        lines.append(
            f"{node['node_name']!s:<24} {node['type']!s:<12} {node['status']!s:<18} "
            f"{when(node['start_time']):<8} {when(node['end_time']):<8} {node['input_row_count']!s:>10}"
        )
    if len(result["nodes"]) > SUMMARY_ROWS:
        lines.append(f"... and {len(result['nodes']) - SUMMARY_ROWS} more nodes (see XCom job_result)")
    failed = failed_nodes(result)
    if failed:
        lines.append(f"Failed nodes: {len(failed)}")
        lines.append(f"{'failed node':<24} {'status':<18} {'retries':>7}  log")
        lines.extend(
            f"{node['node_name']!s:<24} {node['status']!s:<18} {node['retry_times']!s:>7}  {node['log_path']}"
            for node in failed
        )
    return "\n".join(lines)


def finish_job(
    job_name: str,
    detail: dict[str, Any],
    context: Any,
    *,
    log: Any,
    retryable: bool = True,
    delivered: Callable[[bool], None] = lambda passed: None,
) -> dict[str, Any]:
    """
    Push ``job_result`` (before the verdict), log the node table, then pass, skip or fail.

    A failed instance raises ``AirflowException`` when ``retryable`` (the operator's retry runs
    the job again, or repairs it), else ``AirflowFailException`` (a sensor's retry would find the
    same instance). ``skip-by-depend``/``skip`` skip the task.
    """
    from airflow.providers.common.compat.sdk import AirflowSkipException

    from airflow_provider_dataarts.statuses import job_verdict

    result = job_result(job_name, detail)
    context["ti"].xcom_push(key=JOB_RESULT_KEY, value=result)
    verdict = job_verdict(detail)
    delivered(verdict is not Verdict.FAIL)
    summary = summarize_job(result)
    if verdict is Verdict.FAIL:
        log.error("%s", summary)
        names = ", ".join(str(node["node_name"]) for node in failed_nodes(result)) or "none named"
        error = AirflowException if retryable else AirflowFailException
        raise error(
            f"DataArts job {result['job_name']} instance {result['instance_id']} is {result['status']}; "
            f"failed nodes: {names}"
        )
    log.info("%s", summary)
    if verdict is Verdict.SKIP:
        raise AirflowSkipException(
            f"DataArts skipped job {result['job_name']} instance {result['instance_id']} ({result['status']})"
        )
    return result
