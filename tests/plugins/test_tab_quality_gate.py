"""
The DataArts tab on quality gates with a policy (``warn_only``), served by Airflow's own api-server
app on task instances the gate example ran against the emulator: the gate severity and threshold of
each alarming sub-rule, and runs that passed with warnings marked apart in the history.

With ``DATAARTS_TAB_PAGES=<dir>`` the pages are also written there (for screenshots).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.plugins import SUPPORTED
from tests.integration.dagrun import RunOutcome, load_dag, run_dag
from tests.plugins.tab_server import TabServer
from tests.plugins.test_tab_app import tab

pytestmark = [
    pytest.mark.usefixtures("airflow_db"),
    pytest.mark.filterwarnings("ignore"),
    pytest.mark.skipif(not SUPPORTED, reason="Airflow 3.0: no tab"),
]
DAG_ID = "example_dataarts_quality_gate"
POLICIES = {
    "warned": ["Completeness", "order_id_*"],  # both alarms only warn: passes with warnings
    "failed": ["Completeness"],  # the duplicate order ids fail the gate
}


@pytest.fixture(scope="module")
def gate_runs(emulator_server: DataArtsEmulator) -> Iterator[dict[str, RunOutcome]]:
    from tests.support import connection_json

    emulator_server.reset()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_CONN_DATAARTS_DEFAULT", connection_json(emulator_server.url, "aksk"))
        yield {
            name: run_dag(load_dag(DAG_ID), {"warn_only": warn_only}, quality_gate={"poll_interval": 0.2})
            for name, warn_only in POLICIES.items()
        }


@pytest.fixture(scope="module")
def pages(gate_runs: dict[str, RunOutcome]) -> dict[str, str]:
    server = TabServer(teams=False)
    try:
        token = server.token("admin", "admin")
        found = {}
        for name, outcome in gate_runs.items():
            status, text, _ = server.get(tab(DAG_ID, outcome.run_id, "quality_gate"), token)
            assert status == 200, text[:500]
            found[name] = text
    finally:
        server.close()
    if folder := os.environ.get("DATAARTS_TAB_PAGES"):
        for name, text in found.items():
            (Path(folder) / f"quality-gate-{name}.html").write_text(text)
    return found


def alarming_rows(page: str) -> list[tuple[str, ...]]:
    """(tbody class, gate words, sub-rule name, dimension, threshold) of each alarming sub-rule."""
    rows = []
    for body in re.findall(r"<tbody class='(alarming[^']*)'>(.*?)</tbody>", page, re.S):
        cells = re.findall(r"<td[^>]*>([^<]*)</td>", body[1])
        rows.append((body[0], cells[1], cells[2], cells[3], cells[6]))
    return rows


def test_a_failed_gate_shows_which_alarm_failed_it_and_against_which_threshold(
    gate_runs: dict[str, RunOutcome], pages: dict[str, str]
) -> None:
    assert gate_runs["failed"].states["quality_gate"] == "failed"
    page = pages["failed"]
    assert "<div class='banner ALARMING' id='verdict'><b>ALARMING</b>" in page
    assert "failed the task (1 fail, 1 only warn)" in page
    assert alarming_rows(page) == [
        ("alarming warn", "warning only", "region_not_null", "Completeness", "${1}&gt;0"),
        ("alarming fail", "fails the task", "order_id_unique", "Uniqueness", "${1}&gt;0"),
    ]
    assert "<td>sales.orders</td>" in page and "<td>order_id</td>" in page


def test_a_gate_that_passed_with_warnings_is_marked_apart(
    gate_runs: dict[str, RunOutcome], pages: dict[str, str]
) -> None:
    assert gate_runs["warned"].states["quality_gate"] == "success"
    page = pages["warned"]
    assert "<div class='banner WARNED' id='verdict'><b>ALARMING</b>" in page
    assert "passed with warnings (2 only warn)" in page
    assert [row[:2] for row in alarming_rows(page)] == [("alarming warn", "warning only")] * 2
    # The history: this DAG's runs, the two above last, one yellow (passed with warnings), one amber.
    marks = re.findall(r"data-run-id='([^']*)'[^>]*><title>([^<]*)</title>.*?fill='(#\w+)'", page, re.S)
    colours = {run_id: colour for run_id, _, colour in marks}
    assert colours[gate_runs["warned"].run_id] == "#eab308"
    assert colours[gate_runs["failed"].run_id] == "#b45309"
    titles = {run_id: title for run_id, title, _ in marks}
    assert "ALARMING, 2 of 4 sub-rules alarming: passed with warnings" in titles[gate_runs["warned"].run_id]
