"""
What production does to a waiting task, on a real Airflow driven through its REST API (or a signal
to the task's processes, as Kubernetes sends them): docs "Retries, clears and kills", the rows that
issue "the gate stays right under what Kubernetes and Airflow do to tasks" added.
"""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Callable

import psutil
import pytest

from tests.support import connection_json
from tests.system.client import TERMINAL_TI_STATES, AirflowClient, EmulatorClient
from tests.system.deployment import Deployment, wait_until
from tests.system.test_lifecycle import QUALITY, SCRIPT, announced

DONE = tuple(TERMINAL_TI_STATES)


HOLD = [{"name": "long_load", "type": "DWSSQL", "seconds": 3600}]
FAST = [{"name": "load", "type": "DWSSQL", "seconds": 1}]


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def start_outside_airflow(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], str]:
    """``start(job_name)``: rerun a quality job in DataArts directly, as a console user would."""
    from airflow_provider_dataarts.hooks.dataarts import DataArtsHook

    monkeypatch.setenv("AIRFLOW_CONN_DATAARTS_OUTSIDE", connection_json(deployment.emulator_url, "aksk"))
    hook = DataArtsHook("dataarts_outside")
    return lambda name: hook.rerun_quality_job(hook.resolve_job_id(name))


def shut_down_worker(api: AirflowClient, dag_id: str, run_id: str, task_id: str, grace: float = 3.0) -> None:
    """
    A pod eviction or node drain: SIGTERM to the worker (its supervisor forwards it to the task,
    whose ``on_kill`` runs), then SIGKILL to both once the grace period is over.
    """
    found = wait_until(
        f"a process to run {dag_id}/{task_id}",
        lambda: api.task_processes(dag_id, run_id, task_id),
        timeout=60,
    )
    processes = [found[role] for role in ("supervisor", "task") if role in found]
    found.get("supervisor", found["task"]).send_signal(signal.SIGTERM)
    time.sleep(grace)
    for process in processes:
        try:
            process.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(processes, timeout=30)


def test_a_worker_shut_down_by_sigterm_stops_nothing_and_its_retry_reconnects(
    airflow_api: AirflowClient, dataarts_emulator: EmulatorClient
) -> None:
    """Row 1 (shutdown): SIGTERM is not a user's kill; the run goes on and the retry waits for it."""
    job, script, factory_job = unique("evicted_job"), unique("evicted_script"), unique("evicted_load")
    dataarts_emulator.add_quality_job(job, run_seconds=300)
    dataarts_emulator.add_script(script, run_seconds=300, schema=[{"n": "int"}], rows=[[1]])
    dataarts_emulator.add_factory_job(factory_job, nodes=HOLD)
    quality_run = airflow_api.trigger_dag(QUALITY.format("sync"), {"job_name": job})
    script_run = airflow_api.trigger_dag(SCRIPT.format("sync"), {"script_name": script})
    job_run = airflow_api.trigger_dag("jobs_run_sync", {"job_name": factory_job})
    instance_id = announced(airflow_api, QUALITY.format("sync"), quality_run, "gate", "return_value")
    script_instance = announced(airflow_api, SCRIPT.format("sync"), script_run, "run", "instance_id")
    job_instance = announced(airflow_api, "jobs_run_sync", job_run, "run", "return_value")

    shut_down_worker(airflow_api, QUALITY.format("sync"), quality_run, "gate")
    shut_down_worker(airflow_api, SCRIPT.format("sync"), script_run, "run")
    shut_down_worker(airflow_api, "jobs_run_sync", job_run, "run")
    assert dataarts_emulator.instance(instance_id)["run_status"] == "RUNNING", "the shutdown stopped nothing"
    assert dataarts_emulator.script_instance(script, script_instance)["status"] == "RUNNING"
    assert dataarts_emulator.job_instance(job_instance)["status"] == "running"

    airflow_api.wait_for_task(QUALITY.format("sync"), quality_run, "gate", "running", 120, try_number=2)
    airflow_api.wait_for_task(SCRIPT.format("sync"), script_run, "run", "running", 120, try_number=2)
    airflow_api.wait_for_task("jobs_run_sync", job_run, "run", "running", 120, try_number=2)
    dataarts_emulator.finish_instance(instance_id)
    dataarts_emulator.finish_script(script, script_instance)
    dataarts_emulator.finish_job_instance(job_instance)
    airflow_api.wait_for_task(QUALITY.format("sync"), quality_run, "gate", "success", 90, try_number=2)
    airflow_api.wait_for_task(SCRIPT.format("sync"), script_run, "run", "success", 90, try_number=2)
    airflow_api.wait_for_task("jobs_run_sync", job_run, "run", "success", 90, try_number=2)
    assert [i["id"] for i in dataarts_emulator.instances(job)] == [instance_id], "no second rerun"
    assert len(dataarts_emulator.script_instances(script)) == 1, "no second execution"
    assert [i["instanceId"] for i in dataarts_emulator.job_instances(factory_job)] == [job_instance]
    first_try = airflow_api.log(QUALITY.format("sync"), quality_run, "gate", 1)
    assert "the worker is shutting down" in first_try
    assert f"Reconnecting to DataArts quality instance {instance_id}" in airflow_api.log(
        QUALITY.format("sync"), quality_run, "gate", 2
    )
    assert airflow_api.xcom(QUALITY.format("sync"), quality_run, "gate", "quality_result")["run_status"] == (
        "SUCCESS"
    )


