"""
A real Airflow deployment for system tests: api-server, scheduler, dag-processor and triggerer as
their own processes, a LocalExecutor, SQLite, and a DataArts emulator process, all on 127.0.0.1.

``Deployment.start()`` makes a private ``AIRFLOW_HOME`` (a temporary directory), picks free ports,
migrates the database, starts every process in its own process group (output to
``{AIRFLOW_HOME}/{name}.log``), and returns once the REST API answers, every DAG file is parsed and
the scheduler, dag-processor and triggerer are healthy. ``stop()`` ends every process it started;
a watchdog process does the same if the test process dies first.

Tests drive it as a user would, through the public REST API: ``deployment.api`` (``AirflowClient``)
and ``deployment.emulator`` (``EmulatorClient``), see ``tests/system/client.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import psutil

from tests.support import AK, SK, connection_json
from tests.system.client import AirflowClient, EmulatorClient

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_DAGS = Path(__file__).resolve().parent / "dags"
DAG_SOURCES = (ROOT / "example_dags", SYSTEM_DAGS)
USERNAME = "admin"
WATCHDOG = Path(__file__).resolve().parent / "watchdog.py"
KEEP_HOME = "DATAARTS_SYSTEST_KEEP_HOME"  # set it to keep the deployment's AIRFLOW_HOME for a look afterwards
# How long the scheduler waits for a task's heartbeat before it fails the try (Airflow's default: 300 s).
TASK_HEARTBEAT_TIMEOUT = 12
STARTUP_TIMEOUT = 150.0
SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer")


class DeploymentUnavailable(Exception):
    """The machine cannot run a deployment (not Linux, no loopback, no ``airflow`` command)."""


class DeploymentError(AssertionError):
    """The deployment did not come up, or one of its processes misbehaved (with their logs)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def check_environment() -> None:
    """Raise ``DeploymentUnavailable`` when this machine cannot run a deployment at all."""
    if not sys.platform.startswith("linux"):
        raise DeploymentUnavailable(f"system tests need Linux (/proc, fork), not {sys.platform}")
    try:
        free_port()
    except OSError as error:
        raise DeploymentUnavailable(f"cannot listen on 127.0.0.1: {error}") from error
    if shutil.which("airflow", path=str(Path(sys.executable).parent)) is None:
        raise DeploymentUnavailable(f"no airflow command next to {sys.executable}")


class Service:
    """One long-running process of the deployment, in its own process group, logging to a file."""

    def __init__(self, name: str, argv: list[str], log_path: Path) -> None:
        self.name, self.argv, self.log_path = name, argv, log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self, env: Mapping[str, str], cwd: Path) -> None:
        self._log = self.log_path.open("ab")
        self._log.write(f"--- {datetime.now(UTC).isoformat()} starting {self.name}\n".encode())
        self._log.flush()
        self.process = subprocess.Popen(
            self.argv,
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} was never started"
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal_group(self, sig: int) -> None:
        """Signal the process group; only while the leader is unreaped, so its id cannot be reused."""
        if self.process is not None and self.process.returncode is None:
            _signal_group(self.process.pid, sig)

    def stop(self, sig: int = signal.SIGTERM, grace: float = 10.0) -> None:
        """Signal the process group, wait up to ``grace`` seconds, then SIGKILL what is left of it."""
        if self.process is None:
            return
        self.signal_group(sig)
        _wait_unreaped(self.process.pid, grace)
        self.signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        self.close_log()

    def close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def tail(self, chars: int = 6000) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return text[-chars:]


