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
    marks = re.findall(r"<a href='([^']*)' class='mark' data-run-id='([^']*)'>.*?fill='(#\w+)'", page)
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
