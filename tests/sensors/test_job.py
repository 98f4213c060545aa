"""DataArtsJobInstanceSensor under ``dag.test()`` against the emulator, in poke and deferrable mode."""

from __future__ import annotations

import threading
import time

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from tests.integration.dagrun import load_dag, run_dag

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.filterwarnings("ignore")]

MODES = {"poke": {"deferrable": False}, "deferrable": {"deferrable": True}}
NODES = [
    {"name": "extract", "type": "CDMJob", "seconds": 0.2},
    {"name": "load", "type": "DWSSQL", "seconds": 0.2},
]


def last_hour_ms() -> int:
    return int(time.time() // 3600 * 3600 * 1000)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("plan_time", ["epoch", "iso"])
def test_waits_for_the_scheduled_instance_at_a_plan_time(
    mode: str, plan_time: str, emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    plan = last_hour_ms()
    given = (
        str(plan)
        if plan_time == "epoch"
        else time.strftime("%Y-%m-%dT%H:00:00+00:00", time.gmtime(plan / 1000))
    )
    outcome = run_dag(
        load_dag("test_job_sensor"), {"job_name": "hourly_orders", "plan_time": given}, wait=MODES[mode]
    )
    assert outcome.states == {"wait": "success"}
    (instance,) = [i for i in emulator.job_instances("hourly_orders") if i["planTime"] == plan]
    result = outcome.xcom("wait", "job_result")
    assert result == outcome.xcom("wait")
    assert (result["instance_id"], result["plan_time"], result["status"]) == (
        instance["instanceId"],
        plan,
        "success",
    )
    assert emulator.count("POST") == 0, "a sensor never starts or stops anything"


@pytest.mark.parametrize("mode", list(MODES))
def test_an_instance_that_appears_after_the_sensor_started_is_waited_for(
    mode: str, emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    emulator.add_factory_job("nightly", nodes=NODES)
    plan = int(time.time() * 1000) + 86_400_000

    def after_the_sensor_looked() -> None:
        deadline = time.time() + 60
        while emulator.count("GET", "/jobs/instances/detail") < 2 and time.time() < deadline:
            time.sleep(0.02)
        emulator.schedule_job_instance("nightly", plan)

    later = threading.Thread(target=after_the_sensor_looked)
    later.start()
    outcome = run_dag(
        load_dag("test_job_sensor"), {"job_name": "nightly", "plan_time": str(plan)}, wait=MODES[mode]
    )
    later.join()
    assert outcome.states == {"wait": "success"}
    assert emulator.count("GET", "/jobs/instances/detail") >= 3, "looked before it was there, then found it"
    (instance,) = emulator.job_instances("nightly")
    assert outcome.xcom("wait", "job_result")["instance_id"] == instance["instanceId"]


@pytest.mark.parametrize("mode", list(MODES))
def test_a_failed_instance_fails_without_retry_and_is_not_stopped(
    mode: str, emulator: DataArtsEmulator, dataarts_conn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.add_factory_job("broken", nodes=NODES, outcome="fail_at:1")
    instance = emulator.state.factory.run_immediate("broken", {})
    outcome = run_dag(
        load_dag("test_job_instance_sensor"),
        {"job_name": "broken", "instance_id": str(instance.id)},
        wait={"retries": 2, **MODES[mode]},
    )
    assert outcome.states == {"wait": "failed"}
    assert outcome.tries["wait"] == 1
    assert outcome.xcom("wait", "job_result")["status"] == "fail"
    assert "failed nodes: extract" in capsys.readouterr().out


def test_a_skipped_instance_skips_the_sensor(emulator: DataArtsEmulator, dataarts_conn: str) -> None:
    instance = emulator.state.factory.run_immediate("daily_orders", {})
    emulator.state.factory.set_status(str(instance.id), "skip-by-depend")
    outcome = run_dag(
        load_dag("test_job_instance_sensor"), {"job_name": "daily_orders", "instance_id": str(instance.id)}
    )
    assert outcome.states == {"wait": "skipped"}


@pytest.mark.parametrize("mode", list(MODES))
def test_a_plan_time_that_cannot_be_read_fails_before_any_request(
    mode: str, emulator: DataArtsEmulator, dataarts_conn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = run_dag(
        load_dag("test_job_sensor"),
        {"job_name": "hourly_orders", "plan_time": "yesterday-ish"},
        wait=MODES[mode],
    )
    assert outcome.states == {"wait": "failed"}
    assert "plan_time must be a time" in capsys.readouterr().out
    assert emulator.requests == []


def test_the_sensor_needs_exactly_one_of_instance_id_and_plan_time() -> None:
    from airflow_provider_dataarts.sensors.job import DataArtsJobInstanceSensor

    with pytest.raises(ValueError, match="exactly one of instance_id and plan_time"):
        DataArtsJobInstanceSensor(task_id="w", job_name="j")
    with pytest.raises(ValueError, match="exactly one of instance_id and plan_time"):
        DataArtsJobInstanceSensor(task_id="w", job_name="j", instance_id="1", plan_time=1)
