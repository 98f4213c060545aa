"""
What the DataArts emulator knows: quality jobs and their instances, scripts and their instances.

Statuses are computed from the clock (an instance is RUNNING until its ``finish_at``), so the
emulator needs no background thread and thousands of instances cost nothing while they wait.
Ids are 19-digit numbers above 2**53, like the real service's, so a float would corrupt them.
"""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIRST_ID = 1012386207306600449  # > 2**53: exact only as an integer or a string
TASK_TYPES = {"quality": "QUALITY_TASK", "comparison": "CONSISTENCY_TASK"}
RULE_TYPES = {1: "quality", 2: "comparison"}
QUALITY_OUTCOMES = ("SUCCESS", "ALARMING", "FAILED")
# Sub-rule i of a job checks column i (modulo), with rule kind i (modulo), as the job detail shows.
DEFAULT_COLUMNS = ("order_id", "amount", "order_date", "region")
SUB_RULE_KINDS = (
    ("SingleColumn", "Completeness", 7, "${1}>0"),
    ("SingleColumn", "Uniqueness", 9, "${1}>0"),
    ("SingleTable", "Accuracy", 1, "${1}<100"),
    ("Customize", "Validity", 27, "${1}>0"),
)
SCRIPT_OUTCOMES = ("FINISHED", "FAILED")


