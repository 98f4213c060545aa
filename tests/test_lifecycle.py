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
