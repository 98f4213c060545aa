"""
The system tests' REST client on a busy deployment, against a small fake api-server (``responses``):
a ``POST .../dagRuns`` that SQLite rolled back (500 "Database error") is tried again only when the
run does not exist, so no run is created twice. No Airflow deployment is started here.
"""

from __future__ import annotations

import json
import re
from typing import Any, cast
from urllib.parse import unquote

import pytest
import responses

from tests.system import client as client_module
from tests.system.client import AirflowClient, APIError

BASE = "http://127.0.0.1:1"
RUNS = f"{BASE}/api/v2/dags/d/dagRuns"


class FakeApi:
    """dagRuns of one DAG: each POST answers as ``answers`` says ("ok", "rolled back", "made, lost")."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers
        self.runs: dict[str, dict[str, Any]] = {}
        self.posts = 0

    def post(self, request: Any) -> tuple[int, dict[str, str], str]:
        self.posts += 1
        body = json.loads(request.body)
        run_id = body["dag_run_id"]
        answer = self.answers.pop(0) if self.answers else "ok"
        if run_id in self.runs:
            return 409, {}, json.dumps({"detail": f"DAG Run {run_id} already exists"})
        if answer == "rolled back":
            return 500, {}, json.dumps({"detail": "Database error"})
        self.runs[run_id] = {"dag_run_id": run_id, "conf": body["conf"], "state": "queued"}
        if answer == "made, lost":
            return 500, {}, json.dumps({"detail": "Database error"})
        return 200, {}, json.dumps(self.runs[run_id])

    def get(self, request: Any) -> tuple[int, dict[str, str], str]:
        run_id = unquote(request.url.rsplit("/", 1)[1])
        if run_id in self.runs:
            return 200, {}, json.dumps(self.runs[run_id])
        return 404, {}, json.dumps({"detail": "not found"})


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(client_module.time, "sleep", lambda seconds: None)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def serve(mock: responses.RequestsMock, answers: list[str]) -> FakeApi:
    fake = FakeApi(answers)
    mock.add_callback(responses.POST, RUNS, callback=fake.post)
    mock.add_callback(responses.GET, re.compile(rf"{re.escape(RUNS)}/.+"), callback=fake.get)
    return fake


def client() -> AirflowClient:
    return AirflowClient(BASE, "admin", "admin", cast(Any, None))


def test_a_rolled_back_trigger_is_tried_again_and_makes_one_run(api: responses.RequestsMock) -> None:
    fake = serve(api, ["rolled back", "rolled back", "ok"])
    run_id = client().trigger_dag("d", {"x": 1})
    assert fake.posts == 3 and list(fake.runs) == [run_id] and fake.runs[run_id]["conf"] == {"x": 1}


def test_a_trigger_whose_answer_was_lost_is_not_made_twice(api: responses.RequestsMock) -> None:
    fake = serve(api, ["made, lost"])
    run_id = client().trigger_dag("d", run_id="manual__given")
    assert run_id == "manual__given" and fake.posts == 1 and list(fake.runs) == ["manual__given"]


def test_a_refused_trigger_is_not_tried_again(api: responses.RequestsMock) -> None:
    fake = serve(api, [])
    api.replace(responses.POST, RUNS, json={"detail": "bad conf"}, status=400)
    with pytest.raises(APIError, match="400"):
        client().trigger_dag("d", {"x": 1})
    assert fake.posts == 0 and not fake.runs


def test_a_database_that_stays_broken_fails_after_a_few_tries(api: responses.RequestsMock) -> None:
    fake = serve(api, ["rolled back"] * 10)
    with pytest.raises(APIError, match="Database error"):
        client().trigger_dag("d")
    assert fake.posts == client_module.TRIGGER_ATTEMPTS and not fake.runs


PROBE = """
import asyncio
from airflow import settings

settings.configure_orm()
with settings.engine.connect() as connection:
    print(connection.exec_driver_sql("PRAGMA busy_timeout").scalar())


async def probe():
    async with settings.async_engine.connect() as connection:
        print((await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar())
    await settings.async_engine.dispose()


if settings.async_engine is not None:
    asyncio.run(probe())
"""


def test_the_deployments_sqlite_waits_for_its_lock() -> None:
    """Each Airflow process of the deployment (sync and async engines) waits 60 s for a SQLite lock, not 5."""
    import shutil
    import subprocess
    import sys

    from tests.system.deployment import ROOT, Deployment

    deployment = Deployment()
    try:
        env = deployment._environment()
        answer = subprocess.run(
            [sys.executable, "-c", PROBE],
            env=env,
            cwd=deployment.home,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        shutil.rmtree(deployment.home, ignore_errors=True)
    assert answer.returncode == 0, answer.stderr[-3000:]
    timeouts = [line for line in answer.stdout.splitlines() if line.strip().isdigit()]
    assert timeouts == ["60000", "60000"], (answer.stdout[-2000:], ROOT)
