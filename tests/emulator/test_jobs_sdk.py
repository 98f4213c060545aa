"""
The official SDK's job clients (huaweicloudsdkdgc: run_once, list_job_instances, show_job_instance,
stop_job_instance, restore_job_instance) against the emulator: it answers as the SDK's models expect.
"""

from __future__ import annotations

import time

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from tests.support import AK, PROJECT, SK, WORKSPACE

pytestmark = pytest.mark.filterwarnings("ignore")

NODES = [
    {"name": "extract", "type": "CDMJob", "seconds": 0.2},
    {"name": "load", "type": "DWSSQL", "seconds": 0.2},
]


@pytest.fixture
def dgc(emulator: DataArtsEmulator):  # type: ignore[no-untyped-def]
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkdgc.v1 import DgcClient

    return (
        DgcClient.new_builder()
        .with_credentials(BasicCredentials(AK, SK, PROJECT))
        .with_endpoints([emulator.url])
        .build()
    )


def wait_status(dgc, job_name: str, instance_id: str, *statuses: str):  # type: ignore[no-untyped-def]
    from huaweicloudsdkdgc.v1 import ShowJobInstanceRequest

    deadline = time.time() + 10
    while time.time() < deadline:
        shown = dgc.show_job_instance(
            ShowJobInstanceRequest(workspace=WORKSPACE, job_name=job_name, instance_id=instance_id)
        )
        if shown.status in statuses:
            return shown
        time.sleep(0.05)
    raise AssertionError(f"never {statuses}")


def test_the_sdk_runs_reads_lists_restores_and_stops_jobs(dgc, emulator: DataArtsEmulator) -> None:  # type: ignore[no-untyped-def]
    from huaweicloudsdkdgc.v1 import (
        JobParam,
        ListJobInstancesRequest,
        RestoreJobInstanceRequest,
        RunOnceRequest,
        StartJobReq,
        StopJobInstanceRequest,
    )

    emulator.add_factory_job("sdk_job", nodes=NODES, outcomes=["fail_at:2", "success"])
    body = StartJobReq(job_params=[JobParam(name="day", value="2026-12-01", type="variable")])
    ran = dgc.run_once(RunOnceRequest(workspace=WORKSPACE, job_name="sdk_job", body=body))
    assert isinstance(ran.instance_id, int) and ran.instance_id > 2**53
    (report,) = emulator.job_instances("sdk_job")
    assert report["params"] == {"day": "2026-12-01"}

    failed = wait_status(dgc, "sdk_job", str(ran.instance_id), "fail")
    assert failed.instance_id == ran.instance_id and failed.total == 2
    assert [(n.node_name, n.status, n.type) for n in failed.nodes] == [
        ("extract", "success", "CDMJob"),
        ("load", "fail", "DWSSQL"),
    ]
    assert failed.nodes[0].log_path.endswith("extract.log") and failed.nodes[0].input_row_count == 1000

    now = int(time.time() * 1000)
    listed = dgc.list_job_instances(
        ListJobInstancesRequest(
            workspace=WORKSPACE,
            job_name="sdk_job",
            precise_query=True,
            min_plan_time=now - 60_000,
            max_plan_time=now + 60_000,
            limit=1000,
            offset=0,
        )
    )
    assert listed.total == 1
    (item,) = listed.instances
    assert (item.job_name, item.instance_id, item.status, item.instance_type) == (
        "sdk_job",
        ran.instance_id,
        "fail",
        2,
    )
    assert item.execute_time == item.end_time - item.start_time

    # The SDK's rerun sends no body: DataArts reruns from the first node (DOC-RERUN's default).
    dgc.restore_job_instance(
        RestoreJobInstanceRequest(workspace=WORKSPACE, job_name="sdk_job", instance_id=str(ran.instance_id))
    )
    rerun = wait_status(dgc, "sdk_job", str(ran.instance_id), "success")
    assert [n.retry_times for n in rerun.nodes] == [1, 1]

    emulator.add_factory_job("sdk_slow", nodes=[{"name": "long", "seconds": 3600}])
    slow = dgc.run_once(
        RunOnceRequest(workspace=WORKSPACE, job_name="sdk_slow", body=StartJobReq(job_params=[]))
    )
    dgc.stop_job_instance(
        StopJobInstanceRequest(workspace=WORKSPACE, job_name="sdk_slow", instance_id=str(slow.instance_id))
    )
    assert wait_status(dgc, "sdk_slow", str(slow.instance_id), "manual-stop").status == "manual-stop"


def test_the_sdk_sees_the_documented_errors(dgc, emulator: DataArtsEmulator) -> None:  # type: ignore[no-untyped-def]
    from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
    from huaweicloudsdkdgc.v1 import RunOnceRequest, ShowJobInstanceRequest, StartJobReq

    with pytest.raises(ClientRequestException) as unknown:
        dgc.run_once(RunOnceRequest(workspace=WORKSPACE, job_name="nope", body=StartJobReq(job_params=[])))
    assert (unknown.value.status_code, unknown.value.error_code) == (400, "DLF.0100")
    with pytest.raises(ClientRequestException) as streaming:
        dgc.run_once(
            RunOnceRequest(workspace=WORKSPACE, job_name="orders_stream", body=StartJobReq(job_params=[]))
        )
    assert streaming.value.error_code == "DLF.0136"
    with pytest.raises(ClientRequestException) as missing:
        dgc.show_job_instance(
            ShowJobInstanceRequest(workspace=WORKSPACE, job_name="daily_orders", instance_id="1")
        )
    assert missing.value.error_code == "DLF.0137"
