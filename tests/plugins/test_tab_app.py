"""
The DataArts tab served by Airflow's own api-server app (plugins mounted as the api-server mounts
them), on task instances that real operators and sensors ran against the emulator, with the simple
auth manager's real tokens: who gets in (401, 403, 200) and what the page shows.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import jwt
import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.hooks.dataarts import DataArtsHook
from airflow_provider_dataarts.plugins import SUPPORTED
from tests.dags.test_plugin_dags import JOB_RESULT
from tests.integration.dagrun import RunOutcome, load_dag, run_dag
from tests.plugins.tab_server import TabServer, teams_supported

pytestmark = [
    pytest.mark.usefixtures("airflow_db"),
    pytest.mark.filterwarnings("ignore"),
    pytest.mark.skipif(not SUPPORTED, reason="Airflow 3.0: no tab (test_plugin_registration.py checks that)"),
]
EVIL_JOB = "<script>alert('job')</script>"
TEAM_BUNDLE = "dataarts-tab-team-a"


def tab(dag_id: str, run_id: str, task_id: str, map_index: str = "{MAP_INDEX}", encode: bool = True) -> str:
    """The tab's address as the UI fills it in (3.3.2 encodes the ids; older releases do not)."""
    part = (lambda s: quote(s, safe="")) if encode else (lambda s: s)
    return f"/dataarts/ti/{part(dag_id)}/{part(task_id)}/{map_index}/{part(run_id)}"


class Runs:
    def __init__(self) -> None:
        self.quality: list[tuple[str, RunOutcome]] = []
        self.script: RunOutcome
        self.job: RunOutcome


@pytest.fixture(scope="module")
def runs(emulator_server: DataArtsEmulator) -> Iterator[Runs]:
    """Three quality sensor runs (SUCCESS, ALARMING with an evil job name, FAILED), a script, a job."""
    from tests.support import connection_json

    emulator_server.reset()
    conn = {"AIRFLOW_CONN_DATAARTS_DEFAULT": connection_json(emulator_server.url, "aksk")}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in conn.items():
            patch.setenv(name, value)
        emulator_server.add_quality_job("tab_ok", outcome="SUCCESS", sub_rules=2)
        emulator_server.add_quality_job(EVIL_JOB, outcome="ALARMING", sub_rules=5, alarming_sub_rules=2)
        emulator_server.add_quality_job("tab_failed", outcome="FAILED", sub_rules=3)
        result = Runs()
        hook = DataArtsHook("dataarts_default")
        for job in ("tab_ok", EVIL_JOB, "tab_failed"):
            instance_id = hook.rerun_quality_job(emulator_server.job_id(job))
            outcome = run_dag(
                load_dag("test_quality_sensor"), {"instance_id": instance_id}, wait={"timeout": 60}
            )
            result.quality.append((instance_id, outcome))
        result.script = run_dag(load_dag("test_script"), {"script_name": "daily_orders_sql"})
        result.job = run_dag(load_dag("test_dataarts_tab"))
        yield result


@pytest.fixture(scope="module")
def server(runs: Runs) -> Iterator[TabServer]:
    """
    The api-server app. With teams (Airflow 3.2+), the quality DAG's bundle belongs to team_a (put
    back afterwards); Airflow 3.1's simple auth manager has roles only.
    """
    teams = teams_supported()
    if not teams:
        started = TabServer(teams=False)
        yield started
        started.close()
        return
    from airflow.models.dag import DagModel
    from airflow.models.dagbundle import DagBundleModel
    from airflow.models.team import Team
    from airflow.utils.session import create_session

    with create_session() as session:
        dag = session.get(DagModel, "test_quality_sensor")
        original_bundle = dag.bundle_name
        # The simple auth manager wants every team of its users in the database.
        teams_rows = [session.get(Team, name) or Team(name=name) for name in ("team_a", "team_b")]
        bundle = DagBundleModel(name=TEAM_BUNDLE)
        bundle.teams = [teams_rows[0]]
        session.add_all([*teams_rows, bundle])
        session.flush()
        dag.bundle_name = TEAM_BUNDLE
    started = TabServer(teams=True)
    try:
        yield started
    finally:
        started.close()
        with create_session() as session:
            session.get(DagModel, "test_quality_sensor").bundle_name = original_bundle
            session.flush()
            session.delete(session.get(DagBundleModel, TEAM_BUNDLE))
            for name in ("team_a", "team_b"):
                session.delete(session.get(Team, name))


