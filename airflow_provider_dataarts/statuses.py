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
    return (run_status or "").upper() in {s.value for s in QUALITY_TERMINAL}


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
