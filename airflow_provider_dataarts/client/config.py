"""The DataArts connection, validated once, before any request is sent."""

from __future__ import annotations

import ipaddress
import json
import math
import re
import string
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_dataarts.exceptions import DataArtsConfigError

AUTH_TYPES = ("aksk", "password", "token")
DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_RETRIES = 5
DEFAULT_RETRY_WAIT = 1.0
DEFAULT_NOT_LISTED_GRACE = 120.0
# A deferred wait survives a gateway outage this long (seconds) before it ends with an error.
DEFAULT_OUTAGE_TOLERANCE = 600.0
# Deprecated (0.x): one bound for every API family, requests a minute. When set, it caps each
# family's ceiling (extra.rate_limits) at max_requests_per_minute / 60, with a deprecation warning.
DEFAULT_MAX_REQUESTS_PER_MINUTE = 1800.0
DEFAULT_CONSOLE_URL = (
    "https://console.huaweicloud.com/dataartsstudio/?region={region}#/dq/taskMonitor"
    "?projectId={project_id}&workspace={workspace}&instanceId={instance_id}"
)
# Assumption (no page documents console deep links): DataArts Factory's instance monitor takes the
# job name and instance id in its hash route, as the quality monitor does.
DEFAULT_JOB_CONSOLE_URL = (
    "https://console.huaweicloud.com/dataartsstudio/?region={region}#/dlf/monitor/jobInstance"
    "?projectId={project_id}&workspace={workspace}&jobName={job_name}&instanceId={instance_id}"
)
# Assumption (no page documents it): the console's PatchData monitor takes the PatchData name.
DEFAULT_PATCH_DATA_CONSOLE_URL = (
    "https://console.huaweicloud.com/dataartsstudio/?region={region}#/dlf/monitor/patchData"
    "?projectId={project_id}&workspace={workspace}&jobName={job_name}&name={name}"
)
# Assumption (no page documents console deep links): the CDM console opens a cluster's job
# management by the cluster id in its hash route; the job name and submission id ride along.
DEFAULT_MIGRATION_CONSOLE_URL = (
    "https://console.huaweicloud.com/cdm/?region={region}#/cdm/clusterList/jobManagement"
    "?clusterId={cluster_id}&jobName={job_name}&submissionId={submission_id}"
)
# dayu.cn-north-4.myhuaweicloud.com -> region cn-north-4, domain myhuaweicloud.com
_DAYU_HOST = re.compile(r"^dayu(?:-dlf)?\.(?P<region>[a-z0-9-]+)\.(?P<domain>.+)$")
# Huawei Cloud region ids: cn-north-4, ap-southeast-1, eu-west-101, la-south-2, ae-ad-1,
# my-kualalumpur-1, sa-brazil-1, ru-northwest-2 (two or three letters, a word, a number).
REGION = re.compile(r"^[a-z]{2,3}-[a-z]{2,24}-[0-9]{1,3}$")
# The public cloud's endpoint domains (Huawei Cloud, Huawei Cloud Europe).
HUAWEI_DOMAIN = "myhuaweicloud.com"
HUAWEI_DOMAINS = ("myhuaweicloud.com", "myhuaweicloud.eu")
# Project and workspace ids: letters, digits, "-", "_", "." (never "..", a line break or a "/").
IDENTIFIER = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$")
# Upper bounds that make sense: beyond them a value is a typo (1e9 retries), not a wish.
MAX_TIMEOUT = 3600.0  # one request: an hour
MAX_RETRIES = 50  # with the 30 s backoff cap: about 25 minutes of retries
MAX_RETRY_WAIT = 300.0
MAX_OUTAGE_TOLERANCE = 7 * 24 * 3600.0
MAX_NOT_LISTED_GRACE = 24 * 3600.0


