"""What each DataArts Migration (CDM) submission status means for a task (DESIGN "DataArts Migration")."""

from __future__ import annotations

import pytest

from airflow_provider_dataarts.statuses import Verdict, is_migration_terminal, migration_verdict


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        ("SUCCEEDED", Verdict.SUCCESS),
        ("FAILED", Verdict.FAIL),
        ("FAILURE_ON_SUBMIT", Verdict.FAIL),
        ("NEVER_EXECUTED", Verdict.FAIL),
        ("BOOTING", Verdict.WAIT),
        ("RUNNING", Verdict.WAIT),
        ("UNKNOWN", Verdict.WAIT),
        ("PENDING", Verdict.WAIT),  # a value this provider does not know keeps waiting
        (None, Verdict.WAIT),
        ("succeeded", Verdict.SUCCESS),
    ],
)
def test_each_status_and_its_verdict(status: str | None, verdict: Verdict) -> None:
    assert migration_verdict(status) is verdict
    assert is_migration_terminal(status) is (verdict is not Verdict.WAIT)
