"""``DataArtsEmulator``: the emulator run in a background thread of this process."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict
from pathlib import Path
from types import TracebackType
from typing import Any

from airflow_provider_dataarts.emulator.server import Credentials, Emulation, EmulatorHTTPServer, Fault
from airflow_provider_dataarts.emulator.state import EmulatorState


class DataArtsEmulator:
    """
    A stateful local DataArts Studio on ``http://{host}:{port}`` (port 0: a free one).

    :param run_seconds: How long a rerun quality instance stays RUNNING (a job may override it).
    :param script_seconds: How long a script instance takes (LAUNCHING, then RUNNING).
    :param seed: Jobs and scripts to start with (see ``state.default_seed``); ``seed_file``: the same as JSON.
    :param enforce_limits: Enforce DataArts' documented per-user limits per API family (429
        ``APIG.0308`` with ``Retry-After`` above them: quality 40 per 10 s, Factory v1 30/s, a job's
        detail and export 10/s, Factory v2 10/s, CDM status 120 a minute); ``False`` turns them off.
    :param credentials: Keyword arguments of ``Credentials`` (project, workspace, AK/SK, IAM user, token).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        run_seconds: float = 2.0,
        script_seconds: float = 1.0,
        seed: dict[str, Any] | None = None,
        seed_file: str | Path | None = None,
        quiet: bool = True,
        enforce_limits: bool = True,
        **credentials: Any,
    ) -> None:
        self.credentials = Credentials(**credentials)
        self.state = EmulatorState(
            run_seconds=run_seconds, script_seconds=script_seconds, seed=seed, seed_file=seed_file
        )
        self.emulation = Emulation(self.state, self.credentials, enforce_limits=enforce_limits)
        self.server = EmulatorHTTPServer((host, port), self.emulation, quiet=quiet)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def console_url(self) -> str:
        """The connection's ``console_url`` for this emulator: its own page for each quality instance."""
        from airflow_provider_dataarts.emulator.console import QUALITY_PATH

        return self.url + QUALITY_PATH

    def start(self) -> DataArtsEmulator:
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="dataarts-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> DataArtsEmulator:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    # --- for tests ------------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the seeded jobs and scripts; no tokens, faults or logged requests."""
        self.emulation.reset()

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every API request seen (not the control routes): method, path, query, headers, body, status."""
        with self.emulation.lock:
            return list(self.emulation.log)

    @property
    def token_requests(self) -> int:
        return self.emulation.token_requests

    def count(self, method: str | None = None, path_contains: str | None = None) -> int:
        return sum(
            1
            for record in self.requests
            if (method is None or record["method"] == method)
            and (path_contains is None or path_contains in record["path"])
        )

    def inject(self, kind: str, **options: Any) -> dict[str, Any]:
        """Make the next matching requests fail: see ``server.Fault`` for the kinds and options."""
        fault = Fault(kind, **options)
        with self.emulation.lock:
            self.emulation.faults.append(fault)
        return asdict(fault)

    def clear_faults(self) -> None:
        with self.emulation.lock:
            self.emulation.faults.clear()

    def expire_tokens(self) -> None:
        self.emulation.expire_tokens()

    def limit_per_second(self, requests: int | None) -> None:
        """The gateway's per-user limit: beyond ``requests`` a second (any 1 s), 429 ``APIG.0308``."""
        self.emulation.throttle(requests, 1.0)

    def set_limits(self, enabled: bool = True, **families: tuple[int, float] | None) -> None:
        """
        The documented per-family limits on (default) or off; a family may be given its own
        ``(requests, window_seconds)``, or None for no limit. ``reset()`` restores the constructor's.
        """
        self.emulation.set_limits(enabled, **families)

    @property
    def throttled_count(self) -> int:
        """How many requests the gateway answered 429 (limits or throttle) since the last reset."""
        return sum(1 for record in self.requests if record["status"] == 429)

    def add_quality_job(self, name: str, **options: Any) -> str:
        return str(self.state.add_quality_job(name, **options).id)

    def start_quality_instance(
        self, job_name: str, run_seconds: float | None = None, started_ago: float = 0.0
    ) -> str:
        """
        Start an instance of a job as DataArts' own schedule would (not through the API); its id.
        With ``started_ago``, it started that many seconds ago (``run_seconds`` counts from then).
        """
        return str(self.state.start_instance(job_name, run_seconds, started_ago).id)

    def add_script(self, name: str, **options: Any) -> None:
        self.state.add_script(name, **options)

    def job_id(self, name: str) -> str:
        return str(self.state.job_by_name(name).id)

    def instance(self, instance_id: str) -> dict[str, Any]:
        """The overview of a quality instance, as the list call shows it, plus ``stopped``."""
        instance = self.state.instances[int(instance_id)]
        return {**instance.overview(time.time()), "stopped": instance.stopped}

    def script_instance(self, script_name: str, instance_id: str) -> dict[str, Any]:
        """What the service answers for a script instance, plus ``stopped`` and the run's ``params``."""
        instance = self.state.script_instance(script_name, instance_id)
        return {
            **self.state.script_answer(script_name, instance_id),
            "stopped": instance.stopped,
            "params": instance.params,
        }

    # --- DataArts Factory jobs ------------------------------------------------------------------

    @property
    def job_console_url(self) -> str:
        """The connection's ``job_console_url`` for this emulator: its own page for each job instance."""
        from airflow_provider_dataarts.emulator.console import JOB_PATH

        return self.url + JOB_PATH

    def add_factory_job(self, name: str, **options: Any) -> str:
        """A Factory job (see ``jobs.FactoryJobs.add_job``: nodes, outcomes, list_lag, schedule_seconds)."""
        return str(self.state.factory.add_job(name, **options).id)

    def job_instances(self, job_name: str | None = None) -> list[dict[str, Any]]:
        """Every Factory job instance (of one job), oldest first, as the control routes show them."""
        return self.state.factory.reports(job_name)

    def job_instance(self, instance_id: str) -> dict[str, Any]:
        return self.state.factory.report(str(instance_id))

    def finish_job_instance(self, instance_id: str) -> dict[str, Any]:
        return self.state.factory.finish(str(instance_id)).report(time.time())

    def schedule_job_instance(self, job_name: str, plan_time: int, start_in: float = 0.0) -> str:
        """An instance at ``plan_time`` (ms) as DataArts' own schedule makes it; its id."""
        return str(self.state.factory.schedule_instance(job_name, plan_time, start_in).id)

    # --- DataArts Migration (CDM) ---------------------------------------------------------------

    def add_migration_job(self, name: str, **options: Any) -> str:
        """A CDM job (see ``migration.MigrationJob``: run_seconds, outcomes, rows, list_lag...)."""
        return self.state.migration.add_job(name, **options).name

    def migration_submissions(self, job_name: str | None = None) -> list[dict[str, Any]]:
        """Every CDM submission (of one job), oldest first, with its variables and whether it was stopped."""
        return self.state.migration.report(job_name)
