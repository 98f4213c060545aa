"""
The emulator's DataArts Factory jobs: batch jobs made of nodes, their instances (run once now,
or scheduled by "DataArts" at plan times), stop, rerun from the failed node, list lag.

Answers follow ``shared/api/factory-jobs.md`` and the models of the official SDK (huaweicloudsdkdgc
``JobInstance``, ``NodeInstance``, ``RunOnceResponse``): camelCase, ids and times as JSON numbers.
Like the quality instances, everything is computed from the clock: no background thread.

Each run of a job (a run, a scheduled instance, a rerun) takes the next of the job's ``outcomes``
(``"success"``, or ``"fail_at:N"``: node N, counted from 1, fails), then the job's ``outcome``.
Error codes the documentation does not give (a rerun of a running instance, a too-wide window)
are the emulator's own: ``DLF.3051`` "The request parameter is invalid.".
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_dataarts.emulator.state import EmulatorError

if TYPE_CHECKING:
    from airflow_provider_dataarts.emulator.state import EmulatorState

MAX_LIST_LIMIT = 1000
MAX_WINDOW_MS = 7 * 24 * 3600 * 1000
INSTANCE_TYPES = {"manual": 2, "scheduled": 0}
DEFAULT_NODES = (
    {"name": "extract_orders", "type": "CDMJob", "seconds": 4.0},
    {"name": "load_dws", "type": "DWSSQL", "seconds": 4.0},
    {"name": "aggregate_daily", "type": "DLISQL", "seconds": 4.0},
)
FINISHED = ("success", "fail", "manual-stop")
SCHEDULE_HISTORY_SECONDS = 2 * 86400


def _invalid(message: str) -> EmulatorError:
    return EmulatorError(400, "DLF.3051", f"The request parameter is invalid: {message}")


@dataclass
class NodeSpec:
    name: str
    type: str = "DLISQL"
    seconds: float = 1.0
    input_rows: int = 1000


@dataclass
class FactoryJob:
    id: int
    name: str
    nodes: list[NodeSpec]
    job_type: str = "BATCH"
    outcome: str = "success"
    outcomes: list[str] = field(default_factory=list)
    list_lag: float = 0.0
    # DataArts schedules an instance at every multiple of this many seconds (epoch-aligned), from
    # two days before the job was added: ``None`` for a job only run from the API.
    schedule_seconds: float | None = None
    scheduled_from: float = 0.0
    # A new instance waits this long (status ``waiting``) before its first node starts.
    queue_seconds: float = 0.0

    def next_outcome(self) -> str:
        return self.outcomes.pop(0) if self.outcomes else self.outcome


@dataclass
class NodeRun:
    spec: NodeSpec
    start: float
    end: float
    outcome: str  # "success" or "fail"
    retry_times: int = 0


@dataclass
class JobInstance:
    id: int
    job: FactoryJob
    plan_time: int
    submit_time: int
    instance_type: int
    params: dict[str, str]
    created: float
    nodes: list[NodeRun] = field(default_factory=list)
    version: int = 1
    stopped_at: float | None = None
    forced_status: str | None = None
    force_success: bool = False
    attempts: int = 1

    @property
    def start(self) -> float:
        return min(node.start for node in self.nodes)

    def node_status(self, node: NodeRun, now: float) -> str:
        stop = self.stopped_at
        if stop is not None and stop < node.end:
            return "manual-stop" if node.start <= stop else "waiting"
        if now < node.start:
            return "waiting"
        if now < node.end:
            return "running"
        return node.outcome

    def status(self, now: float) -> str:
        if self.forced_status:
            return self.forced_status
        if self.stopped_at is not None and now >= self.stopped_at:
            return "manual-stop"
        for node in self.nodes:
            state = self.node_status(node, now)
            if state == "fail":
                return "fail"
            if state != "success":
                return "waiting" if now < self.start else "running"
        return "success"

    def end_time(self, now: float) -> int | None:
        status = self.status(now)
        if status == "manual-stop" and self.stopped_at is not None:
            return int(self.stopped_at * 1000)
        if status == "fail":
            return int(next(n.end for n in self.nodes if self.node_status(n, now) == "fail") * 1000)
        if status == "success":
            return int(max(n.end for n in self.nodes) * 1000)
        return None

    def overview(self, now: float) -> dict[str, Any]:
        end = self.end_time(now)
        start = int(self.start * 1000) if now >= self.start else None
        return {
            "jobName": self.job.name,
            "status": self.status(now),
            "planTime": self.plan_time,
            "startTime": start,
            "endTime": end,
            "executeTime": (end - start) if end is not None and start is not None else None,
            "submitTime": self.submit_time,
            "instanceId": self.id,
            "jobId": self.job.id,
            "jobInstanceName": f"{self.job.name}_{self.plan_time}",
            "instanceType": self.instance_type,
            "version": self.version,
            "ignoreSuccess": False,
            "forceSuccess": self.force_success,
            "errorMessage": self._error(now),
        }

    def _error(self, now: float) -> str:
        failed = [n.spec.name for n in self.nodes if self.node_status(n, now) == "fail"]
        return f"node {failed[0]} failed" if failed else ""

    def detail(self, now: float) -> dict[str, Any]:
        nodes = []
        for node in self.nodes:
            status = self.node_status(node, now)
            started = status != "waiting"
            ended = status in ("success", "fail", "manual-stop")
            end = (self.stopped_at if status == "manual-stop" else node.end) if ended else None
            rows = node.spec.input_rows if status == "success" else 0
            nodes.append(
                {
                    "nodeName": node.spec.name,
                    "status": status,
                    "type": node.spec.type,
                    "queue": "default" if "DLI" in node.spec.type else None,
                    "planTime": self.plan_time,
                    "startTime": int(node.start * 1000) if started else None,
                    "endTime": int(end * 1000) if end is not None else None,
                    "retryTimes": node.retry_times,
                    "instanceId": self.id,
                    "inputRowCount": rows,
                    "speed": round(rows / max(node.end - node.start, 0.001), 2) if ended else 0.0,
                    "logPath": f"obs://dlf-log-p1/{self.job.name}/{self.id}/{node.spec.name}.log",
                }
            )
        overview = self.overview(now)
        return {
            key: overview[key]
            for key in (
                "jobName",
                "instanceId",
                "status",
                "planTime",
                "startTime",
                "endTime",
                "executeTime",
                "instanceType",
                "forceSuccess",
                "ignoreSuccess",
            )
        } | {"total": len(nodes), "nodes": nodes}

    def report(self, now: float) -> dict[str, Any]:
        """What the control routes show: the detail with string ids, the run's params and attempts."""
        detail = self.detail(now)
        return {
            **detail,
            "instanceId": str(self.id),
            "params": self.params,
            "attempts": self.attempts,
            "stopped": self.stopped_at is not None,
            "version": self.version,
        }


