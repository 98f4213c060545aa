"""
A model-based test of the run lifecycle (issue 22, deliverable 2).

Hypothesis' stateful testing drives the REAL operators (quality and Factory job; in a worker and
deferred, the trigger's ``run()`` and ``on_kill`` included) against the emulator, through random
sequences of the events production brings, and checks after every step what docs/lifecycle.md
promises:

1. at most one live run per lease that nobody stopped;
2. never a verdict from a run this task did not start;
3. never a stopped run's status as a verdict;
4. every stop recorded (no record points a later try at a run that was stopped);
5. a user's kill stops the run, nothing else does (a shutdown, a heartbeat timeout, an unknown
   state, a triggerer that lost the trigger);
6. nothing runs twice: a run that ended well is never followed by another run of the same lease.

The task instance is modelled in the test (``TaskInstanceModel``): its ``task_state_store``, its state
as the API server reports it (what ``on_kill`` asks), its lease (``max_tries``). A try is a new
operator object, as in Airflow. A try in a worker runs in a thread; SIGTERM is ``on_kill()`` followed by
the try's death, SIGKILL the death alone, ``execution_timeout`` an ``AirflowTaskTimeout`` at the try's
next request (Airflow raises it from a signal, at any point). A dead try's requests and writes raise,
as a process that is gone writes nothing. Time is kept short by the connection extras (grace 0.15 s,
polls of 0.02 s) and by ending runs from the emulator's control side.

Runs: the normal suite runs the ``suite`` profile (derandomized: the same examples every run);
``DATAARTS_MODEL=long`` runs many thousands (see tests/model/README.md).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from airflow_provider_dataarts.emulator import DataArtsEmulator

pytestmark = pytest.mark.filterwarnings("ignore")

GRACE = 0.15  # extra.not_listed_grace: the list's lag the lost-answer search waits out
POLL = 0.02
LONG_RUN = 600.0  # runs end only when the model ends them (or a stop does)
# A console run is stamped this long before the step that makes it: a foreign run started within a
# second of this task's own POST is the one case docs/lifecycle.md names undecidable.
CONSOLE_EARLIER = 2.5
# What the API server reports of the task instance when its try is killed ("none": no state, as a
# clear of a deferred task leaves it; "no_answer": the question fails or times out).
USER_STATES = ("restarting", "none", "failed", "success", "skipped", "removed")  # a user's clear or mark
# A shutdown, a heartbeat timeout (the retry is set up), a retry already queued, no answer.
NOT_USER_STATES = ("running", "up_for_retry", "queued", "no_answer")
# A triggerer cancels a trigger it no longer owns: another triggerer took it over (still deferred),
# or it fired there and the task resumed (queued, running).
LOST_TRIGGER_STATES = ("deferred", "scheduled", "queued", "running", "no_answer")
PROFILES = {
    "suite": {"max_examples": 300, "stateful_step_count": 8},
    "long": {
        "max_examples": int(os.environ.get("DATAARTS_MODEL_EXAMPLES", "5000")),
        "stateful_step_count": 14,
    },
}


class TryKilled(BaseException):
    """The try's process is gone (SIGKILL, or the supervisor's end after on_kill)."""


class TaskStateStore:
    """Airflow 3.3's ``task_state_store`` of one task instance: JSON values under keys."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def view(self, attempt: Attempt) -> StoreView:
        return StoreView(self, attempt)


@dataclass
class StoreView:
    """The store as one try sees it: a dead try writes nothing."""

    store: TaskStateStore
    attempt: Attempt

    def get(self, key: str, default: Any = None) -> Any:
        value = self.store.values.get(key)
        return default if value is None else json.loads(json.dumps(value))

    def set(self, key: str, value: Any) -> None:
        self.attempt.alive()
        self.store.values[key] = json.loads(json.dumps(value))

    def delete(self, key: str) -> None:
        self.attempt.alive()
        self.store.values.pop(key, None)


@dataclass
class Attempt:
    """One try: whether it still lives, what it pushed, how it ended."""

    number: int
    killed: bool = False
    timeout_armed: bool = False
    kill_at_post: str | None = None  # "before" / "after": the process dies during the POST
    pushes: list[tuple[str, Any]] = field(default_factory=list)
    result: Any = None  # what execute / execute_complete returned
    outcome: str | None = (
        None  # "success", "failed", "fail_no_retry", "deferred", "killed", "timeout", "skipped"
    )
    error: BaseException | None = None

    thread: threading.Thread | None = None
    # SIGTERM: Airflow runs on_kill in the try's main thread, from the signal handler, and the try
    # never goes on. Here the try runs in a thread: it is frozen at its next request or write while
    # on_kill runs, then killed.
    frozen: threading.Event = field(default_factory=threading.Event)

    def alive(self) -> None:
        if self.frozen.is_set() and threading.current_thread() is self.thread:
            while self.frozen.is_set() and not self.killed:
                time.sleep(0.005)
        if self.killed and threading.current_thread() is self.thread:
            raise TryKilled()
        if self.killed and not self.frozen.is_set():
            raise TryKilled()


