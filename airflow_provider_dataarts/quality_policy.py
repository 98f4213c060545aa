"""
The quality gate's policy: which alarming sub-rules fail the task and which only warn.

One function decides (``decide``); the operator and the sensor in every mode (``results.quality``)
and the asset watcher's events (``triggers.quality_events``) call it, and OpenLineage reads its
answer. DAG files import the operators on every parse, so this module imports only the standard
library and ``statuses``.

``warn_only`` holds sub-rule names or dimensions as the job's definition spells them (e.g.
``"Completeness"``), ``fnmatch`` patterns allowed, compared without regard to case. A sub-rule's name
and dimension come from the job's definition (``GET .../quality-tasks/{id}``); when that could not be
read, ``warn_only`` matches nothing, so every alarm fails as it would without a policy.
"""

from __future__ import annotations

import contextlib
import difflib
import fnmatch
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_dataarts.statuses import QualityRunStatus, Verdict, is_alarming

PASSED = "passed"
PASSED_WITH_WARNINGS = "passed_with_warnings"
FAILED = "failed"
VERDICT_WORDS = {Verdict.SUCCESS: PASSED, Verdict.WARN: PASSED_WITH_WARNINGS, Verdict.FAIL: FAILED}
FAIL = "fail"
WARN = "warn"
# The dimensions DataArts Quality rules belong to (console and API reference); a warn_only entry
# close to one of these but not equal is most likely a typo of it.
DIMENSIONS = ("Completeness", "Uniqueness", "Validity", "Accuracy", "Consistency", "Timeliness")


class WarnOnlyWarning(UserWarning):
    """A ``warn_only`` entry that can match no sub-rule (shown when the DAG file is parsed)."""


@dataclass(frozen=True)
class QualityPolicy:
    """What the task was told: ``fail_on_alarm`` and the ``warn_only`` patterns (rendered)."""

    fail_on_alarm: bool = True
    warn_only: tuple[str, ...] = ()


@dataclass
class GateDecision:
    """
    The policy's answer for one finished instance.

    :param verdict: ``Verdict.SUCCESS``, ``WARN`` (passes with a warning), ``FAIL``, or ``WAIT``.
    :param severities: Each alarming sub-rule's id -> ``"fail"`` or ``"warn"``.
    :param if_alarming: Each sub-rule's id -> the severity it has (or would have) when it alarms:
        what an OpenLineage assertion's ``severity`` means.
    :param unmatched: The ``warn_only`` patterns that matched no sub-rule of the job's definition
        (empty when the definition is unknown: then nothing could match).
    :param definition_known: Whether the sub-rules carry their names and dimensions.
    """

    verdict: Verdict
    severities: dict[str, str] = field(default_factory=dict)
    if_alarming: dict[str, str] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)
    definition_known: bool = True

    @property
    def word(self) -> str | None:
        """``quality_result.verdict``: ``passed``, ``passed_with_warnings``, ``failed`` (None: waiting)."""
        return VERDICT_WORDS.get(self.verdict)

    def alarming(self, severity: str) -> list[str]:
        return [key for key, value in self.severities.items() if value == severity]


def is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def warn_only_patterns(value: Any, name: str = "warn_only") -> tuple[str, ...]:
    """``warn_only`` as the patterns it holds, once each, empty entries left out (``raw_patterns``)."""
    return tuple(dict.fromkeys(p for p in raw_patterns(value, name) if p))


def raw_patterns(value: Any, name: str = "warn_only") -> tuple[str, ...]:
    """
    ``warn_only`` as a tuple of patterns: ``None`` (none), a list of strings, or one string: several
    separated by commas, or a list as a template renders one (``"['Completeness', 'x_*']"``, from
    ``"{{ params.warn_only }}"``). Anything else is refused naming the parameter.
    """
    from airflow_provider_dataarts.exceptions import DataArtsConfigError

    if value is None:
        return ()
    if isinstance(value, str) and value.strip().startswith("[") and value.strip().endswith("]"):
        import ast

        with contextlib.suppress(ValueError, SyntaxError):  # else a pattern such as "[abc]*"
            value = ast.literal_eval(value.strip())
        if not isinstance(value, str | list):
            raise DataArtsConfigError(f"{name} must be a list of sub-rule names or dimensions, not {value!r}")
    if isinstance(value, str):
        items: Iterable[Any] = value.split(",")
    elif isinstance(value, list | tuple | set | frozenset):
        items = value
    else:
        raise DataArtsConfigError(
            f"{name} must be a list of sub-rule names or dimensions (fnmatch patterns), not {value!r}."
        )
    patterns = []
    for item in items:
        if not isinstance(item, str):
            raise DataArtsConfigError(
                f"{name} must hold sub-rule names or dimensions as text, not {item!r} (in {value!r})."
            )
        patterns.append(item.strip())
    return tuple(patterns)


