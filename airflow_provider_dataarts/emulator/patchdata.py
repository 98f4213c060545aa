"""
The emulator's DataArts Factory PatchData ("supplement data", API v2): a scheduled job run for
every slot of its schedule between two dates, ``parallel`` slots at a time.

What is known of the live service (``shared/api/factory-jobs.md`` section 12, the SDK's models,
the API pages 02_0199/02_0192) and how the emulator shows it:

- ``POST /v2/{project_id}/factory/supplement-data`` answers 204 without a body; the run is listed
  ``list_lag`` seconds later (creation is asynchronous).
- A job without a schedule is refused ``DLF.30111``; dates not written ``YYYY-MM-DDTHH:MM:SS +HH``,
  or less than 2 s apart, ``DLF.30121``; a name already used, ``DLF.3051`` (the emulator's own).
- ``GET .../supplement-data?name=&page=&size=`` filters by name as a substring (the client must
  match it exactly), ``page`` 0-based; rows snake_case, statuses upper case (RUNNING, SUCCESS,
  FAIL, CANCEL).
- ``POST .../supplement-data/{name}/stop``: running slots end ``manual-stop``, the rest never start;
  the run is CANCEL.
- Each slot is a job instance with ``instanceType`` 5 in the Factory instance list (v1), from the
  moment it starts; both ends of the range are inclusive.

Like the rest of the emulator, everything is computed from the clock.
"""

from __future__ import annotations

import re
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_dataarts.emulator.state import EmulatorError

if TYPE_CHECKING:
    from airflow_provider_dataarts.emulator.jobs import FactoryJob, FactoryJobs, JobInstance

PATCH_INSTANCE_TYPE = 5
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2} [+-]\d{2}$")
MAX_SLOTS = 2000
MAX_PAGE_SIZE = 100
DEFAULT_LIST_LAG = 1.0


def _refused(code: str, message: str) -> EmulatorError:
    return EmulatorError(400, code, message)


def _date_ms(text: Any) -> int:
    if not isinstance(text, str) or not DATE.match(text):
        raise ValueError(text)
    return int(datetime.strptime(text + "00", "%Y-%m-%dT%H:%M:%S %z").timestamp() * 1000)


@dataclass
class PatchRun:
    name: str
    jobs: list[str]
    start_ms: int
    end_ms: int
    parallel: int
    stop_when_fail: bool
    submitted: float
    listed_at: float
    body: dict[str, Any]
    instances: list[JobInstance] = field(default_factory=list)
    stopped_at: float | None = None

    def status(self, now: float) -> str:
        if self.stopped_at is not None:
            return "CANCEL"
        statuses = [instance.status(now) for instance in self.instances]
        if any(status not in ("success", "fail", "manual-stop") for status in statuses):
            return "RUNNING"
        return "SUCCESS" if all(status == "success" for status in statuses) else "FAIL"

    def row(self, now: float) -> dict[str, Any]:
        """A row of the list (SDK ``SupplementDataRespRows``)."""
        return {
            "name": self.name,
            "job_list": list(self.jobs),
            "status": self.status(now),
            "start_date": self.start_ms,
            "end_date": self.end_ms,
            "submitted_date": int(self.submitted * 1000),
            "parallel": self.parallel,
            "type": 0,
            "user_name": "demo-user",
            "supplement_data_run_time": {"time_of_day": "00:00-00:00", "day_of_week": "", "day_of_month": ""},
            "supplement_data_instance_time": {"days": [], "time_of_day": ""},
        }

    def report(self, now: float) -> dict[str, Any]:
        """What the control routes show: the row, the body sent, every slot's instance."""
        return {
            **self.row(now),
            "body": self.body,
            "stopped": self.stopped_at is not None,
            "instances": [
                {
                    "instanceId": str(i.id),
                    "jobName": i.job.name,
                    "planTime": i.plan_time,
                    "status": i.status(now),
                    "started": now >= i.created,
                }
                for i in self.instances
            ],
        }


