"""The run record and ``decide``: what each try of an operator does, as a table."""

from __future__ import annotations

import pytest

from airflow_provider_dataarts.lifecycle import (
    CLOCK_MARGIN_MS,
    Action,
    Facts,
    Phase,
    RunRecord,
    decide,
    in_window,
    the_one_candidate,
)

LEASE = 3  # the task instance's max_tries
SUBMITTING = RunRecord.submitting(LEASE, {"submitted_at": 1_000_000})
SUBMITTED = SUBMITTING.submitted("7")

TABLE = [
    # (record, repair_on_retry, lease of this try, action, instance)
    (None, False, LEASE, Action.SUBMIT, None),
    (SUBMITTING, False, LEASE, Action.ADOPT, None),
    (SUBMITTED, False, LEASE, Action.RECONNECT, "7"),
    (SUBMITTED.stopped("execution_timeout"), False, LEASE, Action.SUBMIT, None),
    (SUBMITTED.delivered(passed=True), False, LEASE, Action.SUBMIT, None),
    (SUBMITTED.delivered(passed=False), False, LEASE, Action.SUBMIT, None),
    (SUBMITTED.delivered(passed=False), True, LEASE, Action.REPAIR, "7"),
    (SUBMITTED.delivered(passed=True), True, LEASE, Action.SUBMIT, None),
    # A clear of this task changes max_tries: nothing recorded before it is resumed or repaired.
    (SUBMITTED, False, LEASE + 2, Action.SUBMIT, None),
    (SUBMITTING, False, LEASE + 2, Action.SUBMIT, None),
    (SUBMITTED.delivered(passed=False), True, LEASE + 2, Action.SUBMIT, None),
]


@pytest.mark.parametrize(("record", "repair", "lease", "action", "instance"), TABLE)
def test_decide(
    record: RunRecord | None, repair: bool, lease: int, action: Action, instance: str | None
) -> None:
    decision = decide(record, Facts(lease=lease, repair_on_retry=repair))
    assert decision.action is action, decision.why
    assert decision.instance_id == instance
    assert decision.why


def test_a_record_survives_its_json_form_and_unknown_forms_are_ignored() -> None:
    record = SUBMITTED.delivered(passed=False)
    assert RunRecord.from_json(record.to_json()) == record
    assert RunRecord.from_json({"phase": "submitted", "lease": {"clear_number": 0}}) is not None
    assert RunRecord.from_json({"phase": "something new"}) is None
    assert RunRecord.from_json("submitted") is None
    # A record of the earlier format (lease a dict) is from another lease: a new run, never resumed.
    old = RunRecord.from_json({"phase": "submitted", "instance_id": 7, "lease": {"max_tries": 3}})
    assert decide(old, Facts(lease=3)).action is Action.SUBMIT


def test_repairing_makes_the_failed_instance_ours_again() -> None:
    repaired = SUBMITTED.delivered(passed=False).repairing()
    assert repaired.phase is Phase.SUBMITTED
    assert repaired.instance_id == "7"
    assert decide(repaired, Facts(lease=LEASE)).action is Action.RECONNECT


@pytest.mark.parametrize(
    ("started", "inside"),
    [
        (1_000_000, True),
        (1_000_000 - CLOCK_MARGIN_MS, True),
        (1_000_000 - CLOCK_MARGIN_MS - 1, False),
        (1_005_000 + CLOCK_MARGIN_MS, True),
        (1_005_000 + CLOCK_MARGIN_MS + 1, False),
        (None, False),
        ("not a time", False),
    ],
)
def test_the_posts_own_window(started: object, inside: bool) -> None:
    marker = {"submitted_at": 1_000_000, "answer_lost_at": 1_005_000}
    assert in_window(started, marker) is inside


def test_a_try_that_died_during_the_post_bounds_its_window_by_the_request_timeout() -> None:
    marker = {"submitted_at": 1_000_000, "post_timeout_ms": 60_000}
    assert in_window(1_000_000 + 60_000 + CLOCK_MARGIN_MS, marker)
    assert not in_window(1_000_000 + 60_000 + CLOCK_MARGIN_MS + 1, marker)


def test_exactly_one_candidate_is_adopted_several_fail_naming_them() -> None:
    from airflow.providers.common.compat.sdk import AirflowFailException

    assert the_one_candidate([], "quality instance") is None
    assert the_one_candidate(["5"], "quality instance") == "5"
    with pytest.raises(AirflowFailException, match=r"2 quality instances .*: 5, 6"):
        the_one_candidate(["5", "6"], "quality instance")


def test_a_measured_clock_narrows_the_window_to_its_bounds() -> None:
    """Issue 22 (5): with the Date header's bounds of DataArts' clock minus ours, no 30 s widening."""
    from airflow_provider_dataarts.lifecycle import MEASURED_MARGIN_MS

    marker = {"submitted_at": 1_000_000, "answer_lost_at": 1_002_000, "skew_ms": [4_000, 5_000]}
    assert in_window(1_000_000 + 4_000 - MEASURED_MARGIN_MS, marker)
    assert not in_window(1_000_000 + 4_000 - MEASURED_MARGIN_MS - 1, marker)
    assert in_window(1_002_000 + 5_000 + MEASURED_MARGIN_MS, marker)
    assert not in_window(1_002_000 + 5_000 + MEASURED_MARGIN_MS + 1, marker), "20 s later: not ours"
    assert not in_window(1_002_000 + 20_000, marker)


def test_the_date_header_bounds_the_service_clock() -> None:
    from airflow_provider_dataarts.client.sync import observed_skew

    # Stamped "Thu, 01 Jan 1970 00:16:40 GMT" (1,000 s) by a service whose clock is 2.5 s ahead.
    date = "Thu, 01 Jan 1970 00:16:40 GMT"
    low, high = observed_skew(None, date, sent=997.4, received=997.6) or (0, 0)
    assert low <= 2_500 <= high and high - low <= 1_200
    again = observed_skew((low, high), "Thu, 01 Jan 1970 00:16:41 GMT", sent=998.45, received=998.55)
    assert again is not None and again[0] >= low and again[1] <= high
    assert observed_skew((low, high), None, 1.0, 2.0) == (low, high)
    assert observed_skew(None, "not a date", 1.0, 2.0) is None


def test_a_lost_answer_older_than_the_lists_reach_fails_without_retry() -> None:
    from airflow.providers.common.compat.sdk import AirflowFailException

    from airflow_provider_dataarts.lifecycle import MAX_MARKER_AGE_MS, lost_too_long_ago, too_old

    assert not too_old({"submitted_at": 1_000_000}, 1_000_000 + MAX_MARKER_AGE_MS)
    assert too_old({"submitted_at": 1_000_000}, 1_000_001 + MAX_MARKER_AGE_MS)
    assert too_old({}, 1_000_000), "a record without its window cannot be looked for"
    assert isinstance(lost_too_long_ago("rerun"), AirflowFailException)


def test_one_candidate_while_others_run_the_job_is_named_not_adopted() -> None:
    from airflow.providers.common.compat.sdk import AirflowFailException

    with pytest.raises(AirflowFailException, match=r"others run this job too.*41"):
        the_one_candidate(["42"], "quality instance", others=["41"])
    assert the_one_candidate(["42"], "quality instance", others=[]) == "42"