def test_execution_timeout_stops_the_run_and_the_retry_starts_a_new_one(
    airflow_api: AirflowClient, dataarts_emulator: EmulatorClient
) -> None:
    """Row 2: the stopped instance's FAILED is never the verdict; the retry reruns and reports its own."""
    jobs = {way: unique(f"slow_{way}") for way in ("sync", "deferred")}
    script = unique("slow_script")
    for job in jobs.values():
        dataarts_emulator.add_quality_job(job, run_seconds=300)
    dataarts_emulator.add_script(script, run_seconds=300, schema=[{"n": "int"}], rows=[[1]])
    runs = {
        way: airflow_api.trigger_dag(f"production_quality_execution_timeout_{way}", {"job_name": job})
        for way, job in jobs.items()
    }
    factory_job = unique("slow_load")
    dataarts_emulator.add_factory_job(factory_job, nodes=HOLD)
    job_run = airflow_api.trigger_dag("production_job_execution_timeout", {"job_name": factory_job})
    script_dag = "production_script_execution_timeout"
    script_run = airflow_api.trigger_dag(script_dag, {"script_name": script})
    dag = "production_quality_execution_timeout_{}"
    first = {
        way: announced(airflow_api, dag.format(way), run, "gate", "return_value") for way, run in runs.items()
    }
    first_script = announced(airflow_api, script_dag, script_run, "run", "instance_id")

    first_job = announced(airflow_api, "production_job_execution_timeout", job_run, "run", "return_value")

    def all_stopped() -> bool:
        quality = all(dataarts_emulator.instance(i)["stopped"] for i in first.values())
        job_stopped = dataarts_emulator.job_instance(first_job)["status"] == "manual-stop"
        return (
            quality
            and job_stopped
            and dataarts_emulator.script_instance(script, first_script)["status"] != "RUNNING"
        )

    wait_until("the first runs to be stopped", all_stopped, timeout=90)
    for job in jobs.values():  # the data is fine now: the new runs end in time
        dataarts_emulator.add_quality_job(job, run_seconds=1)
    dataarts_emulator.add_script(script, run_seconds=1, schema=[{"n": "int"}], rows=[[1]])
    dataarts_emulator.add_factory_job(factory_job, nodes=FAST)

    for way, run in runs.items():
        dag_id = f"production_quality_execution_timeout_{way}"
        gate = airflow_api.wait_for_task(dag_id, run, "gate", DONE, 120, try_number=2)
        assert gate["state"] == "success", f"{way}: {airflow_api.log(dag_id, run, 'gate', 2)[-3000:]}"
        ids = [i["id"] for i in dataarts_emulator.instances(jobs[way])]
        assert ids[0] == first[way] and len(ids) == 2, f"{way}: the retry started a new run"
        result = airflow_api.xcom(dag_id, run, "gate", "quality_result")
        assert (result["instance_id"], result["run_status"]) == (ids[1], "SUCCESS")
        assert "Starting a new run" in airflow_api.log(dag_id, run, "gate", 2)
    script_ti = airflow_api.wait_for_task(script_dag, script_run, "run", DONE, 120, try_number=2)
    assert script_ti["state"] == "success"
    assert len(dataarts_emulator.script_instances(script)) == 2
    job_ti = airflow_api.wait_for_task(
        "production_job_execution_timeout", job_run, "run", DONE, 120, try_number=2
    )
    assert job_ti["state"] == "success"
    job_ids = [i["instanceId"] for i in dataarts_emulator.job_instances(factory_job)]
    assert job_ids[0] == first_job and len(job_ids) == 2, "the job's retry ran it anew"
    job_result = airflow_api.xcom("production_job_execution_timeout", job_run, "run", "job_result")
    assert (job_result["instance_id"], job_result["status"]) == (job_ids[1], "success")


