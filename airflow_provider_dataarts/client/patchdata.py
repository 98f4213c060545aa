"""
DataArts Factory PatchData ("supplement data", API v2 on the DataArts host) as generator operations,
and every choice this provider makes where the documentation and the SDK are silent.

Calls (SDK ``huaweicloudsdkdataartsstudio`` 3.1.219: ``create_factory_supplement_data_instance``,
``show_factory_supplement_data``, ``stop_factory_supplement_data_instance``; the API pages
dataartsstudio_02_0199 (create) and 02_0192 (list); KESTRA's live report, ``shared/api/factory-jobs.md``
section 12). Bodies and answers are snake_case; statuses upper case; the ``workspace`` header is sent
(mandatory on v2) and ``Content-Type: application/json``.

docs/patchdata.md "Assumptions where the documentation is silent" lists the same choices for users;
change one here and there together.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from typing import Any

from airflow_provider_dataarts.client.core import ApiRequest, path, query, segment
from airflow_provider_dataarts.client.operations import Operation, _object
from airflow_provider_dataarts.exceptions import DataArtsAPIError, DataArtsConfigError

# --- Assumptions where the documentation is silent (one place) -------------------------------------
# 1. Dates go out as ``YYYY-MM-DDTHH:MM:SS +HH`` (the create page's examples "2023-08-21T00:00:00 +08";
#    KESTRA's live runs sent "+00"). The offset has whole hours only, so we always send UTC, "+00".
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S +00"
# 2. The create page's one-day example ends at 23:59:59: DataArts' ``end_date`` is inclusive. Airflow's
#    data interval ends *before* ``data_interval_end``: the provider sends ``to_date`` minus this much,
#    so that the slot at the interval's end belongs to the next DAG run only.
END_EXCLUSIVE = datetime.timedelta(seconds=1)
# 3. DataArts refuses a range shorter than 2 s (``DLF.30121``, KESTRA): refused here before any request.
MIN_RANGE = datetime.timedelta(seconds=2)
# 4. The list's ``name`` is a filter, not a key (KESTRA): every page is read (``page`` 0-based,
#    ``size`` 100, KESTRA's live values) and the name matched exactly here.
LIST_PAGE_SIZE = 100
MAX_LIST_PAGES = 100
# 5. Statuses (upper case): SUCCESS passes; CANCEL (the SDK and an older page spell it CANCLE) and
#    any status with FAIL in it fail; RUNNING and anything else is not finished.
PASSED = frozenset({"SUCCESS"})
CANCELLED = frozenset({"CANCEL", "CANCLE", "CANCELED", "CANCELLED"})
# 6. Error codes (KESTRA live; matched by their numeric tail like the v1 codes): a job without a
#    schedule, and dates DataArts cannot read (or less than 2 s apart).
NO_SCHEDULE, BAD_DATES = "111", "121"  # DLF.30111, DLF.30121
# 7. Names: nothing documents their form. The default name uses only ASCII letters, digits and "_"
#    and at most NAME_MAX characters (DataArts' job names allow 128; we stay well under).
NAME_MAX = 64
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
# 8. ``parallel`` is 1 to 5 (the create page).
PARALLEL_RANGE = (1, 5)
# 9. The instances a PatchData run made are found in the Factory instance list (v1) with
#    ``instanceType`` 5, for each of its jobs, planned between its dates and submitted no earlier
#    than the PatchData itself (less the clock skew): the list names no PatchData.
PATCH_INSTANCE_TYPE = 5


def _v2_path(project_id: str, *segments: str) -> str:
    return path("v2", project_id, "factory", "supplement-data", *segments)


def error_code_is(error: BaseException, code: str) -> bool:
    """Whether a DataArts error carries the DLF code ``code`` (``DLF.30111`` or ``DLF.0111`` alike)."""
    from airflow_provider_dataarts.client.jobs import error_code_is as job_code_is

    return job_code_is(error, code)


def patch_time(value: Any, name: str) -> datetime.datetime:
    """A ``from_date``/``to_date`` (datetime, ISO text or epoch seconds/ms) as an aware UTC datetime."""
    from airflow_provider_dataarts.hooks.dataarts import epoch_millis

    if value is None or value == "":
        raise DataArtsConfigError(
            f"{name} is empty: give a datetime, ISO text or epoch milliseconds (by default the DAG run's "
            "data interval, which a run without a schedule does not have)."
        )
    millis = epoch_millis(value, name)
    assert millis is not None
    return datetime.datetime.fromtimestamp(millis / 1000, datetime.UTC)


def wire_dates(from_date: Any, to_date: Any) -> tuple[str, str]:
    """The body's ``start_date``/``end_date`` (assumptions 1-3), refused naming the field when wrong."""
    start = patch_time(from_date, "from_date")
    end = patch_time(to_date, "to_date") - END_EXCLUSIVE
    if end - start < MIN_RANGE:
        raise DataArtsConfigError(
            f"from_date {start.isoformat()} and to_date {(end + END_EXCLUSIVE).isoformat()} span less than "
            "3 s: DataArts needs a range (to_date is exclusive, like Airflow's data interval end). A DAG "
            "run without a data interval (schedule=None, a manual run) needs from_date and to_date, and so "
            "does a cron or timedelta schedule (Airflow 3 runs those without one, start == end): or use "
            "schedule=CronDataIntervalTimetable(...) or DeltaDataIntervalTimetable(...)."
        )
    return start.strftime(DATE_FORMAT), end.strftime(DATE_FORMAT)


