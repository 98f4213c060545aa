"""Run an example DAG with ``dag.test()`` and read back what a user would look at."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"


@dataclass
class RunOutcome:
    state: str
    states: dict[str, str]
    tries: dict[str, int]
    xcoms: dict[tuple[str, str], Any] = field(default_factory=dict)
    logical_date: datetime | None = None
    run_after: datetime | None = None
    run_id: str = ""

    def xcom(self, task_id: str, key: str = "return_value") -> Any:
        return self.xcoms.get((task_id, key))


def dag_bag(folder: str) -> Any:
    """The DAGs of a folder, parsed as the DAG processor does (``DagBag`` moved in Airflow 3.1)."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.0
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    return DagBag(dag_folder=folder)


def load_dag(dag_id: str) -> Any:
    from airflow.configuration import conf

    bag = dag_bag(conf.get("core", "dags_folder"))
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag(dag_id)


def run_dag(
    dag: Any,
    conf: dict[str, Any] | None = None,
    *,
    logical_date: datetime | None = None,
    without_logical_date: bool = False,
    **task_changes: dict[str, Any],
) -> RunOutcome:
    """``dag.test()``, with attributes of some tasks changed first (e.g. ``wait={"deferrable": False}``)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    for task_id, changes in task_changes.items():
        for name, value in changes.items():
            setattr(dag.get_task(task_id), name, value)
    kwargs: dict[str, Any] = {"run_conf": conf}
    if logical_date is not None:  # the same run as an earlier dag.test() (its run id comes from run_after)
        kwargs.update(logical_date=logical_date, run_after=logical_date)
    if without_logical_date:  # as `airflow dags trigger` and the REST API create runs in Airflow 3
        kwargs.update(logical_date=None)
    run = dag.test(**kwargs)
    tis = run.get_task_instances()
    with create_session() as session:
        rows = session.query(XComModel).filter(XComModel.dag_id == dag.dag_id, XComModel.run_id == run.run_id)
        # Values written through the Task Execution API are stored as JSON and come back decoded.
        xcoms = {(row.task_id, row.key): row.value for row in rows}
    return RunOutcome(
        logical_date=run.logical_date,
        run_after=run.run_after,
        run_id=run.run_id,
        state=str(run.state),
        states={ti.task_id: str(ti.state) for ti in tis},
        tries={ti.task_id: ti.try_number for ti in tis},
        xcoms=xcoms,
    )
