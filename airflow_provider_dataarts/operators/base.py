"""
The life of a remote DataArts run inside one Airflow task: submit it once, remember it across
worker deaths, forget it once its verdict is delivered, stop it when a user kills the task.

Both operators (quality rerun, script execution) are this one lifecycle with different calls; the
sensors share the durable waiting state and the deadline. The promise is README "Retries, clears
and kills":

- a try that finds a run recorded by an earlier try of the *same* lease reconnects to it;
- a clear (or a retry after a verdict) starts a new run: the record is forgotten when a verdict
  is delivered, and a record from before a clear belongs to another lease;
- a submission whose answer was lost is recovered, never silently sent twice;
- a user who kills the task (clear, mark failed/success) stops the remote run.
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
    from airflow_provider_dataarts.triggers.base import DataArtsPollingTrigger

# The deferral's own timeout is a backstop only: the trigger itself sends a "timeout" event.
BACKSTOP = timedelta(seconds=60)
# How long a user's kill may spend asking DataArts to stop the run: the task runner's supervisor
# follows its SIGTERM (which calls on_kill) with SIGKILL 5 s later.
STOP_TIMEOUT = 4.0
# HTTP answers to a POST that starts a run which do not prove that nothing started: the gateway
# timed out or failed while the backend may have acted on it.
MAY_HAVE_STARTED_STATUS = frozenset({500, 502, 504})


def may_have_started(error: DataArtsAPIError) -> bool:
    """Whether a failed POST that starts a run (rerun, execute) may have started it all the same."""
    from airflow_provider_dataarts.exceptions import DataArtsConnectionError

    if isinstance(error, DataArtsConnectionError):
        return error.may_have_arrived
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
        self._delivered = False
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
        """What identifies the coming submission, saved before the POST (JSON-safe)."""

    @abstractmethod
    def submit(self, context: Context, marker: dict[str, Any]) -> str:
        """Send the POST that starts the run; its instance id."""

    @abstractmethod
    def recover(self, context: Context, marker: dict[str, Any]) -> str | None:
        """A submission's answer was lost: the run it started, or None if surely none started."""

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
        self.validate(context)
        self.hook.deadline = task_deadline(self.timeout)
        state = self._state = TaskState(context, self.state_key, self.log)
        record = state.load()
        instance_id = record.get("instance_id")
        if record.get("repair") and getattr(self, "repair_on_retry", False):
            instance_id = self._repair(context, state, str(record["repair"]))
        elif instance_id:
            self.log.info(
                "Reconnecting to DataArts %s %s, started by an earlier try of this task",
                self.what,
                instance_id,
            )
        elif record:
            instance_id = self._recover(context, state)
        if not instance_id:
            instance_id = self._submit(context, state)
        self._instance_id = instance_id = str(instance_id)
        self.announce(context, instance_id)
        if not self.wait_for_completion:
            self.delivered()
            return instance_id
        if self.deferrable:
            self.defer(
                trigger=self.make_trigger(instance_id, self.hook.deadline),
                method_name="execute_complete",
                timeout=None if self.timeout is None else timedelta(seconds=self.timeout) + BACKSTOP,
            )
        return self.deliver(context, instance_id, self.wait(context, instance_id))

    def _submit(self, context: Context, state: TaskState) -> str:
        from airflow_provider_dataarts.exceptions import DataArtsAPIError

        while True:
            marker = self.submission(context)
            state.save(phase="submitting", marker=marker)  # before the POST: a lost answer is found again
            try:
                instance_id = self.submit(context, marker)
            except DataArtsAPIError as error:
                if not may_have_started(error):
                    state.forget()  # nothing started: a retry may submit again
                    raise
                self.log.warning("DataArts may have started the %s without saying so: %s", self.what, error)
                recovered = self._recover(context, state)
                if recovered:
                    return recovered
                self.log.warning("No %s was started by the lost submission; submitting again", self.what)
                continue
            state.save(phase="submitted", instance_id=instance_id)
            return instance_id

    def _recover(self, context: Context, state: TaskState) -> str | None:
        instance_id = self.recover(context, dict(state.record.get("marker") or {}))
        if instance_id:
            self.log.info(
                "Adopting DataArts %s %s, started by the unanswered submission", self.what, instance_id
            )
            state.save(phase="submitted", instance_id=instance_id)
        return instance_id

    def delivered(self, repairable: str | None = None) -> None:
        """
        The verdict is being delivered: forget the run, so a retry or clear starts a new one; or,
        with ``repairable`` (a failed job instance, ``repair_on_retry``), remember it for the retry.
        """
        self._delivered = True
        if self._state is not None:
            self._state.forget()
            if repairable:
                self._state.save(phase="delivered", repair=repairable)

    # --- repair on retry (Factory jobs); the lead moves this into the run lifecycle (#15) -------------

    def repair(self, context: Context, instance_id: str) -> str:
        """Rerun a failed run in place on a retry; the instance id to wait for. Jobs only."""
        raise NotImplementedError(f"{type(self).__name__} cannot repair a run")

    def _repair(self, context: Context, state: TaskState, failed_id: str) -> str:
        # Recorded first: should this try die while repairing, the next reconnects to the instance
        # (and, if the rerun never happened, delivers its failure again and repairs on its retry).
        state.save(phase="repairing", instance_id=failed_id, repair=None)
        instance_id = self.repair(context, failed_id)
        state.save(phase="submitted", instance_id=instance_id)
        return instance_id

    def resume(self, context: Context, event: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
        """Back from the trigger: the validated event and the run's state, ready for ``deliver``."""
        from airflow_provider_dataarts.results import validate_event

        self._state = TaskState(context, self.state_key, self.log)
        self._state.load()
        event = validate_event(event)
        self._instance_id = str(event["instance_id"])
        return self._instance_id, event

    def on_kill(self) -> None:
        """A user killed the task (clear, mark failed or success) while it waited: stop the run."""
        if self._instance_id is None or self._delivered or not self.cancel_on_kill:
            return
        self.hook.deadline = time.time() + STOP_TIMEOUT
        try:
            self.stop(self._instance_id)
        except Exception:
            self.log.exception(
                "Could not stop DataArts %s %s; it may still run", self.what, self._instance_id
            )
        else:
            self.log.info("Stopped DataArts %s %s (cancel_on_kill)", self.what, self._instance_id)
