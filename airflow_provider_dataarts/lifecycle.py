"""
The run record: what one task instance remembers of the remote run it started, and the one
decision every try of an operator makes from it (docs "Retries, clears and kills").

A record is a small state machine, one frozen value per phase::

    SUBMITTING --answer--> SUBMITTED --verdict--> DELIVERED
        |                      |
        +--(lost answer)       +--(execution_timeout, user's kill, never listed)--> STOPPED

It lives in Airflow 3.3's ``task_state_store`` under the operator's key, with a *lease*: the task
instance's ``max_tries``. A retry keeps ``max_tries``; every clear of this task changes it (Airflow
sets it to ``try_number + retries``, for a running task too); a clear of *another* task of the DAG
run changes nothing of this task instance. A record of another lease is from before a clear of this
task and is never resumed. Below 3.3 there is no store: the record lives for one try only.

Only ``RunLedger`` reads and writes the record; only ``decide`` turns it into what a try does.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import Context


class Phase(enum.StrEnum):
    SUBMITTING = "submitting"  # the POST that starts the run is (or was) on its way; no answer yet
    SUBMITTED = "submitted"  # DataArts answered with the instance id: the run is ours
    STOPPED = "stopped"  # we stopped it (execution_timeout, a user's kill) or it was never listed
    DELIVERED = "delivered"  # its verdict went to XCom and decided the try


class Action(enum.StrEnum):
    SUBMIT = "submit"  # start a new run
    RECONNECT = "reconnect"  # wait for the recorded instance again
    ADOPT = "adopt"  # the answer was lost: find the one instance that submission started
    REPAIR = "repair"  # rerun the failed instance from its failed node (Factory jobs)


@dataclass(frozen=True)
class RunRecord:
    """One remote run of one task instance; transitions return the next record."""

    lease: int | None
    phase: Phase
    instance_id: str | None = None
    # What identifies the submission (job, time window, instances that existed before it).
    marker: dict[str, Any] = field(default_factory=dict)
    # DELIVERED: "passed" or "failed"; STOPPED: why.
    outcome: str | None = None

    @classmethod
    def submitting(cls, lease: int | None, marker: dict[str, Any]) -> RunRecord:
        return cls(lease=lease, phase=Phase.SUBMITTING, marker=dict(marker))

    def submitted(self, instance_id: str) -> RunRecord:
        return dataclasses.replace(self, phase=Phase.SUBMITTED, instance_id=str(instance_id))

    def stopped(self, why: str) -> RunRecord:
        return dataclasses.replace(self, phase=Phase.STOPPED, outcome=why)

    def delivered(self, passed: bool) -> RunRecord:
        return dataclasses.replace(self, phase=Phase.DELIVERED, outcome="passed" if passed else "failed")

    def repairing(self, old_attempt_ended: Any = None) -> RunRecord:
        """
        DataArts accepted the rerun of a failed run from its failed node: the same instance is ours
        again. ``old_attempt_ended``: the failed attempt's end time (epoch ms, DataArts' clock), kept
        in the marker as ``repaired_after`` so that no wait takes that attempt's status for the new one.
        """
        marker = dict(self.marker)
        if old_attempt_ended:
            marker["repaired_after"] = int(old_attempt_ended)
        return dataclasses.replace(self, phase=Phase.SUBMITTED, outcome=None, marker=marker)

    def to_json(self) -> dict[str, Any]:
        return {
            "lease": self.lease,
            "phase": self.phase.value,
            "instance_id": self.instance_id,
            "marker": self.marker,
            "outcome": self.outcome,
        }

    @classmethod
    def from_json(cls, stored: Any) -> RunRecord | None:
        """The stored record, or None for anything this version does not understand."""
        if not isinstance(stored, dict):
            return None
        try:
            phase = Phase(str(stored.get("phase")))
        except ValueError:
            return None
        instance_id = stored.get("instance_id")
        marker = stored.get("marker")
        return cls(
            lease=stored.get("lease"),
            phase=phase,
            instance_id=None if instance_id is None else str(instance_id),
            marker=marker if isinstance(marker, dict) else {},
            outcome=stored.get("outcome"),
        )

    def describe(self) -> str:
        if self.instance_id:
            return f"instance {self.instance_id} ({self.phase.value})"
        return "an unanswered submission"


@dataclass(frozen=True)
class Facts:
    """What this try knows besides the record."""

    lease: int | None
    # The operator can rerun a failed instance from its failed node and was asked to on a retry.
    repair_on_retry: bool = False


@dataclass(frozen=True)
class Decision:
    action: Action
    why: str
    instance_id: str | None = None
    # SUBMIT after a clear of this task: the earlier lease's run that may still be going. A clear is
    # a user's action: the run is stopped (``cancel_on_kill``) before the new one starts, should the
    # kill itself not have stopped it (no time left before SIGKILL, a triggerer that missed it).
    stop_first: str | None = None
    # SUBMIT after a clear while the earlier lease's submission was unanswered: the run it may have
    # started is looked for (as a lost answer is) and stopped before the new one starts.
    find_first: bool = False


def decide(record: RunRecord | None, facts: Facts) -> Decision:
    """What this try does with the run an earlier try of this task instance recorded."""
    if record is None:
        return Decision(Action.SUBMIT, "no earlier run of this task instance")
    if record.lease != facts.lease:
        return Decision(
            Action.SUBMIT,
            f"this task was cleared since an earlier try recorded {record.describe()}",
            stop_first=record.instance_id if record.phase is Phase.SUBMITTED else None,
            find_first=record.phase is Phase.SUBMITTING,
        )
    if record.phase is Phase.SUBMITTING:
        return Decision(Action.ADOPT, "the answer to an earlier try's submission was lost")
    if record.phase is Phase.SUBMITTED:
        # Also a run whose stop DataArts refused or did not confirm: it may be live, so it is
        # waited for again, never run beside.
        return Decision(Action.RECONNECT, "an earlier try of this task started it", record.instance_id)
    if record.phase is Phase.STOPPED:
        return Decision(Action.SUBMIT, f"the earlier run {record.instance_id} was stopped ({record.outcome})")
    if record.outcome == "failed" and facts.repair_on_retry and record.instance_id:
        return Decision(Action.REPAIR, "repair_on_retry: the earlier run failed", record.instance_id)
    return Decision(Action.SUBMIT, f"the earlier run {record.instance_id} delivered its verdict")


def lease_of(context: Context) -> int | None:
    """This task instance's lease: its ``max_tries``, which a retry keeps and a clear changes."""
    max_tries = getattr(context.get("ti"), "max_tries", None)
    return None if max_tries is None else int(max_tries)


