"""
The emulator's console: HTML pages for a quality instance (with its sub-rule results) and a
script instance, so that the task's extra link leads somewhere in local development.

``/console/`` lists recent instances; ``/console/quality/instances/{id}`` and
``/console/scripts/{name}/instances/{id}`` show one. No authentication: the emulator is local.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import quote, unquote

from airflow_provider_dataarts.emulator.state import EmulatorError, EmulatorState, QualityInstance

QUALITY_PATH = "/console/quality/instances/{instance_id}"
SCRIPT_PATH = "/console/scripts/{script_name}/instances/{instance_id}"
JOB_PATH = "/console/jobs/{job_name}/instances/{instance_id}"
RECENT = 20
SHOWN_ROWS = 200
STATUS_COLOURS = {
    "SUCCESS": "#1f7a3a",
    "FINISHED": "#1f7a3a",
    "ALARMING": "#b35c00",
    "FAILED": "#b3261e",
    "RUNNING": "#1d5fa8",
    "LAUNCHING": "#1d5fa8",
    "success": "#1f7a3a",
    "fail": "#b3261e",
    "manual-stop": "#b3261e",
    "running": "#1d5fa8",
}
STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px 32px; color: #1b1f24; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 24px 0 8px; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 10px; color: #fff; font-weight: 600; }
table { border-collapse: collapse; margin-top: 6px; } th, td { border: 1px solid #d0d7de; padding: 4px 10px;
text-align: left; vertical-align: top; } th { background: #f3f5f7; } td.num { text-align: right; }
dl { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; margin: 8px 0; }
dt { color: #57606a; } dd { margin: 0; font-family: ui-monospace, monospace; } .muted { color: #57606a; }
tr.alarm td { background: #fff4e5; } header { border-bottom: 1px solid #d0d7de; padding-bottom: 8px; }
"""


def page(path: str, state: EmulatorState) -> tuple[int, str]:
    """The HTML page at ``path`` (under ``/console``) and its HTTP status."""
    parts = [unquote(part) for part in path.split("/") if part][1:]
    try:
        if not parts:
            return 200, _index(state)
        if len(parts) == 3 and parts[:2] == ["quality", "instances"]:
            return 200, _quality(state, parts[2])
        if len(parts) == 4 and parts[0] == "scripts" and parts[2] == "instances":
            return 200, _script(state, parts[1], parts[3])
        if len(parts) == 4 and parts[0] == "jobs" and parts[2] == "instances":
            return 200, _job(state, parts[1], parts[3])
    except EmulatorError as error:
        return 404, _html("Not found", f"<p>{escape(error.message)}</p>")
    return 404, _html("Not found", f"<p>No console page at {escape(path)}.</p>")


def _html(title: str, body: str, *, refresh: bool = False) -> str:
    meta = '<meta http-equiv="refresh" content="2">' if refresh else ""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">{meta}'
        f"<title>{escape(title)} - DataArts emulator</title><style>{STYLE}</style></head><body>"
        f'<header><span class="muted">DataArts Studio emulator</span> · <a href="/console/">recent '
        f"instances</a></header>{body}</body></html>"
    )


def _badge(status: str) -> str:
    colour = STATUS_COLOURS.get(status, "#57606a")
    return f'<span class="badge" style="background:{colour}">{escape(status)}</span>'


