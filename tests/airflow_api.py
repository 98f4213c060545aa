"""
Airflow's own REST API (what the UI calls) on the tests' AIRFLOW_HOME, served from a child process.

The app runs in a process of its own: created inside the test process, its database use broke the
drills that kill and restart ``airflow tasks test`` processes on the same SQLite file ("database
disk image is malformed").
"""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import dataclass
from functools import cache
from typing import Any

# The UI's Test button needs this; every user is an admin of the simple auth manager, so no login.
API_ENV = {
    "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
}


@dataclass
class Answer:
    status_code: int
    text: str

    def json(self) -> Any:
        import json

        return json.loads(self.text)


def _serve(requests: Any, answers: Any) -> None:
    os.environ.update(API_ENV)
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    client = TestClient(create_app())
    while (request := requests.get()) is not None:
        method, path, kwargs = request
        answer = client.request(method, path, **kwargs)
        answers.put((answer.status_code, answer.text))


class ApiClient:
    """``get``/``post``/``delete`` like a ``TestClient``, answered by the app in a child process."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._requests, self._answers = context.Queue(), context.Queue()
        self._process = context.Process(target=_serve, args=(self._requests, self._answers), daemon=True)
        self._process.start()

    def request(self, method: str, path: str, **kwargs: Any) -> Answer:
        self._requests.put((method, path, kwargs))
        status, text = self._answers.get(timeout=300)
        return Answer(status, text)

    def close(self) -> None:
        self._requests.put(None)
        self._process.join(timeout=30)
        if self._process.is_alive():
            self._process.kill()

    def get(self, path: str, **kwargs: Any) -> Answer:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Answer:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Answer:
        return self.request("DELETE", path, **kwargs)


@cache
def api_client() -> ApiClient:
    """The API, started on first use; ``close_api_client()`` ends it (each test module that uses it)."""
    return ApiClient()


def close_api_client() -> None:
    """End the API's process, so that no other test shares the database with it."""
    if api_client.cache_info().currsize:
        api_client().close()
        api_client.cache_clear()