# Where 0.1.0 kept the instance id of the run in flight (``task_state_store``).
LEGACY_KEY = "remote_job_id"


class RunLedger:
    """Reads and writes one task instance's run record (``task_state_store``, Airflow 3.3+)."""

    def __init__(self, context: Context, key: str) -> None:
        self.key = key
        self.lease = lease_of(context)
        self._store = context.get("task_state_store")

    def load(self) -> RunRecord | None:
        if self._store is None:
            return None
        return RunRecord.from_json(self._store.get(self.key)) or self._from_0_1(self._store.get(LEGACY_KEY))

    def _from_0_1(self, stored: Any) -> RunRecord | None:
        """
        A try that 0.1.0 started and a retry of this version resumes: 0.1.0 kept only the instance
        id, under ``remote_job_id``, with no lease, and left it there after the run finished. As
        0.1.0 did, the try reconnects to it only while it runs (the operator asks DataArts), and it
        is read once: ``outcome`` says where it came from.
        """
        if isinstance(stored, dict):
            stored = stored.get("instance_id") or stored.get("id")
        if not isinstance(stored, str | int) or isinstance(stored, bool) or not str(stored).strip():
            return None
        return RunRecord(
            lease=self.lease, phase=Phase.SUBMITTED, instance_id=str(stored).strip(), outcome=LEGACY_KEY
        )

    def forget_legacy(self) -> None:
        """The 0.1.0 record was taken over (or found finished): it is never read again."""
        if self._store is not None:
            self._store.delete(LEGACY_KEY)

    def save(self, record: RunRecord) -> RunRecord:
        if self._store is not None:
            self._store.set(self.key, record.to_json())
        return record

    def facts(self, *, repair_on_retry: bool = False) -> Facts:
        return Facts(lease=self.lease, repair_on_retry=repair_on_retry)


