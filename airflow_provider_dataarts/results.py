"""
What a finished DataArts instance means for a task: the XCom it leaves, the log it writes, the
verdict. Shared by the operators and sensors, whether they poked or deferred.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_dataarts.assets import set_outlet_events
from airflow_provider_dataarts.openlineage import remember_quality_result
from airflow_provider_dataarts.statuses import Verdict, quality_verdict, script_verdict

if TYPE_CHECKING:
    from airflow_provider_dataarts.hooks.dataarts import DataArtsHook

QUALITY_RESULT_KEY = "quality_result"
DEFAULT_MAX_ROWS = 1000
DEFAULT_MAX_XCOM_BYTES = 512 * 1024
EVENT_STATUSES = ("success", "error", "timeout")
SUMMARY_ROWS = 20


def validate_event(event: Any, instance_id: str | None = None) -> dict[str, Any]:
    """Check a trigger event before trusting it; raise on "error" and "timeout"."""
    from airflow.providers.common.compat.sdk import AirflowSensorTimeout

    if (
        not isinstance(event, dict)
        or event.get("status") not in EVENT_STATUSES
        or not event.get("instance_id")
    ):
        raise AirflowException(f"Unexpected event from the DataArts trigger: {event!r}")
    if instance_id is not None and str(event["instance_id"]) != str(instance_id):
        raise AirflowException(
            f"The trigger reported instance {event['instance_id']}, expected {instance_id}"
        )
    if event["status"] == "timeout":
        raise AirflowSensorTimeout(f"DataArts: {event.get('message')}")
    if event["status"] == "error":
        raise AirflowException(f"DataArts: {event.get('message')}")
    return event


# --- DataArts Quality -------------------------------------------------------------------------------


def is_alarming(sub_rule: dict[str, Any]) -> bool:
    """
    A sub-rule alarms when one of its result rows says ``"Status": "false"``.

    Assumption (the reference page shows the field without defining it): DataArts marks a result
    row that did not meet the rule with ``Status`` ``false``.
    """
    return any(str(row.get("Status", "")).strip().lower() == "false" for row in sub_rule.get("results", []))


def finish_quality(
    hook: DataArtsHook,
    context: Any,
    instance: dict[str, Any],
    *,
    fail_on_alarm: bool,
    log: Any,
    delivered: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """
    Fetch every sub-rule result, push ``quality_result``, log a summary, then pass or fail.

    ``delivered`` is called once the result is in XCom, just before the verdict: what the task
    remembers of the run can be forgotten then, since a retry or clear must check afresh.
    """
    instance_id = str(instance["id"])
    run_status = instance.get("run_status")
    sub_rules = hook.get_quality_instance_results(instance_id)
    result = {
        "instance_id": instance_id,
        "run_status": run_status,
        "instance": instance,
        "sub_rules": sub_rules,
    }
    context["ti"].xcom_push(key=QUALITY_RESULT_KEY, value=result)
    remember_quality_result(context, result)
    set_outlet_events(context, result, fail_on_alarm=fail_on_alarm, log=log)
    delivered()
    log.info("%s", summarize_quality(result))
    verdict = quality_verdict(run_status, fail_on_alarm=fail_on_alarm)
    alarming = sum(is_alarming(s) for s in sub_rules)
    if verdict is Verdict.FAIL:
        raise AirflowFailException(
            f"DataArts quality instance {instance_id} ({instance.get('name')}) is {result['run_status']}"
            f" with {alarming} alarming sub-rule(s) of {len(sub_rules)}"
        )
    if verdict is Verdict.WARN:
        log.warning(
            "DataArts quality instance %s is ALARMING (%d alarming sub-rules); "
            "passing since fail_on_alarm=False",
            instance_id,
            alarming,
        )
    return result


JOB_KINDS = {"QUALITY_TASK": "quality job", "CONSISTENCY_TASK": "comparison job"}
# abnormal_table_status: whether DataArts wrote the rows that broke the sub-rule to its abnormal table.
ABNORMAL_TABLE_WORDS = {
    "UNSUPPORTED": "none, the rule keeps no abnormal table",
    "READY": "being prepared",
    "RUNNING": "being written",
    "SUCCESS": "written",
    "FAILED": "writing failed",
}


def summarize_quality(result: dict[str, Any]) -> str:
    """
    What a data engineer reads in the task log: the verdict, sub-rules by outcome, the abnormal
    tables by status, and a table of the alarming sub-rules with their result rows.
    """
    instance = result["instance"]
    sub_rules = result["sub_rules"]
    alarming = [s for s in sub_rules if is_alarming(s)]
    no_result = sum(1 for s in sub_rules if not s.get("results"))
    passed = len(sub_rules) - len(alarming) - no_result
    kind = JOB_KINDS.get(str(instance.get("task_type")), instance.get("task_type"))
    outcomes = f"{passed} passed, {len(alarming)} alarming (a result row with Status false)"
    if no_result:
        outcomes += f", {no_result} without a result"
    tables = Counter(str(s.get("abnormal_table_status")) for s in sub_rules)
    lines = [
        f"DataArts quality instance {result['instance_id']} ({instance.get('name')}, {kind}): "
        f"{result['run_status']}",
        f"Sub-rules: {len(sub_rules)} checked: {outcomes}",
    ]
    if tables:
        lines.append(
            "Abnormal tables (where DataArts copies the rows that broke a sub-rule), sub-rules by status: "
            + "; ".join(
                f"{ABNORMAL_TABLE_WORDS.get(status, status)}: {count} ({status})"
                for status, count in tables.most_common()
            )
        )
    if alarming:
        lines.append(f"{'alarming sub-rule':<21} {'sub-rule instance':<21} result rows")
        for sub_rule in alarming[:SUMMARY_ROWS]:
            rows = "; ".join(
                ", ".join(f"{k}={v}" for k, v in row.items()) for row in sub_rule.get("results", [])
            )
            lines.append(
                f"{sub_rule.get('sub_rule_id')!s:<21} {sub_rule.get('sub_instance_instance_id')!s:<21} {rows}"
            )
        if len(alarming) > SUMMARY_ROWS:
            lines.append(
                f"... and {len(alarming) - SUMMARY_ROWS} more alarming sub-rules (see XCom quality_result)"
            )
    return "\n".join(lines)


# --- DataArts Factory scripts ------------------------------------------------------------------------


def column_names(schema: Any) -> list[str]:
    """
    Column names from a schema like ``[{"TripID": "int"}, ...]``, made unique for ``records``.

    ``SELECT a.id, b.id`` gives two columns named ``id``: the second becomes ``id_2`` (then
    ``id_3``...), so no value is lost when rows become dicts.
    """
    names: list[str] = []
    for index, column in enumerate(schema or []):
        name = str(next(iter(column))) if isinstance(column, dict) and column else f"column_{index}"
        unique, number = name, 2
        while unique in names:
            unique, number = f"{name}_{number}", number + 1
        names.append(unique)
    return names


def json_size(value: Any) -> int:
    """Bytes of ``value`` as JSON, as the XCom table stores it."""
    return len(json.dumps(value, default=str).encode())


def script_result(
    script_name: str,
    instance_id: str,
    answer: dict[str, Any],
    *,
    max_rows: int,
    log: Any,
    include_rows: bool = False,
    max_xcom_bytes: int | None = DEFAULT_MAX_XCOM_BYTES,
) -> dict[str, Any]:
    """
    The script XCom: every result set with ``schema`` and ``records``, bounded in rows and bytes.

    ``records`` are the rows as dicts keyed by column name; ``rows`` (the API's lists, the same data
    again) only with ``include_rows``. At most ``max_rows`` rows in all, then the first rows that fit
    in ``max_xcom_bytes`` of JSON (``None``: no byte bound); a warning says what was cut. Compare a
    result set's ``len(records)`` with its ``rowCount`` (what DataArts counted) to tell a cut.
    """
    sets = [_ResultSet(result, include_rows) for result in answer.get("results", [])]
    result: dict[str, Any] = {
        "instance_id": instance_id,
        "script_name": script_name,
        "status": answer.get("status"),
        "results": [],
    }
    budget = (
        None
        if max_xcom_bytes is None
        else max_xcom_bytes - json_size({**result, "results": [item.empty for item in sets]})
    )
    rows_left = max_rows
    for item in sets:
        item.keep(rows_left, budget)
        # Once the bytes run out, later result sets keep nothing: XCom holds the first rows.
        rows_left = rows_left - item.kept if item.kept == min(len(item.rows), rows_left) else 0
        if budget is not None:
            budget -= item.kept_bytes
        result["results"].append(item.value())
    total = sum(len(item.rows) for item in sets)
    kept = sum(item.kept for item in sets)
    if kept < total:
        if kept == min(total, max_rows):
            bound = f"max_rows={max_rows}"
        else:
            needed = json_size({**result, "results": _uncut(sets, max_rows)})
            bound = f"max_xcom_bytes={max_xcom_bytes}; {min(total, max_rows)} rows would be {needed} bytes"
        cut = "; ".join(
            f"result set {number}: kept {item.kept} of {len(item.rows)} rows"
            for number, item in enumerate(sets, 1)
            if item.kept < len(item.rows)
        )
        log.warning(
            "DataArts script %s instance %s returned %d rows; kept the first %d in XCom (%s). Cut: %s. "
            "Raise the bound, or have the script write its result to a table or a file.",
            script_name,
            instance_id,
            total,
            kept,
            bound,
            cut,
        )
    return result


class _ResultSet:
    """One result set of a script answer, and how many of its rows go to XCom."""

    def __init__(self, result: dict[str, Any], include_rows: bool) -> None:
        self.rows = list(result.get("rows") or [])
        self.columns = column_names(result.get("schema"))
        self.include_rows = include_rows
        self.kept = 0
        self.kept_bytes = 0
        self.fields = {
            "schema": result.get("schema") or [],
            "records": [],
            "rowCount": result.get("rowCount", len(self.rows)),
            "duration": result.get("duration"),
            "message": result.get("message"),
        }
        if include_rows:
            self.fields["rows"] = []
        self.empty = dict(self.fields)

    def record(self, row: Any) -> dict[str, Any]:
        return dict(zip(self.columns, row, strict=False))

    def keep(self, max_rows: int, budget: int | None) -> None:
        """Keep the first rows, up to ``max_rows`` of them and ``budget`` more bytes of JSON."""
        for row in self.rows[: max(max_rows, 0)]:
            # Each row adds its JSON and a ", " separator to ``records`` (and to ``rows``).
            cost = json_size(self.record(row)) + 2 + (json_size(row) + 2 if self.include_rows else 0)
            if budget is not None and self.kept_bytes + cost > budget:
                break
            self.kept += 1
            self.kept_bytes += cost

    def value(self) -> dict[str, Any]:
        kept = self.rows[: self.kept]
        value = {**self.fields, "records": [self.record(row) for row in kept]}
        if self.include_rows:
            value["rows"] = kept
        return value


def _uncut(sets: list[_ResultSet], max_rows: int) -> list[dict[str, Any]]:
    """The result sets with every row that ``max_rows`` allows (for the warning's byte count)."""
    values, left = [], max_rows
    for item in sets:
        rows = item.rows[: max(left, 0)]
        left -= len(rows)
        value = {**item.fields, "records": [item.record(row) for row in rows]}
        if item.include_rows:
            value["rows"] = rows
        values.append(value)
    return values


def finish_script(
    script_name: str,
    instance_id: str,
    answer: dict[str, Any],
    *,
    max_rows: int,
    log: Any,
    retryable: bool = True,
    include_rows: bool = False,
    max_xcom_bytes: int | None = DEFAULT_MAX_XCOM_BYTES,
    delivered: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """
    Pass with the script result, or fail with the service's message.

    A ``FAILED`` instance raises ``AirflowException`` when ``retryable`` (an operator's retry
    executes the script again), else ``AirflowFailException``: a sensor's retry would only find
    the same ``FAILED`` instance, and ``soft_fail`` skips on it in poke mode as it does deferred.
    """
    status = answer.get("status")
    delivered()
    if script_verdict(status) is Verdict.FAIL:
        messages = "; ".join(str(r.get("message")) for r in answer.get("results", []) if r.get("message"))
        log.error(
            "DataArts script %s instance %s FAILED: %s", script_name, instance_id, messages or "no message"
        )
        reason = messages or "no message from DataArts"
        error = AirflowException if retryable else AirflowFailException
        raise error(f"DataArts script {script_name} instance {instance_id} FAILED: {reason}")
    result = script_result(
        script_name,
        instance_id,
        answer,
        max_rows=max_rows,
        log=log,
        include_rows=include_rows,
        max_xcom_bytes=max_xcom_bytes,
    )
    rows = sum(len(r["records"]) for r in result["results"])
    log.info(
        "DataArts script %s instance %s FINISHED: %d result set(s), %d row(s) kept in XCom (%d bytes)",
        script_name,
        instance_id,
        len(result["results"]),
        rows,
        json_size(result),
    )
    return result


# --- DataArts Factory jobs ---------------------------------------------------------------------------

JOB_RESULT_KEY = "job_result"


def job_detail_for(hook: DataArtsHook, job_name: str, instance: dict[str, Any]) -> dict[str, Any]:
    """
    The detail (with every node) of a terminal instance a trigger reported from the list. The
    list's status decides should the detail still lag behind it.
    """
    if "nodes" in instance:
        return instance
    detail = hook.get_job_instance(job_name, str(instance["instanceId"]))
    verdict_fields = ("status", "forceSuccess", "ignoreSuccess")
    return {**detail, **{key: instance[key] for key in verdict_fields if key in instance}}


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
    delivered: Callable[[], None] = lambda: None,
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
    delivered()
    summary = summarize_job(result)
    verdict = job_verdict(detail)
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
