"""
README "Retries, clears and kills", row by row, on a real Airflow (api-server, scheduler,
dag-processor, triggerer, LocalExecutor) driven through its REST API as a user would, against the
emulator. Scenarios of one row run side by side to keep the suite short.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.support import connection_json
from tests.system.client import TERMINAL_TI_STATES, AirflowClient, EmulatorClient
from tests.system.deployment import Deployment, wait_until

QUALITY = "lifecycle_quality_{}"
SCRIPT = "lifecycle_script_{}"
QUALITY_SENSOR = "lifecycle_quality_sensor_{}"
SCRIPT_SENSOR = "lifecycle_script_sensor_{}"


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def start_outside_airflow(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """``start(kind, name)``: start a quality job or a script in DataArts directly, as someone else would."""
    from airflow_provider_dataarts.hooks.dataarts import DataArtsHook

    monkeypatch.setenv("AIRFLOW_CONN_DATAARTS_OUTSIDE", connection_json(deployment.emulator_url, "aksk"))
    hook = DataArtsHook("dataarts_outside")

    def start(kind: str, name: str) -> str:
        if kind == "quality":
            return hook.rerun_quality_job(hook.resolve_job_id(name))
        return hook.execute_script(name, {})

    return start


def announced(api: AirflowClient, dag_id: str, run_id: str, task_id: str, key: str) -> str:
    """Wait until the task has pushed its instance id (it is stored before it is announced)."""
    value = wait_until(
        f"{dag_id}/{task_id} to announce its instance",
        lambda: _xcom_or_none(api, dag_id, run_id, task_id, key),
        timeout=90,
    )
    return str(value)


def _xcom_or_none(api: AirflowClient, dag_id: str, run_id: str, task_id: str, key: str) -> Any:
    try:
        return api.xcom(dag_id, run_id, task_id, key)
    except AssertionError:
        return None


def test_a_dead_worker_is_retried_and_reconnects(
    airflow_api: AirflowClient, dataarts_emulator: EmulatorClient, start_outside_airflow: Callable[..., str]
) -> None:
    """Row 1: the worker dies (SIGKILL) while waiting; the retry waits for the same instance."""
    job, script, watched_job = unique("crash_job"), unique("crash_script"), unique("crash_watched")
    dataarts_emulator.add_quality_job(job, run_seconds=28)
    dataarts_emulator.add_quality_job(watched_job, run_seconds=28)
    dataarts_emulator.add_script(script, run_seconds=28, schema=[{"n": "int"}], rows=[[1]])
    watched = start_outside_airflow("quality", watched_job)
    quality_run = airflow_api.trigger_dag(QUALITY.format("sync"), {"job_name": job})
    script_run = airflow_api.trigger_dag(SCRIPT.format("sync"), {"script_name": script})
    sensor_run = airflow_api.trigger_dag(QUALITY_SENSOR.format("poke"), {"instance_id": watched})
    instance_id = announced(airflow_api, QUALITY.format("sync"), quality_run, "gate", "return_value")
    script_instance = announced(airflow_api, SCRIPT.format("sync"), script_run, "run", "instance_id")

    airflow_api.wait_for_task(QUALITY_SENSOR.format("poke"), sensor_run, "wait", "running", 90)

    airflow_api.kill_task_process(QUALITY.format("sync"), quality_run, "gate")
    airflow_api.kill_task_process(SCRIPT.format("sync"), script_run, "run")
    airflow_api.kill_task_process(QUALITY_SENSOR.format("poke"), sensor_run, "wait")

    gate = airflow_api.wait_for_task(
        QUALITY.format("sync"), quality_run, "gate", "success", 150, try_number=2
    )
    run = airflow_api.wait_for_task(SCRIPT.format("sync"), script_run, "run", "success", 150, try_number=2)
    assert gate["try_number"] == run["try_number"] == 2
    assert [i["id"] for i in dataarts_emulator.instances(job)] == [instance_id], "no second rerun"
    assert [i["instance_id"] for i in dataarts_emulator.script_instances(script)] == [script_instance]
    result = airflow_api.xcom(QUALITY.format("sync"), quality_run, "gate", "quality_result")
    assert result["instance_id"] == instance_id
    assert airflow_api.xcom(SCRIPT.format("sync"), script_run, "run")["instance_id"] == script_instance
    log = airflow_api.log(QUALITY.format("sync"), quality_run, "gate", 2)
    assert f"Reconnecting to DataArts quality instance {instance_id}" in log
    sensor = airflow_api.wait_for_task(QUALITY_SENSOR.format("poke"), sensor_run, "wait", "success", 150)
    assert sensor["try_number"] == 2
    result = airflow_api.xcom(QUALITY_SENSOR.format("poke"), sensor_run, "wait", "quality_result")
    assert result["instance_id"] == watched
    assert len(dataarts_emulator.instances(watched_job)) == 1


def test_a_clear_after_a_verdict_runs_again(
    airflow_api: AirflowClient, dataarts_emulator: EmulatorClient, start_outside_airflow: Callable[..., str]
) -> None:
    """
    Row 2: a finished gate is cleared after the data changed (the job now ends ALARMING): the
    cleared try reruns the job and reports ALARMING, not the old SUCCESS. Scripts execute again;
    a sensor waits again for the same instance.
    """
    jobs = {way: unique(f"clear_{way}") for way in ("sync", "deferred")}
    for job in jobs.values():
        dataarts_emulator.add_quality_job(job, run_seconds=1)
    script = unique("clear_script")
    dataarts_emulator.add_script(script, run_seconds=1, schema=[{"n": "int"}], rows=[[1]])
    watched_job = unique("watched")
    dataarts_emulator.add_quality_job(watched_job, run_seconds=1)
    watched = start_outside_airflow("quality", watched_job)

    runs = {way: airflow_api.trigger_dag(QUALITY.format(way), {"job_name": job}) for way, job in jobs.items()}
    script_run = airflow_api.trigger_dag(SCRIPT.format("sync"), {"script_name": script})
    sensor_run = airflow_api.trigger_dag(QUALITY_SENSOR.format("poke"), {"instance_id": watched})
    first: dict[str, str] = {}
    for way, run_id in runs.items():
        airflow_api.wait_for_task(
            QUALITY.format(way), run_id, "gate", "success", 120, fail_states=("failed",)
        )
        first[way] = airflow_api.xcom(QUALITY.format(way), run_id, "gate", "quality_result")["instance_id"]
    airflow_api.wait_for_task(
        SCRIPT.format("sync"), script_run, "run", "success", 120, fail_states=("failed",)
    )
    airflow_api.wait_for_task(QUALITY_SENSOR.format("poke"), sensor_run, "wait", "success", 120)

    for job in jobs.values():
        dataarts_emulator.add_quality_job(job, run_seconds=1, outcome="ALARMING", alarming_sub_rules=1)
    for way, run_id in runs.items():
        airflow_api.clear_task(QUALITY.format(way), run_id, "gate")
    airflow_api.clear_task(SCRIPT.format("sync"), script_run, "run")
    airflow_api.clear_task(QUALITY_SENSOR.format("poke"), sensor_run, "wait")

    for way, run_id in runs.items():
        cleared = airflow_api.wait_for_task(QUALITY.format(way), run_id, "gate", "failed", 120, try_number=2)
        assert cleared["try_number"] == 2
        result = airflow_api.xcom(QUALITY.format(way), run_id, "gate", "quality_result")
        assert result["run_status"] == "ALARMING", f"{way}: the cleared gate reported {result['run_status']}"
        ids = [i["id"] for i in dataarts_emulator.instances(jobs[way])]
        assert ids == [first[way], result["instance_id"]], f"{way}: one new rerun"
    airflow_api.wait_for_task(SCRIPT.format("sync"), script_run, "run", "success", 120, try_number=2)
    assert len(dataarts_emulator.script_instances(script)) == 2, "the cleared script ran again"
    airflow_api.wait_for_task(QUALITY_SENSOR.format("poke"), sensor_run, "wait", "success", 120, try_number=2)
    assert (
        airflow_api.xcom(QUALITY_SENSOR.format("poke"), sensor_run, "wait", "quality_result")["instance_id"]
        == watched
    )
    assert len(dataarts_emulator.instances(watched_job)) == 1, "a sensor starts nothing"


def test_a_lost_answer_is_adopted_or_fails_without_retry(
    airflow_api: AirflowClient, dataarts_emulator: EmulatorClient
) -> None:
    """Row 3: the POST reached DataArts but its answer was lost (connection reset after serving it)."""
    job, script = unique("lost_job"), unique("lost_script")
    dataarts_emulator.add_quality_job(job, run_seconds=2)
    dataarts_emulator.add_script(script, run_seconds=2, schema=[{"n": "int"}], rows=[[1]])
    dataarts_emulator.inject("reset", method="POST", path="/instances/restart", when="after")
    dataarts_emulator.inject("reset", method="POST", path=f"/scripts/{script}/execute", when="after")
    quality_run = airflow_api.trigger_dag(QUALITY.format("deferred"), {"job_name": job})
    script_run = airflow_api.trigger_dag(SCRIPT.format("sync"), {"script_name": script})

    gate = airflow_api.wait_for_task(
        QUALITY.format("deferred"), quality_run, "gate", tuple(TERMINAL_TI_STATES), 120
    )
    run = airflow_api.wait_for_task(SCRIPT.format("sync"), script_run, "run", tuple(TERMINAL_TI_STATES), 120)

    (instance,) = dataarts_emulator.instances(job)
    assert gate["state"] == "success"
    assert airflow_api.xcom(QUALITY.format("deferred"), quality_run, "gate") == instance["id"]
    assert "Adopting DataArts quality instance" in airflow_api.log(
        QUALITY.format("deferred"), quality_run, "gate"
    )
    assert (run["state"], run["try_number"]) == ("failed", 1), "failed without retry"
    assert len(dataarts_emulator.script_instances(script)) == 1, "executed once"
    assert "The script may be running" in airflow_api.log(SCRIPT.format("sync"), script_run, "run")


def test_a_user_who_kills_a_waiting_task_stops_what_it_started_never_what_it_watches(
    airflow_api: AirflowClient, dataarts_emulator: EmulatorClient, start_outside_airflow: Callable[..., str]
) -> None:
    """Row 4: clear, mark failed and mark success while waiting, in a worker and deferred."""
    long_job = {name: unique(name) for name in ("clear_sync", "fail_deferred", "watched")}
    for job in long_job.values():
        dataarts_emulator.add_quality_job(job, run_seconds=600)
    scripts = {name: unique(name) for name in ("success_deferred", "fail_sync", "watched_script")}
    for script in scripts.values():
        dataarts_emulator.add_script(script, run_seconds=600, schema=[{"n": "int"}], rows=[[1]])
    watched = start_outside_airflow("quality", long_job["watched"])
    watched_script = start_outside_airflow("script", scripts["watched_script"])

    cases = {
        "clear_sync": (QUALITY.format("sync"), {"job_name": long_job["clear_sync"]}, "gate", "return_value"),
        "fail_deferred": (
            QUALITY.format("deferred"),
            {"job_name": long_job["fail_deferred"]},
            "gate",
            "return_value",
        ),
        "success_deferred": (
            SCRIPT.format("deferred"),
            {"script_name": scripts["success_deferred"]},
            "run",
            "instance_id",
        ),
        "fail_sync": (SCRIPT.format("sync"), {"script_name": scripts["fail_sync"]}, "run", "instance_id"),
        "sensor_deferred": (QUALITY_SENSOR.format("deferred"), {"instance_id": watched}, "wait", None),
        "sensor_poke": (QUALITY_SENSOR.format("poke"), {"instance_id": watched}, "wait", None),
        "script_sensor_deferred": (
            SCRIPT_SENSOR.format("deferred"),
            {"script_name": scripts["watched_script"], "instance_id": watched_script},
            "wait",
            None,
        ),
    }
    runs = {name: airflow_api.trigger_dag(dag_id, conf) for name, (dag_id, conf, _, _) in cases.items()}
    started: dict[str, str] = {}
    for name, (dag_id, _, task_id, key) in cases.items():
        waiting = "deferred" if "deferred" in name else "running"
        airflow_api.wait_for_task(dag_id, runs[name], task_id, waiting, 120, fail_states=TERMINAL_TI_STATES)
        if key is not None:
            started[name] = announced(airflow_api, dag_id, runs[name], task_id, key)
    if "sensor_poke" in runs:  # a poke has been made before it is killed
        time.sleep(2)

    dag_id, _, task_id, _ = cases["clear_sync"]
    dataarts_emulator.add_quality_job(long_job["clear_sync"], run_seconds=1)  # the new run ends soon
    airflow_api.clear_task(dag_id, runs["clear_sync"], task_id)
    for name in ("fail_deferred", "fail_sync", "sensor_deferred", "sensor_poke"):
        dag_id, _, task_id, _ = cases[name]
        airflow_api.mark_failed(dag_id, runs[name], task_id)
    dag_id, _, task_id, _ = cases["success_deferred"]
    airflow_api.mark_success(dag_id, runs["success_deferred"], task_id)
    dag_id, _, task_id, _ = cases["script_sensor_deferred"]
    airflow_api.clear_task(dag_id, runs["script_sensor_deferred"], task_id)

    def stopped_quality(name: str) -> bool:
        return bool(dataarts_emulator.instance(started[name])["stopped"])

    def stopped_script(name: str) -> bool:
        return bool(dataarts_emulator.script_instance(scripts[name], started[name])["stopped"])

    wait_until(
        "the cleared worker's instance to be stopped", lambda: stopped_quality("clear_sync"), timeout=60
    )
    wait_until(
        "the deferred rerun's instance to be stopped", lambda: stopped_quality("fail_deferred"), timeout=60
    )
    wait_until("the deferred script to be stopped", lambda: stopped_script("success_deferred"), timeout=60)
    wait_until("the worker's script to be stopped", lambda: stopped_script("fail_sync"), timeout=60)

    dag_id, _, task_id, _ = cases["clear_sync"]
    rerun = airflow_api.wait_for_task(dag_id, runs["clear_sync"], task_id, "success", 120, try_number=2)
    assert rerun["try_number"] == 2
    first, second = (i["id"] for i in dataarts_emulator.instances(long_job["clear_sync"]))
    assert first == started["clear_sync"] and second != first, "the clear started a new run"
    for name, state in (
        ("fail_deferred", "failed"),
        ("fail_sync", "failed"),
        ("success_deferred", "success"),
    ):
        dag_id, _, task_id, _ = cases[name]
        assert airflow_api.task_instance(dag_id, runs[name], task_id)["state"] == state

    # The cleared script sensor waits again; mark it done so it leaves the triggerer.
    dag_id, _, task_id, _ = cases["script_sensor_deferred"]
    airflow_api.wait_for_task(dag_id, runs["script_sensor_deferred"], task_id, "deferred", 120, try_number=2)
    airflow_api.mark_success(dag_id, runs["script_sensor_deferred"], task_id)
    time.sleep(5)  # what a wrongly stopping sensor would have done by now
    assert not dataarts_emulator.instance(watched)["stopped"], "a quality sensor only watches"
    assert not dataarts_emulator.script_instance(scripts["watched_script"], watched_script)["stopped"]
    assert dataarts_emulator.instance(watched)["run_status"] == "RUNNING"


def test_the_timeout_ends_the_wait_even_inside_retries(
    airflow_api: AirflowClient, dataarts_emulator: EmulatorClient, start_outside_airflow: Callable[..., str]
) -> None:
    """
    Row 5: every check is throttled with Retry-After 30 s; an operator fails at its 4 s timeout,
    a sensor with soft_fail skips at its 6 s timeout.
    """
    jobs = {way: unique(f"timeout_{way}") for way in ("sync", "deferred")}
    for job in [*jobs.values(), "timeout_watched"]:
        dataarts_emulator.add_quality_job(job, run_seconds=600)
    watched = start_outside_airflow("quality", "timeout_watched")
    sensor_runs = {
        way: airflow_api.trigger_dag(f"lifecycle_quality_sensor_timeout_{way}", {"instance_id": watched})
        for way in ("poke", "deferred")
    }
    runs = {
        way: airflow_api.trigger_dag(f"lifecycle_quality_timeout_{way}", {"job_name": job})
        for way, job in jobs.items()
    }
    for way, run_id in runs.items():
        announced(airflow_api, f"lifecycle_quality_timeout_{way}", run_id, "gate", "return_value")
    dataarts_emulator.inject(
        "status", status=429, retry_after=30, method="GET", path="/quality/instances", count=1000
    )
    try:
        for way, run_id in runs.items():
            ti = airflow_api.wait_for_task(
                f"lifecycle_quality_timeout_{way}", run_id, "gate", tuple(TERMINAL_TI_STATES), 90
            )
            assert ti["state"] == "failed"
            assert ti["try_number"] == 1, "a timeout is not retried"
            assert ti["duration"] < 20, f"{way}: the 4 s timeout took {ti['duration']:.0f} s"
        for way, run_id in sensor_runs.items():
            dag_id = f"lifecycle_quality_sensor_timeout_{way}"
            ti = airflow_api.wait_for_task(dag_id, run_id, "wait", tuple(TERMINAL_TI_STATES), 90)
            assert ti["state"] == "skipped", f"{way}: soft_fail skips at the deadline"
            assert ti["duration"] < 25, f"{way}: the 6 s timeout took {ti['duration']:.0f} s"
    finally:
        dataarts_emulator.clear_faults()


def test_a_triggerer_restart_keeps_the_wait_and_stops_nothing(
    deployment: Deployment, airflow_api: AirflowClient, dataarts_emulator: EmulatorClient
) -> None:
    """A restart is not a kill: the trigger is re-created, the instance keeps running, one rerun."""
    job = unique("restart_job")
    dataarts_emulator.add_quality_job(job, run_seconds=18)
    run_id = airflow_api.trigger_dag(QUALITY.format("deferred"), {"job_name": job})
    airflow_api.wait_for_task(
        QUALITY.format("deferred"), run_id, "gate", "deferred", 120, fail_states=TERMINAL_TI_STATES
    )

    airflow_api.restart_triggerer()

    done = airflow_api.wait_for_task(
        QUALITY.format("deferred"), run_id, "gate", "success", 150, fail_states=("failed",)
    )
    assert done["try_number"] == 1
    (instance,) = dataarts_emulator.instances(job)
    assert not instance["stopped"]


def test_the_not_listed_grace_survives_reschedules(
    airflow_api: AirflowClient, deployment: Deployment
) -> None:
    """
    Reschedule mode runs each poke in a new process: the grace for an instance missing from the
    list (3 s on this connection) is kept in task_state_store, so a wrong id fails soon after it,
    not at the sensor's 300 s timeout.
    """
    dag_id = "lifecycle_quality_sensor_grace"
    for _ in range(3):  # a run the scheduler failed on Airflow's own reschedule race is run again
        run_id = airflow_api.trigger_dag(dag_id, {"instance_id": "1012386207306600449"})
        ti = airflow_api.wait_for_task(dag_id, run_id, "wait", ("failed", "success"), 120)
        if not deployment.failed_by_stale_executor_event(ti["id"]):
            break
    assert ti["state"] == "failed"

    # Several pokes, each its own process, saw it missing before the 3 s grace ran out. (The
    # failing poke's own lines do not always reach the log API; its state is what counts.)
    log = airflow_api.log(dag_id, run_id, "wait")
    assert log.count("is not listed yet") >= 2, log[-3000:]
