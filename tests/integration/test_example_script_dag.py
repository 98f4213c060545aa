"""The script example DAG under dag.test(), deferrable and waiting in the worker."""

from __future__ import annotations

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from tests.integration.dagrun import load_dag, run_dag

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.filterwarnings("ignore")]


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "poke"])
def test_script_rows_are_used_downstream(
    deferrable: bool, emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    dag = load_dag("example_dataarts_script")
    outcome = run_dag(dag, run_script={"deferrable": deferrable, "poll_interval": 0.2})
    assert outcome.states == {"run_script": "success", "revenue_by_region": "success"}
    assert outcome.xcom("revenue_by_region") == {"north": 18234.5, "south": 15880.25, "west": 12011.0}
    instance_id = outcome.xcom("run_script", "instance_id")
    assert emulator.script_instance("daily_orders_sql", instance_id)["status"] == "FINISHED"
    assert emulator.count("POST", "/execute") == 1


def test_a_failing_script_stops_the_downstream_task(emulator: DataArtsEmulator, dataarts_conn: str) -> None:
    dag = load_dag("example_dataarts_script")
    outcome = run_dag(dag, {"script_name": "failing_sql"}, run_script={"poll_interval": 0.2})
    assert outcome.states == {"run_script": "failed", "revenue_by_region": "upstream_failed"}
