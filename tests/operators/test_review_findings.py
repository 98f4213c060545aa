"""
Adversarial review findings (branch wt-review): each test failed on the code before its fix.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.emulator import patchdata as emulated
from tests.integration.dagrun import load_dag, run_dag

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.filterwarnings("ignore")]


def _quick_job(emulator: DataArtsEmulator, name: str = "quick_hourly") -> None:
    emulated.of(emulator.state.factory).list_lag = 0.3
    emulator.add_factory_job(
        name, schedule_seconds=3600, nodes=[{"name": "load", "type": "DWSSQL", "seconds": 0.2}]
    )


def test_a_lost_patch_data_answer_never_adopts_an_older_run_of_the_same_given_name(
    emulator: DataArtsEmulator, connect: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """
    A user's patch_data_name (e.g. templated on ``ds``) exists already from an earlier run (a clear of
    this task, an earlier DAG run). This try's create reaches DataArts, which refuses the duplicate,
    but the answer is lost: the lookup by name finds the *old* run. It was not started by this try,
    so its verdict must not be this task's.
    """
    connect("aksk", not_listed_grace=2)
    _quick_job(emulator)
    old = emulated.of(emulator.state.factory).create(
        {
            "name": "nightly_patch",
            "job_name": "quick_hourly",
            "start_date": "2026-11-01T00:00:00 +00",
            "end_date": "2026-11-01T00:59:59 +00",
            "parallel": 1,
        }
    )
    old.submitted -= 24 * 3600  # yesterday's run of the same name
    emulator.inject("reset", method="POST", path="/supplement-data", when="after")
    outcome = run_dag(
        load_dag("test_patchdata"),
        {},
        patch={
            "patch_data_name": "nightly_patch",
            "retries": 0,
            "retry_delay": timedelta(0),
            "deferrable": False,
        },
    )
    out = capsys.readouterr().out
    assert "Adopting DataArts PatchData run nightly_patch" not in out, "adopted a run it did not start"
    assert outcome.states == {"patch": "failed"}
    assert "PatchData run of that name submitted before it" in out
