"""SDK-HMAC-SHA256: the NOTES.md test vectors, and our requests signed as huaweicloudsdkcore signs them."""

from __future__ import annotations

import hashlib
import json
import random
from types import SimpleNamespace
from typing import Any

import pytest
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from airflow_provider_dataarts.client import signer
from airflow_provider_dataarts.client.config import DataArtsConfig
from airflow_provider_dataarts.client.core import ApiRequest, path, prepare

AK, SK = "AKTESTEXAMPLE", "SKTESTEXAMPLESECRET"
PROJECT = "0123456789abcdef0123456789abcdef"
HOST = "dayu.cn-north-4.myhuaweicloud.com"
BASE_HEADERS = {
    "Content-Type": "application/json",
    "X-Project-Id": PROJECT,
    "workspace": "ws-1",
    "X-Sdk-Date": "20240101T000000Z",
    "Host": HOST,
}


def test_vector_a_get_with_unicode_query() -> None:
    query = [("run_status", "RUNNING"), ("name", "my job/中"), ("limit", "100"), ("offset", "0")]
    assert signer.canonical_query(query) == "limit=100&name=my%20job%2F%E4%B8%AD&offset=0&run_status=RUNNING"
    assert signer.signed_header_names(BASE_HEADERS) == [
        "content-type",
        "host",
        "workspace",
        "x-project-id",
        "x-sdk-date",
    ]
    signed = signer.sign("GET", f"/v2/{PROJECT}/quality/instances", query, dict(BASE_HEADERS), b"", AK, SK)
    assert signed["Authorization"] == (
        f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=content-type;host;workspace;x-project-id;x-sdk-date, "
        "Signature=c8e0bb460538abb98568b75e75bdfbf7fb0b57c4771edba1afbf402c4bcffedd"
    )


def test_vector_b_post_with_body() -> None:
    body = b'{"params": {"a": "1"}}'
    assert (
        hashlib.sha256(body).hexdigest() == "3b67ff9e128cfa96414b1ea6d5b5146514afdb8d7207183864911718ffdce02c"
    )
    headers = {**BASE_HEADERS, "Content-Type": "application/json;charset=UTF-8"}
    signed = signer.sign("POST", f"/v1/{PROJECT}/scripts/my_script/execute", [], headers, body, AK, SK)
    assert signed["Authorization"].endswith(
        "Signature=cea0ea9a8bcb8a62eca4962e6663a46f41a622fc54b6e316757a8a2192e35cd6"
    )


def sdk_authorization(
    method: str, encoded_path: str, query: list[tuple[str, str]], headers: dict[str, str], body: bytes
) -> str:
    """What huaweicloudsdkcore's own Signer puts in Authorization for the same request."""
    request = SdkRequest(
        method=method,
        schema="https",
        host=HOST,
        resource_path=encoded_path,
        query_params=list(query),
        header_params={k: v for k, v in headers.items() if k != "Authorization"},
        body=body or None,
    )
    return Signer(SimpleNamespace(ak=AK, sk=SK)).sign(request).header_params["Authorization"]


SEGMENTS = [
    "plain",
    "with space",
    "slash/inside",
    "q?mark",
    "per%cent",
    "plus+sign",
    "amp&eq=",
    "tilde~",
    "中文",
    "😀",
    "..x",
]
VALUES = [
    "",
    "RUNNING",
    "my job/中",
    "a+b",
    "a&b=c",
    "100%",
    "~tilde",
    "line\ttab",
    "emoji 😀",
    "1661413281000",
]


def generated_cases(count: int) -> list[dict[str, Any]]:
    rng = random.Random(20240101)
    cases = []
    for number in range(count):
        method = "POST" if number % 3 == 0 else "GET"
        segments = ["v2", PROJECT, "quality", *rng.sample(SEGMENTS, rng.randint(1, 3))]
        keys = rng.sample(["name", "limit", "offset", "task_type", "start_time", "name"], rng.randint(0, 4))
        query = [(key, rng.choice(VALUES)) for key in keys]  # repeated keys happen: "name" twice
        body = (
            {"rule_id": str(rng.randint(10**18, 10**19)), "note": rng.choice(VALUES), "n": number}
            if method == "POST"
            else None
        )
        extra = rng.choice([{}, {"security_token": "temporary-token-abc"}, {"workspace": "ws 2/中"}])
        cases.append({"method": method, "segments": segments, "query": query, "body": body, "extra": extra})
    return cases


@pytest.mark.parametrize(
    "case", generated_cases(24), ids=lambda case: f"{case['method']}-{len(case['query'])}q"
)
def test_prepared_requests_match_the_sdk_signer(case: dict[str, Any]) -> None:
    config = DataArtsConfig.from_connection(
        conn_id="c",
        host=f"https://{HOST}",
        login=AK,
        password=SK,
        extra={"project_id": PROJECT, "workspace": "ws-1", **case["extra"]},
    )
    request = ApiRequest(
        case["method"], "quality", path(*case["segments"]), tuple(case["query"]), case["body"]
    )
    prepared = prepare(config, request, None)
    encoded_path = prepared.url.split(HOST, 1)[1].split("?", 1)[0]
    assert encoded_path == request.path
    expected = sdk_authorization(case["method"], encoded_path, case["query"], prepared.headers, prepared.body)
    assert prepared.headers["Authorization"] == expected
    if case["body"] is not None:
        assert json.loads(prepared.body) == case["body"]


def test_a_header_with_underscore_is_not_signed() -> None:
    headers = {**BASE_HEADERS, "X_Custom": "v"}
    signed = signer.sign("GET", "/v2/p/quality/instances", [], dict(headers), b"", AK, SK)
    assert "x_custom" not in signed["Authorization"]
    assert signed["Authorization"] == sdk_authorization("GET", "/v2/p/quality/instances", [], headers, b"")


@pytest.mark.parametrize(
    "tamper",
    [
        {"path": "/v2/p/quality/instances/2"},
        {"body": b'{"rule_id": "2"}'},
        {"date": "20240101T000001Z"},
        {"secret": "another-secret"},
        {"query": [("limit", "101")]},
    ],
)
def test_verify_accepts_a_good_signature_and_rejects_a_tampered_one(tamper: dict[str, Any]) -> None:
    base = {"path": "/v2/p/quality/instances/1", "body": b'{"rule_id": "1"}', "query": [("limit", "100")]}
    headers = signer.sign("POST", base["path"], base["query"], dict(BASE_HEADERS), base["body"], AK, SK)
    assert signer.verify("POST", base["path"], base["query"], headers, base["body"], {AK: SK}) == AK
    changed = {**base, **{k: v for k, v in tamper.items() if k in base}}
    if "date" in tamper:
        headers = {**headers, "X-Sdk-Date": tamper["date"]}
    secrets = {AK: tamper.get("secret", SK)}
    assert signer.verify("POST", changed["path"], changed["query"], headers, changed["body"], secrets) is None
