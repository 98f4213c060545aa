"""Airflow finds the DataArts plugin through its entry point: the tab on 3.1+, nothing (and why) on 3.0."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from airflow_provider_dataarts.plugins import SUPPORTED, DataArtsPlugin, airflow_version

PROBE = """
from airflow import plugins_manager
(plugin,) = [p for p in plugins_manager.get_plugin_info() if p["name"] == "dataarts"]
views = plugin.get("external_views", [])
print(len(plugin["fastapi_apps"]), len(views), [v["href"] for v in views])
"""


def test_airflow_loads_the_plugin_from_its_entry_point() -> None:
    out = (
        subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=300)
        .stdout.strip()
        .splitlines()[-1]
    )
    if airflow_version() >= (3, 1):
        assert out == "1 1 ['/dataarts/ti/{DAG_ID}/{TASK_ID}/{MAP_INDEX}/{RUN_ID}']"
    else:
        assert out == "0 0 []"


@pytest.mark.skipif(SUPPORTED, reason="Airflow 3.0 only: the tab needs 3.1's external_views")
def test_on_airflow_3_0_it_registers_nothing_and_the_api_server_says_why_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import airflow_provider_dataarts.plugins as plugins

    monkeypatch.setattr(sys, "argv", ["airflow", "api-server"])
    monkeypatch.setattr(plugins, "_said_why", False)
    with caplog.at_level(logging.DEBUG, logger="airflow_provider_dataarts.plugins"):
        DataArtsPlugin.on_load()
        DataArtsPlugin.on_load()
    said = [r for r in caplog.records if "DataArts tab needs Airflow 3.1" in r.getMessage()]
    assert [r.levelno for r in said] == [logging.WARNING]
    assert DataArtsPlugin.fastapi_apps == [] and DataArtsPlugin.external_views == []


def test_the_plugin_module_imports_nothing_heavy() -> None:
    """Every Airflow component imports it: no FastAPI, no page code, no other module of ours."""
    code = (
        "import sys, airflow.plugins_manager; before = set(sys.modules)\n"
        "import airflow_provider_dataarts.plugins\n"
        "print('ADDED', ' '.join(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    (line,) = [x for x in out.stdout.splitlines() if x.startswith("ADDED")]
    added = set(line.split()[1:])
    assert added <= {"airflow_provider_dataarts", "airflow_provider_dataarts.plugins"}, added
