"""
The DataArts calls as generator operations: each yields ``ApiRequest``s and returns a result.

A transport (sync or async) drives them, so pagination, lookups and answer checking are written
once for the hook and the triggers. Answers are normalised here: ids become strings (the service
sends 19-digit JSON numbers that a float would corrupt), field-name variants are unified.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Generator
from functools import partial
from typing import Any, TypeVar

from airflow_provider_dataarts.client.core import ApiRequest, path, query, segment
from airflow_provider_dataarts.exceptions import DataArtsAPIError, DataArtsConfigError
from airflow_provider_dataarts.statuses import rule_type_code

T = TypeVar("T")
Operation = Generator[ApiRequest, Any, T]

PAGE_SIZE = 100
MAX_PAGES = 10_000
INSTANCE_ID_FIELDS = ("id", "task_id")
SUB_RULE_ID_FIELDS = ("sub_rule_id", "sub_instance_instance_id")


def _quality_path(project_id: str, *segments: str) -> str:
    return path("v2", project_id, "quality", *segments)


def _scripts_path(project_id: str, script_name: str, *segments: str) -> str:
    return path("v1", project_id, "scripts", name_segment(script_name, "script_name"), *segments)


def name_segment(value: Any, name: str) -> str:
    """
    A script or Factory job name as a path segment: no ``/`` or ``\\`` (DataArts names have none;
    sent percent-encoded, such a name would only be refused by the service).
    """
    text = segment(value, name)
    if "/" in text or "\\" in text:
        raise DataArtsConfigError(
            f"{name} {text!r:.120} must not contain '/' or '\\': no DataArts name does."
        )
    return text


def rule_id_text(value: Any) -> str:
    """A quality or comparison job's id: digits, given as text or an int (never a float, a bool, a list)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise DataArtsConfigError(
            f"rule_id must be the job's id, digits as text or an int, "
            f"not a {type(value).__name__}: {value!r:.80}."
        )
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 20:
        raise DataArtsConfigError(f"rule_id must be the job's id, digits only, not {value!r:.80}.")
    return text


def _object(answer: Any, request: ApiRequest, what: str) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise DataArtsAPIError(
            f"expected a JSON object with {what}, got {type(answer).__name__}",
            method=request.method,
            path=request.path,
            malformed=True,
        )
    return answer


def _field(answer: Any, request: ApiRequest, *names: str) -> Any:
    data = _object(answer, request, names[0])
    for name in names:
        if data.get(name) not in (None, ""):
            return data[name]
    raise DataArtsAPIError(
        f"the answer has no {names[0]!r}: {str(data)[:200]}",
        method=request.method,
        path=request.path,
        malformed=True,
    )


def id_text(value: Any) -> str:
    """An id as text, exactly: never through a float."""
    if isinstance(value, float):
        raise ValueError(f"id {value!r} arrived as a float and has lost digits")
    return str(value)


