"""
DataArtsPatchDataOperator under ``dag.test()`` against the emulator: the slots it made, failures,
refusals without retry, lost answers recovered by name, ``execution_timeout``. (Clears, shutdowns:
tests/system/test_patchdata.py.)
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.emulator import patchdata as emulated
from tests.integration.dagrun import load_dag, run_dag

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.filterwarnings("ignore")]

MODES = {"sync": {"deferrable": False}, "deferrable": {"deferrable": True}}
HOUR_MS = 3_600_000
DEC_1 = 1_796_083_200_000  # 2026-12-01T00:00:00Z


def quick_job(emulator: DataArtsEmulator, name: str = "quick_hourly", **options: Any) -> None:
    nodes = [{"name": "load", "type": "DWSSQL", "seconds": options.pop("seconds", 0.2)}]
    emulated.of(emulator.state.factory).list_lag = options.pop("list_lag", 0.3)
    emulator.add_factory_job(name, schedule_seconds=3600, nodes=nodes, **options)


def patch(conf: dict[str, Any] | None = None, **changes: Any) -> Any:
    return run_dag(load_dag("test_patchdata"), conf or {}, patch=changes)


def runs(emulator: DataArtsEmulator) -> list[dict[str, Any]]:
    return emulated.of(emulator.state.factory).reports()


@pytest.mark.parametrize("mode", list(MODES))
def test_a_patch_data_run_pushes_its_name_link_and_every_slot(
    mode: str, emulator: DataArtsEmulator, connect: Any
) -> None:
    connect("aksk")
    quick_job(emulator)
    outcome = patch(**MODES[mode])
    assert outcome.states == {"patch": "success"}
    (run,) = runs(emulator)
    assert run["body"]["start_date"] == "2026-12-01T00:00:00 +00"
    assert run["body"]["end_date"] == "2026-12-01T02:59:59 +00", (
        "to_date is exclusive, DataArts' end inclusive"
    )
    assert (run["body"]["parallel"], run["body"]["is_stop_when_fail"]) == (2, True)
    name = run["name"]
    assert outcome.xcom("patch") == name and len(name) <= 64
    assert "jobName=quick_hourly" in outcome.xcom("patch", "instance_url")
    assert f"name={name}" in outcome.xcom("patch", "instance_url")
    result = outcome.xcom("patch", "patch_data_result")
    assert set(result) == {
        "name",
        "job_name",
        "jobs",
        "status",
        "start_date",
        "end_date",
        "submitted_date",
        "instances",
    }
    assert (result["name"], result["job_name"], result["jobs"], result["status"]) == (
        name,
        "quick_hourly",
        ["quick_hourly"],
        "SUCCESS",
    )
    assert [(i["plan_time"], i["status"]) for i in result["instances"]] == [
        (DEC_1 + h * HOUR_MS, "success") for h in range(3)
    ]
    assert {i["instance_id"] for i in result["instances"]} == {i["instanceId"] for i in run["instances"]}
    posts = [r for r in emulator.requests if r["method"] == "POST" and r["path"].endswith("/supplement-data")]
    (post,) = posts
    assert post["headers"]["workspace"] == "w1"
    assert post["headers"]["Content-Type"].startswith("application/json")


def test_a_failed_slot_fails_the_task_naming_its_plan_time(
    emulator: DataArtsEmulator, dataarts_conn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    quick_job(emulator, outcomes=["success", "fail_at:1", "success"])
    outcome = patch(parallel=1, deferrable=False)
    assert outcome.states == {"patch": "failed"}
    result = outcome.xcom("patch", "patch_data_result")
    assert result["status"] == "FAIL", "pushed before the verdict"
    assert [i["status"] for i in result["instances"]] == ["success", "fail"], "stop_when_fail: no third slot"
    assert "failed slots (plan time UTC): 2026-12-01 01:00:00 (quick_hourly)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("conf", "said", "posts"),
    [
        ({"job_name": "daily_orders"}, "DataArts runs PatchData only for a job with a schedule", 1),
        ({"to_date": "2026-11-30T00:00:00+00:00"}, "span less than 3 s", 0),
        ({"from_date": "yesterday"}, "from_date must be a time", 0),
        ({"job_name": "no_such_job"}, "DataArts Factory has no job no_such_job", 1),
    ],
)
def test_what_dataarts_refuses_fails_at_once_without_retry_saying_what_to_change(
    conf: dict[str, Any],
    said: str,
    posts: int,
    emulator: DataArtsEmulator,
    dataarts_conn: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    quick_job(emulator)
    outcome = patch(conf, retries=2, retry_delay=timedelta(0), deferrable=False)
    assert outcome.states == {"patch": "failed"}
    assert outcome.tries["patch"] == 1
    assert said in capsys.readouterr().out
    assert emulator.count("POST", "/supplement-data") == posts


def test_dates_dataarts_cannot_read_fail_at_once_naming_the_dates(
    emulator: DataArtsEmulator, dataarts_conn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    quick_job(emulator)
    refusal = {
        "error_code": "DLF.30121",
        "error_msg": "end time should be at least 2 seconds after start time",
    }
    emulator.inject("answer", status=400, body=refusal, method="POST", path="/supplement-data")
    outcome = patch(retries=2, retry_delay=timedelta(0), deferrable=False)
    assert (outcome.states, outcome.tries) == ({"patch": "failed"}, {"patch": 1})
    out = capsys.readouterr().out
    assert "from_date '2026-12-01T00:00:00+00:00' / to_date '2026-12-01T03:00:00+00:00'" in out
    assert "DataArts could not read the dates sent" in out


@pytest.mark.parametrize("mode", list(MODES))
def test_a_lost_create_answer_is_recovered_by_name(
    mode: str, emulator: DataArtsEmulator, connect: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    connect("aksk", not_listed_grace=10)
    quick_job(emulator)
    emulator.inject("reset", method="POST", path="/supplement-data", when="after")
    outcome = patch(retries=2, retry_delay=timedelta(0), **MODES[mode])
    assert outcome.states == {"patch": "success"}
    assert emulator.count("POST", "/supplement-data") == 1, "never a second run"
    (run,) = runs(emulator)
    assert outcome.xcom("patch") == run["name"]
    assert f"Adopting DataArts PatchData run {run['name']}" in capsys.readouterr().out


def test_a_creation_listed_after_the_grace_is_refused_as_a_duplicate_not_run_twice(
    emulator: DataArtsEmulator, connect: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # The lookup gives up 3 s after the lost answer, 2 s before DataArts lists the run; the refused
    # resubmission's lookup (3 s more) finds it.
    connect("aksk", not_listed_grace=3)
    quick_job(emulator, list_lag=5)
    emulator.inject("reset", method="POST", path="/supplement-data", when="after")
    outcome = patch(retries=2, retry_delay=timedelta(0), deferrable=False)
    assert outcome.states == {"patch": "success"}
    (run,) = runs(emulator)
    posts = [r for r in emulator.requests if r["method"] == "POST" and r["path"].endswith("/supplement-data")]
    assert [p["body"]["name"] for p in posts] == [run["name"], run["name"]], "the same name again"
    assert posts[1]["status"] == 400
    out = capsys.readouterr().out
    assert "refused PatchData" in out and "as a duplicate" in out


@pytest.mark.parametrize("mode", list(MODES))
def test_execution_timeout_stops_the_run_and_the_retry_starts_a_new_one_under_a_new_name(
    mode: str, emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    quick_job(emulator, seconds=30)
    outcome = patch(
        execution_timeout=timedelta(seconds=3), retries=1, retry_delay=timedelta(0), **MODES[mode]
    )
    assert outcome.states == {"patch": "failed"}
    first, second = runs(emulator)
    assert first["name"] != second["name"]
    assert first["status"] == "CANCEL" and first["stopped"]
    assert emulator.count("POST", "/stop") == 2


def test_run_immediate_refused_points_to_patch_data(
    emulator: DataArtsEmulator, dataarts_conn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    refusal = {"error_code": "DLF.3051", "error_msg": "The request parameter is invalid."}
    emulator.inject("answer", status=400, body=refusal, method="POST", path="/run-immediate")
    outcome = run_dag(
        load_dag("test_job"),
        {"job_name": "hourly_orders"},
        run={"retries": 2, "retry_delay": timedelta(0), "deferrable": False},
    )
    assert (outcome.states, outcome.tries) == ({"run": "failed"}, {"run": 1})
    out = capsys.readouterr().out
    assert "DataArts refused to run the job once now" in out and "DataArtsPatchDataOperator" in out


def test_the_default_name_is_valid_and_new_for_each_try_and_lease() -> None:
    from airflow_provider_dataarts.client.patchdata import NAME_MAX, check_name, default_name

    long = "x" * 300
    name = default_name("my dag/" + long, "task.é" + long, "backfill__2026-12-01T00:00:00+00:00", 3, 7, 1)
    assert len(name) <= NAME_MAX and check_name(name) == name
    assert default_name("d", "t", "r", -1, 1, 1) == default_name("d", "t", "r", -1, 1, 1)
    others = {
        default_name("d", "t", "r", -1, 1, 2),
        default_name("d", "t", "r", -1, 2, 1),
        default_name("d", "t", "r2", -1, 1, 1),
        default_name("d", "t", "r", 0, 1, 1),
    }
    assert default_name("d", "t", "r", -1, 1, 1) not in others and len(others) == 4
