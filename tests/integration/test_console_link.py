"""
The task's extra link, as the UI reads it (Airflow's REST API), leads to the emulator's page of the
instance; the default template for the real console never says ``region=`` empty. Also two Airflow
3.3 behaviours docs/airflow-versions.md documents, checked so that a fixed Airflow is noticed.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.hooks.dataarts import DataArtsHook
from airflow_provider_dataarts.links.dataarts import instance_url
from tests.airflow_api import api_client, close_api_client
from tests.integration.dagrun import RunOutcome, load_dag, run_dag

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.filterwarnings("ignore")]


@pytest.fixture(autouse=True, scope="module")
def _api_ends_with_this_module() -> Iterator[None]:
    yield
    close_api_client()


DAG_ID, TASK_ID = "example_dataarts_quality_wait", "rerun_and_wait"


@pytest.fixture
def finished_run(emulator: DataArtsEmulator, connect: Callable[..., str]) -> RunOutcome:
    connect("aksk", console_url=emulator.console_url)
    outcome = run_dag(load_dag(DAG_ID), **{TASK_ID: {"poll_interval": 0.2}})
    assert outcome.states == {TASK_ID: "success"}
    return outcome


def api(path: str, **params: Any) -> Any:
    answer = api_client().get(f"/api/v2/dags/{DAG_ID}/dagRuns/{path}", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_extra_link_opens_the_instance_page(finished_run: RunOutcome, emulator: DataArtsEmulator) -> None:
    instance_id = finished_run.xcom(TASK_ID)
    links = api(f"{finished_run.run_id}/taskInstances/{TASK_ID}/links")["extra_links"]
    assert links == {"DataArts Quality instance": f"{emulator.url}/console/quality/instances/{instance_id}"}
    with urllib.request.urlopen(links["DataArts Quality instance"], timeout=10) as answer:
        page = answer.read().decode()
    assert f"Quality instance {instance_id}" in page and "orders_vs_warehouse" in page
    for sub_rule in emulator.state.instances[int(instance_id)].results:
        assert sub_rule["sub_rule_id"] in page


@pytest.mark.parametrize(
    ("host", "region"),
    [
        ("{emulator}", None),
        ("https://dayu.cn-north-4.myhuaweicloud.com", "cn-north-4"),
        ("", "ap-southeast-1"),
    ],
)
def test_the_default_console_link_has_a_region_or_none(
    host: str,
    region: str | None,
    emulator: DataArtsEmulator,
    connect: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.support import connection_json

    extra = {"region": region} if host == "" else {}
    monkeypatch.setenv("AIRFLOW_CONN_LINKED", connection_json(host.format(emulator=emulator.url), **extra))
    url = instance_url(DataArtsHook("linked").config, "1012386207306600449")
    assert url.startswith("https://console.huaweicloud.com/dataartsstudio/")
    assert url.endswith("#/dq/taskMonitor?projectId=p1&workspace=w1&instanceId=1012386207306600449")
    if region:
        assert f"?region={region}#" in url
    else:
        assert "region" not in url


def test_known_airflow_behaviour_the_xcom_tab_turns_a_19_digit_id_into_a_number(
    finished_run: RunOutcome,
) -> None:
    """
    Airflow 3.3's XCom API (what the UI's XCom tab reads, ``deserialize=true``) parses the stored
    string "1012386207372035146" as JSON, so the browser shows a rounded float. The value tasks get
    is right. If this fails, Airflow fixed it: drop the note in docs/airflow-versions.md.
    """
    instance_id = finished_run.xcom(TASK_ID)
    assert isinstance(instance_id, str) and len(instance_id) == 19
    entry = api(f"{finished_run.run_id}/taskInstances/{TASK_ID}/xcomEntries/return_value", deserialize="true")
    assert entry["value"] == int(instance_id), "Airflow returns the id as a JSON number"
    assert float(entry["value"]) != int(instance_id), "which a browser's JavaScript rounds"
    raw = api(f"{finished_run.run_id}/taskInstances/{TASK_ID}/xcomEntries/return_value")
    assert raw["value"] == instance_id, "the stored value is the string"
    result = api(
        f"{finished_run.run_id}/taskInstances/{TASK_ID}/xcomEntries/quality_result", deserialize="true"
    )
    assert result["value"]["instance_id"] == instance_id, "inside a dict the id stays text"


def test_known_airflow_behaviour_the_list_test_button_posts_port_0(emulator: DataArtsEmulator) -> None:
    """
    Airflow 3.3's connections list posts the stored connection with ``port: 0`` and the masked
    password; a connection without a stored port then "differs" and the answer is 400 Bad Request.
    The same test with the port left out, or with the secret typed in again, works. If the first
    assertion fails, Airflow fixed it: drop the note in docs/airflow-versions.md.
    """
    import json

    from tests.support import AK, SK

    client = api_client()
    stored = {
        "connection_id": "stored_dataarts",
        "conn_type": "dataarts",
        "host": emulator.url,
        "login": AK,
        "password": SK,
        "extra": json.dumps({"project_id": "p1", "workspace": "w1"}),
    }
    assert client.post("/api/v2/connections", json=stored).status_code == 201
    try:
        from_the_list = {**stored, "password": "***", "port": 0}
        answer = client.post("/api/v2/connections/test", json=from_the_list)
        assert answer.status_code == 400
        assert "differs from the stored connection" in answer.text
        for works in ({**stored, "password": "***"}, {**stored, "port": 0}):
            answer = client.post("/api/v2/connections/test", json=works)
            assert answer.status_code == 200 and answer.json()["status"] is True, answer.text
    finally:
        client.delete("/api/v2/connections/stored_dataarts")