class PatchData:
    """The PatchData runs of one emulator (kept beside its Factory jobs, under the state's lock)."""

    def __init__(self, jobs: FactoryJobs) -> None:
        self.jobs = jobs
        self.runs: dict[str, PatchRun] = {}
        self.list_lag = DEFAULT_LIST_LAG

    def _scheduled(self, name: Any) -> FactoryJob:
        job = self.jobs.job(str(name))
        if not job.schedule_seconds:
            raise _refused("DLF.30111", "job should be cron job or http trigger or parent trigger")
        return job

    def create(self, body: Any) -> PatchRun:
        from airflow_provider_dataarts.emulator.jobs import JobInstance, _schedule

        if not isinstance(body, dict):
            raise _refused("DLF.3051", "The request parameter is invalid.")
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise _refused("DLF.3051", "The request parameter is invalid: name")
        jobs = [self._scheduled(body.get("job_name"))]
        depend = body.get("depend_jobs") or []
        if not isinstance(depend, list) or not all(isinstance(d, dict) for d in depend):
            raise _refused("DLF.3051", "The request parameter is invalid: depend_jobs")
        jobs += [self._scheduled(d.get("job_name")) for d in depend]
        try:
            start_ms, end_ms = _date_ms(body.get("start_date")), _date_ms(body.get("end_date"))
        except ValueError:
            start_ms = end_ms = 0  # unreadable: both ends collapse, as KESTRA saw live
        if end_ms - start_ms < 2000:
            raise _refused("DLF.30121", "end time should be at least 2 seconds after start time")
        parallel = body.get("parallel", 1)
        if isinstance(parallel, bool) or not isinstance(parallel, int) or not 1 <= parallel <= 5:
            raise _refused("DLF.3051", "The request parameter is invalid: parallel must be 1 to 5")
        stop_when_fail = bool(body.get("is_stop_when_fail", False))
        slots = sorted(
            (tick, number, job)
            for number, job in enumerate(jobs)
            for tick in _ticks(start_ms, end_ms, int(float(job.schedule_seconds or 0) * 1000))
        )
        if body.get("reverse_order") == 1:
            slots.reverse()
        if len(slots) > MAX_SLOTS:
            raise _refused("DLF.3051", f"The request parameter is invalid: more than {MAX_SLOTS} slots")
        now = time.time()
        with self.jobs.state.lock:
            if name in self.runs:
                raise _refused("DLF.3051", f"The request parameter is invalid: PatchData {name} exists")
            run = PatchRun(
                name=name,
                jobs=[job.name for job in jobs],
                start_ms=start_ms,
                end_ms=end_ms,
                parallel=parallel,
                stop_when_fail=stop_when_fail,
                submitted=now,
                listed_at=now + self.list_lag,
                body=dict(body),
            )
            wave_start = run.listed_at
            for first in range(0, len(slots), parallel):
                wave_end, failed = wave_start, False
                for tick, _, job in slots[first : first + parallel]:
                    nodes = _schedule(job.nodes, wave_start, job.next_outcome())
                    instance = JobInstance(
                        id=self.jobs.state.next_id(),
                        job=job,
                        plan_time=tick,
                        submit_time=int(wave_start * 1000),
                        instance_type=PATCH_INSTANCE_TYPE,
                        params={},
                        created=wave_start,
                        nodes=nodes,
                    )
                    self.jobs.instances[instance.id] = instance
                    run.instances.append(instance)
                    finite = [n.end for n in nodes if n.end != float("inf")]
                    wave_end = max(wave_end, *finite) if finite else wave_end
                    failed = failed or any(n.outcome == "fail" for n in nodes)
                if failed and stop_when_fail:
                    break
                wave_start = wave_end
            self.runs[name] = run
        return run

    def listed(self, params: dict[str, str]) -> dict[str, Any]:
        try:
            page = int(params.get("page") or 0)
            size = int(params.get("size") or 10)
        except ValueError:
            raise _refused(
                "DLF.3051", "The request parameter is invalid: page and size are integers"
            ) from None
        if page < 0 or not 1 <= size <= MAX_PAGE_SIZE:
            raise _refused(
                "DLF.3051", f"The request parameter is invalid: page >= 0, size 1 to {MAX_PAGE_SIZE}"
            )
        now = time.time()
        wanted, status = params.get("name") or "", (params.get("status") or "").upper()
        with self.jobs.state.lock:
            runs = [r for r in self.runs.values() if now >= r.listed_at and wanted in r.name]
        rows = [
            r.row(now) for r in sorted(runs, key=lambda r: r.submitted, reverse=params.get("sort") != "asc")
        ]
        if status:
            rows = [row for row in rows if row["status"] == status]
        return {
            "total": len(rows),
            "success": True,
            "msg": "success",
            "rows": rows[page * size : (page + 1) * size],
        }

    def stop(self, name: str) -> None:
        now = time.time()
        with self.jobs.state.lock:
            run = self.runs.get(name)
            if run is None or now < run.listed_at:
                raise _refused("DLF.3051", f"The request parameter is invalid: no PatchData {name}")
            if run.status(now) != "RUNNING":
                return
            run.stopped_at = now
            for instance in list(run.instances):
                if instance.created > now:  # not started: never will
                    run.instances.remove(instance)
                    self.jobs.instances.pop(instance.id, None)
                elif instance.status(now) in ("waiting", "running"):
                    instance.stopped_at = now

    def reports(self) -> list[dict[str, Any]]:
        now = time.time()
        with self.jobs.state.lock:
            runs = sorted(self.runs.values(), key=lambda r: r.submitted)
        return [run.report(now) for run in runs]