def _with_string_ids(item: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {key: (id_text(val) if key in fields and val is not None else val) for key, val in item.items()}


def normalize_instance(raw: dict[str, Any]) -> dict[str, Any]:
    """An instance overview with string ids and ``notify_status`` (older docs spell it ``notity_status``)."""
    item = _with_string_ids(raw, INSTANCE_ID_FIELDS)
    if "notify_status" not in item and "notity_status" in item:
        item["notify_status"] = item.pop("notity_status")
    return item


def normalize_sub_rule(raw: Any, request: ApiRequest | None = None) -> dict[str, Any]:
    """A sub-rule with string ids and ``results`` a list of rows (objects); anything else is an error."""

    def bad(what: str) -> DataArtsAPIError:
        return DataArtsAPIError(
            f"{what}: {str(raw)[:200]}",
            method=request.method if request else None,
            path=request.path if request else None,
        )

    if not isinstance(raw, dict):
        raise bad(f"a sub-rule result is a {type(raw).__name__}, not an object")
    item = _with_string_ids(raw, SUB_RULE_ID_FIELDS)
    rows = item.get("results")
    if rows is None:
        rows = []
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise bad(f"sub-rule {item.get('sub_rule_id')}: 'results' is not a list of rows")
    item["results"] = rows
    return item


def page_items(answer: Any, request: ApiRequest) -> tuple[list[dict[str, Any]], int | None]:
    """The items of one ``{count, resources}`` page, and the total count when the service gives it."""
    page = _object(answer, request, "resources").get("resources") or []
    if not isinstance(page, list):
        raise DataArtsAPIError(
            "'resources' is not a list", method=request.method, path=request.path, malformed=True
        )
    count = answer.get("count")
    return page, (count if isinstance(count, int) and not isinstance(count, bool) else None)


def paginate(
    make_request: Callable[[int], ApiRequest],
    stop: Callable[[list[dict[str, Any]]], bool] = lambda page: False,
) -> Operation[list[dict[str, Any]]]:
    """Every page of a ``{count, resources}`` list, ``PAGE_SIZE`` at a time, until ``stop(page)``."""
    items: list[dict[str, Any]] = []

    def keep(page: list[dict[str, Any]], pages_left: int) -> bool:
        items.extend(page)
        return stop(page)

    yield from read_pages(make_request, keep)
    return items


def read_pages(
    make_request: Callable[[int], ApiRequest], read: Callable[[list[dict[str, Any]], int], bool]
) -> Operation[bool]:
    """
    Hand each page of a list to ``read(page, pages_left)`` until it returns True or the list ends;
    whether the list was read to its end. ``pages_left`` comes from the list's ``count``.
    """
    offset = 0
    for _ in range(MAX_PAGES):
        request = make_request(offset)
        page, count = page_items((yield request), request)
        offset += len(page)
        done = len(page) < PAGE_SIZE or (count is not None and offset >= count)
        pages_left = 0 if done else -(-(count - offset) // PAGE_SIZE) if count is not None else 1
        if read(page, pages_left) or done:
            return done
    raise DataArtsAPIError(f"more than {MAX_PAGES} pages", method=request.method, path=request.path)


# --- DataArts Quality -------------------------------------------------------------------------------


def rerun_quality_job(project_id: str, rule_id: Any, rule_type: Any) -> Operation[str]:
    request = ApiRequest(
        "POST",
        "quality",
        _quality_path(project_id, "instances", "restart"),
        body={"rule_type": rule_type_code(rule_type), "rule_id": rule_id_text(rule_id)},
        replayable=False,
    )
    return id_text(_field((yield request), request, "instance_id"))


def stop_quality_instances(project_id: str, instance_ids: list[Any]) -> Operation[None]:
    """
    Stop running quality instances: ``POST .../quality/instances/batch-stop`` with a JSON array
    of the ids as numbers (the reference says "array of longs"; ours are exact 19-digit integers).
    Stopping twice is harmless, so it is retried like a read (within the caller's deadline).
    """
    ids = [int(segment(value, "instance_id")) for value in instance_ids]
    yield ApiRequest("POST", "quality", _quality_path(project_id, "instances", "batch-stop"), body=ids)
    return None


def instances_request(project_id: str, offset: int, **filters: Any) -> ApiRequest:
    return ApiRequest(
        "GET",
        "quality",
        _quality_path(project_id, "instances"),
        query=query(**filters, limit=PAGE_SIZE, offset=offset),
    )


def list_quality_instances(project_id: str, **filters: Any) -> Operation[list[dict[str, Any]]]:
    items = yield from paginate(lambda offset: instances_request(project_id, offset, **filters))
    return [normalize_instance(item) for item in items]


def find_quality_instance(
    project_id: str,
    instance_id: Any,
    *,
    name: str | None = None,
    task_type: str | None = None,
    started_after: int | None = None,
    exhaustive: bool = True,
) -> Operation[dict[str, Any] | None]:
    """
    The instance overview with ``instance_id``, through the list call (there is no get-by-id call).

    The hints narrow the list so that a recent instance is on the first page: one request. If the
    hints were wrong, the whole list is searched once more without them, unless not ``exhaustive``
    (a poll that will look again at the next interval).
    """
    target = segment(instance_id, "instance_id")

    def match(page: list[dict[str, Any]]) -> bool:
        return any(str(item.get("id")) == target for item in page)

    hinted: dict[str, Any] = {"name": name, "task_type": task_type, "start_time": started_after}
    searches: list[dict[str, Any]] = [hinted, {}] if any(v is not None for v in hinted.values()) else [{}]
    if not exhaustive:
        searches = searches[:1]
    for filters in searches:
        items = yield from paginate(partial(instances_request, project_id, **filters), match)
        for item in items:
            if str(item.get("id")) == target:
                return normalize_instance(item)
    return None


def quality_instance_results(project_id: str, instance_id: Any) -> Operation[list[dict[str, Any]]]:
    target = segment(instance_id, "instance_id")

    def page(offset: int) -> ApiRequest:
        return ApiRequest(
            "GET",
            "quality",
            _quality_path(project_id, "instances", target, "result"),
            query=query(limit=PAGE_SIZE, offset=offset),
        )

    items = yield from paginate(page)
    return [normalize_sub_rule(item, page(0)) for item in items]


def list_jobs(project_id: str, kind: str, **filters: Any) -> Operation[list[dict[str, Any]]]:
    """Quality jobs (``quality-tasks``) or comparison jobs (``consistency-tasks``)."""
    collection = "quality-tasks" if rule_type_code(kind) == 1 else "consistency-tasks"
    items = yield from paginate(
        lambda offset: ApiRequest(
            "GET",
            "quality",
            _quality_path(project_id, collection),
            query=query(**filters, limit=PAGE_SIZE, offset=offset),
        )
    )
    return [_with_string_ids(item, ("id", "category_id")) for item in items]


def resolve_job_id(project_id: str, job_name: str, rule_type: Any) -> Operation[str]:
    """The id of the job named exactly ``job_name`` (the list's ``name`` filter is not exact)."""
    jobs = yield from list_jobs(project_id, rule_type, name=job_name)
    exact = [job for job in jobs if job.get("name") == job_name]
    kind = "quality" if rule_type_code(rule_type) == 1 else "comparison"
    if len(exact) != 1:
        found = ", ".join(sorted({str(job.get("name")) for job in jobs})[:10]) or "none"
        problem = "no" if not exact else f"{len(exact)}"
        raise DataArtsConfigError(
            f"job_name {job_name!r}: {problem} {kind} job has exactly that name (similar names: {found})."
        )
    return id_text(exact[0]["id"])


# --- DataArts Factory scripts ------------------------------------------------------------------------


def param_text(name: Any, value: Any, field: str = "script_params") -> str:
    """
    One parameter (of a script or a Factory job: ``field`` names which) as the text DataArts
    substitutes for ``${name}``.

    Strings go as they are; numbers and booleans as JSON text (``3``, ``2.5``, ``true``). ``None``,
    lists, dicts and other objects are refused, naming the key: there is no one right text for them
    (an empty string? ``NULL``? JSON?), so the DAG says which it means.
    """
    if not isinstance(name, str) or not name:
        raise DataArtsConfigError(f"{field}: every key must be a non-empty string, not {name!r}.")
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise DataArtsConfigError(f"{field}[{name!r}] must be a finite number, not {value!r}.")
        return json.dumps(value)
    what = "None" if value is None else f"a {type(value).__name__}"
    raise DataArtsConfigError(
        f"{field}[{name!r}] is {what}: values must be strings, numbers or booleans. "
        "Pass the text it should see, e.g. '' for nothing or json.dumps(value) for JSON."
    )


def execute_script(project_id: str, script_name: str, params: dict[str, Any] | None) -> Operation[str]:
    body_params = {name: param_text(name, value) for name, value in (params or {}).items()}
    request = ApiRequest(
        "POST",
        "factory",
        _scripts_path(project_id, script_name, "execute"),
        body={"params": body_params},
        replayable=False,
    )
    return id_text(_field((yield request), request, "instanceId", "instance_id"))


def get_script_instance(project_id: str, script_name: str, instance_id: Any) -> Operation[dict[str, Any]]:
    request = ApiRequest(
        "GET",
        "factory",
        _scripts_path(project_id, script_name, "instances", segment(instance_id, "instance_id")),
    )
    answer = _object((yield request), request, "status")
    results = answer.get("results", answer.get("result")) or []
    return {**{k: v for k, v in answer.items() if k != "result"}, "results": list(results)}


def stop_script_instance(project_id: str, script_name: str, instance_id: Any) -> Operation[None]:
    yield ApiRequest(
        "POST",
        "factory",
        _scripts_path(project_id, script_name, "instances", segment(instance_id, "instance_id"), "stop"),
        expects_body=False,
    )


# --- DataArts Quality job details (OpenLineage, asset watchers) -------------------------------------

JOB_ID_FIELDS = ("id", "category_id")
JOB_SUB_RULE_ID_FIELDS = ("id", "template_id")


def get_quality_job(project_id: str, job_id: Any, rule_type: Any = "quality") -> Operation[dict[str, Any]]:
    """
    One quality job (``quality-tasks/{id}``) or comparison job (``consistency-tasks/{id}``), detailed.

    ``sub_rules`` of a quality job is a list of sub-rules; of a comparison job, a list of lists (each
    the rule on the table and on the table it is compared with). Ids become strings at every depth.
    """
    collection = "quality-tasks" if rule_type_code(rule_type) == 1 else "consistency-tasks"
    request = ApiRequest("GET", "quality", _quality_path(project_id, collection, segment(job_id, "job_id")))
    answer = _object((yield request), request, "sub_rules")
    detail = _with_string_ids(answer, JOB_ID_FIELDS)

    def sub_rule(item: Any) -> Any:
        if isinstance(item, list):
            return [sub_rule(inner) for inner in item]
        return _with_string_ids(item, JOB_SUB_RULE_ID_FIELDS) if isinstance(item, dict) else item

    detail["sub_rules"] = [sub_rule(item) for item in detail.get("sub_rules") or []]
    return detail
