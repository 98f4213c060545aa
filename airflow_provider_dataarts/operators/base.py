"""
One operator that starts a remote DataArts run and waits for its verdict: quality reruns, script
executions and Factory jobs are this lifecycle with different calls. What a try does with the run an
earlier try recorded is decided in ``lifecycle`` (the run record and ``decide``); this class carries
it out: submit, reconnect, adopt a lost answer's run, repair, wait (worker or triggerer), deliver,
and stop the run on an ``execution_timeout`` or a user's kill, never on a worker's shutdown.
"""

from __future__ import annotations

import dataclasses
import time
from abc import abstractmethod
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator, conf

from airflow_provider_dataarts.lifecycle import Phase
from airflow_provider_dataarts.statuses import DEFAULT_CONN_ID, positive_seconds
from airflow_provider_dataarts.waiting import TaskState, task_deadline

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow.sdk import Context

    from airflow_provider_dataarts.exceptions import DataArtsAPIError
    from airflow_provider_dataarts.hooks.dataarts import DataArtsHook
    from airflow_provider_dataarts.lifecycle import RunLedger, RunRecord
    from airflow_provider_dataarts.triggers.base import DataArtsPollingTrigger
    from airflow_provider_dataarts.waiting import Check

# The default of every DataArts operator's and sensor's ``deferrable``: Airflow's
# ``[operators] default_deferrable``, read when the module is imported (as Airflow's own operators do).
DEFAULT_DEFERRABLE = conf.getboolean("operators", "default_deferrable", fallback=False)
# The deferral's own timeout is a backstop only: the trigger itself sends a "timeout" event.
BACKSTOP = timedelta(seconds=60)
# How long a user's kill may spend asking DataArts to stop the run: the task runner's supervisor
# follows its SIGTERM (which calls on_kill) with SIGKILL 5 s later.
STOP_TIMEOUT = 3.5
# Beyond the list's lag, what finding a lost answer's run may take (its list reads).
ADOPTION_MARGIN = 30.0
# HTTP answers to a POST that starts a run which do not prove that nothing started: the gateway
# timed out or failed while the backend may have acted on it.
MAY_HAVE_STARTED_STATUS = frozenset({500, 502, 504})
# Error codes the API gateway answers with itself, before it forwards anything to DataArts (unknown
# API, authentication, throttling, IAM): whatever the HTTP status, the backend was not reached.
# APIG.0201 (502/504, "backend unavailable / timed out") is not one: the backend may have acted.
NOT_FORWARDED_CODES = frozenset({"APIG.0101", "APIG.0301", "APIG.0307", "APIG.0308", "APIG.0613"})


def may_have_started(error: DataArtsAPIError) -> bool:
    """Whether a failed POST that starts a run (rerun, execute) may have started it all the same."""
    from airflow_provider_dataarts.exceptions import DataArtsConnectionError

    if isinstance(error, DataArtsConnectionError):
        return error.may_have_arrived
    if error.error_code in NOT_FORWARDED_CODES:
        return False  # the gateway answered itself: nothing reached DataArts
    if error.status_code == 503 and not (error.error_code or "").startswith("APIG."):
        # Not the gateway's own 503: DataArts may have acted first (``client.core.should_retry``
        # never resends such a POST for the same reason).
        return True
    # A broken 2xx answer arrived from the service: the run started, only its id was lost.
    return error.malformed or error.status_code in MAY_HAVE_STARTED_STATUS


def dict_argument(value: Any, name: str, task_id: str) -> Any:
    """
    A parameter sent as a JSON object (a job's, script's or migration's parameters): a dict, None,
    or a template that renders one (``validate`` checks what it rendered). Anything else is refused
    when the DAG is parsed, naming the parameter.
    """
    if not isinstance(value, dict | str | type(None)):
        raise ValueError(f"{task_id}: {name} must be a dict, not {type(value).__name__}.")
    return value