@dataclass(frozen=True)
class DataArtsConfig:
    """Everything a DataArts call needs, read from an Airflow connection (secrets hidden from repr)."""

    endpoint: str
    factory_endpoint: str
    iam_endpoint: str
    project_id: str
    workspace: str | None
    auth_type: str
    login: str | None
    secret: str | None = field(repr=False)
    domain_name: str | None = None
    region: str | None = None
    security_token: str | None = field(default=None, repr=False)
    verify: bool | str = True
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    retry_wait: float = DEFAULT_RETRY_WAIT
    outage_tolerance: float = DEFAULT_OUTAGE_TOLERANCE
    max_requests_per_minute: float = DEFAULT_MAX_REQUESTS_PER_MINUTE
    # Requests/s per API family (client.core.DEFAULT_RATE_LIMITS), only those the connection sets.
    rate_limits: tuple[tuple[str, float], ...] = ()
    console_url: str = DEFAULT_CONSOLE_URL
    not_listed_grace: float = DEFAULT_NOT_LISTED_GRACE
    job_console_url: str = DEFAULT_JOB_CONSOLE_URL
    patch_data_console_url: str = DEFAULT_PATCH_DATA_CONSOLE_URL
    migration_console_url: str = DEFAULT_MIGRATION_CONSOLE_URL
    # DataArts Migration (CDM): https://cdm.{region}.{domain} when the region is known, else the host.
    migration_endpoint: str = ""

    @property
    def secrets(self) -> list[str]:
        """Values that must never appear in a log, an error or XCom."""
        return [s for s in (self.secret, self.security_token) if s]

    def require_workspace(self) -> str:
        if not self.workspace:
            raise DataArtsConfigError(
                "The DataArts connection has no workspace: set extra.workspace to the DataArts Studio "
                "workspace id (DataArts Quality calls require it)."
            )
        return self.workspace

    @classmethod
    def from_connection(
        cls,
        *,
        conn_id: str,
        host: str | None,
        login: str | None,
        password: str | None,
        extra: dict[str, Any] | str | None,
    ) -> DataArtsConfig:
        """
        The one validation of a DataArts connection: every field checked, each error naming it.

        Credentials go only to endpoints derived from the host or the validated region, or to
        endpoints of the host's own domain family (``endpoint_family``): Airflow's Test button
        reuses a stored password whenever host and port are unchanged, while the test request may
        change every extra, so no extra may send the password anywhere else.
        """
        extra = _extra_dict(conn_id, extra)

        def fail(field_name: str, problem: str) -> DataArtsConfigError:
            return DataArtsConfigError(f"Connection {conn_id!r}: {field_name} {problem}")

        project_id = _identifier(extra, "project_id", fail, required=True)
        assert project_id is not None
        auth_type = (_text(extra.get("auth_type")) or "aksk").lower()
        if auth_type not in AUTH_TYPES:
            raise fail("extra.auth_type", f"must be one of {', '.join(AUTH_TYPES)}, not {_shown(auth_type)}.")
        domain_name = _header_text(extra.get("domain_name"), "extra.domain_name", fail)
        login = _header_text(login, "login", fail, secret=True)
        _check_credentials(auth_type, login, password, domain_name, fail)
        if auth_type == "token" and password and _has_control(password):
            raise fail("password", "(the token) must not contain control characters (line breaks, tabs).")

        host_url = _endpoint(host, "host", fail) if _text(host) else None
        match = _DAYU_HOST.match(urlsplit(host_url).hostname or "") if host_url else None
        if match and not REGION.match(match["region"]):
            match = None  # dayu.example.com: not a regional DataArts host
        region = _region(extra.get("region"), fail) or (match["region"] if match else None)
        domain = match["domain"] if match else HUAWEI_DOMAIN
        if host_url is None:
            if not region:
                raise fail("host", "is empty: give the DataArts endpoint or set extra.region.")
            host_url = f"https://dayu.{region}.{domain}"
        family = endpoint_family(host_url, match["domain"] if match else None)

        def service_endpoint(key: str, prefix: str) -> str:
            given = _text(extra.get(key))
            if given:
                return _trusted_endpoint(given, f"extra.{key}", host_url, family, fail)
            return f"https://{prefix}.{region}.{domain}" if region else host_url

        return cls(
            endpoint=host_url,
            factory_endpoint=service_endpoint("factory_endpoint", "dayu-dlf"),
            iam_endpoint=service_endpoint("iam_endpoint", "iam"),
            migration_endpoint=service_endpoint("migration_endpoint", "cdm"),
            project_id=project_id,
            workspace=_identifier(extra, "workspace", fail),
            auth_type=auth_type,
            login=login,
            secret=password or None,
            domain_name=domain_name,
            region=region,
            security_token=_header_text(
                extra.get("security_token"), "extra.security_token", fail, secret=True
            ),
            # A field left empty in Airflow's connection form is stored as null: the default.
            verify=_verify(True if extra.get("verify") is None else extra["verify"], fail),
            timeout=_number(extra, "timeout", DEFAULT_TIMEOUT, fail, minimum=0.001, maximum=MAX_TIMEOUT),
            max_retries=_whole(
                _number(extra, "max_retries", DEFAULT_MAX_RETRIES, fail, minimum=0, maximum=MAX_RETRIES), fail
            ),
            retry_wait=_number(
                extra, "retry_wait", DEFAULT_RETRY_WAIT, fail, minimum=0, maximum=MAX_RETRY_WAIT
            ),
            outage_tolerance=_number(
                extra,
                "outage_tolerance",
                DEFAULT_OUTAGE_TOLERANCE,
                fail,
                minimum=0,
                maximum=MAX_OUTAGE_TOLERANCE,
            ),
            max_requests_per_minute=_number(
                extra, "max_requests_per_minute", DEFAULT_MAX_REQUESTS_PER_MINUTE, fail, minimum=1
            ),
            rate_limits=parse_rate_limits(extra, fail),
            console_url=_console_url(extra.get("console_url"), fail),
            not_listed_grace=_number(
                extra,
                "not_listed_grace",
                DEFAULT_NOT_LISTED_GRACE,
                fail,
                minimum=0,
                maximum=MAX_NOT_LISTED_GRACE,
            ),
            job_console_url=_console_url(
                extra.get("job_console_url"),
                fail,
                key="job_console_url",
                default=DEFAULT_JOB_CONSOLE_URL,
                placeholders=JOB_CONSOLE_URL_PLACEHOLDERS,
            ),
            patch_data_console_url=_console_url(
                extra.get("patch_data_console_url"),
                fail,
                key="patch_data_console_url",
                default=DEFAULT_PATCH_DATA_CONSOLE_URL,
                placeholders=PATCH_DATA_CONSOLE_URL_PLACEHOLDERS,
            ),
            migration_console_url=_console_url(
                extra.get("migration_console_url"),
                fail,
                key="migration_console_url",
                default=DEFAULT_MIGRATION_CONSOLE_URL,
                placeholders=MIGRATION_CONSOLE_URL_PLACEHOLDERS,
            ),
        )


