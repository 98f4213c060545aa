"""The caller's deadline, in both transports, against the emulator over HTTP."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_dataarts.client import operations as ops
from airflow_provider_dataarts.client.aio import AsyncTransport
from airflow_provider_dataarts.client.config import DataArtsConfig
from airflow_provider_dataarts.client.sync import SyncTransport
from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.exceptions import (
    DataArtsAPIError,
    DataArtsConnectionError,
    DataArtsDeadlineExceeded,
)
from tests.support import AK, PROJECT, SK, WORKSPACE

LOG = logging.getLogger("test")
LISTING = ops.instances_request(PROJECT, 0)


def config(emulator: DataArtsEmulator, **changes: Any) -> DataArtsConfig:
    extra = {"project_id": PROJECT, "workspace": WORKSPACE, "retry_wait": 0.05, **changes}
    return DataArtsConfig.from_connection(conn_id="t", host=emulator.url, login=AK, password=SK, extra=extra)


def sync_call(cfg: DataArtsConfig, deadline: float | None) -> Any:
    return SyncTransport(cfg, LOG).call(LISTING, deadline=deadline)


def async_call(cfg: DataArtsConfig, deadline: float | None) -> Any:
    return asyncio.run(AsyncTransport(cfg, LOG).call(LISTING, deadline=deadline))


def sync_run(cfg: DataArtsConfig, deadline: float | None) -> Any:
    return SyncTransport(cfg, LOG).run(ops.list_quality_instances(PROJECT), deadline=deadline)


def async_run(cfg: DataArtsConfig, deadline: float | None) -> Any:
    return asyncio.run(AsyncTransport(cfg, LOG).run(ops.list_quality_instances(PROJECT), deadline=deadline))


CALLS = [
    pytest.param(sync_call, id="sync-call"),
    pytest.param(async_call, id="async-call"),
    pytest.param(sync_run, id="sync-run"),
    pytest.param(async_run, id="async-run"),
]
Call = Callable[[DataArtsConfig, "float | None"], Any]


@pytest.mark.parametrize("make_call", CALLS)
def test_no_time_left_raises_at_once_and_sends_nothing(make_call: Call, emulator: DataArtsEmulator) -> None:
    with pytest.raises(DataArtsDeadlineExceeded, match="deadline passed"):
        make_call(config(emulator), time.time() - 1)
    assert emulator.count() == 0


@pytest.mark.parametrize("make_call", CALLS)
def test_a_deadline_in_the_future_changes_nothing(make_call: Call, emulator: DataArtsEmulator) -> None:
    assert make_call(config(emulator), time.time() + 30) is not None
    assert make_call(config(emulator), None) is not None


@pytest.mark.parametrize("make_call", CALLS)
def test_a_slow_answer_is_cut_at_the_deadline(make_call: Call, emulator: DataArtsEmulator) -> None:
    emulator.inject("delay", delay=3.0, path="/quality/instances")
    began = time.time()
    with pytest.raises(DataArtsConnectionError):
        make_call(config(emulator, timeout=60), began + 0.5)
    assert time.time() - began < 1.5, "the request's timeout was cut to the time left"
    assert emulator.count() == 1, "no retry after the deadline"


@pytest.mark.parametrize("make_call", CALLS)
def test_a_retry_that_would_end_past_the_deadline_is_not_made(
    make_call: Call, emulator: DataArtsEmulator
) -> None:
    emulator.inject("status", status=503, retry_after=5, path="/quality/instances")
    began = time.time()
    with pytest.raises(DataArtsAPIError) as raised:
        make_call(config(emulator), began + 2)
    assert raised.value.status_code == 503, "the last error, not a deadline error"
    assert time.time() - began < 1.0, "it did not wait for a retry it could not make"
    assert emulator.count() == 1


@pytest.mark.parametrize("make_call", CALLS)
def test_retries_within_the_deadline_still_happen(make_call: Call, emulator: DataArtsEmulator) -> None:
    clean = make_call(config(emulator), None)
    sent = emulator.count()
    emulator.inject("status", status=503, retry_after=0.1, count=2, path="/quality/instances")
    assert make_call(config(emulator), time.time() + 5) == clean
    assert emulator.count() == 2 * sent + 2


def test_the_deadline_error_is_an_api_error() -> None:
    assert issubclass(DataArtsDeadlineExceeded, DataArtsAPIError)


def test_each_services_clock_is_measured_on_its_own() -> None:
    """
    A lost answer's window is narrowed by the clock of the service that got the POST, measured
    from its own ``Date`` headers: answers of other hosts (IAM, the Factory host, a CDM cluster)
    whose clocks differ neither replace nor narrow it.
    """
    import re
    from email.utils import formatdate

    import responses

    from airflow_provider_dataarts.client.core import ApiRequest

    cfg = DataArtsConfig.from_connection(
        conn_id="t",
        host="https://dayu.cn-north-4.myhuaweicloud.com",
        login=AK,
        password=SK,
        extra={"project_id": PROJECT, "workspace": WORKSPACE},
    )
    ahead = time.time() + 100
    with responses.RequestsMock() as mocked:
        mocked.get(
            re.compile(re.escape(cfg.endpoint) + "/.*"),
            json={"total": 0, "data": []},
            headers={"Date": formatdate(ahead, usegmt=True)},
        )
        mocked.get(
            re.compile(re.escape(cfg.factory_endpoint) + "/.*"),
            json={"total": 0, "jobs": []},
            headers={"Date": formatdate(time.time(), usegmt=True)},
        )
        transport = SyncTransport(cfg, LOG)
        transport.call(LISTING)
        transport.call(ApiRequest("GET", "factory", f"/v1/{PROJECT}/jobs"))
        transport.call(LISTING)
    quality, factory = transport.skew_for("quality"), transport.skew_for("factory")
    assert quality is not None and 97_000 <= quality[0] <= quality[1] <= 102_000
    assert factory is not None and -2_000 <= factory[0] <= factory[1] <= 2_000
