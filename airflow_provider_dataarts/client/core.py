"""
The DataArts API client without I/O: requests, signing, answers, retry policy, IAM tokens.

The sync transport (``requests``, used by the hook) and the async one (``httpx``, used by the
triggers) both build every request and read every answer through this module, so auth, error
mapping and retry decisions exist once.
"""

from __future__ import annotations

import contextvars
import dataclasses
import email.utils
import hashlib
import json
import math
import random
import re
import threading
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import quote, urlsplit

from airflow_provider_dataarts.client import signer
from airflow_provider_dataarts.exceptions import (
    DataArtsAPIError,
    DataArtsConfigError,
    DataArtsConnectionError,
    DataArtsDeadlineExceeded,
)

if TYPE_CHECKING:
    from airflow_provider_dataarts.client.config import DataArtsConfig

T = TypeVar("T")
USER_AGENT = "airflow-provider-dataarts"
CONTENT_TYPE = "application/json;charset=UTF-8"
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
# Codes with which the gateway says the token (not a signature) must be renewed.
TOKEN_RENEW_CODES = frozenset({"APIG.0301", "APIG.0307"})
MAX_RETRY_AFTER = 60.0
MAX_BACKOFF = 30.0
# A 429 without Retry-After still pauses everyone sharing the budget this long (the gateway's 2-5 s).
MIN_THROTTLE_PAUSE = 2.0
# The SDK renews temporary credentials 40 minutes early; never wait past half a token's life.
TOKEN_RENEW_MARGIN = 40 * 60.0


@dataclass(frozen=True)
class ApiRequest:
    """One call to a DataArts service; ``replayable`` says whether sending it twice is harmless."""

    method: str
    service: str  # "quality", "factory", "factory_v2", "migration" or "iam"
    path: str  # percent-encoded, from path()
    query: tuple[tuple[str, str], ...] = ()
    body: Any = None
    replayable: bool = True
    # Only these auth failures of the IAM call itself need the caller's attention.
    authenticated: bool = True
    # False for calls answered with no body (stop a script: 204); for the others an empty 2xx
    # answer is a broken one (a proxy cut it), retried like any malformed answer.
    expects_body: bool = True

    def describe(self) -> str:
        return f"{self.method} {self.path}"


def path(*segments: str) -> str:
    """Join path segments, each percent-encoded whole: a segment can never change the path."""
    return "/" + "/".join(quote(segment, safe="") for segment in segments)


def segment(value: Any, name: str) -> str:
    """Validate one caller-given path segment (an id, a script name) and return it as text."""
    text = "" if value is None else str(value)
    if not text.strip():
        raise DataArtsConfigError(f"{name} must not be empty.")
    if text in (".", "..") or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise DataArtsConfigError(f"{name} {text!r} is not a valid DataArts name or id.")
    return text


def query(**params: Any) -> tuple[tuple[str, str], ...]:
    """Query pairs, leaving out unset values; numbers and booleans as the API spells them."""
    pairs = []
    for key, value in params.items():
        if value is None or value == "":
            continue
        pairs.append((key, str(value).lower() if isinstance(value, bool) else str(value)))
    return tuple(pairs)


def base_url(config: DataArtsConfig, service: str) -> str:
    # Factory v2 (``/v2/{project_id}/factory/...``: PatchData) lives on the DataArts host, not dayu-dlf.
    return {
        "quality": config.endpoint,
        "factory": config.factory_endpoint,
        "factory_v2": config.endpoint,
        # DataArts Migration (CDM)
        "migration": config.migration_endpoint or config.endpoint,
        "iam": config.iam_endpoint,
    }[service]


@dataclass(frozen=True)
class PreparedRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


def encode_body(body: Any) -> bytes:
    if body is None:
        return b""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def prepare(config: DataArtsConfig, request: ApiRequest, token: str | None) -> PreparedRequest:
    """Build the exact bytes to send: URL with canonical query, headers, auth, body."""
    base = base_url(config, request.service)
    query_string = signer.canonical_query(request.query)
    url = base + request.path + (f"?{query_string}" if query_string else "")
    body = encode_body(request.body)
    headers = {"Content-Type": CONTENT_TYPE, "User-Agent": USER_AGENT}
    if not request.authenticated:
        return PreparedRequest(request.method, url, headers, body)
    if config.workspace:
        headers["workspace"] = config.workspace
    if config.auth_type == "aksk":
        headers["X-Project-Id"] = config.project_id
        if config.security_token:
            headers["X-Security-Token"] = config.security_token
        headers["Host"] = urlsplit(base).netloc
        headers[signer.DATE_HEADER] = time.strftime(signer.DATE_FORMAT, time.gmtime())
        headers = signer.sign(
            request.method,
            request.path,
            request.query,
            headers,
            body,
            config.login or "",
            config.secret or "",
        )
    else:
        headers["X-Auth-Token"] = token or ""
    return PreparedRequest(request.method, url, headers, body)


