"""The emulator's dbt Cloud get-run route (the benchmarks' peer trigger waits on it)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator


def get_run(emulator: DataArtsEmulator, run_id: str, token: str | None = "dbt-token") -> dict:
    headers = {"Authorization": f"Token {token}"} if token else {}
    request = urllib.request.Request(f"{emulator.url}/api/v2/accounts/1/runs/{run_id}/", headers=headers)
    with urllib.request.urlopen(request, timeout=5) as answer:
        return json.loads(answer.read())


def test_a_quality_instance_reads_as_a_dbt_run_with_dbt_status_codes(emulator: DataArtsEmulator) -> None:
    instance_id = emulator.start_quality_instance("orders_freshness", run_seconds=300)
    assert get_run(emulator, instance_id)["data"] == {"id": int(instance_id), "account_id": 1, "status": 3}
    outcome = emulator.state.finish_instance(instance_id)["run_status"]
    expected = {"SUCCESS": 10, "ALARMING": 10, "FAILED": 20}[outcome]
    assert get_run(emulator, instance_id)["data"]["status"] == expected


def test_the_dbt_route_wants_a_token_and_a_known_run(emulator: DataArtsEmulator) -> None:
    instance_id = emulator.start_quality_instance("orders_freshness", run_seconds=300)
    with pytest.raises(urllib.error.HTTPError) as raised:
        get_run(emulator, instance_id, token=None)
    assert raised.value.code == 401
    with pytest.raises(urllib.error.HTTPError) as raised:
        get_run(emulator, "42")
    assert raised.value.code == 404


def test_the_gateway_limit_counts_dbt_requests_too(emulator: DataArtsEmulator) -> None:
    instance_id = emulator.start_quality_instance("orders_freshness", run_seconds=300)
    emulator.limit_per_second(1)
    get_run(emulator, instance_id)
    with pytest.raises(urllib.error.HTTPError) as raised:
        get_run(emulator, instance_id)
    assert raised.value.code == 429
