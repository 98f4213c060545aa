"""
The hook's DataArts Migration (CDM) calls on the wire (the emulator's request log): paths, methods,
bodies, the migration endpoint, CDM's error shape, and a start never sent twice.
"""

from __future__ import annotations

import json

import pytest
import responses

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.emulator.migration import CLUSTER_ID
from airflow_provider_dataarts.exceptions import DataArtsAPIError, DataArtsConfigError
from airflow_provider_dataarts.hooks.dataarts import DataArtsHook, config_from_connection
from tests.client.test_config import connection

pytestmark = pytest.mark.filterwarnings("ignore")
JOB = f"/v1.1/p1/clusters/{CLUSTER_ID}/cdm/job"


def test_the_migration_endpoint_is_given_or_derived_from_the_region_or_the_host() -> None:
    assert (
        config_from_connection(connection()).migration_endpoint == "https://cdm.cn-north-4.myhuaweicloud.com"
    )
    given = connection(migration_endpoint="https://cdm.cn-east-3.myhuaweicloud.com")
    assert config_from_connection(given).migration_endpoint == "https://cdm.cn-east-3.myhuaweicloud.com"
    # The credentials go to the connection's own domain only (see docs/connection.md).
    with pytest.raises(DataArtsConfigError, match=r"extra\.migration_endpoint"):
        config_from_connection(connection(migration_endpoint="cdm.example.com:8443"))
    assert config_from_connection(connection(host="http://127.0.0.1:8790")).migration_endpoint == (
        "http://127.0.0.1:8790"
    )
    with pytest.raises(DataArtsConfigError, match=r"extra\.migration_endpoint"):
        config_from_connection(connection(migration_endpoint="https://cdm.example.com/v1.1"))


def test_start_status_history_stop_and_definition_on_the_wire(
    emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    emulator.add_migration_job("fast_job", boot_seconds=5.0, run_seconds=30)
    hook = DataArtsHook(dataarts_conn)
    started = hook.start_migration_job(CLUSTER_ID, "fast_job", {"day": "2026-12-01", "batch": 3})
    assert started["status"] == "BOOTING" and started["job-name"] == "fast_job"
    submission_id = started["submission-id"]
    assert isinstance(submission_id, str)
    assert hook.get_migration_job_status(CLUSTER_ID, "fast_job")["submission-id"] == submission_id
    assert [s["submission-id"] for s in hook.list_migration_submissions(CLUSTER_ID, "fast_job")] == [
        submission_id
    ]
    hook.stop_migration_job(CLUSTER_ID, "fast_job")
    definition = hook.get_migration_job(CLUSTER_ID, "orders_to_dws")
    assert definition["from-link-name"] == "mysql_link"
    sent = [(r["method"], r["path"], r["query"], r["body"]) for r in emulator.requests]
    assert sent == [
        ("PUT", f"{JOB}/fast_job/start", {}, {"variables": {"day": "2026-12-01", "batch": "3"}}),
        ("GET", f"{JOB}/fast_job/status", {}, None),
        ("GET", f"/v1.1/p1/clusters/{CLUSTER_ID}/cdm/submissions", {"jname": ["fast_job"]}, None),
        ("PUT", f"{JOB}/fast_job/stop", {}, {}),
        ("GET", f"{JOB}/orders_to_dws", {}, None),
    ]
    assert emulator.migration_submissions("fast_job")[0]["stopped"] is True


def test_cdm_errors_keep_their_code_and_message(emulator: DataArtsEmulator, dataarts_conn: str) -> None:
    with pytest.raises(DataArtsAPIError) as refused:
        DataArtsHook(dataarts_conn).get_migration_job_status(CLUSTER_ID, "no_such_job")
    assert refused.value.error_code == "Cdm.0100"
    assert "Job[no_such_job] doesn't exist." in str(refused.value)


def test_a_start_is_never_sent_twice(emulator: DataArtsEmulator, dataarts_conn: str) -> None:
    emulator.inject("status", status=500, method="PUT", path="/start", when="after")
    with pytest.raises(DataArtsAPIError):
        DataArtsHook(dataarts_conn).start_migration_job(CLUSTER_ID, "orders_to_dws")
    assert emulator.count("PUT", "/start") == 1
    assert len(emulator.migration_submissions("orders_to_dws")) == 1, "it ran: the caller must look for it"


@responses.activate
def test_the_documented_400_shape_reads_errcode_as_the_code_on_the_cdm_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CDM's documented 400 body: ``code``, ``errCode``, ``message``, ``externalMessage``."""
    conn = {
        "conn_type": "dataarts",
        "host": "https://dayu.cn-north-4.myhuaweicloud.com",
        "login": "AK",
        "password": "SK",
        "extra": {"project_id": "p1", "max_retries": 0},
    }
    monkeypatch.setenv("AIRFLOW_CONN_DATAARTS_CDM", json.dumps(conn))
    responses.put(
        f"https://cdm.cn-north-4.myhuaweicloud.com{JOB}/orders_to_dws/start",
        status=400,
        json={"code": "400", "errCode": "Cdm.0100", "message": "Job[orders_to_dws] doesn't exist.",
              "externalMessage": "Job[orders_to_dws] doesn't exist."},
    )  # fmt: skip
    with pytest.raises(DataArtsAPIError) as refused:
        DataArtsHook("dataarts_cdm").start_migration_job(CLUSTER_ID, "orders_to_dws")
    assert refused.value.error_code == "Cdm.0100" and refused.value.status_code == 400


def test_a_history_that_leaves_the_newest_submission_on_a_later_page_still_shows_it(
    emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    """
    The history answers one page (its request has no page parameters; the answer has ``total``,
    ``page_no`` and ``page_size``). Should CDM page a long history oldest first, the job's newest
    submission is read from its status, so a wait never takes its own run for "never listed".
    """
    from airflow_provider_dataarts.hooks.dataarts import DataArtsHook

    emulator.add_migration_job("busy_job", boot_seconds=0.0, run_seconds=0.0, history_oldest_first=True)
    for _ in range(101):
        newest = emulator.state.migration.start(CLUSTER_ID, "busy_job", None)
    history = DataArtsHook(dataarts_conn).list_migration_submissions(CLUSTER_ID, "busy_job")
    assert str(history[0]["submission-id"]) == str(newest.id), "the newest first, from the job's status"
    assert len(history) == 101
