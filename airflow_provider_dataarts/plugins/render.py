"""
The DataArts tab's HTML: one page, server-rendered, no script (the UI's iframe runs none), inline
CSS and SVG. Each kind of result has one small renderer (quality, job, script); ``RENDERERS`` is
the list ``render_task`` tries in order, so a new kind of result is one more entry.

Everything that comes from DataArts or from the task goes through ``esc`` (HTML-escaped, cut at
``MAX_CELL_CHARS``), and links are only ever ``http(s)`` addresses or paths built here.

What a page renders is bounded whatever the task stored: ``MAX_TABLE_ROWS`` rows and
``MAX_COLUMNS`` columns per table, ``MAX_TABLE_CHARS`` of HTML per table, ``MAX_RESULT_SETS``
script result sets; a line under the table says what was left out and where all of it is. A stored
value of an unexpected shape shows a message in its own section (``render_task``), never an error
page.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow_provider_dataarts.plugins import URL_PREFIX, base_path
from airflow_provider_dataarts.results.quality import JOB_KINDS, QUALITY_RESULT_KEY
from airflow_provider_dataarts.results.script import DEFAULT_MAX_ROWS, column_names
from airflow_provider_dataarts.statuses import Verdict, is_alarming, migration_verdict

if TYPE_CHECKING:
    from airflow_provider_dataarts.plugins.data import HistoryMark, TaskView

MAX_SCRIPT_ROWS = DEFAULT_MAX_ROWS  # the script XCom's own default bound
MAX_TABLE_ROWS = DEFAULT_MAX_ROWS  # rows of any table (sub-rule result rows, nodes, records)
MAX_COLUMNS = 40  # columns of a table beyond its fixed ones
MAX_CELL_CHARS = 300  # characters of one value (a cell, a fact)
MAX_TABLE_CHARS = 2_000_000  # HTML of one table: rows after that are left out
MAX_RESULT_SETS = 20  # result sets of one script
MAX_URL_CHARS = 2048
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

# Text colours of a Factory job or slot status (class ``st-<status>``), light and dark (readable at
# 4.5:1 on either background); the timeline bars use ``JOB_STATUS_COLOURS``.
STATUS_TEXT = {
    "success": ("#1b7f3b", "#4ade80"),
    "fail": ("#b91c1c", "#f87171"),
    "running-exception": ("#b91c1c", "#f87171"),
    "manual-stop": ("#4b5563", "#9ca3af"),
    "running": ("#1d4ed8", "#93c5fd"),
    "skip": ("#4b5563", "#9ca3af"),
}
OTHER_STATUS_TEXT = ("#374151", "#d1d5db")

_CSS_TEMPLATE = """
:root{color-scheme:light dark}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:16px;color:#111827;
background:#fff}
h2{font-size:15px;margin:20px 0 8px}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
a{color:#1d4ed8}a:visited{color:#6d28d9}
dd,a,.malformed p{overflow-wrap:anywhere}
.banner{border-radius:6px;padding:12px 16px;color:#fff;display:flex;gap:16px;align-items:baseline;
flex-wrap:wrap}
.banner b{font-size:22px;letter-spacing:.04em}
%(banners)s
.banner .verdict{font-weight:600}
.malformed{border:1px solid #b91c1c;border-radius:6px;padding:8px 16px;background:#fef2f2}
.omitted{background:#fffbeb;border-left:3px solid #b45309;padding:4px 8px}
dl.facts{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:4px 16px;margin:12px 0}
dl.facts dt{color:#4b5563}dl.facts dd{margin:0}
.scroll{overflow-x:auto;max-width:100%%;margin:4px 0 12px}
table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #d1d5db;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f4f6}
td.status,td.sev,.time{white-space:nowrap}
tbody.alarming td{background:#fff7ed}
tbody.alarming td.status{color:#b45309;font-weight:600}
tbody.alarming.fail td{background:#fef2f2}
tbody.alarming.fail td.status,td.sev.fail{color:#b91c1c;font-weight:600}
tbody.alarming.warn td{background:#fefce8}
tbody.alarming.warn td.status,td.sev.warn{color:#a16207;font-weight:600}
tbody.passed td.status{color:#1b7f3b}
tbody.noresult td.status{color:#4b5563}
td.num,table.counts td{text-align:right;font-variant-numeric:tabular-nums}
pre{white-space:pre-wrap;overflow-wrap:anywhere}
.note{color:#374151}
.toggle{margin-right:6px}
#only-alarming:checked ~ .scroll tbody.passed,#only-alarming:checked ~ .scroll tbody.noresult{display:none}
.bar{position:relative;height:14px;background:#f3f4f6;min-width:220px}
.bar span{position:absolute;top:0;bottom:0;border-radius:2px}
svg a:hover rect{opacity:.75}
svg .baseline{stroke:#d1d5db}svg .current{stroke:#111827}
%(status_light)s
@media (prefers-color-scheme:dark){
body{color:#e5e7eb;background:#111827}
a{color:#93c5fd}a:visited{color:#c4b5fd}
dl.facts dt{color:#9ca3af}
.note{color:#d1d5db}
th{background:#1f2937}
th,td{border-color:#374151}
.malformed{background:#450a0a;border-color:#f87171}
.omitted{background:#422006;border-left-color:#eab308}
tbody.alarming td{background:#431407}
tbody.alarming td.status{color:#fdba74}
tbody.alarming.fail td{background:#450a0a}
tbody.alarming.fail td.status,td.sev.fail{color:#fca5a5}
tbody.alarming.warn td{background:#422006}
tbody.alarming.warn td.status,td.sev.warn{color:#fde047}
tbody.passed td.status{color:#4ade80}
tbody.noresult td.status{color:#9ca3af}
.bar{background:#1f2937}
svg .baseline{stroke:#4b5563}svg .current{stroke:#f9fafb}
%(status_dark)s
}
"""


def _status_rules(dark: bool) -> str:
    """The text colour of each Factory status class, in one of the two colour schemes."""
    rules = [f".st-{name}{{color:{colours[dark]}}}" for name, colours in STATUS_TEXT.items()]
    return "".join([f".st{{color:{OTHER_STATUS_TEXT[dark]}}}", *rules])


# The banners take the verdict colours the history marks use: one colour per verdict, in one place.
CSS = _CSS_TEMPLATE % {
    "banners": "".join(f".banner.{name}{{background:{colour}}}" for name, colour in VERDICT_COLOURS.items())
    + f".banner.OTHER{{background:#4b5563}}.banner.WARNED{{background:{WARNED_COLOUR};color:#422006}}",
    "status_light": _status_rules(dark=False),
    "status_dark": _status_rules(dark=True),
}


class Malformed(ValueError):
    """A stored value whose shape the tab cannot show (the message says what is wrong)."""


def cut(value: Any, limit: int | None = MAX_CELL_CHARS) -> str:
    """A value as text of at most ``limit`` characters, saying how many more there were."""
    text = "" if value is None else str(value)
    if limit is None or len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


def esc(value: Any, limit: int | None = MAX_CELL_CHARS) -> str:
    """Text from DataArts or the task, as HTML text (``None`` as an empty string), cut at ``limit``."""
    return html.escape(cut(value, limit), quote=True)


def render_page(title: str, body: str) -> str:
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width'><title>{esc(title)}</title>"
        f"<style>{CSS}</style></head><body>{body}</body></html>"
    )
    try:
        page.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate in a stored value: shown as "?"
        page = page.encode("utf-8", "replace").decode("utf-8")
    return page


def epoch_ms(value: Any) -> float | None:
    """An epoch-milliseconds time that a date can show (after 1970, before year 10000), else None."""
    if isinstance(value, str) and value.isdigit() and len(value) < 20:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and 0 < number < 253402300800000 else None


def fmt_time(ms: Any) -> str:
    """An epoch-milliseconds time as UTC text; anything else as given (a number no date can be, said so)."""
    number = epoch_ms(ms)
    if number is not None:
        return datetime.fromtimestamp(number / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if ms in (None, "", 0):
        return ""
    if isinstance(ms, int | float) and not isinstance(ms, bool):
        return f"{ms} (not a time)"
    return str(ms)


def fmt_duration(start: Any, end: Any) -> str:
    first, last = epoch_ms(start), epoch_ms(end)
    if first is None or last is None or last < first:
        return ""
    seconds = (last - first) / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {rest} s"


def safe_url(url: Any) -> str | None:
    """A link target only when it is an http(s) address (never ``javascript:`` and the like)."""
    text = str(url or "").strip()
    if len(text) > MAX_URL_CHARS:
        return None
    return text if text.lower().startswith(("https://", "http://")) else None


def page_url(dag_id: str, run_id: str, task_id: str, map_index: int) -> str:
    """This app's own page for a task instance (what the tab's iframe shows)."""
    return (
        f"{base_path()}{URL_PREFIX}/ti/{quote(dag_id, safe='')}/{quote(task_id, safe='')}"
        f"/{map_index}/{quote(run_id, safe='')}"
    )


def table(headers: Iterable[str], rows: Iterable[Iterable[str]], css: str = "") -> str:
    """A table of already-escaped cells (callers bound the rows: ``bounded``)."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    # In a box of its own that scrolls sideways: a wide table never widens the page (the UI's frame).
    return (
        f"<div class='scroll'><table class='{css}'><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table></div>"
    )


def left_out(what: list[str], key: str) -> str:
    """The line under a bounded table: what it leaves out, and where all of it is."""
    if not what:
        return ""
    return (
        f"<p class='note omitted' id='left-out'>Not shown here: {esc('; '.join(what), None)}. "
        f"All of it is in this task's XCom <code>{esc(key)}</code> (the task instance's XCom tab, or "
        "Airflow's REST API) and in the DataArts console.</p>"
    )


def columns_of(rows: Iterable[dict[str, Any]], skip: Iterable[str] = ()) -> tuple[list[str], int]:
    """The first ``MAX_COLUMNS`` column names of ``rows`` in order of appearance, and how many there are."""
    skipped = {s.lower() for s in skip}
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            name = str(key)
            if name not in seen and name.lower() not in skipped:
                seen[name] = None
    names = list(seen)
    return names[:MAX_COLUMNS], len(names)


def dicts(value: Any, what: str) -> list[dict[str, Any]]:
    """A stored list of objects (``None``: empty), else ``Malformed`` naming ``what``."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise Malformed(f"{what} is {type(value).__name__}, not a list of objects")
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise Malformed(f"{what}[{index}] is {type(item).__name__}, not an object")
    return value


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


def result_rows(sub_rule: dict[str, Any]) -> list[dict[str, Any]]:
    return dicts(sub_rule.get("results"), f"the results of sub-rule {cut(sub_rule.get('sub_rule_id'), 40)}")


def checked_table(sub_rule: dict[str, Any]) -> str | None:
    """The table a sub-rule checked, when the stored result names it (DataArts' result API often does not)."""
    for source in [sub_rule, *result_rows(sub_rule)]:
        for key, value in source.items():
            if str(key).strip().lower() in TABLE_KEYS and value not in (None, ""):
                return str(value)
    return None


def sub_rule_state(sub_rule: dict[str, Any]) -> str:
    if is_alarming({"results": result_rows(sub_rule)}):
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


def render_sub_rules(ranked: list[tuple[str, dict[str, Any]]]) -> str:
    """
    The sub-rules (state, sub-rule), alarming first, with their result columns: at most
    ``MAX_TABLE_ROWS`` rows, ``MAX_COLUMNS`` result columns and ``MAX_TABLE_CHARS`` of HTML. When the
    result carries what the job's definition says (quality gate policy), each sub-rule's gate
    (fails the task / warning only), name, dimension, column and threshold come first.
    """
    shown: list[tuple[str, dict[str, Any], list[dict[str, Any]]]] = []
    budget = MAX_TABLE_ROWS
    rows_left_out = 0
    for state, sub_rule in ranked:
        rows = result_rows(sub_rule)
        if budget <= 0:
            break
        shown.append((state, sub_rule, rows[: max(budget, 1)]))
        rows_left_out += max(len(rows) - budget, 0)
        budget -= max(len(rows), 1)
    columns, all_columns = columns_of(row for _, _, rows in shown for row in rows)
    columns = [c for c in columns if c.lower() not in TABLE_KEYS]
    show_tables = any(checked_table(s) for _, s, _ in shown)
    # What the job's definition says (quality gate policy): shown when the result carries it.
    defined = any("name" in s or "dimension" in s for _, s, _ in shown)
    gated = any(s.get("severity") for _, s, _ in shown)
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
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    parts = [f"<div class='scroll'><table class='subrules'><thead><tr>{head}</tr></thead>"]
    size, count = len(parts[0]), 0
    for state, sub_rule, rows in shown:
        rows = rows or [{}]
        span = f" rowspan='{len(rows)}'" if len(rows) > 1 else ""
        severity = str(sub_rule.get("severity") or "")
        severity_class = f" {severity}" if severity in SEVERITY_WORDS else ""
        ids = (
            f"<td class='mono'{span}>{esc(sub_rule.get('sub_rule_id'))}</td>"
            f"<td class='mono'{span}>{esc(sub_rule.get('sub_instance_instance_id'))}</td>"
        )
        body = [f"<tbody class='{state}{severity_class}'>"]
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
            body.append(f"<tr>{cells}</tr>")
        body.append("</tbody>")
        html_part = "".join(body)
        if count and size + len(html_part) > MAX_TABLE_CHARS:
            break
        parts.append(html_part)
        size += len(html_part)
        count += 1
    parts.append("</table></div>")
    what = []
    if count < len(ranked):
        what.append(f"{len(ranked) - count:,} of {len(ranked):,} sub-rules (the first {count:,} are shown)")
    if rows_left_out and count == len(shown):
        what.append(f"{rows_left_out:,} result rows")
    if all_columns > MAX_COLUMNS:
        what.append(f"{all_columns - MAX_COLUMNS:,} of {all_columns:,} result columns")
    return "".join(parts) + left_out(what, QUALITY_RESULT_KEY)


def render_history(view: TaskView) -> str:
    """
    One mark per DAG run, oldest left: colour by verdict, height by alarming sub-rules. A run that
    passed with warnings (an alarm its policy tolerates) has a colour of its own.
    """
    if view.history_error:
        return (
            "<h2>History</h2><div class='malformed' id='history-unreadable'><p>The history of this "
            f"task could not be read: {esc(view.history_error)}.</p></div>"
        )
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
            height, colour, label = 4, NO_RESULT_COLOUR, mark.note or "no quality result"
        else:
            height = 10 + round((chart_height - 10) * mark.alarming / most)
            warned = mark.verdict == "passed_with_warnings"
            colour = WARNED_COLOUR if warned else VERDICT_COLOURS.get(mark.run_status, NO_RESULT_COLOUR)
            label = f"{mark.run_status}, {mark.alarming} of {mark.sub_rules} sub-rules alarming"
            if mark.verdict:
                label += f": {VERDICT_WORDS.get(str(mark.verdict), str(mark.verdict))}"
        x = gap + index * (width + gap)
        y = top + chart_height - height
        current = mark.run_id == view.run_id
        outline = " class='current' stroke='#111827' stroke-width='2'" if current else ""
        # In the frame itself: the UI's iframe sandbox does not let a page navigate the UI around it.
        href = page_url(view.dag_id, mark.run_id, view.task_id, view.map_index)
        verdict = f" data-verdict='{esc(mark.verdict)}'" if mark.verdict else ""
        bars.append(
            f"<a href='{esc(href, None)}' class='mark' data-run-id='{esc(mark.run_id, None)}'{verdict}>"
            f"<title>{esc(mark.run_id)}: {esc(label)}{' (this run)' if current else ''}</title>"
            f"<rect x='{x}' y='{y}' width='{width}' height='{height}' rx='2' fill='{colour}'{outline}/></a>"
        )
    baseline = top + chart_height
    legend = " ".join(
        f"<span class='swatch' aria-hidden='true' style='color:{c}'>&#9632;</span> {v}"
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
        f"<line class='baseline' x1='0' y1='{baseline}' x2='{svg_width}' y2='{baseline}' stroke='#d1d5db'/>"
        f"{''.join(bars)}</svg>"
        f"<p class='note'>{legend}. Taller: more alarming sub-rules. Outlined: this run. "
        "Each mark opens that run's result here.</p>"
    )


def render_quality(view: TaskView) -> str:
    result: dict[str, Any] = view.xcoms[QUALITY_RESULT_KEY]
    instance: dict[str, Any] = result["instance"] if isinstance(result.get("instance"), dict) else {}
    sub_rules = dicts(result.get("sub_rules"), "sub_rules")
    order = {"alarming": 0, "passed": 1, "noresult": 2}
    # stable: DataArts' order within each state
    ranked = sorted(((sub_rule_state(s), s) for s in sub_rules), key=lambda pair: order[pair[0]])
    alarming = sum(state == "alarming" for state, _ in ranked)
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
        f"<div class='banner {banner_class}' id='verdict'><b>{esc(run_status or 'UNKNOWN', 40)}</b>"
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
            "<label for='only-alarming'>Show only alarming sub-rules</label>" + render_sub_rules(ranked)
        )
    else:
        parts.append("<p class='note'>DataArts returned no sub-rule results for this instance.</p>")
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


def status_text(job_status: str) -> str:
    """A Factory job, node or slot status as coloured text (its class: ``STATUS_TEXT``, light and dark)."""
    known = f" st-{job_status}" if job_status in STATUS_TEXT else ""
    return f"<span class='st{known}'>{esc(job_status)}</span>"


def console_link(url: Any) -> str:
    """The DataArts console link (opens outside the UI's frame), or nothing for a non-http(s) value."""
    console = safe_url(url)
    if console is None:
        return ""
    return (
        f"<a href='{esc(console, None)}' target='_blank' rel='noopener noreferrer'>{esc(console, None)}</a>"
    )


def render_job(view: TaskView) -> str:
    """The job instance and its nodes as a timeline (bars on the instance's own time span)."""
    job: dict[str, Any] = view.xcoms["job_result"]
    nodes = dicts(job.get("nodes"), "nodes")
    status = str(job.get("status") or "")
    times = [t for n in nodes for t in (epoch_ms(n.get("start_time")), epoch_ms(n.get("end_time"))) if t]
    times += [t for t in (epoch_ms(job.get("start_time")), epoch_ms(job.get("end_time"))) if t]
    start, end = (min(times), max(times)) if times else (0.0, 0.0)
    span = max(end - start, 1)
    banner = {"success": "SUCCESS", "fail": "FAILED", "running-exception": "FAILED"}.get(status, "OTHER")
    rows = []
    # Nodes without a time first, in DataArts' order; a start time that is not a number counts as none.
    shown = sorted(nodes, key=lambda n: epoch_ms(n.get("start_time")) or 0.0)[:MAX_TABLE_ROWS]
    for node in shown:
        node_status = str(node.get("status") or "")
        bar = ""
        node_start, node_end = epoch_ms(node.get("start_time")), epoch_ms(node.get("end_time"))
        if node_start is not None and node_end is not None and times:
            left = 100 * (node_start - start) / span
            width = max(100 * (node_end - node_start) / span, 0.8)
            colour = JOB_STATUS_COLOURS.get(node_status, "#6b7280")
            style = f"left:{left:.1f}%;width:{width:.1f}%;background:{colour}"
            bar = f"<div class='bar'><span style='{style}'></span></div>"
        rows.append(
            [
                esc(node.get("node_name")),
                esc(node.get("type")),
                status_text(node_status),
                bar,
                f"<span class='time'>{esc(fmt_time(node.get('start_time')))}</span>",
                esc(fmt_duration(node.get("start_time"), node.get("end_time"))),
                esc(node.get("input_row_count")),
                esc(node.get("retry_times")),
                f"<code>{esc(node.get('log_path'))}</code>" if node.get("log_path") else "",
            ]
        )
    what = [f"{len(nodes) - len(shown):,} of {len(nodes):,} nodes"] if len(shown) < len(nodes) else []
    return "".join(
        [
            f"<div class='banner {banner}' id='verdict'><b>{esc(status or 'unknown', 40)}</b>"
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
            + left_out(what, "job_result")
            if rows
            else "<p class='note'>The job instance has no nodes.</p>",
        ]
    )


# --- Factory scripts ----------------------------------------------------------------------------------


def script_columns(result: dict[str, Any], number: int) -> list[str]:
    """The names of a result set's columns, from its ``schema`` (a list), else its first record's keys."""
    schema = result.get("schema")
    if schema is not None and not isinstance(schema, list):
        raise Malformed(f"the schema of result {number} is {type(schema).__name__}, not a list")
    return column_names(schema[: MAX_COLUMNS + 1] if schema else schema)


def render_script(view: TaskView) -> str:
    """Each result set of the script: its schema as the header, its records as rows (bounded)."""
    value: dict[str, Any] = view.xcoms["return_value"]
    status = str(value.get("status") or "")
    banner = {"FINISHED": "SUCCESS", "FAILED": "FAILED"}.get(status, "OTHER")
    parts = [
        f"<div class='banner {banner}' id='verdict'><b>{esc(status or 'UNKNOWN', 40)}</b>"
        f"<span>DataArts Factory script</span></div>",
        state_note(view),
        facts(
            [
                ("Script", esc(value.get("script_name"))),
                ("Instance id", f"<code id='instance-id'>{esc(value.get('instance_id'))}</code>"),
            ]
        ),
    ]
    results = dicts(value.get("results"), "results")
    if not results:
        parts.append("<p class='note'>The script returned no result set.</p>")
    for number, result in enumerate(results[:MAX_RESULT_SETS], 1):
        columns = script_columns(result, number)
        all_columns = len(result.get("schema") or [])
        records = dicts(result.get("records"), f"the records of result {number}")
        if not columns and records:
            columns, all_columns = columns_of(records[:MAX_SCRIPT_ROWS])
        shown_columns = columns[:MAX_COLUMNS]
        shown = records[:MAX_SCRIPT_ROWS]
        count = result.get("rowCount")
        summary = f"{len(records)} rows stored" + (f" of {esc(count, 40)}" if count not in (None, "") else "")
        if len(shown) < len(records):
            summary += f", first {len(shown)} shown"
        parts.append(f"<h2>Result {number}: {summary}</h2>")
        if result.get("message"):
            parts.append(f"<p class='note'>{esc(result.get('message'))}</p>")
        if shown_columns:
            rows: list[list[str]] = []
            size = 0
            for record in shown:
                row = [esc(record.get(c)) for c in shown_columns]
                size += sum(len(c) for c in row) + 9 * len(row)
                if rows and size > MAX_TABLE_CHARS:
                    break
                rows.append(row)
            parts.append(table([esc(c) for c in shown_columns], rows, "rows"))
            what = []
            if len(rows) < len(shown):
                what.append(f"{len(records) - len(rows):,} of {len(records):,} rows")
            if all_columns > len(shown_columns):
                what.append(f"{all_columns - len(shown_columns):,} of {all_columns:,} columns")
            parts.append(left_out(what, "return_value"))
    if len(results) > MAX_RESULT_SETS:
        parts.append(
            left_out([f"{len(results) - MAX_RESULT_SETS} of {len(results)} result sets"], "return_value")
        )
    return "".join(parts)


# --- DataArts Migration (CDM) ---------------------------------------------------------------------------


def percent(value: Any) -> Any:
    """CDM's ``progress`` (0 to 100; -1 when the submission failed) as a percentage, else as given."""
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 100:
        return f"{value:g}%"
    return value


def render_migration(view: TaskView) -> str:
    """The migration submission: status, rows (written, updated, deleted, read), duration, error."""
    result: dict[str, Any] = view.xcoms["migration_result"]
    status = str(result.get("status") or "")
    # The task's own verdict (statuses.migration_verdict): NEVER_EXECUTED fails the task too.
    banner = {Verdict.SUCCESS: "SUCCESS", Verdict.FAIL: "FAILED"}.get(migration_verdict(status), "OTHER")
    counters: dict[str, Any] = result["counters"] if isinstance(result.get("counters"), dict) else {}
    parts = [
        f"<div class='banner {banner}' id='verdict'><b>{esc(status or 'UNKNOWN')}</b>"
        f"<span>DataArts Migration job, {esc(result.get('rows_written'))} rows written</span></div>",
        state_note(view),
        facts(
            [
                ("Job", esc(result.get("job_name"))),
                ("Cluster", f"<code>{esc(result.get('cluster_id'))}</code>"),
                ("Submission id", f"<code id='instance-id'>{esc(result.get('submission_id'))}</code>"),
                ("Started", esc(fmt_time(result.get("creation_date")))),
                ("Last update", esc(fmt_time(result.get("last_update_date")))),
                ("Took", esc(fmt_duration(result.get("creation_date"), result.get("last_update_date")))),
                ("Progress", esc(percent(result.get("progress")))),
                ("DataArts console", console_link(view.xcoms.get("instance_url"))),
            ]
        ),
        "<h2>Rows</h2>",
        table(
            ["Read", "Written", "Updated", "Deleted", "Skipped"],
            [
                [
                    esc(counters.get("rows_read")),
                    esc(result.get("rows_written")),
                    esc(result.get("rows_updated")),
                    esc(result.get("rows_deleted")),
                    esc(counters.get("rows_written_skipped")),
                ]
            ],
            "rows counts",
        ),
    ]
    if result.get("error_summary") or result.get("error_details"):
        parts.append("<h2>Error</h2>")
        parts.append(f"<p class='note' id='error-summary'>{esc(result.get('error_summary'))}</p>")
        if result.get("error_details"):
            parts.append(f"<pre>{esc(result.get('error_details'))}</pre>")
    return "".join(parts)


# --- the page -----------------------------------------------------------------------------------------


def _is_script_result(value: Any) -> bool:
    return isinstance(value, dict) and "script_name" in value and "results" in value


@dataclass(frozen=True)
class Renderer:
    name: str
    key: str  # the XCom it shows
    matches: Callable[[TaskView], bool]
    render: Callable[[TaskView], str]


RENDERERS = [
    Renderer(
        "quality",
        QUALITY_RESULT_KEY,
        lambda v: isinstance(v.xcoms.get(QUALITY_RESULT_KEY), dict),
        render_quality,
    ),
    Renderer("job", "job_result", lambda v: isinstance(v.xcoms.get("job_result"), dict), render_job),
    Renderer(
        "script", "return_value", lambda v: _is_script_result(v.xcoms.get("return_value")), render_script
    ),
    Renderer(
        "migration",
        "migration_result",
        lambda v: isinstance(v.xcoms.get("migration_result"), dict),
        render_migration,
    ),
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
        "script, job, PatchData and migration tasks.</p>"
    )


def render_malformed(view: TaskView, renderer: Renderer, error: Exception) -> str:
    """The section shown instead of a stored result the tab cannot read: what is wrong, where the value is."""
    why = str(error) if isinstance(error, Malformed) else f"{type(error).__name__}: {error}"
    console = console_link(view.xcoms.get("instance_url"))
    return (
        f"<section class='malformed' id='malformed'><h2>This task's DataArts {renderer.name} result "
        f"cannot be shown</h2><p>The XCom <code>{esc(renderer.key)}</code> of this task does not have the "
        f"shape this tab reads: {esc(why)}.</p><p class='note'>The value itself is in the task instance's "
        "XCom tab (or Airflow's REST API)"
        + (f"; the instance in the DataArts console: {console}" if console else "")
        + ".</p></section>"
    )


def render_task(view: TaskView) -> str:
    """The page's body: the result (or a message in its own section if it cannot be read), the history."""
    for renderer in RENDERERS:
        if renderer.matches(view):
            try:
                body = renderer.render(view)
            except Exception as error:  # any stored shape: a message, never an error page
                body = render_malformed(view, renderer, error)
            if renderer.name == "quality":
                try:
                    body += render_history(view)
                except Exception as error:
                    body += (
                        "<h2>History</h2><div class='malformed' id='history-unreadable'><p>The history "
                        f"of this task cannot be shown: {esc(type(error).__name__)}: {esc(error)}.</p></div>"
                    )
            return body
    for renderer in RENDERERS:
        # A result the task stored, but not as an object: say so, never "no DataArts result".
        # (``return_value`` is every task's: only a script's is this tab's.)
        if renderer.key != "return_value" and renderer.key in view.xcoms:
            value = view.xcoms[renderer.key]
            return render_malformed(
                view, renderer, Malformed(f"{renderer.key} is {type(value).__name__}, not an object")
            )
    return render_other(view)


# --- Factory PatchData --------------------------------------------------------------------------------

PATCH_DATA_BANNERS = {"SUCCESS": "SUCCESS", "FAIL": "FAILED", "CANCEL": "FAILED", "CANCLE": "FAILED"}


def render_patch_data(view: TaskView) -> str:
    """A PatchData run and the job instance of each slot, as a timeline of plan times (like nodes)."""
    result: dict[str, Any] = view.xcoms["patch_data_result"]
    slots = [s for s in result.get("instances") or [] if isinstance(s, dict)]
    status = str(result.get("status") or "")
    banner = PATCH_DATA_BANNERS.get(status.upper(), "FAILED" if "FAIL" in status.upper() else "OTHER")
    start, end = result.get("start_date"), result.get("end_date")
    times = [t for t in (start, end) if isinstance(t, int | float)]
    times += [s["plan_time"] for s in slots if isinstance(s.get("plan_time"), int | float)]
    low, high = (min(times), max(times)) if times else (0, 0)
    span = max(high - low, 1)
    rows = []
    ordered = sorted(slots, key=lambda s: (epoch_ms(s.get("plan_time")) or 0.0, str(s.get("job_name"))))
    for slot in ordered[:MAX_TABLE_ROWS]:
        slot_status = str(slot.get("status") or "")
        mark = ""
        if isinstance(slot.get("plan_time"), int | float) and times:
            left = 100 * (slot["plan_time"] - low) / span
            style = f"left:{min(left, 99.2):.1f}%;width:0.8%;background:{colour_of(slot_status)}"
            mark = f"<div class='bar'><span style='{style}'></span></div>"
        rows.append(
            [
                f"<span class='time'>{esc(fmt_time(slot.get('plan_time')))}</span>",
                esc(slot.get("job_name")),
                f"<code>{esc(slot.get('instance_id'))}</code>",
                status_text(slot_status),
                mark,
            ]
        )
    failed = sum(1 for s in slots if s.get("status") in ("fail", "running-exception", "manual-stop"))
    return "".join(
        [
            f"<div class='banner {banner}' id='verdict'><b>{esc(status or 'UNKNOWN')}</b>"
            f"<span>DataArts Factory PatchData, {len(slots)} job instances"
            + (f", {failed} failed" if failed else "")
            + "</span></div>",
            state_note(view),
            facts(
                [
                    ("PatchData", f"<code id='instance-id'>{esc(result.get('name'))}</code>"),
                    ("Job", esc(result.get("job_name"))),
                    ("Jobs patched", esc(", ".join(str(j) for j in result.get("jobs") or []))),
                    ("From", esc(fmt_time(start))),
                    ("To", esc(fmt_time(end))),
                    ("Submitted", esc(fmt_time(result.get("submitted_date")))),
                    ("DataArts console", console_link(view.xcoms.get("instance_url"))),
                ]
            ),
            "<h2>Slots (timeline of plan times)</h2>",
            table(["Plan time", "Job", "Instance id", "Status", "Timeline"], rows, "slots")
            if rows
            else "<p class='note'>DataArts lists no job instance of this PatchData run.</p>",
            left_out(
                [f"{len(slots) - MAX_TABLE_ROWS} of {len(slots)} slots"]
                if len(slots) > MAX_TABLE_ROWS
                else [],
                "patch_data_result",
            ),
        ]
    )


RENDERERS.insert(
    1,
    Renderer(
        "PatchData",
        "patch_data_result",
        lambda v: isinstance(v.xcoms.get("patch_data_result"), dict),
        render_patch_data,
    ),
)
