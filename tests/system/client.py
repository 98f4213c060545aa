"""
Clients of a system-test deployment: ``AirflowClient`` (the public REST API v2, as a user's
actions, plus the OS-level actions a lifecycle test needs: kill a task's process, restart the
triggerer) and ``EmulatorClient`` (the DataArts emulator's ``/_emulator/`` control routes).
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

import psutil
import requests

from tests.system.database import BUSY_TIMEOUT_SECONDS

if TYPE_CHECKING:
    from tests.system.deployment import Deployment

TERMINAL_TI_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})
# States in which no worker process runs the task instance's current try.
NO_PROCESS_STATES = TERMINAL_TI_STATES | {"deferred", "up_for_retry", "up_for_reschedule"}
KillTarget = Literal["worker", "task", "supervisor"]
# Tries of a DAG run's creation that a busy deployment's database answered 5xx (or not at all).
TRIGGER_ATTEMPTS = 5


class APIError(AssertionError):
    """A REST call answered with an error status (method, path, status and the body's detail)."""

    def __init__(self, method: str, path: str, status: int, detail: Any) -> None:
        super().__init__(f"{method} {path} -> {status}: {detail}")
        self.method, self.path, self.status, self.detail = method, path, status, detail


def _path(*parts: str) -> str:
    return "/".join(quote(part, safe="") for part in parts)


class AirflowClient:
    """
    The deployment's REST API v2 (``/api/v2``), logged in through the SimpleAuthManager's
    ``POST /auth/token``; JSON answers are decoded exactly (big integers stay integers).
    """

    def __init__(self, base_url: str, username: str, password: str, deployment: Deployment) -> None:
        self.base_url = base_url
        self._username, self._password = username, password
        self._deployment = deployment
        self._session = requests.Session()

    # --- plumbing ---------------------------------------------------------------------------------

    def close(self) -> None:
        self._session.close()

    def answers(self) -> bool:
        """Whether the api-server answers its health route (no login needed)."""
        try:
            return self._session.get(f"{self.base_url}/api/v2/monitor/health", timeout=5).ok
        except requests.RequestException:
            return False

    def login(self) -> None:
        answer = self._session.post(
            f"{self.base_url}/auth/token",
            json={"username": self._username, "password": self._password},
            timeout=30,
        )
        if answer.status_code != 201:
            raise APIError("POST", "/auth/token", answer.status_code, answer.text[:500])
        self._session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"

    def request(self, method: str, path: str, *, expect: Iterable[int] = (200,), **kwargs: Any) -> Any:
        """``method /api/v2/{path}``; the decoded JSON answer (``None`` when empty)."""
        url = f"{self.base_url}/api/v2/{path.lstrip('/')}"
        # Longer than the deployment's SQLite busy timeout (tests/system/database.py): a write that
        # waits that long for another process's lock still answers, as a user's click would.
        kwargs.setdefault("timeout", BUSY_TIMEOUT_SECONDS + 30)
        answer = self._session.request(method, url, **kwargs)
        if answer.status_code == 401:  # the token expired: log in again, once
            self.login()
            answer = self._session.request(method, url, **kwargs)
        if answer.status_code not in set(expect):
            try:
                detail = answer.json().get("detail", answer.text)
            except ValueError:
                detail = answer.text
            raise APIError(method, path, answer.status_code, detail)
        return json.loads(answer.text) if answer.text else None

    # --- the deployment ---------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """``/monitor/health``: metadatabase, scheduler, triggerer, dag_processor status and heartbeats."""
        result: dict[str, Any] = self.request("GET", "monitor/health")
        return result

    def dags(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.request("GET", "dags", params={"limit": 100})["dags"]
        return result

    def import_errors(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.request("GET", "importErrors", params={"limit": 100})[
            "import_errors"
        ]
        return result

    # --- DAG runs ---------------------------------------------------------------------------------

    def trigger_dag(
        self,
        dag_id: str,
        conf: dict[str, Any] | None = None,
        *,
        logical_date: datetime | str | None = None,
        run_id: str | None = None,
    ) -> str:
        """
        Trigger a DAG run (as the UI's Trigger button does) and return its run id. Like the API,
        the run has no logical date unless one is given.
        """
        if isinstance(logical_date, datetime):
            logical_date = logical_date.isoformat()
        body: dict[str, Any] = {"logical_date": logical_date, "conf": conf or {}}
        # The run id is chosen here (in Airflow's own form), so that a lost answer can be checked.
        body["dag_run_id"] = run_id or f"manual__{datetime.now(UTC).isoformat()}"
        return self.create_dag_run(dag_id, body)

    def create_dag_run(self, dag_id: str, body: dict[str, Any], attempts: int = TRIGGER_ATTEMPTS) -> str:
        """
        ``POST .../dagRuns`` as a user would on a busy deployment: an answer of 5xx (SQLite rolled
        the run back: "Database error") or none at all is tried again, but only once a read of the
        run by its id shows that it does not exist (nothing is created twice); a 409 on a retry
        means the earlier try made the run after all.
        """
        run_id = str(body["dag_run_id"])
        path = f"dags/{_path(dag_id)}/dagRuns"
        for attempt in range(1, attempts + 1):
            try:
                run = self.request("POST", path, json=body)
                return str(run["dag_run_id"])
            except (APIError, requests.ConnectionError, requests.Timeout) as error:
                retryable = not isinstance(error, APIError) or error.status >= 500
                made_before = isinstance(error, APIError) and error.status == 409 and attempt > 1
                if not (retryable or made_before):
                    raise
                if self.dag_run_exists(dag_id, run_id):
                    return run_id
                if attempt == attempts:
                    raise
                time.sleep(min(2.0**attempt, 15.0))
        raise AssertionError("unreachable")

    def dag_run_exists(self, dag_id: str, run_id: str) -> bool:
        """Whether the run exists (a read that fails on a busy deployment is tried again)."""
        for attempt in range(1, TRIGGER_ATTEMPTS + 1):
            try:
                found = self.request(
                    "GET", f"dags/{_path(dag_id)}/dagRuns/{_path(run_id)}", expect=(200, 404)
                )
                return bool(found) and found.get("dag_run_id") == run_id
            except (APIError, requests.ConnectionError, requests.Timeout):
                if attempt == TRIGGER_ATTEMPTS:
                    raise
                time.sleep(min(2.0**attempt, 15.0))
        raise AssertionError("unreachable")

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", f"dags/{_path(dag_id)}/dagRuns/{_path(run_id)}")
        return result

    def dag_run_state(self, dag_id: str, run_id: str) -> str:
        return str(self.dag_run(dag_id, run_id)["state"])

    def wait_for_dag_run(
        self, dag_id: str, run_id: str, states: Sequence[str] = ("success", "failed"), timeout: float = 120
    ) -> dict[str, Any]:
        """Wait until the DAG run is in one of ``states``; fail with every task's state and log."""
        deadline = time.monotonic() + timeout
        while True:
            self._deployment.check_alive()
            run = self.dag_run(dag_id, run_id)
            if run["state"] in states:
                return run
            if time.monotonic() > deadline:
                tis = self.task_instances(dag_id, run_id)
                summary = ", ".join(f"{ti['task_id']}={ti['state']}" for ti in tis)
                logs = "\n".join(self._log_for_failure(dag_id, run_id, ti["task_id"]) for ti in tis)
                raise AssertionError(
                    f"DAG run {dag_id}/{run_id} still {run['state']!r} after {timeout:.0f} s, "
                    f"waiting for {list(states)}; tasks: {summary}\n{logs}"
                )
            time.sleep(0.5)

    # --- task instances ---------------------------------------------------------------------------

    def _ti_path(self, dag_id: str, run_id: str, task_id: str) -> str:
        return f"dags/{_path(dag_id)}/dagRuns/{_path(run_id)}/taskInstances/{_path(task_id)}"

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        """The task instance: ``state``, ``try_number``, ``max_tries``, ``pid``, ``hostname``, ``id``..."""
        result: dict[str, Any] = self.request("GET", self._ti_path(dag_id, run_id, task_id))
        return result

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"dags/{_path(dag_id)}/dagRuns/{_path(run_id)}/taskInstances"
        result: list[dict[str, Any]] = self.request("GET", path, params={"limit": 100})["task_instances"]
        return result

    def tries(self, dag_id: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
        """Every try of the task instance (its history, then the current try), by ``try_number``."""
        answer = self.request("GET", f"{self._ti_path(dag_id, run_id, task_id)}/tries")
        return sorted(answer["task_instances"], key=lambda ti: ti["try_number"])

    def wait_for_task(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        states: str | Sequence[str],
        timeout: float = 120,
        *,
        try_number: int | None = None,
        fail_states: Collection[str] = (),
        interval: float = 0.3,
    ) -> dict[str, Any]:
        """
        Wait until the task instance is in one of ``states`` (and at ``try_number`` when given) and
        return it. Fails at once when it reaches one of ``fail_states``, and after ``timeout``, with
        the states seen and the task's log.
        """
        wanted = (states,) if isinstance(states, str) else tuple(states)
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while True:
            self._deployment.check_alive()
            try:
                ti = self.task_instance(dag_id, run_id, task_id)
            except APIError as error:
                if error.status != 404:
                    raise
                ti = {"state": "<no task instance>", "try_number": 0}
            step = f"{ti['state']}#{ti['try_number']}"
            if not seen or seen[-1] != step:
                seen.append(step)
            if ti["state"] in wanted and (try_number is None or ti["try_number"] == try_number):
                return ti
            problem = None
            if ti["state"] in fail_states:
                problem = f"reached {ti['state']!r}"
            elif time.monotonic() > deadline:
                problem = f"timed out after {timeout:.0f} s"
            if problem is not None:
                at = f" at try {try_number}" if try_number is not None else ""
                raise AssertionError(
                    f"task {dag_id}/{run_id}/{task_id} {problem} waiting for {list(wanted)}{at}; "
                    f"states seen (state#try): {' -> '.join(seen)}\n"
                    + self._log_for_failure(dag_id, run_id, task_id)
                )
            time.sleep(interval)

    def clear_task(
        self,
        dag_id: str,
        run_id: str,
        task_ids: str | Sequence[str],
        *,
        only_failed: bool = False,
        reset_dag_runs: bool = True,
        include_downstream: bool = False,
        dry_run: bool = False,
    ) -> list[dict[str, Any]]:
        """
        Clear task instances of one run, like the UI's "Clear" (``POST clearTaskInstances``);
        returns the task instances cleared. The API's own defaults are ``only_failed=True`` and
        ``dry_run=True``: this sends ``only_failed=False`` and ``dry_run=False`` unless told.
        """
        body = {
            "dag_run_id": run_id,
            "task_ids": [task_ids] if isinstance(task_ids, str) else list(task_ids),
            "only_failed": only_failed,
            "reset_dag_runs": reset_dag_runs,
            "include_downstream": include_downstream,
            "dry_run": dry_run,
        }
        answer = self.request("POST", f"dags/{_path(dag_id)}/clearTaskInstances", json=body)
        result: list[dict[str, Any]] = answer["task_instances"]
        return result

    def mark_task(self, dag_id: str, run_id: str, task_id: str, new_state: str) -> list[dict[str, Any]]:
        """Set a task instance's state (``success``, ``failed`` or ``skipped``), like the UI's "Mark as"."""
        answer = self.request("PATCH", self._ti_path(dag_id, run_id, task_id), json={"new_state": new_state})
        result: list[dict[str, Any]] = answer["task_instances"]
        return result

    def mark_failed(self, dag_id: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
        return self.mark_task(dag_id, run_id, task_id, "failed")

    def mark_success(self, dag_id: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
        return self.mark_task(dag_id, run_id, task_id, "success")

    # --- XCom and logs ----------------------------------------------------------------------------

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """
        The XCom value as stored (the API's native form: ``deserialize=false``, ``stringify=false``),
        decoded without floats touching integers.
        """
        path = f"{self._ti_path(dag_id, run_id, task_id)}/xcomEntries/{_path(key)}"
        answer = self.request("GET", path, params={"deserialize": "false", "stringify": "false"})
        return answer["value"]

    def log(self, dag_id: str, run_id: str, task_id: str, try_number: int | None = None) -> str:
        """The task log of one try (default: the current one) as text, one line per event."""
        if try_number is None:
            try_number = int(self.task_instance(dag_id, run_id, task_id)["try_number"])
        path = f"{self._ti_path(dag_id, run_id, task_id)}/logs/{try_number}"
        answer = self.request(
            "GET", path, params={"full_content": "true"}, headers={"Accept": "application/json"}
        )
        return "\n".join(_log_line(entry) for entry in answer.get("content") or [])

    def _log_for_failure(self, dag_id: str, run_id: str, task_id: str, chars: int = 6000) -> str:
        try:
            text = self.log(dag_id, run_id, task_id)
        except (APIError, requests.RequestException) as error:
            text = f"(no log: {error})"
        return f"----- log of {task_id} -----\n{text[-chars:]}"

    # --- processes --------------------------------------------------------------------------------

    def task_processes(
        self, dag_id: str, run_id: str, task_id: str, *, ti_id: str | None = None
    ) -> dict[str, psutil.Process]:
        """
        The live processes running a try of the task instance: ``task`` (the task runner, whose
        title is ``airflow worker -- {ti id}``; the TI's ``pid``) and ``supervisor`` (its parent, the
        LocalExecutor worker that supervises it); empty when nothing runs it. The current try's by
        default; a clear gives the next try a new TI ``id``, so pass the old ``ti_id`` to follow the
        process of a cleared try.
        """
        if ti_id is None:
            ti_id = str(self.task_instance(dag_id, run_id, task_id)["id"])
        title = f"airflow worker -- {ti_id}"
        for process in self._deployment.descendants():
            try:
                if " ".join(process.cmdline()).strip() == title:
                    parent = process.parent()
                    return {"task": process, **({"supervisor": parent} if parent is not None else {})}
            except psutil.Error:
                continue
        return {}

    def kill_task_process(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        sig: int = signal.SIGKILL,
        *,
        target: KillTarget = "worker",
        timeout: float = 30,
    ) -> list[int]:
        """
        Send ``sig`` to the process(es) running the task's current try (waiting up to ``timeout``
        for one to appear) and wait until they are gone; returns their pids. ``target``:

        - ``worker`` (default): the supervisor, then the task runner, as when a worker dies. Nobody
          reports anything: the scheduler fails the try when its heartbeat times out
          (``TASK_HEARTBEAT_TIMEOUT``), then retries it if it has retries left.
        - ``task``: only the task runner. Its supervisor sees it die and reports the try failed at
          once (``up_for_retry`` when retries are left).
        - ``supervisor``: only the supervisor; the task runner runs on, orphaned, without heartbeats.
        """
        deadline = time.monotonic() + timeout
        while not (found := self.task_processes(dag_id, run_id, task_id)):
            ti = self.task_instance(dag_id, run_id, task_id)
            problem = None
            if ti["state"] in NO_PROCESS_STATES:
                problem = "no process runs it"
            elif time.monotonic() > deadline:
                problem = f"no process ran it within {timeout:.0f} s"
            if problem is not None:
                raise AssertionError(
                    f"cannot kill {dag_id}/{run_id}/{task_id}: {problem} (state {ti['state']!r}, "
                    f"try {ti['try_number']}, pid {ti.get('pid')})"
                )
            time.sleep(0.2)
        order = {"worker": ("supervisor", "task"), "task": ("task",), "supervisor": ("supervisor",)}[target]
        chosen = [found[role] for role in order if role in found]
        if target == "supervisor":  # the task runner (a process group of its own) is left to init
            self._deployment.watch(found["task"].pid)
        for process in chosen:
            try:
                process.send_signal(sig)
            except psutil.NoSuchProcess:
                continue
        _, alive = psutil.wait_procs(chosen, timeout=max(1.0, deadline - time.monotonic()))
        if alive:
            raise AssertionError(f"processes still alive after signal {sig}: {[p.pid for p in alive]}")
        return [process.pid for process in chosen]

    def restart_triggerer(self, sig: int = signal.SIGTERM, timeout: float = 90) -> None:
        """Stop the triggerer with ``sig``, start a new one and wait for its first heartbeat."""
        self._deployment.restart_triggerer(sig, timeout)


def _log_line(entry: Any) -> str:
    if isinstance(entry, str):
        return entry
    if not isinstance(entry, dict):
        return json.dumps(entry)
    rest = {k: v for k, v in entry.items() if k not in ("timestamp", "level", "event", "logger")}
    line = f"[{entry.get('timestamp', '')}] {str(entry.get('level', '')).upper()} - {entry.get('event', '')}"
    if rest:
        line += " " + " ".join(f"{k}={v}" for k, v in rest.items())
    return line


class EmulatorClient:
    """The deployment's DataArts emulator, through its ``/_emulator/`` control routes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._session = requests.Session()

    def close(self) -> None:
        self._session.close()

    def _call(self, method: str, route: str, body: Any = None, **params: Any) -> Any:
        answer = self._session.request(
            method, f"{self.url}/_emulator/{route}", json=body, params=params or None, timeout=30
        )
        if answer.status_code >= 400:
            raise APIError(method, f"/_emulator/{route}", answer.status_code, answer.text[:1000])
        return json.loads(answer.text) if answer.text else None

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "health")
        return result

    def reset(self) -> None:
        """Back to the seeded jobs and scripts; no tokens, faults or logged requests."""
        self._call("POST", "reset")

    def add_quality_job(self, name: str, **options: Any) -> str:
        """Add a job (``kind``, ``outcome``, ``sub_rules``, ``alarming_sub_rules``, ``run_seconds``)."""
        return str(self._call("POST", "quality-jobs", {"name": name, **options})["id"])

    def add_script(self, name: str, **options: Any) -> None:
        """Add a script (options: ``outcome``, ``schema``, ``rows``, ``message``, ``run_seconds``...)."""
        self._call("POST", "scripts", {"name": name, **options})

    def start_instance(self, job_name: str, run_seconds: float | None = None, started_ago: float = 0) -> str:
        """Start an instance of a job as DataArts' own schedule would (``started_ago``: in the past)."""
        body = {"run_seconds": run_seconds, "started_ago": started_ago}
        return str(self._call("POST", f"quality-jobs/{_path(job_name)}/instances", body)["id"])

    def add_running_instances(self, **options: Any) -> list[Any]:
        result: list[Any] = self._call("POST", "instances/bulk", options)["instances"]
        return result

    def inject(self, kind: str, **options: Any) -> dict[str, Any]:
        """Make the next matching requests fail; options as in the emulator's ``Fault``."""
        result: dict[str, Any] = self._call("POST", "faults", {"kind": kind, **options})
        return result

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def expire_tokens(self) -> None:
        self._call("POST", "expire-tokens")

    def requests(self, method: str | None = None, path_contains: str | None = None) -> list[dict[str, Any]]:
        """Every API request the emulator saw (not the control routes), optionally filtered."""
        return [
            record
            for record in self._call("GET", "requests")["requests"]
            if (method is None or record["method"] == method)
            and (path_contains is None or path_contains in record["path"])
        ]

    def count(self, method: str | None = None, path_contains: str | None = None) -> int:
        by_path: dict[str, int] = self._call("GET", "requests/count")["by_path"]
        total = 0
        for key, number in by_path.items():
            key_method, _, path = key.partition(" ")
            if (method is None or key_method == method) and (path_contains is None or path_contains in path):
                total += number
        return total

    def clear_requests(self) -> None:
        self._call("DELETE", "requests")

    def instances(self, job_name: str | None = None) -> list[dict[str, Any]]:
        """Quality instances (of one job), oldest first: overview with string ids, plus ``stopped``."""
        params = {"job_name": job_name} if job_name is not None else {}
        result: list[dict[str, Any]] = self._call("GET", "instances", **params)["instances"]
        return result

    def instance(self, instance_id: str) -> dict[str, Any]:
        """One quality instance: ``run_status``, ``stopped``, ``start_time``..."""
        result: dict[str, Any] = self._call("GET", f"instances/{_path(str(instance_id))}")
        return result

    def finish_instance(self, instance_id: str) -> dict[str, Any]:
        """End a running quality instance now, with its job's outcome; returns the instance."""
        result: dict[str, Any] = self._call("POST", f"instances/{_path(str(instance_id))}/finish")
        return result

    def script_instances(self, script_name: str) -> list[dict[str, Any]]:
        path = f"scripts/{_path(script_name)}/instances"
        result: list[dict[str, Any]] = self._call("GET", path)["instances"]
        return result

    def script_instance(self, script_name: str, instance_id: str) -> dict[str, Any]:
        """One script instance: ``status``, ``results``, ``stopped``, ``params``."""
        path = f"scripts/{_path(script_name)}/instances/{_path(instance_id)}"
        result: dict[str, Any] = self._call("GET", path)
        return result

    def finish_script(self, script_name: str, instance_id: str) -> dict[str, Any]:
        """End a launching or running script instance now, with its script's outcome."""
        path = f"scripts/{_path(script_name)}/instances/{_path(instance_id)}/finish"
        result: dict[str, Any] = self._call("POST", path)
        return result

    # --- DataArts Factory jobs (tests/system/test_jobs.py) ------------------------------------

    def add_factory_job(self, name: str, **options: Any) -> str:
        """Add a Factory job (``nodes``, ``node_seconds``, ``outcome``, ``outcomes``, ``list_lag``...)."""
        return str(self._call("POST", "factory-jobs", {"name": name, **options})["id"])

    def job_instances(self, job_name: str) -> list[dict[str, Any]]:
        """A Factory job's instances, oldest first: detail, string ids, ``params``, ``attempts``."""
        result: list[dict[str, Any]] = self._call("GET", "factory-jobs/instances", job_name=job_name)[
            "instances"
        ]
        return result

    def job_instance(self, instance_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"factory-jobs/instances/{_path(str(instance_id))}")
        return result

    def finish_job_instance(self, instance_id: str) -> dict[str, Any]:
        """End a waiting or running job instance now, with its planned outcome."""
        result: dict[str, Any] = self._call(
            "POST", f"factory-jobs/instances/{_path(str(instance_id))}/finish"
        )
        return result

    def schedule_job_instance(self, job_name: str, plan_time: int, start_in: float = 0.0) -> dict[str, Any]:
        """An instance at ``plan_time`` (ms), as DataArts' own schedule makes it."""
        body = {"plan_time": plan_time, "start_in": start_in}
        result: dict[str, Any] = self._call("POST", f"factory-jobs/{_path(job_name)}/scheduled", body)
        return result
