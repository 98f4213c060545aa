"""The sans-IO client core: paths, query pairs, answers and errors, the retry policy."""

from __future__ import annotations

import email.utils
import json
import pickle
import time
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest
import requests
import urllib3.exceptions

from airflow_provider_dataarts.client import aio, sync
from airflow_provider_dataarts.client.config import DataArtsConfig
from airflow_provider_dataarts.client.core import (
    ApiRequest,
    path,
    prepare,
    query,
    read_answer,
    read_token,
    segment,
    should_retry,
    token_request,
)
from airflow_provider_dataarts.exceptions import (
    DataArtsAPIError,
    DataArtsConfigError,
    DataArtsConnectionError,
)

GET = ApiRequest("GET", "quality", "/v2/p/quality/instances")
RERUN = ApiRequest("POST", "quality", "/v2/p/quality/instances/restart", replayable=False)
EXECUTE = ApiRequest("POST", "factory", "/v1/p/scripts/s/execute", replayable=False)
SK = "SK-core-secret-value-0123456789"
TOKEN = "MIItoken-secret-value-abcdef"
IAM_PASSWORD = "iam-password-core-s3cr3t"


# --- paths -------------------------------------------------------------------------------------------

HOSTILE = [
    "a/b",
    "../etc/passwd",
    "..%2F..%2F",
    "x?y=1",
    "50%",
    "%2F",
    "%252F",
    "#frag",
    "a b",
    "a+b&c=d",
    ";jsessionid=1",
    "a\\b",
    "中文脚本",
    "😀",
    "...",
    " .. ",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_segment_stays_one_segment(value: str) -> None:
    built = path("v1", "p", "scripts", segment(value, "script_name"), "instances", "1", "stop")
    assert built.startswith("/v1/p/scripts/")
    assert built.endswith("/instances/1/stop")
    parts = built.split("/")
    assert len(parts) == 8
    assert unquote(parts[4]) == value  # decodes back to exactly what was given
    assert "?" not in built and "#" not in built and " " not in built
    assert built.isascii()


@pytest.mark.parametrize("value", HOSTILE)
def test_both_transports_send_the_path_that_was_signed(value: str) -> None:
    url = "https://dayu.example.com" + path("v1", "p", "scripts", segment(value, "script_name"), "execute")
    assert requests.Request("GET", url).prepare().url == url
    assert httpx.URL(url).raw_path.decode() == urlsplit(url).path


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "must not be empty"),
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        (".", "is not a valid"),
        ("..", "is not a valid"),
        ("a\nb", "is not a valid"),
        ("a\rb", "is not a valid"),
        ("tab\there", "is not a valid"),
        ("nul\x00", "is not a valid"),
        ("del\x7f", "is not a valid"),
    ],
)
def test_an_unusable_segment_is_refused_naming_the_parameter(value: Any, problem: str) -> None:
    with pytest.raises(DataArtsConfigError) as caught:
        segment(value, "instance_id")
    assert str(caught.value).startswith("instance_id ")
    assert problem in str(caught.value)


def test_a_numeric_id_becomes_text() -> None:
    assert segment(1012386207306600449, "instance_id") == "1012386207306600449"


# --- query -------------------------------------------------------------------------------------------


def test_query_drops_unset_values_only() -> None:
    pairs = query(name=None, creator="", offset=0, limit=100, flag=True, off=False, start_time=1661413281000)
    assert pairs == (
        ("offset", "0"),
        ("limit", "100"),
        ("flag", "true"),
        ("off", "false"),
        ("start_time", "1661413281000"),
    )


def test_query_keeps_values_as_given() -> None:
    assert query(name="my job/中 ") == (("name", "my job/中 "),)


# --- answers -----------------------------------------------------------------------------------------


def test_19_digit_ids_survive_exactly() -> None:
    body = (
        b'{"count": 1, "resources": [{"id": 1012386207306600449, "task_id": 1012385458115825701,'
        b' "sub": "1012386190718128129"}]}'
    )
    item = read_answer(GET, 200, {}, body)["resources"][0]
    assert type(item["id"]) is int
    assert item["id"] == 1012386207306600449
    assert str(item["id"]) == "1012386207306600449"
    assert str(item["task_id"]) == "1012385458115825701"
    assert item["sub"] == "1012386190718128129"
    assert float(item["id"]) != item["id"]  # it would not have survived a float