# --- a lost answer ---------------------------------------------------------------------------------
# "Provably ours" (docs/lifecycle.md, "A lost answer: what is provably ours"): an instance of this
# job, of a kind the submission makes, stamped by DataArts inside the POST's own window read on
# DataArts' clock, that the pre-POST list did not show; and the only one. Where the pre-POST list
# shows that others run this job by hand, even the only one is not adopted: the try fails naming it.

# How far DataArts' clock may be from ours when nothing measured it (no ``Date`` header seen): an
# instance stamped this close to the POST's window is a candidate.
CLOCK_MARGIN_MS = 30_000
# With a measured skew (the service's ``Date`` headers, ``client.sync.observed_skew``), what is added
# to its bounds: the stamp's own rounding and the clocks' drift between the measurement and the stamp.
MEASURED_MARGIN_MS = 500
# The oldest lost answer whose window is still looked for: the instance lists span 7 days at most.
MAX_MARKER_AGE_MS = 7 * 24 * 3600 * 1000


def window_of(marker: dict[str, Any]) -> tuple[int, int]:
    """The POST's own window on our clock, in ms: from just before it was sent until its answer was lost."""
    opened = int(marker["submitted_at"])
    closed = int(marker.get("answer_lost_at") or opened + int(marker.get("post_timeout_ms", 60_000)))
    return opened, closed


def stamp_window(marker: dict[str, Any]) -> tuple[int, int]:
    """
    The POST's window on DataArts' clock (ms): what an instance the POST started may be stamped with.
    Widened by the measured skew (``marker["skew_ms"]``: the bounds of DataArts' clock minus ours),
    or by ``CLOCK_MARGIN_MS`` both ways when nothing measured it.
    """
    opened, closed = window_of(marker)
    skew = marker.get("skew_ms")
    if isinstance(skew, list | tuple) and len(skew) == 2:
        low, high = int(skew[0]) - MEASURED_MARGIN_MS, int(skew[1]) + MEASURED_MARGIN_MS
    else:
        low, high = -CLOCK_MARGIN_MS, CLOCK_MARGIN_MS
    return opened + low, closed + high


def in_window(stamped_ms: Any, marker: dict[str, Any]) -> bool:
    """Whether an instance DataArts stamped at ``stamped_ms`` may have been started by this submission."""
    try:
        stamped = int(stamped_ms)
    except (TypeError, ValueError):
        return False
    opened, closed = stamp_window(marker)
    return opened <= stamped <= closed


def too_old(marker: dict[str, Any], now_ms: int) -> bool:
    """Whether a lost answer's window is beyond what the instance lists can show (7 days)."""
    if not marker.get("submitted_at"):
        return True
    return now_ms - window_of(marker)[0] > MAX_MARKER_AGE_MS


def the_one_candidate(candidates: list[str], what: str, others: list[str] | None = None) -> str | None:
    """
    Adopt exactly one candidate; none means nothing started; several cannot be told apart. ``others``:
    the instances of the same kind the pre-POST list showed (someone else runs this job): then even
    one candidate may be theirs, and is named, not adopted.
    """
    from airflow.providers.common.compat.sdk import AirflowFailException

    if len(candidates) > 1:
        raise AirflowFailException(
            f"The answer to this task's submission was lost, and {len(candidates)} {what}s started inside "
            f"its time window: {', '.join(candidates)}. Any of them may be this task's: check them in "
            "DataArts. This try fails without retry rather than report another run's verdict or start "
            "a second run; clear the task to start a new one."
        )
    if candidates and others:
        raise AirflowFailException(
            f"The answer to this task's submission was lost, and {what} {candidates[0]} started inside its "
            f"time window, but others run this job too (just before, {', '.join(others[:5])}): it may not "
            "be this task's. Check it in DataArts. This try fails without retry rather than report "
            "another run's verdict or start a second run; clear the task to start a new one."
        )
    return candidates[0] if candidates else None


def lost_too_long_ago(what: str) -> Exception:
    """A lost answer whose window the lists can no longer show (or a record without one)."""
    from airflow.providers.common.compat.sdk import AirflowFailException

    return AirflowFailException(
        f"The answer to an earlier try's {what} submission was lost, and its time window is older than "
        "the instance lists reach (or was not recorded): whether it started a run cannot be told. This "
        "try fails without retry rather than start a second run; check DataArts and clear the task to "
        "start a new one."
    )


# --- a kill: the user's, or a shutdown's ------------------------------------------------------------