def read_answer(request: ApiRequest, status: int, headers: Mapping[str, str], body: bytes) -> Any:
    """Parse a 2xx answer as JSON (19-digit ids stay exact ints) or raise ``DataArtsAPIError``."""
    request_id = headers.get("X-Request-Id") or headers.get("x-request-id")
    if 200 <= status < 300:
        if not body.strip():
            if not request.expects_body:
                return None
            raise DataArtsAPIError(
                "the answer is empty",
                status_code=status,
                method=request.method,
                path=request.path,
                request_id=request_id,
                malformed=True,
            )
        try:
            return json.loads(body)
        except ValueError:
            raise DataArtsAPIError(
                f"the answer is not valid JSON: {_excerpt(body)!r}",
                status_code=status,
                method=request.method,
                path=request.path,
                request_id=request_id,
                malformed=True,
            ) from None
    error_code, error_msg = _error_fields(headers, body)
    raise DataArtsAPIError(
        error_msg,
        status_code=status,
        error_code=error_code,
        method=request.method,
        path=request.path,
        request_id=request_id,
        retry_after=_retry_after(headers),
    )


def _error_fields(headers: Mapping[str, str], body: bytes) -> tuple[str | None, str]:
    try:
        data = json.loads(body) if body.strip() else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        if isinstance(data.get("error"), dict):  # IAM's own error shape
            data = data["error"]
        # CDM answers ``{"code", "errCode", "message", "externalMessage"}``: its errCode is the code.
        code = data.get("error_code") or data.get("errorCode") or data.get("errCode") or data.get("code")
        message = (
            data.get("error_msg")
            or data.get("errorMsg")
            or data.get("message")
            or data.get("externalMessage")  # DataArts Migration (CDM)
        )
        if code is not None or message is not None:
            return (str(code) if code is not None else None), str(message or "")
    kind = headers.get("Content-Type") or headers.get("content-type") or "no content type"
    if not body.strip():
        return None, "empty answer"
    return None, f"non-JSON answer ({kind}): {_excerpt(body)!r}"


def _excerpt(body: bytes, limit: int = 200) -> str:
    text = body.decode("utf-8", "replace")
    return " ".join(text.split())[:limit]


def _retry_after(headers: Mapping[str, str]) -> float | None:
    raw = headers.get("Retry-After") or headers.get("retry-after")
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:  # an HTTP date
            parsed = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):  # neither: as if there were none
            return None
        return max(0.0, parsed.timestamp() - time.time())
    return max(0.0, seconds) if math.isfinite(seconds) else None


def should_retry(error: BaseException, request: ApiRequest) -> bool:
    """
    Whether a failed call may be sent again.

    A call that is not replayable (a rerun, a script execution) is sent again only when it surely
    did not reach the service: a connection that never opened, a 429, or a 503 from the gateway.
    """
    if isinstance(error, DataArtsConnectionError):
        return request.replayable or not error.may_have_arrived
    if not isinstance(error, DataArtsAPIError):
        return False
    if error.malformed:
        return request.replayable
    if error.status_code not in RETRYABLE_STATUS:
        return False
    if request.replayable:
        return True
    from_gateway = (error.error_code or "").startswith("APIG.")
    return error.status_code == 429 or (error.status_code == 503 and from_gateway)


def retry_delay(
    config: DataArtsConfig, request: ApiRequest, error: BaseException, attempt: int, deadline: float | None
) -> float | None:
    """
    Seconds to wait before sending ``request`` again after its ``attempt``-th try failed, or None.

    The one retry policy of both transports: exponential backoff with full jitter, or the service's
    ``Retry-After``; never a retry whose wait would end past ``deadline`` (the caller re-raises).
    """
    if attempt > config.max_retries or not should_retry(error, request):
        return None
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        wait = min(retry_after, MAX_RETRY_AFTER)
    else:
        ceiling = min(MAX_BACKOFF, config.retry_wait * 2 ** (attempt - 1))
        wait = ceiling / 2 + random.uniform(0, ceiling / 2)
    if deadline is not None and time.time() + wait >= deadline:
        return None
    return wait