class EmulatorError(Exception):
    """An answer the service gives as an error: HTTP status, ``error_code``, ``error_msg``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class QualityJob:
    id: int
    name: str
    kind: str  # "quality" or "comparison"
    outcome: str
    sub_rules: int
    alarming_sub_rules: int
    run_seconds: float | None
    category_id: int
    create_time: int
    sub_rule_ids: list[int] = field(default_factory=list)
    last_run_time: int | None = None
    # The instance list shows an instance only this long after it started (the service's lag).
    list_lag: float = 0.0
    # What the job detail says its sub-rules check (a comparison job: against ``reference_*``).
    connection: str = "dws_sales"
    database: str = "sales"
    table: str = "orders"
    columns: list[str] = field(default_factory=lambda: list(DEFAULT_COLUMNS))
    reference_connection: str = "dli_warehouse"
    reference_database: str = "warehouse"
    reference_table: str = "orders"
    reference_ids: list[int] = field(default_factory=list)
    # Sub-rule i's definition as the seed gives it: ``name``, ``dimension``, ``column``,
    # ``alarm_condition``, ``sql`` (each optional; the rest as ``SUB_RULE_KINDS`` says for index i).
    rules: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class QualityInstance:
    id: int
    job: QualityJob
    start: float
    finish_at: float
    outcome: str
    results: list[dict[str, Any]]
    stopped: bool = False

    def run_status(self, now: float) -> str:
        return self.outcome if now >= self.finish_at else "RUNNING"

    def overview(self, now: float) -> dict[str, Any]:
        status = self.run_status(now)
        return {
            "id": self.id,
            "name": self.job.name,
            "task_id": self.job.id,
            "task_type": TASK_TYPES[self.job.kind],
            "run_status": status,
            "notify_status": "SUCCESS" if status in ("ALARMING", "FAILED") else "NOT_TRIGGERED",
            "start_time": int(self.start * 1000),
            "end_time": int(self.finish_at * 1000) if status != "RUNNING" else None,
        }


@dataclass
class Script:
    name: str
    outcome: str
    schema: list[dict[str, str]]
    rows: list[list[Any]] | str  # "orders": rows made from the run's params
    message: str
    run_seconds: float | None
    launch_seconds: float | None
    legacy: bool = False


@dataclass
class ScriptInstance:
    id: str
    script: Script
    params: dict[str, str]
    start: float
    running_at: float
    finish_at: float
    stopped: bool = False

    def status(self, now: float) -> str:
        if self.stopped:
            return "FAILED"
        if now < self.running_at:
            return "LAUNCHING"
        if now < self.finish_at:
            return "RUNNING"
        return self.script.outcome


def _orders_rows(params: dict[str, str]) -> list[list[Any]]:
    day = params.get("date", "2026-11-01")
    return [[day, "north", 412, 18234.5], [day, "south", 377, 15880.25], [day, "west", 298, 12011.0]]


def default_seed() -> dict[str, Any]:
    """The demo jobs and scripts; a seed file has the same shape."""
    return {
        "quality_jobs": [
            {"name": "orders_completeness", "kind": "quality", "outcome": "SUCCESS", "sub_rules": 3},
            {
                "name": "orders_freshness",
                "kind": "quality",
                "outcome": "ALARMING",
                "sub_rules": 4,
                "alarming_sub_rules": 2,
                # The first two alarm: a null in an optional column, and duplicate order ids.
                "rules": [
                    {"name": "region_not_null", "dimension": "Completeness", "column": "region"},
                    {"name": "order_id_unique", "dimension": "Uniqueness", "column": "order_id"},
                    {"name": "orders_row_count", "dimension": "Accuracy", "alarm_condition": "${1}<100"},
                    {
                        "name": "no_future_order_dates",
                        "dimension": "Validity",
                        "column": "order_date",
                        "sql": "SELECT count(*) FROM sales.orders WHERE order_date > current_date",
                    },
                ],
            },
            {"name": "orders_broken", "kind": "quality", "outcome": "FAILED", "sub_rules": 2},
            {"name": "orders_vs_warehouse", "kind": "comparison", "outcome": "SUCCESS", "sub_rules": 2},
            {"name": "big_rule_set", "kind": "quality", "outcome": "SUCCESS", "sub_rules": 250},
        ],
        "history_per_job": 30,
        "scripts": [
            {
                "name": "daily_orders_sql",
                "outcome": "FINISHED",
                "schema": [
                    {"order_date": "string"},
                    {"region": "string"},
                    {"orders": "int"},
                    {"revenue": "float"},
                ],
                "rows": "orders",
            },
            {
                "name": "failing_sql",
                "outcome": "FAILED",
                "message": "Table dws.orders_missing does not exist",
            },
            {
                "name": "big_result_sql",
                "outcome": "FINISHED",
                "schema": [{"id": "int"}, {"value": "string"}],
                "rows": [[i, f"value-{i}"] for i in range(2500)],
            },
            {"name": "slow_script", "outcome": "FINISHED", "run_seconds": 3600},
        ],
    }


class EmulatorState:
    """Thread-safe store of everything the emulator serves."""

    def __init__(
        self,
        *,
        run_seconds: float = 2.0,
        script_seconds: float = 1.0,
        seed: dict[str, Any] | None = None,
        seed_file: str | Path | None = None,
    ) -> None:
        self.run_seconds = run_seconds
        self.script_seconds = script_seconds
        self.lock = threading.RLock()
        if seed is None:
            seed = json.loads(Path(seed_file).read_text()) if seed_file else default_seed()
        self._seed = seed
        self.reset()

    # --- set-up ---------------------------------------------------------------------------------

    def reset(self) -> None:
        with self.lock:
            self._ids = itertools.count(FIRST_ID, 7919)
            self._random = random.Random(20261122)
            self.jobs: dict[int, QualityJob] = {}
            self.instances: dict[int, QualityInstance] = {}
            self.order: list[QualityInstance] = []  # by start time, oldest first
            self.by_job: dict[int, list[QualityInstance]] = {}
            self.scripts: dict[str, Script] = {}
            self.script_instances: dict[str, ScriptInstance] = {}
            now = time.time()
            for spec in self._seed.get("quality_jobs", []):
                job = self.add_quality_job(**spec)
                for age in range(int(self._seed.get("history_per_job", 0)), 0, -1):
                    start = now - age * 3600 * 6
                    self._new_instance(job, start=start, finish_at=start + 300, outcome=job.outcome)
            for spec in self._seed.get("scripts", []):
                self.add_script(**spec)
            from airflow_provider_dataarts.emulator.jobs import FactoryJobs, default_factory_jobs
            from airflow_provider_dataarts.emulator.migration import Migration

            self.migration = Migration(self._seed.get("migration_jobs"))

            self.factory = FactoryJobs(
                self,
                {
                    "factory_jobs": self._seed.get("factory_jobs", default_factory_jobs()),
                    "factory_history_days": self._seed.get("factory_history_days", 3),
                },
            )

    def next_id(self) -> int:
        with self.lock:
            return next(self._ids)

    def add_quality_job(
        self,
        name: str,
        *,
        kind: str = "quality",
        outcome: str = "SUCCESS",
        sub_rules: int = 3,
        alarming_sub_rules: int = 0,
        run_seconds: float | None = None,
        list_lag: float = 0.0,
        connection: str | None = None,
        database: str | None = None,
        table: str | None = None,
        columns: list[str] | None = None,
        rules: list[dict[str, Any]] | None = None,
    ) -> QualityJob:
        """
        A new job; or, when a job of that kind has that name, the same job with new settings.

        ``rules``: what the job's definition says of sub-rule i (``name``, ``dimension``, ``column``,
        ``alarm_condition``, each optional), as the detail call (``quality-tasks/{id}``) shows it.
        """
        if kind not in TASK_TYPES:
            raise ValueError(f"kind must be 'quality' or 'comparison', not {kind!r}")
        if outcome not in QUALITY_OUTCOMES:
            raise ValueError(f"outcome must be one of {QUALITY_OUTCOMES}, not {outcome!r}")
        with self.lock:
            existing = next((j for j in self.jobs.values() if j.name == name and j.kind == kind), None)
            if existing is not None:
                existing.outcome, existing.run_seconds, existing.list_lag = (
                    outcome,
                    run_seconds,
                    float(list_lag),
                )
                existing.alarming_sub_rules = int(alarming_sub_rules)
                if rules is not None:
                    existing.rules = [dict(rule) for rule in rules]
                if int(sub_rules) != existing.sub_rules:
                    existing.sub_rules = int(sub_rules)
                    existing.sub_rule_ids = [self.next_id() for _ in range(existing.sub_rules)]
                    if kind == "comparison":
                        existing.reference_ids = [self.next_id() for _ in range(existing.sub_rules)]
                return existing
            job = QualityJob(
                id=self.next_id(),
                name=name,
                kind=kind,
                outcome=outcome,
                sub_rules=int(sub_rules),
                alarming_sub_rules=int(alarming_sub_rules),
                run_seconds=run_seconds,
                category_id=self.next_id(),
                create_time=int(time.time() * 1000) - 86_400_000 * 30,
                list_lag=float(list_lag),
            )
            job.sub_rule_ids = [self.next_id() for _ in range(job.sub_rules)]
            job.reference_ids = [self.next_id() for _ in range(job.sub_rules)] if kind == "comparison" else []
            for name_, value in (("connection", connection), ("database", database), ("table", table)):
                if value is not None:
                    setattr(job, name_, str(value))
            if columns is not None:
                job.columns = [str(column) for column in columns] or list(DEFAULT_COLUMNS)
            job.rules = [dict(rule) for rule in rules or []]
            self.jobs[job.id] = job
            return job

    def add_script(
        self,
        name: str,
        *,
        outcome: str = "FINISHED",
        schema: list[dict[str, str]] | None = None,
        rows: list[list[Any]] | str | None = None,
        message: str = "",
        run_seconds: float | None = None,
        launch_seconds: float | None = None,
        legacy: bool = False,
    ) -> Script:
        if outcome not in SCRIPT_OUTCOMES:
            raise ValueError(f"outcome must be one of {SCRIPT_OUTCOMES}, not {outcome!r}")
        script = Script(
            name=name,
            outcome=outcome,
            schema=list(schema or []),
            rows=rows if rows is not None else [],
            message=message,
            run_seconds=run_seconds,
            launch_seconds=launch_seconds,
            legacy=legacy,
        )
        with self.lock:
            self.scripts[name] = script
        return script

    def job_by_name(self, name: str) -> QualityJob:
        with self.lock:
            for job in self.jobs.values():
                if job.name == name:
                    return job
        raise KeyError(name)

    # --- quality --------------------------------------------------------------------------------

    def _sub_rule_results(self, job: QualityJob, outcome: str) -> list[dict[str, Any]]:
        results = []
        for index, sub_rule_id in enumerate(job.sub_rule_ids):
            alarm = outcome == "ALARMING" and index < max(job.alarming_sub_rules, 1)
            broken = outcome == "FAILED" and index == 0
            total = 1000 + 17 * index
            rows: list[dict[str, Any]] = (
                []
                if broken
                else [
                    {
                        "Total Rows": str(total),
                        "Abnormal Rows": str(13 + index if alarm else 0),
                        "Status": "false" if alarm else "true",
                        "Name": f"dws.orders.rule_{index + 1}",
                    }
                ]
            )
            results.append(
                {
                    "sub_rule_id": str(sub_rule_id),
                    "sub_instance_instance_id": str(self.next_id()),
                    "abnormal_table_status": "UNSUPPORTED",
                    "results": rows,
                }
            )
        return results

    def _new_instance(
        self, job: QualityJob, *, start: float, finish_at: float, outcome: str
    ) -> QualityInstance:
        with self.lock:
            instance = QualityInstance(
                id=self.next_id(),
                job=job,
                start=start,
                finish_at=finish_at,
                outcome=outcome,
                results=self._sub_rule_results(job, outcome),
            )
            self.instances[instance.id] = instance
            self.order.append(instance)
            self.by_job.setdefault(job.id, []).append(instance)
            if len(self.order) > 1 and self.order[-2].start > start:
                self.order.sort(key=lambda item: item.start)
            job.last_run_time = int(start * 1000)
            return instance

    def rerun(self, rule_id: str, rule_type: Any) -> QualityInstance:
        kind = RULE_TYPES.get(rule_type) if isinstance(rule_type, int) else None
        if kind is None:
            raise EmulatorError(400, "DQC.0003", f"rule_type must be 1 or 2, not {rule_type!r}")
        if not _is_id(str(rule_id)):
            raise EmulatorError(400, "DQC.0003", f"invalid rule_id {rule_id!r}")
        with self.lock:
            job = self.jobs.get(int(rule_id))
            if job is None or job.kind != kind:
                raise EmulatorError(400, "DQC.1001", f"The {kind} job {rule_id} does not exist.")
            now = time.time()
            seconds = job.run_seconds if job.run_seconds is not None else self.run_seconds
            return self._new_instance(job, start=now, finish_at=now + seconds, outcome=job.outcome)

    def start_instance(
        self, job_name: str, run_seconds: float | None = None, started_ago: float = 0.0
    ) -> QualityInstance:
        """
        Start an instance of a job as DataArts' own schedule would, not through the API; with
        ``started_ago``, one that started that many seconds ago (``run_seconds`` counts from then).
        """
        with self.lock:
            job = self.job_by_name(job_name)
            start = time.time() - float(started_ago)
            if run_seconds is None:
                run_seconds = job.run_seconds if job.run_seconds is not None else self.run_seconds
            return self._new_instance(
                job, start=start, finish_at=start + float(run_seconds), outcome=job.outcome
            )

    def add_running_instances(
        self,
        job_name: str,
        count: int,
        min_seconds: float,
        max_seconds: float,
        seed: int = 1,
        distinct_jobs: bool = False,
    ) -> list[dict[str, Any]]:
        """
        Start ``count`` instances finishing at random times with random outcomes (benchmarks).

        With ``distinct_jobs`` each instance belongs to a job of its own, ``{job_name}_{n}``, as when
        many DAGs each wait for their own job.
        """
        rng = random.Random(seed)
        template = self.job_by_name(job_name)
        jobs = [
            self.add_quality_job(f"{job_name}_{number}", sub_rules=template.sub_rules)
            if distinct_jobs
            else template
            for number in range(count)
        ]
        # Taken once the jobs exist (tens of thousands take a while): the instances start now.
        now = time.time()
        created = []
        for job in jobs:
            outcome = rng.choice(QUALITY_OUTCOMES)
            instance = self._new_instance(
                job, start=now, finish_at=now + rng.uniform(min_seconds, max_seconds), outcome=outcome
            )
            created.append(
                {
                    "id": str(instance.id),
                    "job_name": job.name,
                    "outcome": outcome,
                    "finish_at": instance.finish_at,
                }
            )
        return created

    def list_instances(self, filters: dict[str, str]) -> list[QualityInstance]:
        """The instances matching the list call's filters, newest first."""
        now = time.time()
        name = filters.get("name")
        task_type = filters.get("task_type")
        run_status = filters.get("run_status")
        start_ms = _millis(filters.get("start_time"), "start_time")
        end_ms = _millis(filters.get("end_time"), "end_time")
        with self.lock:
            if name:  # the service matches names fuzzily: every job whose name contains it
                jobs = [job for job in self.jobs.values() if name in job.name]
                snapshot = sorted(
                    (i for job in jobs for i in self.by_job.get(job.id, [])),
                    key=lambda i: i.start,
                    reverse=True,
                )
            else:
                snapshot = list(reversed(self.order))
        answer = []
        for instance in snapshot:
            if now < instance.start + instance.job.list_lag:
                continue
            started = instance.start * 1000
            if start_ms is not None and started < start_ms:
                break  # newest first: everything after is older
            if end_ms is not None and started > end_ms:
                continue
            if task_type and TASK_TYPES[instance.job.kind] != task_type:
                continue
            if run_status and instance.run_status(now) != run_status:
                continue
            answer.append(instance)
        return answer

    def instance_results(self, instance_id: str) -> list[dict[str, Any]]:
        if not _is_id(instance_id):
            raise EmulatorError(400, "DQC.0003", f"invalid instance id {instance_id!r}")
        with self.lock:
            instance = self.instances.get(int(instance_id))
        if instance is None:
            raise EmulatorError(400, "DQC.1002", f"The instance {instance_id} does not exist.")
        return instance.results if instance.run_status(time.time()) != "RUNNING" else []

    def stop_instances(self, ids: list[Any]) -> None:
        now = time.time()
        with self.lock:
            for raw in ids:
                instance = self.instances.get(int(raw)) if _is_id(str(raw)) else None
                if instance is not None and instance.run_status(now) == "RUNNING":
                    instance.finish_at, instance.outcome, instance.stopped = now, "FAILED", True

    def list_jobs(self, kind: str, filters: dict[str, str]) -> list[dict[str, Any]]:
        name = filters.get("name")
        with self.lock:
            jobs = [job for job in self.jobs.values() if job.kind == kind and (not name or name in job.name)]
        return [_job_overview(job) for job in jobs]

    def job_detail(self, kind: str, job_id: str) -> dict[str, Any]:
        with self.lock:
            job = self.jobs.get(int(job_id)) if _is_id(job_id) else None
        if job is None or job.kind != kind:
            raise EmulatorError(400, "DQC.1001", f"The {kind} job {job_id} does not exist.")
        detail: dict[str, Any] = {
            **_job_overview(job),
            "description": f"Emulated {kind} job {job.name}",
            "level": "MAJOR",
            "alarm_condition": "",
            "schedule_type": "ONCE",
        }
        if kind == "quality":
            detail["sub_rules"] = [_sub_rule_detail(job, index) for index in range(job.sub_rules)]
        else:  # a comparison sub-rule is a list: the rule on the table and on its reference table
            detail["sub_rules"] = [
                [_sub_rule_detail(job, index), _sub_rule_detail(job, index, reference=True)]
                for index in range(job.sub_rules)
            ]
        return detail

    # --- scripts --------------------------------------------------------------------------------

    def script(self, name: str) -> Script:
        with self.lock:
            script = self.scripts.get(name)
        if script is None:
            raise EmulatorError(400, "DLF.6201", "The script does not exist.")
        return script

    def execute_script(self, name: str, params: dict[str, Any]) -> ScriptInstance:
        script = self.script(name)
        now = time.time()
        seconds = script.run_seconds if script.run_seconds is not None else self.script_seconds
        launch = script.launch_seconds if script.launch_seconds is not None else min(seconds / 3, 1.0)
        instance = ScriptInstance(
            id=str(uuid.UUID(int=self._random.getrandbits(128))),
            script=script,
            params={str(k): str(v) for k, v in params.items()},
            start=now,
            running_at=now + launch,
            finish_at=now + max(seconds, launch),
        )
        with self.lock:
            self.script_instances[instance.id] = instance
        return instance

    def script_instance(self, name: str, instance_id: str) -> ScriptInstance:
        self.script(name)
        with self.lock:
            instance = self.script_instances.get(instance_id)
        if instance is None or instance.script.name != name:
            raise EmulatorError(400, "DLF.6205", "The script instance does not exist.")
        return instance

    def script_answer(self, name: str, instance_id: str) -> dict[str, Any]:
        instance = self.script_instance(name, instance_id)
        now = time.time()
        status = instance.status(now)
        script = instance.script
        results: list[dict[str, Any]] = []
        duration = round(max(0.0, min(now, instance.finish_at) - instance.start), 3)
        if status == "FINISHED":
            rows = _orders_rows(instance.params) if script.rows == "orders" else script.rows
            results = [
                {
                    "message": "",
                    "duration": duration,
                    "rowCount": len(rows),
                    "rows": rows,
                    "schema": script.schema,
                    "resultCount": len(rows),
                }
            ]
        elif status == "FAILED":
            message = "The script instance was stopped by the user." if instance.stopped else script.message
            results = [{"message": message, "duration": duration, "rowCount": 0, "rows": [], "schema": []}]
        return {"status": status, "result" if script.legacy else "results": results}

    def instance_report(self, instance_id: str) -> dict[str, Any]:
        """A quality instance as the control routes show it: ids as strings, plus ``stopped``."""
        with self.lock:
            instance = self.instances.get(int(instance_id)) if _is_id(instance_id) else None
        if instance is None:
            raise EmulatorError(404, "DQC.1002", f"No quality instance {instance_id!r}.")
        overview = instance.overview(time.time())
        return {
            **overview,
            "id": str(instance.id),
            "task_id": str(instance.job.id),
            "stopped": instance.stopped,
        }

    def finish_instance(self, instance_id: str) -> dict[str, Any]:
        """End a running quality instance now, with its job's outcome (for tests: no fixed run times)."""
        report = self.instance_report(instance_id)
        with self.lock:
            instance = self.instances[int(instance_id)]
            now = time.time()
            if instance.run_status(now) == "RUNNING":
                instance.finish_at = now
        return {**report, **self.instance_report(instance_id)}

    def instance_reports(self, job_name: str | None = None) -> list[dict[str, Any]]:
        """Every quality instance (of one job when ``job_name`` is given), oldest first."""
        with self.lock:
            chosen = [i for i in self.order if job_name is None or i.job.name == job_name]
        return [self.instance_report(str(instance.id)) for instance in chosen]

    def script_report(self, name: str, instance_id: str) -> dict[str, Any]:
        """A script instance: what the service answers, plus its id, ``stopped`` and the run's ``params``."""
        instance = self.script_instance(name, instance_id)
        return {
            **self.script_answer(name, instance_id),
            "instance_id": instance.id,
            "stopped": instance.stopped,
            "params": instance.params,
        }

    def finish_script(self, name: str, instance_id: str) -> dict[str, Any]:
        """End a launching or running script instance now, with its script's outcome."""
        instance = self.script_instance(name, instance_id)
        with self.lock:
            now = time.time()
            if instance.status(now) in ("LAUNCHING", "RUNNING"):
                instance.running_at = min(instance.running_at, now)
                instance.finish_at = now
        return self.script_report(name, instance_id)

    def script_reports(self, name: str) -> list[dict[str, Any]]:
        """Every instance of one script, oldest first."""
        self.script(name)
        with self.lock:
            chosen = sorted(
                (i for i in self.script_instances.values() if i.script.name == name), key=lambda i: i.start
            )
        return [self.script_report(name, instance.id) for instance in chosen]

    def stop_script(self, name: str, instance_id: str) -> None:
        instance = self.script_instance(name, instance_id)
        with self.lock:
            if instance.status(time.time()) in ("LAUNCHING", "RUNNING"):
                instance.stopped = True
                instance.finish_at = time.time()


