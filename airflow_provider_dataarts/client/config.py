"""The DataArts connection, validated once, before any request is sent."""

from __future__ import annotations

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
# dayu.cn-north-4.myhuaweicloud.com -> region cn-north-4, domain myhuaweicloud.com
_DAYU_HOST = re.compile(r"^dayu(?:-dlf)?\.(?P<region>[a-z0-9-]+)\.(?P<domain>.+)$")


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
    # DataArts Migration (CDM): ``extra.migration_endpoint``, else ``https://cdm.{region}...``, else host.
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
        extra = _extra_dict(conn_id, extra)

        def fail(field_name: str, problem: str) -> DataArtsConfigError:
            return DataArtsConfigError(f"Connection {conn_id!r}: {field_name} {problem}")

        project_id = _text(extra.get("project_id"))
        if not project_id:
            raise fail("extra.project_id", "is required (the Huawei Cloud project id).")
        auth_type = (_text(extra.get("auth_type")) or "aksk").lower()
        if auth_type not in AUTH_TYPES:
            raise fail("extra.auth_type", f"must be one of {', '.join(AUTH_TYPES)}, not {auth_type!r}.")
        domain_name = _text(extra.get("domain_name"))
        _check_credentials(auth_type, login, password, domain_name, fail)

        host_url = _endpoint(host, "host", fail) if _text(host) else None
        match = _DAYU_HOST.match(urlsplit(host_url).hostname or "") if host_url else None
        region = _text(extra.get("region")) or (match["region"] if match else None)
        domain = match["domain"] if match else "myhuaweicloud.com"
        if host_url is None:
            if not region:
                raise fail("host", "is empty: give the DataArts endpoint or set extra.region.")
            host_url = f"https://dayu.{region}.{domain}"

        factory = _text(extra.get("factory_endpoint"))
        iam = _text(extra.get("iam_endpoint"))
        migration = _text(extra.get("migration_endpoint"))
        return cls(
            endpoint=host_url,
            factory_endpoint=(
                _endpoint(factory, "extra.factory_endpoint", fail)
                if factory
                else (f"https://dayu-dlf.{region}.{domain}" if region else host_url)
            ),
            iam_endpoint=(
                _endpoint(iam, "extra.iam_endpoint", fail)
                if iam
                else (f"https://iam.{region}.{domain}" if region else host_url)
            ),
            project_id=project_id,
            workspace=_text(extra.get("workspace")),
            auth_type=auth_type,
            login=_text(login),
            secret=password or None,
            domain_name=domain_name,
            region=region,
            security_token=_text(extra.get("security_token")),
            verify=_verify(extra.get("verify", True)),
            timeout=_number(extra, "timeout", DEFAULT_TIMEOUT, fail, minimum=0.001),
            max_retries=_whole(_number(extra, "max_retries", DEFAULT_MAX_RETRIES, fail, minimum=0), fail),
            retry_wait=_number(extra, "retry_wait", DEFAULT_RETRY_WAIT, fail, minimum=0),
            outage_tolerance=_number(extra, "outage_tolerance", DEFAULT_OUTAGE_TOLERANCE, fail, minimum=0),
            max_requests_per_minute=_number(
                extra, "max_requests_per_minute", DEFAULT_MAX_REQUESTS_PER_MINUTE, fail, minimum=1
            ),
            rate_limits=parse_rate_limits(extra, fail),
            console_url=_console_url(extra.get("console_url"), fail),
            not_listed_grace=_number(extra, "not_listed_grace", DEFAULT_NOT_LISTED_GRACE, fail, minimum=0),
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
            migration_endpoint=(
                _endpoint(migration, "extra.migration_endpoint", fail)
                if migration
                else (f"https://cdm.{region}.{domain}" if region else host_url)
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


def _endpoint(value: str | None, field_name: str, fail: Any) -> str:
    text = (value or "").strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)  # not stripped of "/" first: "http://" must stay a URL without a host
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise fail(field_name, f"has a malformed port: {value!r}.") from None
    if parts.username is not None or parts.password is not None:
        # Credentials belong in login/password, where they are masked; a URL gets logged.
        raise fail(field_name, "must not contain user:password@; put credentials in login and password.")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise fail(field_name, f"must be an http(s) endpoint like https://host[:port], not {value!r}.")
    if parts.path not in ("", "/") or any(c.isspace() for c in text):
        raise fail(field_name, f"must be a bare endpoint without a path, not {value!r}.")
    return f"{parts.scheme}://{parts.netloc}"


CONSOLE_URL_PLACEHOLDERS = ("region", "project_id", "workspace", "instance_id")
JOB_CONSOLE_URL_PLACEHOLDERS = (*CONSOLE_URL_PLACEHOLDERS, "job_name")
PATCH_DATA_CONSOLE_URL_PLACEHOLDERS = ("region", "project_id", "workspace", "name", "job_name")


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
    template = _text(value) or default
    sample = {name: "x" for name in placeholders}
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
        unknown = sorted(name for name in names if name not in sample)
        if unknown:
            raise KeyError(unknown[0])
        template.format(**sample)
    except KeyError as error:
        raise fail(
            f"extra.{key}",
            f"has an unknown placeholder {{{error.args[0]}}}; use "
            + ", ".join(f"{{{name}}}" for name in placeholders)
            + " (write {{ and }} for literal braces).",
        ) from None
    except (ValueError, IndexError, AttributeError) as error:
        raise fail(f"extra.{key}", f"is not a valid template ({error}): {template!r}.") from None
    return template


def _verify(value: Any) -> bool | str:
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    if text.lower() in ("true", "1", "yes", ""):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    return text


def _whole(number: float, fail: Any) -> int:
    if not float(number).is_integer():
        raise fail("extra.max_retries", f"must be a whole number, not {number!r}.")
    return int(number)


def _number(extra: dict[str, Any], key: str, default: float, fail: Any, *, minimum: float) -> float:
    raw = extra.get(key)
    if raw is None or raw == "":
        return default
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise fail(f"extra.{key}", f"must be a number, not {raw!r}.") from None
    if not math.isfinite(number):
        raise fail(f"extra.{key}", f"must be a finite number, not {raw!r}.")
    if number < minimum:
        raise fail(f"extra.{key}", f"must be at least {minimum}, not {raw!r}.")
    return number