def parse_rate_limits(extra: dict[str, Any], fail: Any) -> tuple[tuple[str, float], ...]:
    """
    ``extra.rate_limits`` (requests/s per API family, each a positive number, only known families),
    merged with the deprecated ``extra.max_requests_per_minute``: when that is set, every family's
    ceiling is at most its value / 60 (with a deprecation warning). The defaults stay in
    ``client.core.DEFAULT_RATE_LIMITS``; only what the connection changes is returned.
    """
    from airflow_provider_dataarts.client.core import DEFAULT_RATE_LIMITS

    raw = extra.get("rate_limits")
    if isinstance(raw, str) and raw.strip():
        try:
            raw = json.loads(raw)
        except ValueError:
            raise fail("extra.rate_limits", f"must be a JSON object, not {raw!r}.") from None
    if raw is None or raw == "":
        raw = {}
    if not isinstance(raw, dict):
        raise fail("extra.rate_limits", f"must be an object of requests/s per API family, not {raw!r}.")
    limits: dict[str, float] = {}
    for family, value in raw.items():
        if family not in DEFAULT_RATE_LIMITS:
            raise fail(
                "extra.rate_limits",
                f"has an unknown API family {family!r}; known: {', '.join(DEFAULT_RATE_LIMITS)}.",
            )
        name = f"extra.rate_limits.{family}"
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise fail(name, f"must be a number (requests/s), not {value!r}.") from None
        if not (math.isfinite(number) and number > 0):
            raise fail(name, f"must be a positive number (requests/s), not {value!r}.")
        limits[family] = number
    legacy = extra.get("max_requests_per_minute")
    if legacy is not None and legacy != "":
        import warnings

        cap = _number(extra, "max_requests_per_minute", DEFAULT_MAX_REQUESTS_PER_MINUTE, fail, minimum=1) / 60
        try:
            from airflow.exceptions import AirflowProviderDeprecationWarning as category
        except ImportError:  # pragma: no cover - every supported Airflow has it
            category = DeprecationWarning  # type: ignore[assignment,misc]
        warnings.warn(
            "extra.max_requests_per_minute is deprecated: set extra.rate_limits (requests/s per API "
            f"family) instead; it now caps every family at {cap:g} requests/s.",
            category,
            stacklevel=2,
        )
        for family, default in DEFAULT_RATE_LIMITS.items():
            limits[family] = min(limits.get(family, default), cap)
    return tuple(sorted(limits.items()))


