"""
What a kill, a timeout or a failed stop does to the run record, with the operator's ``execute`` and
``on_kill`` called as Airflow's task runner calls them (``on_kill`` from the SIGTERM handler while
``execute`` waits; ``AirflowTaskTimeout`` raised inside ``execute``), against the emulator. The task
instance is Airflow's ``RuntimeTaskInstance`` as the operator sees it: its ids, its lease
(``max_tries``) and ``get_task_states`` (the API server's answer, with a delay). The real
deployment's rows: tests/system/test_edges.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.lifecycle import RunRecord
from airflow_provider_dataarts.operators.job import DataArtsRunJobOperator

pytestmark = pytest.mark.filterwarnings("ignore")
SLOW_NODES = [{"name": "extract", "type": "CDMJob", "seconds": 30.0}]
KEY = DataArtsRunJobOperator.state_key


class Store:
    """Airflow 3.3's ``task_state_store`` of one task instance (values stored as JSON, like the real one)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return json.loads(json.dumps(self.values[key])) if key in self.values else default

    def set(self, key: str, value: Any, **_: Any) -> None:
        self.values[key] = json.loads(json.dumps(value))

    def delete(self, key: str) -> None:
        self.values.pop(key, None)

    def record(self) -> RunRecord | None:
        return RunRecord.from_json(self.values.get(KEY))


def task_instance(state: str | None = "running", delay: float = 0.0, max_tries: int = 1) -> Any:
    """A task instance whose API server reports ``state`` after ``delay`` seconds."""

    class TaskInstance:
        dag_id, task_id, run_id, map_index, try_number = "edges", "run", "manual__1", -1, 1
        xcoms: dict[str, Any] = {}

        @staticmethod
        def get_task_states(**query: Any) -> dict[str, Any]:
            time.sleep(delay)
            return {"manual__1": {"run": state}}

        def xcom_push(self, key: str, value: Any) -> None:
            self.xcoms[key] = value

    ti = TaskInstance()
    ti.max_tries = max_tries  # type: ignore[attr-defined]
    return ti


class Try:
    """One try of the operator: ``execute`` in a thread (the task process's main work)."""

    def __init__(self, op: DataArtsRunJobOperator, context: dict[str, Any]) -> None:
        self.op, self.context = op, context
        self.error: BaseException | None = None
        self.result: Any = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.result = self.op.execute(self.context)  # type: ignore[arg-type]
        except BaseException as error:
            self.error = error

    def join(self, seconds: float = 60) -> None:
        self.thread.join(seconds)
        assert not self.thread.is_alive()


@pytest.fixture
def start(emulator: DataArtsEmulator, dataarts_conn: str) -> Iterator[Callable[..., Try]]:
    emulator.add_factory_job("slow_job", nodes=SLOW_NODES)
    tries: list[Try] = []

    def begin(store: Store, ti: Any, **kwargs: Any) -> Try:
        op = DataArtsRunJobOperator(task_id="run", job_name="slow_job", poll_interval=0.2, **kwargs)
        attempt = Try(op, {"ti": ti, "task_state_store": store})
        tries.append(attempt)
        deadline = time.monotonic() + 30
        while op._instance_id is None and attempt.thread.is_alive():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        return attempt

    yield begin
    for instance in emulator.job_instances("slow_job"):
        emulator.finish_job_instance(instance["instanceId"])
    for attempt in tries:
        attempt.thread.join(30)


def running(emulator: DataArtsEmulator) -> list[str]:
    return [i["instanceId"] for i in emulator.job_instances("slow_job") if i["status"] == "running"]


@pytest.mark.parametrize("state", ["restarting", "failed", "success", "skipped", "removed", None])
def test_a_users_kill_stops_the_run_and_records_the_stop(
    state: str | None, start: Callable[..., Try], emulator: DataArtsEmulator
) -> None:
    store = Store()
    first = start(store, task_instance(state))
    first.op.on_kill()
    (instance,) = emulator.job_instances("slow_job")
    assert instance["stopped"]
    record = store.record()
    assert record is not None and record.phase == "stopped"
    first.join()
    assert "was stopped" in str(first.error), "the stopped run's status is no verdict"
    record = store.record()
    assert record is not None and record.phase == "stopped"
    # A try of the same lease (a clear that left max_tries as it was) starts anew, never delivers
    # the stopped run's manual-stop.
    second = start(store, task_instance("running"))
    assert second.op._instance_id != instance["instanceId"]