class FakeTI:
    """What the operators read of the task instance; ``get_task_states`` answers as the API server."""

    dag_id = "model"
    task_id = "run"
    run_id = "manual__model"
    map_index = -1

    def __init__(self, model: TaskInstanceModel, attempt: Attempt) -> None:
        self._model = model
        self._attempt = attempt
        self.max_tries = model.lease
        self.try_number = attempt.number

    def xcom_push(self, key: str, value: Any) -> None:
        self._attempt.alive()
        self._attempt.pushes.append((key, json.loads(json.dumps(value))))


@dataclass
class TaskInstanceModel:
    lease: int = 3
    api_state: str | None = "running"
    store: TaskStateStore = field(default_factory=TaskStateStore)
    tries: int = 0
    finished: bool = False  # a verdict, a fail without retry, or a user's mark: only a clear goes on

    def reported_state(self) -> str | None:
        if self.api_state == "no_answer":
            raise ConnectionError("the API server did not answer")
        return None if self.api_state == "none" else self.api_state

    def context(self, attempt: Attempt) -> dict[str, Any]:
        model = self

        def get_task_states(**_: Any) -> dict[str, Any]:
            return {FakeTI.run_id: {FakeTI.task_id: model.reported_state()}}

        ti_type = type("ModelTI", (FakeTI,), {"get_task_states": staticmethod(get_task_states)})
        ti = ti_type(self, attempt)
        return {"ti": ti, "task_instance": ti, "task_state_store": self.store.view(attempt), "params": {}}


def trigger_event_for(then: str) -> str:
    """A worker-side event as it happens to a deferred try: SIGTERM is the trigger's cancel."""
    if then in ("passes", "fails", "execution_timeout"):
        return then
    if then == "sigkill":
        return "triggerer_restart"
    state = then.removeprefix("sigterm:")
    if state in USER_STATES:
        return f"cancel:{state}"
    return f"lost:{state if state in LOST_TRIGGER_STATES else 'deferred'}"


class TriggererChannel:
    """The triggerer's channel to the API server, as a trigger's ``on_kill`` asks it."""

    def __init__(self, ti: TaskInstanceModel) -> None:
        self.ti = ti

    async def asend(self, message: Any) -> Any:
        from airflow.sdk.execution_time.comms import GetTaskStates, TaskStatesResult

        if not isinstance(message, GetTaskStates):
            return None
        state = self.ti.reported_state()
        return TaskStatesResult(task_states={message.run_ids[0]: {FakeTI.task_id: state}})

    def send(self, message: Any) -> Any:
        return None


# --- the two kinds of run, as the emulator shows them -------------------------------------------------


class Kind:
    name: str
    post_path: str
    stop_path: str
    result_key: str

    def __init__(self, emulator: DataArtsEmulator, job: str) -> None:
        self.emulator = emulator
        self.job = job

    announce_key = "return_value"

    def operator(self, **kwargs: Any) -> Any:
        raise NotImplementedError

    def verdicts(self, attempt: Attempt) -> list[str]:
        """The runs whose verdict the try delivered (its result XCom)."""
        return [str(value["instance_id"]) for key, value in attempt.pushes if key == self.result_key]

    def instances(self) -> dict[str, tuple[bool, bool, str]]:
        """Every instance of the job: id -> (live, stopped, status)."""
        raise NotImplementedError

    def finish(self, instance_id: str, passed: bool) -> None:
        raise NotImplementedError

    def console_run(self) -> str:
        raise NotImplementedError

    def set_lag(self, seconds: float) -> None:
        raise NotImplementedError

    def scheduled_run(self) -> str:
        """An instance DataArts' own schedule makes (for quality and scripts: as a console run)."""
        return self.console_run()


class QualityKind(Kind):
    name = "quality"
    post_path = "/instances/restart"
    stop_path = "/instances/batch-stop"
    result_key = "quality_result"

    def __init__(self, emulator: DataArtsEmulator, job: str) -> None:
        super().__init__(emulator, job)
        emulator.add_quality_job(job, run_seconds=LONG_RUN)

    def operator(self, **kwargs: Any) -> Any:
        from airflow_provider_dataarts.operators.quality import RerunQualityJobOperator

        return RerunQualityJobOperator(task_id="run", job_name=self.job, wait_for_completion=True, **kwargs)

    def instances(self) -> dict[str, tuple[bool, bool, str]]:
        state = self.emulator.state
        now = time.time()
        with state.lock:
            return {
                str(i.id): (i.run_status(now) == "RUNNING", i.stopped, i.run_status(now))
                for i in state.instances.values()
                if i.job.name == self.job
            }

    def finish(self, instance_id: str, passed: bool) -> None:
        state = self.emulator.state
        with state.lock:
            instance = state.instances[int(instance_id)]
            if instance.run_status(time.time()) == "RUNNING":
                instance.outcome = "SUCCESS" if passed else "FAILED"
                instance.finish_at = time.time() - 0.001

    def console_run(self) -> str:
        return self.emulator.start_quality_instance(
            self.job, run_seconds=LONG_RUN + CONSOLE_EARLIER, started_ago=CONSOLE_EARLIER
        )

    def set_lag(self, seconds: float) -> None:
        self.emulator.add_quality_job(self.job, run_seconds=LONG_RUN, list_lag=seconds)


