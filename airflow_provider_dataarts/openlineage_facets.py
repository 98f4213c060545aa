"""
The OpenLineage facets of a finished DataArts Quality instance: the checked tables as input
datasets, each with a ``DataQualityAssertionsDatasetFacet`` (one assertion per sub-rule on that
table), and a ``TestRunFacet`` listing every sub-rule as a test.

Loaded only when Airflow's OpenLineage provider asks a task for its facets (``openlineage`` extra).

Dataset naming: namespace ``dataarts://{endpoint host}/{workspace}/{data connection id}``, name
``{database}.{table}`` as the job detail spells them. DataArts knows a table only through its data
connection (the job detail names the connection, not the database host), so the connection is the
data source; the region's endpoint host and the workspace make that id globally unique. A sub-rule
whose table the job detail does not name is reported on the job itself: namespace
``dataarts://{endpoint host}/{workspace}``, name ``jobs/{job name}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_dataarts.hooks.dataarts import DataArtsHook

ASSERTIONS_FACET = "dataQualityAssertions"
TEST_RUN_FACET = "test"
SKIPPED_ROW_FIELDS = ("Status",)


@dataclass(frozen=True)
class CheckedTable:
    """A table a sub-rule checks, as an OpenLineage dataset identity."""

    namespace: str
    name: str


@dataclass
class SubRuleCheck:
    """What one sub-rule checked and how it came out: the source of an assertion and of a test."""

    sub_rule_id: str
    name: str
    status: str  # "pass", "fail" (found bad data) or "skip" (no result: the rule did not run)
    assertion: str
    severity: str
    tables: list[CheckedTable]
    column: str | None = None
    description: str | None = None
    expected: str | None = None
    actual: str | None = None
    content: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


def _split(value: Any) -> list[str]:
    """The detail's multi-valued fields are comma-separated text."""
    return [part.strip() for part in str(value or "").split(",") if part.strip()]


def sub_rule_details(job_detail: dict[str, Any] | None) -> dict[str, list[dict[str, Any]]]:
    """
    Each sub-rule id of the job detail -> the sub-rule definitions it stands for.

    A quality job's sub-rule stands for itself; a comparison job's ``sub_rules`` entry is a list
    (the rule on the table and on the table compared with it), and each id in it stands for the
    whole list, since a comparison checks both tables.
    """
    found: dict[str, list[dict[str, Any]]] = {}
    for entry in (job_detail or {}).get("sub_rules") or []:
        group = [item for item in (entry if isinstance(entry, list) else [entry]) if isinstance(item, dict)]
        for item in group:
            if item.get("id") is not None:
                found[str(item["id"])] = group
    return found


def checked_tables(definition: dict[str, Any], host: str, workspace: str) -> list[CheckedTable]:
    """The tables one sub-rule definition names (its ``tables`` and ``reference_tables``)."""
    connection = str(definition.get("connection") or "unknown-connection")
    namespace = f"dataarts://{host}/{workspace}/{connection}"
    databases = _split(definition.get("databases"))
    tables = _split(definition.get("tables")) + _split(definition.get("reference_tables"))
    if not tables:
        return [CheckedTable(namespace, database) for database in databases]
    answer = []
    for index, table in enumerate(tables):
        database = databases[index] if len(databases) == len(tables) else (databases[0] if databases else "")
        qualified = table if not database or table.startswith(f"{database}.") else f"{database}.{table}"
        answer.append(CheckedTable(namespace, qualified))
    return answer


def _status(sub_rule: dict[str, Any]) -> str:
    from airflow_provider_dataarts.statuses import is_alarming

    if not sub_rule.get("results"):
        return "skip"
    return "fail" if is_alarming(sub_rule) else "pass"


def _actual(sub_rule: dict[str, Any]) -> str | None:
    rows = [
        ", ".join(f"{key}={value}" for key, value in row.items() if key not in SKIPPED_ROW_FIELDS)
        for row in sub_rule.get("results") or []
    ]
    return "; ".join(rows) or None