def _extra_dict(conn_id: str, extra: dict[str, Any] | str | None) -> dict[str, Any]:
    if isinstance(extra, dict):
        return extra
    if not extra:
        return {}
    try:
        parsed = json.loads(extra)
    except ValueError as err:
        raise DataArtsConfigError(f"Connection {conn_id!r}: extra is not valid JSON ({err}).") from None
    if not isinstance(parsed, dict):
        raise DataArtsConfigError(f"Connection {conn_id!r}: extra must be a JSON object.")
    return parsed


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _check_credentials(
    auth_type: str, login: str | None, password: str | None, domain_name: str | None, fail: Any
) -> None:
    if auth_type == "aksk":
        if not _text(login):
            raise fail("login", "must hold the access key (AK) for auth_type 'aksk'.")
        if not password:
            raise fail("password", "must hold the secret key (SK) for auth_type 'aksk'.")
    elif auth_type == "password":
        if not _text(login):
            raise fail("login", "must hold the IAM user name for auth_type 'password'.")
        if not password:
            raise fail("password", "must hold the IAM user's password for auth_type 'password'.")
        if not domain_name:
            raise fail("extra.domain_name", "is required for auth_type 'password' (the account name).")
    elif not password:
        raise fail("password", "must hold the IAM token for auth_type 'token'.")