def time_left(request: ApiRequest, deadline: float | None, timeout: float) -> float:
    """The timeout for one request: the connection's, cut to what is left before ``deadline``."""
    if deadline is None:
        return timeout
    left = deadline - time.time()
    if left <= 0:
        raise DataArtsDeadlineExceeded(
            f"the deadline passed {-left:.1f} s ago; the request was not sent",
            method=request.method,
            path=request.path,
        )
    return min(timeout, left)


def is_transient(error: BaseException) -> bool:
    """
    Whether a failed poll says nothing about the instance, so that a wait may go on: the service
    could not be reached, timed out, throttled (429), failed (5xx) or answered garbage.

    Anything else (401 after one token renewal, 403, 400, TLS, a bug) is permanent: retrying in a
    minute will not change the answer, and the user must see the service's message at once.
    """
    if isinstance(error, DataArtsDeadlineExceeded) or not isinstance(error, DataArtsAPIError):
        return False
    if isinstance(error, DataArtsConnectionError) or error.malformed:
        return True
    status = error.status_code
    return status is not None and (status == 429 or 500 <= status < 600)


# Between two progress lines of one outage, so a long outage shows in the task log without flooding it.
OUTAGE_LOG_EVERY = 60.0
# While DataArts does not answer, a wait's polls spread out: twice the poll interval after the
# first failed poll, doubling after each, up to this (or the poll interval, if longer).
MAX_OUTAGE_BACKOFF = 60.0


def outage_backoff(poll_interval: float, failures: int) -> float:
    """Seconds from a failed poll to the next after ``failures`` failed polls in a row (every mode)."""
    if failures <= 0:
        return poll_interval
    return min(max(MAX_OUTAGE_BACKOFF, poll_interval), poll_interval * 2.0 ** min(failures, 32))


@dataclass
class Outage:
    """
    Bookkeeping of one wait's outage: since when DataArts is unreachable, how many polls failed in a
    row and when the next may be sent (``outage_backoff``), and whether that is still within
    ``tolerance`` seconds. Plain data (``to_dict``/``from_dict``) so a sensor can keep it in
    ``task_state_store`` between pokes and reschedules.
    """

    tolerance: float
    started_at: float | None = None
    logged_at: float | None = None
    last_error: str | None = None
    failures: int = 0
    next_poll_at: float | None = None

    def failed(
        self, error: BaseException, now: float, log: Any = None, poll_interval: float | None = None
    ) -> bool:
        """
        Record a transient failure; whether the outage is still tolerated (logs once, then each
        minute). With ``poll_interval``, also when the next poll may go (``next_poll_at``).
        """
        self.last_error = str(error)
        self.failures += 1
        if self.started_at is None:
            self.started_at = now
        wait = outage_backoff(poll_interval, self.failures) if poll_interval else None
        self.next_poll_at = now + wait if wait is not None else None
        tolerated = now - self.started_at <= self.tolerance
        if log is not None and tolerated:
            spread = f"; polling again in {wait:.0f} s, then less often while it lasts" if wait else ""
            if self.logged_at is None:
                log.warning(
                    "DataArts unreachable (%s); still waiting, for up to %.0f s of outage%s",
                    self.last_error,
                    self.tolerance,
                    spread,
                )
                self.logged_at = now
            elif now - self.logged_at >= OUTAGE_LOG_EVERY:
                log.warning(
                    "DataArts unreachable for %.0f s (%d polls failed), still waiting%s",
                    self.lasted(now),
                    self.failures,
                    f"; next poll in {wait:.0f} s" if wait else "",
                )
                self.logged_at = now
        return tolerated

    def backing_off(self, now: float) -> bool:
        """Whether a poll now would come before the outage's backoff allows (then send nothing)."""
        return self.next_poll_at is not None and now < self.next_poll_at

    def recovered(self, now: float, log: Any = None) -> float | None:
        """A poll succeeded: end the outage; how long it lasted (None when there was none)."""
        if self.started_at is None:
            return None
        lasted = self.lasted(now)
        if log is not None:
            log.warning("DataArts was unreachable for %.0f s; reachable again, still waiting", lasted)
        self.started_at = self.logged_at = self.last_error = self.next_poll_at = None
        self.failures = 0
        return lasted

    def lasted(self, now: float) -> float:
        return 0.0 if self.started_at is None else now - self.started_at

    def give_up_message(self, now: float) -> str:
        return (
            f"DataArts unreachable for {self.lasted(now):.0f} s, longer than the outage tolerance of "
            f"{self.tolerance:g} s (connection extra outage_tolerance); last error: {self.last_error}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at,
            "logged_at": self.logged_at,
            "last_error": self.last_error,
            "failures": self.failures,
            "next_poll_at": self.next_poll_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, tolerance: float) -> Outage:
        data = data or {}
        return cls(
            tolerance=tolerance,
            started_at=data.get("started_at"),
            logged_at=data.get("logged_at"),
            last_error=data.get("last_error"),
            failures=int(data.get("failures") or 0),
            next_poll_at=data.get("next_poll_at"),
        )