class JobKind(Kind):
    name = "job"
    post_path = "/run-immediate"
    stop_path = "/stop"
    result_key = "job_result"

    def __init__(self, emulator: DataArtsEmulator, job: str) -> None:
        super().__init__(emulator, job)
        emulator.add_factory_job(job, nodes=[{"name": "only", "type": "Shell", "seconds": LONG_RUN}])

    def operator(self, **kwargs: Any) -> Any:
        from airflow_provider_dataarts.operators.job import DataArtsRunJobOperator

        return DataArtsRunJobOperator(task_id="run", job_name=self.job, job_params={}, **kwargs)

    def instances(self) -> dict[str, tuple[bool, bool, str]]:
        factory = self.emulator.state.factory
        now = time.time()
        with self.emulator.state.lock:
            chosen = [i for i in factory.instances.values() if i.job.name == self.job]
            return {
                str(i.id): (i.status(now) in ("waiting", "running"), i.stopped_at is not None, i.status(now))
                for i in chosen
            }

    def finish(self, instance_id: str, passed: bool) -> None:
        factory = self.emulator.state.factory
        with self.emulator.state.lock:
            instance = factory.instances[int(instance_id)]
            if instance.status(time.time()) not in ("waiting", "running"):
                return
            for node in instance.nodes:
                node.outcome = "success" if passed else "fail"
        factory.finish(instance_id)

    def console_run(self) -> str:
        instance = self.emulator.state.factory.run_immediate(self.job, {})
        with self.emulator.state.lock:
            instance.submit_time -= int(CONSOLE_EARLIER * 1000)
            instance.plan_time -= int(CONSOLE_EARLIER * 1000)
        return str(instance.id)

    def scheduled_run(self) -> str:
        plan_time = int((time.time() - CONSOLE_EARLIER) * 1000)
        return self.emulator.schedule_job_instance(self.job, plan_time)

    def set_lag(self, seconds: float) -> None:
        factory = self.emulator.state.factory
        with self.emulator.state.lock:
            factory.jobs[self.job].list_lag = seconds


class ScriptKind(Kind):
    """Scripts: DataArts lists no script instances, so a lost answer is never adopted (it fails)."""

    name = "script"
    post_path = "/execute"
    stop_path = "/stop"
    result_key = ""
    announce_key = "instance_id"

    def __init__(self, emulator: DataArtsEmulator, job: str) -> None:
        super().__init__(emulator, job)
        emulator.add_script(job, run_seconds=LONG_RUN, launch_seconds=0.0)

    def operator(self, **kwargs: Any) -> Any:
        from airflow_provider_dataarts.operators.script import DataArtsExecuteScriptOperator

        kwargs.pop("repair_on_retry", None)
        return DataArtsExecuteScriptOperator(task_id="run", script_name=self.job, **kwargs)

    def verdicts(self, attempt: Attempt) -> list[str]:
        import re

        if isinstance(attempt.result, dict) and attempt.result.get("instance_id"):
            return [str(attempt.result["instance_id"])]
        found = re.search(r"instance (\S+) FAILED", str(attempt.error or ""))
        return [found[1]] if found else []

    def instances(self) -> dict[str, tuple[bool, bool, str]]:
        state = self.emulator.state
        now = time.time()
        with state.lock:
            chosen = [i for i in state.script_instances.values() if i.script.name == self.job]
            return {
                i.id: (i.status(now) in ("LAUNCHING", "RUNNING"), i.stopped, i.status(now)) for i in chosen
            }

    def finish(self, instance_id: str, passed: bool) -> None:
        import dataclasses

        state = self.emulator.state
        with state.lock:
            instance = state.script_instances[instance_id]
            if instance.status(time.time()) not in ("LAUNCHING", "RUNNING"):
                return
            # The outcome is the script's: each instance gets its own copy of it.
            instance.script = dataclasses.replace(instance.script, outcome="FINISHED" if passed else "FAILED")
            instance.finish_at = instance.running_at = time.time() - 0.001

    def console_run(self) -> str:
        return self.emulator.state.execute_script(self.job, {}).id

    def set_lag(self, seconds: float) -> None:
        """Script instances are read one by one, never from a list: no lag."""


KINDS = {"quality": QualityKind, "job": JobKind, "script": ScriptKind}


# --- the machine ---------------------------------------------------------------------------------------