def _shown(value: Any, limit: int = 80) -> str:
    """A value for an error message: quoted, cut short, and never a ``user:password@`` part."""
    text = str(value)
    if "@" in text:
        return "(a value with '@', not shown: it may hold credentials)"
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _has_control(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def _header_text(value: Any, field_name: str, fail: Any, *, secret: bool = False) -> str | None:
    """A field sent in a header or signature (login, domain_name, security_token): no line breaks."""
    text = _text(value)
    if text is not None and (not isinstance(value, str | int) or isinstance(value, bool)):
        raise fail(field_name, f"must be text, not {type(value).__name__}.")
    if text is not None and _has_control(text):
        shown = "" if secret else f": {_shown(text)}"
        raise fail(field_name, f"must not contain control characters (line breaks, tabs){shown}.")
    return text


def _identifier(extra: dict[str, Any], key: str, fail: Any, *, required: bool = False) -> str | None:
    """``project_id`` or ``workspace``: an id of letters, digits, ``-``, ``_`` and ``.``."""
    raw = extra.get(key)
    if isinstance(raw, bool) or not isinstance(raw, str | int | type(None)):
        raise fail(f"extra.{key}", f"must be text, not {type(raw).__name__}.")
    text = _text(raw)
    if text is None:
        if required:
            raise fail(f"extra.{key}", "is required (the Huawei Cloud project id).")
        return None
    if not IDENTIFIER.match(text) or ".." in text:
        raise fail(
            f"extra.{key}",
            f"must be an id of letters, digits, '-', '_' and '.' (at most 128), not {_shown(text)}.",
        )
    return text


def _region(value: Any, fail: Any) -> str | None:
    """``extra.region``: a Huawei Cloud region id; it becomes part of host names, so nothing else."""
    text = _text(value)
    if text is None:
        return None
    if not isinstance(value, str) or not REGION.match(text):
        raise fail(
            "extra.region",
            f"must be a Huawei Cloud region id like cn-north-4, ap-southeast-1 or eu-west-101, "
            f"not {_shown(text)}.",
        )
    return text


def _endpoint(value: str | None, field_name: str, fail: Any) -> str:
    text = (value or "").strip()
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)  # not stripped of "/" first: "http://" must stay a URL without a host
        hostname, has_credentials = parts.hostname, parts.username is not None or parts.password is not None
    except ValueError:  # "http://[::1": an unclosed IPv6 bracket
        raise fail(field_name, f"is not a valid URL: {_shown(value)}.") from None
    if has_credentials or "@" in parts.netloc:
        # Credentials belong in login/password, where they are masked; a URL gets logged.
        raise fail(field_name, "must not contain user:password@; put credentials in login and password.")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise fail(field_name, f"has a malformed port: {_shown(value)}.") from None
    if parts.scheme not in ("http", "https") or not hostname or parts.query or parts.fragment:
        raise fail(field_name, f"must be an http(s) endpoint like https://host[:port], not {_shown(value)}.")
    if parts.path not in ("", "/") or any(c.isspace() for c in text) or _has_control(text):
        raise fail(field_name, f"must be a bare endpoint without a path, not {_shown(value)}.")
    return f"{parts.scheme}://{parts.netloc}"


def endpoint_family(host_url: str, dayu_domain: str | None = None) -> str | None:
    """
    The domain whose service endpoints share the host's trust: the domain of a
    ``dayu.{region}.{domain}`` host, else the host name without its first label (``example.com``
    for ``gateway.example.com``). None for an IP address or a one-label name such as ``localhost``:
    then only the host itself is trusted.
    """
    if dayu_domain:
        return dayu_domain
    name = urlsplit(host_url).hostname or ""
    try:
        ipaddress.ip_address(name)
        return None
    except ValueError:
        pass
    labels = name.split(".")
    if len(labels) < 2:
        return None
    return ".".join(labels[1:]) if len(labels) > 2 else name


def _trusted_endpoint(value: str, field_name: str, host_url: str, family: str | None, fail: Any) -> str:
    """
    An endpoint extra (``iam_endpoint``, ``factory_endpoint``, ``migration_endpoint``): the host
    itself, or ``https://{service}[.{region}].{domain}`` in the host's domain family or Huawei
    Cloud's public domains. Anything else could receive the credentials from a connection test
    that changed only the extras (Airflow reuses the stored password while host and port stay).
    """
    url = _endpoint(value, field_name, fail)
    if url == host_url:
        return url
    parts = urlsplit(url)
    name = parts.hostname or ""
    trusted = sorted({*HUAWEI_DOMAINS, *([family] if family else [])})
    if parts.scheme == "https" or parts.scheme == urlsplit(host_url).scheme:
        for domain in trusted:
            if name.endswith("." + domain):
                labels = name[: -len(domain) - 1].split(".")
                if len(labels) == 1 or (len(labels) == 2 and REGION.match(labels[1])):
                    return url
    allowed = " or ".join(f"*.{domain}" for domain in trusted)
    raise fail(
        field_name,
        f"must be the host itself ({host_url}) or a service endpoint of its domain ({allowed}, e.g. "
        f"https://iam.cn-north-4.myhuaweicloud.com), not {_shown(value)}: the connection's credentials "
        "are sent there. To use another endpoint, change the host (Airflow then asks for the password).",
    )