class KillReason(enum.StrEnum):
    USER = "a user's clear, mark or removal"  # the API server changed the state first
    SHUTDOWN = "the worker is shutting down"  # SIGTERM (pod eviction, node drain): state still running
    LOST = "the scheduler took this try for lost (heartbeat timeout) or moved its wait"
    UNKNOWN = "the task instance's state could not be read"


# The task instance states a user's action leaves (the API server sets them before the supervisor,
# told so by its heartbeat, sends SIGTERM, or before the triggerer cancels the trigger): a clear
# (``restarting`` while running, none while deferred), a mark (``failed``, ``success``,
# ``skipped``), the task's removal from the DAG. Airflow's own heartbeat timeout leaves
# ``up_for_retry`` (``failed`` on the last try: indistinguishable from a mark, and then no try
# follows to watch the run, so it is stopped as for a mark); a trigger that another triggerer took
# over leaves ``deferred``; a retry or a resumed task already under way is ``scheduled``,
# ``queued`` or ``running``. See docs/lifecycle.md.
USER_STATES = frozenset({None, "restarting", "failed", "success", "skipped", "removed", "upstream_failed"})
STILL_OURS_STATES = frozenset({"running"})


def kill_reason(state: str | None) -> KillReason:
    """What the task instance's state on the API server says of a kill (one rule, worker and triggerer)."""
    if state in USER_STATES:
        return KillReason.USER
    if state in STILL_OURS_STATES:
        return KillReason.SHUTDOWN
    return KillReason.LOST


# The supervisor follows its SIGTERM with SIGKILL 5 s later. A user's kill does all it does within
# KILL_BUDGET: read the state (bounded by STATE_QUERY_TIMEOUT: an API server answering in 1.5 s is
# still heard), stop the run (what is left, at least 0.5 s), record the stop.
KILL_BUDGET = 4.6
STATE_QUERY_TIMEOUT = 2.0


def bounded(call: Any, seconds: float) -> tuple[bool, Any]:
    """
    Run ``call`` in a daemon thread for at most ``seconds``: (whether it ended, its result or
    exception). For calls through the task's channel to the supervisor from a signal handler,
    which may have interrupted the main thread inside that same channel.
    """
    import threading

    answers: list[Any] = []

    def run() -> None:
        try:
            answers.append(call())
        except Exception as error:  # the channel may be gone at shutdown
            answers.append(error)

    thread = threading.Thread(target=run, name="dataarts-bounded", daemon=True)
    thread.start()
    thread.join(max(0.0, seconds))
    return (True, answers[0]) if answers else (False, f"no answer in {seconds:.1f} s")


def state_key(task_id: str, map_index: Any) -> str:
    """The key of a task instance in ``get_task_states``' answer."""
    return task_id if map_index is None or map_index < 0 else f"{task_id}_{map_index}"


def why_killed(context: Context, log: Any) -> KillReason:
    """
    Why ``on_kill`` runs (SIGTERM to the task process): a user's clear or mark changes the task
    instance's state on the API server *before* the supervisor, told so by its heartbeat, sends the
    SIGTERM; a worker's shutdown forwards SIGTERM while the state is still ``running``; a heartbeat
    timeout sets the try ``up_for_retry`` first (``kill_reason``).

    Asked through the task's own channel to the API server (``get_task_states``), in a thread with a
    bound: the signal may have interrupted the main thread inside that channel.
    """
    ti = context.get("ti")
    ask = getattr(type(ti), "get_task_states", None)
    if ti is None or ask is None:
        return KillReason.UNKNOWN
    done, answer = bounded(
        lambda: ask(
            dag_id=ti.dag_id,
            task_ids=[ti.task_id],
            run_ids=[ti.run_id],
            map_index=getattr(ti, "map_index", None),
        ),
        STATE_QUERY_TIMEOUT,
    )
    if not done or isinstance(answer, BaseException) or not isinstance(answer, dict):
        log.warning("Could not read this task instance's state: %s", answer)
        return KillReason.UNKNOWN
    found = answer.get(ti.run_id) or {}
    key = state_key(ti.task_id, getattr(ti, "map_index", -1))
    if key not in found:
        log.warning("The API server does not list this task instance's state: %s", answer)
        return KillReason.UNKNOWN
    state = found[key]
    log.info("On kill, the API server says this task instance is %s", state)
    return kill_reason(state)
