"""A sub-rule result list of the wrong shape is the service's error, named by its call."""

from __future__ import annotations

import json
from typing import Any

import pytest
import responses

from airflow_provider_dataarts.exceptions import DataArtsAPIError
from airflow_provider_dataarts.hooks.dataarts import DataArtsHook

HOST = "https://dayu.cn-north-4.myhuaweicloud.com"


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> DataArtsHook:
    conn = {
        "conn_type": "dataarts",
        "host": HOST,
        "login": "AK",
        "password": "SK",
        "extra": {"project_id": "p1", "workspace": "w1", "max_retries": 0},
    }
    monkeypatch.setenv("AIRFLOW_CONN_DATAARTS_SHAPES", json.dumps(conn))
    return DataArtsHook("dataarts_shapes")


@pytest.mark.parametrize(
    "results",
    [{"Total Rows": "4"}, "4 rows", [["Total Rows", "4"]], 7],
    ids=["a dict", "a string", "rows that are lists", "a number"],
)
@responses.activate
def test_sub_rule_results_that_are_not_a_list_of_rows_fail_naming_the_call(
    hook: DataArtsHook, results: Any
) -> None:
    responses.get(
        f"{HOST}/v2/p1/quality/instances/1012386190718128129/result",
        json={"count": 1, "resources": [{"sub_rule_id": 5, "results": results}]},
    )
    with pytest.raises(DataArtsAPIError) as caught:
        hook.get_quality_instance_results("1012386190718128129")
    message = str(caught.value)
    assert "GET /v2/p1/quality/instances/1012386190718128129/result" in message
    assert "results" in message


@responses.activate
def test_a_sub_rule_without_results_has_none(hook: DataArtsHook) -> None:
    responses.get(
        f"{HOST}/v2/p1/quality/instances/1/result",
        json={"count": 2, "resources": [{"sub_rule_id": 5}, {"sub_rule_id": 6, "results": None}]},
    )
    assert [s["results"] for s in hook.get_quality_instance_results("1")] == [[], []]