def test_a_heartbeat_timeout_stops_nothing_and_the_retry_reconnects(
    start: Callable[..., Try], emulator: DataArtsEmulator
) -> None:
    store = Store()
    first = start(store, task_instance("up_for_retry"))
    first.op.on_kill()
    (instance,) = emulator.job_instances("slow_job")
    assert not instance["stopped"]
    record = store.record()
    assert record is not None and record.phase == "submitted"
    retry = start(store, task_instance("running"))
    assert retry.op._instance_id == instance["instanceId"]
    assert len(emulator.job_instances("slow_job")) == 1


@pytest.mark.parametrize("state", ["running", "deferred", "queued", "scheduled", "up_for_reschedule"])
def test_a_kill_in_any_other_state_stops_nothing(
    state: str, start: Callable[..., Try], emulator: DataArtsEmulator
) -> None:
    first = start(Store(), task_instance(state))
    first.op.on_kill()
    assert running(emulator) == [first.op._instance_id]


def test_a_users_clear_stops_the_run_with_a_slow_api_server(
    start: Callable[..., Try], emulator: DataArtsEmulator
) -> None:
    """The supervisor's SIGKILL comes 5 s after SIGTERM: a 1.5 s state answer still leaves time to stop."""
    store = Store()
    first = start(store, task_instance("restarting", delay=1.5))
    began = time.monotonic()
    first.op.on_kill()
    assert time.monotonic() - began < 5.0
    assert running(emulator) == []
    record = store.record()
    assert record is not None and record.phase == "stopped"


def test_a_refused_stop_is_not_recorded_and_the_next_try_waits_for_the_run(
    start: Callable[..., Try], emulator: DataArtsEmulator
) -> None:
    store = Store()
    first = start(store, task_instance("restarting"))
    emulator.inject("status", status=503, count=20, method="POST", path="/stop")
    first.op.on_kill()
    emulator.clear_faults()
    (instance,) = emulator.job_instances("slow_job")
    assert not instance["stopped"]
    record = store.record()
    assert record is not None and record.phase == "submitted"
    retry = start(store, task_instance("running"))
    assert retry.op._instance_id == instance["instanceId"]
    assert len(emulator.job_instances("slow_job")) == 1


def test_an_execution_timeout_whose_stop_is_refused_never_starts_a_second_run(
    start: Callable[..., Try], emulator: DataArtsEmulator
) -> None:
    store = Store()
    first = start(store, task_instance("running"))
    emulator.inject("status", status=503, count=20, method="POST", path="/stop")
    first.op._stop_run("execution_timeout")  # what execute does on AirflowTaskTimeout
    emulator.clear_faults()
    record = store.record()
    assert record is not None and record.phase == "submitted"
    retry = start(store, task_instance("running"))
    assert retry.op._instance_id == first.op._instance_id
    assert len(emulator.job_instances("slow_job")) == 1


def test_cancel_on_kill_false_and_an_execution_timeout_reconnect(
    start: Callable[..., Try], emulator: DataArtsEmulator
) -> None:
    store = Store()
    first = start(store, task_instance("running"), cancel_on_kill=False)
    first.op._stop_run("execution_timeout")
    assert running(emulator) == [first.op._instance_id]
    retry = start(store, task_instance("running"), cancel_on_kill=False)
    assert retry.op._instance_id == first.op._instance_id
    assert len(emulator.job_instances("slow_job")) == 1


def test_a_clear_whose_kill_could_not_stop_the_run_stops_it_before_the_new_one(
    start: Callable[..., Try], emulator: DataArtsEmulator
) -> None:
    """The kill had no answer from the API server (nothing stopped); the cleared try stops the old run."""
    store = Store()
    first = start(store, task_instance("restarting", delay=3.0, max_tries=1))
    first.op.on_kill()
    assert running(emulator) == [first.op._instance_id]
    cleared = start(store, task_instance("running", max_tries=3))
    assert running(emulator) == [cleared.op._instance_id]
    old = emulator.job_instance(str(first.op._instance_id))
    assert old["stopped"]
    time.sleep(4)  # longer than a stop's bound: the new run's wait keeps the task's own deadline
    emulator.finish_job_instance(str(cleared.op._instance_id))
    cleared.join()
    assert cleared.error is None
    assert cleared.result == cleared.op._instance_id


