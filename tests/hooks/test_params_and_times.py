"""What the hook sends for script parameters and time hints, read from the emulator's request log."""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.exceptions import DataArtsConfigError
from airflow_provider_dataarts.hooks.dataarts import DataArtsHook


def sent_params(emulator: DataArtsEmulator) -> Any:
    (request,) = [r for r in emulator.requests if r["path"].endswith("/execute")]
    return request["body"]["params"]


def test_strings_go_as_they_are_numbers_and_booleans_as_json_text(
    dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    params = {
        "date": "2026-11-30",
        "limit": 3,
        "ratio": 0.25,
        "big": 10**19,
        "full": True,
        "dry": False,
        "none": "None",
    }
    DataArtsHook(dataarts_conn).execute_script("daily_orders_sql", params)
    assert sent_params(emulator) == {
        "date": "2026-11-30",
        "limit": "3",
        "ratio": "0.25",
        "big": "10000000000000000000",
        "full": "true",
        "dry": "false",
        "none": "None",
    }


@pytest.mark.parametrize(
    ("value", "what"),
    [(None, "is None"), ({"a": 1}, "is a dict"), ([1, 2], "is a list"), (float("nan"), "finite")],
)
def test_none_nested_and_non_finite_values_are_refused_naming_the_key(
    value: Any, what: str, dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    with pytest.raises(DataArtsConfigError) as caught:
        DataArtsHook(dataarts_conn).execute_script(
            "daily_orders_sql", {"date": "2026-11-30", "region": value}
        )
    assert "script_params['region']" in str(caught.value)
    assert what in str(caught.value)
    assert emulator.count() == 0, "refused before anything is sent"


@pytest.fixture
def new_york() -> Iterator[None]:
    """The worker's local zone is America/New_York (5 hours behind UTC in winter)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "America/New_York")
        time.tzset()
        yield
    time.tzset()


def start_time_sent(emulator: DataArtsEmulator) -> int:
    return int(emulator.requests[0]["query"]["start_time"][0])


@pytest.mark.usefixtures("new_york")
def test_a_naive_datetime_is_utc_like_the_same_time_as_text(
    dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    assert time.localtime(0).tm_hour == 19, "the local zone is not UTC in this test"
    hook = DataArtsHook(dataarts_conn)
    instance_id = hook.rerun_quality_job(emulator.job_id("orders_completeness"))
    expected = int(datetime.datetime(2026, 11, 30, 10, 0, tzinfo=datetime.UTC).timestamp() * 1000)
    for hint in (
        datetime.datetime(2026, 11, 30, 10, 0),
        "2026-11-30T10:00:00",
        datetime.datetime(2026, 11, 30, 5, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=-5))),
    ):
        emulator.emulation.log.clear()
        hook.get_quality_instance(instance_id, name="orders_completeness", started_after=hint)
        assert start_time_sent(emulator) == expected, hint
