"""The hook's DataArts Factory job calls against the emulator over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_dataarts.client.jobs import error_code_is, job_params_body
from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.exceptions import DataArtsAPIError, DataArtsConfigError
from airflow_provider_dataarts.hooks.dataarts import DataArtsHook
from tests.support import AUTH_MODES

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

FAST_NODES = [
    {"name": "extract", "type": "CDMJob", "seconds": 0.2},
    {"name": "load", "type": "DWSSQL", "seconds": 0.2},
    {"name": "publish", "type": "Shell", "seconds": 0.2},
]


def wait_terminal(hook: DataArtsHook, job_name: str, instance_id: str) -> dict[str, Any]:
    deadline = time.time() + 10
    while time.time() < deadline:
        detail = hook.get_job_instance(job_name, instance_id)
        if detail["status"] not in ("waiting", "running"):
            return detail
        time.sleep(0.05)
    raise AssertionError(f"instance {instance_id} never finished")


@pytest.mark.parametrize("auth_type", AUTH_MODES)
def test_run_list_read_a_job_in_every_auth_mode(
    auth_type: str, connect: Callable[..., str], emulator: DataArtsEmulator
) -> None:
    emulator.add_factory_job("fast_job", nodes=FAST_NODES)
    hook = DataArtsHook(connect(auth_type))
    instance_id = hook.run_job("fast_job", {"day": "2026-12-01", "limit": 5, "full": True})
    assert isinstance(instance_id, str) and int(instance_id) > 2**53
    (run,) = emulator.job_instances("fast_job")
    assert run["instanceId"] == instance_id
    assert run["params"] == {"day": "2026-12-01", "limit": "5", "full": "true"}
    detail = wait_terminal(hook, "fast_job", instance_id)
    assert detail["status"] == "success"
    assert detail["instanceId"] == instance_id
    assert [n["nodeName"] for n in detail["nodes"]] == ["extract", "load", "publish"]
    listed = list(hook.list_job_instances("fast_job"))
    assert [item["instanceId"] for item in listed] == [instance_id]
    body = next(r["body"] for r in emulator.requests if r["path"].endswith("/run-immediate"))
    assert body == {"jobParams": job_params_body({"day": "2026-12-01", "limit": 5, "full": True})}
    assert body["jobParams"][0] == {"name": "day", "value": "2026-12-01", "type": "variable"}
    query = next(r["query"] for r in emulator.requests if r["path"].endswith("/instances/detail"))
    assert query["jobName"] == ["fast_job"] and query["preciseQuery"] == ["true"]


def test_stop_and_restart_from_the_failed_node(dataarts_conn: str, emulator: DataArtsEmulator) -> None:
    emulator.add_factory_job("flaky_job", nodes=FAST_NODES, outcomes=["fail_at:2", "success"])
    hook = DataArtsHook(dataarts_conn)
    instance_id = hook.run_job("flaky_job")
    failed = wait_terminal(hook, "flaky_job", instance_id)
    assert failed["status"] == "fail"
    assert [n["status"] for n in failed["nodes"]] == ["success", "fail", "waiting"]
    hook.restart_job_instance("flaky_job", instance_id)
    repaired = wait_terminal(hook, "flaky_job", instance_id)
    assert repaired["status"] == "success"
    assert [n["retryTimes"] for n in repaired["nodes"]] == [0, 1, 1], "the first node was not rerun"
    assert repaired["nodes"][0]["startTime"] == failed["nodes"][0]["startTime"]
    restart = next(r for r in emulator.requests if r["path"].endswith("/restart"))
    assert restart["body"] == {"retry_location": "error_node"}

    emulator.add_factory_job("slow_job", nodes=[{"name": "long", "seconds": 3600}])
    running = hook.run_job("slow_job")
    hook.stop_job_instance("slow_job", running)
    assert wait_terminal(hook, "slow_job", running)["status"] == "manual-stop"


def test_errors_name_what_is_wrong(dataarts_conn: str, emulator: DataArtsEmulator) -> None:
    hook = DataArtsHook(dataarts_conn)
    with pytest.raises(DataArtsAPIError) as unknown:
        hook.run_job("no_such_job")
    assert unknown.value.error_code == "DLF.0100"
    with pytest.raises(DataArtsAPIError) as streaming:
        hook.run_job("orders_stream")
    assert streaming.value.error_code == "DLF.0136"
    with pytest.raises(DataArtsAPIError) as missing:
        hook.get_job_instance("daily_orders", "123")
    assert error_code_is(missing.value, "137")
    with pytest.raises(DataArtsConfigError, match=r"job_params\['when'\] is a dict"):
        hook.run_job("daily_orders", {"when": {"nested": 1}})
    with pytest.raises(DataArtsConfigError, match="retry_location"):
        hook.restart_job_instance("daily_orders", "1", retry_location="somewhere")
    assert emulator.count("POST", "/run-immediate") == 2, "bad input never reached DataArts"


def test_five_digit_codes_are_the_same_codes() -> None:
    for code, tail in (("DLF.0137", "137"), ("DLF.30137", "137"), ("DLF.0100", "100"), ("DLF.30100", "100")):
        assert error_code_is(DataArtsAPIError("x", error_code=code), tail)
    assert not error_code_is(DataArtsAPIError("x", error_code="DLF.0136"), "137")
    assert not error_code_is(DataArtsAPIError("x", error_code="DQC.0137"), "137")


def test_a_lost_run_answer_is_not_resent_by_the_transport(
    dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    emulator.inject("status", status=502, method="POST", path="/run-immediate", when="after")
    with pytest.raises(DataArtsAPIError):
        DataArtsHook(dataarts_conn).run_job("daily_orders")
    assert emulator.count("POST", "/run-immediate") == 1
    assert (
        len(
            [i for i in emulator.job_instances("daily_orders") if i["planTime"] > time.time() * 1000 - 60_000]
        )
        == 1
    )


def test_the_list_reads_every_page_whether_offset_counts_pages_or_rows(
    dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    """The emulator counts pages (assumption 3); a service counting rows is detected on page two."""
    emulator.add_factory_job("many", nodes=FAST_NODES)
    emulator.state.factory.add_running_instances("many", 2100, 0.1, 0.2)
    hook = DataArtsHook(dataarts_conn)
    now = int(time.time() * 1000)
    window = {"min_plan_time": now - 60_000, "max_plan_time": now + 60_000}
    ids = [item["instanceId"] for item in hook.list_job_instances("many", **window)]
    assert len(ids) == len(set(ids)) == 2100
    offsets = [r["query"]["offset"] for r in emulator.requests if r["path"].endswith("/detail")]
    assert offsets == [["0"], ["1"], ["2"]]

    emulator.emulation.log.clear()
    jobs = emulator.state.factory
    pages = jobs.list_page

    def by_rows(params: dict[str, str]) -> dict[str, Any]:
        limit = int(params["limit"])
        whole = pages({**params, "limit": "1000", "offset": "0"})
        rest = pages({**params, "limit": "1000", "offset": "1"})["instances"]
        rest += pages({**params, "limit": "1000", "offset": "2"})["instances"]
        rows = whole["instances"] + rest
        start = int(params["offset"])
        return {"total": whole["total"], "instances": rows[start : start + limit]}

    jobs.list_page = by_rows  # type: ignore[method-assign]
    try:
        ids = [item["instanceId"] for item in hook.list_job_instances("many", **window)]
    finally:
        del jobs.list_page
    assert len(ids) == len(set(ids)) == 2100
    offsets = [r["query"]["offset"][0] for r in emulator.requests if r["path"].endswith("/detail")]
    assert offsets == ["0", "1", "1001", "2001"]


def test_new_runs_between_pages_do_not_make_the_list_end_early(
    dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    """
    Issue 22 (9): five runs arrive between page 0 and page 1 of a newest-first list of 2,500: page 1
    repeats five of page 0's instances. That is a shifted list, not offsets counting rows: every
    instance is still read (it once flipped to row offsets and stopped at 1,995).
    """
    emulator.add_factory_job("many", nodes=FAST_NODES)
    jobs = emulator.state.factory
    jobs.add_running_instances("many", 2500, 30, 60)
    hook = DataArtsHook(dataarts_conn)
    now = int(time.time() * 1000)
    window = {"min_plan_time": now - 60_000, "max_plan_time": now + 60_000}
    pages = jobs.list_page
    arrived: list[str] = []

    def runs_arrive_after_page_zero(params: dict[str, str]) -> dict[str, Any]:
        page = pages(params)
        if params.get("offset") == "0" and not arrived:
            arrived.extend(str(jobs.run_immediate("many", {}).id) for _ in range(5))
        return page

    jobs.list_page = runs_arrive_after_page_zero  # type: ignore[method-assign]
    try:
        ids = [item["instanceId"] for item in hook.list_job_instances("many", **window)]
    finally:
        del jobs.list_page
    assert len(ids) == len(set(ids))
    assert len(set(ids) - set(arrived)) == 2500, "every instance of the window, none lost"
