"""A finished quality instance: `quality_result` in XCom, the log summary, lineage, assets, verdict."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_dataarts.assets import set_outlet_events
from airflow_provider_dataarts.openlineage import remember_quality_result
from airflow_provider_dataarts.results import SUMMARY_ROWS
from airflow_provider_dataarts.statuses import Verdict, is_alarming, quality_verdict

if TYPE_CHECKING:
    from airflow_provider_dataarts.hooks.dataarts import DataArtsHook

QUALITY_RESULT_KEY = "quality_result"


def finish_quality(
    hook: DataArtsHook,
    context: Any,
    instance: dict[str, Any],
    *,
    fail_on_alarm: bool,
    log: Any,
    delivered: Callable[[bool], None] = lambda passed: None,
) -> dict[str, Any]:
    """
    Fetch every sub-rule result, push ``quality_result``, log a summary, then pass or fail.

    ``delivered`` is called once the result is in XCom, just before the verdict: what the task
    remembers of the run can be forgotten then, since a retry or clear must check afresh.
    """
    instance_id = str(instance["id"])
    run_status = instance.get("run_status")
    sub_rules = hook.get_quality_instance_results(instance_id)
    name_checked_tables(hook, instance, sub_rules, log)
    result = {
        "instance_id": instance_id,
        "run_status": run_status,
        "instance": instance,
        "sub_rules": sub_rules,
    }
    context["ti"].xcom_push(key=QUALITY_RESULT_KEY, value=result)
    remember_quality_result(context, result)
    set_outlet_events(context, result, fail_on_alarm=fail_on_alarm, log=log)
    verdict = quality_verdict(run_status, fail_on_alarm=fail_on_alarm)
    delivered(verdict is not Verdict.FAIL)
    log.info("%s", summarize_quality(result))
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


def name_checked_tables(
    hook: DataArtsHook, instance: dict[str, Any], sub_rules: list[dict[str, Any]], log: Any
) -> None:
    """
    Add to each sub-rule the table(s) it checked (``table``, e.g. ``"sales.orders"``), from the job's
    detail: the result API does not say, and a user asks "which rules broke, on which tables". One
    request; when it fails the result goes without tables (a warning says why), never without its verdict.
    """
    from airflow_provider_dataarts.exceptions import DataArtsAPIError
    from airflow_provider_dataarts.openlineage_facets import checked_tables, sub_rule_details

    job_id = instance.get("task_id")
    if not job_id or not sub_rules:
        return
    kind = "comparison" if instance.get("task_type") == "CONSISTENCY_TASK" else "quality"
    try:
        detail = hook.get_quality_job_definition(str(job_id), kind)
    except DataArtsAPIError as error:
        log.warning("Could not read the %s job %s (the tables its sub-rules check): %s", kind, job_id, error)
        return
    definitions = sub_rule_details(detail)
    for sub_rule in sub_rules:
        names = [
            table.name
            for definition in definitions.get(str(sub_rule.get("sub_rule_id")), [])
            for table in checked_tables(definition, "", "")
        ]
        if names:
            sub_rule["table"] = ", ".join(dict.fromkeys(names))