def quality_page(runs: Runs, index: int) -> str:
    return tab("test_quality_sensor", runs.quality[index][1].run_id, "wait")


# --- who gets in ---------------------------------------------------------------------------------


def test_anonymous_gets_401_on_every_route(server: TabServer, runs: Runs) -> None:
    for path in (
        quality_page(runs, 1),
        "/dataarts/",
        "/dataarts/anything",
        "/dataarts/docs",
        "/dataarts/openapi.json",
    ):
        status, text, _ = server.get(path)
        assert status == 401, (path, status, text)
        assert "ALARMING" not in text


def test_forged_garbage_and_expired_tokens_get_401(server: TabServer, runs: Runs) -> None:
    forged = jwt.encode(
        {"sub": "admin", "role": "admin", "teams": [], "aud": "apache-airflow", "exp": 4102444800},
        "not-the-secret-of-this-airflow-not-the-secret-of-this-airflow",
        algorithm="HS512",
    )
    expired = server.token("admin", "admin", seconds=-3600)
    for token in (forged, "garbage", expired):
        for cookie in (False, True):
            status, text, _ = server.get(quality_page(runs, 1), token, cookie=cookie)
            assert status == 401, (token[:12], cookie, status, text)


@pytest.mark.skipif(not teams_supported(), reason="the simple auth manager has teams from Airflow 3.2")
def test_a_user_of_another_team_gets_403_one_of_the_team_gets_in(server: TabServer, runs: Runs) -> None:
    page = quality_page(runs, 1)
    bob = server.token("bob", "viewer", ["team_b"])
    status, text, _ = server.get(page, bob)
    assert status == 403, text
    assert runs.quality[1][0] not in text
    # bob reads a DAG of no team; alice (team_a), the UI's cookie, and the admin read the team's DAG.
    assert server.get(tab("test_dataarts_tab", runs.job.run_id, "run_job"), bob)[0] == 200
    assert server.get(page, server.token("alice", "viewer", ["team_a"]), cookie=True)[0] == 200
    assert server.get(page, server.token("admin", "admin"))[0] == 200


def test_a_user_the_auth_manager_grants_nothing_gets_403(server: TabServer, runs: Runs) -> None:
    """A valid token of this api-server for a user without a role (Airflow 3.1 has no teams)."""
    page = tab("test_dataarts_tab", runs.job.run_id, "run_job")  # a DAG of no team
    status, text, _ = server.get(page, server.token("nobody", None))
    assert status == 403, text
    assert JOB_RESULT["instance_id"] not in text
    assert server.get(page, server.token("alice", "viewer"))[0] == 200


# --- what the page shows ---------------------------------------------------------------------------


def cells(page: str, css: str) -> list[str]:
    return [html.unescape(c) for c in re.findall(rf"<td class='{css}'[^>]*>(.*?)</td>", page)]


def test_alarming_quality_page(server: TabServer, runs: Runs) -> None:
    instance_id, outcome = runs.quality[1]
    stored = outcome.xcom("wait", "quality_result")
    status, page, headers = server.get(quality_page(runs, 1), server.token("admin", "admin"))
    assert status == 200, page
    assert "script-src" not in headers["content-security-policy"]  # no script may run on the page
    assert "<b>ALARMING</b>" in page and "2 of 5 sub-rules alarming" in page
    assert len(instance_id) == 19 and f"<code id='instance-id'>{instance_id}</code>" in page
    assert "<script>" not in page and html.escape(EVIL_JOB, quote=True) in page
    assert cells(page, "status") == ["alarming"] * 2 + ["passed"] * 3
    # every sub-rule, with its 19-digit ids exactly as DataArts gave them
    ids = [s["sub_instance_instance_id"] for s in stored["sub_rules"]]
    assert all(len(i) == 19 for i in ids) and all(f">{i}</td>" in page for i in ids)
    assert "Abnormal Rows" in page and "only-alarming" in page
    console = DataArtsHook("dataarts_default") and outcome.xcom("wait", "instance_url")
    assert console is None or html.escape(console) in page


