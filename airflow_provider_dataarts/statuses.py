"""
DataArts vocabulary that operators and sensors need when a DAG file is parsed: statuses and what
each means for a task, job kinds, the default connection id. Kept free of heavy imports, because
DAG files import the operators on every parse.
"""

from __future__ import annotations

import math
from datetime import timedelta
from enum import StrEnum
from typing import Any

DEFAULT_CONN_ID = "dataarts_default"
RULE_TYPES = {"quality": 1, "comparison": 2, "1": 1, "2": 2, "quality_task": 1, "consistency_task": 2}
TASK_TYPES = {1: "QUALITY_TASK", 2: "CONSISTENCY_TASK"}


def positive_seconds(value: Any, name: str) -> float:
    """A poll interval in seconds, refused with the parameter's name unless it is positive and finite."""
    from airflow_provider_dataarts.exceptions import DataArtsConfigError

    if isinstance(value, timedelta):
        value = value.total_seconds()
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise DataArtsConfigError(f"{name} must be a number of seconds, not {value!r}.") from None
    if not (seconds > 0 and math.isfinite(seconds)):
        raise DataArtsConfigError(f"{name} must be a positive number of seconds, not {value!r}.")
    return seconds


def rule_type_code(rule_type: Any) -> int:
    """``quality``/``comparison`` (or 1/2) as the API's integer; anything else is a clear error."""
    from airflow_provider_dataarts.exceptions import DataArtsConfigError

    code = RULE_TYPES.get(str(rule_type).strip().lower())
    if code is None:
        raise DataArtsConfigError(
            f"rule_type must be 'quality' or 'comparison' (or 1 / 2), not {rule_type!r}."
        )
    return code


class Verdict(StrEnum):
    WAIT = "wait"
    SUCCESS = "success"
    WARN = "warn"  # passes, with a warning in the task log
    FAIL = "fail"
    SKIP = "skip"  # a job instance DataArts skipped: the task is skipped, neither passed nor failed


class QualityRunStatus(StrEnum):
    """``run_status`` of a DataArts Quality instance; unknown values keep the sensor waiting."""

    RUNNING = "RUNNING"
    SUSPENDING = "SUSPENDING"
    UNKNOWN = "UNKNOWN"
    SUCCESS = "SUCCESS"
    ALARMING = "ALARMING"
    FAILED = "FAILED"


QUALITY_TERMINAL = frozenset({QualityRunStatus.SUCCESS, QualityRunStatus.ALARMING, QualityRunStatus.FAILED})


def quality_verdict(run_status: str | None, *, fail_on_alarm: bool = True) -> Verdict:
    """
    SUCCESS passes, FAILED fails, ALARMING fails unless ``fail_on_alarm`` is off; the rest waits:
    the quality gate policy (``quality_policy.decide``) without sub-rules or ``warn_only``.
    """
    from airflow_provider_dataarts.quality_policy import QualityPolicy, decide

    return decide(run_status, [], QualityPolicy(fail_on_alarm=fail_on_alarm)).verdict


def is_quality_terminal(run_status: str | None) -> bool:
    # StrEnum members compare and hash as their values.
    return (run_status or "").upper() in QUALITY_TERMINAL


class ScriptStatus(StrEnum):
    """``status`` of a DataArts Factory script instance."""

    LAUNCHING = "LAUNCHING"
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"


def script_verdict(status: str | None) -> Verdict:
    value = (status or "").upper()
    if value == ScriptStatus.FINISHED:
        return Verdict.SUCCESS
    if value == ScriptStatus.FAILED:
        return Verdict.FAIL
    return Verdict.WAIT


# The instance list may lag a moment behind a rerun: an instance missing from it is waited for
# this long by default (connection extra ``not_listed_grace``), then reported as an error.
NOT_FOUND_GRACE = 120.0


def not_listed_too_long(waiting_since: float, started_after_ms: int | None, now: float, grace: float) -> bool:
    """Whether an instance missing from the list (since ``waiting_since``, or its known start) is too late."""
    since = max(waiting_since, (started_after_ms or 0) / 1000)
    return now - since > grace


def is_alarming(sub_rule: dict[str, Any]) -> bool:
    """
    A sub-rule alarms when one of its result rows says ``"Status": "false"``.

    Assumption (the reference page shows the field without defining it): DataArts marks a result
    row that did not meet the rule with ``Status`` ``false``.
    """
    return any(str(row.get("Status", "")).strip().lower() == "false" for row in sub_rule.get("results", []))


