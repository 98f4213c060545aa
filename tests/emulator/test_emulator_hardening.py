"""
Issue 23, finding 8 (the emulator): nothing it serves holds a credential, a malformed control
request gets a clear 4xx, and no silent client holds a thread for ever.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
import requests

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.hooks.dataarts import DataArtsHook
from tests.support import IAM_PASSWORD, SK, STATIC_TOKEN

pytestmark = pytest.mark.usefixtures("airflow_db")


def raw_exchange(emulator: DataArtsEmulator, data: bytes, wait: float = 30.0) -> bytes:
    """Send bytes as they are; what comes back before the server closes (or ``wait`` passes)."""
    address = urlsplit(emulator.url)
    with socket.create_connection((address.hostname, address.port), timeout=wait) as sock:
        sock.sendall(data)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer and b"Content-Length" in answer:
                    head, _, body = answer.partition(b"\r\n\r\n")
                    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                    if len(body) >= length:
                        break
        except TimeoutError:
            pytest.fail(f"no answer within {wait} s: {answer!r}")
    return answer


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def test_the_request_log_serves_no_credential(
    connect: Callable[..., str], emulator: DataArtsEmulator
) -> None:
    job_id = emulator.job_id("orders_completeness")
    for auth_type in ("password", "token", "aksk"):
        hook = DataArtsHook(connect(auth_type, conn_id=f"c_{auth_type}", security_token=None))
        hook.rerun_quality_job(job_id)
    issued = list(emulator.emulation.tokens)
    assert issued, "a token was issued"
    served = requests.get(f"{emulator.url}/_emulator/requests", timeout=30).text
    in_process = json.dumps(emulator.requests)
    for secret in (IAM_PASSWORD, STATIC_TOKEN, SK, *issued):
        assert secret not in served
        assert secret not in in_process
    assert emulator.count("POST", "/v3/auth/tokens") == 1
    assert len({r["headers"].get("X-Auth-Token") for r in emulator.requests} - {None}) == 2, (
        "tokens stay told apart"
    )


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"POST /_emulator/faults HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\nnot json", 400),
        (b"POST /_emulator/faults HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n[1]", 400),
        (b"POST /_emulator/throttle HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 400),
        (b"POST /_emulator/faults HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n{}", 400),
        (b"POST /_emulator/faults HTTP/1.1\r\nHost: x\r\nContent-Length: -2\r\n\r\n{}", 400),
        (b"POST /_emulator/faults HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n{}", 413),
        (b"POST /_emulator/faults HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{}", 400),
        (b"GET /console/quality/instances/" + b"9" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 404),
        (b"GET /_emulator/instances/" + b"9" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 404),
        (b"POST /_emulator/instances/" + b"9" * 5000 + b"/finish HTTP/1.1\r\nHost: x\r\n\r\n", 404),
    ],
)
def test_a_malformed_control_request_gets_a_clear_4xx(
    request_bytes: bytes, status: int, emulator: DataArtsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(emulator.server, "body_timeout", 1.0)  # an overstated length: 400 after 1 s
    answer = raw_exchange(emulator, request_bytes)
    assert status_of(answer) == status, answer[:300]
    assert requests.get(f"{emulator.url}/_emulator/health", timeout=30).status_code == 200


def test_a_silent_client_is_cut_off(emulator: DataArtsEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(emulator.server, "idle_timeout", 0.5)
    address = urlsplit(emulator.url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        sock.sendall(b"GET /_emulator/health HTTP/1.1\r\n")  # and never the rest
        started = time.monotonic()
        try:
            closed = sock.recv(1024) == b""
        except TimeoutError:
            closed = False
        except ConnectionResetError:
            closed = True
    assert closed, "the server still waits for the client after 30 s"
    assert time.monotonic() - started < 25
