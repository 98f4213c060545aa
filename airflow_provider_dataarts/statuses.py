"""DataArts statuses, grouped, and the one place that decides what each means for a task."""

from __future__ import annotations

from enum import StrEnum


class Verdict(StrEnum):
    WAIT = "wait"
    SUCCESS = "success"
    WARN = "warn"  # passes, with a warning in the task log
    FAIL = "fail"


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
    """SUCCESS passes, FAILED fails, ALARMING fails unless ``fail_on_alarm`` is off; the rest waits."""
    status = (run_status or "").upper()
    if status == QualityRunStatus.SUCCESS:
        return Verdict.SUCCESS
    if status == QualityRunStatus.FAILED:
        return Verdict.FAIL
    if status == QualityRunStatus.ALARMING:
        return Verdict.FAIL if fail_on_alarm else Verdict.WARN
    return Verdict.WAIT


def is_quality_terminal(run_status: str | None) -> bool:
    # StrEnum members compare and hash as their values.
    return (run_status or "").upper() in QUALITY_TERMINAL


class ScriptStatus(StrEnum):
    """``status`` of a DataArts Factory script instance."""

    LAUNCHING = "LAUNCHING"
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"


SCRIPT_TERMINAL = frozenset({ScriptStatus.FINISHED, ScriptStatus.FAILED})


def script_verdict(status: str | None) -> Verdict:
    value = (status or "").upper()
    if value == ScriptStatus.FINISHED:
        return Verdict.SUCCESS
    if value == ScriptStatus.FAILED:
        return Verdict.FAIL
    return Verdict.WAIT


# The instance list may lag a moment behind a rerun: an instance missing from it is waited for
# this long (from when waiting began, or from its known start), then reported as an error.
NOT_FOUND_GRACE = 120.0


def not_listed_too_long(waiting_since: float, started_after_ms: int | None, now: float) -> bool:
    """Whether an instance missing from the list has been missing longer than ``NOT_FOUND_GRACE``."""
    since = max(waiting_since, (started_after_ms or 0) / 1000)
    return now - since > NOT_FOUND_GRACE
