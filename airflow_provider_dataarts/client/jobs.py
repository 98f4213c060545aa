"""
The DataArts Factory job calls (API v1, ``dayu-dlf``) as generator operations, and every choice
this provider makes where the documentation and the SDKs are silent or disagree.

Sources: ``shared/api/factory-jobs.md``. docs/factory-jobs.md "Assumptions where the documentation
is silent" lists the same choices for users; change one here and there together.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from airflow_provider_dataarts.client.core import ApiRequest, path, query, segment
from airflow_provider_dataarts.client.operations import Operation, _object, id_text, name_segment, param_text
from airflow_provider_dataarts.exceptions import DataArtsAPIError, DataArtsConfigError

# --- Assumptions where the documentation is silent (one place) -------------------------------------
# 1. Run once with ``POST .../jobs/{job_name}/run-immediate`` (DOC-RUN), never ``/start``: /start
#    turns on the job's schedule and returns no instance id.
# 2. A job parameter's type field is spelled ``type`` (DOC-RUN and SDK-DGC ``JobParam``), not
#    ``paramType`` (DOC-START), with the value ``"variable"``.
PARAM_TYPE_FIELD, PARAM_TYPE = "type", "variable"
# 3. The list's ``offset`` is a page number (DOC-LIST "start page", SDK-DGC "页数"), 0 first. Since
#    nothing confirms it, the second page is checked: if it repeats most of the first, offset counts
#    rows, and the rest of the list is read that way (a few repeats are runs that arrived between the
#    two pages of a newest-first list).
LIST_PAGE_SIZE = 1000  # the most the list accepts (DOC-LIST, SDK-DGC)
MAX_LIST_PAGES = 1000
# 4. A plan-time window of the list may span at most 7 days (SDK-DGC); we always send both ends,
#    since the defaults (today 00:00 to now) would hide instances planned before midnight.
MAX_WINDOW_MS = 7 * 24 * 3600 * 1000
# 5. A run-immediate instance's plan time is the moment DataArts took the request: the list is
#    searched for it in a window around the POST, widened by this much for clock skew between the
#    worker and DataArts.
CLOCK_SKEW_MS = 5 * 60 * 1000
# 6. A rerun (``.../restart``) keeps the instance id (no id comes back; SDK-DGC sends no body):
#    we send ``{"retry_location": ...}`` (DOC-RERUN 2025-11-28) and wait on the same id, telling
#    the new attempt from the old by its start time.
RETRY_LOCATIONS = ("error_node", "first_node")
# 7. Error codes are matched by their numeric tail: ``DLF.0137`` and ``DLF.30137`` are one code.
JOB_NOT_FOUND, NOT_BATCH, INSTANCE_NOT_FOUND = "100", "136", "137"
# 8. Several instances of one job at one plan time (a manual rerun, a patch run): the sensor takes
#    the newest (highest instance id).
# 9. ``forceSuccess``/``ignoreSuccess`` true passes an instance that has ended, whatever its status;
#    on one still waiting or running it is no verdict (statuses.job_verdict).


def error_code_is(error: BaseException, code: str) -> bool:
    """Whether a DataArts error carries the DLF code ``code`` in either form (``DLF.0137``/``DLF.30137``)."""
    found = getattr(error, "error_code", None) or ""
    match = re.fullmatch(r"DLF\.(\d+)", str(found))
    if match is None:
        return False
    return match[1].lstrip("0").removeprefix("3").lstrip("0") == code.lstrip("0")


# --- requests ---------------------------------------------------------------------------------------


def _jobs_path(project_id: str, *segments: str) -> str:
    return path("v1", project_id, "jobs", *segments)


def job_params_body(job_params: Any) -> list[dict[str, str]]:
    """``job_params`` as the body's ``jobParams``; anything but a flat dict of scalars is refused."""
    if job_params is None:
        return []
    if not isinstance(job_params, dict):
        raise DataArtsConfigError(
            f"job_params must be a dict of parameter names to values, not {type(job_params).__name__}."
        )
    return [
        {"name": name, "value": param_text(name, value, "job_params"), PARAM_TYPE_FIELD: PARAM_TYPE}
        for name, value in job_params.items()
    ]


def run_job(project_id: str, job_name: str, job_params: Any = None) -> Operation[str]:
    """Run a batch job once now; the new instance id. Never resent once it may have arrived."""
    request = ApiRequest(
        "POST",
        "factory",
        _jobs_path(project_id, name_segment(job_name, "job_name"), "run-immediate"),
        body={"jobParams": job_params_body(job_params)},
        replayable=False,
    )
    answer = _object((yield request), request, "instanceId")
    for name in ("instanceId", "instance_id"):
        if answer.get(name) not in (None, ""):
            return id_text(answer[name])
    raise DataArtsAPIError(
        f"the answer has no 'instanceId': {str(answer)[:200]}",
        method=request.method,
        path=request.path,
        malformed=True,
    )


NODE_FIELDS = {
    "nodeName": "node_name",
    "type": "type",
    "status": "status",
    "startTime": "start_time",
    "endTime": "end_time",
    "retryTimes": "retry_times",
    "inputRowCount": "input_row_count",
    "logPath": "log_path",
}


