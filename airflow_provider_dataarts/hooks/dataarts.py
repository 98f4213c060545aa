"""Hook for Huawei Cloud DataArts Studio: DataArts Quality jobs and DataArts Factory scripts."""

from __future__ import annotations

import collections
import copy
import dataclasses
import datetime
import threading
import time
from collections.abc import Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from airflow.providers.common.compat.sdk import BaseHook

from airflow_provider_dataarts.client import operations as ops
from airflow_provider_dataarts.client.config import DataArtsConfig
from airflow_provider_dataarts.client.core import connection_key
from airflow_provider_dataarts.exceptions import (
    DataArtsAPIError,
    DataArtsConfigError,
    DataArtsConnectionError,
)
from airflow_provider_dataarts.statuses import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from airflow_provider_dataarts.client.sync import SyncTransport


T = TypeVar("T")


class DataArtsInstanceNotFound(DataArtsAPIError):
    """The list of quality instances has no instance with that id (yet)."""


def config_from_connection(conn: Any, extra: dict[str, Any] | None = None) -> DataArtsConfig:
    """Read an Airflow connection into a validated ``DataArtsConfig`` (``extra`` if already parsed)."""
    host = (conn.host or "").strip()
    if host and conn.port and ":" not in host.split("://")[-1]:
        host = f"{host}:{conn.port}"
    return DataArtsConfig.from_connection(
        conn_id=conn.conn_id,
        host=host,
        login=conn.login,
        password=conn.password,
        extra=extra if extra is not None else conn.extra_dejson,
    )


def mask_config_secrets(config: DataArtsConfig) -> None:
    """Hand every secret of the connection to Airflow's secrets masker (AK too: it names the account)."""
    from airflow.providers.common.compat.sdk import mask_secret

    for secret in [*config.secrets, config.login if config.auth_type == "aksk" else None]:
        if secret:
            mask_secret(secret)


