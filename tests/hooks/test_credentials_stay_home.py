"""
Issue 23, findings 1 and 2: the stored IAM password never goes to a host that a connection test
(or a task) can name through the extras. Airflow's Test button reuses the stored password while
host and port are unchanged, and takes every extra from the request; a local HTTP server stands
in for the attacker's and proves that nothing reached it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.hooks.dataarts import DataArtsHook
from tests.airflow_api import api_client, close_api_client
from tests.support import DOMAIN, IAM_PASSWORD, IAM_USER

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.filterwarnings("ignore")]


class Listener:
    """An HTTP server that answers every request 201 and keeps what it received."""

    def __init__(self) -> None:
        received: list[bytes] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received.append(self.requestline.encode() + b"\n" + self.rfile.read(length))
                self.send_response(201)
                self.send_header("X-Subject-Token", "MIIstolen")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


@pytest.fixture(autouse=True, scope="module")
def _api_ends_with_this_module() -> Iterator[None]:
    yield
    close_api_client()


def elsewhere(listener: Listener) -> list[dict[str, Any]]:
    port = listener.url.rsplit(":", 1)[1]
    return [
        {"iam_endpoint": listener.url},
        {"factory_endpoint": listener.url},
        {"migration_endpoint": listener.url},
        {"region": f"cn-north-4@127.0.0.1:{port}#"},
        {"region": "evil.example/x?"},
    ]


def test_a_task_never_sends_the_password_to_an_endpoint_extra_elsewhere(
    connect: Callable[..., str], emulator: DataArtsEmulator, listener: Listener
) -> None:
    for extra in elsewhere(listener):
        hook = DataArtsHook(connect("password", **extra))
        with pytest.raises(ValueError, match=f"extra.{next(iter(extra))} "):
            hook.rerun_quality_job(emulator.job_id("orders_completeness"))
        ok, message = hook.test_connection()
        assert not ok
        assert f"extra.{next(iter(extra))} " in message
        assert IAM_PASSWORD not in message
    assert listener.received == []
    assert emulator.count() == 0, "nothing is sent before the connection is valid"


def test_the_test_button_never_sends_the_stored_password_elsewhere(
    emulator: DataArtsEmulator, listener: Listener
) -> None:
    client = api_client()
    extra = {"project_id": "p1", "workspace": "w1", "auth_type": "password", "domain_name": DOMAIN}
    stored = {
        "connection_id": "stored_password_conn",
        "conn_type": "dataarts",
        "host": emulator.url,
        "login": IAM_USER,
        "password": IAM_PASSWORD,
        "extra": json.dumps(extra),
    }
    assert client.post("/api/v2/connections", json=stored).status_code == 201
    try:
        # The form's Test button posts the masked password: Airflow merges the stored one back.
        unchanged = client.post("/api/v2/connections/test", json={**stored, "password": "***"})
        assert unchanged.status_code == 200 and unchanged.json()["status"] is True, unchanged.text
        assert emulator.token_requests == 1, "the stored password was used: the test can tell"
        for changed in elsewhere(listener):
            body = {**stored, "password": "***", "extra": json.dumps({**extra, **changed})}
            answer = client.post("/api/v2/connections/test", json=body)
            assert answer.status_code == 200, answer.text
            assert answer.json()["status"] is False
            assert f"extra.{next(iter(changed))} " in answer.json()["message"]
        assert listener.received == [], "the stored password reached another server"
        assert emulator.token_requests == 1
    finally:
        client.delete("/api/v2/connections/stored_password_conn")
