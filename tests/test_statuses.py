"""What each DataArts status means for a task."""

from __future__ import annotations

import pytest

from airflow_provider_dataarts.exceptions import DataArtsConfigError
from airflow_provider_dataarts.statuses import (
    Verdict,
    is_quality_terminal,
    quality_verdict,
    rule_type_code,
    script_verdict,
)


@pytest.mark.parametrize(
    ("run_status", "on_alarm_fail", "on_alarm_pass"),
    [
        ("SUCCESS", Verdict.SUCCESS, Verdict.SUCCESS),
        ("FAILED", Verdict.FAIL, Verdict.FAIL),
        ("ALARMING", Verdict.FAIL, Verdict.WARN),
        ("RUNNING", Verdict.WAIT, Verdict.WAIT),
        ("SUSPENDING", Verdict.WAIT, Verdict.WAIT),
        ("UNKNOWN", Verdict.WAIT, Verdict.WAIT),
        ("SOME_NEW_STATUS", Verdict.WAIT, Verdict.WAIT),
        ("", Verdict.WAIT, Verdict.WAIT),
        (None, Verdict.WAIT, Verdict.WAIT),
        ("success", Verdict.SUCCESS, Verdict.SUCCESS),
        ("Alarming", Verdict.FAIL, Verdict.WARN),
    ],
)
def test_quality_verdict(run_status: str | None, on_alarm_fail: Verdict, on_alarm_pass: Verdict) -> None:
    assert quality_verdict(run_status) is on_alarm_fail  # fail_on_alarm defaults to True
    assert quality_verdict(run_status, fail_on_alarm=True) is on_alarm_fail
    assert quality_verdict(run_status, fail_on_alarm=False) is on_alarm_pass


@pytest.mark.parametrize(
    ("run_status", "terminal"),
    [
        ("SUCCESS", True),
        ("ALARMING", True),
        ("FAILED", True),
        ("failed", True),
        ("RUNNING", False),
        ("SUSPENDING", False),
        ("UNKNOWN", False),
        ("SOME_NEW_STATUS", False),
        ("", False),
        (None, False),
    ],
)
def test_is_quality_terminal(run_status: str | None, terminal: bool) -> None:
    assert is_quality_terminal(run_status) is terminal
    # terminal exactly when the verdict is no longer "wait"
    assert (quality_verdict(run_status) is not Verdict.WAIT) is terminal


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        ("FINISHED", Verdict.SUCCESS),
        ("FAILED", Verdict.FAIL),
        ("LAUNCHING", Verdict.WAIT),
        ("RUNNING", Verdict.WAIT),
        ("SOMETHING_NEW", Verdict.WAIT),
        ("", Verdict.WAIT),
        (None, Verdict.WAIT),
        ("finished", Verdict.SUCCESS),
    ],
)
def test_script_verdict(status: str | None, verdict: Verdict) -> None:
    assert script_verdict(status) is verdict


def test_verdicts_are_plain_strings() -> None:
    assert Verdict.WARN == "warn"
    assert f"{Verdict.FAIL}" == "fail"


@pytest.mark.parametrize(
    ("rule_type", "code"),
    [("quality", 1), ("comparison", 2), (1, 1), (2, 2), ("1", 1), (" Comparison ", 2), ("QUALITY_TASK", 1)],
)
def test_rule_type_code(rule_type: object, code: int) -> None:
    assert rule_type_code(rule_type) == code


@pytest.mark.parametrize("rule_type", ["consistency", 3, None, ""])
def test_an_unknown_rule_type_is_named(rule_type: object) -> None:
    with pytest.raises(DataArtsConfigError, match="rule_type"):
        rule_type_code(rule_type)


@pytest.mark.parametrize(
    ("instance", "verdict"),
    [
        ({"status": "success"}, Verdict.SUCCESS),
        ({"status": "forceSuccess"}, Verdict.SUCCESS),
        ({"status": "fail", "forceSuccess": True}, Verdict.SUCCESS),
        ({"status": "running-exception", "ignoreSuccess": "true"}, Verdict.SUCCESS),
        ({"status": "fail"}, Verdict.FAIL),
        ({"status": "running-exception"}, Verdict.FAIL),
        ({"status": "manual-stop"}, Verdict.FAIL),
        ({"status": "skip-by-depend"}, Verdict.SKIP),
        ({"status": "skip"}, Verdict.SKIP),
        ({"status": "waiting-confirm"}, Verdict.WAIT),
        ({"status": "pause"}, Verdict.WAIT),
        ({"status": "freeze"}, Verdict.WAIT),
        ({"status": "waiting"}, Verdict.WAIT),
        ({"status": "running"}, Verdict.WAIT),
        ({"status": "some-new-status"}, Verdict.WAIT),
        ({"status": "fail", "forceSuccess": False}, Verdict.FAIL),
        # Issue 22 (9): the flag on an instance still running (a rerun of a forced one) is no verdict.
        ({"status": "running", "forceSuccess": True}, Verdict.WAIT),
        ({"status": "waiting", "ignoreSuccess": "true"}, Verdict.WAIT),
        ({"status": "pause", "forceSuccess": True}, Verdict.WAIT),
        ({"status": "manual-stop", "forceSuccess": True}, Verdict.SUCCESS),
        ({}, Verdict.WAIT),
        (None, Verdict.WAIT),
    ],
)
def test_job_verdict(instance: dict[str, object] | None, verdict: Verdict) -> None:
    from airflow_provider_dataarts.statuses import job_verdict

    assert job_verdict(instance) is verdict


def test_a_forced_flag_on_a_running_job_instance_keeps_the_wait_going() -> None:
    """Issue 22 (9): what the worker's and the triggerer's waits compare is the real status until it ends."""
    from airflow_provider_dataarts.waiting import job_status_finished, job_status_of

    assert not job_status_finished(job_status_of({"status": "running", "forceSuccess": True}))
    assert job_status_of({"status": "fail", "forceSuccess": True}) == "forceSuccess"


def test_person_waiting_and_unknown_job_statuses_are_explained() -> None:
    from airflow_provider_dataarts.statuses import job_status_note

    for status in ("waiting-confirm", "pause", "freeze"):
        assert "waits on a person in DataArts" in (job_status_note(status) or "")
    assert "not one this provider knows" in (job_status_note("brand-new") or "")
    for status in ("waiting", "running", "success", "fail"):
        assert job_status_note(status) is None
