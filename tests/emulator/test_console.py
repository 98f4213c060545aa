"""The emulator's console pages, over raw HTTP: what the extra link opens in local development."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

from airflow_provider_dataarts.emulator import DataArtsEmulator
from tests.emulator.test_emulator import call


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def rerun(emulator: DataArtsEmulator, job: str) -> str:
    instance = emulator.state.rerun(emulator.job_id(job), 1)
    instance.finish_at = time.time()  # finished now
    return str(instance.id)


def test_an_alarming_quality_instance_shows_every_sub_rule_and_its_rows(emulator: DataArtsEmulator) -> None:
    instance_id = rerun(emulator, "orders_freshness")
    status, kind, page = get(emulator.console_url.format(instance_id=instance_id))
    assert (status, kind) == (200, "text/html; charset=utf-8")
    assert f"<h1>Quality instance {instance_id} " in page and ">ALARMING</span>" in page
    assert "quality job <b>orders_freshness</b>" in page
    assert "Sub-rules: 4, 2 alarming" in page
    for sub_rule in emulator.state.instances[int(instance_id)].results:
        assert sub_rule["sub_rule_id"] in page and sub_rule["sub_instance_instance_id"] in page
    assert page.count('<tr class="alarm">') == 2
    assert "Status: false" in page and "Abnormal Rows: 13" in page
    assert 'http-equiv="refresh"' not in page


def test_a_running_instance_reloads_until_it_ends(emulator: DataArtsEmulator) -> None:
    instance = emulator.state.rerun(emulator.job_id("orders_completeness"), 1)
    instance.finish_at = time.time() + 60
    _, _, page = get(emulator.console_url.format(instance_id=instance.id))
    assert ">RUNNING</span>" in page and 'http-equiv="refresh"' in page


def test_a_script_instance_shows_its_params_and_rows(emulator: DataArtsEmulator) -> None:
    status, body = call(
        emulator, "POST", "/v1/p1/scripts/daily_orders_sql/execute", body={"params": {"date": "2026-11-30"}}
    )
    assert status == 200
    instance_id = body.decode().split('"')[-2]
    script_instance = emulator.state.script_instances[instance_id]
    script_instance.running_at = script_instance.finish_at = time.time()  # finished now
    status, _, page = get(f"{emulator.url}/console/scripts/daily_orders_sql/instances/{instance_id}")
    assert status == 200
    assert ">FINISHED</span>" in page and "date=2026-11-30" in page
    assert "<th>order_date</th><th>region</th><th>orders</th><th>revenue</th>" in page
    assert "<td>2026-11-30</td><td>north</td><td>412</td><td>18234.5</td>" in page


def test_the_index_links_recent_instances(emulator: DataArtsEmulator) -> None:
    instance_id = rerun(emulator, "orders_completeness")
    status, _, page = get(f"{emulator.url}/console/")
    assert status == 200
    assert f'href="/console/quality/instances/{instance_id}"' in page


def test_unknown_pages_are_404_and_text_is_escaped(emulator: DataArtsEmulator) -> None:
    assert get(f"{emulator.url}/console/quality/instances/42")[0] == 404
    emulator.add_quality_job("<script>alert(1)</script>")
    instance_id = rerun(emulator, "<script>alert(1)</script>")
    _, _, page = get(emulator.console_url.format(instance_id=instance_id))
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_a_job_instance_shows_its_params_and_every_node(emulator: DataArtsEmulator) -> None:
    nodes = [{"name": "extract", "seconds": 0.01}, {"name": "load", "seconds": 0.01}]
    emulator.add_factory_job("paged_job", nodes=nodes)
    instance = emulator.state.factory.run_immediate(
        "paged_job", {"jobParams": [{"name": "day", "value": "2026-12-01", "type": "variable"}]}
    )
    time.sleep(0.05)
    status, _, page = get(emulator.job_console_url.format(job_name="paged_job", instance_id=instance.id))
    assert status == 200
    assert f"Job instance {instance.id}" in page and "day=2026-12-01" in page
    assert "extract" in page and "load" in page and "obs://dlf-log-p1/paged_job" in page
    assert get(emulator.job_console_url.format(job_name="paged_job", instance_id="1"))[0] == 404
