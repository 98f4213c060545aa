"""
What the DataArts tab shows, read from Airflow's metadata database: the task instance, the XComs
the provider's operators and sensors stored, and the verdicts of the same task in recent DAG runs.

XCom values are read as stored (``XComModel.deserialize_value``), so the 19-digit DataArts ids,
stored as strings, keep every digit (the REST API's JSON turns them into rounded numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from airflow_provider_dataarts.results.quality import QUALITY_RESULT_KEY

JOB_RESULT_KEY = "job_result"
INSTANCE_URL_KEY = "instance_url"
RETURN_VALUE_KEY = "return_value"
KEYS = (QUALITY_RESULT_KEY, JOB_RESULT_KEY, INSTANCE_URL_KEY, RETURN_VALUE_KEY)
HISTORY_RUNS = 30


@dataclass
class HistoryMark:
    """This task's quality verdict in one DAG run (``run_status`` None: no result in that run)."""

    run_id: str
    run_status: str | None
    alarming: int
    sub_rules: int
    verdict: str | None = None  # quality_result's verdict (passed, passed_with_warnings, failed)


@dataclass
class TaskView:
    """Everything the page of one task instance needs."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    state: str | None
    operator: str | None
    xcoms: dict[str, Any]
    history: list[HistoryMark] = field(default_factory=list)

    def html(self) -> str:
        from airflow_provider_dataarts.plugins.render import render_task

        return render_task(self)


def _value(row: Any) -> Any:
    from airflow.models.xcom import XComModel

    return XComModel.deserialize_value(row)


def load_view(dag_id: str, run_id: str, task_id: str, map_index: int) -> TaskView | None:
    """The task instance's view, or None when there is no such task instance."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        ti = session.execute(
            select(TaskInstance.state, TaskInstance.operator).where(
                TaskInstance.dag_id == dag_id,
                TaskInstance.run_id == run_id,
                TaskInstance.task_id == task_id,
                TaskInstance.map_index == map_index,
            )
        ).first()
        if ti is None:
            return None
        rows = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == dag_id,
                XComModel.run_id == run_id,
                XComModel.task_id == task_id,
                XComModel.map_index == map_index,
                XComModel.key.in_(KEYS),
            )
        ).all()
        xcoms = {row.key: _value(row) for row in rows}
        view = TaskView(
            dag_id=dag_id,
            run_id=run_id,
            task_id=task_id,
            map_index=map_index,
            state=None if ti.state is None else str(getattr(ti.state, "value", ti.state)),
            operator=ti.operator,
            xcoms=xcoms,
        )
        if isinstance(xcoms.get(QUALITY_RESULT_KEY), dict):
            view.history = load_history(session, dag_id, task_id, map_index)
    return view


def load_history(session: Any, dag_id: str, task_id: str, map_index: int) -> list[HistoryMark]:
    """This task's quality verdicts over the DAG's last ``HISTORY_RUNS`` runs, oldest first."""
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    from airflow_provider_dataarts.statuses import is_alarming

    run_ids = list(
        session.scalars(
            select(DagRun.run_id)
            .where(DagRun.dag_id == dag_id)
            .order_by(DagRun.id.desc())
            .limit(HISTORY_RUNS)
        )
    )
    rows = session.scalars(
        select(XComModel).where(
            XComModel.dag_id == dag_id,
            XComModel.task_id == task_id,
            XComModel.map_index == map_index,
            XComModel.key == QUALITY_RESULT_KEY,
            XComModel.run_id.in_(run_ids),
        )
    ).all()
    results = {row.run_id: _value(row) for row in rows}
    marks = []
    for run_id in reversed(run_ids):
        result = results.get(run_id)
        if isinstance(result, dict):
            sub_rules = [s for s in result.get("sub_rules") or [] if isinstance(s, dict)]
            marks.append(
                HistoryMark(
                    run_id=run_id,
                    run_status=str(result.get("run_status")),
                    alarming=sum(is_alarming(s) for s in sub_rules),
                    sub_rules=len(sub_rules),
                    verdict=result.get("verdict"),
                )
            )
        else:
            marks.append(HistoryMark(run_id=run_id, run_status=None, alarming=0, sub_rules=0))
    return marks