def test_a_2xx_answer_is_json() -> None:
    assert read_answer(RERUN, 200, {}, '{"instance_id": "1", "名": "值"}'.encode()) == {
        "instance_id": "1",
        "名": "值",
    }


@pytest.mark.parametrize("body", [b"{not json", b"<html>ok</html>", b"", b"  \n"])
def test_a_broken_2xx_answer_is_malformed(body: bytes) -> None:
    with pytest.raises(DataArtsAPIError) as caught:
        read_answer(GET, 200, {"X-Request-Id": "req-9"}, body)
    error = caught.value
    assert error.malformed
    assert (error.status_code, error.method, error.path, error.request_id) == (
        200,
        "GET",
        "/v2/p/quality/instances",
        "req-9",
    )


def test_no_body_is_fine_where_none_is_expected() -> None:
    stop = ApiRequest("POST", "factory", "/v1/p/scripts/s/instances/i/stop", expects_body=False)
    assert read_answer(stop, 204, {}, b"") is None


ERROR_BODIES = [
    pytest.param(
        b'{"error_code": "DQC.1001", "error_msg": "The job does not exist."}',
        "DQC.1001",
        "The job does not exist.",
        id="snake",
    ),
    pytest.param(
        b'{"errorCode": "DLF.6201", "errorMsg": "The script does not exist."}',
        "DLF.6201",
        "The script does not exist.",
        id="camel",
    ),
    pytest.param(
        b'{"code": "APIG.0308", "message": "throttled"}', "APIG.0308", "throttled", id="code-message"
    ),
    pytest.param(
        b'{"error": {"code": 401, "message": "The username or password is wrong."}}',
        "401",
        "The username or password is wrong.",
        id="iam",
    ),
    pytest.param(
        '{"error_code": "DQC.0003", "error_msg": "名称无效"}'.encode(), "DQC.0003", "名称无效", id="unicode"
    ),
    pytest.param(b"<html><body><h1>502 Bad Gateway</h1></body></html>", None, "502 Bad Gateway", id="html"),
    pytest.param(b"", None, "empty answer", id="empty"),
    pytest.param(b'{"error_code": "DQC.1', None, '{"error_code": "DQC.1', id="malformed-json"),
    pytest.param(b'["a", "list"]', None, "list", id="json-list"),
]


@pytest.mark.parametrize(("body", "code", "message"), ERROR_BODIES)
@pytest.mark.parametrize("status", [400, 429, 500, 503])
def test_an_error_body_in_any_shape(status: int, body: bytes, code: str | None, message: str) -> None:
    headers = {"X-Request-Id": "req-1", "Retry-After": "3", "Content-Type": "text/html"}
    with pytest.raises(DataArtsAPIError) as caught:
        read_answer(RERUN, status, headers, body)
    error = caught.value
    assert error.status_code == status
    assert error.error_code == code
    assert message in error.error_msg
    assert (error.method, error.path) == ("POST", "/v2/p/quality/instances/restart")
    assert error.request_id == "req-1"
    assert error.retry_after == 3.0
    assert not error.malformed
    text = str(error)
    assert f"HTTP {status}" in text
    assert "POST /v2/p/quality/instances/restart" in text
    assert "req-1" in text
    if code:
        assert code in text


def test_the_request_id_header_in_lower_case() -> None:
    with pytest.raises(DataArtsAPIError) as caught:
        read_answer(GET, 404, {"x-request-id": "abc", "retry-after": "1.5"}, b"")
    assert (caught.value.request_id, caught.value.retry_after) == ("abc", 1.5)


def test_a_long_html_page_is_cut_short() -> None:
    body = b"<html>" + b"x" * 10_000 + b"</html>"
    with pytest.raises(DataArtsAPIError) as caught:
        read_answer(GET, 502, {}, body)
    assert len(str(caught.value)) < 500


def retry_after_of(value: str) -> float | None:
    with pytest.raises(DataArtsAPIError) as caught:
        read_answer(GET, 429, {"Retry-After": value}, b'{"error_code": "APIG.0308", "error_msg": "x"}')
    return caught.value.retry_after