def test_history_has_one_mark_per_run_coloured_by_verdict(server: TabServer, runs: Runs) -> None:
    status, page, _ = server.get(quality_page(runs, 2), server.token("admin", "admin"))
    assert status == 200, page
    assert "<b>FAILED</b>" in page
    marks = re.findall(r"<a href='([^']*)' class='mark' data-run-id='([^']*)'[^>]*>.*?fill='(#\w+)'", page)
    by_run = {html.unescape(run_id): (html.unescape(href), colour) for href, run_id, colour in marks}
    colours = {"SUCCESS": "#1b7f3b", "ALARMING": "#b45309", "FAILED": "#b91c1c"}
    token = server.token("admin", "admin")
    for (_, outcome), verdict in zip(runs.quality, colours, strict=True):
        href, colour = by_run[outcome.run_id]
        assert colour == colours[verdict]
        assert href == tab("test_quality_sensor", outcome.run_id, "wait", "-1")
        status, linked, _ = server.get(href, token)  # each mark opens that run's page
        assert status == 200 and f"<b>{verdict}</b>" in linked


def test_unencoded_ids_and_a_numeric_map_index_reach_the_same_page(server: TabServer, runs: Runs) -> None:
    run_id = runs.quality[0][1].run_id
    assert "+" in run_id or ":" in run_id
    token = server.token("admin", "admin")
    for path in (
        tab("test_quality_sensor", run_id, "wait", encode=False),
        tab("test_quality_sensor", run_id, "wait", "-1"),
    ):
        status, page, _ = server.get(path, token)
        assert status == 200 and "<b>SUCCESS</b>" in page, (path, page[:300])


def test_script_page_shows_the_rows(server: TabServer, runs: Runs) -> None:
    value: dict[str, Any] = runs.script.xcom("run")
    status, page, _ = server.get(
        tab("test_script", runs.script.run_id, "run"), server.token("admin", "admin")
    )
    assert status == 200, page
    assert "<b>FINISHED</b>" in page and value["instance_id"] in page
    records = value["results"][0]["records"]
    assert records and all(html.escape(str(v)) in page for v in records[0].values())
    assert page.count("<tr>") >= len(records) + 1


def test_job_page_shows_the_nodes_as_a_timeline(server: TabServer, runs: Runs) -> None:
    status, page, _ = server.get(
        tab("test_dataarts_tab", runs.job.run_id, "run_job"), server.token("admin", "admin")
    )
    assert status == 200, page
    assert "<b>fail</b>" in page and JOB_RESULT["instance_id"] in page
    assert "&lt;script&gt;alert(&#x27;node&#x27;)&lt;/script&gt;" in page and "<script>" not in page
    assert "obs://dlf-log/daily_orders/extract_orders.log" in page and "125000" in page
    assert "30.0 s" in page and "1 min 5 s" in page  # each node's duration
    assert "left:0.0%;width:31.6%" in page and "left:31.6%;width:68.4%" in page  # the timeline bars


def test_other_task_and_unknown_task_instance(server: TabServer, runs: Runs) -> None:
    token = server.token("admin", "admin")
    status, page, _ = server.get(tab("test_dataarts_tab", runs.job.run_id, "plain"), token)
    assert status == 200 and "stored no DataArts result" in page
    status, page, _ = server.get(tab("test_dataarts_tab", runs.job.run_id, "no_such_task"), token)
    assert status == 404 and "No such task instance" in page


def test_the_page_never_shows_the_connection(server: TabServer, runs: Runs) -> None:
    from tests.support import AK, SK

    token = server.token("admin", "admin")
    for path in (quality_page(runs, 1), tab("test_script", runs.script.run_id, "run")):
        page = server.get(path, token)[1]
        assert AK not in page and SK not in page and "127.0.0.1:" not in page.replace("127.0.0.1:8080", "")


# --- what the task stored, whatever its shape: bounded pages, a message, never a 500 ----------------


def store(dag_id: str, run_id: str, task_id: str, key: str, value: Any) -> None:
    """Store (or replace) an XCom as a task would, in the database the api-server reads."""
    from airflow.models.xcom import XComModel

    XComModel.set(key=key, value=value, dag_id=dag_id, task_id=task_id, run_id=run_id, map_index=-1)


