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
