"""The DataArts tab's migration renderer on stored ``migration_result``: status, rows, duration, error."""

from __future__ import annotations

from typing import Any

from airflow_provider_dataarts.plugins.render import render_task
from tests.plugins.test_render import view


def migration(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "submission_id": "17",
        "job_name": "orders_to_dws",
        "cluster_id": "00000000-0000-4000-8000-000000000cd1",
        "status": status,
        "progress": 100.0,
        "creation_date": 1767225600000,
        "execute_date": 1767225601000,
        "last_update_date": 1767225661000,
        "rows_written": 12480,
        "rows_updated": 3,
        "rows_deleted": 0,
        "counters": {"rows_read": 12483, "rows_written": 12480, "rows_written_skipped": 5},
        "error_summary": None,
        "error_details": None,
        **extra,
    }


def test_a_succeeded_migration_shows_its_rows_duration_and_console_link() -> None:
    html = render_task(
        view(
            {"migration_result": migration("SUCCEEDED"), "instance_url": "https://console.example/cdm?x=1"},
            state="success",
        )
    )
    assert "<b>SUCCEEDED</b>" in html and "12480 rows written" in html
    assert "<code id='instance-id'>17</code>" in html
    assert "<td>12483</td><td>12480</td><td>3</td><td>0</td><td>5</td>" in html
    assert "<dt>Took</dt><dd>1 min 1 s</dd>" in html
    assert "href='https://console.example/cdm?x=1'" in html
    assert "id='error-summary'" not in html


def test_a_failed_migration_shows_dataarts_error_escaped() -> None:
    result = migration(
        "FAILED",
        rows_written=0,
        error_summary="Table <public.x> does not exist",
        error_details="Sqoop: <trace>",
    )
    html = render_task(view({"migration_result": result}))
    assert "banner FAILED" in html
    assert "Table &lt;public.x&gt; does not exist" in html and "<public.x>" not in html
    assert "<pre>Sqoop: &lt;trace&gt;</pre>" in html
