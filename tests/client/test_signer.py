"""SDK-HMAC-SHA256: the NOTES.md test vectors, agreement with huaweicloudsdkcore, and verify()."""

from __future__ import annotations

import copy
import hashlib
import json
import time
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from airflow_provider_dataarts.client import core, signer
from airflow_provider_dataarts.client.config import DataArtsConfig
from airflow_provider_dataarts.client.core import ApiRequest, encode_body, path, prepare, segment

AK, SK = "AKTESTEXAMPLE", "SKTESTEXAMPLESECRET"
PROJECT = "0123456789abcdef0123456789abcdef"
HOST = "dayu.cn-north-4.myhuaweicloud.com"
SDK_DATE = "20240101T000000Z"
SDK_DATE_EPOCH = 1704067200  # 2024-01-01T00:00:00Z
VECTOR_HEADERS = {
    "Content-Type": "application/json",
    "X-Project-Id": PROJECT,
    "workspace": "ws-1",
    "X-Sdk-Date": SDK_DATE,
    "Host": HOST,
}


# --- NOTES.md vectors ------------------------------------------------------------------------------


def test_vector_a_get_with_unicode_query() -> None:
    resource = f"/v2/{PROJECT}/quality/instances"
    query = [("run_status", "RUNNING"), ("name", "my job/中"), ("limit", "100"), ("offset", "0")]

    assert signer.canonical_query(query) == "limit=100&name=my%20job%2F%E4%B8%AD&offset=0&run_status=RUNNING"
    names = signer.signed_header_names(VECTOR_HEADERS)
    assert ";".join(names) == "content-type;host;workspace;x-project-id;x-sdk-date"
    canonical = signer.canonical_request("GET", resource, query, VECTOR_HEADERS, names, b"")
    assert canonical.split("\n")[1] == resource + "/"  # the canonical URI always ends in "/"
    assert canonical.endswith("\n" + signer.EMPTY_BODY_SHA256)
    assert signer.EMPTY_BODY_SHA256.startswith("e3b0c442") and signer.EMPTY_BODY_SHA256.endswith("b855")

    signed = signer.sign("GET", resource, query, dict(VECTOR_HEADERS), b"", AK, SK)
    assert signed["Authorization"] == (
        f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=content-type;host;workspace;x-project-id;x-sdk-date, "
        "Signature=c8e0bb460538abb98568b75e75bdfbf7fb0b57c4771edba1afbf402c4bcffedd"
    )


def test_vector_b_post_with_body() -> None:
    resource = f"/v1/{PROJECT}/scripts/my_script/execute"
    body = b'{"params": {"a": "1"}}'
    headers = {**VECTOR_HEADERS, "Content-Type": "application/json;charset=UTF-8"}

    body_hash = "3b67ff9e128cfa96414b1ea6d5b5146514afdb8d7207183864911718ffdce02c"
    assert hashlib.sha256(body).hexdigest() == body_hash
    names = signer.signed_header_names(headers)
    canonical = signer.canonical_request("POST", resource, [], headers, names, body)
    assert canonical.split("\n")[2] == ""  # no query
    assert canonical.endswith("\n" + body_hash)

    signed = signer.sign("POST", resource, [], headers, body, AK, SK)
    assert signed["Authorization"] == (
        f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=content-type;host;workspace;x-project-id;x-sdk-date, "
        "Signature=cea0ea9a8bcb8a62eca4962e6663a46f41a622fc54b6e316757a8a2192e35cd6"
    )


def test_sign_keeps_the_given_headers_and_adds_only_authorization() -> None:
    headers = dict(VECTOR_HEADERS)
    signed = signer.sign("GET", "/v2/p/quality/instances", [], headers, b"", AK, SK)
    assert headers == VECTOR_HEADERS  # the caller's dict is not changed
    assert set(signed) == {*VECTOR_HEADERS, "Authorization"}