def forget(dag_id: str, run_id: str, task_id: str, key: str) -> None:
    """Remove one XCom of a task instance, its others kept (``XComModel.clear`` clears them all)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        statement = XComModel.get_many(run_id=run_id, dag_ids=dag_id, task_ids=task_id, map_indexes=-1)
        kept = {row.key: XComModel.deserialize_value(row) for row in session.scalars(statement)}
    XComModel.clear(dag_id=dag_id, task_id=task_id, run_id=run_id, map_index=-1)
    for other, value in kept.items():
        if other != key:
            store(dag_id, run_id, task_id, other, value)


def plain_page(server: TabServer, runs: Runs, key: str, value: Any) -> tuple[int, str]:
    """The page of a task that stored ``value`` under ``key`` (the "plain" task of the job run)."""
    store("test_dataarts_tab", runs.job.run_id, "plain", key, value)
    try:
        status, page, _ = server.get(
            tab("test_dataarts_tab", runs.job.run_id, "plain"), server.token("admin", "admin")
        )
    finally:
        forget("test_dataarts_tab", runs.job.run_id, "plain", key)
    return status, page


def quality_of(sub_rules: Any, **extra: Any) -> dict[str, Any]:
    return {
        "instance_id": "1012386190718128777",
        "run_status": "ALARMING",
        "instance": {"id": "1012386190718128777", "name": "odd", "task_type": "QUALITY_TASK", **extra},
        "sub_rules": sub_rules,
    }


def job_of(nodes: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {**JOB_RESULT, "nodes": nodes, **extra}


def script_of(results: Any) -> dict[str, Any]:
    return {
        "instance_id": "1012386190718128555",
        "script_name": "s",
        "status": "FINISHED",
        "results": results,
    }


MALFORMED = {
    "a time beyond year 9999": ("job_result", job_of([{**JOB_RESULT["nodes"][0], "start_time": 10**17}])),
    "a NaN time": ("job_result", job_of(JOB_RESULT["nodes"], start_time=float("nan"))),
    "node times of text and numbers": (
        "job_result",
        job_of([{**JOB_RESULT["nodes"][0], "start_time": "soon"}, JOB_RESULT["nodes"][1]]),
    ),
    "sub-rule results not a list of dicts": (
        "quality_result",
        quality_of([{"sub_rule_id": "1", "results": ["Status false"]}]),
    ),
    "sub_rules not a list": ("quality_result", quality_of(7)),
    "script results not a list of dicts": ("return_value", script_of([{"records": []}, "oops"])),
    "a script schema not a list": ("return_value", script_of([{"schema": 5, "records": [{"a": 1}]}])),
    "a lone surrogate": ("job_result", job_of(JOB_RESULT["nodes"], job_name="bad \ud800 name")),
}
# What a user reads on each page: an error message section, or the odd value shown as what it is.
MESSAGES = {
    "a time beyond year 9999": "100000000000000000 (not a time)",
    "a NaN time": "nan (not a time)",
    "node times of text and numbers": "soon",
    "sub-rule results not a list of dicts": "the results of sub-rule 1[0] is str, not an object",
    "sub_rules not a list": "sub_rules is int, not a list of objects",
    "script results not a list of dicts": "results[1] is str, not an object",
    "a script schema not a list": "the schema of result 1 is int, not a list",
    "a lone surrogate": "bad ? name",
}


@pytest.mark.parametrize("shape", list(MALFORMED))
def test_a_malformed_result_shows_a_message_not_a_500(server: TabServer, runs: Runs, shape: str) -> None:
    key, value = MALFORMED[shape]
    status, page = plain_page(server, runs, key, value)
    assert status == 200, page[-2000:]
    assert html.escape(MESSAGES[shape], quote=True) in page, page[-3000:]
    if "cannot be shown" in page:  # the message names the XCom holding the whole value
        assert f"<code>{key}</code>" in page and "id='malformed'" in page


def test_a_map_index_too_large_for_the_column_is_no_such_task_instance(server: TabServer, runs: Runs) -> None:
    token = server.token("admin", "admin")
    for map_index in ("99999999999999999999", "2147483648", "9" * 5000):
        path = tab("test_dataarts_tab", runs.job.run_id, "run_job", map_index)
        status, page, _ = server.get(path, token)
        assert status == 404 and "No such task instance" in page, (map_index[:30], status, page[:300])


def test_one_malformed_run_in_the_history_leaves_the_other_pages_whole(server: TabServer, runs: Runs) -> None:
    """A run before summaries existed, its quality_result malformed: the other runs' pages still show."""
    run_id = runs.quality[0][1].run_id
    good = runs.quality[0][1].xcom("wait", "quality_result")
    summary = runs.quality[0][1].xcom("wait", "dataarts_summary")
    forget("test_quality_sensor", run_id, "wait", "dataarts_summary")
    store("test_quality_sensor", run_id, "wait", "quality_result", quality_of(7))
    try:
        token = server.token("admin", "admin")
        for index in (1, 2):
            status, page, _ = server.get(quality_page(runs, index), token)
            assert status == 200, page[-2000:]
            assert f"data-run-id='{html.escape(runs.quality[1][1].run_id, quote=True)}'" in page
            assert "History: this task in the last" in page
        # that run's own page: its result in a message section, its history still drawn
        status, page, _ = server.get(quality_page(runs, 0), token)
        assert status == 200 and "sub_rules is int, not a list of objects" in page
        assert "History: this task in the last" in page
    finally:
        store("test_quality_sensor", run_id, "wait", "quality_result", good)
        store("test_quality_sensor", run_id, "wait", "dataarts_summary", summary)


