"""
What a finished DataArts instance means for a task: the XCom it leaves, the log it writes, the
verdict. Shared by the operators and sensors, whether they poked or deferred.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_dataarts.assets import set_outlet_events
from airflow_provider_dataarts.openlineage import remember_quality_result
from airflow_provider_dataarts.statuses import Verdict, quality_verdict, script_verdict

if TYPE_CHECKING:
    from airflow_provider_dataarts.hooks.dataarts import DataArtsHook

QUALITY_RESULT_KEY = "quality_result"
DEFAULT_MAX_ROWS = 1000
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
    hook: DataArtsHook, context: Any, instance: dict[str, Any], *, fail_on_alarm: bool, log: Any
) -> dict[str, Any]:
    """Fetch every sub-rule result, push ``quality_result``, log a summary, then pass or fail."""
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


def summarize_quality(result: dict[str, Any]) -> str:
    """Sub-rule counts, abnormal-table statuses and a table of the alarming sub-rules."""
    instance = result["instance"]
    sub_rules = result["sub_rules"]
    alarming = [s for s in sub_rules if is_alarming(s)]
    tables = Counter(str(s.get("abnormal_table_status")) for s in sub_rules)
    lines = [
        f"DataArts quality instance {result['instance_id']} ({instance.get('name')}, "
        f"{instance.get('task_type')}): {result['run_status']}",
        f"Sub-rules: {len(sub_rules)} ({len(sub_rules) - len(alarming)} passed, {len(alarming)} alarming); "
        f"abnormal tables: " + ", ".join(f"{k} {v}" for k, v in sorted(tables.items())),
    ]
    if alarming:
        lines.append(f"{'sub-rule':<21} {'sub-rule instance':<21} result rows")
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


def script_result(
    script_name: str, instance_id: str, answer: dict[str, Any], *, max_rows: int, log: Any
) -> dict[str, Any]:
    """The script XCom: every result set with ``records``, at most ``max_rows`` rows in all."""
    budget = max_rows
    total = 0
    results = []
    for result in answer.get("results", []):
        rows = list(result.get("rows") or [])
        total += len(rows)
        kept, budget = rows[: max(budget, 0)], budget - len(rows)
        columns = column_names(result.get("schema"))
        results.append(
            {
                "schema": result.get("schema") or [],
                "rows": kept,
                "records": [dict(zip(columns, row, strict=False)) for row in kept],
                "rowCount": result.get("rowCount", len(rows)),
                "duration": result.get("duration"),
                "message": result.get("message"),
            }
        )
    if total > max_rows:
        log.warning(
            "DataArts script %s instance %s returned %d rows; kept the first %d in XCom (max_rows)",
            script_name,
            instance_id,
            total,
            max_rows,
        )
    return {
        "instance_id": instance_id,
        "script_name": script_name,
        "status": answer.get("status"),
        "results": results,
    }


def finish_script(
    script_name: str,
    instance_id: str,
    answer: dict[str, Any],
    *,
    max_rows: int,
    log: Any,
    retryable: bool = True,
) -> dict[str, Any]:
    """
    Pass with the script result, or fail with the service's message.

    A ``FAILED`` instance raises ``AirflowException`` when ``retryable`` (an operator's retry
    executes the script again), else ``AirflowFailException``: a sensor's retry would only find
    the same ``FAILED`` instance, and ``soft_fail`` skips on it in poke mode as it does deferred.
    """
    status = answer.get("status")
    if script_verdict(status) is Verdict.FAIL:
        messages = "; ".join(str(r.get("message")) for r in answer.get("results", []) if r.get("message"))
        log.error(
            "DataArts script %s instance %s FAILED: %s", script_name, instance_id, messages or "no message"
        )
        reason = messages or "no message from DataArts"
        error = AirflowException if retryable else AirflowFailException
        raise error(f"DataArts script {script_name} instance {instance_id} FAILED: {reason}")
    result = script_result(script_name, instance_id, answer, max_rows=max_rows, log=log)
    rows = sum(len(r["rows"]) for r in result["results"])
    log.info(
        "DataArts script %s instance %s FINISHED: %d result set(s), %d row(s) kept",
        script_name,
        instance_id,
        len(result["results"]),
        rows,
    )
    return result
