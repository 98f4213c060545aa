"""
One operator that starts a remote DataArts run and waits for its verdict: quality reruns, script
executions and Factory jobs are this lifecycle with different calls. What a try does with the run an
earlier try recorded is decided in ``lifecycle`` (the run record and ``decide``); this class carries
it out: submit, reconnect, adopt a lost answer's run, repair, wait (worker or triggerer), deliver,
and stop the run on an ``execution_timeout`` or a user's kill, never on a worker's shutdown.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator, conf

from airflow_provider_dataarts.statuses import DEFAULT_CONN_ID, positive_seconds
from airflow_provider_dataarts.waiting import TaskState, task_deadline

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_dataarts.exceptions import DataArtsAPIError
    from airflow_provider_dataarts.hooks.dataarts import DataArtsHook
    from airflow_provider_dataarts.lifecycle import RunLedger, RunRecord
    from airflow_provider_dataarts.triggers.base import DataArtsPollingTrigger

# The deferral's own timeout is a backstop only: the trigger itself sends a "timeout" event.
BACKSTOP = timedelta(seconds=60)
# How long a user's kill may spend asking DataArts to stop the run: the task runner's supervisor
# follows its SIGTERM (which calls on_kill) with SIGKILL 5 s later.
STOP_TIMEOUT = 3.5
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
    # A broken 2xx answer arrived from the service: the run started, only its id was lost.
    return error.malformed or error.status_code in MAY_HAVE_STARTED_STATUS


class DataArtsRunOperator(BaseOperator):
    """
    An operator that starts one remote DataArts run and (optionally) waits for its verdict.

    :param dataarts_conn_id: The Airflow connection of type ``dataarts``.
    :param wait_for_completion: Wait for the run to finish.
    :param deferrable: Wait in the triggerer instead of a worker slot.
    :param poll_interval: Seconds between status checks while waiting.
    :param timeout: Seconds to wait at most (``None``: no limit), retries of each check included.
    :param cancel_on_kill: Stop the remote run when a user kills the task while it waits (clear,
        mark failed, mark success), in the worker or deferred.
    """

    # task_state_store key of the run record; renaming it breaks in-flight retries.
    state_key: str
    what: str  # "quality instance", "script instance": for messages

    def __init__(
        self,
        *,
        dataarts_conn_id: str = DEFAULT_CONN_ID,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 30.0,
        timeout: float | timedelta | None = None,
        cancel_on_kill: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dataarts_conn_id = dataarts_conn_id
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = positive_seconds(poll_interval, "poll_interval")
        self.timeout = None if timeout is None else positive_seconds(timeout, "timeout")
        self.cancel_on_kill = cancel_on_kill
        self._instance_id: str | None = None
        self._ledger: RunLedger | None = None
        self._record: RunRecord | None = None
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
        """Wait in the worker until the instance is terminal; its last answer."""

    @abstractmethod
    def make_trigger(self, instance_id: str, end_time: float | None) -> DataArtsPollingTrigger:
        """The trigger that waits for the instance in the triggerer."""

    @abstractmethod
    def deliver(self, context: Context, instance_id: str, answer: dict[str, Any]) -> Any:
        """Collect the results of a terminal instance and decide; calls ``self.delivered()`` first."""

    @abstractmethod
    def stop(self, instance_id: str) -> None:
        """Ask DataArts to stop the run (bounded by ``STOP_TIMEOUT``)."""

    # --- the lifecycle ------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        from airflow.providers.common.compat.sdk import AirflowTaskTimeout

        from airflow_provider_dataarts.lifecycle import Action, RunLedger, decide

        self.validate(context)
        started = time.time()
        self._context = context
        self.hook.deadline = task_deadline(self.timeout)
        self._state = TaskState(context, f"{self.state_key}.waiting", self.log)
        ledger = self._ledger = RunLedger(context, self.state_key)
        record = ledger.load()
        decision = decide(record, ledger.facts(repair_on_retry=self.repair_on_retry))
        instance_id: str | None = None
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
            self._record = ledger.save(record.repairing())
            instance_id = self.repair(context, decision.instance_id)
        elif record is not None:
            self.log.info("Starting a new run: %s", decision.why)
        try:
            if not instance_id:
                instance_id = self._submit(context)
            self._instance_id = instance_id = str(instance_id)
            self.announce(context, instance_id)
            if not self.wait_for_completion:
                self._finish(passed=True)
                return instance_id
            if self.deferrable:
                self.defer(
                    trigger=self._trigger(instance_id, started),
                    method_name="execute_complete",
                    timeout=None if self.timeout is None else timedelta(seconds=self.timeout) + BACKSTOP,
                )
            return self._delivering(context, instance_id, lambda: self.wait(context, instance_id))
        except AirflowTaskTimeout:
            self._stop_run("execution_timeout")
            raise

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
        while True:
            marker = self.submission(context)
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
                self.log.warning("No %s was started by the lost submission; submitting again", self.what)
                continue
            self._record = ledger.save(record.submitted(instance_id))
            return instance_id

    def _measured_skew(self, marker: dict[str, Any]) -> dict[str, Any]:
        """Put in ``marker`` what the service's ``Date`` headers proved of its clock (``in_window``)."""
        skew = getattr(self.hook.transport, "skew_ms", None)
        if skew is not None:
            marker["skew_ms"] = list(skew)
        return marker

    def _adopt(self, context: Context) -> str | None:
        assert self._ledger is not None
        assert self._record is not None
        instance_id = self.recover(context, dict(self._record.marker))
        if instance_id:
            self.log.info(
                "Adopting DataArts %s %s, the one run the unanswered submission started",
                self.what,
                instance_id,
            )
            self._record = self._ledger.save(self._record.submitted(instance_id))
        return instance_id

    def never_listed(self, error: Exception) -> bool:
        """Whether a wait ended because DataArts never listed the instance (the retry submits anew)."""
        from airflow_provider_dataarts.hooks.dataarts import DataArtsInstanceNotFound

        return isinstance(error, DataArtsInstanceNotFound)

    def _delivering(self, context: Context, instance_id: str, answer: Any) -> Any:
        """``deliver`` the answer (a callable that waits for it); an instance never listed is stopped."""
        from airflow_provider_dataarts.exceptions import DataArtsAPIError

        try:
            last = answer()
        except DataArtsAPIError as error:
            if self.never_listed(error):
                self._forget_run("never listed")
            raise
        return self.deliver(context, instance_id, last)

    def delivered(self, passed: bool = True) -> None:
        """The verdict is being delivered (after its XCom, before it decides the try)."""
        self._finish(passed=passed)

    def _finish(self, *, passed: bool) -> None:
        if self._ledger is not None and self._record is not None:
            self._record = self._ledger.save(self._record.delivered(passed))

    def _forget_run(self, why: str) -> None:
        if self._ledger is not None and self._record is not None:
            self._record = self._ledger.save(self._record.stopped(why))

    def resume(self, context: Context, event: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
        """Back from the trigger: the validated event and the run record, ready for ``deliver``."""
        from airflow.providers.common.compat.sdk import AirflowTaskTimeout

        from airflow_provider_dataarts.lifecycle import RunLedger
        from airflow_provider_dataarts.results import validate_event

        self._context = context
        self._state = TaskState(context, f"{self.state_key}.waiting", self.log)
        self._ledger = RunLedger(context, self.state_key)
        self._record = self._ledger.load()
        if isinstance(event, dict) and event.get("status") == "execution_timeout":
            self._forget_run("execution_timeout")
            raise AirflowTaskTimeout(f"DataArts: {event.get('message')}")
        if isinstance(event, dict) and event.get("not_listed"):
            self._forget_run("never listed")
        event = validate_event(event)
        self._instance_id = str(event["instance_id"])
        return self._instance_id, event

    def _stop_run(self, why: str) -> None:
        """Stop the run this try waits for (bounded) and record it stopped: a retry starts anew."""
        from airflow_provider_dataarts.lifecycle import Phase

        if self._instance_id is None or self._record is None or self._record.phase is not Phase.SUBMITTED:
            return
        self._forget_run(why)
        if not self.cancel_on_kill:
            self.log.info(
                "DataArts %s %s is left running (cancel_on_kill=False)", self.what, self._instance_id
            )
            return
        self._stop(why)

    def _stop(self, why: str) -> None:
        """Ask DataArts to stop the run, bounded by ``STOP_TIMEOUT``; a failure is logged, not raised."""
        what = f"DataArts {self.what} {self._instance_id}"
        assert self._instance_id is not None
        self.hook.deadline = time.time() + STOP_TIMEOUT
        try:
            self.stop(self._instance_id)
        except Exception:
            self.log.exception("Could not stop %s; it may still run", what)
        else:
            self.log.info("Stopped %s (%s, cancel_on_kill)", what, why)

    def on_kill(self) -> None:
        """
        SIGTERM while the task waits in a worker. A user's clear or mark stops the run
        (``cancel_on_kill``); a worker's shutdown (pod eviction, node drain) leaves it running, so
        that the retry reconnects. An ``execution_timeout`` was already handled by ``execute``.
        """
        from airflow_provider_dataarts.lifecycle import KillReason, Phase, why_killed

        record = self._record
        if self._instance_id is None or record is None or record.phase is not Phase.SUBMITTED:
            return
        if not self.cancel_on_kill or self._context is None:
            return
        reason = why_killed(self._context, self.log)
        if reason is not KillReason.USER:
            self.log.warning(
                "Killed (%s): DataArts %s %s is left running; the next try reconnects to it",
                reason.value,
                self.what,
                self._instance_id,
            )
            return
        self._stop(reason.value)
