"""
Issue 23, finding 10: ``dataarts_conn_id`` is templated on every operator and sensor (a DAG picks
the connection per environment), and the triggers get the rendered id.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.operators.job import DataArtsRunJobOperator
from airflow_provider_dataarts.operators.quality import RerunQualityJobOperator
from airflow_provider_dataarts.operators.script import DataArtsExecuteScriptOperator
from airflow_provider_dataarts.sensors.job import DataArtsJobInstanceSensor
from airflow_provider_dataarts.sensors.quality import DataArtsQualityInstanceSensor
from airflow_provider_dataarts.sensors.script import DataArtsScriptInstanceSensor
from tests.integration.dagrun import load_dag, run_dag

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.filterwarnings("ignore")]

PER_ENVIRONMENT = "{{ 'dataarts_' ~ params.get('env', 'staging') }}"


@pytest.mark.parametrize(
    "kind",
    [
        DataArtsExecuteScriptOperator,
        RerunQualityJobOperator,
        DataArtsRunJobOperator,
        DataArtsQualityInstanceSensor,
        DataArtsScriptInstanceSensor,
        DataArtsJobInstanceSensor,
    ],
)
def test_every_operator_and_sensor_templates_its_connection(kind: type) -> None:
    assert "dataarts_conn_id" in kind.template_fields


@pytest.mark.parametrize("deferrable", [False, True])
def test_a_script_runs_on_the_rendered_connection(
    deferrable: bool, connect: Callable[..., str], emulator: DataArtsEmulator
) -> None:
    connect("aksk", conn_id="dataarts_staging")  # and no dataarts_default
    outcome = run_dag(
        load_dag("test_script"),
        {"script_name": "daily_orders_sql"},
        run={"dataarts_conn_id": PER_ENVIRONMENT, "deferrable": deferrable},
    )
    assert outcome.states == {"run": "success"}
    assert outcome.xcom("run")["status"] == "FINISHED"


def test_a_deferred_sensor_waits_on_the_rendered_connection(
    connect: Callable[..., str], emulator: DataArtsEmulator
) -> None:
    from airflow_provider_dataarts.hooks.dataarts import DataArtsHook

    connect("aksk", conn_id="dataarts_staging")
    instance_id = DataArtsHook("dataarts_staging").execute_script("daily_orders_sql")
    outcome = run_dag(
        load_dag("test_script_sensor"),
        {"script_name": "daily_orders_sql", "instance_id": instance_id},
        wait={"dataarts_conn_id": PER_ENVIRONMENT, "deferrable": True},
    )
    assert outcome.states == {"wait": "success"}