def epoch_millis(value: Any, name: str = "started_after") -> int | None:
    """
    A time hint as the API's 13-digit millisecond timestamp (datetime, ISO text or a number).

    A datetime or text without a zone is UTC (Airflow's convention), never the worker's local zone.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return int(value.timestamp() * 1000)
    if isinstance(value, int | float):
        return int(value if value > 1e11 else value * 1000)
    text = str(value).strip()
    if text.isdigit():
        return epoch_millis(int(text), name)
    import pendulum

    try:
        return int(pendulum.parse(text).timestamp() * 1000)  # type: ignore[union-attr]
    except (ValueError, pendulum.parsing.exceptions.ParserError):
        raise DataArtsConfigError(
            f"{name} must be a time (a datetime, ISO text or epoch milliseconds), not {value!r}."
        ) from None


class DataArtsHook(BaseHook):
    """
    Talk to DataArts Studio: rerun quality and comparison jobs, read their instances and sub-rule
    results, execute DataArts Factory scripts.

    Auth (AK/SK signing, IAM password to token, static token), retries, pagination and error mapping
    live in ``airflow_provider_dataarts.client``, shared with the async triggers.

    :param dataarts_conn_id: The Airflow connection of type ``dataarts``.
    """

    conn_name_attr = "dataarts_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "dataarts"
    hook_name = "DataArts Studio"

    def __init__(self, dataarts_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dataarts_conn_id = dataarts_conn_id
        # Absolute time (epoch seconds) that no call may outlive, retries included: the task's
        # timeout, set by the operator or sensor that waits. None: only the retry policy bounds.
        self.deadline: float | None = None

    @cached_property
    def config(self) -> DataArtsConfig:
        config = config_from_connection(self.get_connection(self.dataarts_conn_id))
        mask_config_secrets(config)
        return config

    @cached_property
    def transport(self) -> SyncTransport:
        from airflow_provider_dataarts.client.sync import SyncTransport

        return SyncTransport(self.config, self.log)

    def _run(self, operation: ops.Operation[T]) -> T:
        return self.transport.run(operation, deadline=self.deadline)

    @property
    def _project(self) -> str:
        return self.config.project_id

    def _quality_project(self) -> str:
        self.config.require_workspace()
        return self.config.project_id

    # --- DataArts Quality ---------------------------------------------------------------------------

    def rerun_quality_job(self, rule_id: str | int, rule_type: str | int = "quality") -> str:
        """
        Rerun a quality job (``rule_type="quality"``/1) or comparison job (``"comparison"``/2).

        Sent once: a 5xx after the request reached the service is not retried, since a second
        request would start a second run.

        :param rule_id: The id of the job to rerun.
        :param rule_type: ``"quality"`` (1) or ``"comparison"`` (2).
        :return: the new instance id.
        """
        instance_id = self._run(ops.rerun_quality_job(self._quality_project(), rule_id, rule_type))
        self.log.info("Rerun of DataArts %s job %s started instance %s", rule_type, rule_id, instance_id)
        return instance_id

    def list_quality_instances(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """
        Every quality instance overview matching the filters, newest first, all pages.

        :param filters: ``name``, ``task_type``, ``run_status``, ``notify_status``, ``start_time``,
            ``end_time`` as in the API.
        """
        return iter(self._run(ops.list_quality_instances(self._quality_project(), **filters)))

    def get_quality_instance(
        self,
        instance_id: str | int,
        *,
        name: str | None = None,
        task_type: str | None = None,
        started_after: Any = None,
    ) -> dict[str, Any]:
        """
        The overview of one quality instance, found through the list call.

        :param instance_id: The quality instance id.
        :param name: The job name, to narrow the lookup.
        :param task_type: ``QUALITY_TASK`` or ``CONSISTENCY_TASK``, to narrow the lookup.
        :param started_after: A time no later than the instance's start, to narrow the lookup.
        """
        found = self._run(
            ops.find_quality_instance(
                self._quality_project(),
                instance_id,
                name=name,
                task_type=task_type,
                started_after=epoch_millis(started_after),
            )
        )
        if found is None:
            raise not_found(instance_id, self.config)
        return found

    def get_quality_instance_results(self, instance_id: str | int) -> list[dict[str, Any]]:
        """
        Every sub-rule result of a quality instance (all pages, 100 a page).

        :param instance_id: The quality instance id.
        """
        return self._run(ops.quality_instance_results(self._quality_project(), instance_id))

    def stop_quality_instances(self, instance_ids: list[str]) -> None:
        """
        Ask DataArts to stop running quality instances (the Quality O&M batch-stop call).

        :param instance_ids: The ids of the instances to stop.
        """
        self._run(ops.stop_quality_instances(self._quality_project(), instance_ids))
        self.log.info("Asked DataArts to stop quality instance(s) %s", ", ".join(map(str, instance_ids)))

    def list_quality_jobs(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """
        Every quality job matching the filters, all pages.

        :param filters: ``name``, ``category_id``, ``schedule_status``... as in the API.
        """
        return iter(self._run(ops.list_jobs(self._quality_project(), "quality", **filters)))

    def list_comparison_jobs(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """
        Every comparison job matching the filters, all pages.

        :param filters: ``name``, ``category_id``, ``schedule_status``... as in the API.
        """
        return iter(self._run(ops.list_jobs(self._quality_project(), "comparison", **filters)))

    def resolve_job_id(self, job_name: str, rule_type: str | int = "quality") -> str:
        """
        The id of the quality or comparison job with exactly this name.

        :param job_name: The job's exact name.
        :param rule_type: ``"quality"`` (1) or ``"comparison"`` (2).
        """
        return self._run(ops.resolve_job_id(self._quality_project(), job_name, rule_type))

    def get_quality_job(self, job_id: str | int, rule_type: str | int = "quality") -> dict[str, Any]:
        """
        The detail of a quality job (``rule_type="quality"``) or comparison job: its sub-rules with
        the data connection, databases, tables and columns each checks.

        :param job_id: The job's id.
        :param rule_type: ``"quality"`` (1) or ``"comparison"`` (2).
        """
        return self.transport.run(ops.get_quality_job(self._quality_project(), job_id, rule_type))

    def get_quality_job_definition(
        self, job_id: str | int, rule_type: str | int = "quality"
    ) -> dict[str, Any]:
        """
        The job's definition as ``get_quality_job`` reads it (sub-rules, tables, columns, level),
        read once per job per process and kept ``DEFINITION_TTL`` seconds (at most
        ``DEFINITION_CACHE_SIZE`` jobs): what a verdict needs from it (the checked tables, lineage,
        a quality gate) costs no request of the user's quality budget after the first. A copy.

        :param job_id: The job's id.
        :param rule_type: ``"quality"`` (1) or ``"comparison"`` (2).
        """
        key = (connection_key(self.config), str(job_id), ops.rule_type_code(rule_type))
        found = DEFINITIONS.get(key)
        if found is None:
            found = self.get_quality_job(job_id, rule_type)
            DEFINITIONS.put(key, found)
        return copy.deepcopy(found)

    # --- DataArts Factory scripts ------------------------------------------------------------------

    def execute_script(self, script_name: str, params: dict[str, Any] | None = None) -> str:
        """
        Execute a DataArts Factory script once; not retried once it may have reached the service.

        :param script_name: The script's name in DataArts Factory.
        :param params: The script's parameters (sent as the body's ``params``).
        :return: the script instance id.
        """
        instance_id = self._run(ops.execute_script(self._project, script_name, params))
        self.log.info("DataArts script %s started instance %s", script_name, instance_id)
        return instance_id

    def get_script_instance(self, script_name: str, instance_id: str) -> dict[str, Any]:
        """
        Status and results of a script instance (``results``; older services say ``result``).

        :param script_name: The script's name.
        :param instance_id: The script instance id.
        """
        return self._run(ops.get_script_instance(self._project, script_name, instance_id))

    def stop_script_instance(self, script_name: str, instance_id: str) -> None:
        """
        Stop a running script instance.

        :param script_name: The script's name.
        :param instance_id: The script instance id.
        """
        self._run(ops.stop_script_instance(self._project, script_name, instance_id))
        self.log.info("Asked DataArts to stop script %s instance %s", script_name, instance_id)

    # --- DataArts Factory jobs ---------------------------------------------------------------------

    def run_job(self, job_name: str, job_params: dict[str, Any] | None = None) -> str:
        """
        Run a DataArts Factory batch job once now (``run-immediate``); not retried once it may have
        reached the service, since a second request would start a second run.

        :param job_name: The batch job's name in DataArts Factory.
        :param job_params: The job's parameters, a flat dict of strings, numbers and booleans.
        :return: the job instance id.
        """
        from airflow_provider_dataarts.client import jobs

        instance_id = self._run(jobs.run_job(self._project, job_name, job_params))
        self.log.info("DataArts Factory job %s started instance %s", job_name, instance_id)
        return instance_id

    def list_job_instances(self, job_name: str | None = None, **filters: Any) -> Iterator[dict[str, Any]]:
        """
        Every job instance matching the filters (all pages, 1,000 a page), as the API sends them.

        :param job_name: Only this job's instances (matched exactly: ``preciseQuery=true``).
        :param filters: ``min_plan_time``, ``max_plan_time`` (epoch ms; at most 7 days apart),
            ``status``, ``instanceType`` as in the API.
        """
        from airflow_provider_dataarts.client import jobs

        return iter(self._run(jobs.list_job_instances(self._project, job_name, **filters)))

    def get_job_instance(self, job_name: str, instance_id: str) -> dict[str, Any]:
        """
        One job instance with its ``nodes`` (status, times, rows, log path of each).

        :param job_name: The job's name.
        :param instance_id: The job instance id.
        """
        from airflow_provider_dataarts.client import jobs

        return self._run(jobs.get_job_instance(self._project, job_name, instance_id))

    def stop_job_instance(self, job_name: str, instance_id: str) -> None:
        """
        Ask DataArts to stop a running job instance (it ends ``manual-stop`` a moment later).

        :param job_name: The job's name.
        :param instance_id: The job instance id.
        """
        from airflow_provider_dataarts.client import jobs

        self._run(jobs.stop_job_instance(self._project, job_name, instance_id))
        self.log.info("Asked DataArts to stop job %s instance %s", job_name, instance_id)

    def restart_job_instance(
        self, job_name: str, instance_id: str, retry_location: str = "error_node"
    ) -> None:
        """
        Rerun a finished job instance from its failed node (``error_node``) or its first node
        (``first_node``); the instance keeps its id. Sent once, like a run.

        :param job_name: The job's name.
        :param instance_id: The job instance id.
        :param retry_location: ``error_node`` (default) or ``first_node``.
        """
        from airflow_provider_dataarts.client import jobs

        self._run(jobs.restart_job_instance(self._project, job_name, instance_id, retry_location))
        self.log.info(
            "Asked DataArts to rerun job %s instance %s from %s", job_name, instance_id, retry_location
        )

    # --- UI ----------------------------------------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """
        Try one cheap quality call; the message tells credentials, project, workspace and network apart.

        Messages name no connection id: Airflow tests a copy of the connection under a random id.
        """
        from airflow_provider_dataarts.client.sync import SyncTransport

        try:
            config = dataclasses.replace(self.config, max_retries=0)
        except DataArtsConfigError as error:
            return False, str(error).removeprefix(f"Connection {self.dataarts_conn_id!r}: ")
        try:
            request = ops.instances_request(config.project_id, 0)
            probe = dataclasses.replace(request, query=(("limit", "1"), ("offset", "0")))
            config.require_workspace()
            SyncTransport(config, self.log).call(probe)
        except DataArtsConfigError as error:
            return False, str(error)
        except DataArtsConnectionError as error:
            return False, _unreachable(error, config)
        except DataArtsAPIError as error:
            return False, _explain(error, config)
        return True, (
            f"Connected to DataArts workspace {config.workspace} of project {config.project_id} "
            f"at {config.endpoint}."
        )

    # --- DataArts Factory PatchData (v2, on the DataArts host) ----------------------------------------

    def _factory_v2_project(self) -> str:
        self.config.require_workspace()  # the v2 Factory calls require the workspace header
        return self.config.project_id

    def create_patch_data(
        self,
        name: str,
        job_name: str,
        from_date: Any,
        to_date: Any,
        *,
        parallel: int = 1,
        depend_jobs: list[str] | None = None,
        stop_when_fail: bool = True,
    ) -> None:
        """
        Ask DataArts to run a scheduled job (and ``depend_jobs``) for every slot of its schedule
        from ``from_date`` up to ``to_date`` (exclusive): a PatchData run named ``name``. DataArts
        answers without a body and lists the run a moment later (``find_patch_data``). Sent once.

        :param name: The PatchData run's name, chosen by the caller (see ``client.patchdata``).
        :param job_name: The scheduled job.
        :param from_date: The first slot's time (datetime, ISO text or epoch ms).
        :param to_date: The end of the range, exclusive (datetime, ISO text or epoch ms).
        :param parallel: How many slots run at once (1 to 5).
        :param depend_jobs: Names of jobs it depends on, patched with it.
        :param stop_when_fail: Stop the run when a slot fails.
        """
        from airflow_provider_dataarts.client import patchdata

        start, end = patchdata.wire_dates(from_date, to_date)
        body = patchdata.create_body(
            name,
            job_name,
            start,
            end,
            parallel=parallel,
            depend_jobs=depend_jobs,
            stop_when_fail=stop_when_fail,
            workspace=self.config.workspace,
        )
        self._run(patchdata.create_patch_data(self._factory_v2_project(), body))
        self.log.info("Asked DataArts for PatchData %s of job %s from %s to %s", name, job_name, start, end)

    def find_patch_data(self, name: str) -> dict[str, Any] | None:
        """
        The PatchData run named exactly ``name`` (a row of the list: ``status`` upper case,
        ``start_date``/``end_date``/``submitted_date`` epoch ms, ``job_list``), or None.

        :param name: The PatchData run's name.
        """
        from airflow_provider_dataarts.client import patchdata

        return self._run(patchdata.find_patch_data(self._factory_v2_project(), name))

    def stop_patch_data(self, name: str) -> None:
        """
        Stop a PatchData run (its running job instances and the slots not started yet).

        :param name: The PatchData run's name.
        """
        from airflow_provider_dataarts.client import patchdata

        self._run(patchdata.stop_patch_data(self._factory_v2_project(), name))
        self.log.info("Asked DataArts to stop PatchData %s", name)

    def list_patch_data_instances(self, row: dict[str, Any]) -> list[dict[str, Any]]:
        """
        The job instances a PatchData run made (instance type 5), from the Factory instance list:
        for each of its jobs, planned between its dates and submitted since it was (assumption 9
        of ``client.patchdata``); of several at one plan time, the newest. Sorted by plan time.

        :param row: The PatchData run, as ``find_patch_data`` returns it.
        """
        from airflow_provider_dataarts.client import jobs, patchdata

        low, high = int(row.get("start_date") or 0), int(row.get("end_date") or 0)
        low, high = min(low, high), max(low, high)
        since = int(row.get("submitted_date") or 0) - jobs.CLOCK_SKEW_MS
        newest: dict[tuple[str, Any], dict[str, Any]] = {}
        for job_name in [str(job) for job in row.get("job_list") or []]:
            window = low
            while window <= high:
                until = min(high, window + jobs.MAX_WINDOW_MS - 1)
                for item in self.list_job_instances(
                    job_name,
                    min_plan_time=window,
                    max_plan_time=until,
                    instanceType=patchdata.PATCH_INSTANCE_TYPE,
                ):
                    if int(item.get("submitTime") or item.get("planTime") or 0) < since:
                        continue
                    key = (job_name, item.get("planTime"))
                    kept = newest.get(key)
                    if kept is None or int(str(item.get("instanceId"))) > int(str(kept.get("instanceId"))):
                        newest[key] = item
                window = until + 1
        return sorted(newest.values(), key=lambda i: (i.get("planTime") or 0, str(i.get("jobName"))))

    # --- DataArts Migration (CDM) ------------------------------------------------------------------

    def start_migration_job(
        self, cluster_id: str, job_name: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """
        Start a DataArts Migration (CDM) job once (``PUT .../cdm/job/{job_name}/start``); not
        retried once it may have reached the service, since a second request would start it twice.

        :param cluster_id: The CDM cluster's id.
        :param job_name: The migration job's name.
        :param variables: The job's variables (sent as the body's ``variables``).
        :return: the new submission as CDM sends it (hyphenated names; ``submission-id`` as text).
        """
        from airflow_provider_dataarts.client import migration

        submission = self._run(migration.start_job(self._project, cluster_id, job_name, variables))
        self.log.info(
            "DataArts Migration job %s started submission %s", job_name, submission.get("submission-id")
        )
        return submission

    def get_migration_job_status(self, cluster_id: str, job_name: str) -> dict[str, Any] | None:
        """
        The job's latest submission (``GET .../cdm/job/{job_name}/status``), None if it never ran.

        :param cluster_id: The CDM cluster's id.
        :param job_name: The migration job's name.
        """
        from airflow_provider_dataarts.client import migration

        return self._run(migration.job_status(self._project, cluster_id, job_name))

    def list_migration_submissions(self, cluster_id: str, job_name: str) -> list[dict[str, Any]]:
        """
        The job's submission history (``GET .../cdm/submissions?jname=``), newest first.

        :param cluster_id: The CDM cluster's id.
        :param job_name: The migration job's name.
        """
        from airflow_provider_dataarts.client import migration

        return self._run(migration.list_submissions(self._project, cluster_id, job_name))

    def stop_migration_job(self, cluster_id: str, job_name: str) -> None:
        """
        Stop the job's running submission (``PUT .../cdm/job/{job_name}/stop``); harmless when none runs.

        :param cluster_id: The CDM cluster's id.
        :param job_name: The migration job's name.
        """
        from airflow_provider_dataarts.client import migration

        self._run(migration.stop_job(self._project, cluster_id, job_name))
        self.log.info("Asked DataArts Migration to stop job %s", job_name)

    def get_migration_job(self, cluster_id: str, job_name: str) -> dict[str, Any]:
        """
        The migration job's definition (``GET .../cdm/job/{job_name}``): source and target links,
        connectors and configs (``from-config-values``, ``to-config-values``).

        :param cluster_id: The CDM cluster's id.
        :param job_name: The migration job's name.
        """
        from airflow_provider_dataarts.client import migration

        return self._run(migration.show_job(self._project, cluster_id, job_name))


# A job's definition changes when someone edits the job: kept 10 minutes, for 256 jobs at most.
DEFINITION_TTL = 600.0
DEFINITION_CACHE_SIZE = 256


class DefinitionCache:
    """Quality job definitions of this process, by connection and job: bounded, each with an expiry."""

    def __init__(self) -> None:
        self._items: collections.OrderedDict[Any, tuple[float, dict[str, Any]]] = collections.OrderedDict()
        self._guard = threading.Lock()

    def get(self, key: Any) -> dict[str, Any] | None:
        with self._guard:
            item = self._items.get(key)
            if item is None:
                return None
            if time.monotonic() >= item[0]:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, key: Any, definition: dict[str, Any]) -> None:
        with self._guard:
            self._items[key] = (time.monotonic() + DEFINITION_TTL, copy.deepcopy(definition))
            self._items.move_to_end(key)
            while len(self._items) > DEFINITION_CACHE_SIZE:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._guard:
            self._items.clear()


DEFINITIONS = DefinitionCache()


def not_found(instance_id: Any, config: DataArtsConfig) -> DataArtsInstanceNotFound:
    return DataArtsInstanceNotFound(
        f"no quality instance {instance_id} in workspace {config.workspace} of project {config.project_id}",
        status_code=404,
    )


def _unreachable(error: DataArtsConnectionError, config: DataArtsConfig) -> str:
    endpoint = config.iam_endpoint if (error.path or "").startswith("/v3/auth") else config.endpoint
    host = urlsplit(endpoint).netloc
    return (
        f"Cannot reach {host}: {error.reason}. Check the endpoint {endpoint} and that the Airflow "
        "workers can open connections to it."
    )


def _explain(error: DataArtsAPIError, config: DataArtsConfig) -> str:
    said = f"(DataArts said: {error})"
    text = (error.error_msg or "").lower()
    if error.error_code == "APIG.0203" or (error.status_code in (400, 401, 403) and "project" in text):
        return (
            f"Project {config.project_id!r} is not a project of these credentials: check extra.project_id "
            f"(Huawei Cloud console, My Credentials, Projects: the id of the project in this region). {said}"
        )
    if error.status_code == 401:
        what = {
            "aksk": "the access key (login) and secret key (password)",
            "password": "the IAM user (login), password and extra.domain_name",
            "token": "the token (password): it may have expired",
        }[config.auth_type]
        return f"Credentials rejected: check {what}. {said}"
    if "workspace" in text:
        return (
            f"Unknown workspace {config.workspace!r} in project {config.project_id}: check extra.workspace "
            f"(DataArts Studio console, the workspace's id). {said}"
        )
    return str(error)