def sub_rule_checks(
    quality_result: dict[str, Any],
    job_detail: dict[str, Any] | None,
    *,
    host: str,
    workspace: str,
    fail_on_alarm: bool,
) -> list[SubRuleCheck]:
    """One check per sub-rule result of the instance, with its tables and column from the job detail."""
    instance = quality_result.get("instance") or {}
    job_name = str(instance.get("name") or (job_detail or {}).get("name") or "unknown-job")
    job_dataset = CheckedTable(f"dataarts://{host}/{workspace}", f"jobs/{job_name}")
    definitions = sub_rule_details(job_detail)
    level = (job_detail or {}).get("level")
    checks = []
    for sub_rule in quality_result.get("sub_rules") or []:
        sub_rule_id = str(sub_rule.get("sub_rule_id"))
        group = definitions.get(sub_rule_id, [])
        own = next((d for d in group if str(d.get("id")) == sub_rule_id), group[0] if group else {})
        tables = list(dict.fromkeys(t for d in group for t in checked_tables(d, host, workspace)))
        columns = list(dict.fromkeys(c for d in group for c in _split(d.get("columns"))))
        params: dict[str, Any] = {
            "sub_rule_id": sub_rule_id,
            "sub_rule_instance_id": str(sub_rule.get("sub_instance_instance_id")),
            "abnormal_table_status": sub_rule.get("abnormal_table_status"),
            **{key: own[key] for key in ("type", "template_id", "dimension", "weight") if own.get(key)},
        }
        if level:
            params["level"] = level
        if len(columns) > 1:
            params["columns"] = columns
        kind = own.get("dimension") or own.get("type")
        checks.append(
            SubRuleCheck(
                sub_rule_id=sub_rule_id,
                name=str(own.get("sub_rule_name") or sub_rule_id),
                status=_status(sub_rule),
                assertion=str(kind).lower() if kind else "dataarts_quality_rule",
                severity="error" if fail_on_alarm else "warn",
                tables=tables or [job_dataset],
                column=columns[0] if len(columns) == 1 else None,
                description=(
                    f"DataArts {own.get('type') or 'quality'} rule (template {own.get('template_id')})"
                    if own
                    else "DataArts quality sub-rule (not in the job detail)"
                ),
                expected=own.get("alarm_condition") or (job_detail or {}).get("alarm_condition") or None,
                actual=_actual(sub_rule),
                content=own.get("sql") or None,
                params=params,
            )
        )
    return checks


def operator_lineage(checks: list[SubRuleCheck]) -> OperatorLineage:
    """The checks as OpenLineage input datasets with assertions, and a ``TestRunFacet``."""
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import InputDataset
    from openlineage.client.facet_v2 import data_quality_assertions_dataset as dq
    from openlineage.client.facet_v2 import test_run

    by_table: dict[CheckedTable, list[Any]] = {}
    for check in checks:
        for table in check.tables:
            by_table.setdefault(table, []).append(
                dq.Assertion(
                    assertion=check.assertion,
                    success=check.status == "pass",
                    column=check.column,
                    severity=check.severity,
                    name=check.name,
                    description=check.description,
                    expected=check.expected,
                    actual=check.actual,
                    content=check.content,
                    contentType="sql" if check.content else None,
                    params=check.params,
                )
            )
    inputs = [
        InputDataset(
            namespace=table.namespace,
            name=table.name,
            inputFacets={ASSERTIONS_FACET: dq.DataQualityAssertionsDatasetFacet(assertions=assertions)},
        )
        for table, assertions in by_table.items()
    ]
    tests = [
        test_run.TestExecution(
            name=check.name,
            status=check.status,
            severity=check.severity,
            type=check.assertion,
            description=check.description,
            expected=check.expected,
            actual=check.actual,
            content=check.content,
            contentType="sql" if check.content else None,
            params={
                **check.params,
                "tables": [f"{t.namespace}/{t.name}" for t in check.tables],
                "column": check.column,
            },
        )
        for check in checks
    ]
    run_facets = {TEST_RUN_FACET: test_run.TestRunFacet(tests=tests)} if tests else {}
    return OperatorLineage(inputs=inputs, run_facets=run_facets)


def endpoint_host(endpoint: str) -> str:
    """The host (and port) of the DataArts endpoint, e.g. ``dayu.cn-north-4.myhuaweicloud.com``."""
    return urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}").netloc or endpoint


def quality_lineage(
    hook: DataArtsHook, quality_result: dict[str, Any], *, fail_on_alarm: bool, log: Any
) -> OperatorLineage:
    """Fetch the job detail (for tables and columns) and build the lineage of a finished instance."""
    from airflow_provider_dataarts.exceptions import DataArtsAPIError

    instance = quality_result.get("instance") or {}
    rule_type = "comparison" if instance.get("task_type") == "CONSISTENCY_TASK" else "quality"
    detail = None
    if instance.get("task_id"):
        try:
            detail = hook.get_quality_job_definition(str(instance["task_id"]), rule_type)
        except DataArtsAPIError as error:
            log.warning(
                "OpenLineage: no detail of DataArts %s job %s: %s", rule_type, instance["task_id"], error
            )
    config = hook.config
    checks = sub_rule_checks(
        quality_result,
        detail,
        host=endpoint_host(config.endpoint),
        workspace=str(config.workspace),
        fail_on_alarm=fail_on_alarm,
    )
    return operator_lineage(checks)
