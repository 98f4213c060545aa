"""
What the DataArts tab shows, read from Airflow's metadata database: the task instance, the XComs
the provider's operators and sensors stored, and the verdicts of the same task in recent DAG runs.

XCom values are read as stored (``XComModel.deserialize_value``), so the 19-digit DataArts ids,
stored as strings, keep every digit (the REST API's JSON turns them into rounded numbers). Queries
go through ``XComModel.get_many``, which holds on Airflow 3.4 too (XComs there live in two tables,
``xcom_v1`` and ``xcom_v2``, which ``XComModel`` reads as one).

The history reads the small ``dataarts_summary`` each finished quality result leaves beside it,
never thirty whole results: a result made before summaries existed is read whole only when it is
small (``LEGACY_MAX_CHARS``); a bigger one shows as "no summary".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_dataarts.results.quality import QUALITY_RESULT_KEY
from airflow_provider_dataarts.results.summary import SUMMARY_KEY, quality_summary

JOB_RESULT_KEY = "job_result"
INSTANCE_URL_KEY = "instance_url"
RETURN_VALUE_KEY = "return_value"
PATCH_DATA_RESULT_KEY = "patch_data_result"
MIGRATION_RESULT_KEY = "migration_result"
KEYS = (
    QUALITY_RESULT_KEY,
    JOB_RESULT_KEY,
    INSTANCE_URL_KEY,
    RETURN_VALUE_KEY,
    PATCH_DATA_RESULT_KEY,
    MIGRATION_RESULT_KEY,
)
HISTORY_RUNS = 30
# A result made before summaries: read whole for the history only up to this size (characters).
LEGACY_MAX_CHARS = 256 * 1024
# The largest map index the task_instance column holds (a 32-bit INTEGER).
MAX_MAP_INDEX = 2**31 - 1


@dataclass
class HistoryMark:
    """
    This task's quality verdict in one DAG run (``run_status`` None: no result in that run, or none
    this page could read; ``note`` says which).
    """

    run_id: str
    run_status: str | None
    alarming: int
    sub_rules: int
    verdict: str | None = None
    note: str | None = None


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
    history_error: str | None = None

    def html(self) -> str:
        from airflow_provider_dataarts.plugins.render import render_task

        return render_task(self)


def _value(row: Any) -> Any:
    from airflow.models.xcom import XComModel

    return XComModel.deserialize_value(row)


def _xcoms(dag_id: str, run_id: str, task_id: str, map_index: int, keys: tuple[str, ...]) -> Any:
    """The select of this task instance's XComs under ``keys``, and the entity its columns belong to."""
    from airflow.models.xcom import XComModel

    statement = XComModel.get_many(run_id=run_id, dag_ids=dag_id, task_ids=task_id, map_indexes=map_index)
    entity = statement.column_descriptions[0]["entity"]  # 3.4: an alias of the two stores' union
    return statement.where(entity.key.in_(keys)), entity


def load_view(dag_id: str, run_id: str, task_id: str, map_index: int) -> TaskView | None:
    """The task instance's view, or None when there is no such task instance."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    if not -1 <= map_index <= MAX_MAP_INDEX:
        return None
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
        statement, _ = _xcoms(dag_id, run_id, task_id, map_index, KEYS)
        xcoms = {row.key: _value(row) for row in session.scalars(statement).all()}
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
            try:
                view.history = load_history(session, dag_id, task_id, map_index)
            except Exception as error:  # the page shows the run's own result all the same
                view.history_error = f"{type(error).__name__}: {error}"
    return view


def load_history(session: Any, dag_id: str, task_id: str, map_index: int) -> list[HistoryMark]:
    """This task's quality verdicts over the DAG's last ``HISTORY_RUNS`` runs, oldest first."""
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    run_ids = list(
        session.scalars(
            select(DagRun.run_id)
            .where(DagRun.dag_id == dag_id)
            .order_by(DagRun.id.desc())
            .limit(HISTORY_RUNS)
        )
    )
    marks = []
    for run_id in reversed(run_ids):
        try:
            marks.append(history_mark(session, dag_id, run_id, task_id, map_index))
        except Exception as error:  # one run's odd result: that mark says so, the others show
            note = f"unreadable result ({type(error).__name__})"
            marks.append(HistoryMark(run_id, None, 0, 0, note=note))
    return marks


def history_mark(session: Any, dag_id: str, run_id: str, task_id: str, map_index: int) -> HistoryMark:
    """
    One run's mark: from its summary; else from its result when that is small; else "no summary".
    The first query reads only which keys the run has: a result's size is asked (which makes the
    database read all of it) only for a run without a summary.
    """
    from sqlalchemy import Text, cast, func

    statement, entity = _xcoms(dag_id, run_id, task_id, map_index, (SUMMARY_KEY, QUALITY_RESULT_KEY))
    keys = set(session.scalars(statement.with_only_columns(entity.key).order_by(None)))
    if SUMMARY_KEY in keys:
        one, _ = _xcoms(dag_id, run_id, task_id, map_index, (SUMMARY_KEY,))
        row = session.scalars(one).first()
        summary = None if row is None else _value(row)
        if isinstance(summary, dict):
            return mark_of(run_id, summary)
    if QUALITY_RESULT_KEY not in keys:
        return HistoryMark(run_id, None, 0, 0)
    one, entity = _xcoms(dag_id, run_id, task_id, map_index, (QUALITY_RESULT_KEY,))
    size = session.scalar(one.with_only_columns(func.length(cast(entity.value, Text))).order_by(None)) or 0
    if size > LEGACY_MAX_CHARS:
        return HistoryMark(
            run_id, None, 0, 0, note=f"no summary (a result of {size / 1e6:.1f} MB stored before summaries)"
        )
    row = session.scalars(one).first()
    result = None if row is None else _value(row)
    if isinstance(result, dict):
        return mark_of(run_id, quality_summary(result))
    return HistoryMark(run_id, None, 0, 0, note="unreadable result (not an object)")


def _count(value: Any) -> int:
    """A count from a stored summary: a non-negative whole number, else 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return int(value) if math.isfinite(value) and 0 <= value < 2**53 else 0


def _word(value: Any) -> str | None:
    return None if value is None else str(value)[:64]


def mark_of(run_id: str, summary: dict[str, Any]) -> HistoryMark:
    """A mark from a summary (``results.summary.quality_summary``), tolerant of any stored shape."""
    return HistoryMark(
        run_id=run_id,
        run_status=_word(summary.get("run_status")) or "UNKNOWN",
        alarming=_count(summary.get("alarming")),
        sub_rules=_count(summary.get("sub_rules")),
        verdict=_word(summary.get("verdict")),
    )
