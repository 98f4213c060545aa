"""
The lifecycle's edges that depend on Airflow itself, on a real deployment (docs "Retries, clears
and kills"): a trigger that another triggerer took over, a heartbeat-timeout kill, a stop that
DataArts refuses, a deadline that passed while the triggerer was down.
"""

from __future__ import annotations

import signal
import time

import psutil

from tests.system.client import TERMINAL_TI_STATES, AirflowClient, EmulatorClient
from tests.system.deployment import Deployment, wait_until
from tests.system.test_lifecycle import announced
from tests.system.test_production import HOLD, unique

DEFERRED = "jobs_run_deferred"
SYNC = "jobs_run_sync"


def test_a_stalled_triggerer_that_lost_its_trigger_stops_nothing(
    deployment: Deployment, airflow_api: AirflowClient, dataarts_emulator: EmulatorClient
) -> None:
    """
    The first triggerer is paused (SIGSTOP) until a second one takes the trigger over, then resumed:
    Airflow cancels its copy "by user action", and its on_kill finds the task still deferred.
    """
    job = unique("moved_load")
    dataarts_emulator.add_factory_job(job, nodes=HOLD)
    run_id = airflow_api.trigger_dag(DEFERRED, {"job_name": job})
    instance_id = announced(airflow_api, DEFERRED, run_id, "run", "return_value")
    airflow_api.wait_for_task(DEFERRED, run_id, "run", "deferred", 120, fail_states=TERMINAL_TI_STATES)

    def triggerer_id() -> int | None:
        trigger = airflow_api.task_instance(DEFERRED, run_id, "run").get("trigger") or {}
        return trigger.get("triggerer_id")

    owner = wait_until("a triggerer to take the trigger", triggerer_id, timeout=60)
    first = deployment.services["triggerer"]
    second = deployment.add_triggerer()
    try:
        first.signal_group(signal.SIGSTOP)
        try:
            wait_until(
                "the second triggerer to take the trigger over",
                lambda: triggerer_id() not in (None, owner),
                timeout=120,
            )
            time.sleep(3)  # the second triggerer runs it
        finally:
            first.signal_group(signal.SIGCONT)
        time.sleep(10)  # the first triggerer resumes, finds the trigger gone and cancels its copy
        assert dataarts_emulator.job_instance(instance_id)["status"] == "running", "nothing stopped"
        assert airflow_api.task_instance(DEFERRED, run_id, "run")["state"] == "deferred"
        dataarts_emulator.finish_job_instance(instance_id)
        ti = airflow_api.wait_for_task(DEFERRED, run_id, "run", tuple(TERMINAL_TI_STATES), 120)
    finally:
        deployment.remove_service(second.name)
    assert (ti["state"], ti["try_number"]) == ("success", 1)
    assert [i["instanceId"] for i in dataarts_emulator.job_instances(job)] == [instance_id]


def test_a_heartbeat_timeout_kill_leaves_the_run_and_the_retry_reconnects(
    airflow_api: AirflowClient, dataarts_emulator: EmulatorClient
) -> None:
    """
    The task's supervisor is paused (SIGSTOP) past ``task_instance_heartbeat_timeout``: the
    scheduler sets the try up for retry; resumed (SIGCONT), the supervisor's heartbeat gets 409 and
    it SIGTERMs the task, whose on_kill must not take that for a user's kill.
    """
    job = unique("frozen_load")
    dataarts_emulator.add_factory_job(job, nodes=HOLD)
    run_id = airflow_api.trigger_dag(SYNC, {"job_name": job})
    instance_id = announced(airflow_api, SYNC, run_id, "run", "return_value")
    found = wait_until(
        "the task's processes", lambda: airflow_api.task_processes(SYNC, run_id, "run"), timeout=60
    )
    supervisor, task = found["supervisor"], found["task"]
    supervisor.send_signal(signal.SIGSTOP)
    try:
        wait_until(
            "the scheduler to take the try for lost",
            lambda: airflow_api.task_instance(SYNC, run_id, "run")["state"] != "running",
            timeout=120,
        )
    finally:
        supervisor.send_signal(signal.SIGCONT)
    psutil.wait_procs([task], timeout=60)
    assert dataarts_emulator.job_instance(instance_id)["status"] == "running", "the kill stopped nothing"
    first_try = airflow_api.log(SYNC, run_id, "run", 1)
    airflow_api.wait_for_task(SYNC, run_id, "run", "running", 120, try_number=2)
    dataarts_emulator.finish_job_instance(instance_id)
    ti = airflow_api.wait_for_task(SYNC, run_id, "run", tuple(TERMINAL_TI_STATES), 120)
    assert (ti["state"], ti["try_number"]) == ("success", 2)
    assert [i["instanceId"] for i in dataarts_emulator.job_instances(job)] == [instance_id]
    assert f"Reconnecting to DataArts job instance {instance_id}" in airflow_api.log(SYNC, run_id, "run", 2)
    assert "Stopped DataArts" not in first_try


