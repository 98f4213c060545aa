"""
The emulator's DataArts Migration (CDM): one cluster, its jobs and their submissions (start, status,
history, stop, the job's definition), computed from the clock like the rest of the emulator.

Answers follow ``shared/api/migration.md`` and the official SDK's models (huaweicloudsdkcdm
``StartJobSubmission``, ``Submission``, ``Counters``, ``Job``): hyphenated names, dates in epoch ms,
``submission-id`` a JSON number. Errors are CDM's shape ``{"errCode", "externalMessage"}``.
What the documentation does not say is the emulator's choice (see docs/migration.md): a start of a
running job is refused with ``Cdm.0020`` (the emulator's own code); a stopped submission ends
``FAILED`` with the error summary "Job stopped by user.".
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_dataarts.emulator.state import EmulatorError

CLUSTER_ID = "00000000-0000-4000-8000-000000000cd1"
ALREADY_RUNNING = "Cdm.0020"  # the emulator's own code: the documentation names none


class MigrationError(EmulatorError):
    """A refusal, answered in CDM's shape ``{"errCode", "externalMessage"}``."""


HISTORY_PAGE = 100  # the history answers one page of this many submissions


@dataclass
class MigrationJob:
    name: str
    source: tuple[str, str, str] = ("mysql_link", "generic-jdbc-connector", "sales.orders")
    target: tuple[str, str, str] = ("dws_link", "generic-jdbc-connector", "public.orders")
    boot_seconds: float = 1.0
    run_seconds: float = 4.0
    rows: int = 12_480
    outcome: str = "SUCCEEDED"  # or "FAILED"
    error_summary: str = ""
    outcomes: list[str] = field(default_factory=list)
    list_lag: float = 0.0  # a new submission appears in the history this long after its start
    stop_seconds: float = 0.0  # a stopped submission runs on this long (CDM stops asynchronously)
    history_oldest_first: bool = False  # the history's one page shows the oldest 100, not the newest

    def next_outcome(self) -> str:
        return self.outcomes.pop(0) if self.outcomes else self.outcome

    def definition(self) -> dict[str, Any]:
        def configs(kind: str, object_name: str) -> dict[str, Any]:
            schema, _, table = object_name.rpartition(".")
            inputs = [{"name": f"{kind}JobConfig.tableName", "value": table}]
            if schema:
                inputs.insert(0, {"name": f"{kind}JobConfig.schemaName", "value": schema})
            return {"configs": [{"inputs": inputs, "name": f"{kind}JobConfig"}]}

        return {
            "name": self.name,
            "job_type": "NORMAL_JOB",
            "from-link-name": self.source[0],
            "from-connector-name": self.source[1],
            "from-config-values": configs("from", self.source[2]),
            "to-link-name": self.target[0],
            "to-connector-name": self.target[1],
            "to-config-values": configs("to", self.target[2]),
            "driver-config-values": {"configs": []},
            "status": "NEW",
        }