def check_name(name: Any) -> str:
    text = segment(name, "patch_data_name")
    if not NAME_PATTERN.match(text):
        raise DataArtsConfigError(
            f"patch_data_name {text!r} must be 1 to 128 ASCII letters, digits, '_', '.' or '-', starting "
            "with a letter, digit or '_'."
        )
    return text


def default_name(dag_id: str, task_id: str, run_id: str, map_index: int, lease: Any, try_number: int) -> str:
    """
    A name unique to one task instance, lease (a clear makes a new one) and try (a retry after an
    ``execution_timeout`` starts a new run under a new name), valid for DataArts (assumption 7):
    readable parts cut short, and a hash of all of them.
    """
    digest = hashlib.sha256(
        "\x00".join(map(str, (dag_id, task_id, run_id, map_index, lease))).encode()
    ).hexdigest()[:12]

    def part(text: str, size: int) -> str:
        return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")[:size] or "x"

    tail = f"_{digest}_t{try_number}"
    head = f"af_{part(dag_id, 20)}_{part(task_id, 20)}"
    return (head[: NAME_MAX - len(tail)] + tail).replace("__", "_")


def check_parallel(parallel: Any) -> int:
    """How many slots DataArts runs at once: a whole number in ``PARALLEL_RANGE``, else refused."""
    if (
        isinstance(parallel, bool)
        or not isinstance(parallel, int)
        or not (PARALLEL_RANGE[0] <= parallel <= PARALLEL_RANGE[1])
    ):
        raise DataArtsConfigError(f"parallel must be a whole number from 1 to 5, not {parallel!r}.")
    return parallel


def create_body(
    name: str,
    job_name: str,
    start_date: str,
    end_date: str,
    *,
    parallel: int = 1,
    depend_jobs: list[str] | None = None,
    stop_when_fail: bool = True,
    workspace: str | None = None,
) -> dict[str, Any]:
    """The create body (SDK ``CreateFactorySupplementDataInstanceRequestBody``, snake_case)."""
    check_parallel(parallel)
    body: dict[str, Any] = {
        "name": check_name(name),
        "job_name": segment(job_name, "job_name"),
        "start_date": start_date,
        "end_date": end_date,
        "parallel": parallel,
        "is_stop_when_fail": bool(stop_when_fail),
    }
    if depend_jobs:
        body["depend_jobs"] = [
            {"job_name": segment(job, "depend_jobs"), **({"workspace_id": workspace} if workspace else {})}
            for job in depend_jobs
        ]
    return body


def create_patch_data(project_id: str, body: dict[str, Any]) -> Operation[None]:
    """Create a PatchData run; its answer has no body. Sent once: a second one is another run."""
    yield ApiRequest(
        "POST",
        "factory_v2",
        _v2_path(project_id),
        body=body,
        replayable=False,
        expects_body=False,
    )


def normalize_row(row: dict[str, Any]) -> dict[str, Any]:
    """A PatchData row with its status upper case (``None`` kept)."""
    item = dict(row)
    if item.get("status") is not None:
        item["status"] = str(item["status"]).upper()
    return item


def find_patch_data(project_id: str, name: str) -> Operation[dict[str, Any] | None]:
    """The PatchData run named exactly ``name``, or None (not created, or not listed yet)."""
    for page in range(MAX_LIST_PAGES):
        request = ApiRequest(
            "GET",
            "factory_v2",
            _v2_path(project_id),
            query=query(name=name, page=page, size=LIST_PAGE_SIZE),
        )
        answer = _object((yield request), request, "rows")
        rows = answer.get("rows") or []
        if not isinstance(rows, list):
            raise DataArtsAPIError("'rows' is not a list", method="GET", path=request.path, malformed=True)
        for row in rows:
            if isinstance(row, dict) and row.get("name") == name:
                return normalize_row(row)
        total = answer.get("total")
        read = (page + 1) * LIST_PAGE_SIZE
        if len(rows) < LIST_PAGE_SIZE or (isinstance(total, int) and read >= total):
            return None
    return None


def stop_patch_data(project_id: str, name: str) -> Operation[None]:
    """Stop a PatchData run (its running instances, and the slots not started yet)."""
    yield ApiRequest(
        "POST",
        "factory_v2",
        _v2_path(project_id, segment(name, "patch_data_name"), "stop"),
        body={},
        expects_body=False,
    )


def is_terminal(status: Any) -> bool:
    text = str(status or "").upper()
    return text in PASSED or text in CANCELLED or "FAIL" in text


def passed(status: Any) -> bool:
    return str(status or "").upper() in PASSED
