"""
System tests: a real Airflow deployment (api-server, scheduler, dag-processor, triggerer, a
LocalExecutor, SQLite) and a DataArts emulator process, started once per session and driven
through the public REST API. See ``tests/system/deployment.py``.

Every test under ``tests/system`` is marked ``system`` (``pytest -m "not system"`` leaves them out).
They skip when the machine cannot run a deployment at all (not Linux, no loopback, no ``airflow``
command), unless ``DATAARTS_SYSTEM_TESTS=required``; a deployment that fails to start is an error.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.system.client import AirflowClient, EmulatorClient
from tests.system.deployment import Deployment, DeploymentUnavailable, check_environment

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.system)


@pytest.fixture(scope="session")
def deployment() -> Iterator[Deployment]:
    """The session's one Airflow deployment, with its DataArts emulator."""
    try:
        check_environment()
    except DeploymentUnavailable as error:
        if os.environ.get("DATAARTS_SYSTEM_TESTS") == "required":
            pytest.fail(f"no Airflow deployment on this machine: {error}")
        pytest.skip(f"no Airflow deployment on this machine: {error}")
    started = Deployment().start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def airflow_api(deployment: Deployment) -> AirflowClient:
    return deployment.api


@pytest.fixture
def dataarts_emulator(deployment: Deployment) -> EmulatorClient:
    """The deployment's emulator with no faults left and an empty request log (its state is kept)."""
    deployment.emulator.clear_faults()
    deployment.emulator.clear_requests()
    return deployment.emulator


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None, Any, None]:
    """A failed system test shows the end of every deployment process's log."""
    outcome = yield
    report = outcome.get_result()
    running: Deployment | None = getattr(item, "funcargs", {}).get("deployment")
    if report.failed and running is not None:
        report.sections.append(("deployment logs", running.logs()))
