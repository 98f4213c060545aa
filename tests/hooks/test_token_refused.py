"""
Issue 23, finding 3: an IAM token request answered 401 ``APIG.0301``/``APIG.0307`` fails at once.
The renew-the-token rule is for calls that carry a token; applied to the token request itself it
waited for the token claim that its own caller held (300 s, then again).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

from airflow_provider_dataarts.client.aio import AsyncTransport
from airflow_provider_dataarts.client.operations import list_jobs
from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.exceptions import DataArtsAPIError
from airflow_provider_dataarts.hooks.dataarts import DataArtsHook

pytestmark = pytest.mark.usefixtures("airflow_db")


@pytest.mark.parametrize("code", ["APIG.0301", "APIG.0307"])
def test_a_refused_token_request_fails_at_once(
    code: str, connect: Callable[..., str], emulator: DataArtsEmulator
) -> None:
    emulator.inject(
        "answer", path="/v3/auth/tokens", status=401, count=5, body={"error_code": code, "error_msg": "no"}
    )
    hook = DataArtsHook(connect("password"))
    outcome: list[object] = []

    def use() -> None:
        try:
            hook.resolve_job_id("orders_completeness")
        except DataArtsAPIError as error:
            outcome.append(error)
        outcome.append(hook.test_connection())

    worker = threading.Thread(target=use, daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "the token request waits for the token claim its own caller holds"
    error, (ok, message) = outcome
    assert isinstance(error, DataArtsAPIError) and error.status_code == 401
    assert not ok and "Credentials rejected" in message
    assert emulator.count("POST", "/v3/auth/tokens") == 2, "one token request each, never renewed"
    assert emulator.count("GET") == 0


def test_a_refused_token_request_fails_at_once_in_a_trigger(
    connect: Callable[..., str], emulator: DataArtsEmulator
) -> None:
    emulator.inject(
        "answer",
        path="/v3/auth/tokens",
        status=401,
        count=5,
        body={"error_code": "APIG.0307", "error_msg": "no"},
    )
    config = DataArtsHook(connect("password")).config

    async def call() -> None:
        transport = AsyncTransport(config, DataArtsHook().log)
        await asyncio.wait_for(transport.run(list_jobs(config.project_id, "quality")), timeout=20)

    with pytest.raises(DataArtsAPIError) as caught:
        asyncio.run(call())
    assert caught.value.status_code == 401
    assert emulator.count("POST", "/v3/auth/tokens") == 1
