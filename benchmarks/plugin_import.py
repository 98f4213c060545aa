"""
Import cost of the DataArts UI plugin, measured in fresh processes (prints numbers, asserts nothing).

Every Airflow component loads plugins, so what counts is what ``airflow_provider_dataarts.plugins``
adds to a process that has already imported Airflow's plugins manager. The app behind the tab
(``plugins.app``, ``plugins.data``, ``plugins.render``) is imported by the api-server alone, on
the tab's first request; it is measured on top of the api-server's own app.

Usage: .venv/bin/python benchmarks/plugin_import.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

BASE = "import airflow.plugins_manager"
PLUGIN = "import airflow_provider_dataarts.plugins"
API_BASE = "import airflow.plugins_manager, airflow.api_fastapi.app, fastapi"
APP = "import airflow_provider_dataarts.plugins.app, airflow_provider_dataarts.plugins.render"
APP += ", airflow_provider_dataarts.plugins.data"


def seconds(setup: str, measured: str) -> float:
    code = f"{setup}\nimport time\nt = time.perf_counter()\n{measured}\nprint(time.perf_counter() - t)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    return float(out.stdout.strip().splitlines()[-1])


def importtime(setup: str, module: str) -> list[str]:
    """python -X importtime rows (self and cumulative microseconds) for our own modules."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"{setup}\nimport {module}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in out.stderr.splitlines() if "airflow_provider_dataarts" in line]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    for label, setup, measured in (
        ("plugin module, after Airflow's plugins manager (every component)", BASE, PLUGIN),
        ("the tab's app, after the api-server's app (api-server, first request)", API_BASE, APP),
    ):
        times = sorted(seconds(setup, measured) * 1000 for _ in range(runs))
        print(
            f"{label}: median {statistics.median(times):.1f} ms, min {times[0]:.1f} ms, "
            f"max {times[-1]:.1f} ms over {runs} fresh processes"
        )
    print("python -X importtime, plugin module after the plugins manager (self us | cumulative us | module):")
    for line in importtime(BASE, "airflow_provider_dataarts.plugins"):
        print("  " + line.replace("import time:", "").strip())
    print(f"load average during the run: {os.getloadavg()[0]:.1f} (1 min)")


if __name__ == "__main__":
    main()
