"""
The official SDK's PatchData calls (huaweicloudsdkdataartsstudio: create_factory_supplement_data_instance,
show_factory_supplement_data, stop_factory_supplement_data_instance) against the emulator: it answers
as the SDK's models expect, and refuses what the live service refuses.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.emulator import patchdata as emulated
from tests.support import AK, PROJECT, SK, WORKSPACE

pytestmark = pytest.mark.filterwarnings("ignore")

HOUR_MS = 3_600_000


@pytest.fixture
def das(emulator: DataArtsEmulator):  # type: ignore[no-untyped-def]
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkdataartsstudio.v1 import DataArtsStudioClient

    emulated.of(emulator.state.factory).list_lag = 1.0
    return (
        DataArtsStudioClient.new_builder()
        .with_credentials(BasicCredentials(AK, SK, PROJECT))
        .with_endpoints([emulator.url])
        .build()
    )


def body(**changes: Any):  # type: ignore[no-untyped-def]
    from huaweicloudsdkdataartsstudio.v1 import CreateFactorySupplementDataInstanceRequestBody

    fields = {
        "name": "sdk_patch",
        "job_name": "quick_hourly",
        "start_date": "2026-12-01T00:00:00 +00",
        "end_date": "2026-12-01T02:59:59 +00",
        "parallel": 2,
        "is_stop_when_fail": True,
        **changes,
    }
    return CreateFactorySupplementDataInstanceRequestBody(**fields)


def show(das, name: str):  # type: ignore[no-untyped-def]
    from huaweicloudsdkdataartsstudio.v1 import ShowFactorySupplementDataRequest

    return das.show_factory_supplement_data(
        ShowFactorySupplementDataRequest(workspace=WORKSPACE, name=name, page="0", size="100")
    )


def test_the_sdk_creates_lists_and_stops_patch_data(das, emulator: DataArtsEmulator) -> None:  # type: ignore[no-untyped-def]
    from huaweicloudsdkdataartsstudio.v1 import (
        CreateFactorySupplementDataInstanceRequest,
        StopFactorySupplementDataInstanceRequest,
    )

    emulator.add_factory_job(
        "quick_hourly", schedule_seconds=3600, nodes=[{"name": "load", "type": "DWSSQL", "seconds": 0.2}]
    )
    das.create_factory_supplement_data_instance(
        CreateFactorySupplementDataInstanceRequest(workspace=WORKSPACE, body=body())
    )
    assert show(das, "sdk_patch").total == 0, "creation is asynchronous: listed after a lag"
    deadline = time.time() + 20
    while (shown := show(das, "sdk_patch")).total == 0 or shown.rows[0].status == "RUNNING":
        assert time.time() < deadline
        time.sleep(0.25)  # within Factory v2's documented 10 requests/s, which the emulator enforces
    (row,) = shown.rows
    assert (row.name, row.job_list, row.status, row.parallel) == ("sdk_patch", ["quick_hourly"], "SUCCESS", 2)
    first = int(time.mktime((2026, 12, 1, 0, 0, 0, 0, 0, 0)) - time.timezone) * 1000
    assert (row.start_date, row.end_date) == (first, first + 3 * HOUR_MS - 1000)
    assert isinstance(row.submitted_date, int) and row.submitted_date > 10**12
    slots = [i for i in emulator.job_instances("quick_hourly") if i["instanceType"] == 5]
    assert sorted(i["planTime"] for i in slots) == [first, first + HOUR_MS, first + 2 * HOUR_MS]

    emulator.add_factory_job(
        "slow_hourly", schedule_seconds=3600, nodes=[{"name": "load", "type": "DWSSQL", "seconds": 3600}]
    )
    das.create_factory_supplement_data_instance(
        CreateFactorySupplementDataInstanceRequest(
            workspace=WORKSPACE, body=body(name="sdk_slow", job_name="slow_hourly")
        )
    )
    time.sleep(1.3)  # listed
    assert show(das, "sdk_slow").rows[0].status == "RUNNING"
    das.stop_factory_supplement_data_instance(
        StopFactorySupplementDataInstanceRequest(instance_name="sdk_slow", workspace=WORKSPACE)
    )
    assert show(das, "sdk_slow").rows[0].status == "CANCEL"
    statuses = [i["status"] for i in emulator.job_instances("slow_hourly") if i["instanceType"] == 5]
    assert statuses == ["manual-stop", "manual-stop"], "the waiting third slot never starts"
    # The name filters; it is no key: "sdk_" lists both runs.
    assert {r.name for r in show(das, "sdk_").rows} == {"sdk_patch", "sdk_slow"}


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"job_name": "daily_orders"}, "DLF.30111"),  # no schedule
        ({"start_date": "2026-12-01 00:00:00"}, "DLF.30121"),  # another form
        ({"end_date": "2026-12-01T00:00:01 +00"}, "DLF.30121"),  # under 2 s
        ({"job_name": "no_such_job"}, "DLF.0100"),
        ({"parallel": 9}, "DLF.3051"),
    ],
)
def test_the_sdk_sees_what_the_live_service_refuses(das, emulator: DataArtsEmulator, changes, code) -> None:  # type: ignore[no-untyped-def]
    from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
    from huaweicloudsdkdataartsstudio.v1 import CreateFactorySupplementDataInstanceRequest

    with pytest.raises(ClientRequestException) as refused:
        das.create_factory_supplement_data_instance(
            CreateFactorySupplementDataInstanceRequest(
                workspace=WORKSPACE, body=body(**{"job_name": "hourly_orders", **changes})
            )
        )
    assert (refused.value.status_code, refused.value.error_code) == (400, code)
