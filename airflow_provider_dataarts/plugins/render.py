"""
The DataArts tab's HTML: one page, server-rendered, no script (the UI's iframe runs none), inline
CSS and SVG. Each kind of result has one small renderer (quality, job, script); ``RENDERERS`` is
the list ``render_task`` tries in order, so a new kind of result is one more entry.

Everything that comes from DataArts or from the task goes through ``esc`` (HTML-escaped), and
links are only ever ``http(s)`` addresses or paths built here.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow_provider_dataarts.plugins import URL_PREFIX, base_path
from airflow_provider_dataarts.results.quality import JOB_KINDS, QUALITY_RESULT_KEY
from airflow_provider_dataarts.results.script import DEFAULT_MAX_ROWS, column_names
from airflow_provider_dataarts.statuses import is_alarming

if TYPE_CHECKING:
    from airflow_provider_dataarts.plugins.data import HistoryMark, TaskView

MAX_SCRIPT_ROWS = DEFAULT_MAX_ROWS  # the script XCom's own default bound
VERDICT_COLOURS = {"SUCCESS": "#1b7f3b", "ALARMING": "#b45309", "FAILED": "#b91c1c"}
NO_RESULT_COLOUR = "#9ca3af"
# An ALARMING run that passed because every alarming sub-rule was warn_only (quality gate policy).
WARNED_COLOUR = "#eab308"
UNFINISHED = {
    None,
    "none",
    "scheduled",
    "queued",
    "running",
    "deferred",
    "up_for_retry",
    "up_for_reschedule",
    "restarting",
}
# Keys of a sub-rule (or of its result rows) that name the checked table, when DataArts gives one.
TABLE_KEYS = ("table", "tables", "table_name", "tablename", "checked table")

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:16px;color:#111827;
background:#fff}
h2{font-size:15px;margin:20px 0 8px}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.banner{border-radius:6px;padding:12px 16px;color:#fff;display:flex;gap:16px;align-items:baseline;
flex-wrap:wrap}
.banner b{font-size:22px;letter-spacing:.04em}
.banner.SUCCESS{background:#1b7f3b}.banner.ALARMING{background:#b45309}.banner.FAILED{background:#b91c1c}
.banner.OTHER{background:#4b5563}.banner.WARNED{background:#facc15;color:#422006}
.banner .verdict{font-weight:600}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:12px 0}
dl.facts dt{color:#4b5563}dl.facts dd{margin:0}
table{border-collapse:collapse;margin:4px 0 12px;font-size:13px}
th,td{border:1px solid #d1d5db;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f4f6}
tbody.alarming td{background:#fff7ed}
tbody.alarming td.status{color:#b45309;font-weight:600}
tbody.alarming.fail td{background:#fef2f2}
tbody.alarming.fail td.status,td.sev.fail{color:#b91c1c;font-weight:600}
tbody.alarming.warn td{background:#fefce8}
tbody.alarming.warn td.status,td.sev.warn{color:#a16207;font-weight:600}
tbody.passed td.status{color:#1b7f3b}
tbody.noresult td.status{color:#6b7280}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#374151}
.toggle{margin-right:6px}
#only-alarming:checked ~ table tbody.passed,#only-alarming:checked ~ table tbody.noresult{display:none}
.bar{position:relative;height:14px;background:#f3f4f6;min-width:220px}
.bar span{position:absolute;top:0;bottom:0;border-radius:2px}
svg a:hover rect{opacity:.75}
"""


def esc(value: Any) -> str:
    """Text from DataArts or the task, as HTML text (``None`` as an empty string)."""
    return "" if value is None else html.escape(str(value), quote=True)


def render_page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width'><title>{esc(title)}</title>"
        f"<style>{CSS}</style></head><body>{body}</body></html>"
    )


def fmt_time(ms: Any) -> str:
    """An epoch-milliseconds time as UTC text; anything else as given."""
    if isinstance(ms, int | float) and not isinstance(ms, bool) and ms > 0:
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(ms, str) and ms.isdigit():
        return fmt_time(int(ms))
    return "" if ms in (None, "", 0) else str(ms)


def fmt_duration(start: Any, end: Any) -> str:
    try:
        seconds = (float(end) - float(start)) / 1000
    except (TypeError, ValueError):
        return ""
    if seconds < 0 or float(start) <= 0 or float(end) <= 0:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {rest} s"


def safe_url(url: Any) -> str | None:
    """A link target only when it is an http(s) address (never ``javascript:`` and the like)."""
    text = str(url or "").strip()
    return text if text.lower().startswith(("https://", "http://")) else None


