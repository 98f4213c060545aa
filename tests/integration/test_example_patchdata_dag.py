"""The PatchData example DAG against the emulator: one DAG run patches the 24 hours of its day."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.emulator import patchdata as emulated
from tests.integration.dagrun import load_dag, run_dag

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.filterwarnings("ignore")]

HOUR_MS = 3_600_000


def test_a_daily_run_patches_every_hour_of_its_data_interval(
    emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    emulated.of(emulator.state.factory).list_lag = 0.2
    fast = [{"name": "extract_orders", "type": "CDMJob", "seconds": 0.1}]
    emulator.add_factory_job("hourly_orders", schedule_seconds=3600, nodes=fast)
    day = datetime(2026, 12, 2, tzinfo=UTC)
    outcome = run_dag(
        load_dag("example_dataarts_patchdata"), logical_date=day, patch_hourly_orders={"poll_interval": 0.2}
    )
    assert outcome.states == {"patch_hourly_orders": "success"}
    result = outcome.xcom("patch_hourly_orders", "patch_data_result")
    start = int(day.timestamp() * 1000) - 24 * HOUR_MS  # a manual run's interval ends at its run_after
    assert [slot["plan_time"] for slot in result["instances"]] == [start + h * HOUR_MS for h in range(24)]
    assert {slot["status"] for slot in result["instances"]} == {"success"}
    (run,) = emulated.of(emulator.state.factory).reports()
    assert (run["body"]["start_date"], run["body"]["end_date"]) == (
        "2026-12-01T00:00:00 +00",
        "2026-12-01T23:59:59 +00",
    )
