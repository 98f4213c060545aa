"""The DAGs the README and the getting-started page show run as shown, against the emulator."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from tests.integration.dagrun import load_dag, run_dag

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.filterwarnings("ignore")]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def documented_dag() -> Iterator[Any]:
    """Load the code block of a page that defines a DAG, from the DAGs folder (dag.test needs it there)."""
    from airflow.configuration import conf

    written: list[Path] = []

    def load(page: str) -> object:
        blocks = re.findall(r"```python\n(.*?)```", (REPO / page).read_text(), flags=re.DOTALL)
        (code,) = [block for block in blocks if "with DAG(" in block]
        (dag_id,) = re.findall(r'with DAG\("(\w+)"', code)
        path = Path(conf.get("core", "dags_folder")) / f"documented_{dag_id}.py"
        path.write_text(code)
        written.append(path)
        return load_dag(dag_id)

    yield load
    for path in written:
        path.unlink()


def test_the_readme_dag_gates_the_script_on_the_check(
    emulator: DataArtsEmulator, dataarts_conn: str, documented_dag: Any
) -> None:
    dag = documented_dag("README.md")
    outcome = run_dag(
        dag,
        check_orders={"poll_interval": 0.2},
        daily_orders={"poll_interval": 0.2},
    )
    assert outcome.states == {"check_orders": "success", "daily_orders": "success"}
    assert outcome.xcom("check_orders", "quality_result")["run_status"] == "SUCCESS"
    assert outcome.xcom("daily_orders")["results"][0]["records"]
    assert emulator.count("POST", "/execute") == 1


def test_the_getting_started_dag_reports_each_sub_rule(
    emulator: DataArtsEmulator, dataarts_conn: str, documented_dag: Any
) -> None:
    dag = documented_dag("docs/getting-started.md")
    outcome = run_dag(dag, wait={"poke_interval": 0.2})
    assert outcome.states == {"rerun": "success", "wait": "success", "report": "success"}
    assert outcome.xcom("wait", "quality_result")["run_status"] == "SUCCESS"