CONSOLE_URL_PLACEHOLDERS = ("region", "project_id", "workspace", "instance_id")
JOB_CONSOLE_URL_PLACEHOLDERS = (*CONSOLE_URL_PLACEHOLDERS, "job_name")
PATCH_DATA_CONSOLE_URL_PLACEHOLDERS = ("region", "project_id", "workspace", "name", "job_name")
MIGRATION_CONSOLE_URL_PLACEHOLDERS = (
    "region",
    "project_id",
    "workspace",
    "cluster_id",
    "job_name",
    "submission_id",
)


def _console_url(
    value: Any,
    fail: Any,
    *,
    key: str = "console_url",
    default: str = DEFAULT_CONSOLE_URL,
    placeholders: tuple[str, ...] = CONSOLE_URL_PLACEHOLDERS,
) -> str:
    """
    The console link template, checked now: an operator formats it right after starting a run,
    where an error would lose the run's id (and a retry would start a second run).
    """
    if value is not None and not isinstance(value, str):
        raise fail(f"extra.{key}", f"must be text, not {type(value).__name__}.")
    template = _text(value) or default
    listed = ", ".join(f"{{{name}}}" for name in placeholders)
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as error:  # a lone "{" or "}"
        raise fail(
            f"extra.{key}", f"is not a valid template ({error}); write {{{{ and }}}} for literal braces."
        ) from None
    for _, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in placeholders:
            raise fail(
                f"extra.{key}",
                f"has an unknown placeholder {{{name[:40]}}}; use {listed} "
                "(write {{ and }} for literal braces).",
            )
        # Only {name}: a conversion or format spec ({instance_id:>400000000}) runs on every render.
        if spec or conversion:
            shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise fail(
                f"extra.{key}",
                f"has a placeholder with a conversion or format spec, {_shown(shown[:60])}: write "
                f"{{{name}}} alone.",
            )
    link = template.format(**{name: "x" for name in placeholders})
    try:
        parts = urlsplit(link)
        scheme_ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        scheme_ok = False
    if not scheme_ok or _has_control(link):
        raise fail(f"extra.{key}", f"must be an http(s) link like https://host/..., not {_shown(template)}.")
    return template


def _verify(value: Any, fail: Any) -> bool | str:
    """``extra.verify``: a boolean, its text, or the path of a CA bundle (a file or directory) that exists."""
    import os

    if isinstance(value, bool):
        return value
    if not isinstance(value, str | int) or (isinstance(value, int) and value not in (0, 1)):
        raise fail("extra.verify", f"must be true, false or the path of a CA bundle, not {_shown(value)}.")
    text = str(value).strip()
    if text.lower() in ("true", "1", "yes", ""):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    if _has_control(text) or not os.path.exists(text):
        raise fail(
            "extra.verify",
            f"must be true, false or the path of a CA bundle that exists on the worker, not {_shown(text)}.",
        )
    return text


def _whole(number: float, fail: Any) -> int:
    if not float(number).is_integer():
        raise fail("extra.max_retries", f"must be a whole number, not {number!r}.")
    return int(number)


def _number(
    extra: dict[str, Any],
    key: str,
    default: float,
    fail: Any,
    *,
    minimum: float,
    maximum: float | None = None,
) -> float:
    raw = extra.get(key)
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise fail(f"extra.{key}", f"must be a number, not {_shown(raw)}.")
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise fail(f"extra.{key}", f"must be a number, not {_shown(raw)}.") from None
    if not math.isfinite(number):
        raise fail(f"extra.{key}", f"must be a finite number, not {_shown(raw)}.")
    if number < minimum:
        raise fail(f"extra.{key}", f"must be at least {minimum:g}, not {_shown(raw)}.")
    if maximum is not None and number > maximum:
        raise fail(f"extra.{key}", f"must be at most {maximum:g}, not {_shown(raw)}.")
    return number
