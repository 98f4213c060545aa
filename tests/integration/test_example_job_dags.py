"""The Factory job example DAGs against the emulator, with and without a logical date."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from tests.integration.dagrun import load_dag, run_dag

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.filterwarnings("ignore")]

FAST_NODES = [
    {"name": "extract_orders", "type": "CDMJob", "seconds": 0.3},
    {"name": "load_dws", "type": "DWSSQL", "seconds": 0.3},
]


@pytest.mark.parametrize("logical", [True, False], ids=["logical-date", "no-logical-date"])
def test_the_job_then_quality_pipeline(logical: bool, emulator: DataArtsEmulator, dataarts_conn: str) -> None:
    emulator.add_factory_job("daily_orders", nodes=FAST_NODES)
    when = datetime(2026, 11, 30, 6, tzinfo=UTC)
    outcome = run_dag(
        load_dag("example_dataarts_job"),
        logical_date=when if logical else None,
        without_logical_date=not logical,
        load_orders={"poll_interval": 0.2},
        check_orders={"poll_interval": 0.2},
    )
    assert outcome.states == {"load_orders": "success", "check_orders": "success", "publish": "success"}
    (instance,) = emulator.job_instances("daily_orders")[-1:]
    day = (when if logical else outcome.run_after).strftime("%Y-%m-%d")
    assert instance["params"] == {"day": day, "region": "north"}
    published = outcome.xcom("publish")
    assert published == {"job_instance": instance["instanceId"], "rows_loaded": 2000, "quality": "SUCCESS"}


@pytest.mark.parametrize("logical", [True, False], ids=["logical-date", "no-logical-date"])
def test_the_wait_on_a_scheduled_job(logical: bool, emulator: DataArtsEmulator, dataarts_conn: str) -> None:
    when = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    outcome = run_dag(
        load_dag("example_dataarts_job_sensor"),
        logical_date=when if logical else None,
        without_logical_date=not logical,
        wait_for_hourly_orders={"poke_interval": 0.2},
    )
    assert outcome.states == {"wait_for_hourly_orders": "success", "downstream": "success"}
    result = outcome.xcom("wait_for_hourly_orders", "job_result")
    assert result["job_name"] == "hourly_orders" and result["status"] == "success"
    if logical:  # the data interval end of a @daily run: a midnight, so on the hour
        assert result["plan_time"] % 3_600_000 == 0
    else:
        run_hour = outcome.run_after.replace(minute=0, second=0, microsecond=0)
        assert result["plan_time"] == int(run_hour.timestamp() * 1000)
    assert outcome.xcom("downstream") == 2000
