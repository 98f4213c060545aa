"""Review finding: the tab shows every status that fails the task as failed (statuses.py decides)."""

from __future__ import annotations

from airflow_provider_dataarts.plugins.render import render_task
from tests.plugins.test_render import view
from tests.plugins.test_render_migration import migration


def test_a_never_executed_migration_shows_the_failed_banner() -> None:
    """NEVER_EXECUTED fails the task (DESIGN "Statuses"); the tab must not show it as undecided."""
    html = render_task(view({"migration_result": migration("NEVER_EXECUTED", rows_written=0)}))
    assert "banner FAILED" in html
