"""
The DataArts tab's page time and the api-server's memory with big quality results in its history
(prints numbers, asserts nothing). Issue 23 measured 52 s and 2 GB for one page with 30 runs of
~13 MB results, when the history read every run's whole ``quality_result``.

In a private AIRFLOW_HOME (SQLite), ``dag.test()`` runs a DAG ``--runs`` times; its task stores a
``quality_result`` of about ``--megabytes`` MB, and the ``dataarts_summary`` beside it as
``finish_quality`` does (``--no-summaries``: results made before summaries existed). Then Airflow's
own api-server app (``create_app``, the plugins mounted as the api-server mounts them; simple auth
manager) serves the tab's page of the last run in a child process (``tests/plugins/tab_server.py``):
the time of each page and the child's resident memory before the first page and at its peak
(``VmHWM``) are printed.

Usage: .venv/bin/python benchmarks/tab_history.py [--runs 30] [--megabytes 13] [--pages 3] [--no-summaries]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DAG_ID = "bench_tab_history"
DAG_FILE = """
from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

with DAG(dag_id="bench_tab_history", start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), schedule=None):

    @task(task_id="gate")
    def gate(**context):
        conf = context["dag_run"].conf or {}
        count = int(conf["sub_rules"])
        sub_rules = [
            {
                "sub_rule_id": str(1012386190718100000 + n),
                "sub_instance_instance_id": str(2012386190718100000 + n),
                "abnormal_table_status": "UNSUPPORTED",
                "results": [
                    {"Total Rows": "100000", "Abnormal Rows": str(n % 7),
                     "Status": "false" if n % 7 else "true", "Rule": "value in range " + "x" * 1100}
                ],
            }
            for n in range(count)
        ]
        result = {"instance_id": "1012386190718128129", "run_status": "ALARMING",
                  "instance": {"id": "1012386190718128129", "name": "orders", "task_type": "QUALITY_TASK"},
                  "sub_rules": sub_rules}
        context["ti"].xcom_push(key="quality_result", value=result)
        if conf.get("summary"):  # as finish_quality does
            from airflow_provider_dataarts.results.summary import push_quality_summary

            push_quality_summary(context, result)

    gate()
"""


def environment(home: Path) -> None:
    from cryptography.fernet import Fernet

    dags = home / "dags"
    dags.mkdir()
    (dags / "bench_tab_history.py").write_text(DAG_FILE)
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        }
    )


def make_runs(runs: int, megabytes: float, summaries: bool) -> str:
    """Run the DAG ``runs`` times; the last run's id."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)
    sys.path.insert(0, str(ROOT))
    from tests.integration.dagrun import load_dag

    dag = load_dag(DAG_ID)
    sub_rules = int(megabytes * 1e6 / 1330)  # ~1,330 bytes of JSON per sub-rule
    run_id = ""
    started = time.monotonic()
    for _ in range(runs):
        run_id = dag.test(run_conf={"sub_rules": sub_rules, "summary": summaries}).run_id
    print(f"{runs} runs of {sub_rules} sub-rules each made in {time.monotonic() - started:.0f} s")
    return run_id


def peak_and_now(pid: int) -> tuple[float, float]:
    """The process's peak and current resident memory, MB (Linux /proc)."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    return int(fields["VmHWM"].split()[0]) / 1024, int(fields["VmRSS"].split()[0]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--megabytes", type=float, default=13)
    parser.add_argument("--pages", type=int, default=3)
    parser.add_argument("--no-summaries", action="store_true")
    args = parser.parse_args()
    environment(Path(tempfile.mkdtemp(prefix="dataarts-bench-tab-")))
    run_id = make_runs(args.runs, args.megabytes, not args.no_summaries)

    from urllib.parse import quote

    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import Text, cast, func, select

    from tests.plugins.tab_server import TabServer

    with create_session() as session:
        sizes = list(
            session.scalars(
                select(func.length(cast(XComModel.value, Text))).where(
                    XComModel.dag_id == DAG_ID, XComModel.key == "quality_result"
                )
            )
        )
    print(f"quality_result sizes: {min(sizes) / 1e6:.1f} to {max(sizes) / 1e6:.1f} MB in {len(sizes)} runs")
    server = TabServer(teams=False)
    try:
        token = server.token("admin", "admin")
        server.get("/dataarts/", token)  # the app is built and the auth manager warm before measuring
        pid = server._process.pid
        assert pid is not None
        _, before = peak_and_now(pid)
        path = f"/dataarts/ti/{DAG_ID}/gate/-1/{quote(run_id, safe='')}"
        times = []
        for _ in range(args.pages):
            started = time.monotonic()
            status, page, _ = server.get(path, token)
            times.append(time.monotonic() - started)
            assert status == 200, page[-500:]
        peak, now = peak_and_now(pid)
        marks = page.count("class='mark'")
        print(
            f"page: {len(page) / 1e6:.2f} MB, {marks} history marks; times "
            + ", ".join(f"{t:.2f} s" for t in times)
            + f"; api-server RSS {before:.0f} MB before, peak {peak:.0f} MB (+{peak - before:.0f} MB), "
            f"after {now:.0f} MB"
        )
    finally:
        server.close()


if __name__ == "__main__":
    main()
