"""The sans-IO client core: paths, answers and errors, the retry policy, connection settings."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from airflow_provider_dataarts.client.config import DataArtsConfig
from airflow_provider_dataarts.client.core import ApiRequest, path, query, read_answer, segment, should_retry
from airflow_provider_dataarts.client.operations import normalize_instance
from airflow_provider_dataarts.exceptions import (
    DataArtsAPIError,
    DataArtsConfigError,
    DataArtsConnectionError,
)

GET = ApiRequest("GET", "quality", "/v2/p/quality/instances")
RERUN = ApiRequest("POST", "quality", "/v2/p/quality/instances/restart", replayable=False)


@pytest.mark.parametrize("value", ["a/b", "..%2F", "x?y=1", "50%", "#frag", "中 😀", "a b"])
def test_a_segment_is_encoded_whole(value: str) -> None:
    built = path("v1", "p", "scripts", segment(value, "script_name"), "execute")
    assert built.count("/") == 5
    assert built.startswith("/v1/p/scripts/")
    assert "?" not in built
    assert "#" not in built


@pytest.mark.parametrize("value", ["", "  ", ".", "..", "a\nb", "a\rb", "\x00", "x\x7f"])
def test_unusable_segments_are_refused_naming_the_parameter(value: str) -> None:
    with pytest.raises(DataArtsConfigError, match="instance_id"):
        segment(value, "instance_id")


def test_query_leaves_out_unset_values_and_spells_booleans_as_the_api() -> None:
    assert query(name=None, task_type="", limit=100, flag=True) == (("limit", "100"), ("flag", "true"))


def test_19_digit_ids_stay_exact() -> None:
    body = b'{"count": 1, "resources": [{"id": 1012386207306600449, "task_id": 1012385458115825701}]}'
    answer = read_answer(GET, 200, {}, body)
    item = normalize_instance(answer["resources"][0])
    assert item["id"] == "1012386207306600449"
    assert item["task_id"] == "1012385458115825701"


def test_old_docs_field_name_is_unified() -> None:
    assert normalize_instance({"id": 1, "notity_status": "SUCCESS"})["notify_status"] == "SUCCESS"


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            b'{"error_code": "DQC.1001", "error_msg": "The job does not exist."}',
            "DQC.1001",
            "The job does not exist.",
        ),
        (
            b'{"errorCode": "DLF.6201", "errorMsg": "The script does not exist."}',
            "DLF.6201",
            "The script does not exist.",
        ),
        (b'{"code": "APIG.0308", "message": "throttled"}', "APIG.0308", "throttled"),
        (b'{"error": {"code": 401, "message": "The username or password is wrong."}}', "401", "wrong"),
        (b"<html><body>502 Bad Gateway</body></html>", None, "502 Bad Gateway"),
        (b"", None, ""),
    ],
)
def test_error_bodies_in_every_shape(body: bytes, code: str | None, message: str) -> None:
    headers = {"X-Request-Id": "req-1", "Retry-After": "3"}
    with pytest.raises(DataArtsAPIError) as caught:
        read_answer(GET, 429, headers, body)
    error = caught.value
    assert (error.status_code, error.error_code, error.request_id, error.retry_after) == (
        429,
        code,
        "req-1",
        3.0,
    )
    assert message in error.error_msg
    assert (error.method, error.path) == ("GET", "/v2/p/quality/instances")


@pytest.mark.parametrize("body", [b"{not json", b"   "])
def test_a_broken_2xx_answer_is_malformed(body: bytes) -> None:
    with pytest.raises(DataArtsAPIError) as caught:
        read_answer(GET, 200, {}, body)
    assert caught.value.malformed


def test_no_body_is_fine_where_none_is_expected() -> None:
    stop = ApiRequest("POST", "factory", "/v1/p/scripts/s/instances/i/stop", expects_body=False)
    assert read_answer(stop, 204, {}, b"") is None


def api_error(status: int, code: str | None = None, malformed: bool = False) -> DataArtsAPIError:
    return DataArtsAPIError(
        "x", status_code=status, error_code=code, method="GET", path="/", malformed=malformed
    )


@pytest.mark.parametrize(
    ("error", "read", "rerun"),
    [
        (api_error(429, "APIG.0308"), True, True),
        (api_error(503, "APIG.0613"), True, True),
        (api_error(503, "DQC.0500"), True, False),  # from the service, not the gateway: it may have run
        (api_error(500), True, False),
        (api_error(502, "APIG.0201"), True, False),
        (api_error(504, "APIG.0201"), True, False),
        (api_error(400, "DQC.0003"), False, False),
        (api_error(401, "APIG.0301"), False, False),
        (api_error(403), False, False),
        (api_error(404, "APIG.0101"), False, False),
        (api_error(200, malformed=True), True, False),
        (DataArtsConnectionError("refused", may_have_arrived=False, method="POST", path="/"), True, True),
        (DataArtsConnectionError("reset", may_have_arrived=True, method="POST", path="/"), True, False),
        (ValueError("a bug"), False, False),
    ],
)
def test_retry_policy(error: BaseException, read: bool, rerun: bool) -> None:
    assert should_retry(error, GET) is read
    assert should_retry(error, RERUN) is rerun


def test_errors_survive_pickling_and_carry_no_credentials() -> None:
    error = DataArtsAPIError(
        "throttled",
        status_code=429,
        error_code="APIG.0308",
        method="GET",
        path="/v2/p",
        request_id="r",
        retry_after=2,
    )
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is DataArtsAPIError
    assert (again.status_code, again.error_code, again.request_id, again.retry_after) == (
        429,
        "APIG.0308",
        "r",
        2,
    )
    assert str(again) == str(error)
    assert "APIG.0308" in str(error)
    assert "/v2/p" in str(error)


def config(**changes: Any) -> DataArtsConfig:
    fields: dict[str, Any] = {
        "conn_id": "c",
        "host": "https://dayu.cn-north-4.myhuaweicloud.com",
        "login": "AK",
        "password": "SK-secret-value",
        "extra": {"project_id": "p1", "workspace": "w1"},
    }
    extra = changes.pop("extra", {})
    fields.update(changes)
    fields["extra"] = {**fields["extra"], **extra}
    return DataArtsConfig.from_connection(**fields)


def test_endpoints_follow_the_host_and_region() -> None:
    default = config()
    assert default.endpoint == "https://dayu.cn-north-4.myhuaweicloud.com"
    assert default.factory_endpoint == "https://dayu-dlf.cn-north-4.myhuaweicloud.com"
    assert default.iam_endpoint == "https://iam.cn-north-4.myhuaweicloud.com"
    assert (default.timeout, default.max_retries, default.verify, default.auth_type) == (60, 5, True, "aksk")
    by_region = config(host="", extra={"region": "ap-southeast-1"})
    assert by_region.endpoint == "https://dayu.ap-southeast-1.myhuaweicloud.com"
    bare = config(host="dayu.eu-west-101.myhuaweicloud.eu")
    assert bare.endpoint == "https://dayu.eu-west-101.myhuaweicloud.eu"
    assert bare.factory_endpoint == "https://dayu-dlf.eu-west-101.myhuaweicloud.eu"
    local = config(host="http://127.0.0.1:8790")
    assert local.factory_endpoint == local.endpoint == "http://127.0.0.1:8790"
    override = config(
        extra={"factory_endpoint": "https://factory.example", "iam_endpoint": "https://iam.example"}
    )
    assert (override.factory_endpoint, override.iam_endpoint) == (
        "https://factory.example",
        "https://iam.example",
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"extra": {"project_id": ""}}, "project_id"),
        ({"extra": {"auth_type": "kerberos"}}, "auth_type"),
        ({"host": "ftp://dayu.example.com"}, "host"),
        ({"host": "http://"}, "host"),
        ({"host": "not a url at all"}, "host"),
        ({"extra": {"factory_endpoint": "ftp://x"}}, "factory_endpoint"),
        ({"extra": {"timeout": "soon"}}, "timeout"),
        ({"extra": {"max_retries": -1}}, "max_retries"),
        ({"password": None}, "password"),
        ({"extra": {"auth_type": "password"}}, "domain_name"),
    ],
)
def test_bad_settings_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(DataArtsConfigError, match=field) as caught:
        config(**changes)
    assert "SK-secret-value" not in str(caught.value)


def test_secrets_are_not_in_the_repr() -> None:
    text = repr(config(extra={"security_token": "temporary-secret-token"}))
    assert "SK-secret-value" not in text
    assert "temporary-secret-token" not in text