class DataArtsRunOperator(BaseOperator):
    """
    An operator that starts one remote DataArts run and (optionally) waits for its verdict.

    :param dataarts_conn_id: The Airflow connection of type ``dataarts``. (templated)
    :param wait_for_completion: Wait for the run to finish.
    :param deferrable: Wait in the triggerer instead of a worker slot.
    :param triggerer_queue: The triggerer queue the deferred wait goes to (Airflow 3.2+ with
        ``[triggerer] queues_enabled``; default ``[dataarts] triggerer_queue``), so one triggerer
        can own every DataArts wait; ignored, with a warning, below 3.2.
    :param poll_interval: Seconds between status checks while waiting.
    :param timeout: Seconds to wait at most (``None``: no limit), retries of each check included.
    :param cancel_on_kill: Stop the remote run when a user kills the task while it waits (clear,
        mark failed, mark success), in the worker or deferred.
    """

    # Every operator's own fields come first: ``(..., *DataArtsRunOperator.template_fields)``.
    template_fields: Sequence[str] = ("dataarts_conn_id",)
    # task_state_store key of the run record; renaming it breaks in-flight retries.
    state_key: str
    what: str  # "quality instance", "script instance": for messages
    # The service the submission goes to (``client.core.base_url``): its clock bounds a lost answer.
    submit_service: str = "factory"

    def __init__(
        self,
        *,
        dataarts_conn_id: str = DEFAULT_CONN_ID,
        wait_for_completion: bool = True,
        deferrable: bool = DEFAULT_DEFERRABLE,
        poll_interval: float = 30.0,
        timeout: float | timedelta | None = None,
        cancel_on_kill: bool = True,
        triggerer_queue: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        # Where the deferred wait runs (Airflow 3.2+ triggerer queues): waiting.route_to_triggerer_queue.
        self.triggerer_queue = triggerer_queue
        self.dataarts_conn_id = dataarts_conn_id
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = positive_seconds(poll_interval, "poll_interval")
        self.timeout = None if timeout is None else positive_seconds(timeout, "timeout")
        self.cancel_on_kill = cancel_on_kill
        self._instance_id: str | None = None
        self._ledger: RunLedger | None = None
        self._record: RunRecord | None = None
        self._earlier_runs: list[str] = []
        self._context: Context | None = None
        self._state: TaskState | None = None

    @cached_property
    def hook(self) -> DataArtsHook:
        from airflow_provider_dataarts.hooks.dataarts import DataArtsHook

        return DataArtsHook(dataarts_conn_id=self.dataarts_conn_id)

    # --- what each operator supplies ----------------------------------------------------------

    @abstractmethod
    def validate(self, context: Context) -> None:
        """Check rendered parameters and the connection before any request (raise naming the field)."""

    @abstractmethod
    def submission(self, context: Context) -> dict[str, Any]:
        """
        What identifies the coming submission, saved before the POST (JSON-safe). A read made here
        only to improve recovery must not raise: without it the submission goes on.
        """

    @abstractmethod
    def submit(self, context: Context, marker: dict[str, Any]) -> str:
        """Send the POST that starts the run; its instance id."""

    @abstractmethod
    def recover(self, context: Context, marker: dict[str, Any]) -> str | None:
        """
        A submission's answer was lost: the one run it provably started (``lifecycle.in_window``,
        ``lifecycle.the_one_candidate``), None if surely none started; raise if it cannot tell.
        """

    def repair(self, context: Context, instance_id: str) -> str:
        """Rerun a failed instance from its failed node; the instance to wait for."""
        raise NotImplementedError(f"{type(self).__name__} cannot repair a run")

    repair_on_retry = False

    @abstractmethod
    def announce(self, context: Context, instance_id: str) -> None:
        """Push the instance id (and link) to XCom, so they survive a later failure."""

    @abstractmethod
    def wait(self, context: Context, instance_id: str) -> dict[str, Any]:
        """Wait in the worker until the instance is terminal (``wait_in_worker``); its last answer."""

    @abstractmethod
    def make_trigger(self, instance_id: str, end_time: float | None) -> DataArtsPollingTrigger:
        """The trigger that waits for the instance in the triggerer (with ``trigger_arguments``)."""

    # --- what the operators' calls share ------------------------------------------------------

    def push_link(self, context: Context, instance_id: str, url: str) -> None:
        """``announce``: push the id (``return_value``) and console link (``instance_url``) at once."""
        from airflow_provider_dataarts.links.dataarts import INSTANCE_URL_KEY

        context["ti"].xcom_push(key="return_value", value=instance_id)
        context["ti"].xcom_push(key=INSTANCE_URL_KEY, value=url)

    def _submitted_at(self) -> int | None:
        """When this run's submission was sent (epoch ms, our clock; a repair keeps it), if recorded."""
        submitted_at = self._record.marker.get("submitted_at") if self._record is not None else None
        return int(submitted_at) if submitted_at else None

    def worker_wait(
        self,
        check: Check,
        status_of: Callable[[dict[str, Any]], str | None],
        finished: Callable[[str | None], bool],
        what: str,
    ) -> dict[str, Any]:
        """``wait``: ``waiting.wait_in_worker`` at this task's poll interval, until the hook's deadline."""
        from airflow_provider_dataarts.waiting import wait_in_worker

        return wait_in_worker(
            check,
            status_of,
            finished,
            what=what,
            poll_interval=self.poll_interval,
            deadline=self.hook.deadline,
            log=self.log,
        )

    def trigger_arguments(self, end_time: float | None) -> dict[str, Any]:
        """``make_trigger``: what every trigger of an operator takes from the task."""
        return {
            "dataarts_conn_id": self.dataarts_conn_id,
            "poll_interval": self.poll_interval,
            "end_time": end_time,
            "cancel_on_kill": self.cancel_on_kill,
        }

    @abstractmethod
    def deliver(self, context: Context, instance_id: str, answer: dict[str, Any]) -> Any:
        """Collect the results of a terminal instance and decide; calls ``self.delivered()`` first."""

    @abstractmethod
    def stop(self, instance_id: str) -> None:
        """Ask DataArts to stop the run (bounded by ``STOP_TIMEOUT``)."""

    # --- the lifecycle ------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        from airflow.providers.common.compat.sdk import AirflowTaskTimeout

        from airflow_provider_dataarts.lifecycle import LEGACY_KEY, Action, RunLedger, decide

        self.validate(context)
        started = time.time()
        self._context = context
        self.hook.deadline = task_deadline(self.timeout)
        self._state = TaskState(context, f"{self.state_key}.waiting", self.log)
        ledger = self._ledger = RunLedger(context, self.state_key)
        record = ledger.load()
        # A run this task instance recorded before (any lease) is never a lost answer's candidate.
        self._earlier_runs = [record.instance_id] if record is not None and record.instance_id else []
        if record is not None and record.outcome == LEGACY_KEY:
            record = self._from_legacy(record)
        decision = decide(record, ledger.facts(repair_on_retry=self.repair_on_retry))
        instance_id: str | None = None
        try:
            if decision.action is Action.RECONNECT:
                self._record = record
                instance_id = decision.instance_id
                self.log.info("Reconnecting to DataArts %s %s: %s", self.what, instance_id, decision.why)
            elif decision.action is Action.ADOPT:
                assert record is not None
                self._record = record
                instance_id = self._adopt(context)
            elif decision.action is Action.REPAIR:
                assert record is not None
                assert decision.instance_id is not None
                self.log.info("Repairing DataArts %s %s: %s", self.what, decision.instance_id, decision.why)
                # The record says "repairing" only once DataArts accepted the rerun (``restarted``):
                # a rerun that failed leaves the failed verdict, and the next retry repairs again.
                self._record = record
                self._instance_id = decision.instance_id
                instance_id = self.repair(context, decision.instance_id)
                if self._record.phase is not Phase.SUBMITTED:  # an operator that does not call restarted()
                    self.restarted(decision.instance_id)
            else:
                if record is not None:
                    self.log.info("Starting a new run: %s", decision.why)
                if decision.stop_first:
                    self._stop_earlier_lease(decision.stop_first)
                elif decision.find_first:
                    assert record is not None
                    self._stop_earlier_unanswered(context, record)
            if not instance_id:
                instance_id = self._submit(context)
            self._instance_id = instance_id = str(instance_id)
            self.announce(context, instance_id)
            if not self.wait_for_completion:
                self._finish(passed=True)
                return instance_id
            if self.deferrable:
                from airflow_provider_dataarts.waiting import route_to_triggerer_queue

                route_to_triggerer_queue(self, self.triggerer_queue, self.log)
                self.defer(
                    trigger=self._trigger(instance_id, started),
                    method_name="execute_complete",
                    timeout=None if self.timeout is None else timedelta(seconds=self.timeout) + BACKSTOP,
                )
            return self._delivering(context, instance_id, lambda: self.wait(context, instance_id))
        except AirflowTaskTimeout:
            self._stop_run("execution_timeout")
            raise

    def restarted(self, instance_id: str, old_attempt_ended: Any = None) -> None:
        """
        ``repair`` calls this as soon as DataArts accepted the rerun: from then on the instance is
        this task's run again (a retry reconnects, an ``execution_timeout`` or a user's kill stops
        it). ``old_attempt_ended``: the failed attempt's end time (epoch ms), so that no wait takes
        the old attempt's status for the new one's.
        """
        assert self._ledger is not None
        assert self._record is not None
        self._instance_id = str(instance_id)
        self._record = self._ledger.save(self._record.repairing(old_attempt_ended))

    def is_running(self, instance_id: str) -> bool | None:
        """
        Whether the instance still runs, asked of DataArts (None: this operator cannot tell). Only
        a record left by 0.1.0 needs it: 0.1.0 reconnected to a run only while it ran.
        """
        return None

    def _from_legacy(self, record: RunRecord) -> RunRecord | None:
        """A 0.1.0 record: the run is reconnected to while it runs; a finished one is forgotten."""
        from airflow_provider_dataarts.exceptions import DataArtsAPIError

        assert self._ledger is not None
        assert record.instance_id is not None
        try:
            running = self.is_running(record.instance_id)
        except DataArtsAPIError as error:
            # Not knowing, the run is waited for rather than started a second time.
            self.log.warning("Could not read %s %s of 0.1.0: %s", self.what, record.instance_id, error)
            running = True
        self._ledger.forget_legacy()
        if running is False:
            self.log.info("The %s %s that 0.1.0 recorded has finished", self.what, record.instance_id)
            return None
        self.log.info("Taking over the %s %s that 0.1.0 started", self.what, record.instance_id)
        return self._ledger.save(dataclasses.replace(record, outcome=None))

    def _stop_earlier_lease(self, instance_id: str) -> None:
        """This task was cleared while its run went on: a clear is a user's kill, so it is stopped."""
        if not self.cancel_on_kill:
            self.log.info(
                "DataArts %s %s of before the clear is left running (cancel_on_kill=False)",
                self.what,
                instance_id,
            )
            return
        if self._stop(instance_id, "this task was cleared while it ran", time.time() + STOP_TIMEOUT):
            return
        from airflow.providers.common.compat.sdk import AirflowException

        from airflow_provider_dataarts.exceptions import DataArtsAPIError

        try:
            running = self.is_running(instance_id)
        except DataArtsAPIError as error:
            self.log.warning("Could not read DataArts %s %s: %s", self.what, instance_id, error)
            running = None
        if running is False:
            self.log.info(
                "DataArts %s %s of before the clear has ended: nothing to stop", self.what, instance_id
            )
            return
        raise AirflowException(
            f"DataArts {self.what} {instance_id}, started before this task was cleared, could not be "
            f"stopped and {'still runs' if running else 'may still run'}: no second run is started beside "
            "it. The retry asks again; stop it in DataArts, or set cancel_on_kill=False to leave it running."
        )

    def _stop_earlier_unanswered(self, context: Context, record: RunRecord) -> None:
        """
        This task was cleared while an earlier try's submission had no answer (its kill had no id
        to stop): the run it provably started is found as a lost answer is, and stopped before the
        new run starts. A search that cannot tell fails the try, naming the candidate.
        """
        if not self.cancel_on_kill:
            self.log.info(
                "An unanswered submission of before the clear is not looked for (cancel_on_kill=False)"
            )
            return
        self.log.info(
            "This task was cleared while an earlier try's submission was unanswered: looking for its run"
        )
        self._record = record
        found = self._adopt(context)
        if found:
            self._earlier_runs.append(found)
            self._stop_earlier_lease(found)

    def _trigger(self, instance_id: str, started: float) -> DataArtsPollingTrigger:
        """The trigger, with this try's ``execution_timeout`` (Airflow 3.3 does not bound deferrals by it)."""
        trigger = self.make_trigger(instance_id, self.hook.deadline)
        if self.execution_timeout is not None:
            trigger.stop_at = started + self.execution_timeout.total_seconds()
        return trigger

    def _submit(self, context: Context) -> str:
        from airflow_provider_dataarts.exceptions import DataArtsAPIError
        from airflow_provider_dataarts.lifecycle import RunRecord

        assert self._ledger is not None
        ledger = self._ledger
        unanswered = 0  # submissions whose answer was lost and that provably started nothing
        while True:
            marker = self.submission(context)
            if self._earlier_runs:
                marker["known"] = [*(marker.get("known") or []), *self._earlier_runs]
            marker.setdefault("submitted_at", int(time.time() * 1000))
            marker.setdefault("post_timeout_ms", int(self.hook.config.timeout * 1000))
            self._measured_skew(marker)
            # Saved before the POST: a try that dies before the answer adopts the run it started.
            self._record = record = ledger.save(RunRecord.submitting(ledger.lease, marker))
            try:
                instance_id = self.submit(context, marker)
            except DataArtsAPIError as error:
                if not may_have_started(error):
                    ledger.save(record.stopped("the submission was refused"))
                    raise
                self.log.warning("DataArts may have started the %s without saying so: %s", self.what, error)
                lost = self._measured_skew({**marker, "answer_lost_at": int(time.time() * 1000)})
                self._record = ledger.save(RunRecord.submitting(ledger.lease, lost))
                recovered = self._adopt(context)
                if recovered:
                    return recovered
                unanswered += 1
                if unanswered > self.hook.config.max_retries:
                    # Bounded like any retried call (extra.max_retries); the record still says
                    # "submitting", so Airflow's retry looks for it once more before it submits.
                    raise error
                self.log.warning("No %s was started by the lost submission; submitting again", self.what)
                continue
            self._record = ledger.save(record.submitted(instance_id))
            return instance_id

    def _measured_skew(self, marker: dict[str, Any]) -> dict[str, Any]:
        """Put in ``marker`` what the service's ``Date`` headers proved of its clock (``in_window``)."""
        skew_for = getattr(self.hook.transport, "skew_for", None)
        skew = skew_for(self.submit_service) if skew_for is not None else None
        if skew is not None:
            marker["skew_ms"] = list(skew)
        return marker

    def _adopt(self, context: Context) -> str | None:
        assert self._ledger is not None
        assert self._record is not None
        marker = dict(self._record.marker)
        # Finding the run takes the list's lag (``not_listed_grace`` after the POST's window),
        # whatever the wait's ``timeout``: a shorter timeout would never let it be adopted.
        deadline = self.hook.deadline
        if deadline is not None and marker.get("submitted_at"):
            self.hook.deadline = max(deadline, self._settled_at(marker) + ADOPTION_MARGIN)
        try:
            instance_id = self.recover(context, marker)
        finally:
            self.hook.deadline = deadline
        if instance_id:
            self.log.info(
                "Adopting DataArts %s %s, the one run the unanswered submission started",
                self.what,
                instance_id,
            )
            self._record = self._ledger.save(self._record.submitted(instance_id))
        return instance_id

    def _settled_at(self, marker: dict[str, Any]) -> float:
        """When the lists show what a lost answer's POST started: ``not_listed_grace`` after its window."""
        closed_ms = marker.get("answer_lost_at") or int(marker["submitted_at"]) + int(
            marker.get("post_timeout_ms") or 0
        )
        return int(closed_ms) / 1000 + self.hook.config.not_listed_grace

    def candidates_once_settled(
        self, marker: dict[str, Any], candidates: Callable[[], list[str]], looking: str, looked_for: str
    ) -> list[str]:
        """
        ``recover``: ``candidates()`` (the runs of the job started inside the POST's window and not
        known before it), read until the list has caught up (``_settled_at``), or sooner once there
        are several; past the task's deadline, ``AirflowSensorTimeout``. ``looking``: the log line
        (the seconds it may take are added), ``looked_for``: what the timeout says was looked for.
        """
        from airflow.providers.common.compat.sdk import AirflowSensorTimeout

        settled_at = self._settled_at(marker)
        self.log.info("%s (%.0f s)", looking, max(0.0, settled_at - time.time()))
        while True:
            found = candidates()
            now = time.time()
            if len(found) > 1 or now >= settled_at:
                return found
            deadline = self.hook.deadline
            if deadline is not None and now + 1 > deadline:
                raise AirflowSensorTimeout(
                    f"DataArts: the task's timeout passed while looking for {looked_for} "
                    f"(candidates so far: {', '.join(found) or 'none'})"
                )
            time.sleep(max(0.0, min(self.poll_interval, 5.0, settled_at - now)))

    def never_listed(self, error: Exception) -> bool:
        """Whether a wait ended because DataArts never listed the instance (the retry submits anew)."""
        from airflow_provider_dataarts.hooks.dataarts import DataArtsInstanceNotFound

        return isinstance(error, DataArtsInstanceNotFound)

    def _delivering(self, context: Context, instance_id: str, answer: Any) -> Any:
        """``deliver`` the answer (a callable that waits for it); an instance never listed is stopped."""
        from airflow.providers.common.compat.sdk import AirflowException

        from airflow_provider_dataarts.exceptions import DataArtsAPIError

        try:
            last = answer()
        except DataArtsAPIError as error:
            if self.never_listed(error):
                self._stop_unlisted()
            raise
        if self._record is not None and self._record.phase is Phase.STOPPED:
            # A user's kill stopped it while this try waited (on_kill): its status is no verdict.
            raise AirflowException(
                f"DataArts {self.what} {instance_id} was stopped ({self._record.outcome}); no verdict"
            )
        return self.deliver(context, instance_id, last)

    def delivered(self, passed: bool = True) -> None:
        """The verdict is being delivered (after its XCom, before it decides the try)."""
        self._finish(passed=passed)

    def _finish(self, *, passed: bool) -> None:
        if self._ledger is not None and self._record is not None and self._record.phase is not Phase.STOPPED:
            self._record = self._ledger.save(self._record.delivered(passed))

    def _forget_run(self, why: str) -> None:
        """Record the run stopped: only once DataArts accepted the stop (or it surely never ran)."""
        if self._ledger is not None and self._record is not None:
            self._record = self._ledger.save(self._record.stopped(why))

    def _stop_unlisted(self) -> None:
        """
        DataArts never listed the instance within ``not_listed_grace``: it is stopped all the same
        (its id is known), and recorded stopped once DataArts accepted that or said it has no such
        instance; otherwise the retry waits for it again rather than start a second run.
        """
        from airflow.providers.common.compat.sdk import AirflowFailException

        if self._instance_id is None or self._record is None or self._record.phase is not Phase.SUBMITTED:
            return
        if self._stop(self._instance_id, "never listed", time.time() + STOP_TIMEOUT, unknown_is_stopped=True):
            self._forget_run("never listed")
            # It may have run to its end before it was ever listed (the stop then changed nothing):
            # a retry would run it a second time. Found by tests/model/ (a lag beyond the grace).
            raise AirflowFailException(
                f"DataArts never listed {self.what} {self._instance_id} within extra.not_listed_grace "
                f"({self.hook.config.not_listed_grace:g} s); it was asked to stop, but it may have run "
                "already. This try fails without retry rather than run it a second time: check it in "
                "DataArts, raise not_listed_grace if the list lags that much, and clear the task."
            )

    def resume(self, context: Context, event: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
        """Back from the trigger: the validated event and the run record, ready for ``deliver``."""
        from airflow.providers.common.compat.sdk import AirflowTaskTimeout

        from airflow_provider_dataarts.lifecycle import RunLedger
        from airflow_provider_dataarts.results import validate_event

        self._context = context
        self._state = TaskState(context, f"{self.state_key}.waiting", self.log)
        self._ledger = RunLedger(context, self.state_key)
        self._record = self._ledger.load()
        self._refuse_foreign_event(event)
        if isinstance(event, dict) and event.get("instance_id"):
            self._instance_id = str(event["instance_id"])
        if isinstance(event, dict) and event.get("status") == "execution_timeout":
            # Recorded stopped only when the trigger's stop was accepted; otherwise (refused, not
            # confirmed, cancel_on_kill=False, an event from an older trigger) the retry reconnects.
            if event.get("stopped") is True:
                self._forget_run("execution_timeout")
            raise AirflowTaskTimeout(f"DataArts: {event.get('message')}")
        if isinstance(event, dict) and event.get("not_listed"):
            self._stop_unlisted()
        event = validate_event(event)
        self._instance_id = str(event["instance_id"])
        return self._instance_id, event

    def _refuse_foreign_event(self, event: Any) -> None:
        """
        An event about another run than the one this try's record waits for is never taken (its
        verdict, its stop). Airflow hands a task another task's trigger when the metadata database
        reuses the id of a deleted trigger (SQLite does; tests/system/test_lifecycle.py saw it under
        load): the old trigger goes on running and its event reaches the new task. The try fails
        with a retryable error, so the retry waits for its own run, which is left running.
        """
        from airflow.providers.common.compat.sdk import AirflowException

        from airflow_provider_dataarts.results import other_run

        ours = self._record.instance_id if self._record is not None else None
        theirs = other_run(event, ours)
        if theirs is None:
            return
        raise AirflowException(
            f"The triggerer delivered an event about DataArts {self.what} {theirs}, but this task waits "
            f"for {ours}: another run's verdict is not taken. Airflow gave this task another task's "
            "trigger (a metadata database that reuses deleted trigger ids, such as SQLite). "
            f"{self.what.capitalize()} {ours} is left running; the retry waits for it."
        )

    def _stop_run(self, why: str) -> None:
        """
        ``execution_timeout``: stop the run this try waits for (bounded) and record it stopped once
        DataArts accepted the stop, so the retry starts anew. A stop refused or unanswered, or
        ``cancel_on_kill=False``, leaves the record: the retry reconnects, never runs beside it.
        """
        if self._instance_id is None or self._record is None or self._record.phase is not Phase.SUBMITTED:
            return
        if not self.cancel_on_kill:
            self.log.info(
                "DataArts %s %s is left running (cancel_on_kill=False); the next try reconnects to it",
                self.what,
                self._instance_id,
            )
            return
        if self._stop(self._instance_id, why, time.time() + STOP_TIMEOUT):
            self._forget_run(why)

    def _stop(self, instance_id: str, why: str, deadline: float, *, unknown_is_stopped: bool = False) -> bool:
        """
        Ask DataArts to stop the run by ``deadline``; whether it accepted (with
        ``unknown_is_stopped``: or has no such instance). A failure is logged, not raised.
        """
        from airflow_provider_dataarts.exceptions import DataArtsAPIError

        what = f"DataArts {self.what} {instance_id}"
        waiting_until, self.hook.deadline = self.hook.deadline, deadline
        try:
            self.stop(instance_id)
        except DataArtsAPIError as error:
            if unknown_is_stopped and self.never_listed(error):
                self.log.info("%s is unknown to DataArts: nothing to stop", what)
                return True
            self.log.warning(
                "Could not stop %s (%s); it may still run: the next try waits for it", what, error
            )
            return False
        except Exception:
            self.log.exception("Could not stop %s; it may still run: the next try waits for it", what)
            return False
        finally:
            self.hook.deadline = waiting_until  # the wait (a cleared try's new run) keeps its own
        self.log.info("Stopped %s (%s, cancel_on_kill)", what, why)
        return True

    def on_kill(self) -> None:
        """
        SIGTERM while the task waits in a worker. A user's clear, mark or removal stops the run
        (``cancel_on_kill``) and records it stopped once DataArts accepted; a worker's shutdown
        (pod eviction, node drain) or a heartbeat timeout (the scheduler set the try up for retry)
        leaves it running, so that the retry reconnects. An ``execution_timeout`` was already
        handled by ``execute``. Everything fits in ``lifecycle.KILL_BUDGET``: the supervisor sends
        SIGKILL 5 s after its SIGTERM.
        """
        from airflow_provider_dataarts.lifecycle import KILL_BUDGET, KillReason, bounded, why_killed

        began = time.monotonic()
        record = self._record
        instance_id = self._instance_id
        if instance_id is None or record is None or record.phase is not Phase.SUBMITTED:
            return
        if not self.cancel_on_kill or self._context is None:
            return
        reason = why_killed(self._context, self.log)
        if reason is not KillReason.USER:
            self.log.warning(
                "Killed (%s): DataArts %s %s is left running; the next try reconnects to it",
                reason.value,
                self.what,
                instance_id,
            )
            return
        asked = time.monotonic() - began
        # Keep for the record's save as long as the state query took (the same channel).
        left = KILL_BUDGET - asked - min(asked, KILL_BUDGET / 4)
        if not self._stop(instance_id, reason.value, time.time() + min(STOP_TIMEOUT, max(0.5, left))):
            return
        ledger = self._ledger
        if ledger is not None:
            # In a thread, bounded: the signal may have interrupted the main thread inside the
            # channel to the supervisor that the save uses.
            done, saved = bounded(
                lambda: ledger.save(record.stopped(reason.value)), KILL_BUDGET - (time.monotonic() - began)
            )
            if done and not isinstance(saved, BaseException):
                self._record = saved
            else:
                self.log.warning("Could not record the stop of %s %s: %s", self.what, instance_id, saved)
