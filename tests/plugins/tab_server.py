"""
Airflow's api-server app (``create_app``, which mounts the plugins) in a spawned child process, with
the simple auth manager in multi-team mode and users of different teams; tokens come from that
process's own auth manager. Used by ``test_tab_app.py``.
"""

from __future__ import annotations

import multiprocessing
import os
import secrets
from typing import Any

JWT_SECRET = secrets.token_urlsafe(48)


def teams_supported() -> bool:
    """Whether this Airflow's simple auth manager has teams (3.2+; 3.1 has roles only)."""
    import inspect

    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return "teams" in inspect.signature(SimpleAuthManagerUser).parameters


def server_env(teams: bool) -> dict[str, str]:
    users = "admin:admin,alice:viewer:team_a,bob:viewer:team_b" if teams else "admin:admin,alice:viewer"
    return {
        "AIRFLOW__CORE__MULTI_TEAM": str(teams),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": users,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__API_AUTH__JWT_SECRET": JWT_SECRET,
        "AIRFLOW__API__BASE_URL": "http://127.0.0.1:8080",
    }


def _serve(env: dict[str, str], requests: Any, answers: Any) -> None:
    os.environ.update(env)
    from airflow.api_fastapi.app import create_app, get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi.testclient import TestClient

    client = TestClient(create_app())
    while (request := requests.get()) is not None:
        kind, payload = request
        try:
            if kind == "token":
                username, role, teams, seconds = payload
                extra = {"teams": teams} if teams is not None else {}
                user = SimpleAuthManagerUser(username=username, role=role, **extra)
                answers.put(("ok", get_auth_manager().generate_jwt(user, expiration_time_in_seconds=seconds)))
            else:
                method, path, kwargs = payload
                answer = client.request(method, path, **kwargs)
                answers.put(("ok", (answer.status_code, answer.text, dict(answer.headers))))
        except Exception as error:  # reported to the test, which fails with it
            answers.put(("error", f"{type(error).__name__}: {error}"))


class TabServer:
    def __init__(self, teams: bool) -> None:
        context = multiprocessing.get_context("spawn")
        self._requests, self._answers = context.Queue(), context.Queue()
        self._process = context.Process(
            target=_serve, args=(server_env(teams), self._requests, self._answers), daemon=True
        )
        self._process.start()

    def _ask(self, kind: str, payload: Any) -> Any:
        import queue
        import time

        self._requests.put((kind, payload))
        deadline = time.monotonic() + 300
        while True:
            try:
                status, value = self._answers.get(timeout=1)
                break
            except queue.Empty:
                assert self._process.is_alive(), (
                    f"the api-server app's process exited ({self._process.exitcode})"
                )
                assert time.monotonic() < deadline, "the api-server app did not answer in 300 s"
        assert status == "ok", value
        return value

    def token(
        self, username: str, role: str | None, teams: list[str] | None = None, seconds: int = 600
    ) -> str:
        return str(self._ask("token", (username, role, teams, seconds)))

    def get(
        self, path: str, token: str | None = None, cookie: bool = False
    ) -> tuple[int, str, dict[str, str]]:
        kwargs: dict[str, Any] = {}
        if token and cookie:
            kwargs["headers"] = {"Cookie": f"_token={token}"}
        elif token:
            kwargs["headers"] = {"Authorization": f"Bearer {token}"}
        status, text, headers = self._ask("http", ("GET", path, kwargs))
        return status, text, headers

    def close(self) -> None:
        self._requests.put(None)
        self._process.join(timeout=30)
        if self._process.is_alive():
            self._process.kill()