def test_retry_after_in_seconds() -> None:
    assert retry_after_of("7") == 7.0
    assert retry_after_of("-5") == 0.0


def test_retry_after_as_an_http_date() -> None:
    assert retry_after_of("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: no wait
    future = email.utils.formatdate(time.time() + 120, usegmt=True)
    assert 100 < retry_after_of(future) <= 121


def test_a_malformed_retry_after_is_ignored() -> None:
    assert retry_after_of("soon") is None


# --- retry policy ------------------------------------------------------------------------------------


def api_error(status: int, code: str | None = None, malformed: bool = False) -> DataArtsAPIError:
    return DataArtsAPIError(
        "x", status_code=status, error_code=code, method="GET", path="/", malformed=malformed
    )


def connection_error(*, arrived: bool) -> DataArtsConnectionError:
    return DataArtsConnectionError("boom", may_have_arrived=arrived, method="POST", path="/")


RETRY_CASES = [
    # error, replayable GET retried?, non-replayable POST retried?
    pytest.param(connection_error(arrived=False), True, True, id="refused-or-connect-timeout"),
    pytest.param(connection_error(arrived=True), True, False, id="reset-or-read-timeout"),
    pytest.param(api_error(429, "APIG.0308"), True, True, id="429-gateway"),
    pytest.param(api_error(429), True, True, id="429-no-code"),
    pytest.param(api_error(503, "APIG.0613"), True, True, id="503-gateway"),
    pytest.param(api_error(503, "DQC.0500"), True, False, id="503-service"),
    pytest.param(api_error(503), True, False, id="503-no-code"),
    pytest.param(api_error(500), True, False, id="500"),
    pytest.param(api_error(500, "APIG.1000"), True, False, id="500-gateway"),
    pytest.param(api_error(502, "APIG.0201"), True, False, id="502"),
    pytest.param(api_error(504, "APIG.0201"), True, False, id="504"),
    pytest.param(api_error(400, "DQC.0003"), False, False, id="400"),
    pytest.param(api_error(401, "APIG.0301"), False, False, id="401"),
    pytest.param(api_error(403, "APIG.0302"), False, False, id="403"),
    pytest.param(api_error(404, "APIG.0101"), False, False, id="404"),
    pytest.param(api_error(409), False, False, id="409"),
    pytest.param(api_error(200, malformed=True), True, False, id="cut-answer"),
    pytest.param(DataArtsAPIError("TLS failed", method="GET", path="/"), False, False, id="tls"),
    pytest.param(ValueError("a bug"), False, False, id="bug"),
]


@pytest.mark.parametrize(("error", "read", "post"), RETRY_CASES)
def test_retry_policy(error: BaseException, read: bool, post: bool) -> None:
    assert should_retry(error, GET) is read
    assert should_retry(error, RERUN) is post
    assert should_retry(error, EXECUTE) is post


def _refused() -> requests.RequestException:
    reason = urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection: refused")
    return requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", reason))


def _dns_failure() -> requests.RequestException:
    reason = urllib3.exceptions.NameResolutionError("dayu.example", None, OSError("no such host"))
    return requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", reason))


def _connect_timeout() -> requests.RequestException:
    reason = urllib3.exceptions.ConnectTimeoutError(None, "connect timed out")
    return requests.exceptions.ConnectTimeout(urllib3.exceptions.MaxRetryError(None, "/", reason))


def _read_timeout() -> requests.RequestException:
    return requests.exceptions.ReadTimeout(urllib3.exceptions.ReadTimeoutError(None, "/", "read timed out"))


def _reset() -> requests.RequestException:
    reason = urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))
    return requests.exceptions.ConnectionError(reason)


@pytest.mark.parametrize(
    ("make", "arrived"),
    [
        pytest.param(_refused, False, id="refused"),
        pytest.param(_dns_failure, False, id="dns"),
        pytest.param(_connect_timeout, False, id="connect-timeout"),
        pytest.param(_read_timeout, True, id="read-timeout"),
        pytest.param(_reset, True, id="reset"),
    ],
)
def test_sync_transport_knows_when_a_request_surely_did_not_arrive(make: Any, arrived: bool) -> None:
    assert sync._may_have_arrived(make()) is arrived


