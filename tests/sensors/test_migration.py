"""DataArtsMigrationJobSensor under ``dag.test()`` against the emulator: poke, reschedule and deferrable."""

from __future__ import annotations

import threading
import time

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.emulator.migration import CLUSTER_ID
from tests.integration.dagrun import load_dag, run_dag

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.filterwarnings("ignore")]

MODES = {
    "poke": {"deferrable": False},
    "reschedule": {"deferrable": False, "mode": "reschedule"},
    "deferrable": {"deferrable": True},
}


@pytest.mark.parametrize("mode", list(MODES))
def test_waits_for_a_submission_by_id_and_pushes_its_result(
    mode: str, emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    emulator.add_migration_job("fast_job", boot_seconds=0.1, run_seconds=0.5, rows=77)
    submission = emulator.state.migration.start(CLUSTER_ID, "fast_job", None)
    outcome = run_dag(
        load_dag("test_migration_sensor"),
        {"job_name": "fast_job", "submission_id": str(submission.id)},
        wait=MODES[mode],
    )
    assert outcome.states == {"wait": "success"}
    result = outcome.xcom("wait", "migration_result")
    assert result == outcome.xcom("wait")
    assert (result["submission_id"], result["status"], result["rows_written"]) == (
        str(submission.id),
        "SUCCEEDED",
        77,
    )
    assert emulator.count("PUT") == 0, "a sensor never starts or stops anything"


@pytest.mark.parametrize("mode", ["poke", "deferrable"])
def test_without_an_id_waits_for_the_jobs_first_submission_and_fails_with_its_summary(
    mode: str, emulator: DataArtsEmulator, dataarts_conn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.add_migration_job(
        "later_job", boot_seconds=0.0, run_seconds=0.3, outcome="FAILED", error_summary="Disk full on dws."
    )

    def after_the_sensor_looked() -> None:
        deadline = time.time() + 60
        while emulator.count("GET", "/cdm/submissions") == 0 and time.time() < deadline:
            time.sleep(0.05)
        emulator.state.migration.start(CLUSTER_ID, "later_job", None)

    other = threading.Thread(target=after_the_sensor_looked)
    other.start()
    outcome = run_dag(load_dag("test_migration_sensor"), {"job_name": "later_job"}, wait=MODES[mode])
    other.join()
    assert outcome.states == {"wait": "failed"}
    assert outcome.xcom("wait", "migration_result")["error_summary"] == "Disk full on dws."
    assert "is FAILED: Disk full on dws." in capsys.readouterr().out
