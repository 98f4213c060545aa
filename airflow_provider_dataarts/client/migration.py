"""
The DataArts Migration (CDM) calls as generator operations, and every choice this provider makes
where the documentation is silent.

Sources: ``shared/api/migration.md``; wire names from the official SDK ``huaweicloudsdkcdm``
3.1.219 (``v1/model``: ``StartJobSubmission``, ``Submission``, ``Counter``, ``ShowJobsResponse``,
``Job``, ``JobValidationResult``). docs/migration.md "Assumptions" lists the same choices for users;
change one here and there together.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_dataarts.client.core import ApiRequest, path, query, segment
from airflow_provider_dataarts.client.operations import Operation, _object, id_text, param_text
from airflow_provider_dataarts.exceptions import DataArtsAPIError, DataArtsConfigError

# --- Assumptions where the documentation is silent (one place) -------------------------------------
# 1. Starting a job that is already running (BOOTING/RUNNING) is refused with a 4xx (the code is not
#    documented). The operator then reads the job's status and, if a submission runs, fails saying
#    which one: it never adopts a run it did not start (a retry starts the job once that run ended).
# 2. The history (``/cdm/submissions?jname=``) lists the job's recent submissions in one answer (the
#    SDK's request has no page parameters); a submission not in it is "not listed (yet)", waited for
#    ``not_listed_grace`` like any instance. The answer's order is not trusted: newest = highest id.
#    An answer whose ``total`` exceeds what it shows may leave the newest on another page: the job's
#    status (its newest submission) is read too.
# 3. ``creation-date`` is when CDM took the start request (epoch ms, CDM's clock): a lost start
#    answer's submission is the one of that job created inside the PUT's window (``lifecycle.in_window``).
# 4. A stopped submission ends FAILED (the status list has no "stopped"), with CDM's error summary.
# 5. ``counters`` is ``{"org.apache.sqoop.submission.counter.SqoopCounters": {"ROWS_READ": ...}}``
#    (SDK ``Counters``/``Counter``); we flatten it to the SDK's snake_case names (``rows_read``...).
# 6. Error answers are ``{"code", "errCode": "Cdm.0100", "message", "externalMessage"}`` (CDM API
#    "Error Code" and the 400 bodies of its pages): ``errCode`` is the code (``client.core``).
SQOOP_COUNTERS = "org.apache.sqoop.submission.counter.SqoopCounters"
COUNTER_NAMES = {
    "BYTES_WRITTEN": "bytes_written",
    "TOTAL_FILES": "total_files",
    "ROWS_READ": "rows_read",
    "BYTES_READ": "bytes_read",
    "ROWS_WRITTEN": "rows_written",
    "FILES_WRITTEN": "files_written",
    "FILES_READ": "files_read",
    "TOTAL_SIZE": "total_size",
    "FILES_SKIPPED": "files_skipped",
    "ROWS_WRITTEN_SKIPPED": "rows_written_skipped",
}
JOB_NOT_FOUND = "Cdm.0100"  # "Job[%s] doesn't exist." (CDM API "Error Code")


def _cdm_path(project_id: str, cluster_id: str, *segments: str) -> str:
    return path("v1.1", project_id, "clusters", segment(cluster_id, "cluster_id"), "cdm", *segments)


def _job_path(project_id: str, cluster_id: str, job_name: str, *segments: str) -> str:
    return _cdm_path(project_id, cluster_id, "job", segment(job_name, "job_name"), *segments)


def variables_body(variables: Any) -> dict[str, str]:
    """``variables`` as the start body's ``variables`` (SDK ``CdmStartJobReq``): a flat dict of text."""
    if variables is None:
        return {}
    if not isinstance(variables, dict):
        raise DataArtsConfigError(
            f"variables must be a dict of variable names to values, not {type(variables).__name__}."
        )
    return {str(name): param_text(name, value, "variables") for name, value in variables.items()}


def normalize_submission(raw: dict[str, Any]) -> dict[str, Any]:
    """A submission as the API sends it (hyphenated names), with ``submission-id`` as text."""
    item = dict(raw)
    if item.get("submission-id") is not None:
        item["submission-id"] = id_text(item["submission-id"])
    return item


def counters_of(submission: dict[str, Any]) -> dict[str, Any]:
    """Assumption 5: the Sqoop counters, flattened to the SDK's snake_case names."""
    raw = submission.get("counters")
    if not isinstance(raw, dict):
        return {}
    group = raw.get(SQOOP_COUNTERS, raw)
    if not isinstance(group, dict):
        return {}
    return {COUNTER_NAMES.get(str(key), str(key).lower()): value for key, value in group.items()}


def _submissions(answer: Any, request: ApiRequest) -> list[dict[str, Any]]:
    raw = _object(answer, request, "submissions").get("submissions") or []
    if not isinstance(raw, list):
        raise DataArtsAPIError(
            "'submissions' is not a list", method=request.method, path=request.path, malformed=True
        )
    return [normalize_submission(item) for item in raw if isinstance(item, dict)]


def start_job(
    project_id: str, cluster_id: str, job_name: str, variables: Any = None
) -> Operation[dict[str, Any]]:
    """Start a job once; the new submission. Never resent once it may have arrived (a second run)."""
    request = ApiRequest(
        "PUT",
        "migration",
        _job_path(project_id, cluster_id, job_name, "start"),
        body={"variables": variables_body(variables)},
        replayable=False,
    )
    submissions = _submissions((yield request), request)
    if not submissions or submissions[0].get("submission-id") in (None, ""):
        raise DataArtsAPIError(
            f"the answer has no submissions[0].submission-id: {submissions!r:.200}",
            method=request.method,
            path=request.path,
            malformed=True,
        )
    return submissions[0]


