"""
The DataArts tab in a real browser (Debian's chromium, driven by Playwright, never a downloaded
browser) on the system tests' deployment: log in through the UI's login page, open a quality gate's
task instance, click the DataArts tab, read what a user sees, save a screenshot.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import quote

from tests.system.client import AirflowClient, EmulatorClient
from tests.system.deployment import USERNAME, Deployment

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DAG_ID, TASK_ID = "example_dataarts_quality_wait", "rerun_and_wait"
JOB = "ui_orders_checks"
TIMEOUT_MS = 60_000


def test_a_user_sees_the_verdict_the_exact_id_and_alarming_sub_rules_first(
    deployment: Deployment, airflow_api: AirflowClient, dataarts_emulator: EmulatorClient, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)

    assert os.access(CHROMIUM, os.X_OK), (
        f"{CHROMIUM} is missing: scripts/setup-venv.sh installs Debian's chromium"
    )
    dataarts_emulator.add_quality_job(JOB, outcome="ALARMING", sub_rules=6, alarming_sub_rules=2)
    clean = airflow_api.trigger_dag(DAG_ID, {"job_name": "orders_completeness", "rule_type": "quality"})
    run_id = airflow_api.trigger_dag(DAG_ID, {"job_name": JOB, "rule_type": "quality"})
    assert airflow_api.wait_for_dag_run(DAG_ID, clean, timeout=180)["state"] == "success"
    assert airflow_api.wait_for_dag_run(DAG_ID, run_id, timeout=180)["state"] == "failed"
    (instance,) = dataarts_emulator.instances(JOB)
    instance_id = str(instance["id"])
    assert len(instance_id) == 19

    password = json.loads((deployment.home / "passwords.json").read_text())[USERNAME]
    base = airflow_api.base_url
    screenshot = tmp_path / "dataarts-tab.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"{base}/")  # the UI sends a user without a session to its login page
            page.locator("input[name='username']").fill(USERNAME)
            page.locator("input[name='password']").fill(password)
            page.locator("button[type='submit']").click()
            page.wait_for_url(re.compile(r"^(?!.*/auth/login).*$"))
            page.goto(f"{base}/dags/{DAG_ID}/runs/{quote(run_id, safe='')}/tasks/{TASK_ID}")
            # The tab is a link in the task instance's tab bar (exact name: the DAG id holds "dataarts").
            page.get_by_role("link", name="DataArts", exact=True).click()
            frame = page.frame_locator("iframe[title='DataArts']")
            banner = frame.locator("#verdict")
            expect(banner).to_contain_text("ALARMING")
            expect(banner).to_contain_text("2 of 6 sub-rules alarming")
            expect(frame.locator("#instance-id")).to_have_text(instance_id)
            statuses = frame.locator("td.status").all_inner_texts()
            assert statuses == ["alarming"] * 2 + ["passed"] * 4, statuses
            marks = frame.locator("svg.history a.mark")
            expect(marks.first).to_be_attached()
            assert marks.count() >= 2  # this run and the clean one (other tests may run this DAG too)
            page.screenshot(path=str(screenshot), full_page=True)
            frame.get_by_text("Show only alarming sub-rules").click()  # the CSS-only filter
            expect(frame.locator("td.status:visible")).to_have_count(2)
            # A mark of the history opens that run's result, in the tab (the UI's session goes along).
            frame.locator(f"svg.history a.mark[data-run-id='{clean}']").click()
            expect(banner).to_contain_text("SUCCESS")
            expect(frame.get_by_text(clean, exact=True)).to_be_visible()
        except BaseException:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            print(f"failure screenshot: {tmp_path / 'failure.png'}")
            raise
        finally:
            browser.close()
    assert screenshot.stat().st_size > 10_000
    print(f"screenshot: {screenshot}")


GATE_DAG = "example_dataarts_quality_gate"


def test_the_tab_shows_which_alarms_only_warned_and_which_failed_the_gate(
    deployment: Deployment, airflow_api: AirflowClient, tmp_path: Path
) -> None:
    """The quality gate policy (``warn_only``) in the UI: a run that passed with warnings, one that failed."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    warned = airflow_api.trigger_dag(GATE_DAG, {"warn_only": ["Completeness", "order_id_*"]})
    failed = airflow_api.trigger_dag(GATE_DAG, {"warn_only": ["Completeness"]})
    assert airflow_api.wait_for_dag_run(GATE_DAG, warned, timeout=180)["state"] == "success"
    assert airflow_api.wait_for_dag_run(GATE_DAG, failed, timeout=180)["state"] == "failed"

    password = json.loads((deployment.home / "passwords.json").read_text())[USERNAME]
    base = airflow_api.base_url
    shots = Path(os.environ.get("DATAARTS_SHOTS") or tmp_path)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1600, "height": 1100})
        try:
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"{base}/")
            page.locator("input[name='username']").fill(USERNAME)
            page.locator("input[name='password']").fill(password)
            page.locator("button[type='submit']").click()
            page.wait_for_url(re.compile(r"^(?!.*/auth/login).*$"))
            for name, run_id, verdict, gates in (
                ("warned", warned, "passed with warnings (2 only warn)", ["warning only", "warning only"]),
                (
                    "failed",
                    failed,
                    "failed the task (1 fail, 1 only warn)",
                    ["warning only", "fails the task"],
                ),
            ):
                page.goto(f"{base}/dags/{GATE_DAG}/runs/{quote(run_id, safe='')}/tasks/quality_gate")
                page.get_by_role("link", name="DataArts", exact=True).click()
                frame = page.frame_locator("iframe[title='DataArts']")
                expect(frame.locator("#verdict")).to_contain_text(verdict)
                assert frame.locator("td.sev").all_inner_texts()[:2] == gates
                expect(frame.get_by_text("order_id_unique", exact=True)).to_be_visible()
                assert frame.get_by_text("${1}>0", exact=True).count() == 3  # each rule's threshold
                page.screenshot(path=str(shots / f"ui-quality-gate-{name}.png"), full_page=True)
        except BaseException:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            print(f"failure screenshot: {tmp_path / 'failure.png'}")
            raise
        finally:
            browser.close()
    print(f"screenshots: {shots}")
