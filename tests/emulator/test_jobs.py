"""The emulator's Factory job routes over raw HTTP: windows, limits, schedules, lag, workspace."""

from __future__ import annotations

import json
import time
from typing import Any

from airflow_provider_dataarts.emulator import DataArtsEmulator
from tests.emulator.test_emulator import call

DAY_MS = 86_400_000


def api(emulator: DataArtsEmulator, method: str, path: str, **options: Any) -> tuple[int, Any]:
    status, raw = call(emulator, method, path, **options)
    return status, json.loads(raw) if raw else None


def detail(emulator: DataArtsEmulator, **query: object) -> tuple[int, Any]:
    text = "&".join(f"{k}={v}" for k, v in query.items())
    return api(emulator, "GET", f"/v1/p1/jobs/instances/detail?{text}")


def test_the_list_refuses_what_the_documentation_refuses(emulator: DataArtsEmulator) -> None:
    now = int(time.time() * 1000)
    assert detail(emulator, limit=1001)[0] == 400
    assert detail(emulator, limit=0)[0] == 400
    status, body = detail(emulator, minPlanTime=now - 8 * DAY_MS, maxPlanTime=now)
    assert status == 400 and body["error_code"] == "DLF.3051"
    status, body = detail(emulator, minPlanTime=now - 6 * DAY_MS, maxPlanTime=now, limit=1000)
    assert status == 200 and body["total"] == len(body["instances"]) > 0


def test_scheduled_instances_exist_at_every_plan_time_and_names_match_exactly_only_when_asked(
    emulator: DataArtsEmulator,
) -> None:
    hour = int(time.time() // 3600 * 3600 * 1000)
    status, body = detail(
        emulator,
        jobName="hourly_orders",
        preciseQuery="true",
        minPlanTime=hour - 5 * 3_600_000,
        maxPlanTime=hour,
    )
    assert status == 200
    assert [item["planTime"] for item in body["instances"]] == [hour - n * 3_600_000 for n in range(6)]
    assert {item["instanceType"] for item in body["instances"]} == {0}
    emulator.add_factory_job("hourly_orders_copy")
    emulator.state.factory.run_immediate("hourly_orders_copy", {})
    fuzzy = detail(emulator, jobName="hourly_orders", minPlanTime=hour - DAY_MS, maxPlanTime=hour + DAY_MS)[1]
    precise = detail(
        emulator,
        jobName="hourly_orders",
        preciseQuery="true",
        minPlanTime=hour - DAY_MS,
        maxPlanTime=hour + DAY_MS,
    )[1]
    assert "hourly_orders_copy" in {item["jobName"] for item in fuzzy["instances"]}
    assert {item["jobName"] for item in precise["instances"]} == {"hourly_orders"}


def test_list_lag_hides_a_new_instance_from_the_list_not_from_its_detail(emulator: DataArtsEmulator) -> None:
    emulator.add_factory_job("lagging", list_lag=3600)
    instance = emulator.state.factory.run_immediate("lagging", {})
    now = int(time.time() * 1000)
    listed = detail(
        emulator, jobName="lagging", preciseQuery="true", minPlanTime=now - 60_000, maxPlanTime=now + 60_000
    )
    assert listed[1]["instances"] == []
    status, body = api(emulator, "GET", f"/v1/p1/jobs/lagging/instances/{instance.id}")
    assert status == 200 and str(body["instanceId"]) == str(instance.id)


def test_a_rerun_of_a_running_instance_and_a_wrong_workspace_are_refused(emulator: DataArtsEmulator) -> None:
    instance = emulator.state.factory.run_immediate("daily_orders", {})
    status, body = api(emulator, "POST", f"/v1/p1/jobs/daily_orders/instances/{instance.id}/restart", body={})
    assert status == 400 and body["error_code"] == "DLF.3051"
    status, body = api(
        emulator, "GET", f"/v1/p1/jobs/daily_orders/instances/{instance.id}", workspace="other"
    )
    assert status == 400 and "workspace" in body["error_msg"]