def test_a_huge_result_renders_a_bounded_page_saying_what_it_left_out(server: TabServer, runs: Runs) -> None:
    """2,000 sub-rules with a column each (a quadratic page before), a 1 MB cell: a bounded page."""
    sub_rules = [
        {
            "sub_rule_id": str(1012386190718100000 + n),
            "sub_instance_instance_id": str(2012386190718100000 + n),
            "results": [
                {"Status": "false" if n % 2 else "true", f"column {n}": "x" * (10**6 if n == 1 else 8)}
            ],
        }
        for n in range(2000)
    ]
    status, page = plain_page(server, runs, "quality_result", quality_of(sub_rules))
    assert status == 200
    assert len(page) < 3_000_000, len(page)
    assert "1000 of 2000 sub-rules alarming" in page
    assert page.count("<th>column ") <= 40
    assert "1,000 of 2,000 sub-rules" in page and "961 of 1,001 result columns" in page
    assert "more characters)" in page
    assert "Not shown here" in page and "<code>quality_result</code>" in page
    cells = re.findall(r"<td>(x+)\u2026", page)
    assert cells and max(len(c) for c in cells) <= 300


def test_a_script_cell_of_10_mb_is_cut(server: TabServer, runs: Runs) -> None:
    value = script_of(
        [{"schema": [{"sql": "string"}], "records": [{"sql": "y" * 10_000_000}], "rowCount": 1}]
    )
    status, page = plain_page(server, runs, "return_value", value)
    assert status == 200 and len(page) < 100_000, len(page)
    assert "9,999,700 more characters" in page


# --- the history reads per-run summaries --------------------------------------------------------------


def test_each_quality_run_leaves_a_small_summary(runs: Runs) -> None:
    for _, outcome in runs.quality:
        result = outcome.xcom("wait", "quality_result")
        summary = outcome.xcom("wait", "dataarts_summary")
        assert summary["run_status"] == result["run_status"] and summary["sub_rules"] == len(
            result["sub_rules"]
        )
    assert runs.quality[1][1].xcom("wait", "dataarts_summary")["alarming"] == 2


def test_the_history_of_a_big_result_without_summary_says_so(server: TabServer, runs: Runs) -> None:
    """A result stored before summaries and bigger than the tab reads for a history mark: "no summary"."""
    run_id = runs.quality[0][1].run_id
    good = runs.quality[0][1].xcom("wait", "quality_result")
    summary = runs.quality[0][1].xcom("wait", "dataarts_summary")
    big = {
        **good,
        "sub_rules": [*good["sub_rules"], {"sub_rule_id": "padding", "results": [], "pad": "z" * 400_000}],
    }
    forget("test_quality_sensor", run_id, "wait", "dataarts_summary")
    store("test_quality_sensor", run_id, "wait", "quality_result", big)
    try:
        status, page, _ = server.get(quality_page(runs, 1), server.token("admin", "admin"))
        assert status == 200
        assert "no summary (a result of 0.4 MB stored before summaries)" in page
    finally:
        store("test_quality_sensor", run_id, "wait", "quality_result", good)
        store("test_quality_sensor", run_id, "wait", "dataarts_summary", summary)