@dataclass
class Submission:
    id: int
    job: MigrationJob
    created: float
    outcome: str
    variables: dict[str, Any]
    stopped_at: float | None = None
    finished_at: float | None = None  # a control route ended it early

    @property
    def ends(self) -> float:
        natural = self.created + self.job.boot_seconds + self.job.run_seconds
        stopped = None if self.stopped_at is None else self.stopped_at + self.job.stop_seconds
        return min(t for t in (natural, stopped, self.finished_at) if t is not None)

    def status(self, now: float) -> str:
        if now >= self.ends:
            return "SUCCEEDED" if self.outcome == "SUCCEEDED" and self.stopped_at is None else "FAILED"
        return "BOOTING" if now < self.created + self.job.boot_seconds else "RUNNING"

    def view(self, now: float) -> dict[str, Any]:
        status = self.status(now)
        run = max(self.job.run_seconds, 1e-3)
        progress: float = (
            100.0
            if status == "SUCCEEDED"
            else -1.0
            if status == "FAILED"
            else round(max(0.0, min(99.0, 100 * (now - self.created - self.job.boot_seconds) / run)), 1)
        )
        ms = int(self.created * 1000)
        written = self.job.rows if status == "SUCCEEDED" else 0
        answer: dict[str, Any] = {
            "submission-id": self.id,
            "job-name": self.job.name,
            "status": status,
            "progress": progress,
            "creation-date": ms,
            "creation-user": "op_svc_cdm",
            "execute-date": ms + int(self.job.boot_seconds * 1000),
            "last-update-date": int(min(now, self.ends) * 1000),
            "last-update-user": "op_svc_cdm",
            "is-execute-auto": False,
            "isIncrementing": False,
            "isStopingIncrement": "",
            "isDeleteJob": False,
            "external-id": f"job_local_{self.id}",
            "write_rows": written,
            "update_rows": 0,
            "delete_rows": 0,
        }
        if status == "SUCCEEDED":
            answer["counters"] = {
                "org.apache.sqoop.submission.counter.SqoopCounters": {
                    "ROWS_READ": self.job.rows,
                    "ROWS_WRITTEN": self.job.rows,
                    "BYTES_READ": self.job.rows * 64,
                    "BYTES_WRITTEN": self.job.rows * 64,
                    "ROWS_WRITTEN_SKIPPED": 0,
                    "FILES_READ": 0,
                    "FILES_WRITTEN": 0,
                    "FILES_SKIPPED": 0,
                    "TOTAL_FILES": 0,
                    "TOTAL_SIZE": self.job.rows * 64,
                }
            }
        if status == "FAILED":
            answer["error-summary"] = (
                "Job stopped by user." if self.stopped_at is not None else self.job.error_summary
            )
            answer["error-details"] = f"org.apache.sqoop.common.SqoopException: {answer['error-summary']}"
        return answer


def default_migration_jobs() -> list[dict[str, Any]]:
    """``orders_to_dws`` (MySQL ``sales.orders`` to DWS ``public.orders``, ~5 s) and a failing job."""
    return [
        {"name": "orders_to_dws"},
        {
            "name": "customers_to_dws",
            "source": ("mysql_link", "generic-jdbc-connector", "sales.customers"),
            "target": ("dws_link", "generic-jdbc-connector", "public.customers"),
            "outcome": "FAILED",
            "error_summary": "Table public.customers does not exist in the destination database.",
        },
    ]