def test_clearing_another_task_changes_nothing_for_a_waiting_one(
    airflow_api: AirflowClient, dataarts_emulator: EmulatorClient
) -> None:
    """Row 4: a user clears an unrelated failed task; then the waiting tasks' worker dies: they reconnect."""
    job, script, factory_job = unique("busy_job"), unique("busy_script"), unique("busy_load")
    dataarts_emulator.add_quality_job(job, run_seconds=300)
    dataarts_emulator.add_script(script, run_seconds=300, schema=[{"n": "int"}], rows=[[1]])
    dataarts_emulator.add_factory_job(factory_job, nodes=HOLD)
    dag_id = "production_clear_another_task"
    run_id = airflow_api.trigger_dag(
        dag_id, {"job_name": job, "script_name": script, "factory_job": factory_job}
    )
    instance_id = announced(airflow_api, dag_id, run_id, "gate", "return_value")
    script_instance = announced(airflow_api, dag_id, run_id, "run", "instance_id")
    job_instance = announced(airflow_api, dag_id, run_id, "job", "return_value")
    airflow_api.wait_for_task(dag_id, run_id, "flaky", "failed", 90)

    airflow_api.clear_task(dag_id, run_id, "flaky")  # the UI's default: the DAG run is reset too
    airflow_api.kill_task_process(dag_id, run_id, "gate")
    airflow_api.kill_task_process(dag_id, run_id, "run")
    airflow_api.kill_task_process(dag_id, run_id, "job")
    for task_id in ("gate", "run", "job"):
        airflow_api.wait_for_task(dag_id, run_id, task_id, "running", 120, try_number=2)
    dataarts_emulator.finish_instance(instance_id)
    dataarts_emulator.finish_script(script, script_instance)
    dataarts_emulator.finish_job_instance(job_instance)
    airflow_api.wait_for_task(dag_id, run_id, "job", "success", 90, try_number=2)
    assert [i["instanceId"] for i in dataarts_emulator.job_instances(factory_job)] == [job_instance]

    airflow_api.wait_for_task(dag_id, run_id, "gate", "success", 90, try_number=2)
    airflow_api.wait_for_task(dag_id, run_id, "run", "success", 90, try_number=2)
    assert [i["id"] for i in dataarts_emulator.instances(job)] == [instance_id], "no second rerun"
    assert len(dataarts_emulator.script_instances(script)) == 1, "no second execution"
    assert "Reconnecting" in airflow_api.log(dag_id, run_id, "gate", 2)