def _time(millis: Any) -> str:
    if not millis:
        return "-"
    return datetime.fromtimestamp(int(millis) / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _fields(pairs: list[tuple[str, Any]]) -> str:
    return "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in pairs) + "</dl>"


def _quality_link(instance: QualityInstance) -> str:
    return QUALITY_PATH.format(instance_id=instance.id)


def _quality(state: EmulatorState, instance_id: str) -> str:
    instance = (
        state.instances.get(int(instance_id))
        if instance_id.isascii() and instance_id.isdigit() and len(instance_id) <= 20
        else None
    )
    if instance is None:
        raise EmulatorError(404, "DQC.1002", f"The quality instance {instance_id} does not exist.")
    overview = instance.overview(time.time())
    status = overview["run_status"]
    kind = "comparison job" if instance.job.kind == "comparison" else "quality job"
    head = (
        f"<h1>Quality instance {instance.id} {_badge(status)}</h1>"
        f'<p class="muted">{escape(kind)} <b>{escape(instance.job.name)}</b></p>'
        + _fields(
            [
                ("instance id", instance.id),
                ("job id", instance.job.id),
                ("task type", overview["task_type"]),
                ("started", _time(overview["start_time"])),
                ("ended", _time(overview["end_time"])),
                ("notify status", overview["notify_status"]),
                ("stopped by a user", "yes" if instance.stopped else "no"),
            ]
        )
    )
    if status == "RUNNING":
        body = (
            "<h2>Sub-rules</h2><p>Running: the sub-rule results appear when it ends (this page reloads).</p>"
        )
        return _html(f"Quality instance {instance.id}", head + body, refresh=True)
    rows = []
    for number, sub_rule in enumerate(instance.results, 1):
        results = sub_rule["results"]
        alarm = any(str(r.get("Status")).lower() == "false" for r in results)
        verdict = "alarm" if alarm else ("no result" if not results else "passed")
        shown = "<br>".join(escape(", ".join(f"{k}: {v}" for k, v in r.items())) for r in results) or "-"
        rows.append(
            f'<tr class="{"alarm" if alarm else ""}"><td class="num">{number}</td>'
            f"<td>{escape(sub_rule['sub_rule_id'])}</td><td>{escape(sub_rule['sub_instance_instance_id'])}</td>"
            f"<td>{verdict}</td><td>{escape(sub_rule['abnormal_table_status'])}</td><td>{shown}</td></tr>"
        )
    alarming = sum('class="alarm"' in row for row in rows)
    body = (
        f"<h2>Sub-rules: {len(rows)}, {alarming} alarming</h2>"
        "<table><tr><th>#</th><th>sub-rule</th><th>sub-rule instance</th><th>verdict</th>"
        "<th>abnormal table</th><th>result rows</th></tr>" + "".join(rows) + "</table>"
    )
    return _html(f"Quality instance {instance.id}", head + body)


def _script(state: EmulatorState, script_name: str, instance_id: str) -> str:
    instance = state.script_instance(script_name, instance_id)
    answer = state.script_answer(script_name, instance_id)
    status = answer["status"]
    results = answer.get("results", answer.get("result")) or []
    head = f"<h1>Script instance {_badge(status)}</h1>" + _fields(
        [
            ("script", script_name),
            ("instance id", instance.id),
            ("started", _time(instance.start * 1000)),
            ("params", ", ".join(f"{k}={v}" for k, v in instance.params.items()) or "-"),
            ("stopped by a user", "yes" if instance.stopped else "no"),
        ]
    )
    running = status in ("LAUNCHING", "RUNNING")
    sections = ["<p>Running: the result sets appear when it ends (this page reloads).</p>"] if running else []
    for number, result in enumerate(results, 1):
        columns = [next(iter(column)) for column in result.get("schema") or [] if column]
        rows = result.get("rows") or []
        table = (
            "<table><tr>"
            + "".join(f"<th>{escape(str(c))}</th>" for c in columns)
            + "</tr>"
            + "".join(
                "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>"
                for row in rows[:SHOWN_ROWS]
            )
            + "</table>"
            if columns
            else ""
        )
        more = (
            f'<p class="muted">first {SHOWN_ROWS} of {len(rows)} rows</p>' if len(rows) > SHOWN_ROWS else ""
        )
        message = f"<p>{escape(result['message'])}</p>" if result.get("message") else ""
        sections.append(
            f"<h2>Result set {number}: {result.get('rowCount', len(rows))} rows, "
            f"{result.get('duration')} s</h2>{message}{table}{more}"
        )
    return _html(f"Script {script_name}", head + "".join(sections), refresh=running)


def _index(state: EmulatorState) -> str:
    now = time.time()
    with state.lock:
        recent = list(reversed(state.order[-RECENT:]))
        scripts = list(state.script_instances.values())[-RECENT:]
    quality = "".join(
        f'<tr><td><a href="{_quality_link(i)}">{i.id}</a></td><td>{escape(i.job.name)}</td>'
        f"<td>{_badge(i.run_status(now))}</td><td>{_time(i.start * 1000)}</td></tr>"
        for i in recent
    )
    script_rows = "".join(
        f'<tr><td><a href="{SCRIPT_PATH.format(script_name=quote(s.script.name), instance_id=s.id)}">'
        f"{s.id}</a></td><td>{escape(s.script.name)}</td><td>{_badge(s.status(now))}</td>"
        f"<td>{_time(s.start * 1000)}</td></tr>"
        for s in reversed(scripts)
    )
    head = "<tr><th>instance</th><th>{}</th><th>status</th><th>started</th></tr>"
    body = (
        "<h1>Recent instances</h1><h2>Quality instances</h2>"
        f"<table>{head.format('job')}{quality}</table>"
        f"<h2>Script instances</h2><table>{head.format('script')}{script_rows}</table>"
        if script_rows
        else "<h1>Recent instances</h1><h2>Quality instances</h2>"
        f"<table>{head.format('job')}{quality}</table><h2>Script instances</h2><p>none yet</p>"
    )
    return _html("Recent instances", body)


def _job(state: EmulatorState, job_name: str, instance_id: str) -> str:
    """A Factory job instance: its status, plan time, parameters and every node."""
    instance = state.factory.instance(job_name, instance_id)
    detail = instance.detail(time.time())
    status = detail["status"]
    head = f"<h1>Job instance {instance.id} {_badge(status)}</h1>" + _fields(
        [
            ("job", job_name),
            ("instance id", instance.id),
            ("plan time", _time(detail["planTime"])),
            ("started", _time(detail["startTime"])),
            ("ended", _time(detail["endTime"])),
            ("parameters", ", ".join(f"{k}={v}" for k, v in instance.params.items()) or "-"),
            ("attempts", instance.attempts),
        ]
    )
    rows = "".join(
        f"<tr><td>{escape(n['nodeName'])}</td><td>{escape(n['type'])}</td><td>{_badge(n['status'])}</td>"
        f"<td>{_time(n['startTime'])}</td><td>{_time(n['endTime'])}</td>"
        f'<td class="num">{n["retryTimes"]}</td>'
        f'<td class="num">{n["inputRowCount"]}</td><td>{escape(n["logPath"])}</td></tr>'
        for n in detail["nodes"]
    )
    body = (
        f"<h2>Nodes: {len(detail['nodes'])}</h2><table><tr><th>node</th><th>type</th><th>status</th>"
        "<th>started</th><th>ended</th><th>retries</th><th>input rows</th><th>log</th></tr>"
        + rows
        + "</table>"
    )
    return _html(f"Job {job_name}", head + body, refresh=status in ("waiting", "running"))
