"""The job detail calls (quality and comparison jobs) through the hook, against the emulator."""

from __future__ import annotations

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.exceptions import DataArtsAPIError
from airflow_provider_dataarts.hooks.dataarts import DataArtsHook


def test_a_quality_job_detail_names_table_and_column_of_each_sub_rule(
    dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    job_id = emulator.job_id("orders_freshness")
    detail = DataArtsHook(dataarts_conn).get_quality_job(job_id)

    assert emulator.count("GET", f"/quality/quality-tasks/{job_id}") == 1
    assert detail["id"] == job_id and detail["name"] == "orders_freshness"
    assert isinstance(detail["category_id"], str)
    job = emulator.state.job_by_name("orders_freshness")
    assert [rule["id"] for rule in detail["sub_rules"]] == [str(i) for i in job.sub_rule_ids]
    first = detail["sub_rules"][0]
    assert (first["databases"], first["tables"], first["columns"]) == ("sales", "orders", "region")
    assert (first["sub_rule_name"], first["dimension"], first["alarm_condition"]) == (
        "region_not_null",
        "Completeness",
        "${1}>0",
    )
    assert first["connection"] == "dws_sales" and first["type"] == "SingleColumn"
    assert isinstance(first["template_id"], str)
    assert detail["sub_rules"][2]["columns"] == ""  # a table-level rule names no column


def test_a_comparison_job_detail_pairs_each_sub_rule_with_its_reference_table(
    dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    job_id = emulator.job_id("orders_vs_warehouse")
    detail = DataArtsHook(dataarts_conn).get_quality_job(job_id, "comparison")

    assert emulator.count("GET", f"/quality/consistency-tasks/{job_id}") == 1
    assert len(detail["sub_rules"]) == 2
    for pair in detail["sub_rules"]:
        assert isinstance(pair, list) and len(pair) == 2
        assert all(isinstance(rule["id"], str) and len(rule["id"]) == 19 for rule in pair)
        assert [(rule["connection"], rule["databases"]) for rule in pair] == [
            ("dws_sales", "sales"),
            ("dli_warehouse", "warehouse"),
        ]


@pytest.mark.parametrize(("job", "rule_type"), [("orders_vs_warehouse", "quality"), ("orders_freshness", 2)])
def test_a_job_of_the_other_kind_is_not_found(
    job: str, rule_type: str | int, dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    with pytest.raises(DataArtsAPIError) as error:
        DataArtsHook(dataarts_conn).get_quality_job(emulator.job_id(job), rule_type)
    assert error.value.status_code == 400 and error.value.error_code == "DQC.1001"


def test_a_seeded_job_can_name_its_own_table(dataarts_conn: str, emulator: DataArtsEmulator) -> None:
    job_id = emulator.add_quality_job(
        "customers_checks", database="crm", table="customers", columns=["email", "phone"], sub_rules=2
    )
    detail = DataArtsHook(dataarts_conn).get_quality_job(job_id)
    assert [(r["databases"], r["tables"], r["columns"]) for r in detail["sub_rules"]] == [
        ("crm", "customers", "email"),
        ("crm", "customers", "phone"),
    ]