def pattern_problem(pattern: str) -> str | None:
    """
    Why a pattern most likely matches no sub-rule, whatever the job's definition says, or ``None``:
    what can be known before the definition is read (at parse time, or with no connection).
    """
    if not pattern:
        return "can match no sub-rule: it is empty"
    if "[" in pattern and not re.search(r"\[!?\]?[^\]]*\]", pattern):
        return "can match no sub-rule but one with '[' in its name: its '[' is never closed"
    if not any(c in pattern for c in "*?[") and pattern.lower() not in {d.lower() for d in DIMENSIONS}:
        close = difflib.get_close_matches(pattern.title(), DIMENSIONS, n=1, cutoff=0.8)
        if close:
            return (
                f"is no DataArts dimension (did you mean {close[0]!r}?): it matches only a sub-rule "
                "of exactly that name"
            )
    return None


def check_warn_only_at_parse(value: Any, task_id: str) -> Any:
    """
    Check ``warn_only`` when the DAG file is parsed: a bad type is an error naming the parameter; a
    pattern that can match nothing (empty, an unclosed ``[``, a near-miss of a dimension) is a
    ``WarnOnlyWarning`` naming it. A template is checked once rendered. Returns ``value`` unchanged.
    """
    if value is None or is_template(value):
        return value
    if isinstance(value, list | tuple | set | frozenset) and any(is_template(v) for v in value):
        return value
    for pattern in dict.fromkeys(raw_patterns(value, f"{task_id}: warn_only")):
        problem = pattern_problem(pattern)
        if problem:
            warnings.warn(
                f"{task_id}: warn_only pattern {pattern!r} {problem}.",
                WarnOnlyWarning,
                stacklevel=3,
            )
    return value


def _matches(pattern: str, sub_rule: dict[str, Any]) -> bool:
    words = [sub_rule.get("name"), sub_rule.get("dimension")]
    return any(isinstance(word, str) and fnmatch.fnmatchcase(word.lower(), pattern.lower()) for word in words)


def decide(run_status: str | None, sub_rules: list[dict[str, Any]], policy: QualityPolicy) -> GateDecision:
    """
    The verdict of a finished instance under ``policy``: ``SUCCESS`` passes; ``FAILED`` fails;
    ``ALARMING`` passes with a warning when ``fail_on_alarm`` is off, or when at least one sub-rule
    alarms and every alarming sub-rule matches ``warn_only`` (by its ``name`` or ``dimension``,
    which the sub-rules carry once the job's definition was read); otherwise it fails. Any other
    status waits.
    """
    status = (run_status or "").upper()
    definition_known = any("name" in s or "dimension" in s for s in sub_rules)
    if_alarming: dict[str, str] = {}
    used: set[str] = set()
    for sub_rule in sub_rules:
        matched = [p for p in policy.warn_only if _matches(p, sub_rule)]
        used.update(matched)
        severity = WARN if matched or not policy.fail_on_alarm else FAIL
        if_alarming[str(sub_rule.get("sub_rule_id"))] = severity
    severities = {
        str(s.get("sub_rule_id")): if_alarming[str(s.get("sub_rule_id"))] for s in sub_rules if is_alarming(s)
    }
    unmatched = [p for p in policy.warn_only if p not in used] if definition_known else []
    if status == QualityRunStatus.SUCCESS:
        verdict = Verdict.SUCCESS
    elif status == QualityRunStatus.FAILED:
        verdict = Verdict.FAIL
    elif status == QualityRunStatus.ALARMING:
        if not policy.fail_on_alarm or (severities and FAIL not in severities.values()):
            verdict = Verdict.WARN
        else:
            verdict = Verdict.FAIL
    else:
        verdict = Verdict.WAIT
    return GateDecision(verdict, severities, if_alarming, unmatched, definition_known)


def describe_sub_rules(definition: dict[str, Any], sub_rules: list[dict[str, Any]]) -> None:
    """
    Add to each sub-rule what the job's definition says of it: ``name``, ``dimension``, ``table``
    (``database.table``, several joined by ", " for a comparison), ``column``, ``alarm_condition``
    (the sub-rule's own threshold expression, else the job's). A sub-rule the definition does not
    list gets them as ``None``.
    """
    from airflow_provider_dataarts.openlineage_facets import _split, checked_tables, sub_rule_details

    definitions = sub_rule_details(definition)
    job_condition = definition.get("alarm_condition") or None
    for sub_rule in sub_rules:
        sub_rule_id = str(sub_rule.get("sub_rule_id"))
        group = definitions.get(sub_rule_id, [])
        own = next((d for d in group if str(d.get("id")) == sub_rule_id), group[0] if group else {})
        tables = [table.name for d in group for table in checked_tables(d, "", "")]
        columns = list(dict.fromkeys(c for d in group for c in _split(d.get("columns"))))
        sub_rule["name"] = own.get("sub_rule_name") or None
        sub_rule["dimension"] = own.get("dimension") or None
        sub_rule["table"] = ", ".join(dict.fromkeys(tables)) or None
        sub_rule["column"] = ", ".join(columns) or None
        sub_rule["alarm_condition"] = (own.get("alarm_condition") or job_condition) if own else None