class JobStatus(StrEnum):
    """``status`` of a DataArts Factory job instance (SDK-DGC's list plus ``skip``); unknown values wait."""

    WAITING = "waiting"
    RUNNING = "running"
    SUCCESS = "success"
    FORCE_SUCCESS = "forceSuccess"
    IGNORE_SUCCESS = "ignoreSuccess"
    FAIL = "fail"
    RUNNING_EXCEPTION = "running-exception"
    MANUAL_STOP = "manual-stop"
    SKIP_BY_DEPEND = "skip-by-depend"
    SKIP = "skip"
    WAITING_CONFIRM = "waiting-confirm"
    PAUSE = "pause"
    FREEZE = "freeze"


JOB_PASSED = frozenset({JobStatus.SUCCESS, JobStatus.FORCE_SUCCESS, JobStatus.IGNORE_SUCCESS})
JOB_FAILED = frozenset({JobStatus.FAIL, JobStatus.RUNNING_EXCEPTION, JobStatus.MANUAL_STOP})
JOB_SKIPPED = frozenset({JobStatus.SKIP_BY_DEPEND, JobStatus.SKIP})
# Not terminal: the instance waits on a person in DataArts (confirm, resume, unfreeze). Said once in the log.
JOB_WAITS_ON_A_PERSON = frozenset({JobStatus.WAITING_CONFIRM, JobStatus.PAUSE, JobStatus.FREEZE})
JOB_KNOWN = frozenset(JobStatus)
# Node statuses that name a node in the failure table.
NODE_FAILED = frozenset({"fail", "running-exception", "manual-stop"})


def job_verdict(instance: dict[str, Any] | None) -> Verdict:
    """
    What a job instance means for the task: ``success`` (or ``forceSuccess``/``ignoreSuccess`` true
    on an instance that has ended) passes; ``fail``, ``running-exception``, ``manual-stop`` fail;
    ``skip-by-depend``/``skip`` skip; everything else (``waiting``, ``running``, a person-waiting or
    unknown status, whatever the flags say) keeps waiting.
    """
    if not instance:
        return Verdict.WAIT
    status = str(instance.get("status") or "")
    if status in JOB_PASSED:
        return Verdict.SUCCESS
    if forced_success(instance):
        return Verdict.SUCCESS
    if status in JOB_FAILED:
        return Verdict.FAIL
    if status in JOB_SKIPPED:
        return Verdict.SKIP
    return Verdict.WAIT


def forced_success(instance: dict[str, Any]) -> bool:
    """``forceSuccess``/``ignoreSuccess`` true on an instance that has ended (not on a running one)."""
    status = str(instance.get("status") or "")
    ended = status in JOB_PASSED or status in JOB_FAILED or status in JOB_SKIPPED
    return ended and (flag_set(instance.get("forceSuccess")) or flag_set(instance.get("ignoreSuccess")))


def is_job_terminal(instance: dict[str, Any] | None) -> bool:
    return job_verdict(instance) is not Verdict.WAIT


def flag_set(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def job_status_note(status: str | None) -> str | None:
    """What the log says, once, about a non-terminal status that is not plain waiting or running."""
    if status in JOB_WAITS_ON_A_PERSON:
        return (
            f"it is {status}: it waits on a person in DataArts Factory (confirm, resume or unfreeze it "
            "in the console); still waiting"
        )
    if status not in JOB_KNOWN:
        return f"its status {status!r} is not one this provider knows; treated as not finished, still waiting"
    return None


class MigrationStatus(StrEnum):
    """``status`` of a DataArts Migration (CDM) submission (SDK ``Submission``); unknown values wait."""

    BOOTING = "BOOTING"
    FAILURE_ON_SUBMIT = "FAILURE_ON_SUBMIT"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    UNKNOWN = "UNKNOWN"
    NEVER_EXECUTED = "NEVER_EXECUTED"


MIGRATION_FAILED = frozenset(
    {MigrationStatus.FAILED, MigrationStatus.FAILURE_ON_SUBMIT, MigrationStatus.NEVER_EXECUTED}
)


def migration_verdict(status: str | None) -> Verdict:
    """``SUCCEEDED`` passes; ``FAILED``, ``FAILURE_ON_SUBMIT``, ``NEVER_EXECUTED`` fail; the rest waits."""
    value = (status or "").upper()
    if value == MigrationStatus.SUCCEEDED:
        return Verdict.SUCCESS
    if value in MIGRATION_FAILED:
        return Verdict.FAIL
    return Verdict.WAIT


def is_migration_terminal(status: str | None) -> bool:
    return migration_verdict(status) is not Verdict.WAIT