def needs_token_renewal(config: DataArtsConfig, error: BaseException) -> bool:
    return (
        config.auth_type == "password"
        and isinstance(error, DataArtsAPIError)
        and error.status_code == 401
        and error.error_code in TOKEN_RENEW_CODES
    )


def connection_key(config: DataArtsConfig) -> str:
    """
    A digest of every setting that changes a request (endpoints, credentials, workspace, project,
    auth type, timeout, retries, TLS): equal keys may share a transport. Secrets only hashed.
    """
    # The fields as they are (all flat): the same text as ``dataclasses.astuple``, without its deep
    # copy (a triggerer computes this once per trigger: thousands at a restart).
    values = tuple(getattr(config, item.name) for item in dataclasses.fields(config))
    return hashlib.sha256(repr(values).encode()).hexdigest()


# --- request ceilings per API family (DESIGN "Request ceilings") -----------------------------------
# Huawei documents per-user limits per API family of DataArts Studio (the user counts across every
# tool of the account, the console included). Requests per second, the defaults of extra.rate_limits.
DEFAULT_RATE_LIMITS: dict[str, float] = {
    "quality": 4.0,  # 40 per 10 s: instance list, result, batch-stop, job list and detail
    "factory": 30.0,  # Factory v1: scripts, run-immediate, instance list and detail, stop, restart
    "factory_detail": 10.0,  # Factory v1: a job's detail and export
    "factory_v2": 10.0,  # Factory v2 (PatchData create, list, stop)
    "migration": 2.0,  # CDM: job status and submissions, 120 a minute
    "migration_control": 20.0,  # CDM: job start and stop, 1,200 a minute
}
# The window over which DataArts counts each family's limit (Quality: 40 per 10 s; CDM: per minute;
# the others per second). A budget spaces its requests so that any such window, plus a margin for
# a request held up a little on its way (a busy event loop or thread), holds at most the limit.
FAMILY_WINDOWS: dict[str, float] = {"quality": 10.0, "migration": 60.0, "migration_control": 60.0}
BUDGET_MARGIN = 0.1
# IAM's token call: no DataArts budget (one call per token and process, TokenCache).
UNLIMITED_FAMILY = "iam"
_FAMILY_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("quality", re.compile(r"^/v2/[^/]+/quality(/|$)")),
    ("factory_v2", re.compile(r"^/v2/[^/]+/factory(/|$)")),
    ("migration_control", re.compile(r"^/v1\.1/[^/]+/clusters/[^/]+/cdm/job/[^/]+/(start|stop)$")),
    ("migration", re.compile(r"^/v1\.1/[^/]+/clusters/[^/]+/cdm(/|$)")),
    ("factory_detail", re.compile(r"^/v1/[^/]+/jobs/(?!instances$)[^/]+(/export)?$")),
    ("factory", re.compile(r"^/v1/[^/]+/(scripts|jobs|resources|connections)(/|$)")),
)


def request_family(method: str, service: str, path: str) -> str:
    """
    The API family whose per-user ceiling a request counts against (``DEFAULT_RATE_LIMITS``), or
    ``"iam"`` (no ceiling). The one place that decides it, for every transport and every call.
    A job's detail is a GET of ``/v1/{p}/jobs/{name}``; its export, ``/jobs/{name}/export``; other
    calls on a job (``/start``, ``/stop``, ``/status``, ``/run-immediate``) are Factory v1's 30/s.
    """
    if service == "iam" or path.startswith("/v3/"):
        return UNLIMITED_FAMILY
    for family, pattern in _FAMILY_PATTERNS:
        if pattern.match(path):
            if family == "factory_detail" and method != "GET" and not path.endswith("/export"):
                return "factory"
            return family
    # Any other DataArts call: the strictest ceiling of its service, never none.
    return "quality" if service == "quality" else "factory"


def rate_limit(config: DataArtsConfig, family: str) -> float | None:
    """The ceiling (requests/s) of ``family`` for this connection: extra.rate_limits or the default."""
    if family == UNLIMITED_FAMILY:
        return None
    limits = dict(config.rate_limits)
    return limits.get(family, DEFAULT_RATE_LIMITS.get(family, DEFAULT_RATE_LIMITS["quality"]))


