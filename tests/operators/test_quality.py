"""RerunQualityJobOperator: parameters checked at parse time, job names, the console link."""

from __future__ import annotations

import dataclasses

import pytest

from airflow_provider_dataarts.client.config import DataArtsConfig
from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.exceptions import DataArtsConfigError
from airflow_provider_dataarts.links.dataarts import instance_url
from airflow_provider_dataarts.operators.quality import RerunQualityJobOperator
from tests.integration.dagrun import load_dag, run_dag

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.mark.parametrize("rule_type", ["quality", "comparison", 1, 2, "QUALITY", "{{ params.rule_type }}"])
def test_accepted_rule_types(rule_type: object) -> None:
    RerunQualityJobOperator(task_id="rerun", rule_id="1", rule_type=rule_type)  # type: ignore[arg-type]


@pytest.mark.parametrize("rule_type", ["sometimes", 3, "", None])
def test_a_bad_rule_type_fails_when_the_dag_is_parsed(rule_type: object) -> None:
    with pytest.raises(DataArtsConfigError, match="rule_type must be 'quality' or 'comparison'"):
        RerunQualityJobOperator(task_id="rerun", rule_id="1", rule_type=rule_type)  # type: ignore[arg-type]


@pytest.mark.parametrize("given", [{}, {"rule_id": "1", "job_name": "orders"}])
def test_exactly_one_of_rule_id_and_job_name(given: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="exactly one of rule_id and job_name"):
        RerunQualityJobOperator(task_id="rerun", **given)


def test_poll_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="poll_interval"):
        RerunQualityJobOperator(task_id="rerun", rule_id="1", poll_interval=0)


@pytest.mark.usefixtures("airflow_db")
def test_an_unknown_job_name_is_a_clear_failure(
    emulator: DataArtsEmulator, dataarts_conn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = run_dag(load_dag("example_dataarts_quality_wait"), {"job_name": "orders_vs_warehous"})
    assert outcome.states == {"rerun_and_wait": "failed"}
    out = capsys.readouterr()
    assert "job_name 'orders_vs_warehous': no comparison job has exactly that name" in out.out + out.err
    assert "orders_vs_warehouse" in out.out + out.err, "similar names are suggested"
    assert emulator.count("POST", "/restart") == 0


@pytest.mark.usefixtures("airflow_db")
def test_rule_id_from_a_template(emulator: DataArtsEmulator, dataarts_conn: str) -> None:
    dag = load_dag("example_dataarts_quality_gate")
    rule_id = emulator.job_id("orders_completeness")
    outcome = run_dag(
        dag,
        {"rule_id": rule_id},
        quality_gate={"rule_id": "{{ dag_run.conf['rule_id'] }}", "job_name": None, "poll_interval": 0.2},
    )
    assert outcome.states["quality_gate"] == "success"
    (rerun,) = [r for r in emulator.requests if r["method"] == "POST"]
    assert rerun["body"] == {"rule_type": 1, "rule_id": rule_id}
    lookups = [r for r in emulator.requests if r["path"].endswith("/quality-tasks")]
    assert lookups == [], "no lookup by name when the id is given (the job's detail is read for its tables)"


def test_console_link_default_and_override() -> None:
    base = DataArtsConfig.from_connection(
        conn_id="c",
        host="https://dayu.cn-north-4.myhuaweicloud.com",
        login="AK",
        password="SK",
        extra={"project_id": "p1", "workspace": "ws1"},
    )
    assert instance_url(base, "1012386207306600449") == (
        "https://console.huaweicloud.com/dataartsstudio/?region=cn-north-4#/dq/taskMonitor"
        "?projectId=p1&workspace=ws1&instanceId=1012386207306600449"
    )
    custom = dataclasses.replace(base, console_url="https://console.example/{workspace}/{instance_id}")
    assert instance_url(custom, "7") == "https://console.example/ws1/7"


@pytest.mark.usefixtures("airflow_db")
def test_quality_result_names_the_table_each_sub_rule_checked(
    emulator: DataArtsEmulator, dataarts_conn: str
) -> None:
    """From the job's detail (the result API does not say): what the DataArts tab shows."""
    outcome = run_dag(load_dag("example_dataarts_quality_gate"), quality_gate={"poll_interval": 0.2})
    result = outcome.xcom("quality_gate", "quality_result")
    job = emulator.state.job_by_name(str(result["instance"]["name"]))
    assert result["sub_rules"], "the job has sub-rules"
    for sub_rule in result["sub_rules"]:
        assert sub_rule["table"] == f"{job.database}.{job.table}"
    assert emulator.count("GET", f"/quality/quality-tasks/{job.id}") == 1, "one detail read"