def _ticks(start_ms: int, end_ms: int, every_ms: int) -> list[int]:
    """The job's plan times (epoch-aligned multiples of its period) from start to end, both included."""
    if every_ms <= 0:
        return []
    first = -(-start_ms // every_ms) * every_ms
    return list(range(first, end_ms + 1, every_ms))


_STORES: weakref.WeakKeyDictionary[Any, PatchData] = weakref.WeakKeyDictionary()


def of(jobs: FactoryJobs) -> PatchData:
    """The PatchData runs kept beside these Factory jobs (a reset makes new jobs, hence none)."""
    store = _STORES.get(jobs)
    if store is None:
        store = _STORES[jobs] = PatchData(jobs)
    return store


# --- routes -----------------------------------------------------------------------------------------


def route(
    method: str,
    rest: list[str],
    params: dict[str, str],
    body: Any,
    headers: Any,
    jobs: FactoryJobs,
    workspace: str,
) -> tuple[int, Any] | None:
    """The answer of a ``/v2/{project_id}/factory/supplement-data...`` call, or None if no such route."""
    if not rest or rest[0] != "supplement-data":
        return None
    given = headers.get("workspace")
    if not given:  # mandatory on v2 Factory (KESTRA saw APIGW.0106 without it)
        raise _refused("APIGW.0106", "The workspace header is required.")
    if given != workspace:
        raise _refused("DLF.0815", f"The workspace {given} does not exist.")
    if method == "POST" and not str(headers.get("Content-Type") or "").startswith("application/json"):
        raise _refused("APIGW.0106", "Content-Type must be application/json.")
    store = of(jobs)
    if rest == ["supplement-data"] and method == "POST":
        store.create(body)
        return 204, None
    if rest == ["supplement-data"] and method == "GET":
        return 200, store.listed(params)
    if len(rest) == 3 and rest[2] == "stop" and method == "POST":
        store.stop(rest[1])
        return 204, None
    return None


def control(method: str, parts: list[str], data: Any, jobs: FactoryJobs) -> tuple[int, Any] | None:
    """``/_emulator/patch-data`` (GET: every run with its slots) and ``.../config`` (POST ``list_lag``)."""
    store = of(jobs)
    if parts == ["patch-data"] and method == "GET":
        return 200, {"runs": store.reports()}
    if parts == ["patch-data", "config"] and method == "POST":
        store.list_lag = float(data.get("list_lag", store.list_lag))
        return 200, {"list_lag": store.list_lag}
    return None