class BudgetRegistry:
    """
    Every request budget of this process: one per user (its credentials, whatever the project) and API family,
    shared by all threads and event loops (a triggerer's triggers, a worker's hooks).
    """

    def __init__(self) -> None:
        self._budgets: dict[Any, RequestBudget] = {}
        self._guard = threading.Lock()

    def get(self, config: DataArtsConfig, family: str) -> RequestBudget | None:
        """
        The budget of the connection's user (DataArts' limits are per user: connections with the
        same credentials in other projects or workspaces share it) for ``family``, at the lowest
        ceiling any of those connections set.
        """
        ceiling = rate_limit(config, family)
        if ceiling is None:
            return None
        key = (
            config.iam_endpoint,
            config.domain_name,
            config.login,
            config.endpoint,
            config.factory_endpoint,
            family,
        )
        budget = self._budgets.get(key)
        if budget is None or budget.ceiling > ceiling:
            with self._guard:
                budget = self._budgets.get(key)
                if budget is None or budget.ceiling > ceiling:
                    budget = RequestBudget(ceiling, family=family, window=FAMILY_WINDOWS.get(family, 1.0))
                    self._budgets[key] = budget
        return budget

    def for_request(self, config: DataArtsConfig, request: ApiRequest) -> RequestBudget | None:
        return self.get(config, request_family(request.method, request.service, request.path))

    def clear(self) -> None:
        with self._guard:
            self._budgets.clear()


# The slowest a budget gets after 429s in a row: one request every five seconds.
BUDGET_MIN_RATE = 0.2
# A 429 halves the rate at once ...
BUDGET_DECREASE = 0.5
# ... after which it grows back by this much (requests/s) per second it is short of what its
# callers need, up to a little under the rate the gateway refused ...
BUDGET_INCREASE = 0.5
BUDGET_SAFE_SHARE = 0.85
# ... and beyond that only this slowly (a share of the refused rate a second, about a minute to
# reach it again), so a budget under a lower limit than its ceiling seldom meets it again.
BUDGET_PROBE = 0.002
# Before any 429 a budget below its ceiling doubles each second it is short.
BUDGET_SLOW_START = math.log(2)
# 429s arriving this soon after a cut answer requests sent before it: they cut nothing more.
BUDGET_CUT_HOLD = 1.0