def job_status(project_id: str, cluster_id: str, job_name: str) -> Operation[dict[str, Any] | None]:
    """The job's latest submission (``GET .../status``), None if it never ran."""
    request = ApiRequest("GET", "migration", _job_path(project_id, cluster_id, job_name, "status"))
    submissions = _submissions((yield request), request)
    return newest(submissions)


def history_request(project_id: str, cluster_id: str, job_name: str) -> ApiRequest:
    return ApiRequest(
        "GET",
        "migration",
        _cdm_path(project_id, cluster_id, "submissions"),
        query=query(jname=segment(job_name, "job_name")),
    )


def list_submissions(project_id: str, cluster_id: str, job_name: str) -> Operation[list[dict[str, Any]]]:
    """
    The job's submission history (assumption 2), newest (highest id) first. When the answer says it
    holds more than it showed (``total`` beyond its one page, whose order is not documented), the
    job's newest submission is read from its status too, so the run just started is never missing.
    """
    request = history_request(project_id, cluster_id, job_name)
    answer = yield request
    submissions = _submissions(answer, request)
    mine = [s for s in submissions if s.get("job-name") in (None, job_name)]
    total = answer.get("total") if isinstance(answer, dict) else None
    if isinstance(total, int) and not isinstance(total, bool) and total > len(submissions):
        latest = yield from job_status(project_id, cluster_id, job_name)
        shown = {str(s.get("submission-id")) for s in mine}
        if (
            latest is not None
            and latest.get("submission-id") not in (None, "")
            and (str(latest.get("submission-id")) not in shown)
        ):
            mine.append(latest)
    return sorted(mine, key=_id_order, reverse=True)


def stop_job(project_id: str, cluster_id: str, job_name: str) -> Operation[list[dict[str, Any]]]:
    """
    Stop the job's running submission; CDM's ``validation-result`` (harmless when none runs). An
    item of status ``ERROR`` (SDK ``JobValidationResult``: ERROR or WARNING, ``message`` the error)
    is a stop CDM did not do: raised, so that no caller records the submission stopped.
    """
    request = ApiRequest("PUT", "migration", _job_path(project_id, cluster_id, job_name, "stop"), body={})
    answer = yield request
    results = answer.get("validation-result") if isinstance(answer, dict) else None
    items = [item for item in results or [] if isinstance(item, dict)]
    errors = [item for item in items if str(item.get("status") or "").upper() == "ERROR"]
    if errors:
        raise DataArtsAPIError(
            "CDM did not stop the job: "
            + "; ".join(str(item.get("message") or "no message") for item in errors),
            status_code=200,
            error_code="ERROR",
            method=request.method,
            path=request.path,
        )
    return items


def show_job(project_id: str, cluster_id: str, job_name: str) -> Operation[dict[str, Any]]:
    """The job's definition (``GET .../cdm/job/{job_name}``: ``{"jobs": [Job]}``)."""
    request = ApiRequest("GET", "migration", _job_path(project_id, cluster_id, job_name))
    jobs = _object((yield request), request, "jobs").get("jobs") or []
    found = [job for job in jobs if isinstance(job, dict)]
    for job in found:
        if job.get("name") == job_name:
            return job
    if len(found) == 1:
        return found[0]
    raise DataArtsAPIError(
        f"the answer has no job {job_name!r}", method=request.method, path=request.path, malformed=True
    )


def _id_order(submission: dict[str, Any]) -> int:
    text = str(submission.get("submission-id") or "")
    return int(text) if text.isdigit() else -1


def pick(history: list[dict[str, Any]], submission_id: str | None) -> dict[str, Any] | None:
    """The submission ``submission_id`` in a job's history, or (no id) its newest; None if not listed."""
    if not submission_id:
        return newest(history)
    return next((s for s in history if str(s.get("submission-id")) == str(submission_id)), None)


def newest(submissions: list[dict[str, Any]]) -> dict[str, Any] | None:
    return max(submissions, key=_id_order, default=None)


# --- the job's definition: source and target ----------------------------------------------------------


def _inputs(config_values: Any) -> dict[str, Any]:
    """``{"fromJobConfig.tableName": "orders", ...}`` from a job's ``from-/to-config-values``."""
    found: dict[str, Any] = {}
    configs = config_values.get("configs") if isinstance(config_values, dict) else None
    for config in configs or []:
        for item in (config or {}).get("inputs") or []:
            if isinstance(item, dict) and item.get("name") and item.get("value") not in (None, ""):
                found[str(item["name"])] = item["value"]
    return found


def endpoints_of(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """
    The job's source and target as ``{"source": {...}, "target": {...}}``: connector, link (the CDM
    connection) and the object (``schema.table``, or an OBS bucket and path), None where unknown.
    """

    def side(prefix: str, key: str) -> dict[str, Any]:
        inputs = _inputs(job.get(f"{prefix}-config-values"))
        config = f"{key}JobConfig."

        def get(*names: str) -> str | None:
            for name in names:
                if inputs.get(config + name) not in (None, ""):
                    return str(inputs[config + name])
            return None

        schema = get("schemaName", "database")
        table = get("tableName", "table")
        bucket = get("bucketName")
        directory = get("inputDirectory", "outputDirectory", "path")
        if table:
            name = f"{schema}.{table}" if schema else table
        elif bucket or directory:
            name = "/".join(p.strip("/") for p in (bucket, directory) if p)
        else:
            name = None
        return {
            "connector": job.get(f"{prefix}-connector-name"),
            "link": job.get(f"{prefix}-link-name"),
            "name": name,
        }

    return {"source": side("from", "from"), "target": side("to", "to")}