# --- agreement with huaweicloudsdkcore ------------------------------------------------------------


def sdk_sign(
    method: str, resource_path: str, query: list[tuple[str, str]], headers: dict[str, str], body: bytes
) -> tuple[str, str]:
    """Authorization and request URI (path?query) as huaweicloudsdkcore's own Signer makes them."""
    request = SdkRequest(
        method=method,
        schema="https",
        host=HOST,
        resource_path=resource_path,
        query_params=copy.deepcopy(list(query)),
        header_params={k: v for k, v in headers.items() if k != "Authorization"},
        body=body or None,
    )
    signed = Signer(SimpleNamespace(ak=AK, sk=SK)).sign(request)
    return signed.header_params["Authorization"], signed.uri


def case(
    name: str,
    *segments: str,
    method: str = "GET",
    query: tuple[tuple[str, str], ...] = (),
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> Any:
    return pytest.param(method, segments, list(query), body, headers or {}, id=name)


HOSTILE = (
    "with space",
    "slash/inside",
    "q?mark",
    "per%cent",
    "%2F",
    "plus+sign",
    "a&b=c",
    "tilde~",
    "中文",
    "😀",
)
SDK_CASES = [
    case("plain-list", "quality", "instances", query=(("limit", "100"), ("offset", "0"))),
    *(case(f"segment-{i}", "scripts", value, "execute", method="POST") for i, value in enumerate(HOSTILE)),
    case("dot-segments-inside", "scripts", "a..b", "..x", "x.."),
    case("space-value", "quality", "instances", query=(("name", "my job"),)),
    case("slash-value", "quality", "instances", query=(("name", "a/b/c"),)),
    case("question-value", "quality", "instances", query=(("name", "what?"),)),
    case("percent-value", "quality", "instances", query=(("name", "100%"), ("note", "%2F%20"))),
    case("plus-amp-eq", "quality", "instances", query=(("name", "a+b&c=d"),)),
    case("tilde-value", "quality", "instances", query=(("name", "~home~"),)),
    case("chinese-value", "quality", "instances", query=(("name", "质量作业"),)),
    case("emoji-value", "quality", "instances", query=(("name", "job 😀🚀"),)),
    case("reserved-key", "quality", "instances", query=(("we ird/key?", "v"),)),
    case("repeated-keys", "quality", "instances", query=(("name", "b"), ("name", "a"), ("name", "a b"))),
    case("empty-values", "quality", "instances", query=(("name", ""), ("creator", ""), ("limit", "1"))),
    case(
        "rerun-body",
        "quality",
        "instances",
        "restart",
        method="POST",
        body={"rule_id": "1012386207306600449"},
    ),
    case(
        "unicode-body", "scripts", "s", "execute", method="POST", body={"params": {"名": "值 😀", "q": "a&b"}}
    ),
    case("body-and-query", "scripts", "s", "execute", method="POST", query=(("x", "1"),), body={"a": [1, 2]}),
    case("workspace", "quality", "instances", headers={"workspace": "ws-1"}),
    case("unicode-workspace", "quality", "instances", headers={"workspace": "工作空间 1"}),
    case("project-id", "quality", "instances", headers={"X-Project-Id": PROJECT}),
    case("security-token", "quality", "instances", headers={"X-Security-Token": "temp-token-ABC=="}),
    case("underscore-header", "quality", "instances", headers={"X_Custom_Header": "unsigned"}),
    case("value-whitespace", "quality", "instances", headers={"workspace": "  padded  "}),
    case(
        "all-headers",
        "scripts",
        "名 字",
        "execute",
        method="POST",
        query=(("name", "a/b"), ("name", "")),
        body={"params": {"a": "1"}},
        headers={
            "workspace": "ws-1",
            "X-Project-Id": PROJECT,
            "X-Security-Token": "tok",
            "User-Agent": "airflow-provider-dataarts",
            "x_request_trace": "unsigned",
        },
    ),
]


@pytest.mark.parametrize(("method", "segments", "query", "body", "extra_headers"), SDK_CASES)
def test_signature_matches_huaweicloudsdkcore(
    method: str, segments: tuple[str, ...], query: list[tuple[str, str]], body: Any, extra_headers: dict
) -> None:
    resource = path("v1", PROJECT, *segments)
    raw_body = encode_body(body)
    headers = {
        "Content-Type": "application/json;charset=UTF-8",
        "Host": HOST,
        "X-Sdk-Date": SDK_DATE,
        **extra_headers,
    }

    ours = signer.sign(method, resource, query, dict(headers), raw_body, AK, SK)["Authorization"]
    expected, sdk_uri = sdk_sign(method, resource, query, headers, raw_body)

    assert ours == expected
    canonical_query = signer.canonical_query(query)
    assert sdk_uri == resource + (f"?{canonical_query}" if canonical_query else "")
    assert not any("_" in name for name in ours.split("SignedHeaders=")[1].split(",")[0].split(";"))


@pytest.fixture
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """core.prepare() stamps X-Sdk-Date from the clock: pin it to SDK_DATE."""
    fake = SimpleNamespace(
        strftime=time.strftime, gmtime=lambda *_: time.gmtime(SDK_DATE_EPOCH), time=time.time
    )
    monkeypatch.setattr(core, "time", fake)


def aksk_config(**extra: Any) -> DataArtsConfig:
    return DataArtsConfig.from_connection(
        conn_id="c", host=f"https://{HOST}", login=AK, password=SK, extra={"project_id": PROJECT, **extra}
    )


@pytest.mark.parametrize(
    ("extra", "request_"),
    [
        pytest.param(
            {"workspace": "ws-1"},
            ApiRequest("GET", "quality", path("v2", PROJECT, "quality", "instances"), (("name", "a/b 中"),)),
            id="list",
        ),
        pytest.param(
            {"workspace": "ws-2.x_y", "security_token": "temporary-token"},
            ApiRequest(
                "POST",
                "quality",
                path("v2", PROJECT, "quality", "instances", "restart"),
                body={"rule_type": 1, "rule_id": "1012386207306600449"},
                replayable=False,
            ),
            id="rerun-temporary-credentials",
        ),
        pytest.param(
            {},
            ApiRequest(
                "POST",
                "factory",
                path("v1", PROJECT, "scripts", segment("my script/中?#%2F", "script_name"), "execute"),
                body={"params": {"日期": "2024-01-01", "emoji": "😀"}},
            ),
            id="execute-hostile-name-no-workspace",
        ),
    ],
)
@pytest.mark.usefixtures("fixed_clock")
def test_prepared_request_is_what_the_sdk_would_sign(extra: dict[str, Any], request_: ApiRequest) -> None:
    config = aksk_config(**extra)
    prepared = prepare(config, request_, None)

    assert prepared.headers["X-Sdk-Date"] == SDK_DATE
    assert prepared.headers["X-Project-Id"] == PROJECT
    assert prepared.headers.get("workspace") == extra.get("workspace")
    assert prepared.headers.get("X-Security-Token") == extra.get("security_token")
    url = urlsplit(prepared.url)
    assert url.path == request_.path
    expected, sdk_uri = sdk_sign(
        request_.method, url.path, list(request_.query), prepared.headers, prepared.body
    )
    assert prepared.headers["Authorization"] == expected
    assert sdk_uri == url.path + (f"?{url.query}" if url.query else "")  # the query actually sent
    if request_.body is not None:
        assert json.loads(prepared.body) == request_.body


def test_prepared_request_never_carries_the_secret_key(fixed_clock: None) -> None:
    prepared = prepare(aksk_config(workspace="w"), ApiRequest("GET", "quality", "/v2/p/x"), None)
    assert SK not in json.dumps(prepared.headers) + prepared.url


# --- verify(): the emulator's gateway check --------------------------------------------------------

BASE = {
    "method": "POST",
    "path": path("v2", "p", "quality", "instances", "restart"),
    "query": [("limit", "100"), ("name", "a b/中")],
    "body": b'{"rule_id":"1"}',
}


def signed_headers() -> dict[str, str]:
    headers = {**VECTOR_HEADERS, "Content-Type": "application/json;charset=UTF-8"}
    return signer.sign(BASE["method"], BASE["path"], BASE["query"], headers, BASE["body"], AK, SK)


def test_verify_accepts_a_good_signature() -> None:
    headers = signed_headers()
    assert signer.verify(BASE["method"], BASE["path"], BASE["query"], headers, BASE["body"], {AK: SK}) == AK
    # HTTP servers may hand over header names in any case and the query pairs in any order
    lowered = {k.lower(): v for k, v in headers.items()}
    shuffled = list(reversed(BASE["query"]))
    assert signer.verify(BASE["method"], BASE["path"], shuffled, lowered, BASE["body"], {AK: SK}) == AK


def test_verify_accepts_what_the_sdk_signed() -> None:
    headers = {**VECTOR_HEADERS}
    authorization, _ = sdk_sign(BASE["method"], BASE["path"], BASE["query"], headers, BASE["body"])
    headers["Authorization"] = authorization
    assert signer.verify(BASE["method"], BASE["path"], BASE["query"], headers, BASE["body"], {AK: SK}) == AK


def _with(headers: dict[str, str], **changes: str) -> dict[str, str]:
    return {**headers, **changes}


@pytest.mark.parametrize(
    ("change", "secrets"),
    [
        pytest.param({"path": path("v2", "p", "quality", "instances", "restart2")}, {AK: SK}, id="path"),
        pytest.param({"method": "PUT"}, {AK: SK}, id="method"),
        pytest.param({"body": b'{"rule_id":"2"}'}, {AK: SK}, id="body"),
        pytest.param({"body": b""}, {AK: SK}, id="body-dropped"),
        pytest.param({"query": [("limit", "101"), ("name", "a b/中")]}, {AK: SK}, id="query-value"),
        pytest.param({"query": [("limit", "100")]}, {AK: SK}, id="query-dropped"),
        pytest.param({"headers": {"X-Sdk-Date": "20240101T000001Z"}}, {AK: SK}, id="date"),
        pytest.param({"headers": {"workspace": "ws-2"}}, {AK: SK}, id="signed-header"),
        pytest.param({}, {AK: "another-secret"}, id="wrong-secret"),
        pytest.param({}, {"OTHER-AK": SK}, id="unknown-access-key"),
        pytest.param({"drop": "X-Sdk-Date"}, {AK: SK}, id="no-date"),
        pytest.param({"drop": "Authorization"}, {AK: SK}, id="no-authorization"),
        pytest.param({"headers": {"Authorization": "Bearer abc"}}, {AK: SK}, id="other-scheme"),
        pytest.param(
            {"headers": {"Authorization": f"SDK-HMAC-SHA256 Access={AK}, Signature=00"}},
            {AK: SK},
            id="no-signed-headers",
        ),
    ],
)
def test_verify_rejects_a_tampered_request(change: dict[str, Any], secrets: dict[str, str]) -> None:
    headers = _with(signed_headers(), **change.get("headers", {}))
    headers.pop(change.get("drop", ""), None)
    request = {**BASE, **{k: v for k, v in change.items() if k in BASE}}
    verdict = signer.verify(
        request["method"], request["path"], request["query"], headers, request["body"], secrets
    )
    assert verdict is None


def test_verify_ignores_an_unsigned_underscore_header() -> None:
    headers = signed_headers()
    assert (
        signer.verify(
            BASE["method"],
            BASE["path"],
            BASE["query"],
            {**headers, "X_Trace": "anything"},
            BASE["body"],
            {AK: SK},
        )
        == AK
    )