class RequestBudget:
    """
    The request rate of one user for one API family, shared by everyone in the process sending
    through it (every trigger of a triggerer, every hook of a worker): additive increase,
    multiplicative decrease under a fixed ceiling.

    Requests are spaced ``1 / rate`` apart, and none is sent while the gateway has asked to wait
    (a 429's ``Retry-After``). The rate starts at ``top``: the ceiling (the family's documented
    per-user limit, or extra.rate_limits) less a ``BUDGET_MARGIN`` per counting window, and never
    goes above it, so on an account
    where nothing else runs it meets no 429. A 429 halves it at once; it then grows back, while
    callers wait for it, by ``BUDGET_INCREASE`` a second up to ``BUDGET_SAFE_SHARE`` of the rate
    refused last, and by ``BUDGET_PROBE`` beyond it, up to the ceiling again. Several processes
    sharing one user cannot talk to each other: size extra.rate_limits per process (their sum at
    most the documented limit), or they settle through the 429s their sum causes.
    """

    def __init__(
        self, ceiling: float, *, family: str = "", window: float = 1.0, start: float | None = None
    ) -> None:
        if not ceiling > 0:
            raise ValueError(f"a request ceiling must be positive, not {ceiling!r}")
        self.family = family
        self.ceiling = float(ceiling)  # requests/s
        # The highest rate it sends at: the ceiling's requests in any window and its margin.
        self.top = max(BUDGET_MIN_RATE, self.ceiling * window / (window + BUDGET_MARGIN))
        self.rate = max(BUDGET_MIN_RATE, min(self.top if start is None else start, self.top))
        self.refused_at: float | None = None  # the rate of the last cut, None before any 429
        self.paused_until = 0.0
        self.throttled = 0  # 429s seen
        self._next = 0.0
        self._hold_until = 0.0
        self._last_grow: float | None = None
        self._needs: dict[Any, tuple[float, float]] = {}
        self._queue: dict[object, None] = {}  # waiting callers, first come first
        self._guard = threading.Lock()

    @property
    def limit(self) -> float:
        """The current rate as requests a minute."""
        return self.rate * 60.0

    def need(self, who: Any, rate: float, until: float) -> None:
        """``who`` needs ``rate`` requests/s until ``until`` (epoch s); the budget grows to the sum."""
        with self._guard:
            self._needs[who] = (rate, until)

    def demand(self, now: float) -> float:
        with self._guard:
            return self._demand(now)

    def _demand(self, now: float) -> float:
        for who in [w for w, (_, until) in self._needs.items() if until <= now]:
            del self._needs[who]
        return sum(rate for rate, _ in self._needs.values())

    def reserve(self, now: float, waiter: object | None = None) -> float:
        """
        Take a slot if one is free now and nobody asked before ``waiter`` (0.0), or say how long to
        wait before asking again. A ``waiter`` told to wait keeps its place in the queue (first
        come, first served: pages asked for first are sent first) until it takes a slot or is
        ``forget``-ten; no slot is held meanwhile, so a pause or a cut applies to the waiting too.
        A waiter that has waited (the budget, not the caller, sets the pace) may make it grow.
        """
        with self._guard:
            free_at = max(self._next, self.paused_until)
            queued = waiter is not None and waiter in self._queue
            ahead = len(self._queue)
            if queued:
                ahead = next(place for place, other in enumerate(self._queue) if other is waiter)
            if now >= free_at and ahead == 0:
                if queued:
                    del self._queue[waiter]
                    self._grow(now)
                else:
                    self._last_grow = None
                self._next = now + 1.0 / self.rate
                return 0.0
            if waiter is not None and not queued:
                self._queue[waiter] = None
            return max(free_at - now, 0.0) + ahead / self.rate

    def forget(self, waiter: object) -> None:
        """``waiter`` gave up (its request was cancelled): it holds nobody back any more."""
        with self._guard:
            self._queue.pop(waiter, None)

    def _grow(self, now: float) -> None:
        last, self._last_grow = self._last_grow, now
        # Callers that declared what they need (the shared pollers) cap the growth at that; plain
        # callers (a worker's hook) wait in the queue, which is need enough: up to the ceiling.
        demand = self._demand(now)
        target = min(self.top, demand) if self._needs else self.top
        if last is None or self.rate >= target:
            return
        seconds = min(now - last, 1.0)
        if self.refused_at is None:
            grown = self.rate * math.exp(BUDGET_SLOW_START * seconds)
        elif self.rate < BUDGET_SAFE_SHARE * self.refused_at:
            grown = min(self.rate + BUDGET_INCREASE * seconds, BUDGET_SAFE_SHARE * self.refused_at)
        else:
            grown = self.rate + BUDGET_PROBE * self.refused_at * seconds
        self.rate = min(grown, target)

    def refused(self, now: float, retry_after: float | None) -> None:
        """The gateway answered 429: halve the rate (once per burst) and pause for ``Retry-After``."""
        pause = min(retry_after if retry_after is not None else MIN_THROTTLE_PAUSE, MAX_RETRY_AFTER)
        with self._guard:
            self.throttled += 1
            self.paused_until = max(self.paused_until, now + pause)
            if now < self._hold_until:
                return
            self.refused_at = self.rate
            self.rate = max(BUDGET_MIN_RATE, self.rate * BUDGET_DECREASE)
            self._hold_until = now + max(BUDGET_CUT_HOLD, pause)
            self._last_grow = None

    def pause(self, until: float) -> None:
        with self._guard:
            self.paused_until = max(self.paused_until, until)


# --- IAM tokens (auth_type "password") ------------------------------------------------------------


@dataclass
class IamToken:
    value: str = field(repr=False)
    expires_at: float
    renew_at: float


def token_request(config: DataArtsConfig) -> ApiRequest:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": config.login,
                        "password": config.secret,
                        "domain": {"name": config.domain_name},
                    }
                },
            },
            "scope": {"project": {"id": config.project_id}},
        }
    }
    return ApiRequest(
        "POST",
        "iam",
        "/v3/auth/tokens",
        query=(("nocatalog", "true"),),
        body=body,
        authenticated=False,
    )