def test_a_lost_answer_never_adopts_someone_elses_run(
    airflow_api: AirflowClient, dataarts_emulator: EmulatorClient, start_outside_airflow: Callable[[str], str]
) -> None:
    """
    Row 5: the rerun's answer is lost while a console user runs the same job (the list lags
    behind both): two candidates, so the try fails without retry naming both; nothing is rerun again.
    """
    job = unique("shared_job")
    dataarts_emulator.add_quality_job(job, run_seconds=4, outcome="ALARMING", list_lag=6)
    dataarts_emulator.inject("reset", method="POST", path="/instances/restart", when="after")
    run_id = airflow_api.trigger_dag("production_quality_once", {"job_name": job})
    wait_until(
        "the gate's rerun to be served",
        lambda: dataarts_emulator.count("POST", "/instances/restart"),
        timeout=90,
    )
    start_outside_airflow(job)  # meanwhile, in the console

    gate = airflow_api.wait_for_task("production_quality_once", run_id, "gate", DONE, 150)
    ids = [i["id"] for i in dataarts_emulator.instances(job)]
    assert len(ids) == 2, "the lost rerun was not sent again"
    assert gate["state"] == "failed"
    log = airflow_api.log("production_quality_once", run_id, "gate")
    assert "2 quality instances" in log and all(i in log for i in ids), log[-3000:]
    assert "Adopting" not in log


def test_a_failing_read_before_the_rerun_does_not_block_it(
    airflow_api: AirflowClient, dataarts_emulator: EmulatorClient
) -> None:
    """Row 5 (the pre-POST list): it fails with HTTP 500 past every retry; the rerun is sent all the same."""
    job = unique("unlisted_job")
    dataarts_emulator.add_quality_job(job, run_seconds=1)
    # Only this job's list calls (the deployment's asset watcher lists instances too), past all
    # 1 + max_retries (5) attempts of the first one: the list before the rerun.
    dataarts_emulator.inject(
        "status", status=500, method="GET", path="/quality/instances", query=f"name={job}", count=6
    )
    run_id = airflow_api.trigger_dag("production_quality_once", {"job_name": job})

    gate = airflow_api.wait_for_task("production_quality_once", run_id, "gate", DONE, 120)
    dataarts_emulator.clear_faults()
    assert gate["state"] == "success", airflow_api.log("production_quality_once", run_id, "gate")[-3000:]
    assert len(dataarts_emulator.instances(job)) == 1
    assert "rerunning all the same" in airflow_api.log("production_quality_once", run_id, "gate")


def test_a_cleared_deferred_sensor_with_started_after_finds_its_instance(
    airflow_api: AirflowClient, dataarts_emulator: EmulatorClient
) -> None:
    """
    Row "sensors": the README's ``started_after="{{ dag_run.start_date }}"``, on an instance that
    ended an hour before the DAG run's (reset) start: the deferred sensor finds it, as poke mode
    does, and reports its FAILED, rather than "not in the instance list"; again after a clear.
    """
    job = unique("broken_hour_ago")
    dataarts_emulator.add_quality_job(job, outcome="FAILED", run_seconds=1)
    instance_id = dataarts_emulator.start_instance(job, run_seconds=60, started_ago=3600)
    dag_id = "production_sensor_started_after"
    run_id = airflow_api.trigger_dag(dag_id, {"instance_id": instance_id})
    airflow_api.wait_for_task(dag_id, run_id, "wait", DONE, 90)
    airflow_api.clear_task(dag_id, run_id, "wait")

    again = airflow_api.wait_for_task(dag_id, run_id, "wait", DONE, 90, try_number=2)
    for try_number in (1, 2):
        log = airflow_api.log(dag_id, run_id, "wait", try_number)
        assert "is FAILED" in log, log[-3000:]
        assert "not in the instance list" not in log
    assert again["state"] == "failed"
