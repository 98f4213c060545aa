"""
Waiting for a DataArts instance in a worker (operators, and sensors in poke or reschedule mode):
the durable record of one task instance, the deadline, and the checks that tell "not there yet"
and "DataArts unreachable" from a real answer. The triggers make the same decisions in
``triggers/``; the grace and the outage rule they share live in ``statuses`` and ``client.core``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowSensorTimeout

from airflow_provider_dataarts.statuses import not_listed_too_long

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_dataarts.exceptions import DataArtsAPIError
    from airflow_provider_dataarts.hooks.dataarts import DataArtsHook

Check = Callable[[], "dict[str, Any] | None"]


class TaskState:
    """
    What waiting has learnt in this task instance (an outage's start, since when an instance is
    not listed), kept in Airflow 3.3's ``task_state_store`` so that reschedules and retries go on
    with it, under the same lease as the run record (``lifecycle.lease_of``): a clear of this task
    starts afresh. Below Airflow 3.3 there is no store: it lives for one try only.
    """

    def __init__(self, context: Context, key: str, log: Any) -> None:
        self.key = key
        self.log = log
        self._store = context.get("task_state_store")
        from airflow_provider_dataarts.lifecycle import lease_of

        self.lease = lease_of(context)
        self.record: dict[str, Any] = {}
        self._loaded = False

    def load(self) -> dict[str, Any]:
        """The record an earlier try of this lease left (``{}`` if none), read once per try."""
        if self._loaded:
            return self.record
        self._loaded = True
        stored = self._store.get(self.key) if self._store is not None else None
        if not isinstance(stored, dict):
            return self.record
        if stored.get("lease") != self.lease:
            self.forget()
            return self.record
        self.record = {k: v for k, v in stored.items() if k != "lease"}
        return self.record

    def save(self, **fields: Any) -> None:
        self.record.update(fields)
        if self._store is not None:
            self._store.set(self.key, {**self.record, "lease": self.lease})

    def forget(self) -> None:
        self.record = {}
        if self._store is not None:
            self._store.delete(self.key)


def task_deadline(timeout: float | None) -> float | None:
    """The absolute time (epoch seconds) by which waiting must end, or None for no limit."""
    return None if timeout is None else time.time() + timeout


def wait_in_worker(
    check: Check,
    status_of: Callable[[dict[str, Any]], str | None],
    finished: Callable[[str | None], bool],
    *,
    what: str,
    poll_interval: float,
    deadline: float | None,
    log: Any,
) -> dict[str, Any]:
    """
    Call ``check`` every ``poll_interval`` until ``finished(status)``; return that last answer.

    ``check`` returns None for "nothing to report yet" (not listed, DataArts unreachable: it logs
    that itself). Logs each new status once, and raises ``AirflowSensorTimeout`` rather than
    sleeping past ``deadline``.
    """
    last_status: str | None = None
    while True:
        answer = check()
        if answer is not None:
            status = status_of(answer)
            if status != last_status:
                log.info("DataArts %s is %s", what, status)
                last_status = status
            if finished(status):
                return answer
        if deadline is not None and time.time() + poll_interval > deadline:
            raise AirflowSensorTimeout(f"DataArts {what} still {last_status or 'not seen'} at the deadline")
        time.sleep(poll_interval)


def deadline_passed(error: BaseException, what: str) -> AirflowSensorTimeout:
    """The timeout a check that ran out of time raises (retries inside the check included)."""
    return AirflowSensorTimeout(f"DataArts {what}: the task's timeout passed ({error})")


def tolerate_outage(
    state: TaskState, error: DataArtsAPIError, tolerance: float, log: Any, poll_interval: float | None = None
) -> bool:
    """
    Whether a failed check is part of an outage that is still tolerated (then keep waiting).

    The same rule as the triggers' (``client.core.is_transient`` and ``Outage``, with its backoff
    from ``poll_interval``), with the outage kept in the task's durable state, so that the next
    poke, a reschedule or a retry continues it and its backoff.
    """
    from airflow_provider_dataarts.client.core import Outage, is_transient

    if not is_transient(error):
        return False
    outage = Outage.from_dict(state.record.get("outage"), tolerance)
    tolerated = outage.failed(error, time.time(), log, poll_interval)
    state.save(outage=outage.to_dict())
    if not tolerated:
        log.error(
            "DataArts unreachable for %.0f s, longer than the outage tolerance (extra.outage_tolerance) "
            "of %.0f s",
            outage.lasted(time.time()),
            tolerance,
        )
    return tolerated


def reached(state: TaskState, log: Any) -> None:
    """A check got an answer: an outage (if any) is over."""
    from airflow_provider_dataarts.client.core import Outage

    if state.record.get("outage"):
        Outage.from_dict(state.record["outage"], 0.0).recovered(time.time(), log)
        state.save(outage=None)


def guarded(
    fetch: Check, hook: DataArtsHook, state: TaskState, what: str, log: Any, *, poll_interval: float
) -> Check:
    """
    ``fetch`` with the rules every worker-side check follows: past the deadline, a timeout; within
    an outage's tolerance, None (keep waiting), and while the outage's backoff runs (polls spread
    out, ``client.core.outage_backoff`` of ``poll_interval``) None without a request; any answer
    ends an outage.
    """
    from airflow_provider_dataarts.client.core import Outage
    from airflow_provider_dataarts.exceptions import DataArtsAPIError, DataArtsDeadlineExceeded

    def check() -> dict[str, Any] | None:
        outage = state.record.get("outage")
        if outage and Outage.from_dict(outage, 0.0).backing_off(time.time()):
            log.debug("DataArts %s: backing off during an outage, no request this poll", what)
            return None
        try:
            answer = fetch()
        except DataArtsDeadlineExceeded as error:
            raise deadline_passed(error, what) from error
        except DataArtsAPIError as error:
            if tolerate_outage(state, error, hook.config.outage_tolerance, log, poll_interval):
                return None
            raise
        reached(state, log)
        return answer

    return check


def within_not_listed_grace(
    fetch: Check,
    hook: DataArtsHook,
    state: TaskState,
    what: str,
    log: Any,
    *,
    started_after: int | None = None,
    not_listed: Callable[[DataArtsAPIError], bool] | None = None,
    saying: str = "is not listed yet",
) -> Check:
    """
    ``fetch`` of an instance DataArts may not list yet (its lists lag behind a start): None while
    ``fetch`` raises an error that ``not_listed`` accepts (default ``DataArtsInstanceNotFound``),
    until ``extra.not_listed_grace`` has passed since ``started_after`` (epoch ms) or the first miss
    (``statuses.not_listed_too_long``); then that error is raised. The first miss is kept in
    ``state``, so the grace survives reschedules and retries; an answer ends it.
    """
    from airflow_provider_dataarts.exceptions import DataArtsAPIError
    from airflow_provider_dataarts.hooks.dataarts import DataArtsInstanceNotFound

    def listed() -> dict[str, Any] | None:
        try:
            answer = fetch()
        except DataArtsAPIError as error:
            if not (not_listed(error) if not_listed else isinstance(error, DataArtsInstanceNotFound)):
                raise
            since = state.record.get("not_listed_since")
            if since is None:
                since = time.time()
                state.save(not_listed_since=since)
            if not_listed_too_long(since, started_after, time.time(), hook.config.not_listed_grace):
                raise
            log.info("DataArts %s %s", what, saying)
            return None
        if state.record.get("not_listed_since") is not None:
            state.save(not_listed_since=None)
        return answer

    return listed


def quality_instance_check(
    hook: DataArtsHook,
    state: TaskState,
    instance_id: str,
    hints: dict[str, Any],
    log: Any,
    *,
    poll_interval: float,
) -> Check:
    """
    A check of one quality instance: its overview, or None while it is not listed yet (a grace
    that survives reschedules and retries) or DataArts is unreachable (within the tolerance).
    When the grace runs out it raises ``DataArtsInstanceNotFound``.
    """
    what = f"quality instance {instance_id}"
    fetch = within_not_listed_grace(
        lambda: hook.get_quality_instance(instance_id, **hints),
        hook,
        state,
        what,
        log,
        started_after=hints.get("started_after"),
    )
    return guarded(fetch, hook, state, what, log, poll_interval=poll_interval)


def script_instance_check(
    hook: DataArtsHook,
    state: TaskState,
    script_name: str,
    instance_id: str,
    log: Any,
    *,
    poll_interval: float,
) -> Check:
    """A check of one script instance: its answer, or None while DataArts is unreachable."""
    return guarded(
        lambda: hook.get_script_instance(script_name, instance_id),
        hook,
        state,
        f"script {script_name} instance {instance_id}",
        log,
        poll_interval=poll_interval,
    )


def job_instance_check(
    hook: DataArtsHook,
    state: TaskState,
    job_name: str,
    instance_id: str,
    log: Any,
    *,
    poll_interval: float,
) -> Check:
    """
    A check of one Factory job instance: its detail with every node, or None while DataArts does not
    know it yet (the not-listed grace) or is unreachable (within the tolerance). Logs each node's
    status when it changes, and once what a person-waiting or unknown status means; both survive
    reschedules through ``state``. When the grace runs out, DataArts' not-found error is raised.
    """
    from airflow_provider_dataarts.client.jobs import INSTANCE_NOT_FOUND, error_code_is
    from airflow_provider_dataarts.results.job import NodeWatch
    from airflow_provider_dataarts.statuses import job_status_note

    what = f"job {job_name} instance {instance_id}"
    listed = within_not_listed_grace(
        lambda: hook.get_job_instance(job_name, instance_id),
        hook,
        state,
        what,
        log,
        not_listed=lambda error: error_code_is(error, INSTANCE_NOT_FOUND),
        saying="is not known yet",
    )

    def fetch() -> dict[str, Any] | None:
        detail = listed()
        if detail is None:
            return None
        watch = NodeWatch(state.record.get("nodes"))
        if watch.observe(detail, log):
            state.save(nodes=watch.seen)
        status = str(detail.get("status"))
        noted = list(state.record.get("noted") or [])
        note = job_status_note(status)
        if note and status not in noted:
            log.warning("DataArts %s: %s", what, note)
            state.save(noted=[*noted, status])
        return detail

    return guarded(fetch, hook, state, what, log, poll_interval=poll_interval)


def job_status_of(detail: dict[str, Any]) -> str | None:
    """The status the waits compare: ``forceSuccess``/``ignoreSuccess`` when those flags are set."""
    from airflow_provider_dataarts.statuses import JobStatus, flag_set, forced_success

    if not forced_success(detail):  # a flag on an instance still running is no verdict
        return detail.get("status")
    if flag_set(detail.get("forceSuccess")):
        return JobStatus.FORCE_SUCCESS
    return JobStatus.IGNORE_SUCCESS


def job_status_finished(status: str | None) -> bool:
    from airflow_provider_dataarts.statuses import is_job_terminal

    return is_job_terminal({"status": status})


def patch_data_check(
    hook: DataArtsHook,
    state: TaskState,
    name: str,
    submitted_at_ms: int | None,
    log: Any,
    *,
    poll_interval: float,
) -> Check:
    """
    A check of one PatchData run: its row (found by its exact name), or None while it is not listed
    yet (creation is asynchronous: a grace that survives reschedules and retries) or DataArts is
    unreachable (within the tolerance). When the grace runs out it raises ``DataArtsInstanceNotFound``.
    """
    from airflow_provider_dataarts.hooks.dataarts import DataArtsInstanceNotFound

    what = f"PatchData {name}"

    def fetch() -> dict[str, Any]:
        row = hook.find_patch_data(name)
        if row is None:
            raise DataArtsInstanceNotFound(
                f"DataArts does not list {what} {hook.config.not_listed_grace:g} s after its creation "
                "(extra.not_listed_grace)",
                status_code=404,
            )
        return row

    listed = within_not_listed_grace(fetch, hook, state, what, log, started_after=submitted_at_ms)
    return guarded(listed, hook, state, what, log, poll_interval=poll_interval)


def migration_submission_check(
    hook: DataArtsHook,
    state: TaskState,
    cluster_id: str,
    job_name: str,
    submission_id: str,
    log: Any,
    *,
    poll_interval: float,
    started_after: int | None = None,
) -> Check:
    """
    A check of one DataArts Migration submission, read from the job's history (the triggers' read):
    the submission, or None while it is not listed yet (the not-listed grace, kept in ``state``) or
    DataArts is unreachable (within the tolerance). When the grace runs out it raises
    ``DataArtsInstanceNotFound`` (an operator's retry then starts the job again).
    """
    from airflow_provider_dataarts.client.migration import pick
    from airflow_provider_dataarts.hooks.dataarts import DataArtsInstanceNotFound

    what = f"migration job {job_name} submission {submission_id}"

    def fetch() -> dict[str, Any]:
        found = pick(hook.list_migration_submissions(cluster_id, job_name), submission_id)
        if found is None:
            raise DataArtsInstanceNotFound(
                f"DataArts Migration job {job_name} has no submission {submission_id} in its history "
                f"{hook.config.not_listed_grace:g} s after it started (extra.not_listed_grace)",
                status_code=404,
            )
        return found

    listed = within_not_listed_grace(fetch, hook, state, what, log, started_after=started_after)
    return guarded(listed, hook, state, what, log, poll_interval=poll_interval)


def route_to_triggerer_queue(task: Any, triggerer_queue: str | None, log: Any) -> str | None:
    """
    Call right before ``task.defer(...)``: send the trigger to the triggerers started with
    ``airflow triggerer --queues QUEUE`` (Airflow 3.2+, ``[triggerer] queues_enabled = True``), so
    that one triggerer (one request budget) owns every DataArts wait. ``triggerer_queue`` is the
    task's argument, else ``[dataarts] triggerer_queue`` of the Airflow config; None: Airflow's
    default (the task's own ``queue`` when queues are enabled).

    Airflow gives a deferred task's trigger ``ti.task.queue``: the operator object of this try.
    Setting it here changes only where the trigger runs: the resumed task is queued from the task
    instance's row, which keeps the task's ``queue`` (its worker queue). Below Airflow 3.2, or with
    queues disabled, nothing changes and the log says so once. Returns the queue set, or None.
    """
    from airflow.providers.common.compat.sdk import conf

    queue = triggerer_queue or conf.get("dataarts", "triggerer_queue", fallback=None) or None
    if not queue:
        return None
    from airflow.triggers.base import BaseTrigger

    if not hasattr(BaseTrigger, "supports_triggerer_queue"):
        log.warning(
            "triggerer_queue %r is ignored: this Airflow (before 3.2) has no triggerer queues; the wait "
            "runs on any triggerer",
            queue,
        )
        return None
    if not conf.getboolean("triggerer", "queues_enabled", fallback=False):
        log.warning(
            "triggerer_queue %r is ignored: [triggerer] queues_enabled is False; the wait runs on any "
            "triggerer started without --queues",
            queue,
        )
        return None
    log.info("Deferring to the triggerers of queue %r", queue)
    task.queue = queue
    return queue