def normalize_job_instance(raw: dict[str, Any]) -> dict[str, Any]:
    """A job instance as the API sends it (camelCase), with ``instanceId``/``jobId`` as strings."""
    item = dict(raw)
    for key in ("instanceId", "jobId"):
        if item.get(key) is not None:
            item[key] = id_text(item[key])
    if isinstance(item.get("nodes"), list):
        item["nodes"] = [
            {**node, "instanceId": id_text(node["instanceId"])}
            if isinstance(node, dict) and node.get("instanceId") is not None
            else node
            for node in item["nodes"]
        ]
    return item


def node_summary(node: dict[str, Any]) -> dict[str, Any]:
    """One node as XCom ``job_result`` shows it (snake_case, DESIGN's fields)."""
    return {ours: node.get(theirs) for theirs, ours in NODE_FIELDS.items()}


def instances_request(
    project_id: str,
    offset: int,
    *,
    job_name: str | None = None,
    min_plan_time: int | None = None,
    max_plan_time: int | None = None,
    limit: int = LIST_PAGE_SIZE,
    **filters: Any,
) -> ApiRequest:
    return ApiRequest(
        "GET",
        "factory",
        _jobs_path(project_id, "instances", "detail"),
        query=query(
            jobName=job_name,
            preciseQuery=True if job_name else None,
            minPlanTime=min_plan_time,
            maxPlanTime=max_plan_time,
            **filters,
            limit=limit,
            offset=offset,
        ),
    )


def read_instance_pages(
    make_request: Callable[[int], ApiRequest], read: Callable[[list[dict[str, Any]], int], bool]
) -> Operation[bool]:
    """
    Hand each page of the instance list to ``read(page, pages_left)`` until it returns True or the
    list ends; whether it was read to its end. Instances are normalised; none is handed twice.
    """
    seen: set[str] = set()
    offset, rows_mode = 0, False
    for page_number in range(MAX_LIST_PAGES):
        request = make_request(offset)
        answer = _object((yield request), request, "instances")
        raw = answer.get("instances") or []
        if not isinstance(raw, list):
            raise DataArtsAPIError(
                "'instances' is not a list", method=request.method, path=request.path, malformed=True
            )
        page = [normalize_job_instance(item) for item in raw if isinstance(item, dict)]
        ids = [str(item.get("instanceId")) for item in page]
        if page_number == 1 and sum(i in seen for i in ids) > len(ids) // 2:
            # Assumption 3: offset counts rows after all (page two is page one moved by a row). A few
            # repeats only say that runs arrived between the two pages (a newest-first list moved).
            rows_mode = True
        fresh = [item for item, i in zip(page, ids, strict=True) if i not in seen]
        seen.update(ids)
        total = answer.get("total")
        total = total if isinstance(total, int) and not isinstance(total, bool) else None
        done = len(raw) < LIST_PAGE_SIZE or not fresh or (total is not None and len(seen) >= total)
        pages_left = 0 if done else (-(-(total - len(seen)) // LIST_PAGE_SIZE) if total is not None else 1)
        if read(fresh, pages_left) or done:
            return done
        offset = len(seen) if rows_mode else offset + 1
    raise DataArtsAPIError(f"more than {MAX_LIST_PAGES} pages", method=request.method, path=request.path)


def list_job_instances(
    project_id: str, job_name: str | None = None, **filters: Any
) -> Operation[list[dict[str, Any]]]:
    items: list[dict[str, Any]] = []

    def keep(page: list[dict[str, Any]], pages_left: int) -> bool:
        items.extend(page)
        return False

    yield from read_instance_pages(
        lambda offset: instances_request(project_id, offset, job_name=job_name, **filters), keep
    )
    return items


def get_job_instance(project_id: str, job_name: str, instance_id: Any) -> Operation[dict[str, Any]]:
    request = ApiRequest(
        "GET",
        "factory",
        _jobs_path(
            project_id, name_segment(job_name, "job_name"), "instances", segment(instance_id, "instance_id")
        ),
    )
    answer = normalize_job_instance(_object((yield request), request, "the job instance"))
    answer["nodes"] = [n for n in answer.get("nodes") or [] if isinstance(n, dict)]
    return answer


def stop_job_instance(project_id: str, job_name: str, instance_id: Any) -> Operation[None]:
    """Stop a running instance (asynchronous: it ends ``manual-stop`` a moment later). Harmless twice."""
    yield ApiRequest(
        "POST",
        "factory",
        _jobs_path(
            project_id,
            name_segment(job_name, "job_name"),
            "instances",
            segment(instance_id, "instance_id"),
            "stop",
        ),
        expects_body=False,
    )


def restart_job_instance(
    project_id: str, job_name: str, instance_id: Any, retry_location: str = "error_node"
) -> Operation[None]:
    """Rerun a finished instance from its failed node (or its first); sent once, like a run."""
    if retry_location not in RETRY_LOCATIONS:
        raise DataArtsConfigError(
            f"retry_location must be one of {', '.join(RETRY_LOCATIONS)}, not {retry_location!r}."
        )
    yield ApiRequest(
        "POST",
        "factory",
        _jobs_path(
            project_id,
            name_segment(job_name, "job_name"),
            "instances",
            segment(instance_id, "instance_id"),
            "restart",
        ),
        body={"retry_location": retry_location},
        replayable=False,
        expects_body=False,
    )