def test_a_stop_dataarts_refuses_never_leads_to_a_second_run(
    airflow_api: AirflowClient, dataarts_emulator: EmulatorClient
) -> None:
    """``execution_timeout`` passes (in a worker, and deferred) while every stop gets 503: the retry waits."""
    dags = {"sync": "production_job_execution_timeout", "deferred": "edges_job_execution_timeout_deferred"}
    jobs = {way: unique(f"unstoppable_{way}") for way in dags}
    for job in jobs.values():
        dataarts_emulator.add_factory_job(job, nodes=HOLD)
    dataarts_emulator.inject("status", status=503, method="POST", path="/stop", count=100_000)
    try:
        runs = {way: airflow_api.trigger_dag(dag, {"job_name": jobs[way]}) for way, dag in dags.items()}
        first = {
            way: announced(airflow_api, dags[way], run, "run", "return_value") for way, run in runs.items()
        }
        for way, run_id in runs.items():
            airflow_api.wait_for_task(dags[way], run_id, "run", ("running", "deferred"), 120, try_number=2)
        assert dataarts_emulator.count("POST", "/stop") >= 2, "each try asked to stop its run"
    finally:
        dataarts_emulator.clear_faults()
    for way, run_id in runs.items():
        dataarts_emulator.finish_job_instance(first[way])
        ti = airflow_api.wait_for_task(dags[way], run_id, "run", tuple(TERMINAL_TI_STATES), 120)
        assert (ti["state"], ti["try_number"]) == ("success", 2), way
        assert [i["instanceId"] for i in dataarts_emulator.job_instances(jobs[way])] == [first[way]], way


def test_a_deadline_passed_while_the_triggerer_was_down_reports_the_real_verdict(
    deployment: Deployment, airflow_api: AirflowClient, dataarts_emulator: EmulatorClient
) -> None:
    """The instance finished in time; the trigger, started after the ``timeout``, looks before it gives up."""
    dag = "edges_job_deadline_deferred"
    job = unique("late_load")
    dataarts_emulator.add_factory_job(job, nodes=HOLD)
    run_id = airflow_api.trigger_dag(dag, {"job_name": job})
    instance_id = announced(airflow_api, dag, run_id, "run", "return_value")
    airflow_api.wait_for_task(dag, run_id, "run", "deferred", 120, fail_states=TERMINAL_TI_STATES)
    started = airflow_api.task_instance(dag, run_id, "run")["start_date"]
    stopped_at = deployment.stop_triggerer()
    dataarts_emulator.finish_job_instance(instance_id)
    from datetime import datetime

    deadline = datetime.fromisoformat(started).timestamp() + 25
    time.sleep(max(0.0, deadline + 2 - time.time()))
    deployment.start_triggerer(stopped_at)
    ti = airflow_api.wait_for_task(dag, run_id, "run", tuple(TERMINAL_TI_STATES), 120)
    assert (ti["state"], ti["try_number"]) == ("success", 1)
    assert airflow_api.xcom(dag, run_id, "run", "job_result")["status"] == "success"