def read_token(request: ApiRequest, status: int, headers: Mapping[str, str], body: bytes) -> IamToken:
    try:
        answer = read_answer(request, status, headers, body)
    except DataArtsAPIError as error:
        if error.status_code == 401:
            error.error_msg = (
                f"IAM rejected the connection's user name, password or extra.domain_name: {error.error_msg}"
            )
            error.args = (error._describe(),)
        raise
    value = headers.get("X-Subject-Token") or headers.get("x-subject-token")
    if not value:
        raise DataArtsAPIError(
            "IAM answered without an X-Subject-Token header",
            status_code=status,
            method=request.method,
            path=request.path,
        )
    now = time.time()
    expires_at = now + 24 * 3600.0
    expires = (answer or {}).get("token", {}).get("expires_at") if isinstance(answer, dict) else None
    if isinstance(expires, str):
        import pendulum

        expires_at = pendulum.parse(expires).timestamp()  # type: ignore[union-attr]
    margin = min(TOKEN_RENEW_MARGIN, max(0.0, expires_at - now) / 2)
    return IamToken(value=value, expires_at=expires_at, renew_at=expires_at - margin)


class TokenCache:
    """IAM tokens shared by every hook and trigger of a process, one per set of credentials."""

    def __init__(self) -> None:
        self._tokens: dict[str, IamToken] = {}
        self._fetching: dict[str, float] = {}
        # Held only for dict bookkeeping, never across I/O: threads and event loops share the cache.
        self._guard = threading.Lock()

    @staticmethod
    def key(config: DataArtsConfig) -> str:
        parts = (config.iam_endpoint, config.domain_name, config.login, config.secret, config.project_id)
        return hashlib.sha256(repr(parts).encode()).hexdigest()

    def get(self, config: DataArtsConfig) -> str | None:
        token = self._tokens.get(self.key(config))
        return token.value if token and time.time() < token.renew_at else None

    def put(self, config: DataArtsConfig, token: IamToken) -> None:
        with self._guard:
            self._tokens[self.key(config)] = token

    def discard(self, config: DataArtsConfig, value: str | None) -> None:
        """Forget the token ``value`` (refused by the service), unless another caller renewed it already."""
        key = self.key(config)
        with self._guard:
            token = self._tokens.get(key)
            if token and token.value == value:
                del self._tokens[key]

    def claim(self, config: DataArtsConfig) -> bool:
        """Whether this caller should fetch the token: one fetch at a time per set of credentials."""
        key, now = self.key(config), time.time()
        with self._guard:
            # A claim older than a whole fetch with its retries is left over by a caller that died.
            if now - self._fetching.get(key, float("-inf")) < TOKEN_CLAIM_STALE:
                return False
            self._fetching[key] = now
            return True

    def release(self, config: DataArtsConfig) -> None:
        with self._guard:
            self._fetching.pop(self.key(config), None)


TOKENS = TokenCache()
# Every request of this process goes through its family's budget here (``call``). A context may
# use a registry of its own (``budget_scope``): a test that plays two triggerer processes in one.
BUDGETS = BudgetRegistry()
_BUDGET_SCOPE: contextvars.ContextVar[BudgetRegistry] = contextvars.ContextVar("dataarts_budgets")


def current_budgets() -> BudgetRegistry:
    """The budgets requests of this context go through: the process's, unless scoped."""
    return _BUDGET_SCOPE.get(BUDGETS)


def budget_scope(registry: BudgetRegistry) -> None:
    """Make this context (a thread, before it starts its event loop) use ``registry``."""
    _BUDGET_SCOPE.set(registry)


TOKEN_CLAIM_STALE = 300.0
TOKEN_WAIT = 0.05


# --- calls as steps that a transport carries out ---------------------------------------------------
# A call (auth, token renewal, retries, deadline) is a generator of steps; a transport only carries
# each step out (bytes over its HTTP client, a sleep, masking a secret), so both are written once.


@dataclass(frozen=True)
class Send:
    """Send these bytes; the reply is ``(status, headers, body)`` or the ``DataArtsAPIError`` it met."""

    request: ApiRequest
    prepared: PreparedRequest
    timeout: float


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Mask:
    """Register a secret (a fresh IAM token) with Airflow's log masker."""

    secret: str = field(repr=False)


Step = Send | Sleep | Mask
Steps = Generator[Step, Any, T]
Reader = Callable[[ApiRequest, int, Mapping[str, str], bytes], Any]


def run_operation(
    config: DataArtsConfig,
    operation: Generator[ApiRequest, Any, T],
    log: Any,
    deadline: float | None,
    budgets: BudgetRegistry | None = None,
) -> Steps[T]:
    """The steps of a whole operation: each request it yields, called, its answer sent back in."""
    try:
        request = next(operation)
        while True:
            request = operation.send((yield from call(config, request, log, deadline, budgets=budgets)))
    except StopIteration as done:
        return done.value