@pytest.mark.parametrize(
    ("error", "sent"),
    [
        pytest.param(httpx.ConnectError("refused"), False, id="refused"),
        pytest.param(httpx.ConnectTimeout("connect"), False, id="connect-timeout"),
        pytest.param(httpx.PoolTimeout("pool"), False, id="pool-timeout"),
        pytest.param(httpx.ReadTimeout("read"), True, id="read-timeout"),
        pytest.param(httpx.WriteTimeout("write"), True, id="write-timeout"),
        pytest.param(httpx.RemoteProtocolError("closed"), True, id="closed"),
        pytest.param(httpx.ReadError("reset"), True, id="reset"),
    ],
)
def test_async_transport_knows_when_a_request_surely_did_not_arrive(error: Exception, sent: bool) -> None:
    assert isinstance(error, aio._not_sent()) is not sent


# --- errors: picklable, and never a credential --------------------------------------------------------


def test_an_api_error_survives_pickling() -> None:
    error = DataArtsAPIError(
        "throttled",
        status_code=429,
        error_code="APIG.0308",
        method="GET",
        path="/v2/p",
        request_id="r-1",
        retry_after=2.0,
        malformed=False,
    )
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is DataArtsAPIError
    assert (again.error_msg, again.status_code, again.error_code, again.method, again.path) == (
        "throttled",
        429,
        "APIG.0308",
        "GET",
        "/v2/p",
    )
    assert (again.request_id, again.retry_after, again.malformed) == ("r-1", 2.0, False)
    assert str(again) == str(error)
    assert repr(again) == repr(error)


def test_a_connection_error_survives_pickling() -> None:
    error = DataArtsConnectionError("refused", may_have_arrived=False, method="POST", path="/v2/p/restart")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is DataArtsConnectionError
    assert again.may_have_arrived is False
    assert should_retry(again, RERUN) is True
    assert str(again) == str(error)


def config(auth_type: str) -> DataArtsConfig:
    login, password, extra = {
        "aksk": ("AK-core", SK, {"security_token": "security-token-secret-0042"}),
        "password": ("iam-user", IAM_PASSWORD, {"domain_name": "acct"}),
        "token": (None, TOKEN, {}),
    }[auth_type]
    return DataArtsConfig.from_connection(
        conn_id="c",
        host="https://dayu.cn-north-4.myhuaweicloud.com",
        login=login,
        password=password,
        extra={"project_id": "p1", "workspace": "w1", "auth_type": auth_type, **extra},
    )


SECRETS = (SK, TOKEN, IAM_PASSWORD, "security-token-secret-0042")


def assert_no_secret(error: BaseException) -> None:
    for text in (str(error), repr(error), repr(pickle.loads(pickle.dumps(error)).__dict__)):
        for secret in SECRETS:
            assert secret not in text


@pytest.mark.parametrize("auth_type", ["aksk", "password", "token"])
@pytest.mark.parametrize(
    ("status", "body"), [(401, b'{"error_code": "APIG.0301", "error_msg": "bad"}'), (200, b"<")]
)
def test_errors_carry_no_credential(auth_type: str, status: int, body: bytes) -> None:
    cfg = config(auth_type)
    request = ApiRequest("POST", "quality", "/v2/p1/quality/instances/restart", body={"rule_id": "1"})
    prepared = prepare(cfg, request, TOKEN)  # the request that went out had the credentials
    assert prepared.headers.get("X-Auth-Token") == (TOKEN if auth_type != "aksk" else None)
    with pytest.raises(DataArtsAPIError) as caught:
        read_answer(request, status, {"X-Request-Id": "r"}, body)
    assert_no_secret(caught.value)


@pytest.mark.parametrize("status", [400, 401, 500])
def test_an_iam_refusal_carries_no_password(status: int) -> None:
    request = token_request(config("password"))
    assert IAM_PASSWORD in json.dumps(request.body)  # the request had it
    body = (
        b'{"error": {"code": "'
        + str(status).encode()
        + b'", "message": "The username or password is wrong."}}'
    )
    with pytest.raises(DataArtsAPIError) as caught:
        read_token(request, status, {}, body)
    assert caught.value.status_code == status
    assert "password is wrong" in str(caught.value)
    assert_no_secret(caught.value)
