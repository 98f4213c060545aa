"""Operator that runs a DataArts Factory job once and waits for its instance."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_dataarts.links.dataarts import DataArtsJobInstanceLink, DataArtsPatchDataLink
from airflow_provider_dataarts.operators.base import DEFAULT_DEFERRABLE, DataArtsRunOperator, dict_argument
from airflow_provider_dataarts.statuses import DEFAULT_CONN_ID, is_job_terminal

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_dataarts.lifecycle import RunRecord
    from airflow_provider_dataarts.triggers.job import DataArtsJobInstanceTrigger, DataArtsPatchDataTrigger


class DataArtsRunJobOperator(DataArtsRunOperator):
    """
    Run a DataArts Factory batch job once now, with parameters, and (by default) wait for it.

    Pushes the job instance id (``return_value``) and its console link (``instance_url``) right
    after the run starts. When it waits, pushes ``job_result`` (every node) as soon as the instance
    is terminal, then passes on ``success``, fails on ``fail``/``running-exception``/``manual-stop``
    naming the failed nodes (with a table of their log paths in the task log), and skips on
    ``skip-by-depend``. The log shows each node's status as it changes (while waiting in a worker).
    Retries, clears and kills follow docs/factory-jobs.md: a retry while the instance runs
    reconnects to it; a retry or clear after a verdict runs the job again, or with
    ``repair_on_retry`` a retry reruns the failed instance from its failed node; a run whose answer
    was lost is adopted only when exactly one instance is provably ours; a user who kills the
    waiting task stops the instance (``cancel_on_kill``).

    :param job_name: Name of the batch job in DataArts Factory. (templated)
    :param job_params: The job's parameters, a flat dict of names to strings, numbers or booleans,
        sent as ``jobParams``. (templated)
    :param dataarts_conn_id: The Airflow connection of type ``dataarts``. (templated)
    :param wait_for_completion: Wait for the instance to finish.
    :param deferrable: Wait in the triggerer instead of a worker slot.
    :param poll_interval: Seconds between status checks while waiting.
    :param timeout: Seconds to wait at most (``None``: no limit), retries of each check included.
    :param cancel_on_kill: Stop the instance when a user kills the waiting task.
    :param repair_on_retry: On a retry after a failed instance, rerun it from its failed node
        (DataArts' "rerun from the failed node") instead of starting a new run.
    """

    template_fields: Sequence[str] = ("job_name", "job_params", *DataArtsRunOperator.template_fields)
    template_fields_renderers = {"job_params": "json"}
    operator_extra_links = (DataArtsJobInstanceLink(),)
    ui_color = "#d9ecd0"
    state_key = "dataarts_job_run"
    what = "job instance"

    def __init__(
        self,
        *,
        job_name: str,
        job_params: dict[str, Any] | None = None,
        dataarts_conn_id: str = DEFAULT_CONN_ID,
        wait_for_completion: bool = True,
        deferrable: bool = DEFAULT_DEFERRABLE,
        poll_interval: float = 30.0,
        timeout: float | timedelta | None = None,
        cancel_on_kill: bool = True,
        repair_on_retry: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            dataarts_conn_id=dataarts_conn_id,
            wait_for_completion=wait_for_completion,
            deferrable=deferrable,
            poll_interval=poll_interval,
            timeout=timeout,
            cancel_on_kill=cancel_on_kill,
            **kwargs,
        )
        self.job_name = job_name
        self.job_params = dict_argument(job_params, "job_params", self.task_id)
        self.repair_on_retry = repair_on_retry

    # --- the lifecycle's calls ----------------------------------------------------------------

    def validate(self, context: Context) -> None:
        from airflow_provider_dataarts.client.jobs import job_params_body
        from airflow_provider_dataarts.client.operations import name_segment
        from airflow_provider_dataarts.exceptions import refused_without_retry

        with refused_without_retry(self.task_id):  # rendered now: refused before any record or request
            name_segment(self.job_name, "job_name")
            job_params_body(self.job_params)
        self.hook.config  # noqa: B018 - reads and validates the connection before any request

    def _instances_near(self, since_ms: int, until_ms: int | None = None) -> list[dict[str, Any]]:
        """This job's instances planned from ``since_ms`` to ``until_ms`` (now), widened by the clock skew."""
        from airflow_provider_dataarts.client.jobs import CLOCK_SKEW_MS

        until = int(time.time() * 1000) if until_ms is None else until_ms
        return list(
            self.hook.list_job_instances(
                self.job_name, min_plan_time=since_ms - CLOCK_SKEW_MS, max_plan_time=until + CLOCK_SKEW_MS
            )
        )

    def submission(self, context: Context) -> dict[str, Any]:
        from airflow_provider_dataarts.exceptions import DataArtsAPIError

        now_ms = int(time.time() * 1000)
        marker: dict[str, Any] = {"job_name": self.job_name, "submitted_at": now_ms}
        # The instances that exist before the run: they are never taken for ours.
        try:
            listed = self._instances_near(now_ms)
            marker["known"] = [str(item["instanceId"]) for item in listed]
            # Run by hand and not finished before this run: someone else runs this job now.
            marker["others"] = [
                str(item["instanceId"])
                for item in listed
                if is_run_by_hand(item) and not is_job_terminal(item)
            ]
        except DataArtsAPIError as error:
            self.log.warning(
                "Could not list job %s's instances before the run (%s); running it anyway. Should its "
                "answer be lost, no instance can be adopted for sure.",
                self.job_name,
                error,
            )
            marker["known"] = None
        return marker

    def submit(self, context: Context, marker: dict[str, Any]) -> str:
        from airflow_provider_dataarts.client.jobs import JOB_NOT_FOUND, NOT_BATCH, error_code_is
        from airflow_provider_dataarts.exceptions import DataArtsAPIError

        try:
            return self.hook.run_job(self.job_name, self.job_params)
        except DataArtsAPIError as error:
            # Permanent: a retry would get the same answer. Said in the DAG's terms, without retry.
            if error_code_is(error, JOB_NOT_FOUND):
                problem = "DataArts Factory has no job of that name in this workspace"
            elif error_code_is(error, NOT_BATCH):
                problem = (
                    "it is not a batch job (only batch jobs can be run once; real-time jobs run on their own)"
                )
            elif refused := run_immediate_refused(self.job_name, error):
                raise refused from error
            else:
                raise
            raise AirflowFailException(f"job_name {self.job_name!r}: {problem} ({error})") from error

    def recover(self, context: Context, marker: dict[str, Any]) -> str | None:
        """
        The run's answer was lost: wait out the list's lag (``not_listed_grace`` after the POST's
        window), then adopt the one instance of this job that is provably ours: run once (manual or
        one-off), submitted inside the POST's own window on DataArts' clock (``lifecycle.in_window``),
        not listed before the POST. None: run again. Several, or one while others run this job by
        hand: fail without retry, naming them. A window older than the lists reach: fail without retry.
        """
        from airflow_provider_dataarts.lifecycle import (
            in_window,
            lost_too_long_ago,
            stamp_window,
            the_one_candidate,
            too_old,
            window_of,
        )

        if too_old(marker, int(time.time() * 1000)):
            raise lost_too_long_ago(f"job {self.job_name}")
        ready_at = window_of(marker)[1] / 1000 + self.hook.config.not_listed_grace
        if self.hook.deadline is not None:
            ready_at = min(ready_at, self.hook.deadline)
        wait = ready_at - time.time()
        if wait > 0:
            self.log.info(
                "Waiting %.0f s (the instance list's lag, extra.not_listed_grace) before looking for the "
                "instance that the unanswered run may have started",
                wait,
            )
            time.sleep(wait)
        known = set(marker.get("known") or [])
        opened, closed = stamp_window(marker)
        listed = self._instances_near(opened, closed)
        if "skew_ms" not in marker:  # a record from before the measurement: measured now
            marker = self._measured_skew(dict(marker))
        candidates = [
            str(item["instanceId"])
            for item in listed
            if str(item["instanceId"]) not in known
            and is_run_by_hand(item)
            # Submit time on DataArts' clock (the plan time of a run-once instance is the same moment).
            and in_window(item.get("submitTime") or item.get("planTime"), marker)
        ]
        return the_one_candidate(sorted(candidates), f"job {self.job_name} instance", marker.get("others"))

    def announce(self, context: Context, instance_id: str) -> None:
        """Push the id and console link at once, so both survive a later failure."""
        from airflow_provider_dataarts.links.dataarts import job_instance_url

        url = job_instance_url(self.hook.config, self.job_name, instance_id)
        self.push_link(context, instance_id, url)
        self.log.info("DataArts job %s instance %s: %s", self.job_name, instance_id, url)

    def repair(self, context: Context, instance_id: str) -> str:
        """
        ``repair_on_retry``: rerun the failed instance from its failed node; the id to wait for (the
        same: a rerun keeps the instance id). Waits until DataArts shows the new attempt, so the old
        failure is never delivered again.
        """
        before = self.hook.get_job_instance(self.job_name, instance_id)
        self.hook.restart_job_instance(self.job_name, instance_id, retry_location="error_node")
        self.restarted(instance_id, before.get("endTime"))  # recorded only once DataArts accepted it
        self.log.info(
            "Repairing DataArts job %s instance %s: rerunning it from its failed node",
            self.job_name,
            instance_id,
        )
        give_up_at = time.time() + self.hook.config.not_listed_grace
        while is_job_terminal(
            after := self.hook.get_job_instance(self.job_name, instance_id)
        ) and _same_attempt(before, after):
            if time.time() > give_up_at:
                raise AirflowException(
                    f"DataArts job {self.job_name} instance {instance_id} still shows its old attempt "
                    f"{self.hook.config.not_listed_grace:g} s after the rerun from its failed node"
                )
            time.sleep(min(self.poll_interval, 2.0))
        return instance_id

    def never_listed(self, error: Exception) -> bool:
        from airflow_provider_dataarts.client.jobs import INSTANCE_NOT_FOUND, error_code_is
        from airflow_provider_dataarts.exceptions import DataArtsAPIError

        return isinstance(error, DataArtsAPIError) and error_code_is(error, INSTANCE_NOT_FOUND)

    def wait(self, context: Context, instance_id: str) -> dict[str, Any]:
        from airflow_provider_dataarts.waiting import job_instance_check, job_status_finished, job_status_of

        assert self._state is not None
        return self.worker_wait(
            job_instance_check(
                self.hook, self._state, self.job_name, instance_id, self.log, poll_interval=self.poll_interval
            ),
            job_status_of,
            job_status_finished,
            f"job {self.job_name} instance {instance_id}",
        )

    def make_trigger(self, instance_id: str, end_time: float | None) -> DataArtsJobInstanceTrigger:
        from airflow_provider_dataarts.triggers.job import DataArtsJobInstanceTrigger

        return DataArtsJobInstanceTrigger(
            job_name=self.job_name,
            instance_id=instance_id,
            # The instance's plan time is no earlier than its submission (a repair keeps both).
            planned_after=self._submitted_at(),
            repaired_after=self._record.marker.get("repaired_after") if self._record is not None else None,
            **self.trigger_arguments(end_time),
        )

    def deliver(self, context: Context, instance_id: str, answer: dict[str, Any]) -> str:
        """Push ``job_result`` and decide; ``return_value`` stays the instance id (DESIGN)."""
        from airflow_provider_dataarts.results.job import finish_job, is_old_attempt

        repaired_after = self._record.marker.get("repaired_after") if self._record is not None else None
        if is_old_attempt(answer, repaired_after):
            # DataArts still shows the attempt the repair reran: never its verdict; the retry
            # reconnects and waits for the new attempt.
            raise AirflowException(
                f"DataArts job {self.job_name} instance {instance_id} still shows the attempt before its "
                "rerun from the failed node; the next try waits for the new attempt"
            )
        finish_job(self.job_name, answer, context, log=self.log, delivered=self.delivered)
        return instance_id

    def stop(self, instance_id: str) -> None:
        self.hook.stop_job_instance(self.job_name, instance_id)

    def is_running(self, instance_id: str) -> bool | None:
        return not is_job_terminal(self.hook.get_job_instance(self.job_name, instance_id))

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        """Resume after the trigger: validate its event, then decide on the instance's nodes."""
        instance_id, event = self.resume(context, event)
        # dag.test() resumes without defer kwargs: the event carries what the resume needs.
        from airflow_provider_dataarts.results.job import job_detail_for

        job_name = str(event.get("job_name") or self.job_name)
        instance = event.get("instance") or self.hook.get_job_instance(job_name, instance_id)
        detail = job_detail_for(self.hook, job_name, instance)
        if not is_job_terminal(detail):
            raise AirflowException(f"DataArts trigger resumed on a running job instance: {event!r}")
        return self.deliver(context, instance_id, detail)


# instanceType of an instance run once (DOC-LIST): 2 manual (run-immediate, the console's "run"), 7
# one-off. A scheduled (0), PatchData (5) or sub-job (6) instance is never a run-immediate's.
RUN_BY_HAND_TYPES = frozenset({2, 7})


def is_run_by_hand(instance: dict[str, Any]) -> bool:
    """Whether an instance is of a kind ``run-immediate`` makes (manual or one-off)."""
    try:
        return int(instance.get("instanceType")) in RUN_BY_HAND_TYPES  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _same_attempt(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether a job instance still shows the attempt ``before`` (every node's start and retries alike)."""

    def attempt(detail: dict[str, Any]) -> list[tuple[Any, Any, Any]]:
        return [
            (n.get("nodeName"), n.get("startTime"), n.get("retryTimes")) for n in detail.get("nodes") or []
        ]

    return attempt(before) == attempt(after) and before.get("status") == after.get("status")


# Codes with which DataArts refuses run-immediate where it is not served (KESTRA, factory-jobs.md §2).
RUN_IMMEDIATE_REFUSED = frozenset({"DLF.3051", "APIGW.0101", "APIG.0101"})


def run_immediate_refused(job_name: str, error: Any) -> AirflowFailException | None:
    """The message for a ``run-immediate`` that DataArts refuses as a call, pointing to PatchData."""
    if getattr(error, "error_code", None) not in RUN_IMMEDIATE_REFUSED:
        return None
    return AirflowFailException(
        f"job_name {job_name!r}: DataArts refused to run the job once now (POST .../jobs/{job_name}/"
        f"run-immediate on {error.path or 'the Factory endpoint'}: {error}). Some regions do not serve "
        "run-immediate. For a job with a schedule, DataArtsPatchDataOperator runs it for the DAG run's "
        "data interval (DataArts PatchData), which is known to work there; otherwise check "
        "extra.factory_endpoint (run-immediate lives on dayu-dlf.{region})."
    )


class DataArtsPatchDataOperator(DataArtsRunOperator):
    """
    Run a scheduled DataArts Factory job (and ``depend_jobs``) for every slot of its schedule between
    two dates (DataArts "PatchData"), by default the DAG run's data interval, and wait for it: an
    Airflow backfill or a daily DAG run drives DataArts' own backfill of that interval.

    Pushes the PatchData name (``return_value``) and its console link (``instance_url``) right after
    the run is created. When it waits, pushes ``patch_data_result`` (the job instances it made, with
    plan time and status) as soon as the run is terminal, then passes on ``SUCCESS`` and fails on
    ``FAIL``/``CANCEL`` naming the plan times of the failed slots. A job without a schedule
    (``DLF.30111``) or dates DataArts cannot read (``DLF.30121``) fail the task at once, without retry.

    Retries, clears and kills follow docs/patchdata.md: the run is found again by its name, exactly
    (a lost answer too); a retry after ``execution_timeout`` or a verdict starts a new run under a
    new name; a user who kills the waiting task stops the run (``cancel_on_kill``).

    :param job_name: The scheduled job in DataArts Factory. (templated)
    :param from_date: The first slot's time: datetime, ISO text or epoch ms. (templated)
    :param to_date: The end of the range, exclusive (like Airflow's data interval). (templated)
    :param parallel: How many slots DataArts runs at once, 1 to 5.
    :param depend_jobs: Names of jobs the job depends on, to patch with it. (templated)
    :param stop_when_fail: Stop the run when a slot fails.
    :param patch_data_name: The run's name; default: derived from the task instance and its try,
        unique and valid for DataArts. A name given here must be new on every run. (templated)
    :param dataarts_conn_id: The Airflow connection of type ``dataarts``. (templated)
    :param wait_for_completion: Wait for the run to finish.
    :param deferrable: Wait in the triggerer instead of a worker slot.
    :param poll_interval: Seconds between status checks while waiting.
    :param timeout: Seconds to wait at most (``None``: no limit), retries of each check included.
    :param cancel_on_kill: Stop the run when a user kills the waiting task.
    """

    template_fields: Sequence[str] = (
        "job_name",
        "from_date",
        "to_date",
        "depend_jobs",
        "patch_data_name",
        *DataArtsRunOperator.template_fields,
    )
    operator_extra_links = (DataArtsPatchDataLink(),)
    ui_color = "#d9ecd0"
    state_key = "dataarts_patch_data"
    what = "PatchData run"
    submit_service = "factory_v2"

    def __init__(
        self,
        *,
        job_name: str,
        from_date: Any = "{{ data_interval_start }}",
        to_date: Any = "{{ data_interval_end }}",
        parallel: int = 1,
        depend_jobs: list[str] | None = None,
        stop_when_fail: bool = True,
        patch_data_name: str | None = None,
        dataarts_conn_id: str = DEFAULT_CONN_ID,
        wait_for_completion: bool = True,
        deferrable: bool = DEFAULT_DEFERRABLE,
        poll_interval: float = 30.0,
        timeout: float | timedelta | None = None,
        cancel_on_kill: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            dataarts_conn_id=dataarts_conn_id,
            wait_for_completion=wait_for_completion,
            deferrable=deferrable,
            poll_interval=poll_interval,
            timeout=timeout,
            cancel_on_kill=cancel_on_kill,
            **kwargs,
        )
        from airflow_provider_dataarts.client.patchdata import check_parallel
        from airflow_provider_dataarts.exceptions import DataArtsConfigError

        try:
            check_parallel(parallel)
        except DataArtsConfigError as error:
            raise ValueError(f"{self.task_id}: {error}") from None
        self.job_name = job_name
        self.from_date = from_date
        self.to_date = to_date
        self.parallel = parallel
        self.depend_jobs = depend_jobs
        self.stop_when_fail = stop_when_fail
        self.patch_data_name = patch_data_name

    # --- the lifecycle's calls ----------------------------------------------------------------

    def _depend_jobs(self) -> list[str]:
        jobs = self.depend_jobs
        if jobs is None or jobs == "":
            return []
        if isinstance(jobs, str):
            return [jobs]
        if not isinstance(jobs, list | tuple) or not all(isinstance(job, str) for job in jobs):
            raise ValueError(f"depend_jobs must be a list of job names, not {jobs!r}.")
        return list(jobs)

    def validate(self, context: Context) -> None:
        from airflow_provider_dataarts.client.core import segment
        from airflow_provider_dataarts.client.patchdata import check_name, wire_dates
        from airflow_provider_dataarts.exceptions import refused_without_retry

        # Rendered now: refused before any record or request (a date out of range is a ValueError).
        with refused_without_retry(self.task_id, ValueError):
            segment(self.job_name, "job_name")
            wire_dates(self.from_date, self.to_date)
            self._depend_jobs()
            if self.patch_data_name:
                check_name(self.patch_data_name)
        self.hook.config.require_workspace()  # the v2 Factory calls need the workspace header

    def _new_name(self, context: Context) -> str:
        from airflow_provider_dataarts.client.patchdata import check_name, default_name

        if self.patch_data_name:
            return check_name(self.patch_data_name)
        ti = context["ti"]
        assert self._ledger is not None
        return default_name(
            ti.dag_id,
            ti.task_id,
            ti.run_id,
            getattr(ti, "map_index", -1),
            self._ledger.lease,
            int(getattr(ti, "try_number", 1) or 1),
        )

    def _unfinished_name(self) -> str | None:
        """
        The name of this lease's submission that DataArts may still create (its answer lost, or not
        listed in time): submitting again under the same name, DataArts refuses a duplicate
        rather than run it twice.
        """
        from airflow_provider_dataarts.lifecycle import Phase

        assert self._ledger is not None
        earlier = self._record if self._record is not None else self._ledger.load()
        if earlier is None or earlier.lease != self._ledger.lease or not earlier.marker.get("name"):
            return None
        if earlier.phase is Phase.SUBMITTING or (
            earlier.phase is Phase.STOPPED and earlier.outcome == "never listed"
        ):
            return str(earlier.marker["name"])
        return None

    def _stop_earlier_unanswered(self, context: Context, record: RunRecord) -> None:
        """
        This task was cleared while an earlier lease's creation was unanswered (its answer lost, or
        being looked for): that run has a name though no id, so it is stopped by its name, as a
        recorded run is (``decide``'s ``stop_first``), before a run under a new name starts.
        """
        if record.marker.get("name"):
            self._stop_earlier_lease(str(record.marker["name"]))

    def submission(self, context: Context) -> dict[str, Any]:
        again = self._unfinished_name()
        name = again or self._new_name(context)
        if again:
            self.log.info(
                "Submitting PatchData %s again under the same name: DataArts refuses a duplicate", name
            )
        return {
            "name": name,
            "job_name": self.job_name,
            "submitted_at": int(time.time() * 1000),
            "resubmission": bool(again),
        }

    def submit(self, context: Context, marker: dict[str, Any]) -> str:
        from airflow_provider_dataarts.client.jobs import JOB_NOT_FOUND
        from airflow_provider_dataarts.client.patchdata import BAD_DATES, NO_SCHEDULE, error_code_is
        from airflow_provider_dataarts.exceptions import DataArtsAPIError

        name = str(marker["name"])
        try:
            self.hook.create_patch_data(
                name,
                self.job_name,
                self.from_date,
                self.to_date,
                parallel=self.parallel,
                depend_jobs=self._depend_jobs(),
                stop_when_fail=self.stop_when_fail,
            )
        except DataArtsAPIError as error:
            # Permanent: a retry would get the same answer. Said in the DAG's terms, without retry.
            jobs = ", ".join([self.job_name, *self._depend_jobs()])
            if error_code_is(error, NO_SCHEDULE):
                raise AirflowFailException(
                    f"job_name {self.job_name!r}: DataArts runs PatchData only for a job with a schedule "
                    f"(a cron, event or parent trigger), and {jobs} has none ({error}). Give the job a "
                    "schedule in DataArts Factory (it need not be started), or run it once with "
                    "DataArtsRunJobOperator."
                ) from error
            if error_code_is(error, BAD_DATES):
                raise AirflowFailException(
                    f"from_date {self.from_date!r} / to_date {self.to_date!r}: DataArts could not read the "
                    f"dates sent, or they are less than 2 s apart ({error}). Give from_date and to_date as "
                    "datetimes, ISO text or epoch ms, from_date before to_date."
                ) from error
            if error_code_is(error, JOB_NOT_FOUND):
                raise AirflowFailException(
                    f"job_name {self.job_name!r}: DataArts Factory has no job {jobs} in this workspace "
                    f"({error})"
                ) from error
            if marker.get("resubmission") and error.status_code == 400:
                return self._made_before(name, error)
            if self.patch_data_name and error.status_code == 400:
                with contextlib.suppress(DataArtsAPIError):  # the lookup only explains the refusal
                    self._created_by_this_submission(name, marker, refused=error)
            raise
        return name

    def _made_before(self, name: str, error: Exception) -> str:
        """
        DataArts refused a resubmission of ``name``: the earlier, unanswered submission made it
        (DataArts refuses a duplicate name) and it is listed soon; adopt it. Not listed within
        ``not_listed_grace``: fail without retry, rather than start a run under another name.
        """
        if self._listed_by(name, time.time() + self.hook.config.not_listed_grace):
            self.log.info(
                "DataArts refused PatchData %s as a duplicate: the earlier submission made it", name
            )
            return name
        raise AirflowFailException(
            f"DataArts refused to create PatchData {name} again ({error}), and does not list it: the "
            "earlier submission, whose answer was lost, may have made it all the same. Check the "
            "PatchData monitor in DataArts Factory. This try fails without retry so that the job is not "
            "patched twice; clear the task to start a new run under a new name."
        ) from error

    def _listed_by(self, name: str, ready_at: float) -> bool:
        """Look for ``name`` until ``ready_at`` (epoch seconds, within the task's deadline)."""
        if self.hook.deadline is not None:
            ready_at = min(ready_at, self.hook.deadline)
        while True:
            if self.hook.find_patch_data(name) is not None:
                return True
            if time.time() >= ready_at:
                return False
            time.sleep(max(0.0, min(self.poll_interval, 1.0, ready_at - time.time())))

    def recover(self, context: Context, marker: dict[str, Any]) -> str | None:
        """
        The create's answer was lost: look the run up by its name, exactly, until the list's lag
        (``not_listed_grace`` after the POST) is over. Found: adopt it. None: submit again under the
        same name, so that a late creation is refused as a duplicate rather than run twice.
        """
        name = marker.get("name")
        if not name:
            return None
        # From the moment the answer was lost (this try), else from the submission (an earlier try).
        posted = max(int(marker.get("submitted_at") or 0), int(marker.get("answer_lost_at") or 0))
        self.log.info("Looking for PatchData %s, whose creation was not answered", name)
        ready_at = posted / 1000 + self.hook.config.not_listed_grace
        if not self._listed_by(str(name), ready_at):
            return None
        if not marker.get("resubmission"):
            self._created_by_this_submission(str(name), marker)
        return str(name)

    def _created_by_this_submission(
        self, name: str, marker: dict[str, Any], refused: Exception | None = None
    ) -> None:
        """
        A run of that name submitted before this submission's window is another run's (a given
        ``patch_data_name`` used again): never adopted, its verdict is not this task's; and a
        creation DataArts ``refused`` for it fails without retry (every retry would be refused).
        """
        from airflow_provider_dataarts.lifecycle import stamp_window

        row = self.hook.find_patch_data(name) or {}
        try:
            submitted = int(row["submitted_date"])
        except (KeyError, TypeError, ValueError):
            return  # not stamped: the exact name is all there is to go by
        if submitted >= stamp_window(marker)[0]:
            return
        what = (
            f"DataArts refused to create it ({refused})" if refused else "the answer to its creation was lost"
        )
        raise AirflowFailException(
            f"patch_data_name {name!r}: {what}, and DataArts lists a "
            f"PatchData run of that name submitted before it (submitted_date {submitted}): another run's, "
            "not this task's. A given patch_data_name must be new for every run (template it on the run "
            "and try, or leave it unset). This try fails without retry; check DataArts and clear the task."
        )

    def announce(self, context: Context, instance_id: str) -> None:
        from airflow_provider_dataarts.links.dataarts import patch_data_url

        url = patch_data_url(self.hook.config, instance_id, self.job_name)
        self.push_link(context, instance_id, url)
        self.log.info("DataArts PatchData %s of job %s: %s", instance_id, self.job_name, url)

    def wait(self, context: Context, instance_id: str) -> dict[str, Any]:
        from airflow_provider_dataarts.client.patchdata import is_terminal
        from airflow_provider_dataarts.waiting import patch_data_check

        assert self._state is not None
        return self.worker_wait(
            patch_data_check(
                self.hook,
                self._state,
                instance_id,
                self._submitted_at(),
                self.log,
                poll_interval=self.poll_interval,
            ),
            lambda row: row.get("status"),
            is_terminal,
            f"PatchData {instance_id} of job {self.job_name}",
        )

    def make_trigger(self, instance_id: str, end_time: float | None) -> DataArtsPatchDataTrigger:
        from airflow_provider_dataarts.triggers.job import DataArtsPatchDataTrigger

        return DataArtsPatchDataTrigger(
            instance_id=instance_id,
            job_name=self.job_name,
            submitted_at=self._submitted_at(),
            **self.trigger_arguments(end_time),
        )

    def deliver(self, context: Context, instance_id: str, answer: dict[str, Any]) -> str:
        """Push ``patch_data_result`` and decide; ``return_value`` stays the PatchData name (DESIGN)."""
        from airflow_provider_dataarts.results.patchdata import finish_patch_data

        finish_patch_data(
            self.hook,
            self.job_name,
            [self.job_name, *self._depend_jobs()],
            answer,
            context,
            log=self.log,
            delivered=self.delivered,
        )
        return instance_id

    def stop(self, instance_id: str) -> None:
        self.hook.stop_patch_data(instance_id)

    def is_running(self, instance_id: str) -> bool | None:
        from airflow_provider_dataarts.client.patchdata import is_terminal

        row = self.hook.find_patch_data(instance_id)
        return None if not row else not is_terminal(row.get("status"))

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        """Resume after the trigger: validate its event, then read the job instances and decide."""
        from airflow_provider_dataarts.client.patchdata import is_terminal

        instance_id, event = self.resume(context, event)
        row = event.get("patch_data") or self.hook.find_patch_data(instance_id)
        if not row or not is_terminal(row.get("status")):
            raise AirflowException(f"DataArts trigger resumed on an unfinished PatchData run: {event!r}")
        return self.deliver(context, instance_id, row)
