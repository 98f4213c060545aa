"""
Run an example DAG against the local DataArts emulator and print what happened.

Everything is temporary: a fresh AIRFLOW_HOME (SQLite), an emulator on a free port, both removed
at the end. Usage: ``python scripts/demo.py [dag_id] [--keep]``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, emulator: subprocess.Popen[bytes]) -> None:
    for _ in range(100):
        if emulator.poll() is not None:
            sys.exit("the DataArts emulator exited at start")
        try:
            with urllib.request.urlopen(f"{url}/_emulator/health", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit("the DataArts emulator did not answer")


def report(dag_id: str) -> int:
    """Task states and the sub-rule summary of the DAG run, read back from the metadata database."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    from airflow_provider_dataarts.results.quality import summarize_quality

    with create_session() as session:
        run = session.query(DagRun).filter(DagRun.dag_id == dag_id).order_by(DagRun.id.desc()).first()
        if run is None:
            print("no DAG run was recorded")
            return 1
        print(f"\nDAG run {run.run_id}: {run.state}")
        for ti in (
            session.query(TaskInstance)
            .filter(TaskInstance.run_id == run.run_id)
            .order_by(TaskInstance.start_date)
        ):
            print(f"  {ti.task_id:<28} {ti.state}")
        rows = (
            session.query(XComModel)
            .filter(XComModel.run_id == run.run_id, XComModel.key.in_(["quality_result", "return_value"]))
            .all()
        )
        for row in rows:
            value = row.value  # written through the Task Execution API: stored as plain JSON
            if row.key == "quality_result":
                print(f"\nquality_result of {row.task_id}:")
                print(summarize_quality(value))
                for sub_rule in value["sub_rules"]:
                    print(f"  sub-rule {sub_rule['sub_rule_id']}: {sub_rule['results']}")
            elif isinstance(value, dict) and "results" in value and "script_name" in value:
                print(f"\nrows of script {value['script_name']} ({row.task_id}), as records:")
                for result_set in value["results"]:
                    for record in result_set["records"][:10]:
                        print(f"  {record}")
        return 0 if str(run.state) in ("success", "DagRunState.SUCCESS") else 1


def _short(line: str) -> str:
    """A log line without its timestamp and logger fields."""
    text = line.split("] ", 1)[-1] if line[:4].isdigit() else line
    return text.split(" [airflow", 1)[0].strip()[:160]


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    dag_id = args[0] if args else "example_dataarts_quality"
    keep = "--keep" in sys.argv
    home = Path(tempfile.mkdtemp(prefix="dataarts-demo-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    connection = {
        "conn_type": "dataarts",
        "host": url,
        "login": "AK",
        "password": "SK",
        "extra": {
            "project_id": "p1",
            "workspace": "w1",
            "retry_wait": 0.2,
            "console_url": f"{url}/console/quality/instances/{{instance_id}}",
        },
    }
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "example_dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW_CONN_DATAARTS_DEFAULT": json.dumps(connection),
        }
    )
    print(f"DataArts emulator: {url}   AIRFLOW_HOME: {home}")
    emulator = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_dataarts.emulator", "--port", str(port), "--quiet"],
    )
    started = time.monotonic()
    try:
        wait_healthy(url, emulator)
        subprocess.run([BIN / "airflow", "db", "migrate"], check=True, capture_output=True)
        print(f"Running `airflow dags test {dag_id}` (log: {home / 'dags-test.log'}) ...")
        with open(home / "dags-test.log", "wb") as log:
            subprocess.run([BIN / "airflow", "dags", "test", dag_id], stdout=log, stderr=subprocess.STDOUT)
        print("\nWhat the provider logged:")
        for line in (home / "dags-test.log").read_text(errors="replace").splitlines():
            shown = "DataArts" in line or "sub-rule" in line or "DEFERRED" in line
            if shown and "Pushing xcom" not in line:
                print("  " + _short(line))
        status = report(dag_id)
        print(f"\nDemo finished in {time.monotonic() - started:.1f} s")
        return status
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
        if not keep:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