class Deployment:
    """
    A running Airflow with a DataArts emulator (see the module docstring).

    :ivar home: the private ``AIRFLOW_HOME``; every process's output is in ``{home}/{name}.log``.
    :ivar api: ``AirflowClient`` for the REST API v2, logged in as an admin.
    :ivar emulator: ``EmulatorClient`` for the emulator's control routes.
    :ivar env: the environment every Airflow process runs with (it holds secrets: never print it).
    """

    def __init__(self, *, run_seconds: float = 1.0, script_seconds: float = 1.0) -> None:
        self.run_seconds, self.script_seconds = run_seconds, script_seconds
        self.home = Path(tempfile.mkdtemp(prefix="dataarts-systest-"))
        self.dags_folder = self.home / "dags"
        self.services: dict[str, Service] = {}
        self.env: dict[str, str] = {}
        self.api_port = 0
        self.emulator_url = ""
        self.startup_seconds = 0.0
        self._emulator_process: subprocess.Popen[bytes] | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._password = secrets.token_urlsafe(16)
        self.api: AirflowClient
        self.emulator: EmulatorClient

    # --- start ------------------------------------------------------------------------------------

    def start(self) -> Deployment:
        began = time.monotonic()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def _start(self) -> None:
        keep = ["--keep"] if os.environ.get(KEEP_HOME) else []
        self._watchdog = subprocess.Popen(
            [sys.executable, str(WATCHDOG), str(self.home), *keep],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=(self.home / "watchdog.log").open("wb"),
            start_new_session=True,
        )
        self._link_dags()
        self._start_emulator()
        self.env = self._environment()
        (self.home / "passwords.json").write_text(json.dumps({USERNAME: self._password}))
        (self.home / "passwords.json").chmod(0o600)
        migrate = subprocess.run(
            [*self._airflow(), "db", "migrate"],
            env=self.env,
            cwd=self.home,
            stdin=subprocess.DEVNULL,
            stdout=(self.home / "db-migrate.log").open("wb"),
            stderr=subprocess.STDOUT,
            timeout=STARTUP_TIMEOUT,
            check=False,
        )
        if migrate.returncode != 0:
            raise DeploymentError(
                f"airflow db migrate failed ({migrate.returncode}):\n"
                + (self.home / "db-migrate.log").read_text(errors="replace")[-6000:]
            )
        never_reuse_trigger_ids(self.home / "airflow.db")
        commands = {
            "api-server": [
                "api-server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.api_port),
                "--workers",
                "1",
            ],
            "scheduler": ["scheduler"],
            "dag-processor": ["dag-processor"],
            "triggerer": ["triggerer"],
        }
        for name in SERVICES:
            service = Service(name, [*self._airflow(), *commands[name]], self.home / f"{name}.log")
            self.services[name] = service
            self._start_service(service)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        self.api = AirflowClient(f"http://127.0.0.1:{self.api_port}", USERNAME, self._password, self)
        self.emulator = EmulatorClient(self.emulator_url)
        self._wait("the api-server to answer", self.api.answers, deadline)
        self.api.login()
        self._wait_for_dags(deadline)
        self._wait("scheduler, dag-processor and triggerer heartbeats", self._healthy, deadline)

    def _start_service(self, service: Service) -> None:
        service.start(self.env, self.home)
        self.watch(service.pid)

    def watch(self, pid: int) -> None:
        """Have the watchdog end this process's group, and its descendants, when the deployment stops."""
        assert self._watchdog is not None and self._watchdog.stdin is not None
        self._watchdog.stdin.write(f"{pid}\n".encode())
        self._watchdog.stdin.flush()

    def _airflow(self) -> list[str]:
        return [sys.executable, "-m", "airflow"]

    def _link_dags(self) -> None:
        self.dags_folder.mkdir()
        for source in DAG_SOURCES:
            for dag_file in sorted(source.glob("*.py")):
                if dag_file.name != "__init__.py":
                    (self.dags_folder / dag_file.name).symlink_to(dag_file)

    def _start_emulator(self) -> None:
        """The emulator on a port it picks itself; its URL is read from the first line it prints."""
        self._emulator_process = subprocess.Popen(
            [
                *(sys.executable, "-m", "airflow_provider_dataarts.emulator"),
                *("--port", "0", "--quiet", "--ak", AK, "--sk", SK),
                *("--run-seconds", str(self.run_seconds), "--script-seconds", str(self.script_seconds)),
            ],
            stdin=subprocess.DEVNULL,
            # The banner shows the credentials: it is read here, never written anywhere.
            stdout=subprocess.PIPE,
            stderr=(self.home / "emulator.log").open("wb"),
            start_new_session=True,
        )
        self.watch(self._emulator_process.pid)
        assert self._emulator_process.stdout is not None
        first = self._emulator_process.stdout.readline().decode()
        match = re.match(r"DataArts emulator on (http://127\.0\.0\.1:\d+)", first)
        if match is None:
            self._emulator_process.wait(timeout=10)
            raise DeploymentError(
                "the DataArts emulator did not start:\n"
                + (self.home / "emulator.log").read_text(errors="replace")[-3000:]
            )
        self.emulator_url = match.group(1)

    def _environment(self) -> dict[str, str]:
        """The environment of every Airflow process: the configuration, as ``AIRFLOW__...`` variables."""
        self.api_port = free_port()
        base = {k: v for k, v in os.environ.items() if not k.lstrip("_").startswith("AIRFLOW")}
        api_url = f"http://127.0.0.1:{self.api_port}"
        config = {
            "core": {
                "dags_folder": str(self.dags_folder),
                "load_examples": "False",
                "executor": "LocalExecutor",
                # Task slots: a user's-kill test starts seven tasks at once, and what a failed test leaves
                # running (sync waits on 300 s timeouts) held all of 4 slots for minutes, so the next
                # tests' tasks stayed queued and timed out (seen in the whole test command).
                "parallelism": "8",
                "dags_are_paused_at_creation": "False",
                "unit_test_mode": "False",
                "execution_api_server_url": f"{api_url}/execution/",
                "fernet_key": _fernet_key(),
                "simple_auth_manager_users": f"{USERNAME}:admin",
                "simple_auth_manager_passwords_file": str(self.home / "passwords.json"),
                "simple_auth_manager_all_admins": "False",
                "hostname_callable": "tests.system.hostname.loopback",
            },
            "database": {
                "sql_alchemy_conn": f"sqlite:///{self.home / 'airflow.db'}",
                # SQLite waits for a lock another process holds, not fails (tests/system/database.py)
                "sql_alchemy_connect_args": "tests.system.database.CONNECT_ARGS",
                "sql_alchemy_connect_args_async": "tests.system.database.CONNECT_ARGS_ASYNC",
            },
            "api": {
                "host": "127.0.0.1",
                "port": str(self.api_port),
                "base_url": api_url,
                "workers": "1",
                "secret_key": secrets.token_urlsafe(24),
                "expose_config": "False",
            },
            "api_auth": {"jwt_secret": secrets.token_urlsafe(64)},
            "logging": {
                "base_log_folder": str(self.home / "logs"),
                "worker_log_server_port": str(free_port()),
                "trigger_log_server_port": str(free_port()),
                "colored_console_log": "False",
                "logging_level": "INFO",
            },
            "scheduler": {
                "scheduler_heartbeat_sec": "1",
                "scheduler_idle_sleep_time": "0.5",
                "task_instance_heartbeat_timeout": str(TASK_HEARTBEAT_TIMEOUT),
                "task_instance_heartbeat_timeout_detection_interval": "2",
                "trigger_timeout_check_interval": "2",
                "enable_health_check": "False",
            },
            "workers": {"min_heartbeat_interval": "2"},
            "dag_processor": {
                "refresh_interval": "5",
                # Each file is parsed once at start (no test changes a DAG file): re-parsing all of
                # them every 30 s was one of the deployment's largest uses of CPU, on 2 cores shared with
                # the rest of the test command.
                "min_file_process_interval": "3600",
                "parsing_processes": "1",
                "print_stats_interval": "300",
                "bundle_refresh_check_interval": "5",
            },
            "triggerer": {"job_heartbeat_sec": "1", "triggerer_health_check_threshold": "10"},
        }
        env = {
            **base,
            "AIRFLOW_HOME": str(self.home),
            # A lost answer's run is adopted once the list has caught up (the grace): 15 s, not 2 min.
            "AIRFLOW_CONN_DATAARTS_DEFAULT": connection_json(self.emulator_url, "aksk", not_listed_grace=15),
            # For the tests of the not-listed grace: 3 s instead of 2 minutes.
            "AIRFLOW_CONN_DATAARTS_SHORT_GRACE": connection_json(
                self.emulator_url, "aksk", not_listed_grace=3
            ),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        for section, options in config.items():
            for option, value in options.items():
                env[f"AIRFLOW__{section.upper()}__{option.upper()}"] = value
        return env

    def _wait(self, what: str, ready: Any, deadline: float, interval: float = 0.5) -> Any:
        while True:
            self.check_alive()
            result = ready()
            if result:
                return result
            if time.monotonic() > deadline:
                raise DeploymentError(f"timed out waiting for {what}\n{self.logs()}")
            time.sleep(interval)

    def _wait_for_dags(self, deadline: float) -> None:
        """Every DAG file has DAGs in the API, or its import error fails the start."""
        files = sorted(path.name for path in self.dags_folder.glob("*.py"))
        while True:
            self.check_alive()
            errors = self.api.import_errors()
            if errors:
                shown = "\n\n".join(f"{e['filename']}:\n{e['stack_trace']}" for e in errors)
                raise DeploymentError(f"DAG files failed to import:\n{shown}")
            parsed = {Path(dag.get("relative_fileloc") or dag["fileloc"]).name for dag in self.api.dags()}
            missing = [name for name in files if name not in parsed]
            if not missing:
                return
            if time.monotonic() > deadline:
                raise DeploymentError(f"DAG files never parsed: {missing}\n{self.logs()}")
            time.sleep(0.5)

    def _healthy(self) -> bool:
        health = self.api.health()
        return all(
            health[part]["status"] == "healthy" for part in ("scheduler", "triggerer", "dag_processor")
        )

    # --- while it runs ----------------------------------------------------------------------------

    def check_alive(self) -> None:
        """Fail, with the logs, when a process of the deployment has exited."""
        for service in self.services.values():
            if service.process is not None and not service.alive():
                raise DeploymentError(
                    f"airflow {service.name} exited with {service.process.returncode}\n{self.logs()}"
                )
        if self._emulator_process is not None and self._emulator_process.poll() is not None:
            raise DeploymentError(f"the DataArts emulator exited\n{self.logs()}")

    def logs(self, names: Iterable[str] | None = None, chars: int = 4000) -> str:
        """The end of each process's log, for failure messages."""
        chosen = list(names) if names is not None else list(self.services)
        parts = [
            f"===== {name} ({self.services[name].log_path}) =====\n{self.services[name].tail(chars)}"
            for name in chosen
            if name in self.services
        ]
        return "\n".join(parts)

    def failed_by_stale_executor_event(self, ti_id: str) -> bool:
        """
        Whether the scheduler failed this task instance on a late executor event of its previous
        reschedule poke (Airflow's own race, apache/airflow#71172, fix proposed in #71194): the poke
        ended ``up_for_reschedule``, the next one was already running, and the first one's "success"
        was read as a task that died without saying so.
        """
        text = self.services["scheduler"].log_path.read_text(errors="replace")
        stale = "finished with state success, but the task instance's state attribute is"
        return any(ti_id in line and stale in line for line in text.splitlines())

    def descendants(self) -> list[psutil.Process]:
        """Every live process under the scheduler (LocalExecutor workers, task supervisors, tasks)."""
        try:
            return psutil.Process(self.services["scheduler"].pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def restart_triggerer(self, sig: int = signal.SIGTERM, timeout: float = 90.0) -> None:
        """
        Stop the triggerer with ``sig`` (SIGTERM: a clean shutdown; SIGKILL: a crash), start a new
        one, and return once the new one has sent a heartbeat.
        """
        self.start_triggerer(self.stop_triggerer(sig), timeout)

    def stop_triggerer(self, sig: int = signal.SIGTERM) -> datetime:
        """Stop the triggerer (``start_triggerer`` brings it back); when it stopped."""
        self.services["triggerer"].stop(sig, grace=30.0)
        return datetime.now(UTC)

    def start_triggerer(self, stopped_at: datetime, timeout: float = 90.0) -> None:
        """Start the stopped triggerer again; return once it has sent a heartbeat."""
        self._start_service(self.services["triggerer"])

        def new_heartbeat() -> bool:
            triggerer = self.api.health()["triggerer"]
            beat = triggerer.get("latest_triggerer_heartbeat")
            return (
                triggerer["status"] == "healthy"
                and beat is not None
                and datetime.fromisoformat(beat) > stopped_at
            )

        self._wait("the new triggerer's heartbeat", new_heartbeat, time.monotonic() + timeout)

    def add_triggerer(self, name: str = "triggerer-2") -> Service:
        """A second triggerer beside the first (Airflow spreads the triggers over live triggerers)."""
        service = Service(name, [*self._airflow(), "triggerer"], self.home / f"{name}.log")
        self.services[name] = service
        self._start_service(service)
        return service

    def remove_service(self, name: str) -> None:
        """Stop a service that a test added (``add_triggerer``) and forget it."""
        service = self.services.pop(name, None)
        if service is not None:
            service.signal_group(signal.SIGCONT)
            service.stop()

    # --- stop -------------------------------------------------------------------------------------

    def stop(self) -> None:
        """
        End every process of the deployment and remove its home (kept when ``DATAARTS_SYSTEST_KEEP_HOME``
        is set): the watchdog sends SIGTERM to each process group, waits a few seconds, then SIGKILLs
        the groups and every descendant it has seen (task runners have process groups of their own).
        """
        for client in (getattr(self, "api", None), getattr(self, "emulator", None)):
            if client is not None:
                client.close()  # an open keep-alive connection holds up the api-server's shutdown
        processes = [s.process for s in self.services.values() if s.process is not None]
        processes += [self._emulator_process] if self._emulator_process is not None else []
        if self._watchdog is not None:
            assert self._watchdog.stdin is not None
            self._watchdog.stdin.close()  # the watchdog's signal to clean up
            try:
                self._watchdog.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self._watchdog.kill()
                self._watchdog.wait()
        for process in processes:  # the groups again, had the watchdog failed; then reap the leaders
            if process.returncode is None:
                _signal_group(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        for service in self.services.values():
            service.close_log()
        if not os.environ.get(KEEP_HOME):
            shutil.rmtree(self.home, ignore_errors=True)


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _wait_unreaped(pid: int, timeout: float) -> None:
    """Wait until a child process has exited, without reaping it (its pid stays ours meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.1)


def never_reuse_trigger_ids(database: Path) -> None:
    """
    Make the SQLite ``trigger`` table's ids never come back, as the production databases' sequences
    (PostgreSQL, MySQL 8) never do. SQLite gives a new row the largest id + 1, so the id of a
    trigger just deleted (``Trigger.clean_unused``) goes to the next task that defers; the
    triggerer, which knows its triggers by id alone, then keeps the old trigger running for the new
    task and never cancels it: the marked task's run is not stopped (seen in
    tests/system/test_lifecycle.py under load) and the new task gets the old trigger's event. The
    operators refuse such an event (``BaseDataArtsRunOperator._refuse_foreign_event``); the stop is
    Airflow's to give. ``AUTOINCREMENT`` makes SQLite skip every id ever used.
    """
    import sqlite3

    with contextlib.closing(sqlite3.connect(database)) as db:
        (schema,) = db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'trigger'"
        ).fetchone()
        if "AUTOINCREMENT" in schema.upper():
            return
        column, key = "id INTEGER NOT NULL,", "CONSTRAINT trigger_pkey PRIMARY KEY (id),"
        if column not in schema or key not in schema:
            raise DeploymentError(
                f"the trigger table is not what this deployment knows how to change:\n{schema}"
            )
        rebuilt = schema.replace('"trigger"', '"trigger_autoincrement"', 1)
        rebuilt = rebuilt.replace(column, "id INTEGER PRIMARY KEY AUTOINCREMENT,").replace(key, "")
        indexes = [
            row[0]
            for row in db.execute(
                "SELECT sql FROM sqlite_master "
                "WHERE type = 'index' AND tbl_name = 'trigger' AND sql IS NOT NULL"
            )
        ]
        db.execute("PRAGMA foreign_keys = OFF")
        db.executescript(
            f'BEGIN; {rebuilt}; INSERT INTO trigger_autoincrement SELECT * FROM "trigger"; '
            'DROP TABLE "trigger"; ALTER TABLE trigger_autoincrement RENAME TO "trigger"; '
            + "".join(f"{index};" for index in indexes)
            + " COMMIT;"
        )


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def wait_until(what: str, ready: Any, timeout: float, interval: float = 0.3) -> Any:
    """Poll ``ready()`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = ready()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
