"""Which failures a wait survives (is_transient), the Outage bookkeeping, TokenCache under threads."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import pytest

from airflow_provider_dataarts.client.config import DataArtsConfig
from airflow_provider_dataarts.client.core import IamToken, Outage, TokenCache, is_transient
from airflow_provider_dataarts.exceptions import (
    DataArtsAPIError,
    DataArtsConfigError,
    DataArtsConnectionError,
    DataArtsDeadlineExceeded,
)


def api_error(status: int | None, code: str | None = None, **kwargs: Any) -> DataArtsAPIError:
    return DataArtsAPIError("x", status_code=status, error_code=code, method="GET", path="/", **kwargs)


def connection_error(*, arrived: bool) -> DataArtsConnectionError:
    return DataArtsConnectionError("ReadTimeout", may_have_arrived=arrived, method="GET", path="/")


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        pytest.param(connection_error(arrived=False), True, id="refused"),
        pytest.param(connection_error(arrived=True), True, id="timeout"),
        pytest.param(api_error(429, "APIG.0308"), True, id="429"),
        pytest.param(api_error(500), True, id="500"),
        pytest.param(api_error(502, "APIG.0201"), True, id="502"),
        pytest.param(api_error(503, "APIG.0613"), True, id="503"),
        pytest.param(api_error(504), True, id="504"),
        pytest.param(api_error(200, malformed=True), True, id="non-json"),
        pytest.param(api_error(401, "APIG.0301"), False, id="401"),
        pytest.param(api_error(403, "APIG.0302"), False, id="403"),
        pytest.param(api_error(400, "DQC.0003"), False, id="400"),
        pytest.param(api_error(404), False, id="404"),
        pytest.param(api_error(None), False, id="tls"),
        pytest.param(DataArtsDeadlineExceeded("late", method="GET", path="/"), False, id="deadline"),
        pytest.param(KeyError("bug"), False, id="bug"),
    ],
)  # fmt: skip
def test_which_errors_a_wait_survives(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def warning(self, message: str, *args: Any) -> None:
        self.lines.append(message % args)


def test_an_outage_is_logged_once_then_each_minute_and_with_its_length_when_it_ends() -> None:
    log, outage = Lines(), Outage(tolerance=600)
    assert outage.failed(api_error(503), 1000.0, log)
    assert outage.failed(api_error(503), 1030.0, log)
    assert outage.failed(api_error(503), 1061.0, log)
    assert outage.recovered(1075.0, log) == 75.0
    assert log.lines[0].startswith("DataArts unreachable (GET / failed: HTTP 503")
    assert log.lines[1] == "DataArts unreachable for 61 s (3 polls failed), still waiting"
    assert log.lines[2] == "DataArts was unreachable for 75 s; reachable again, still waiting"
    assert len(log.lines) == 3
    assert outage.recovered(1100.0, log) is None, "no outage, nothing to say"
    assert len(log.lines) == 3


def test_an_outage_longer_than_the_tolerance_is_not_tolerated() -> None:
    outage = Outage(tolerance=60)
    assert outage.failed(api_error(502), 0.0)
    assert outage.failed(api_error(502), 60.0)
    assert not outage.failed(api_error(504, "APIG.0201"), 60.5)
    message = outage.give_up_message(60.5)
    assert "unreachable for 60 s, longer than the outage tolerance of 60 s" in message
    assert "outage_tolerance" in message and "HTTP 504" in message


def test_an_outage_spreads_the_polls_doubling_up_to_a_minute_or_the_interval() -> None:
    from airflow_provider_dataarts.client.core import outage_backoff

    log, outage = Lines(), Outage(tolerance=3600)
    waits = []
    now = 0.0
    for _ in range(8):
        outage.failed(api_error(503), now, log, poll_interval=1.0)
        assert outage.next_poll_at is not None
        waits.append(outage.next_poll_at - now)
        assert outage.backing_off(now + waits[-1] - 0.01) and not outage.backing_off(now + waits[-1])
        now += waits[-1]
    assert waits == [2, 4, 8, 16, 32, 60, 60, 60]
    assert "polling again in 2 s" in log.lines[0]
    outage.recovered(now)
    assert outage.failures == 0 and not outage.backing_off(now), "the first answer resets it"
    assert outage_backoff(120.0, 1) == 120.0, "an interval above a minute is never shortened"
    assert outage_backoff(30.0, 1) == 60.0 and outage_backoff(30.0, 5) == 60.0


def test_an_outage_survives_a_round_trip_through_json() -> None:
    """Sensors in poke and reschedule mode keep it in task_state_store between pokes."""
    outage = Outage(tolerance=600)
    outage.failed(api_error(503), 1000.0, logging.getLogger("test"))
    stored = json.loads(json.dumps(outage.to_dict()))
    again = Outage.from_dict(stored, tolerance=600)
    assert again == outage
    assert not again.failed(api_error(503), 1601.0)
    assert Outage.from_dict(None, 10) == Outage(10)


def test_token_cache_discard_is_safe_under_threads() -> None:
    cache = TokenCache()
    config = DataArtsConfig.from_connection(
        conn_id="t",
        host="http://h",
        login="u",
        password="p",
        extra={"project_id": "p", "auth_type": "password", "domain_name": "d"},
    )
    token = IamToken(value="v", expires_at=1e12, renew_at=1e12)
    errors: list[BaseException] = []

    def churn() -> None:
        try:
            for _ in range(3000):
                cache.put(config, token)
                cache.discard(config, "v")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=churn) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"outage_tolerance": "soon"}, "extra.outage_tolerance must be a number"),
        ({"outage_tolerance": -1}, "extra.outage_tolerance must be at least 0"),
        ({"max_requests_per_minute": 0}, "extra.max_requests_per_minute must be at least 1"),
        ({"max_requests_per_minute": "inf"}, "extra.max_requests_per_minute must be a finite number"),
    ],
)
def test_the_new_extras_are_validated_naming_the_field(extra: dict[str, Any], problem: str) -> None:
    with pytest.raises(DataArtsConfigError, match=problem):
        DataArtsConfig.from_connection(
            conn_id="t", host="http://h", login="AK", password="SK", extra={"project_id": "p", **extra}
        )


def test_the_new_extras_have_documented_defaults() -> None:
    config = DataArtsConfig.from_connection(
        conn_id="t", host="http://h", login="AK", password="SK", extra={"project_id": "p"}
    )
    assert config.outage_tolerance == 600
    assert config.max_requests_per_minute == 1800