# --- repairs ---------------------------------------------------------------------------------------

QUICK_NODES = [
    {"name": "extract", "type": "CDMJob", "seconds": 0.2},
    {"name": "load", "type": "DWSSQL", "seconds": 0.2},
]


def failed_instance(
    emulator: DataArtsEmulator, conn_id: str, store: Store, rerun_seconds: float = 0.2
) -> dict[str, Any]:
    """An earlier try delivered this instance's failure (``repair_on_retry``: the retry repairs it)."""
    from airflow_provider_dataarts.hooks.dataarts import DataArtsHook
    from airflow_provider_dataarts.lifecycle import Phase

    nodes = [QUICK_NODES[0], {**QUICK_NODES[1], "seconds": rerun_seconds}]
    emulator.add_factory_job("flaky_job", nodes=nodes, outcome="success", outcomes=["fail_at:2"])
    submitted_at = int(time.time() * 1000)
    instance_id = DataArtsHook(conn_id).run_job("flaky_job")
    emulator.finish_job_instance(instance_id)
    record = RunRecord(
        lease=1,
        phase=Phase.DELIVERED,
        instance_id=instance_id,
        marker={"submitted_at": submitted_at},
        outcome="failed",
    )
    store.values[KEY] = record.to_json()
    return emulator.job_instance(instance_id)


def repairing_operator(**kwargs: Any) -> DataArtsRunJobOperator:
    return DataArtsRunJobOperator(
        task_id="run", job_name="flaky_job", poll_interval=0.1, repair_on_retry=True, **kwargs
    )


