"""Review finding: a migration sensor's refused argument fails without retry, as every other sensor's."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from tests.integration.dagrun import load_dag, run_dag

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.filterwarnings("ignore")]


def test_an_empty_job_name_fails_the_migration_sensor_once_naming_it(
    emulator: DataArtsEmulator, dataarts_conn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = run_dag(
        load_dag("test_migration_sensor"),
        {"job_name": ""},
        wait={"retries": 2, "retry_delay": timedelta(0), "deferrable": False},
    )
    assert (outcome.states, outcome.tries) == ({"wait": "failed"}, {"wait": 1}), "retried"
    assert "job_name must not be empty" in capsys.readouterr().out
    assert emulator.count("GET") == 0
