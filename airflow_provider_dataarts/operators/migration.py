"""Operator that starts a DataArts Migration (CDM) job and waits for its submission."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_dataarts.links.migration import DataArtsMigrationLink
from airflow_provider_dataarts.openlineage_migration import MigrationLineageMixin
from airflow_provider_dataarts.operators.base import DEFAULT_DEFERRABLE, DataArtsRunOperator, dict_argument
from airflow_provider_dataarts.statuses import DEFAULT_CONN_ID, is_migration_terminal

# CDM carries out a stop asynchronously: a start refused because this task's own stopped
# submission still runs waits this long (at most) for it to end, looking every few seconds.
OWN_STOP_WAIT = 120.0
OWN_STOP_POLL = 2.0

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_dataarts.triggers.migration import DataArtsMigrationJobTrigger


class DataArtsRunMigrationJobOperator(MigrationLineageMixin, DataArtsRunOperator):
    """
    Start a DataArts Migration (CDM) job now, with variables, and (by default) wait for it.

    Pushes the submission id (``return_value``) and its console link (``instance_url``) right after
    the start. When it waits, pushes ``migration_result`` (status, row counts, CDM's counters, error
    summary) as soon as the submission is terminal, then passes on ``SUCCEEDED`` and fails on
    ``FAILED``/``FAILURE_ON_SUBMIT``/``NEVER_EXECUTED`` with DataArts' error summary. Declared
    ``Asset`` outlets get the row counts on their event; with the ``openlineage`` extra the job's
    source and target are the run's input and output datasets.

    Retries, clears and kills follow docs/lifecycle.md: a retry while the submission runs reconnects
    to it; a retry or clear after a verdict starts the job again; a start whose answer was lost is
    adopted only when exactly one submission of the job was created inside the start's time window
    (several: the try fails without retry, naming them); a user who kills the waiting task stops
    the submission (``cancel_on_kill``); a worker's shutdown leaves it running for the retry.

    :param cluster_id: The CDM cluster's id. (templated)
    :param job_name: The migration job's name on that cluster. (templated)
    :param variables: The job's variables, a flat dict of names to strings, numbers or booleans,
        sent as the start body's ``variables``. (templated)
    :param dataarts_conn_id: The Airflow connection of type ``dataarts`` (``extra.migration_endpoint``).
        (templated)
    :param wait_for_completion: Wait for the submission to finish.
    :param deferrable: Wait in the triggerer instead of a worker slot.
    :param poll_interval: Seconds between status checks while waiting (CDM allows 2 reads a second
        per user; waits in one triggerer share them).
    :param timeout: Seconds to wait at most (``None``: no limit), retries of each check included.
    :param cancel_on_kill: Stop the submission when a user kills the waiting task.
    """

    template_fields: Sequence[str] = (
        "cluster_id",
        "job_name",
        "variables",
        *DataArtsRunOperator.template_fields,
    )
    template_fields_renderers = {"variables": "json"}
    operator_extra_links = (DataArtsMigrationLink(),)
    ui_color = "#d0e4f5"
    state_key = "dataarts_migration_run"
    what = "migration submission"
    submit_service = "migration"

    def __init__(
        self,
        *,
        cluster_id: str,
        job_name: str,
        variables: dict[str, Any] | None = None,
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
        self.cluster_id = cluster_id
        self.job_name = job_name
        self.variables = dict_argument(variables, "variables", self.task_id)

    # --- the lifecycle's calls ----------------------------------------------------------------

    def validate(self, context: Context) -> None:
        from airflow_provider_dataarts.client.core import segment
        from airflow_provider_dataarts.client.migration import variables_body
        from airflow_provider_dataarts.exceptions import refused_without_retry

        with refused_without_retry(self.task_id):  # rendered now: refused before any record or request
            segment(self.cluster_id, "cluster_id")
            segment(self.job_name, "job_name")
            variables_body(self.variables)
        self.hook.config  # noqa: B018 - reads and validates the connection before any request

    def _history_ids(self) -> list[str]:
        history = self.hook.list_migration_submissions(self.cluster_id, self.job_name)
        return [str(item.get("submission-id")) for item in history]

    def submission(self, context: Context) -> dict[str, Any]:
        from airflow_provider_dataarts.exceptions import DataArtsAPIError

        marker: dict[str, Any] = {
            "cluster_id": self.cluster_id,
            "job_name": self.job_name,
            "submitted_at": int(time.time() * 1000),
        }
        # The submissions that exist before the start are never candidates for a lost answer. This
        # read only improves that recovery: if it fails, the start goes on without it.
        try:
            marker["known"] = self._history_ids()
        except DataArtsAPIError as error:
            self.log.warning(
                "Could not read migration job %s's history before the start (%s); starting it anyway. "
                "Should the start's answer be lost, its submission is found by its creation time alone.",
                self.job_name,
                error,
            )
        return marker

    def submit(self, context: Context, marker: dict[str, Any]) -> str:
        from airflow_provider_dataarts.client.migration import JOB_NOT_FOUND
        from airflow_provider_dataarts.exceptions import DataArtsAPIError

        try:
            submission = self.hook.start_migration_job(self.cluster_id, self.job_name, self.variables)
        except DataArtsAPIError as error:
            if error.error_code == JOB_NOT_FOUND:
                raise AirflowFailException(
                    f"job_name {self.job_name!r}: DataArts Migration cluster {self.cluster_id} has no job "
                    f"of that name ({error})"
                ) from error
            if error.status_code != 400:
                raise
            if not self._own_stopped_run_ended(error):
                self._refused_while_running(error)
                raise
            submission = self.hook.start_migration_job(self.cluster_id, self.job_name, self.variables)
        return str(submission["submission-id"])

    def _own_stopped_run_ended(self, error: Exception) -> bool:
        """
        CDM refused the start because a submission runs: if it is this task's own earlier one (the
        run a timeout or a clear stopped), CDM is still carrying out the stop, which it does
        asynchronously. Wait for that submission to end (bounded by ``OWN_STOP_WAIT`` and the
        task's ``timeout``): True once it ended, so the start is sent again; False if the running
        submission is someone else's. Still running at the bound: the try fails, its retry starts
        the job once the stop is done.
        """
        from airflow_provider_dataarts.exceptions import DataArtsAPIError

        try:
            latest = self.hook.get_migration_job_status(self.cluster_id, self.job_name)
        except DataArtsAPIError:
            return False
        if latest is None or str(latest.get("submission-id")) not in self._earlier_runs:
            return False
        own = str(latest.get("submission-id"))
        self.log.info(
            "DataArts Migration job %s still runs this task's stopped submission %s (CDM stops "
            "asynchronously): waiting up to %.0f s for it to end before starting the job",
            self.job_name,
            own,
            OWN_STOP_WAIT,
        )
        give_up = time.time() + OWN_STOP_WAIT
        if self.hook.deadline is not None:
            give_up = min(give_up, self.hook.deadline)
        while self.is_running(own):
            if time.time() >= give_up:
                raise AirflowException(
                    f"DataArts Migration job {self.job_name}: this task's earlier submission {own} was "
                    f"asked to stop but still runs after {OWN_STOP_WAIT:.0f} s, so CDM refused to start "
                    f"the job again ({error}). The retry starts it once that submission has ended."
                ) from error
            time.sleep(min(self.poll_interval, OWN_STOP_POLL))
        self.log.info("This task's stopped submission %s has ended; starting the job", own)
        return True

    def _refused_while_running(self, error: Exception) -> None:
        """
        Assumption 1 (client.migration): CDM refuses to start a job that runs. Say which submission
        runs; this try fails (a retry starts the job once it ended) and never adopts a run it did
        not start.
        """
        from airflow_provider_dataarts.exceptions import DataArtsAPIError

        try:
            latest = self.hook.get_migration_job_status(self.cluster_id, self.job_name)
        except DataArtsAPIError:
            return
        if latest is None or is_migration_terminal(latest.get("status")):
            return
        self._forget_run("the start was refused: the job is already running")
        raise AirflowException(
            f"DataArts Migration job {self.job_name} is already running (submission "
            f"{latest.get('submission-id')}, {latest.get('status')}), so CDM refused to start it again "
            f"({error}). This task does not adopt a run it did not start; its retry starts the job once "
            "that run has ended."
        ) from error

    def recover(self, context: Context, marker: dict[str, Any]) -> str | None:
        """
        The one submission of this job created inside the start's own time window and not in the
        history before it, looked for until the history's lag (``not_listed_grace``) has passed:
        none, then none started; several, then this try fails naming them.
        """
        from airflow_provider_dataarts.lifecycle import in_window, the_one_candidate

        if not marker.get("submitted_at"):
            return None
        known = set(marker.get("known") or [])

        def candidates() -> list[str]:
            return [
                str(item.get("submission-id"))
                for item in self.hook.list_migration_submissions(self.cluster_id, self.job_name)
                if str(item.get("submission-id")) not in known
                and in_window(item.get("creation-date"), marker)
            ]

        # CDM runs one submission of a job at a time: one that runs now cannot be joined by another.
        found = self.candidates_once_settled(
            marker,
            candidates,
            "Looking for the submission the unanswered start created: submissions of migration job "
            f"{self.job_name} created inside its window, until the history has caught up",
            "the submission the unanswered start may have created",
        )
        return the_one_candidate(sorted(found, key=int), f"migration job {self.job_name} submission")

    def announce(self, context: Context, instance_id: str) -> None:
        """Push the id and console link at once, so both survive a later failure."""
        from airflow_provider_dataarts.links.migration import migration_url

        url = migration_url(self.hook.config, self.cluster_id, self.job_name, instance_id)
        self.push_link(context, instance_id, url)
        self.log.info("DataArts Migration job %s submission %s: %s", self.job_name, instance_id, url)

    def wait(self, context: Context, instance_id: str) -> dict[str, Any]:
        from airflow_provider_dataarts.waiting import migration_submission_check

        assert self._state is not None
        return self.worker_wait(
            migration_submission_check(
                self.hook,
                self._state,
                self.cluster_id,
                self.job_name,
                instance_id,
                self.log,
                poll_interval=self.poll_interval,
                started_after=self._submitted_at(),
            ),
            lambda submission: submission.get("status"),
            is_migration_terminal,
            f"migration job {self.job_name} submission {instance_id}",
        )

    def make_trigger(self, instance_id: str, end_time: float | None) -> DataArtsMigrationJobTrigger:
        from airflow_provider_dataarts.triggers.migration import DataArtsMigrationJobTrigger

        return DataArtsMigrationJobTrigger(
            cluster_id=self.cluster_id,
            job_name=self.job_name,
            submission_id=instance_id,
            started_after=self._submitted_at(),
            **self.trigger_arguments(end_time),
        )

    def deliver(self, context: Context, instance_id: str, answer: dict[str, Any]) -> str:
        """Push ``migration_result`` and decide; ``return_value`` stays the submission id (DESIGN)."""
        from airflow_provider_dataarts.results.migration import finish_migration

        finish_migration(
            self.cluster_id, self.job_name, answer, context, log=self.log, delivered=self.delivered
        )
        return instance_id

    def is_running(self, instance_id: str) -> bool | None:
        latest = self.hook.get_migration_job_status(self.cluster_id, self.job_name)
        if latest is None:
            return None
        if str(latest.get("submission-id")) != str(instance_id):
            return False  # a later submission is the job's latest: CDM runs one at a time
        return not is_migration_terminal(latest.get("status"))

    def stop(self, instance_id: str) -> None:
        """Stop the job only while the submission it runs is this task's (CDM's stop acts on the job)."""
        latest = self.hook.get_migration_job_status(self.cluster_id, self.job_name)
        if latest is None or str(latest.get("submission-id")) != instance_id:
            self.log.info(
                "DataArts Migration job %s runs no submission %s (latest: %s): nothing to stop",
                self.job_name,
                instance_id,
                None if latest is None else latest.get("submission-id"),
            )
            return
        if is_migration_terminal(latest.get("status")):
            return
        self.hook.stop_migration_job(self.cluster_id, self.job_name)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        """Resume after the trigger: validate its event, then decide on the submission it reported."""
        from airflow_provider_dataarts.client.migration import pick

        instance_id, event = self.resume(context, event)
        # dag.test() resumes without defer kwargs: the event carries what the resume needs.
        submission = event.get("submission") or pick(
            self.hook.list_migration_submissions(self.cluster_id, self.job_name), instance_id
        )
        if not submission or not is_migration_terminal(submission.get("status")):
            raise AirflowException(f"DataArts trigger resumed on a running migration submission: {event!r}")
        return self.deliver(context, instance_id, submission)
