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


def test_verdicts_of_one_job_read_its_definition_once_per_process_until_it_expires(
    dataarts_conn: str, emulator: DataArtsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each verdict names its checked tables and builds its lineage from the job's definition."""
    import logging

    from airflow_provider_dataarts.hooks import dataarts
    from airflow_provider_dataarts.openlineage_facets import quality_lineage
    from airflow_provider_dataarts.quality_policy import QualityPolicy
    from airflow_provider_dataarts.results.quality import judge

    job_id = emulator.job_id("orders_freshness")
    path = f"/quality/quality-tasks/{job_id}"
    log = logging.getLogger("test")
    instance = {"task_id": job_id, "task_type": "QUALITY_TASK", "name": "orders_freshness"}
    sub_rule_id = str(emulator.state.job_by_name("orders_freshness").sub_rule_ids[0])

    def verdict() -> list[dict[str, str]]:
        hook = DataArtsHook(dataarts_conn)  # a new task, a new hook: the same worker process
        sub_rules = [{"sub_rule_id": sub_rule_id}]
        judge(hook, instance, sub_rules, QualityPolicy(fail_on_alarm=True, warn_only=()), log)
        quality_lineage(hook, {"instance": instance, "sub_rules": sub_rules}, fail_on_alarm=True, log=log)
        return sub_rules

    first = verdict()
    assert first[0]["table"] == "sales.orders"
    assert [verdict() for _ in range(3)] == [first] * 3
    assert emulator.count("GET", path) == 1, "one read for four verdicts and their lineage"

    monkeypatch.setattr(dataarts, "DEFINITION_TTL", 0.0)
    dataarts.DEFINITIONS.clear()
    DataArtsHook(dataarts_conn).get_quality_job_definition(job_id)  # read, kept for 0 s
    DataArtsHook(dataarts_conn).get_quality_job_definition(job_id)
    assert emulator.count("GET", path) == 3, "an expired definition is read again"


def test_the_definition_cache_is_bounded(dataarts_conn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_dataarts.hooks import dataarts

    monkeypatch.setattr(dataarts, "DEFINITION_CACHE_SIZE", 2)
    cache = dataarts.DefinitionCache()
    for key in "abc":
        cache.put(key, {"id": key})
    assert cache.get("a") is None and cache.get("b") == {"id": "b"} and cache.get("c") == {"id": "c"}