def test_a_rerun_that_failed_leaves_the_failure_and_the_next_retry_repairs(
    emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    from airflow_provider_dataarts.exceptions import DataArtsAPIError

    store = Store()
    failed = failed_instance(emulator, dataarts_conn, store)
    emulator.inject("status", status=503, count=50, method="POST", path="/restart")
    with pytest.raises(DataArtsAPIError):
        repairing_operator().execute({"ti": task_instance(), "task_state_store": store})  # type: ignore[arg-type]
    record = store.record()
    assert record is not None and (record.phase, record.outcome) == ("delivered", "failed")
    emulator.clear_faults()
    assert (
        repairing_operator().execute({"ti": task_instance(), "task_state_store": store})
        == failed["instanceId"]
    )  # type: ignore[arg-type]
    repaired = emulator.job_instance(failed["instanceId"])
    assert (repaired["attempts"], repaired["status"]) == (2, "success")
    assert len(emulator.job_instances("flaky_job")) == 1


def test_a_deferred_repair_waits_for_the_new_attempt_not_the_listed_old_one(
    emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    """
    The list still shows the failed attempt after the rerun: the wait (sharing the list with
    another task's) never takes its ``fail``.
    """
    import asyncio

    from airflow.providers.common.compat.sdk import TaskDeferred

    from airflow_provider_dataarts.hooks.dataarts import DataArtsHook
    from tests.triggers.test_quality import events_of

    store = Store()
    failed = failed_instance(emulator, dataarts_conn, store)
    stale = list(
        DataArtsHook(dataarts_conn).list_job_instances(
            "flaky_job", min_plan_time=int(time.time() * 1000) - 3_600_000
        )
    )
    assert [row["status"] for row in stale] == ["fail"]
    ti = task_instance()
    op = repairing_operator(deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": ti, "task_state_store": store})  # type: ignore[arg-type]
    emulator.add_factory_job("other_job", nodes=QUICK_NODES)
    other = DataArtsRunJobOperator(task_id="run", job_name="other_job", poll_interval=0.1, deferrable=True)
    with pytest.raises(TaskDeferred) as other_deferred:
        other.execute({"ti": task_instance(), "task_state_store": Store()})  # type: ignore[arg-type]
    emulator.inject("answer", body={"total": 1, "instances": stale}, count=10, path="instances/detail")

    async def both() -> list[list[dict[str, Any]]]:
        return list(
            await asyncio.gather(events_of(deferred.value.trigger), events_of(other_deferred.value.trigger))
        )

    (event,), (other_event,) = asyncio.run(both())
    assert other_event["job_status"] == "success"
    assert emulator.count("GET", "instances/detail") >= 2, "the waits shared the list"
    assert event["job_status"] == "success"
    resumed = repairing_operator(deferrable=True)
    resumed.execute_complete({"ti": ti, "task_state_store": store}, event)  # type: ignore[arg-type]
    result = ti.xcoms["job_result"]
    assert result["instance_id"] == failed["instanceId"]
    assert result["status"] == "success"
    assert all(node["status"] == "success" for node in result["nodes"])


def test_an_execution_timeout_during_a_repair_stops_and_records_the_rerun(
    emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    """Airflow's ``execution_timeout`` (SIGALRM) fires while the repair reads the rerun's first state."""
    from airflow.providers.common.compat.sdk import AirflowTaskTimeout
    from airflow.sdk.execution_time.timeout import timeout

    store = Store()
    failed = failed_instance(emulator, dataarts_conn, store, rerun_seconds=30)
    path = f"/jobs/flaky_job/instances/{failed['instanceId']}"
    emulator.inject("delay", method="GET", path=path, skip=1, count=5, delay=4)
    with pytest.raises(AirflowTaskTimeout), timeout(2):
        repairing_operator().execute({"ti": task_instance(), "task_state_store": store})  # type: ignore[arg-type]
    emulator.clear_faults()
    assert emulator.job_instance(failed["instanceId"])["stopped"]
    record = store.record()
    assert record is not None and record.phase == "stopped"


# --- quality: a task in flight under 0.1.0; the deferred wait's hints -------------------------------


def quality_try(store: Store, ti: Any, **kwargs: Any) -> Any:
    from airflow_provider_dataarts.operators.quality import RerunQualityJobOperator

    op = RerunQualityJobOperator(
        task_id="run", job_name="long_quality", poll_interval=0.1, wait_for_completion=True, **kwargs
    )
    return op, {"ti": ti, "task_state_store": store}


@pytest.mark.parametrize("finished", [False, True])
def test_a_run_that_0_1_0_started_is_reconnected_while_it_runs(
    finished: bool, emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    """0.1.0 kept the instance id under ``remote_job_id`` (and left it there after the run)."""
    from airflow.providers.common.compat.sdk import TaskDeferred

    emulator.add_quality_job("long_quality", run_seconds=0.0 if finished else 600)
    old = emulator.start_quality_instance("long_quality", run_seconds=0.0 if finished else 600)
    store = Store()
    store.values["remote_job_id"] = old
    op, context = quality_try(store, task_instance(), deferrable=True)
    with pytest.raises(TaskDeferred):
        op.execute(context)
    reruns = [r for r in emulator.requests if r["method"] == "POST" and "instances/restart" in r["path"]]
    assert (op._instance_id == old) is not finished
    assert len(reruns) == int(finished)
    assert "remote_job_id" not in store.values


def test_the_deferred_wait_gets_the_submissions_start_hint(
    emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    """With the hint, the wait shares the job's instance list with the other waits."""
    from airflow.providers.common.compat.sdk import TaskDeferred

    emulator.add_quality_job("long_quality", run_seconds=600)
    op, context = quality_try(Store(), task_instance(), deferrable=True)
    before = int(time.time() * 1000)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    started_after = deferred.value.trigger.started_after
    assert started_after is not None and started_after <= before


def test_an_instance_never_listed_is_stopped_before_it_is_recorded_stopped(
    emulator: DataArtsEmulator, connect: Callable[..., str]
) -> None:
    """Its id is known: stopped, and the try fails without retry (it may have run to its end)."""
    from airflow.providers.common.compat.sdk import AirflowFailException

    from airflow_provider_dataarts.hooks.dataarts import DataArtsInstanceNotFound

    connect("aksk", not_listed_grace=1)
    emulator.add_quality_job("long_quality", run_seconds=600, list_lag=600)
    store = Store()
    op, context = quality_try(store, task_instance())
    with pytest.raises(AirflowFailException, match="never listed") as failed:
        op.execute(context)
    assert isinstance(failed.value.__context__, DataArtsInstanceNotFound)
    assert emulator.instance(str(op._instance_id))["stopped"] is True
    record = RunRecord.from_json(store.values[op.state_key])
    assert record is not None and (record.phase, record.outcome) == ("stopped", "never listed")


def test_a_lost_answer_is_adopted_even_with_a_timeout_shorter_than_the_list_lag_grace(
    emulator: DataArtsEmulator, connect: Callable[..., str]
) -> None:
    """
    The adoption waits out ``not_listed_grace`` whatever the wait's ``timeout`` (never a raw
    deadline error): the run is adopted and recorded, then the timeout ends the wait as usual.
    """
    from airflow.providers.common.compat.sdk import AirflowSensorTimeout

    connect("aksk", not_listed_grace=3)
    emulator.add_factory_job("slow_job", nodes=SLOW_NODES, list_lag=1)
    emulator.inject("reset", method="POST", path="/run-immediate", when="after")
    store = Store()
    op = DataArtsRunJobOperator(task_id="run", job_name="slow_job", poll_interval=0.2, timeout=1)
    with pytest.raises(AirflowSensorTimeout, match="timeout"):
        op.execute({"ti": task_instance(), "task_state_store": store})  # type: ignore[arg-type]
    (instance,) = emulator.job_instances("slow_job")
    record = store.record()
    assert record is not None and (record.phase, record.instance_id) == ("submitted", instance["instanceId"])
    assert emulator.count("POST", "/run-immediate") == 1
    emulator.finish_job_instance(instance["instanceId"])


def test_a_reconnected_repair_never_delivers_the_old_attempts_failure(
    emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    """A retry reconnects to a repaired instance whose detail still shows the failed attempt."""
    from airflow.providers.common.compat.sdk import AirflowException

    from airflow_provider_dataarts.hooks.dataarts import DataArtsHook

    store = Store()
    failed = failed_instance(emulator, dataarts_conn, store, rerun_seconds=30)
    hook = DataArtsHook(dataarts_conn)
    old = hook.get_job_instance("flaky_job", failed["instanceId"])
    hook.restart_job_instance("flaky_job", failed["instanceId"])
    record = store.record()
    assert record is not None
    store.values[KEY] = record.repairing(old["endTime"]).to_json()
    path = f"/jobs/flaky_job/instances/{failed['instanceId']}"
    emulator.inject("answer", body=old, method="GET", path=path, count=3)
    ti = task_instance()
    with pytest.raises(AirflowException, match="still shows the attempt before its rerun"):
        repairing_operator().execute({"ti": ti, "task_state_store": store})  # type: ignore[arg-type]
    assert "job_result" not in ti.xcoms
    emulator.finish_job_instance(failed["instanceId"])


def test_an_event_for_another_run_is_never_taken_as_this_tasks_verdict(
    emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    """
    On a SQLite metadata database Airflow reuses the id of a deleted trigger: a task that defers
    right after another task's trigger was cleaned up can be handed the old trigger, still running
    in the triggerer, and its event (seen in tests/system/test_lifecycle.py under load). The
    resumed task must not report that run's verdict as its own; its retry waits for its own run.
    """
    import asyncio

    from airflow.providers.common.compat.sdk import TaskDeferred

    from airflow_provider_dataarts.lifecycle import Phase
    from tests.triggers.test_quality import events_of

    emulator.add_factory_job("failing_job", nodes=QUICK_NODES, outcome="fail_at:1")
    emulator.add_factory_job("own_job", nodes=SLOW_NODES)
    failing_store, own_store = Store(), Store()
    failing = DataArtsRunJobOperator(
        task_id="run", job_name="failing_job", poll_interval=0.1, deferrable=True
    )
    with pytest.raises(TaskDeferred) as failing_deferred:
        failing.execute({"ti": task_instance(), "task_state_store": failing_store})  # type: ignore[arg-type]
    own = DataArtsRunJobOperator(task_id="run", job_name="own_job", poll_interval=0.1, deferrable=True)
    with pytest.raises(TaskDeferred):
        own.execute({"ti": task_instance(), "task_state_store": own_store})  # type: ignore[arg-type]
    own_record = own_store.record()
    assert own_record is not None and own_record.phase is Phase.SUBMITTED

    (foreign_event,) = asyncio.run(events_of(failing_deferred.value.trigger))
    assert foreign_event["job_status"] == "fail"
    ti = task_instance()
    resumed = DataArtsRunJobOperator(task_id="run", job_name="own_job", poll_interval=0.1, deferrable=True)
    with pytest.raises(Exception, match=own_record.instance_id or "-") as raised:
        resumed.execute_complete({"ti": ti, "task_state_store": own_store}, foreign_event)  # type: ignore[arg-type]
    assert "fail" not in [ti.xcoms.get("job_result", {}).get("status")]
    assert type(raised.value).__name__ != "AirflowFailException", "the retry must wait for its own run"
    assert own_store.record() == own_record, "its own run is still the one to wait for"
    assert emulator.job_instance(own_record.instance_id)["stopped"] is False


def test_a_clear_while_a_run_immediate_was_unanswered_stops_that_run_first(
    emulator: DataArtsEmulator, connect: Callable[..., str]
) -> None:
    """
    A run-immediate reached DataArts but its answer was lost (the record says "submitting"); the
    user clears the task, whose kill had no id to stop. The cleared try finds that run (the earlier
    lease's window) and stops it before it starts its own: never two runs of the job.
    """
    connect("aksk", not_listed_grace=1)
    emulator.add_factory_job("slow_job", nodes=[{"name": "extract", "type": "CDMJob", "seconds": 60}])
    submitted_at = int(time.time() * 1000)
    first = str(emulator.state.factory.run_immediate("slow_job", {}).id)  # the POST never answered
    marker = {
        "job_name": "slow_job",
        "submitted_at": submitted_at - 100,
        "known": [],
        "others": [],
        "answer_lost_at": int(time.time() * 1000) + 100,
    }
    store = Store()
    store.values[KEY] = RunRecord.submitting(1, marker).to_json()
    op = DataArtsRunJobOperator(task_id="run", job_name="slow_job", wait_for_completion=False)
    second = op.execute({"ti": task_instance("running", max_tries=3), "task_state_store": store})  # type: ignore[arg-type]
    assert second != first
    assert emulator.job_instance(first)["stopped"], "the first run still runs beside the new one"
    assert not emulator.job_instance(second)["stopped"]


def test_a_clear_whose_earlier_run_refuses_to_stop_starts_no_second_run(
    emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    """
    The user cleared the task while its run went on, and DataArts refuses to stop that run: the
    cleared try does not start a second run beside it; it fails (retryably, naming the run) and its
    retry asks again. Once the earlier run has ended, the new run starts.
    """
    from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

    from airflow_provider_dataarts.hooks.dataarts import DataArtsHook
    from airflow_provider_dataarts.lifecycle import Phase

    emulator.add_factory_job("held_job", nodes=SLOW_NODES)
    first = DataArtsHook(dataarts_conn).run_job("held_job")
    store = Store()
    store.values[KEY] = RunRecord(lease=1, phase=Phase.SUBMITTED, instance_id=str(first)).to_json()
    emulator.inject("status", status=503, count=50, method="POST", path="/stop")
    op = DataArtsRunJobOperator(task_id="run", job_name="held_job", wait_for_completion=False)
    with pytest.raises(AirflowException, match=str(first)) as refused:
        op.execute({"ti": task_instance("running", max_tries=3), "task_state_store": store})  # type: ignore[arg-type]
    assert not isinstance(refused.value, AirflowFailException), "the retry asks again"
    assert len(emulator.job_instances("held_job")) == 1, "no second run beside the one still going"
    emulator.clear_faults()
    emulator.finish_job_instance(first)
    again = DataArtsRunJobOperator(task_id="run", job_name="held_job", wait_for_completion=False)
    second = again.execute({"ti": task_instance("running", max_tries=3), "task_state_store": store})  # type: ignore[arg-type]
    assert second != first and len(emulator.job_instances("held_job")) == 2
