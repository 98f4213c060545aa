"""
Shared fixtures: a private AIRFLOW_HOME, a DataArts emulator on 127.0.0.1, and connections to it.

The environment is set before anything imports Airflow, so no test ever touches ``~/airflow``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="dataarts-tests-"))
# The DAGs folder holds the example DAGs and the tests' own DAGs (dag.test() needs them in a bundle).
DAGS_FOLDER = AIRFLOW_HOME / "dags"
DAGS_FOLDER.mkdir()
for dag_file in [*(ROOT / "example_dags").glob("*.py"), *(ROOT / "tests" / "dags").glob("*.py")]:
    (DAGS_FOLDER / dag_file.name).symlink_to(dag_file)
os.environ.update(
    {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        # One key for this process and every `airflow` command it starts: both write and read
        # encrypted rows (the triggers of asset watchers in example DAGs, deferred tasks).
        "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
    }
)

from airflow_provider_dataarts.emulator import DataArtsEmulator  # noqa: E402
from tests.support import AK, IAM_PASSWORD, RUN_SECONDS, SCRIPT_SECONDS, SK, STATIC_TOKEN, connection_json  # noqa: E402


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[DataArtsEmulator]:
    server = DataArtsEmulator(
        port=0,
        run_seconds=RUN_SECONDS,
        script_seconds=SCRIPT_SECONDS,
        access_key=AK,
        secret_key=SK,
        iam_password=IAM_PASSWORD,
        static_token=STATIC_TOKEN,
    ).start()
    yield server
    server.stop()


@pytest.fixture
def emulator(emulator_server: DataArtsEmulator) -> DataArtsEmulator:
    """The emulator, back to its seeded state, with no faults and an empty request log."""
    from airflow_provider_dataarts.client.core import BUDGETS, TOKENS

    emulator_server.reset()
    TOKENS._tokens.clear()
    BUDGETS.clear()  # each test starts with the process's request budgets fresh
    from airflow_provider_dataarts.hooks.dataarts import DEFINITIONS

    DEFINITIONS.clear()  # and with no job definition read yet
    return emulator_server


@pytest.fixture
def connect(emulator: DataArtsEmulator, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """``connect(auth_type, conn_id, **extra)``: set a connection to the emulator, return its id."""

    def make(auth_type: str = "aksk", conn_id: str = "dataarts_default", **extra: Any) -> str:
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{conn_id.upper()}", connection_json(emulator.url, auth_type, **extra)
        )
        return conn_id

    return make


@pytest.fixture
def dataarts_conn(connect: Callable[..., str]) -> str:
    """``dataarts_default``: the emulator with AK/SK auth."""
    return connect("aksk")


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated metadata database in the private AIRFLOW_HOME (for ``dag.test()``)."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    return AIRFLOW_HOME


@pytest.fixture(autouse=True)
def _triggers_fire_at_once(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """
    Triggers hold their first event for ``FIRST_EVENT_DELAY`` (an Airflow scheduler race, see
    triggers/base.py); tests of anything else need not wait for it. Tests marked ``first_event_delay``
    keep it (and the system tests' real deployment always has it).
    """
    if request.node.get_closest_marker("first_event_delay") is None:
        monkeypatch.setattr("airflow_provider_dataarts.triggers.base.FIRST_EVENT_DELAY", 0.0)