def _job_overview(job: QualityJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "name": job.name,
        "category_id": job.category_id,
        "schedule_status": "STOPPED",
        "schedule_period": "DAY",
        "schedule_interval": "1",
        "create_time": job.create_time,
        "last_run_time": job.last_run_time,
        "creator": "demo-user",
    }


def _sub_rule_detail(job: QualityJob, index: int, *, reference: bool = False) -> dict[str, Any]:
    """One sub-rule as the job detail calls show it (fields of the SDK's ...RuleDetailForOpenApi)."""
    kind, dimension, template_id, alarm_condition = SUB_RULE_KINDS[index % len(SUB_RULE_KINDS)]
    column = job.columns[index % len(job.columns)]
    given = job.rules[index] if index < len(job.rules) else {}
    dimension = str(given.get("dimension") or dimension)
    alarm_condition = str(given.get("alarm_condition") or alarm_condition)
    column = str(given.get("column") or column)
    name = given.get("name") or f"{job.name}_{dimension.lower()}_{index + 1}"
    table = job.reference_table if reference else job.table
    database = job.reference_database if reference else job.database
    detail: dict[str, Any] = {
        "id": (job.reference_ids if reference else job.sub_rule_ids)[index],
        "sub_rule_name": f"{name}" + ("_reference" if reference else ""),
        "type": kind,
        "template_id": template_id,
        "connection": job.reference_connection if reference else job.connection,
        "connection_type": "DLI" if reference else "DWS",
        "databases": database,
        "tables": table,
        "columns": column if given.get("column") or kind not in ("SingleTable", "Customize") else "",
        "reference_tables": "",
        "reference_columns": "",
        "dimension": dimension,
        "weight": 5,
        "alarm_condition": alarm_condition,
        "sql": "",
    }
    if kind == "Customize":
        detail["sql"] = given.get("sql") or f"SELECT count(*) FROM {database}.{table} WHERE {column} IS NULL"
    return detail


def _is_id(text: str) -> bool:
    """Ids are ASCII digits (``int()`` would also take other scripts' digits), at most 20 of them."""
    return text.isascii() and text.isdigit() and len(text) <= 20


def _millis(value: str | None, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(str(value))
    except ValueError:
        raise EmulatorError(400, "DQC.0003", f"{name} must be a 13-digit timestamp, not {value!r}") from None
