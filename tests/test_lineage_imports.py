"""DAG files import the quality operator and sensor: that must never load OpenLineage."""

from __future__ import annotations

import json
import subprocess
import sys

PARSE_TIME_MODULES = (
    "airflow_provider_dataarts.operators.quality",
    "airflow_provider_dataarts.sensors.quality",
    "airflow_provider_dataarts.triggers.quality_events",
    "airflow_provider_dataarts.assets",
    "airflow_provider_dataarts.operators.migration",
    "airflow_provider_dataarts.sensors.migration",
)
NEVER_AT_PARSE_TIME = (
    "openlineage",
    "airflow.providers.openlineage",
    "airflow_provider_dataarts.openlineage_facets",
    "airflow_provider_dataarts.hooks",
    "airflow_provider_dataarts.client",
)


def test_parse_time_modules_load_no_openlineage_and_no_facet_builders() -> None:
    """What importing them adds to what ``airflow.sdk`` (and its provider discovery) loaded."""
    code = (
        "import json, sys, airflow.sdk\n"
        "before = set(sys.modules)\n"
        + "".join(f"import {module}\n" for module in PARSE_TIME_MODULES)
        + "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/")
    added = json.loads(done.stdout.strip().splitlines()[-1])
    assert "airflow_provider_dataarts.openlineage" in added, "the mixin module itself is loaded"
    assert "airflow_provider_dataarts.openlineage_migration" in added
    unwanted = [m for m in added if m.split(".")[0] == "openlineage" or m.startswith(NEVER_AT_PARSE_TIME)]
    assert unwanted == []
