"""
The official SDK's DataArts Migration calls (huaweicloudsdkcdm 3.1.219: start_job, show_job_status,
show_submissions, stop_job, show_jobs) against the emulator: it answers as the SDK's models expect.
"""

from __future__ import annotations

import time

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.emulator.migration import CLUSTER_ID
from tests.support import AK, PROJECT, SK

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture
def cdm(emulator: DataArtsEmulator):  # type: ignore[no-untyped-def]
    from huaweicloudsdkcdm.v1 import CdmClient
    from huaweicloudsdkcore.auth.credentials import BasicCredentials

    return (
        CdmClient.new_builder()
        .with_credentials(BasicCredentials(AK, SK, PROJECT))
        .with_endpoints([emulator.url])
        .build()
    )


def test_the_sdk_starts_reads_lists_and_stops_migration_jobs(cdm, emulator: DataArtsEmulator) -> None:  # type: ignore[no-untyped-def]
    from huaweicloudsdkcdm.v1 import (
        CdmStartJobReq,
        ShowJobsRequest,
        ShowJobStatusRequest,
        ShowSubmissionsRequest,
        StartJobRequest,
        StopJobRequest,
    )

    emulator.add_migration_job("sdk_job", boot_seconds=0.1, run_seconds=0.3, rows=42)
    body = CdmStartJobReq(variables={"day": "2026-12-01"})
    started = cdm.start_job(StartJobRequest(cluster_id=CLUSTER_ID, job_name="sdk_job", body=body))
    (first,) = started.submissions
    assert first.job_name == "sdk_job" and first.status == "BOOTING" and isinstance(first.submission_id, int)
    assert emulator.migration_submissions("sdk_job")[0]["variables"] == {"day": "2026-12-01"}

    deadline = time.time() + 10
    while True:
        (shown,) = cdm.show_job_status(
            ShowJobStatusRequest(cluster_id=CLUSTER_ID, job_name="sdk_job")
        ).submissions
        if shown.status == "SUCCEEDED" or time.time() > deadline:
            break
        time.sleep(0.05)
    assert shown.status == "SUCCEEDED" and shown.submission_id == first.submission_id
    assert shown.write_rows == 42 and shown.progress == 100
    assert shown.counters.org_apache_sqoop_submission_counter_sqoop_counters.rows_written == 42

    again = cdm.start_job(StartJobRequest(cluster_id=CLUSTER_ID, job_name="sdk_job", body=CdmStartJobReq()))
    stopped = cdm.stop_job(StopJobRequest(cluster_id=CLUSTER_ID, job_name="sdk_job"))
    assert stopped.validation_result == []
    history = cdm.show_submissions(ShowSubmissionsRequest(cluster_id=CLUSTER_ID, jname="sdk_job"))
    assert history.total == 2
    assert [s.submission_id for s in history.submissions] == [
        again.submissions[0].submission_id,
        first.submission_id,
    ]
    assert history.submissions[0].status == "FAILED" and history.submissions[0].error_summary

    (job,) = cdm.show_jobs(ShowJobsRequest(cluster_id=CLUSTER_ID, job_name="orders_to_dws")).jobs
    assert job.from_link_name == "mysql_link" and job.to_link_name == "dws_link"
    inputs = {i.name: i.value for c in job.to_config_values.configs for i in c.inputs}
    assert inputs == {"toJobConfig.schemaName": "public", "toJobConfig.tableName": "orders"}


def test_the_sdk_sees_cdm_errors(cdm, emulator: DataArtsEmulator) -> None:  # type: ignore[no-untyped-def]
    from huaweicloudsdkcdm.v1 import CdmStartJobReq, StartJobRequest
    from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException

    with pytest.raises(ClientRequestException) as refused:
        cdm.start_job(StartJobRequest(cluster_id=CLUSTER_ID, job_name="no_such_job", body=CdmStartJobReq()))
    assert refused.value.status_code == 400