def page_url(dag_id: str, run_id: str, task_id: str, map_index: int) -> str:
    """This app's own page for a task instance (what the tab's iframe shows)."""
    return (
        f"{base_path()}{URL_PREFIX}/ti/{quote(dag_id, safe='')}/{quote(task_id, safe='')}"
        f"/{map_index}/{quote(run_id, safe='')}"
    )


def table(headers: Iterable[str], rows: Iterable[Iterable[str]], css: str = "") -> str:
    """A table of already-escaped cells."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table class='{css}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def facts(items: Iterable[tuple[str, str]]) -> str:
    """A definition list of (label, already-escaped value), leaving out empty values."""
    return "<dl class='facts'>" + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in items if v) + "</dl>"


def state_note(view: TaskView) -> str:
    if view.state in UNFINISHED:
        return (
            f"<p class='note'>This task has not finished (state: {esc(view.state or 'none')}): "
            "the result below may change.</p>"
        )
    return ""


# --- quality ------------------------------------------------------------------------------------------


def checked_table(sub_rule: dict[str, Any]) -> str | None:
    """The table a sub-rule checked, when the stored result names it (DataArts' result API often does not)."""
    for source in [sub_rule, *[r for r in sub_rule.get("results") or [] if isinstance(r, dict)]]:
        for key, value in source.items():
            if str(key).strip().lower() in TABLE_KEYS and value not in (None, ""):
                return str(value)
    return None


def sub_rule_state(sub_rule: dict[str, Any]) -> str:
    if is_alarming(sub_rule):
        return "alarming"
    return "passed" if sub_rule.get("results") else "noresult"


STATE_WORDS = {"alarming": "alarming", "passed": "passed", "noresult": "no result"}
# quality_result's per sub-rule ``severity`` (quality gate policy) and its verdict, in words.
SEVERITY_WORDS = {"fail": "fails the task", "warn": "warning only"}
VERDICT_WORDS = {
    "passed": "passed",
    "passed_with_warnings": "passed with warnings",
    "failed": "failed the task",
}


def render_sub_rules(sub_rules: list[dict[str, Any]]) -> str:
    """Every sub-rule, alarming first (then in DataArts' order), with every result column."""
    order = {"alarming": 0, "passed": 1, "noresult": 2}
    ranked = sorted(sub_rules, key=lambda s: order[sub_rule_state(s)])  # stable: DataArts' order within
    columns: list[str] = []
    for sub_rule in ranked:
        for row in sub_rule.get("results") or []:
            if isinstance(row, dict):
                columns += [str(k) for k in row if str(k) not in columns and str(k).lower() not in TABLE_KEYS]
    show_tables = any(checked_table(s) for s in ranked)
    # What the job's definition says (quality gate policy): shown when the result carries it.
    defined = any("name" in s or "dimension" in s for s in ranked)
    gated = any(s.get("severity") for s in ranked)
    # With the definition's names, the 19-digit ids move to the right: what a reader needs first
    # (gate, rule, table, column, threshold, numbers) fits the UI's frame.
    id_headers = ["Sub-rule id", "Sub-rule instance id"]
    headers = [
        "Status",
        *(["Gate"] if gated else []),
        *(["Sub-rule", "Dimension"] if defined else id_headers),
        *(["Checked table"] if show_tables else []),
        *(["Column", "Threshold"] if defined else []),
    ]
    headers += [*columns, "Abnormal table", *(id_headers if defined else [])]
    parts = [
        f"<table class='subrules'><thead><tr>{''.join(f'<th>{esc(h)}</th>' for h in headers)}</tr></thead>"
    ]
    for sub_rule in ranked:
        state = sub_rule_state(sub_rule)
        rows = [r for r in sub_rule.get("results") or [] if isinstance(r, dict)] or [{}]
        span = f" rowspan='{len(rows)}'" if len(rows) > 1 else ""
        severity = str(sub_rule.get("severity") or "")
        severity_class = f" {severity}" if severity in SEVERITY_WORDS else ""
        ids = (
            f"<td class='mono'{span}>{esc(sub_rule.get('sub_rule_id'))}</td>"
            f"<td class='mono'{span}>{esc(sub_rule.get('sub_instance_instance_id'))}</td>"
        )
        parts.append(f"<tbody class='{state}{severity_class}'>")
        for index, row in enumerate(rows):
            cells = ""
            if index == 0:
                cells += f"<td class='status'{span}>{STATE_WORDS[state]}</td>"
                if gated:
                    word = SEVERITY_WORDS.get(severity, "")
                    cells += f"<td class='sev{severity_class}'{span}>{esc(word)}</td>"
                if defined:
                    cells += f"<td{span}>{esc(sub_rule.get('name'))}</td>"
                    cells += f"<td{span}>{esc(sub_rule.get('dimension'))}</td>"
                else:
                    cells += ids
                if show_tables:
                    cells += f"<td{span}>{esc(checked_table(sub_rule))}</td>"
                if defined:
                    cells += f"<td{span}>{esc(sub_rule.get('column'))}</td>"
                    cells += f"<td class='mono'{span}>{esc(sub_rule.get('alarm_condition'))}</td>"
            for column in columns:
                value = row.get(column)
                numeric = isinstance(value, int | float) or (isinstance(value, str) and value.isdigit())
                cells += f"<td class='num'>{esc(value)}</td>" if numeric else f"<td>{esc(value)}</td>"
            if index == 0:
                cells += f"<td{span}>{esc(sub_rule.get('abnormal_table_status'))}</td>"
                if defined:
                    cells += ids
            parts.append(f"<tr>{cells}</tr>")
        parts.append("</tbody>")
    parts.append("</table>")
    return "".join(parts)


def render_history(view: TaskView) -> str:
    """One mark per DAG run, oldest left: colour by verdict, height by alarming sub-rules."""
    marks: list[HistoryMark] = view.history
    if not marks:
        return ""
    width, gap, top = 16, 4, 8
    most = max([m.alarming for m in marks] + [1])
    chart_height = 80
    svg_width = len(marks) * (width + gap) + gap
    bars = []
    for index, mark in enumerate(marks):
        if mark.run_status is None:
            height, colour, label = 4, NO_RESULT_COLOUR, "no quality result"
        else:
            height = 10 + round((chart_height - 10) * mark.alarming / most)
            warned = getattr(mark, "verdict", None) == "passed_with_warnings"
            colour = WARNED_COLOUR if warned else VERDICT_COLOURS.get(mark.run_status, NO_RESULT_COLOUR)
            label = f"{mark.run_status}, {mark.alarming} of {mark.sub_rules} sub-rules alarming"
            if getattr(mark, "verdict", None):
                label += f": {VERDICT_WORDS.get(str(mark.verdict), str(mark.verdict))}"
        x = gap + index * (width + gap)
        y = top + chart_height - height
        current = mark.run_id == view.run_id
        outline = " stroke='#111827' stroke-width='2'" if current else ""
        # In the frame itself: the UI's iframe sandbox does not let a page navigate the UI around it.
        href = page_url(view.dag_id, mark.run_id, view.task_id, view.map_index)
        bars.append(
            f"<a href='{esc(href)}' class='mark' data-run-id='{esc(mark.run_id)}'>"
            f"<title>{esc(mark.run_id)}: {esc(label)}{' (this run)' if current else ''}</title>"
            f"<rect x='{x}' y='{y}' width='{width}' height='{height}' rx='2' fill='{colour}'{outline}/></a>"
        )
    baseline = top + chart_height
    legend = " ".join(
        f"<span style='color:{c}'>&#9632;</span> {v}"
        for v, c in [
            *VERDICT_COLOURS.items(),
            ("ALARMING, passed with warnings", WARNED_COLOUR),
            ("no result", NO_RESULT_COLOUR),
        ]
    )
    return (
        f"<h2>History: this task in the last {len(marks)} DAG runs</h2>"
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{svg_width}' height='{baseline + 4}' role='img' "
        f"aria-label='quality verdicts per DAG run' class='history'>"
        f"<line x1='0' y1='{baseline}' x2='{svg_width}' y2='{baseline}' stroke='#d1d5db'/>"
        f"{''.join(bars)}</svg>"
        f"<p class='note'>{legend}. Taller: more alarming sub-rules. Outlined: this run. "
        "Each mark opens that run's result here.</p>"
    )


def render_quality(view: TaskView) -> str:
    result: dict[str, Any] = view.xcoms[QUALITY_RESULT_KEY]
    instance: dict[str, Any] = result["instance"] if isinstance(result.get("instance"), dict) else {}
    sub_rules = [s for s in result.get("sub_rules") or [] if isinstance(s, dict)]
    alarming = sum(is_alarming(s) for s in sub_rules)
    run_status = str(result.get("run_status") or instance.get("run_status") or "")
    banner_class = run_status if run_status in VERDICT_COLOURS else "OTHER"
    verdict = result.get("verdict")
    if verdict == "passed_with_warnings":
        banner_class = "WARNED"
    policy = ""
    if verdict:
        failing = sum(s.get("severity") == "fail" for s in sub_rules)
        warning = sum(s.get("severity") == "warn" for s in sub_rules)
        counts = ", ".join(
            text for n, text in ((failing, f"{failing} fail"), (warning, f"{warning} only warn")) if n
        )
        policy = (
            f"<span class='verdict'>{esc(VERDICT_WORDS.get(str(verdict), verdict))}"
            f"{f' ({counts})' if counts else ''}</span>"
        )
    kind = JOB_KINDS.get(str(instance.get("task_type")), instance.get("task_type"))
    parts = [
        f"<div class='banner {banner_class}' id='verdict'><b>{esc(run_status or 'UNKNOWN')}</b>"
        f"<span>{alarming} of {len(sub_rules)} sub-rules alarming</span>{policy}</div>",
        state_note(view),
        facts(
            [
                ("DAG run", f"<span class='mono'>{esc(view.run_id)}</span>"),
                ("Quality job", esc(instance.get("name"))),
                ("Kind", esc(kind)),
                ("Instance id", f"<code id='instance-id'>{esc(result.get('instance_id'))}</code>"),
                ("Started", esc(fmt_time(instance.get("start_time")))),
                ("Ended", esc(fmt_time(instance.get("end_time")))),
                ("Took", esc(fmt_duration(instance.get("start_time"), instance.get("end_time")))),
                ("DataArts console", console_link(view.xcoms.get("instance_url"))),
            ]
        ),
        f"<h2>Sub-rules ({len(sub_rules)}; alarming first)</h2>",
    ]
    if sub_rules:
        parts.append(
            "<input type='checkbox' id='only-alarming' class='toggle'>"
            "<label for='only-alarming'>Show only alarming sub-rules</label>" + render_sub_rules(sub_rules)
        )
    else:
        parts.append("<p class='note'>DataArts returned no sub-rule results for this instance.</p>")
    parts.append(render_history(view))
    return "".join(parts)


# --- Factory jobs -------------------------------------------------------------------------------------


JOB_STATUS_COLOURS = {
    "success": "#1b7f3b",
    "fail": "#b91c1c",
    "running-exception": "#b91c1c",
    "manual-stop": "#6b7280",
    "running": "#2563eb",
    "skip": "#9ca3af",
}


def colour_of(job_status: str) -> str:
    return JOB_STATUS_COLOURS.get(job_status, "#374151")


def console_link(url: Any) -> str:
    """The DataArts console link (opens outside the UI's frame), or nothing for a non-http(s) value."""
    console = safe_url(url)
    if console is None:
        return ""
    return f"<a href='{esc(console)}' target='_blank' rel='noopener noreferrer'>{esc(console)}</a>"


def render_job(view: TaskView) -> str:
    """The job instance and its nodes as a timeline (bars on the instance's own time span)."""
    job: dict[str, Any] = view.xcoms["job_result"]
    nodes = [n for n in job.get("nodes") or [] if isinstance(n, dict)]
    status = str(job.get("status") or "")
    times = [
        t
        for n in nodes
        for t in (n.get("start_time"), n.get("end_time"))
        if isinstance(t, int | float) and t > 0
    ]
    times += [t for t in (job.get("start_time"), job.get("end_time")) if isinstance(t, int | float) and t > 0]
    start, end = (min(times), max(times)) if times else (0, 0)
    span = max(end - start, 1)
    banner = {"success": "SUCCESS", "fail": "FAILED", "running-exception": "FAILED"}.get(status, "OTHER")
    rows = []
    for node in sorted(nodes, key=lambda n: n.get("start_time") or 0):
        node_status = str(node.get("status") or "")
        bar = ""
        if (
            isinstance(node.get("start_time"), int | float)
            and isinstance(node.get("end_time"), int | float)
            and times
        ):
            left = 100 * (node["start_time"] - start) / span
            width = max(100 * (node["end_time"] - node["start_time"]) / span, 0.8)
            colour = JOB_STATUS_COLOURS.get(node_status, "#6b7280")
            style = f"left:{left:.1f}%;width:{width:.1f}%;background:{colour}"
            bar = f"<div class='bar'><span style='{style}'></span></div>"
        rows.append(
            [
                esc(node.get("node_name")),
                esc(node.get("type")),
                f"<span style='color:{colour_of(node_status)}'>{esc(node_status)}</span>",
                bar,
                esc(fmt_time(node.get("start_time"))),
                esc(fmt_duration(node.get("start_time"), node.get("end_time"))),
                esc(node.get("input_row_count")),
                esc(node.get("retry_times")),
                f"<code>{esc(node.get('log_path'))}</code>" if node.get("log_path") else "",
            ]
        )
    return "".join(
        [
            f"<div class='banner {banner}' id='verdict'><b>{esc(status or 'unknown')}</b>"
            f"<span>DataArts Factory job, {len(nodes)} nodes</span></div>",
            state_note(view),
            facts(
                [
                    ("Job", esc(job.get("job_name"))),
                    ("Instance id", f"<code id='instance-id'>{esc(job.get('instance_id'))}</code>"),
                    ("Plan time", esc(fmt_time(job.get("plan_time")))),
                    ("Started", esc(fmt_time(job.get("start_time")))),
                    ("Ended", esc(fmt_time(job.get("end_time")))),
                    ("Took", esc(fmt_duration(job.get("start_time"), job.get("end_time")))),
                    ("DataArts console", console_link(view.xcoms.get("instance_url"))),
                ]
            ),
            "<h2>Nodes (timeline)</h2>",
            table(
                ["Node", "Type", "Status", "Timeline", "Started", "Took", "Rows", "Retries", "Log path"],
                rows,
                "nodes",
            )
            if rows
            else "<p class='note'>The job instance has no nodes.</p>",
        ]
    )


# --- Factory scripts ----------------------------------------------------------------------------------


def render_script(view: TaskView) -> str:
    """Each result set of the script: its schema as the header, its records as rows (bounded)."""
    value: dict[str, Any] = view.xcoms["return_value"]
    status = str(value.get("status") or "")
    banner = {"FINISHED": "SUCCESS", "FAILED": "FAILED"}.get(status, "OTHER")
    parts = [
        f"<div class='banner {banner}' id='verdict'><b>{esc(status or 'UNKNOWN')}</b>"
        f"<span>DataArts Factory script</span></div>",
        state_note(view),
        facts(
            [
                ("Script", esc(value.get("script_name"))),
                ("Instance id", f"<code id='instance-id'>{esc(value.get('instance_id'))}</code>"),
            ]
        ),
    ]
    results = [r for r in value.get("results") or [] if isinstance(r, dict)]
    if not results:
        parts.append("<p class='note'>The script returned no result set.</p>")
    for number, result in enumerate(results, 1):
        columns = column_names(result.get("schema"))
        records = [r for r in result.get("records") or [] if isinstance(r, dict)]
        if not columns and records:
            columns = [str(k) for k in records[0]]
        shown = records[:MAX_SCRIPT_ROWS]
        count = result.get("rowCount")
        summary = f"{len(records)} rows stored" + (f" of {esc(count)}" if count not in (None, "") else "")
        if len(shown) < len(records):
            summary += f", first {len(shown)} shown"
        parts.append(f"<h2>Result {number}: {summary}</h2>")
        if result.get("message"):
            parts.append(f"<p class='note'>{esc(result.get('message'))}</p>")
        if columns:
            parts.append(
                table([esc(c) for c in columns], [[esc(r.get(c)) for c in columns] for r in shown], "rows")
            )
    return "".join(parts)


# --- the page -----------------------------------------------------------------------------------------


def _is_script_result(value: Any) -> bool:
    return isinstance(value, dict) and "script_name" in value and isinstance(value.get("results"), list)


@dataclass(frozen=True)
class Renderer:
    name: str
    matches: Callable[[TaskView], bool]
    render: Callable[[TaskView], str]


RENDERERS = [
    Renderer("quality", lambda v: isinstance(v.xcoms.get(QUALITY_RESULT_KEY), dict), render_quality),
    Renderer("job", lambda v: isinstance(v.xcoms.get("job_result"), dict), render_job),
    Renderer("script", lambda v: _is_script_result(v.xcoms.get("return_value")), render_script),
]


def render_other(view: TaskView) -> str:
    if view.state in UNFINISHED:
        return (
            "<p class='note' id='verdict'>This task has not finished yet "
            f"(state: {esc(view.state or 'none')}); "
            "its DataArts result shows here once DataArts reports it.</p>"
        )
    return (
        f"<p class='note' id='verdict'>This task ({esc(view.operator or 'unknown operator')}, state "
        f"{esc(view.state)}) stored no DataArts result: this tab shows the results of DataArts quality, "
        "script and job tasks.</p>"
    )


def render_task(view: TaskView) -> str:
    for renderer in RENDERERS:
        if renderer.matches(view):
            return renderer.render(view)
    return render_other(view)
