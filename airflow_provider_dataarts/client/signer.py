"""SDK-HMAC-SHA256 request signing, as Huawei Cloud's API gateway checks it.

Follows ``huaweicloudsdkcore/signer/signer.py`` step for step (see ``shared/api/NOTES.md``); the
emulator verifies signatures with the same functions, so the two can never drift apart.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import quote, unquote

ALGORITHM = "SDK-HMAC-SHA256"
DATE_HEADER = "X-Sdk-Date"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()


def quote_component(value: str) -> str:
    """Percent-encode one path segment or query key/value the way the gateway canonicalises it."""
    return quote(value, safe="~")


def canonical_uri(path: str) -> str:
    """Canonical form of an already percent-encoded path: always ends in ``/``."""
    uri = "/".join(quote_component(segment) for segment in unquote(path).split("/"))
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(query: Iterable[tuple[str, str]]) -> str:
    """Sorted, encoded query string; it is also the query string that is actually sent."""
    return "&".join(f"{quote_component(k)}={quote_component(v)}" for k, v in sorted(query))


def signed_header_names(headers: Mapping[str, str]) -> list[str]:
    return sorted(name.lower() for name in headers if "_" not in name)


def canonical_request(
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    signed_headers: list[str],
    body: bytes,
) -> str:
    lowered = {name.lower(): str(value).strip() for name, value in headers.items()}
    header_block = "".join(f"{name}:{lowered.get(name, '')}\n" for name in signed_headers)
    body_hash = hashlib.sha256(body).hexdigest() if body else EMPTY_BODY_SHA256
    return "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            canonical_query(query),
            header_block,
            ";".join(signed_headers),
            body_hash,
        ]
    )


def signature(secret_key: str, sdk_date: str, canonical: str) -> str:
    string_to_sign = f"{ALGORITHM}\n{sdk_date}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    return hmac.new(secret_key.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


def sign(
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
    access_key: str,
    secret_key: str,
) -> dict[str, str]:
    """Return ``headers`` plus ``Authorization``; ``headers`` must hold ``X-Sdk-Date`` and ``Host``."""
    names = signed_header_names(headers)
    canonical = canonical_request(method, path, query, headers, names, body)
    sig = signature(secret_key, headers[DATE_HEADER], canonical)
    return {
        **headers,
        "Authorization": f"{ALGORITHM} Access={access_key}, SignedHeaders={';'.join(names)}, Signature={sig}",
    }


def parse_authorization(value: str) -> dict[str, str] | None:
    """Split an ``Authorization`` header into ``Access``, ``SignedHeaders`` and ``Signature``."""
    if not value.startswith(ALGORITHM + " "):
        return None
    parts: dict[str, str] = {}
    for item in value[len(ALGORITHM) + 1 :].split(","):
        key, sep, val = item.strip().partition("=")
        if sep:
            parts[key] = val
    return parts if {"Access", "SignedHeaders", "Signature"} <= parts.keys() else None


def verify(
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
    secret_for: Mapping[str, str],
) -> str | None:
    """Check a signed request as the gateway does; return the access key when it is valid."""
    lowered = {name.lower(): value for name, value in headers.items()}
    parts = parse_authorization(lowered.get("authorization", ""))
    date = lowered.get(DATE_HEADER.lower())
    if parts is None or date is None or parts["Access"] not in secret_for:
        return None
    names = parts["SignedHeaders"].split(";")
    canonical = canonical_request(method, path, query, lowered, names, body)
    expected = signature(secret_for[parts["Access"]], date, canonical)
    return parts["Access"] if hmac.compare_digest(expected, parts["Signature"]) else None