def call(
    config: DataArtsConfig,
    request: ApiRequest,
    log: Any,
    deadline: float | None,
    reader: Reader = read_answer,
    *,
    budgets: BudgetRegistry | None = None,
) -> Steps[Any]:
    """
    One request with auth, one token renewal, retries as ``retry_delay`` says, within ``deadline``,
    and within the budget of its API family (``budgets``, by default ``current_budgets()``, the
    process's: a 429 cuts it and its ``Retry-After`` pauses all who share it).
    """
    budget = (budgets or current_budgets()).for_request(config, request)
    attempt = 1
    while True:
        try:
            return (yield from _attempt(config, request, log, deadline, reader, budget))
        except DataArtsDeadlineExceeded:
            raise
        except DataArtsAPIError as error:
            if budget is not None and error.status_code == 429:
                budget.refused(time.time(), error.retry_after)
            wait = retry_delay(config, request, error, attempt, deadline)
            if wait is None:
                raise
            log.warning(
                "DataArts %s failed (attempt %d of %d): %s; retrying in %.1f s",
                request.describe(),
                attempt,
                config.max_retries + 1,
                error,
                wait,
            )
            yield Sleep(wait)
            attempt += 1


def _attempt(
    config: DataArtsConfig,
    request: ApiRequest,
    log: Any,
    deadline: float | None,
    reader: Reader,
    budget: RequestBudget | None,
) -> Steps[Any]:
    token = (yield from _token(config, log, deadline)) if request.authenticated else None
    answer = yield from _send(config, request, token, deadline, budget)
    try:
        return reader(request, *answer)
    except DataArtsAPIError as error:
        # Only a call that carried a token renews it: the token request itself carries none, and
        # renewing would wait for the token claim its own caller holds.
        if not request.authenticated or not needs_token_renewal(config, error):
            raise
        log.info("DataArts token was refused (%s); renewing it once", error.error_code)
        TOKENS.discard(config, token)
        token = yield from _token(config, log, deadline)
        return reader(request, *(yield from _send(config, request, token, deadline, budget)))


def _send(
    config: DataArtsConfig,
    request: ApiRequest,
    token: str | None,
    deadline: float | None,
    budget: RequestBudget | None,
) -> Steps[tuple[int, Mapping[str, str], bytes]]:
    place = object()  # this request's place in the budget's queue while it waits
    try:
        while budget is not None and (wait := budget.reserve(time.time(), place)) > 0:
            if deadline is not None and time.time() + wait >= deadline:
                raise DataArtsDeadlineExceeded(
                    f"the {budget.family} request budget ({budget.rate:.2f} requests/s, extra.rate_limits) "
                    "has no slot before the deadline",
                    method=request.method,
                    path=request.path,
                )
            yield Sleep(wait)
    finally:  # sent, or given up (deadline, cancellation): never holding the queue up
        if budget is not None:
            budget.forget(place)
    timeout = time_left(request, deadline, config.timeout)
    answer: tuple[int, Mapping[str, str], bytes] = yield Send(
        request, prepare(config, request, token), timeout
    )
    return answer


def _token(config: DataArtsConfig, log: Any, deadline: float | None) -> Steps[str | None]:
    if config.auth_type == "token":
        return config.secret
    if config.auth_type != "password":
        return None
    request = token_request(config)
    while not (cached := TOKENS.get(config)):
        if not TOKENS.claim(config):  # another caller is fetching it: wait for its result
            time_left(request, deadline, TOKEN_WAIT)
            yield Sleep(TOKEN_WAIT)
            continue
        try:
            token: IamToken = yield from call(config, request, log, deadline, read_token)
            yield Mask(token.value)
            TOKENS.put(config, token)
            return token.value
        finally:
            TOKENS.release(config)
    return cached


class Drive(Generic[T]):
    """
    Hands a transport the steps of a call one at a time, and the step's reply back to the call.

    Use as a context manager: leaving it (also by cancellation) closes the call, so a token claim
    it holds is released.
    """

    def __init__(self, steps: Steps[T]) -> None:
        self._steps = steps
        self.done = False
        self.result: T | None = None
        self.step: Step = self._advance(lambda: next(steps))

    def reply(self, value: Any) -> None:
        """The step's outcome: its value, or the ``DataArtsAPIError`` it failed with."""
        if isinstance(value, BaseException):
            self.step = self._advance(lambda: self._steps.throw(value))
        else:
            self.step = self._advance(lambda: self._steps.send(value))

    def _advance(self, resume: Callable[[], Step]) -> Step:
        try:
            return resume()
        except StopIteration as stop:
            self.done, self.result = True, stop.value
            return Sleep(0.0)

    def __enter__(self) -> Drive[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._steps.close()
