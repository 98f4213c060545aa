"""A finished quality instance: `quality_result` in XCom, the log summary, lineage, assets, verdict."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_dataarts.assets import set_outlet_events
from airflow_provider_dataarts.openlineage import remember_quality_result
from airflow_provider_dataarts.results import SUMMARY_ROWS
from airflow_provider_dataarts.results.summary import push_quality_summary
from airflow_provider_dataarts.statuses import Verdict, is_alarming

if TYPE_CHECKING:
    from airflow_provider_dataarts.hooks.dataarts import DataArtsHook
    from airflow_provider_dataarts.quality_policy import GateDecision, QualityPolicy

QUALITY_RESULT_KEY = "quality_result"
FAIL = "fail"


def finish_quality(
    hook: DataArtsHook,
    context: Any,
    instance: dict[str, Any],
    *,
    fail_on_alarm: bool,
    log: Any,
    warn_only: Any = None,
    delivered: Callable[[bool], None] = lambda passed: None,
) -> dict[str, Any]:
    """
    Fetch every sub-rule result and the job's definition, decide with the policy
    (``quality_policy.decide``), push ``quality_result``, log a summary, then pass or fail.

    ``delivered`` is called once the result is in XCom, just before the verdict: what the task
    remembers of the run can be forgotten then, since a retry or clear must check afresh.
    """
    from airflow_provider_dataarts.quality_policy import QualityPolicy, warn_only_patterns

    policy = QualityPolicy(fail_on_alarm=bool(fail_on_alarm), warn_only=warn_only_patterns(warn_only))
    instance_id = str(instance["id"])
    run_status = instance.get("run_status")
    sub_rules = hook.get_quality_instance_results(instance_id)
    decision = judge(hook, instance, sub_rules, policy, log)
    result = {
        "instance_id": instance_id,
        "run_status": run_status,
        "verdict": decision.word,
        "instance": instance,
        "sub_rules": sub_rules,
    }
    context["ti"].xcom_push(key=QUALITY_RESULT_KEY, value=result)
    push_quality_summary(context, result)  # what the DataArts tab's history reads (a few bytes)
    remember_quality_result(context, result, policy)
    set_outlet_events(context, result, passes=decision.verdict is not Verdict.FAIL, log=log)
    delivered(decision.verdict is not Verdict.FAIL)
    log.info("%s", summarize_quality(result))
    alarming = sum(is_alarming(s) for s in sub_rules)
    if decision.verdict is Verdict.FAIL:
        message = (
            f"DataArts quality instance {instance_id} ({instance.get('name')}) is {result['run_status']}"
            f" with {alarming} alarming sub-rule(s) of {len(sub_rules)}"
        )
        if alarming:
            failing = len(decision.alarming(FAIL))
            message += f", {failing} of them failing the task (not warn_only):\n" + alarm_table(sub_rules)
        raise AirflowFailException(message)
    if decision.verdict is Verdict.WARN:
        why = (
            "fail_on_alarm=False"
            if not policy.fail_on_alarm
            else "every alarming sub-rule is warn_only (" + ", ".join(repr(p) for p in policy.warn_only) + ")"
        )
        log.warning(
            "DataArts quality instance %s is ALARMING; passing with warnings since %s: %s",
            instance_id,
            why,
            ", ".join(sub_rule_label(s) for s in sub_rules if is_alarming(s)),
        )
    return result


def judge(
    hook: DataArtsHook,
    instance: dict[str, Any],
    sub_rules: list[dict[str, Any]],
    policy: QualityPolicy,
    log: Any,
) -> GateDecision:
    """
    Name each sub-rule from the job's definition (``describe_sub_rules``), decide under ``policy``
    (``quality_policy.decide``, the one place), and write each sub-rule's ``severity`` (``"fail"``,
    ``"warn"``, or ``None`` when it did not alarm). Warns about ``warn_only`` patterns that matched no
    sub-rule of the definition, and when the definition could not be read and ``warn_only`` is set.
    """
    from airflow_provider_dataarts.quality_policy import decide, describe_sub_rules

    definition = job_definition(hook, instance, log) if sub_rules else None
    if definition is not None:
        describe_sub_rules(definition, sub_rules)
    decision = decide(instance.get("run_status"), sub_rules, policy)
    for sub_rule in sub_rules:
        sub_rule["severity"] = decision.severities.get(str(sub_rule.get("sub_rule_id")))
    if policy.warn_only and definition is None and sub_rules:
        log.warning(
            "warn_only %s matches nothing in this run: the job's definition (sub-rule names and "
            "dimensions) could not be read, so every alarm fails as it would without a policy.",
            list(policy.warn_only),
        )
    for pattern in decision.unmatched:
        log.warning(
            "warn_only pattern %r matched no sub-rule of job %s (names: %s; dimensions: %s)",
            pattern,
            instance.get("name") or instance.get("task_id"),
            ", ".join(sorted({str(s.get("name")) for s in sub_rules if s.get("name")})) or "none",
            ", ".join(sorted({str(s.get("dimension")) for s in sub_rules if s.get("dimension")})) or "none",
        )
    return decision


def job_definition(hook: DataArtsHook, instance: dict[str, Any], log: Any) -> dict[str, Any] | None:
    """
    The definition of the instance's job (``GET .../quality-tasks/{id}`` or ``consistency-tasks``):
    its sub-rules' names, dimensions, tables, columns and alarm conditions. ``None`` when it cannot
    be read, with a warning saying what that changes (tables and thresholds left out; the verdict is
    the one the policy gives without names, never a pass the default policy would not give).
    """
    from airflow_provider_dataarts.exceptions import DataArtsAPIError

    job_id = instance.get("task_id")
    if not job_id:
        return None
    kind = "comparison" if instance.get("task_type") == "CONSISTENCY_TASK" else "quality"
    try:
        return hook.get_quality_job_definition(str(job_id), kind)  # cached per job and process
    except DataArtsAPIError as error:
        log.warning(
            "Could not read the definition of %s job %s (its sub-rules' names, dimensions, tables and "
            "thresholds): %s. quality_result goes without them; warn_only matches no sub-rule, so the "
            "verdict is the one without a policy.",
            kind,
            job_id,
            error,
        )
        return None


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
    if result.get("verdict"):
        lines.append(f"Verdict: {str(result['verdict']).replace('_', ' ')}")
    if alarming:
        lines.append("Alarming sub-rules:")
        lines.append(alarm_table(sub_rules))
    return "\n".join(lines)


# Result-row fields the alarm table leaves out (the table's fail/warn column says it).
HIDDEN_ROW_FIELDS = ("status",)
CELL_CHARS = 60


def sub_rule_label(sub_rule: dict[str, Any]) -> str:
    """A sub-rule's name from the job's definition, else its id."""
    return str(sub_rule.get("name") or sub_rule.get("sub_rule_id"))


def sub_rule_target(sub_rule: dict[str, Any]) -> str | None:
    """``table.column`` (or the table alone) a sub-rule checked, when the definition says."""
    table, column = sub_rule.get("table"), sub_rule.get("column")
    if table and column:
        return ", ".join(f"{t}.{column}" for t in str(table).split(", "))
    return str(table or column) if (table or column) else None


def result_numbers(sub_rule: dict[str, Any]) -> str:
    """The result row(s) of a sub-rule without its Status: ``Total Rows=1000, Abnormal Rows=13``."""
    return "; ".join(
        ", ".join(f"{k}={v}" for k, v in row.items() if str(k).strip().lower() not in HIDDEN_ROW_FIELDS)
        for row in sub_rule.get("results") or []
        if isinstance(row, dict)
    )


def _cell(value: Any) -> str:
    text = "-" if value in (None, "") else str(value)
    return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 3] + "..."


def alarm_table(sub_rules: list[dict[str, Any]]) -> str:
    """
    The alarming sub-rules (at most ``SUMMARY_ROWS``) as a text table: sub-rule, dimension,
    table.column, threshold (alarm condition), the result row's numbers, fail or warn, and the
    sub-rule instance id (where DataArts keeps the rows that broke it).
    """
    alarming = [s for s in sub_rules if is_alarming(s)]
    headers = (
        "sub-rule",
        "dimension",
        "table.column",
        "threshold",
        "result",
        "severity",
        "sub-rule instance",
    )
    rows = [
        (
            _cell(sub_rule_label(s)),
            _cell(s.get("dimension")),
            _cell(sub_rule_target(s)),
            _cell(s.get("alarm_condition")),
            _cell(result_numbers(s)),
            _cell(s.get("severity")),
            _cell(s.get("sub_instance_instance_id")),
        )
        for s in alarming[:SUMMARY_ROWS]
    ]
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [headers, *rows]
    ]
    if len(alarming) > SUMMARY_ROWS:
        more = len(alarming) - SUMMARY_ROWS
        lines.append(f"... and {more} more alarming sub-rules (see XCom quality_result)")
    return "\n".join(lines)