class Migration:
    """The cluster's jobs and submissions (thread-safe)."""

    def __init__(self, jobs: list[dict[str, Any]] | None = None) -> None:
        self.lock = threading.RLock()
        self.jobs: dict[str, MigrationJob] = {}
        self.submissions: list[Submission] = []
        self._next_id = 1
        for spec in default_migration_jobs() if jobs is None else jobs:
            self.add_job(**spec)

    def add_job(self, name: str, **options: Any) -> MigrationJob:
        for key in ("source", "target"):
            if key in options:
                options[key] = tuple(options[key])
        job = MigrationJob(name, **options)
        with self.lock:
            self.jobs[name] = job
        return job

    def job(self, cluster_id: str, name: str) -> MigrationJob:
        if cluster_id != CLUSTER_ID:
            raise MigrationError(400, "Cdm.0001", f"Cluster[{cluster_id}] doesn't exist.")
        with self.lock:
            job = self.jobs.get(name)
        if job is None:
            raise MigrationError(400, "Cdm.0100", f"Job[{name}] doesn't exist.")
        return job

    def _of(self, job: MigrationJob) -> list[Submission]:
        return [s for s in self.submissions if s.job.name == job.name]

    def start(self, cluster_id: str, name: str, body: Any) -> Submission:
        job = self.job(cluster_id, name)
        variables = (body or {}).get("variables") if isinstance(body, dict) else None
        now = time.time()
        with self.lock:
            running = [s for s in self._of(job) if s.status(now) in ("BOOTING", "RUNNING")]
            if running:
                raise MigrationError(
                    400, ALREADY_RUNNING, f"Job[{name}] is running (submission {running[-1].id})."
                )
            submission = Submission(self._next_id, job, now, job.next_outcome(), dict(variables or {}))
            self._next_id += 1
            self.submissions.append(submission)
        return submission

    def status(self, cluster_id: str, name: str) -> list[dict[str, Any]]:
        job = self.job(cluster_id, name)
        now = time.time()
        with self.lock:
            mine = self._of(job)
        return [mine[-1].view(now)] if mine else [{"job-name": name, "status": "NEVER_EXECUTED"}]

    def history(self, cluster_id: str, name: str) -> dict[str, Any]:
        job = self.job(cluster_id, name)
        now = time.time()
        with self.lock:
            mine = [s for s in self._of(job) if now >= s.created + job.list_lag]
        ordered = mine if job.history_oldest_first else list(reversed(mine))
        shown = [s.view(now) for s in ordered][:HISTORY_PAGE]
        return {"submissions": shown, "total": len(mine), "page_no": 1, "page_size": HISTORY_PAGE}

    def stop(self, cluster_id: str, name: str) -> dict[str, Any]:
        job = self.job(cluster_id, name)
        now = time.time()
        with self.lock:
            for submission in self._of(job):
                if submission.status(now) in ("BOOTING", "RUNNING") and submission.stopped_at is None:
                    submission.stopped_at = now
        return {"validation-result": []}

    # --- control (tests, demo) ---------------------------------------------------------------------

    def report(self, name: str | None = None) -> list[dict[str, Any]]:
        now = time.time()
        with self.lock:
            chosen = [s for s in self.submissions if name is None or s.job.name == name]
        return [
            {**s.view(now), "variables": s.variables, "stopped": s.stopped_at is not None} for s in chosen
        ]

    def finish(self, submission_id: str) -> dict[str, Any]:
        with self.lock:
            found = [s for s in self.submissions if str(s.id) == submission_id]
            if not found:
                raise MigrationError(404, "Cdm.0001", f"No submission {submission_id}.")
            found[0].finished_at = min(found[0].ends, time.time())
            return found[0].view(time.time())


def route(
    method: str, rest: list[str], params: dict[str, str], body: Any, cdm: Migration
) -> tuple[int, Any] | None:
    """The answer of ``/v1.1/{project_id}/clusters/...`` as (status, JSON body), None if no such route."""
    if len(rest) < 4 or rest[0] != "clusters" or rest[2] != "cdm":
        return None
    cluster, tail = rest[1], rest[3:]
    if tail == ["submissions"] and method == "GET":
        return 200, cdm.history(cluster, params.get("jname", ""))
    if len(tail) == 2 and tail[0] == "job" and method == "GET":
        job = cdm.job(cluster, tail[1])
        return 200, {"jobs": [job.definition()], "total": 1, "page_no": 1, "page_size": 10}
    if len(tail) == 3 and tail[0] == "job":
        name, action = tail[1], tail[2]
        if action == "start" and method == "PUT":
            return 200, {"submissions": [cdm.start(cluster, name, body).view(time.time())]}
        if action == "status" and method == "GET":
            return 200, {"submissions": cdm.status(cluster, name)}
        if action == "stop" and method == "PUT":
            return 200, cdm.stop(cluster, name)
    return None


def control(
    method: str, parts: list[str], data: Any, query: dict[str, str], cdm: Migration
) -> tuple[int, Any] | None:
    """The ``/_emulator/migration...`` control routes."""
    if parts == ["migration", "jobs"] and method == "POST":
        return 201, {"name": cdm.add_job(**data).name}
    if parts == ["migration", "submissions"] and method == "GET":
        return 200, {"submissions": cdm.report(query.get("job_name"))}
    if len(parts) == 4 and parts[1] == "submissions" and parts[3] == "finish" and method == "POST":
        return 200, cdm.finish(parts[2])
    return None


def serve(
    method: str, rest: list[str], params: dict[str, str], body: bytes, cdm: Migration
) -> tuple[int, Any] | None:
    """``route`` for the server: the body parsed, CDM's error shape for a refusal."""
    import json

    try:
        return route(method, rest, params, json.loads(body) if body else None, cdm)
    except MigrationError as error:
        return error.status, {"errCode": error.code, "externalMessage": error.message}
