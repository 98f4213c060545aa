"""A finished script instance: its rows in XCom (bounded), the log summary, the verdict."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_dataarts.statuses import Verdict, script_verdict

DEFAULT_MAX_ROWS = 1000
DEFAULT_MAX_XCOM_BYTES = 512 * 1024


def column_names(schema: Any) -> list[str]:
    """
    Column names from a schema like ``[{"TripID": "int"}, ...]``, made unique for ``records``.

    ``SELECT a.id, b.id`` gives two columns named ``id``: the second becomes ``id_2`` (then
    ``id_3``...), so no value is lost when rows become dicts.
    """
    names: list[str] = []
    for index, column in enumerate(schema or []):
        name = str(next(iter(column))) if isinstance(column, dict) and column else f"column_{index}"
        unique, number = name, 2
        while unique in names:
            unique, number = f"{name}_{number}", number + 1
        names.append(unique)
    return names


def json_size(value: Any) -> int:
    """Bytes of ``value`` as JSON, as the XCom table stores it."""
    return len(json.dumps(value, default=str).encode())


def script_result(
    script_name: str,
    instance_id: str,
    answer: dict[str, Any],
    *,
    max_rows: int,
    log: Any,
    include_rows: bool = False,
    max_xcom_bytes: int | None = DEFAULT_MAX_XCOM_BYTES,
) -> dict[str, Any]:
    """
    The script XCom: every result set with ``schema`` and ``records``, bounded in rows and bytes.

    ``records`` are the rows as dicts keyed by column name; ``rows`` (the API's lists, the same data
    again) only with ``include_rows``. At most ``max_rows`` rows in all, then the first rows that fit
    in ``max_xcom_bytes`` of JSON (``None``: no byte bound); a warning says what was cut. Compare a
    result set's ``len(records)`` with its ``rowCount`` (what DataArts counted) to tell a cut.
    """
    sets = [_ResultSet(result, include_rows) for result in answer.get("results", [])]
    result: dict[str, Any] = {
        "instance_id": instance_id,
        "script_name": script_name,
        "status": answer.get("status"),
        "results": [],
    }
    budget = (
        None
        if max_xcom_bytes is None
        else max_xcom_bytes - json_size({**result, "results": [item.empty for item in sets]})
    )
    rows_left = max_rows
    for item in sets:
        item.keep(rows_left, budget)
        # Once the bytes run out, later result sets keep nothing: XCom holds the first rows.
        rows_left = rows_left - item.kept if item.kept == min(len(item.rows), rows_left) else 0
        if budget is not None:
            budget -= item.kept_bytes
        result["results"].append(item.value())
    total = sum(len(item.rows) for item in sets)
    kept = sum(item.kept for item in sets)
    if kept < total:
        if kept == min(total, max_rows):
            bound = f"max_rows={max_rows}"
        else:
            needed = json_size({**result, "results": _uncut(sets, max_rows)})
            bound = f"max_xcom_bytes={max_xcom_bytes}; {min(total, max_rows)} rows would be {needed} bytes"
        cut = "; ".join(
            f"result set {number}: kept {item.kept} of {len(item.rows)} rows"
            for number, item in enumerate(sets, 1)
            if item.kept < len(item.rows)
        )
        log.warning(
            "DataArts script %s instance %s returned %d rows; kept the first %d in XCom (%s). Cut: %s. "
            "Raise the bound, or have the script write its result to a table or a file.",
            script_name,
            instance_id,
            total,
            kept,
            bound,
            cut,
        )
    return result


class _ResultSet:
    """One result set of a script answer, and how many of its rows go to XCom."""

    def __init__(self, result: dict[str, Any], include_rows: bool) -> None:
        self.rows = list(result.get("rows") or [])
        self.columns = column_names(result.get("schema"))
        self.include_rows = include_rows
        self.kept = 0
        self.kept_bytes = 0
        self.fields = {
            "schema": result.get("schema") or [],
            "records": [],
            "rowCount": result.get("rowCount", len(self.rows)),
            "duration": result.get("duration"),
            "message": result.get("message"),
        }
        if include_rows:
            self.fields["rows"] = []
        self.empty = dict(self.fields)

    def record(self, row: Any) -> dict[str, Any]:
        return dict(zip(self.columns, row, strict=False))

    def keep(self, max_rows: int, budget: int | None) -> None:
        """Keep the first rows, up to ``max_rows`` of them and ``budget`` more bytes of JSON."""
        for row in self.rows[: max(max_rows, 0)]:
            # Each row adds its JSON and a ", " separator to ``records`` (and to ``rows``).
            cost = json_size(self.record(row)) + 2 + (json_size(row) + 2 if self.include_rows else 0)
            if budget is not None and self.kept_bytes + cost > budget:
                break
            self.kept += 1
            self.kept_bytes += cost

    def value(self) -> dict[str, Any]:
        kept = self.rows[: self.kept]
        value = {**self.fields, "records": [self.record(row) for row in kept]}
        if self.include_rows:
            value["rows"] = kept
        return value


def _uncut(sets: list[_ResultSet], max_rows: int) -> list[dict[str, Any]]:
    """The result sets with every row that ``max_rows`` allows (for the warning's byte count)."""
    values, left = [], max_rows
    for item in sets:
        rows = item.rows[: max(left, 0)]
        left -= len(rows)
        value = {**item.fields, "records": [item.record(row) for row in rows]}
        if item.include_rows:
            value["rows"] = rows
        values.append(value)
    return values


def finish_script(
    script_name: str,
    instance_id: str,
    answer: dict[str, Any],
    *,
    max_rows: int,
    log: Any,
    retryable: bool = True,
    include_rows: bool = False,
    max_xcom_bytes: int | None = DEFAULT_MAX_XCOM_BYTES,
    delivered: Callable[[bool], None] = lambda passed: None,
) -> dict[str, Any]:
    """
    Pass with the script result, or fail with the service's message.

    A ``FAILED`` instance raises ``AirflowException`` when ``retryable`` (an operator's retry
    executes the script again), else ``AirflowFailException``: a sensor's retry would only find
    the same ``FAILED`` instance, and ``soft_fail`` skips on it in poke mode as it does deferred.
    """
    status = answer.get("status")
    failed = script_verdict(status) is Verdict.FAIL
    delivered(not failed)
    if failed:
        messages = "; ".join(str(r.get("message")) for r in answer.get("results", []) if r.get("message"))
        log.error(
            "DataArts script %s instance %s FAILED: %s", script_name, instance_id, messages or "no message"
        )
        reason = messages or "no message from DataArts"
        error = AirflowException if retryable else AirflowFailException
        raise error(f"DataArts script {script_name} instance {instance_id} FAILED: {reason}")
    result = script_result(
        script_name,
        instance_id,
        answer,
        max_rows=max_rows,
        log=log,
        include_rows=include_rows,
        max_xcom_bytes=max_xcom_bytes,
    )
    rows = sum(len(r["records"]) for r in result["results"])
    log.info(
        "DataArts script %s instance %s FINISHED: %d result set(s), %d row(s) kept in XCom (%d bytes)",
        script_name,
        instance_id,
        len(result["results"]),
        rows,
        json_size(result),
    )
    return result