class LifecycleModel(RuleBasedStateMachine):
    emulator: DataArtsEmulator
    counter = 0

    def __init__(self) -> None:
        super().__init__()
        LifecycleModel.counter += 1
        self.job = f"model_job_{LifecycleModel.counter}_{int(time.time() * 1000) % 100_000}"
        self.emulator.clear_faults()
        self.ti = TaskInstanceModel()
        self.kind: Kind | None = None
        self.deferrable = False
        self.repair = False
        self.foreign: set[str] = set()
        self.lease_of_run: dict[str, int] = {}  # our runs: id -> the lease they were started under
        self.stops_allowed = False  # this step is a user's kill or an execution_timeout
        self.user_stop_expected: str | None = None
        self.pending: Attempt | None = None  # a deferred try waiting for its trigger
        self.trigger: Any = None
        self.trigger_instance: str | None = None
        self.lag = 0.0

    # --- set-up ------------------------------------------------------------------------------------

    @initialize(
        kind=st.sampled_from(sorted(KINDS)),
        deferrable=st.booleans(),
        repair=st.booleans(),
    )
    def choose(self, kind: str, deferrable: bool, repair: bool) -> None:
        self.kind = KINDS[kind](self.emulator, self.job)
        self.deferrable = deferrable
        self.repair = repair and kind == "job"
        self.note(f"kind={kind} deferrable={deferrable} repair_on_retry={self.repair}")

    def note(self, line: str) -> None:
        from hypothesis import note

        note(line)
        if os.environ.get("DATAARTS_MODEL_TRACE"):
            print(f"{time.monotonic():.2f} {line}", flush=True)

    # --- what the model knows of the emulator ------------------------------------------------------

    def adopt_new_runs(self) -> None:
        """Instances of the job that the model did not start from the console are ours: of this lease."""
        assert self.kind is not None
        for instance_id in self.kind.instances():
            if instance_id not in self.foreign and instance_id not in self.lease_of_run:
                self.lease_of_run[instance_id] = self.ti.lease

    def stop_requests(self) -> tuple[int, set[str]]:
        """What a step starts from: the lease, and the runs stopped so far."""
        assert self.kind is not None
        return self.ti.lease, {i for i, (_, stopped, _) in self.kind.instances().items() if stopped}

    def job_in(self, request: dict[str, Any]) -> bool:
        assert self.kind is not None
        return self.kind.name == "quality" or f"/{self.job}/" in request["path"]

    def record(self) -> dict[str, Any] | None:
        assert self.kind is not None
        key = f"dataarts_{self.kind.name}_run"
        value = self.ti.store.values.get(key)
        return value if isinstance(value, dict) else None

    # --- a try -------------------------------------------------------------------------------------

    def new_attempt(self) -> tuple[Attempt, Any, dict[str, Any]]:
        assert self.kind is not None
        self.ti.tries += 1
        self.ti.api_state = "running"
        attempt = Attempt(number=self.ti.tries)
        operator = self.kind.operator(
            deferrable=self.deferrable, poll_interval=POLL, cancel_on_kill=True, **self.repair_kwargs()
        )
        self.guard(operator, attempt)
        return attempt, operator, self.ti.context(attempt)

    def repair_kwargs(self) -> dict[str, Any]:
        return {"repair_on_retry": True} if self.repair else {}

    def guard(self, operator: Any, attempt: Attempt) -> None:
        """The try's requests: a dead try sends none; a timeout or a death during the POST lands here."""
        from airflow.providers.common.compat.sdk import AirflowTaskTimeout

        assert self.kind is not None
        transport = operator.hook.transport
        exchange = transport._exchange
        post_path = self.kind.post_path

        def guarded(step: Any) -> Any:
            attempt.alive()
            if attempt.timeout_armed:
                attempt.timeout_armed = False
                raise AirflowTaskTimeout("Timeout (execution_timeout, modelled)")
            is_post = step.request.method == "POST" and step.request.path.endswith(post_path)
            if is_post and attempt.kill_at_post == "before":
                attempt.killed = True
                raise TryKilled()
            answer = exchange(step)
            if is_post and attempt.kill_at_post == "after":
                attempt.killed = True
                raise TryKilled()
            attempt.alive()
            return answer

        transport._exchange = guarded

    def finish_attempt(self, attempt: Attempt, run: Any) -> None:
        """Run ``run()`` (execute or execute_complete) to its end, recording how it ended."""
        from airflow.providers.common.compat.sdk import (
            AirflowFailException,
            AirflowSkipException,
            AirflowTaskTimeout,
            TaskDeferred,
        )

        try:
            attempt.result = run()
            attempt.outcome = "success"
        except TaskDeferred as deferred:
            attempt.outcome = "deferred"
            attempt.error = deferred
        except TryKilled:
            attempt.outcome = "killed"
        except AirflowTaskTimeout as error:
            attempt.outcome, attempt.error = "timeout", error
        except AirflowFailException as error:
            attempt.outcome, attempt.error = "fail_no_retry", error
        except AirflowSkipException as error:
            attempt.outcome, attempt.error = "skipped", error
        except Exception as error:
            attempt.outcome, attempt.error = "failed", error

    def check_verdicts(self, attempt: Attempt) -> None:
        """Invariants 2, 3 and 6 on every verdict (the result XCom) a try pushed."""
        assert self.kind is not None
        self.adopt_new_runs()
        instances = self.kind.instances()
        for instance_id in self.kind.verdicts(attempt):
            assert instance_id not in self.foreign, (
                f"a verdict from a run this task did not start: {instance_id}"
            )
            assert instance_id in self.lease_of_run, f"a verdict from an unknown run {instance_id}"
            live, stopped, status = instances[instance_id]
            assert not live, f"a verdict from run {instance_id} still {status}"
            assert not stopped, f"a stopped run's status as a verdict: {instance_id} {status}"

    def conclude(self, attempt: Attempt) -> None:
        """What Airflow does with the try's end: a verdict ends the task; a failure is retried."""
        self.note(f"  try {attempt.number}: {attempt.outcome} {attempt.error!r:.200}")
        self.check_verdicts(attempt)
        if attempt.outcome in ("success", "fail_no_retry", "skipped"):
            self.ti.finished = True

    def wait_until_waiting(self, attempt: Attempt, thread: threading.Thread, seconds: float = 10.0) -> None:
        """Until the try waits on a run (its id pushed) or ended."""
        deadline = time.time() + seconds
        while thread.is_alive() and time.time() < deadline:
            if any(key == self.kind.announce_key for key, _ in attempt.pushes):  # type: ignore[union-attr]
                time.sleep(POLL * 2)  # at least one check of the run
                return
            time.sleep(0.005)

    def our_live_run(self) -> str | None:
        assert self.kind is not None
        self.adopt_new_runs()
        live = [
            i
            for i, (alive, _, _) in self.kind.instances().items()
            if alive and self.lease_of_run.get(i) == self.ti.lease
        ]
        return live[-1] if live else None

    # --- rules: between tries ----------------------------------------------------------------------

    def lost_window_open(self) -> bool:
        """
        A lost answer of this lease is still to be looked for, and its window is open: a foreign run
        now is the case docs/lifecycle.md names undecidable (adopted when the POST never arrived).
        """
        from airflow_provider_dataarts.lifecycle import stamp_window

        record = self.record()
        if not record or record.get("phase") != "submitting" or record.get("lease") != self.ti.lease:
            return False
        return time.time() * 1000 <= stamp_window(record.get("marker") or {"submitted_at": 0})[1] + 1000

    # Preconditions read only what the drawn steps decide (the kind), never what a try's timing
    # decides (whether it ended, deferred): Hypothesis replays a sequence and needs the same rules
    # to apply. A rule that does not apply now is a no-op.
    @precondition(lambda self: self.kind is not None)
    @rule(
        event=st.sampled_from(
            [
                "console_run",
                "scheduled_run",
                "foreign_runs_pass",
                "foreign_runs_fail",
                "clear",
                "lag:0",
                "lag:short",
                "lag:long",
            ]
        )
    )
    def between_tries(self, event: str) -> None:
        """What happens while no try runs: a console run, foreign runs end, a clear, the list's lag."""
        if self.pending is not None:
            return
        if event in ("console_run", "scheduled_run"):
            if not self.lost_window_open():
                self.console_run(scheduled=event == "scheduled_run")
        elif event.startswith("foreign_runs_"):
            self.a_foreign_run_ends(event == "foreign_runs_pass")
        elif event == "clear":
            self.clear()
        elif not self.answer_pending():
            self.list_lag({"lag:0": 0.0, "lag:short": GRACE / 3, "lag:long": GRACE * 4}[event])

    def console_run(self, scheduled: bool = False) -> None:
        """Someone runs the same job from the console, or its schedule does."""
        assert self.kind is not None
        self.adopt_new_runs()
        instance_id = self.kind.scheduled_run() if scheduled else self.kind.console_run()
        self.foreign.add(instance_id)
        self.note(f"console run {instance_id}")

    def a_foreign_run_ends(self, passed: bool) -> None:
        assert self.kind is not None
        for instance_id in sorted(self.foreign):
            self.kind.finish(instance_id, passed)

    def answer_pending(self) -> bool:
        record = self.record()
        return bool(record) and record.get("phase") == "submitting"  # type: ignore[union-attr]

    def list_lag(self, lag: float) -> None:
        """
        The instance list lags behind new runs, shorter or longer than the grace. Not while a lost
        answer's run is to be found: ``not_listed_grace`` is the bound on the lag that the search
        relies on (docs/lifecycle.md); a longer lag is met only by runs whose id is known.
        """
        assert self.kind is not None
        self.kind.set_lag(lag)
        self.lag = lag
        self.note(f"list lag {lag}")

    def clear(self) -> None:
        """A user clears the task (not running): a new lease (max_tries changes)."""
        self.ti.lease += 2
        self.ti.finished = False
        self.note(f"clear: lease {self.ti.lease}")

    # --- rules: a try in a worker, or the start of a deferred one -----------------------------------

    @precondition(lambda self: self.kind is not None)
    @rule(
        answer=st.sampled_from(
            [
                "kept",
                "kept",
                "kept",
                "lost_before",
                "lost_after",
                "killed_before",
                "killed_after",
                "repair_refused",
            ]
        ),
        then=st.sampled_from(
            [
                "passes",
                "passes",
                "fails",
                "fails",
                "sigkill",
                "execution_timeout",
                *(f"sigterm:{s}" for s in USER_STATES),
                *(f"sigterm:{s}" for s in NOT_USER_STATES),
            ]
        ),
        stop_fails=st.booleans(),
        frozen=st.booleans(),
    )
    def a_try(self, answer: str, then: str, stop_fails: bool, frozen: bool) -> None:
        """
        One try. SIGTERM: ``on_kill`` runs in the try's main thread (the signal handler), so the
        try does nothing meanwhile; then, ``frozen``, it is gone, else it goes on for a moment
        before the supervisor's SIGKILL.
        """
        assert self.kind is not None
        if self.pending is not None:  # the try waits in the triggerer: the same event, there
            self.trigger_event(trigger_event_for(then), finished_first=False, stop_fails=stop_fails)
            return
        if self.ti.finished:  # only a clear goes on: a user clears the task, then the try
            self.clear()
        attempt, operator, context = self.new_attempt()
        self.note(
            f"try {attempt.number} (lease {self.ti.lease}): answer {answer}, then {then}, "
            f"stop fails {stop_fails}"
        )
        if answer != "kept" and self.lag > GRACE:  # see list_lag
            self.kind.set_lag(GRACE / 3)
            self.lag = GRACE / 3
            self.note("  (list lag within the grace for a lost answer)")
        if answer == "lost_before":  # a gateway 502: DataArts never acted
            self.emulator.inject("status", status=502, method="POST", path=self.kind.post_path)
        elif answer == "lost_after":  # DataArts acted, the answer was lost
            self.emulator.inject("reset", method="POST", path=self.kind.post_path, when="after")
        elif answer == "repair_refused":  # a repair's rerun refused (when this try repairs)
            self.emulator.inject("status", status=503, method="POST", path="/restart")
        elif answer.startswith("killed_"):
            attempt.kill_at_post = answer.removeprefix("killed_")
        thread = threading.Thread(
            target=self.finish_attempt, args=(attempt, lambda: operator.execute(context))
        )
        attempt.thread = thread
        stops_before = self.stop_requests()
        thread.start()
        self.wait_until_waiting(attempt, thread)
        self.emulator.clear_faults()
        self.adopt_new_runs()  # before a clear changes the lease
        if self.deferrable or not thread.is_alive():
            thread.join(30)
            self.after_try(attempt, stops_before, allowed=False)
            if attempt.outcome == "deferred":
                self.pending = attempt
                self.trigger = attempt.error.trigger  # type: ignore[union-attr]
                self.trigger_instance = self.trigger.instance_id
            return
        announced = [value for key, value in attempt.pushes if key == self.kind.announce_key]
        running = str(announced[-1]) if announced else None
        was_live = self.live(running)
        if stop_fails:
            self.emulator.inject("status", status=503, method="POST", path=self.kind.stop_path, count=50)
        allowed = False
        if then in ("passes", "fails"):
            if running:
                self.kind.finish(running, then == "passes")
        elif then == "sigkill":
            attempt.killed = True
        elif then == "execution_timeout":
            attempt.timeout_armed = True
            allowed = True
        else:
            state = then.removeprefix("sigterm:")
            self.ti.api_state = state
            attempt.frozen.set()
            operator.on_kill()
            if not frozen:  # the handler returned: the try goes on until the supervisor's SIGKILL
                attempt.frozen.clear()
                time.sleep(POLL * 5)
            attempt.killed = True
            allowed = state in USER_STATES
            if allowed:
                self.user_kill(state)
        thread.join(30)
        assert not thread.is_alive(), "the try never ended"
        self.emulator.clear_faults()
        if then.startswith("sigterm:") and then.removeprefix("sigterm:") in USER_STATES and was_live:
            self.check_user_stop(running, stop_fails)
        self.after_try(attempt, stops_before, allowed=allowed)

    def user_kill(self, state: str) -> None:
        """A user's clear (a new lease) or mark (the task ends)."""
        if state in ("restarting", "none"):
            self.ti.lease += 2
            self.ti.finished = False
        else:
            self.ti.finished = True

    def live(self, run: str | None) -> bool:
        assert self.kind is not None
        return run is not None and self.kind.instances().get(run, (False, False, ""))[0]

    def check_user_stop(self, run: str, stop_failed: bool) -> None:
        """Invariant 5: a user's kill stops the run that was live (unless DataArts refused the stop)."""
        assert self.kind is not None
        _live, stopped, status = self.kind.instances()[run]
        if not stop_failed:
            assert stopped, f"a user's kill left run {run} {status}"

    def after_try(self, attempt: Attempt, stops_before: tuple[int, set[str]], *, allowed: bool) -> None:
        self.check_no_stop(stops_before, allowed=allowed)
        self.conclude(attempt)

    # --- rules: a deferred try -------------------------------------------------------------------------

    def run_trigger(self, trigger: Any, seconds: float) -> dict[str, Any] | None:
        async def first_event() -> dict[str, Any] | None:
            events = trigger.run()
            try:
                event = await asyncio.wait_for(events.__anext__(), seconds)
                return dict(event.payload)
            except (TimeoutError, StopAsyncIteration):
                return None
            finally:
                await events.aclose()

        return asyncio.run(first_event())

    def rebuilt_trigger(self, **changes: Any) -> Any:
        """The trigger as a (re)starting triggerer builds it: from its serialized form."""
        import importlib

        classpath, kwargs = self.trigger.serialize()
        module, _, name = classpath.rpartition(".")
        return getattr(importlib.import_module(module), name)(**{**kwargs, **changes})

    def resume(self, event: dict[str, Any], stops_before: tuple[int, set[str]], allowed: bool) -> None:
        """The task resumes in a new try object on a worker: ``execute_complete``."""
        assert self.kind is not None and self.pending is not None
        attempt = self.pending
        operator = self.kind.operator(
            deferrable=True, poll_interval=POLL, cancel_on_kill=True, **self.repair_kwargs()
        )
        self.guard(operator, attempt)
        context = self.ti.context(attempt)
        self.finish_attempt(attempt, lambda: operator.execute_complete(context, event))
        self.pending = self.trigger = self.trigger_instance = None
        self.after_try(attempt, stops_before, allowed=allowed)

    @precondition(lambda self: self.kind is not None)
    @rule(
        then=st.sampled_from(
            [
                "passes",
                "fails",
                "triggerer_restart",
                "restart_across_deadline",
                "execution_timeout",
                "foreign_trigger",
                *(f"lost:{s}" for s in LOST_TRIGGER_STATES),
                *(f"cancel:{s}" for s in USER_STATES),
            ]
        ),
        finished_first=st.booleans(),
        stop_fails=st.booleans(),
    )
    def the_trigger(self, then: str, finished_first: bool, stop_fails: bool) -> None:
        if self.pending is not None:
            self.trigger_event(then, finished_first=finished_first, stop_fails=stop_fails)

    def trigger_event(self, then: str, *, finished_first: bool, stop_fails: bool) -> None:
        assert self.kind is not None and self.pending is not None
        self.note(f"trigger: {then}, finished first {finished_first}, stop fails {stop_fails}")
        run = self.trigger_instance
        stops_before = self.stop_requests()
        if stop_fails:
            self.emulator.inject("status", status=503, method="POST", path=self.kind.stop_path, count=50)
        try:
            if then in ("passes", "fails"):
                self.kind.finish(run, then == "passes")  # type: ignore[arg-type]
                event = self.run_trigger(self.rebuilt_trigger(), 10)
                assert event is not None, "no event from a finished run"
                self.emulator.clear_faults()
                self.resume(event, stops_before, allowed=False)
            elif then == "foreign_trigger":
                # A metadata database that reuses a deleted trigger's id (SQLite) hands the task
                # another task's trigger: its event is about a run this task did not start.
                foreign = self.kind.console_run()
                self.foreign.add(foreign)
                self.kind.finish(foreign, finished_first)
                event = self.run_trigger(self.rebuilt_trigger(instance_id=foreign), 10)
                assert event is not None, "no event from a finished run"
                self.emulator.clear_faults()
                self.resume(event, stops_before, allowed=False)
            elif then == "triggerer_restart":
                assert self.run_trigger(self.rebuilt_trigger(), POLL * 3) is None or True
                self.check_no_stop(stops_before)
            elif then in ("restart_across_deadline", "execution_timeout"):
                if finished_first:
                    self.kind.finish(run, True)  # type: ignore[arg-type]
                # The triggerer was down while the task's execution_timeout passed, or it passes now.
                passed = then == "restart_across_deadline"
                stop_at = time.time() + (-0.01 if passed else POLL * 3)
                event = self.run_trigger(self.rebuilt_trigger(stop_at=stop_at), 10)
                assert event is not None
                self.emulator.clear_faults()
                self.resume(event, stops_before, allowed=not finished_first)
            elif then.startswith("lost:"):  # cancelled by a triggerer that lost the trigger
                self.ti.api_state = then.removeprefix("lost:")
                self.trigger_on_kill()
                self.check_no_stop(stops_before)
                self.ti.api_state = "deferred"
            else:
                state = then.removeprefix("cancel:")
                was_live = self.live(run)
                self.ti.api_state = state
                self.trigger_on_kill()
                self.emulator.clear_faults()
                if run and was_live and not stop_fails:
                    self.check_user_stop(run, stop_fails)
                self.pending.outcome = "killed"
                self.pending = self.trigger = self.trigger_instance = None
                self.user_kill(state)
        finally:
            self.emulator.clear_faults()

    def trigger_on_kill(self) -> None:
        """The triggerer cancels the trigger: ``on_kill``, which asks the API server through its channel."""
        from airflow.sdk.execution_time import task_runner

        assert self.pending is not None
        trigger = self.rebuilt_trigger()
        trigger.task_instance = self.ti.context(self.pending)["ti"]
        missing = object()
        before = getattr(task_runner, "SUPERVISOR_COMMS", missing)
        task_runner.SUPERVISOR_COMMS = TriggererChannel(self.ti)
        try:
            asyncio.run(trigger.on_kill())
        finally:
            if before is missing:
                del task_runner.SUPERVISOR_COMMS
            else:
                task_runner.SUPERVISOR_COMMS = before

    def check_no_stop(self, stops_before: tuple[int, set[str]], *, allowed: bool = False) -> None:
        """
        Invariant 5: the runs stopped in a step. A foreign run: never. One of this task's: only on a
        user's kill or an execution_timeout (``allowed``), or one of a lease a user's clear ended.
        """
        lease, stopped_before = stops_before
        self.adopt_new_runs()
        for run in self.stop_requests()[1] - stopped_before:
            assert run not in self.foreign, f"a foreign run {run} was stopped"
            if self.lease_of_run.get(run) != lease:
                continue  # a run of a lease a clear ended: the clear is a user's action
            assert allowed, f"run {run} stopped, and no user's kill or execution_timeout asked for it"

    # --- invariants ----------------------------------------------------------------------------------

    @invariant()
    def one_live_run_per_lease(self) -> None:
        """Invariant 1, and 6: nothing runs twice in one lease."""
        if self.kind is None:
            return
        self.adopt_new_runs()
        live: dict[int, list[str]] = {}
        instances = self.kind.instances()
        for instance_id, (alive, _, _) in instances.items():
            if instance_id in self.lease_of_run and alive:
                live.setdefault(self.lease_of_run[instance_id], []).append(instance_id)
        for lease, runs in live.items():
            assert len(runs) <= 1, f"lease {lease} has {len(runs)} live runs: {runs}"
        for instance_id, (alive, stopped, status) in instances.items():
            lease = self.lease_of_run.get(instance_id)
            if lease is None or alive or stopped or status.lower() not in ("success", "finished"):
                continue
            runs = list(self.lease_of_run)  # in the order they appeared
            later = [i for i in runs[runs.index(instance_id) + 1 :] if self.lease_of_run[i] == lease]
            assert not later, f"lease {lease}: run(s) {later} started after run {instance_id} ended well"

    @invariant()
    def every_stop_recorded(self) -> None:
        """Invariant 4: the record never sends a later try to a run that was stopped."""
        if self.kind is None or self.pending is not None or self.ti.finished:
            return  # a finished task goes on only after a clear: a new lease
        record = self.record()
        if not record or record.get("phase") != "submitted" or record.get("lease") != self.ti.lease:
            return
        instance = self.kind.instances().get(str(record.get("instance_id")))
        if instance is not None:
            assert not instance[1], f"run {record['instance_id']} was stopped but its record says submitted"

    def teardown(self) -> None:
        self.emulator.clear_faults()
        if self.kind is not None:  # end every run, so that the next example's list stays short
            for instance_id, (alive, _, _) in self.kind.instances().items():
                if alive:
                    self.kind.finish(instance_id, True)


def profile() -> settings:
    chosen = PROFILES[os.environ.get("DATAARTS_MODEL", "suite")]
    return settings(
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=True,
        suppress_health_check=list(HealthCheck),
        **chosen,
    )


def test_the_lifecycle_keeps_its_promises_through_random_events(
    emulator: DataArtsEmulator, connect: Any
) -> None:
    # The lifecycle, not the request ceilings (tests/triggers/test_request_budget.py): no gateway
    # limits and no client budget, or thousands of examples wait on DataArts' 4 requests/s.
    emulator.set_limits(False)
    ceilings = dict.fromkeys(("quality", "factory", "factory_detail", "factory_v2"), 1000)
    connect("aksk", not_listed_grace=GRACE, max_retries=0, retry_wait=0.01, timeout=1.0, rate_limits=ceilings)
    LifecycleModel.emulator = emulator
    run_state_machine_as_test(LifecycleModel, settings=profile())