def _scheduled_from(existing: FactoryJob | None, every: float | None) -> float:
    """As if scheduled for a while already (two days, at most 48 plan times): those have instances."""
    if existing is not None and existing.schedule_seconds == (float(every) if every else None):
        return existing.scheduled_from
    return time.time() - min(SCHEDULE_HISTORY_SECONDS, 48 * float(every or 0))


def _schedule(specs: list[NodeSpec], start: float, outcome: str, retry: int = 0) -> list[NodeRun]:
    fail_at = None
    if outcome.startswith("fail_at:"):
        fail_at = int(outcome.split(":", 1)[1])
    elif outcome != "success":
        raise ValueError(f"an outcome is 'success' or 'fail_at:N', not {outcome!r}")
    runs, at = [], start
    for number, spec in enumerate(specs, 1):
        failed = fail_at is not None and number >= fail_at
        runs.append(NodeRun(spec, at, at + spec.seconds, "fail" if failed else "success", retry))
        at += spec.seconds
        if failed:  # the nodes after a failed one never start
            at = float("inf")
    return runs


class FactoryJobs:
    """The jobs and job instances of one emulator (under the state's lock)."""

    def __init__(self, state: EmulatorState, seed: dict[str, Any]) -> None:
        self.state = state
        self.jobs: dict[str, FactoryJob] = {}
        self.instances: dict[int, JobInstance] = {}
        for spec in seed.get("factory_jobs", []):
            self.add_job(**spec)
        now = time.time()
        for job in list(self.jobs.values()):  # a few days of history, planned at 02:00 UTC
            today = datetime.fromtimestamp(now, UTC).replace(hour=2, minute=0, second=0, microsecond=0)
            for days in range(int(seed.get("factory_history_days", 0)), 0, -1):
                plan = today.timestamp() - days * 86400
                self._new_instance(job, plan_ms=int(plan * 1000), start=plan, kind="scheduled", params={})

    # --- set-up ---------------------------------------------------------------------------------

    def add_job(
        self,
        name: str,
        *,
        nodes: list[dict[str, Any]] | None = None,
        job_type: str = "BATCH",
        outcome: str = "success",
        outcomes: list[str] | None = None,
        list_lag: float = 0.0,
        schedule_seconds: float | None = None,
        queue_seconds: float = 0.0,
        node_seconds: float | None = None,
    ) -> FactoryJob:
        """A new job, or the job of that name with these settings (its instances stay)."""
        specs = [NodeSpec(**node) for node in (nodes or DEFAULT_NODES)]
        if node_seconds is not None:
            for spec in specs:
                spec.seconds = float(node_seconds)
        for planned in [outcome, *(outcomes or [])]:
            _schedule(specs, 0.0, planned)  # refuse a bad outcome now, not at the run
        with self.state.lock:
            existing = self.jobs.get(name)
            job = FactoryJob(
                id=existing.id if existing else self.state.next_id(),
                name=name,
                nodes=specs,
                job_type=job_type,
                outcome=outcome,
                outcomes=list(outcomes or []),
                list_lag=float(list_lag),
                schedule_seconds=float(schedule_seconds) if schedule_seconds else None,
                scheduled_from=_scheduled_from(existing, schedule_seconds),
                queue_seconds=float(queue_seconds),
            )
            self.jobs[name] = job
            return job

    def job(self, name: str) -> FactoryJob:
        with self.state.lock:
            job = self.jobs.get(name)
        if job is None:
            raise EmulatorError(400, "DLF.0100", "The job does not exists.")
        return job

    def _new_instance(
        self,
        job: FactoryJob,
        *,
        plan_ms: int,
        start: float,
        kind: str,
        params: dict[str, str],
    ) -> JobInstance:
        with self.state.lock:
            instance = JobInstance(
                id=self.state.next_id(),
                job=job,
                plan_time=plan_ms,
                submit_time=int(min(start, time.time()) * 1000),
                instance_type=INSTANCE_TYPES[kind],
                params=params,
                created=min(start, time.time()),
                nodes=_schedule(job.nodes, start, job.next_outcome()),
            )
            self.instances[instance.id] = instance
            return instance

    def _materialize(self, now: float) -> None:
        """Create the instances that DataArts' own schedule has made by ``now``."""
        with self.state.lock:
            for job in self.jobs.values():
                every = job.schedule_seconds
                if not every:
                    continue
                tick = (job.scheduled_from // every + 1) * every
                while tick <= now:
                    self._new_instance(
                        job,
                        plan_ms=int(tick * 1000),
                        start=tick + job.queue_seconds,
                        kind="scheduled",
                        params={},
                    )
                    job.scheduled_from = tick
                    tick += every

    def schedule_instance(self, name: str, plan_time: int, start_in: float = 0.0) -> JobInstance:
        """An instance of a job at ``plan_time`` (ms), as DataArts' schedule makes it, starting soon."""
        job = self.job(name)
        return self._new_instance(
            job, plan_ms=int(plan_time), start=time.time() + float(start_in), kind="scheduled", params={}
        )

    # --- the API --------------------------------------------------------------------------------

    def run_immediate(self, name: str, body: Any) -> JobInstance:
        job = self.job(name)
        if job.job_type != "BATCH":
            raise EmulatorError(400, "DLF.0136", "This API can be called only for batch jobs.")
        params: dict[str, str] = {}
        raw = body.get("jobParams") if isinstance(body, dict) else None
        if raw is not None and not isinstance(raw, list):
            raise _invalid("jobParams must be a list")
        for item in raw or []:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise _invalid("each of jobParams needs a name")
            if item.get("type", "variable") not in ("variable", "constants"):
                raise _invalid(f"type {item.get('type')!r}")
            if not isinstance(item.get("value"), str):
                raise _invalid(f"the value of {item['name']} must be a string")
            params[item["name"]] = item["value"]
        now = time.time()
        return self._new_instance(
            job, plan_ms=int(now * 1000), start=now + job.queue_seconds, kind="manual", params=params
        )

    def list_page(self, params: dict[str, str]) -> dict[str, Any]:
        now = time.time()
        self._materialize(now)
        try:
            limit = int(params.get("limit") or 10)
            offset = int(params.get("offset") or 0)
            today = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            low = int(params.get("minPlanTime") or today.timestamp() * 1000)
            high = int(params.get("maxPlanTime") or now * 1000)
            instance_type = params.get("instanceType")
            kind = int(instance_type) if instance_type not in (None, "") else None
        except ValueError:
            raise _invalid("limit, offset, minPlanTime, maxPlanTime, instanceType are integers") from None
        if not 1 <= limit <= MAX_LIST_LIMIT or offset < 0:
            raise _invalid(f"limit must be 1 to {MAX_LIST_LIMIT} and offset at least 0")
        if high - low > MAX_WINDOW_MS:
            raise _invalid("the plan-time window may not exceed 7 days")
        name = params.get("jobName")
        precise = str(params.get("preciseQuery", "")).lower() == "true"
        status = params.get("status")
        with self.state.lock:
            chosen = [
                instance
                for instance in self.instances.values()
                if now >= instance.created + instance.job.list_lag
                and low <= instance.plan_time <= high
                and (not name or (instance.job.name == name if precise else name in instance.job.name))
                and (kind is None or instance.instance_type == kind)
            ]
        if status:
            chosen = [instance for instance in chosen if instance.status(now) == status]
        chosen.sort(key=lambda instance: (instance.plan_time, instance.id), reverse=True)
        # offset is a page number (SDK-DGC: "页数"), as this provider assumes. Only the page's
        # instances are rendered: a list of 10,000 costs one page's work, not 10,000 overviews.
        page = chosen[offset * limit : (offset + 1) * limit]
        return {"total": len(chosen), "instances": [instance.overview(now) for instance in page]}

    def instance(self, name: str, instance_id: str) -> JobInstance:
        self.job(name)
        self._materialize(time.time())
        with self.state.lock:
            found = (
                self.instances.get(int(instance_id))
                if instance_id.isascii() and instance_id.isdigit()
                else None
            )
        if found is None or found.job.name != name:
            raise EmulatorError(400, "DLF.0137", "Job instance does not exist.")
        return found

    def stop(self, name: str, instance_id: str) -> None:
        instance = self.instance(name, instance_id)
        now = time.time()
        with self.state.lock:
            if instance.status(now) in ("waiting", "running"):
                instance.stopped_at = now

    def restart(self, name: str, instance_id: str, body: Any) -> None:
        instance = self.instance(name, instance_id)
        location = (
            (body or {}).get("retry_location", "first_node") if isinstance(body, dict) else "first_node"
        )
        if location not in ("first_node", "error_node"):
            raise _invalid(f"retry_location {location!r}")
        now = time.time()
        with self.state.lock:
            if instance.status(now) not in FINISHED:
                raise _invalid("only a finished instance (success, failed, canceled) can be rerun")
            keep = 0
            if location == "error_node":
                while (
                    keep < len(instance.nodes)
                    and instance.node_status(instance.nodes[keep], now) == "success"
                ):
                    keep += 1
                if keep == len(instance.nodes):
                    keep = 0  # nothing failed: a rerun from the failed node reruns it all
            specs = [run.spec for run in instance.nodes[keep:]]
            retried = [run.retry_times + 1 for run in instance.nodes[keep:]]
            fresh = _schedule(specs, now, instance.job.next_outcome())
            for run, times in zip(fresh, retried, strict=True):
                run.retry_times = times
            instance.nodes = instance.nodes[:keep] + fresh
            instance.stopped_at = None
            instance.forced_status = None
            instance.version += 1
            instance.attempts += 1

    # --- control (tests, demo) ---------------------------------------------------------------------

    def finish(self, instance_id: str) -> JobInstance:
        """End a waiting or running instance now with its planned outcome (tests: no fixed run times)."""
        with self.state.lock:
            instance = self.instances.get(int(instance_id))
            if instance is None:
                raise EmulatorError(404, "DLF.0137", f"No job instance {instance_id!r}.")
            now = time.time()
            for run in instance.nodes:
                if run.end > now and run.start != float("inf"):  # nodes after a failed one never start
                    run.start, run.end = min(run.start, now), now
            instance.forced_status = None
            return instance

    def set_status(self, instance_id: str, status: str | None) -> JobInstance:
        """Show ``status`` (e.g. ``pause``, ``waiting-confirm``) instead of the computed one; None clears."""
        with self.state.lock:
            instance = self.instances.get(int(instance_id))
            if instance is None:
                raise EmulatorError(404, "DLF.0137", f"No job instance {instance_id!r}.")
            instance.forced_status = status or None
            return instance

    def reports(self, name: str | None = None) -> list[dict[str, Any]]:
        now = time.time()
        self._materialize(now)
        with self.state.lock:
            chosen = sorted(
                (i for i in self.instances.values() if name is None or i.job.name == name), key=lambda i: i.id
            )
        return [instance.report(now) for instance in chosen]

    def report(self, instance_id: str) -> dict[str, Any]:
        with self.state.lock:
            instance = self.instances.get(int(instance_id)) if instance_id.isdigit() else None
        if instance is None:
            raise EmulatorError(404, "DLF.0137", f"No job instance {instance_id!r}.")
        return instance.report(time.time())

    def add_running_instances(
        self, job_name: str, count: int, min_seconds: float, max_seconds: float, seed: int = 1
    ) -> list[dict[str, Any]]:
        """``count`` instances of a job (as if run now), ending at random times (benchmarks)."""
        import random

        rng = random.Random(seed)
        job = self.job(job_name)
        now = time.time()
        created = []
        for _ in range(count):
            instance = self._new_instance(job, plan_ms=int(now * 1000), start=now, kind="manual", params={})
            seconds = rng.uniform(min_seconds, max_seconds)
            outcome = rng.choice(["success", "success", f"fail_at:{len(job.nodes)}"])
            instance.nodes = _schedule(
                [NodeSpec(s.name, s.type, seconds / len(job.nodes)) for s in job.nodes], now, outcome
            )
            created.append(
                {
                    "id": str(instance.id),
                    "job_name": job.name,
                    "plan_time": instance.plan_time,
                    "status": "success" if outcome == "success" else "fail",
                    "finish_at": now + seconds,
                }
            )
        return created


def default_factory_jobs() -> list[dict[str, Any]]:
    """The demo's Factory jobs: ``daily_orders`` (three nodes, 12 s, takes parameters), a real-time one."""
    return [
        {"name": "daily_orders"},
        {
            "name": "hourly_orders",
            "schedule_seconds": 3600,
            "nodes": [
                {"name": "extract_orders", "type": "CDMJob", "seconds": 2.0},
                {"name": "load_dws", "type": "DWSSQL", "seconds": 2.0},
            ],
        },
        {
            "name": "orders_stream",
            "job_type": "REAL_TIME",
            "nodes": [{"name": "kafka_to_dws", "type": "MRSFlinkJob", "seconds": 3600.0}],
        },
    ]


# --- routes -----------------------------------------------------------------------------------------


def route(
    method: str, rest: list[str], params: dict[str, str], body: Any, jobs: FactoryJobs
) -> tuple[int, Any] | None:
    """The answer of a ``/v1/{project_id}/jobs/...`` call as (status, JSON body), or None if no such route."""
    if rest == ["instances", "detail"] and method == "GET":
        return 200, jobs.list_page(params)
    if len(rest) == 2 and rest[1] == "run-immediate" and method == "POST":
        return 200, {"instanceId": jobs.run_immediate(rest[0], body).id}
    if len(rest) == 3 and rest[1] == "instances" and method == "GET":
        return 200, jobs.instance(rest[0], rest[2]).detail(time.time())
    if len(rest) == 4 and rest[1] == "instances" and rest[3] == "stop" and method == "POST":
        jobs.stop(rest[0], rest[2])
        return 204, None
    if len(rest) == 4 and rest[1] == "instances" and rest[3] == "restart" and method == "POST":
        jobs.restart(rest[0], rest[2], body)
        return 204, None
    return None


def control(
    method: str, parts: list[str], data: Any, query: dict[str, str], jobs: FactoryJobs
) -> tuple[int, Any] | None:
    """The ``/_emulator/factory-jobs...`` control routes."""
    if parts == ["factory-jobs"] and method == "POST":
        job = jobs.add_job(**data)
        return 201, {"id": str(job.id), "name": job.name}
    if parts == ["factory-jobs", "instances"] and method == "GET":
        return 200, {"instances": jobs.reports(query.get("job_name"))}
    if len(parts) == 3 and parts[1] == "instances" and method == "GET":
        return 200, jobs.report(parts[2])
    if len(parts) == 4 and parts[1] == "instances" and parts[3] == "finish" and method == "POST":
        return 200, jobs.finish(parts[2]).report(time.time())
    if len(parts) == 4 and parts[1] == "instances" and parts[3] == "status" and method == "POST":
        return 200, jobs.set_status(parts[2], data.get("status")).report(time.time())
    if parts == ["factory-jobs", "instances", "bulk"] and method == "POST":
        return 201, {"instances": jobs.add_running_instances(**data)}
    if len(parts) == 3 and parts[2] == "scheduled" and method == "POST":
        instance = jobs.schedule_instance(parts[1], data["plan_time"], data.get("start_in", 0.0))
        return 201, instance.report(time.time())
    return None
