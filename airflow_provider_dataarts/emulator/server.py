"""
The DataArts emulator's HTTP side: the gateway (authentication, faults), the API routes, and the
``/_emulator/`` control routes that tests, benchmarks and the demo use.

Answers follow the reference pages and ``shared/api/NOTES.md``: ids are JSON numbers in lists and
strings in the restart answer, errors are ``{"error_code", "error_msg"}`` with ``X-Request-Id``,
``limit`` above 100 is refused, quality calls need the ``workspace`` header, AK/SK requests are
checked with the same signer the client uses and need ``X-Project-Id``. Where the documentation is
silent (error codes for a missing job, instance or workspace), the codes are this emulator's own:
see the README.
"""

from __future__ import annotations

import collections
import hashlib
import json
import math
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote

from airflow_provider_dataarts.client.signer import verify
from airflow_provider_dataarts.emulator import console, dbt_cloud, jobs, migration, patchdata
from airflow_provider_dataarts.emulator.state import EmulatorError, EmulatorState

MAX_LIMIT = 100
CLOCK_SKEW_SECONDS = 15 * 60
GATEWAY_CODES = {429: "APIG.0308", 502: "APIG.0201", 503: "APIG.0613", 504: "APIG.0201"}
# DataArts' documented per-user limits (DESIGN "Request ceilings"), as the emulator's gateway
# enforces them by default: API family -> (requests, window in seconds). The family of a request
# is the client's own classification (client.core.request_family), so both agree by construction.
DOCUMENTED_LIMITS: dict[str, tuple[int, float]] = {
    "quality": (40, 10.0),
    "factory": (30, 1.0),
    "factory_detail": (10, 1.0),
    "factory_v2": (10, 1.0),
    "migration": (120, 60.0),
    "migration_control": (1200, 60.0),
}
FAULT_KINDS = ("status", "html", "reset", "expire_token", "malformed_json", "empty_body", "delay", "answer")


@dataclass
class Fault:
    """A fault to inject into the next ``count`` matching requests."""

    kind: str
    count: int = 1
    method: str | None = None
    path: str | None = None  # a substring of the request path
    query: str | None = None  # a substring of the raw query string, e.g. "offset=100" (one page)
    status: int | None = None
    retry_after: float | None = None
    when: str = "before"  # "after": the request is carried out, then its answer is replaced
    delay: float = 0.0
    body: Any = None  # kind "answer": this JSON body (with ``status``, default 200) instead
    skip: int = 0  # let this many matching requests through before the fault begins

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {FAULT_KINDS}, not {self.kind!r}")
        if self.when not in ("before", "after"):
            raise ValueError(f"when must be 'before' or 'after', not {self.when!r}")

    def matches(self, method: str, path: str, query: str = "") -> bool:
        return (
            (self.method is None or self.method.upper() == method)
            and (self.path is None or self.path in path)
            and (self.query is None or self.query in query)
        )


@dataclass
class Credentials:
    project_id: str = "p1"
    workspace: str = "w1"
    access_key: str = "AK"
    secret_key: str = "SK"
    security_token: str | None = None  # when set, AK/SK requests must send it as X-Security-Token
    domain_name: str = "demo-domain"
    iam_user: str = "demo-user"
    iam_password: str = "demo-password"
    static_token: str = "demo-static-token"
    token_ttl: float = 24 * 3600.0


class Answer:
    """What a route returns: status, JSON body (or raw bytes) and extra headers."""

    def __init__(
        self,
        status: int = 200,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.raw = raw


class Emulation:
    """State plus the gateway's memory: issued tokens, faults, the request log."""

    def __init__(
        self, state: EmulatorState, credentials: Credentials, *, enforce_limits: bool = True
    ) -> None:
        self.state = state
        self.credentials = credentials
        self.lock = threading.Lock()
        self.tokens: dict[str, float] = {}  # token -> expiry (epoch seconds)
        self.faults: list[Fault] = []
        self.log: list[dict[str, Any]] = []
        self.token_requests = 0
        # The gateway's per-user throttling (APIG.0308), off unless a test or benchmark sets it:
        # at most ``throttle_count`` requests of one user in any ``throttle_window`` seconds.
        self.throttle_count: int | None = None
        self.throttle_window = 60.0
        self._recent: dict[str, collections.deque[float]] = {}
        # The documented per-family limits (on unless the emulator was made without them).
        self.enforce_limits_default = enforce_limits
        self.family_limits: dict[str, tuple[int, float]] = dict(DOCUMENTED_LIMITS) if enforce_limits else {}
        self._family_recent: dict[tuple[str, str], collections.deque[float]] = {}

    def reset(self) -> None:
        self.state.reset()
        with self.lock:
            self.tokens.clear()
            self.faults.clear()
            self.log.clear()
            self.token_requests = 0
            self.throttle_count = None
            self._recent.clear()
            self.family_limits = dict(DOCUMENTED_LIMITS) if self.enforce_limits_default else {}
            self._family_recent.clear()

    def set_limits(self, enabled: bool = True, **families: tuple[int, float] | None) -> None:
        """The documented limits on (or off), then any family's own ``(requests, window)`` (None: none)."""
        with self.lock:
            self.family_limits = dict(DOCUMENTED_LIMITS) if enabled else {}
            for family, limit in families.items():
                if family not in DOCUMENTED_LIMITS:
                    raise ValueError(f"unknown API family {family!r}; known: {', '.join(DOCUMENTED_LIMITS)}")
                if limit is None:
                    self.family_limits.pop(family, None)
                else:
                    self.family_limits[family] = (int(limit[0]), float(limit[1]))
            self._family_recent.clear()

    def over_family_limit(self, now: float, user: str, method: str, path: str) -> float | None:
        """Seconds ``user`` must wait when this request is over its API family's limit, else None."""
        from airflow_provider_dataarts.client.core import request_family

        service = "iam" if path.startswith("/v3/") else ("quality" if path.startswith("/v2/") else "factory")
        # The benchmarks' dbt Cloud peer stands in for a quality wait: its polls count as quality's.
        family = "quality" if dbt_cloud.is_dbt_path(path) else request_family(method, service, path)
        with self.lock:
            limit = self.family_limits.get(family)
            if limit is None:
                return None
            count, window = limit
            recent = self._family_recent.setdefault((user, family), collections.deque())
            while recent and recent[0] <= now - window:
                recent.popleft()
            if len(recent) >= count:
                return recent[0] + window - now
            recent.append(now)
            return None

    def throttle(self, count: int | None, window: float) -> None:
        """Answer 429 ``APIG.0308`` to a user's requests beyond ``count`` in any ``window`` seconds."""
        with self.lock:
            self.throttle_count, self.throttle_window = (count or None), window
            self._recent.clear()

    def throttled(self, now: float, user: str = "") -> float | None:
        """Seconds ``user`` must wait when this request is over the gateway's limit, else None."""
        with self.lock:
            if not self.throttle_count:
                return None
            recent = self._recent.setdefault(user, collections.deque())
            while recent and recent[0] <= now - self.throttle_window:
                recent.popleft()
            if len(recent) >= self.throttle_count:
                return recent[0] + self.throttle_window - now
            recent.append(now)
            return None

    def take_fault(self, method: str, path: str, when: str, query: str = "") -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.when == when and fault.count > 0 and fault.matches(method, path, query):
                    if fault.skip > 0:
                        fault.skip -= 1
                        continue
                    fault.count -= 1
                    if fault.count == 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def issue_token(self) -> tuple[str, float]:
        token = "MII" + uuid.uuid4().hex + uuid.uuid4().hex
        expires = time.time() + self.credentials.token_ttl
        with self.lock:
            self.tokens[token] = expires
        return token, expires

    def expire_tokens(self) -> None:
        with self.lock:
            for token in self.tokens:
                self.tokens[token] = 0.0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle's algorithm on, the body waits for the
    # client's delayed ACK (40 ms on Linux) on every keep-alive request.
    disable_nagle_algorithm = True
    server: EmulatorHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    # --- the gateway ------------------------------------------------------------------------------

    def setup(self) -> None:
        # A bound on every read and write of the connection: a client that stops sending (or an
        # idle keep-alive connection) no longer holds a thread for ever.
        super().setup()
        self.connection.settimeout(self.server.idle_timeout)

    def _read_body(self) -> bytes | None:
        """The request body, or None after answering 400/413 (a bad, too large or short body)."""
        raw = self.headers.get("Content-Length")
        if raw is None or raw.strip() == "":
            return b""
        text = raw.strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 12:
            self._refuse(400, f"Content-Length must be a whole number of bytes, not {text[:20]!r}.")
            return None
        length = int(text)
        if length > MAX_BODY:
            self._refuse(413, f"the body is larger than the emulator's {MAX_BODY} bytes.")
            return None
        self.connection.settimeout(self.server.body_timeout)
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            body = b""
        finally:
            self.connection.settimeout(self.server.idle_timeout)
        if len(body) < length:
            self._refuse(400, f"the body ended after {len(body)} of the {length} bytes of Content-Length.")
            return None
        return body

    def _refuse(self, status: int, message: str) -> None:
        self.close_connection = True
        self._send(Answer(status, {"error_code": f"EMULATOR.0{status}", "error_msg": message}))

    def _handle(self) -> None:
        try:
            self._handle_request()
        except (TimeoutError, ConnectionError):
            self.close_connection = True
        except Exception as error:  # a route's bug: an answer all the same, never a silent hang
            self._refuse(500, f"the emulator failed: {type(error).__name__}")

    def _handle_request(self) -> None:
        emulation = self.server.emulation
        raw_path, _, raw_query = self.path.partition("?")
        query = parse_qsl(raw_query, keep_blank_values=True)
        body = self._read_body()
        if body is None:
            return
        method = self.command
        if raw_path.startswith("/_emulator/"):
            self._send(self._control(method, raw_path, query, body))
            return
        if raw_path.rstrip("/") == "/console" or raw_path.startswith("/console/"):
            self._send(self._console(raw_path))
            return
        record: dict[str, Any] = {
            "method": method,
            "path": raw_path,
            "query": _multi(query),
            "headers": redact_headers(self.headers.items()),
            "body": redact_body(_decoded(body)),
            "status": None,
            "time": time.time(),
        }
        with emulation.lock:
            emulation.log.append(record)
        now, user = time.time(), self._user()
        wait = emulation.throttled(now, user)
        if wait is None:
            wait = emulation.over_family_limit(now, user, method, raw_path)
        if wait is not None:  # Retry-After in whole seconds, as the gateway sends it
            record["status"] = 429  # before the answer leaves: a client may read the log at once
            self._fault(Fault("status", status=429, retry_after=max(1, math.ceil(wait))))
            return
        fault = emulation.take_fault(method, raw_path, "before", raw_query)
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.delay)
            fault = None
        if fault is not None and fault.kind != "expire_token":
            record["status"] = self._fault(fault)
            return
        try:
            if fault is not None:  # expire_token: this request's token has just expired
                emulation.expire_tokens()
            if dbt_cloud.is_dbt_path(raw_path):  # the benchmarks' dbt Cloud peer
                state = emulation.state
                answer = Answer(
                    200, dbt_cloud.run_answer(state, raw_path, self.headers.get("Authorization"), time.time())
                )
            else:
                self._authenticate(method, raw_path, query, body)
                answer = self._route(method, raw_path, query, body)
        except EmulatorError as error:
            answer = Answer(error.status, {"error_code": error.code, "error_msg": error.message})
        after = emulation.take_fault(method, raw_path, "after", raw_query)
        if after is not None:
            record["status"] = self._fault(after)
            return
        record["status"] = answer.status
        self._send(answer)

    def _user(self) -> str:
        """Whom the gateway counts this request against: the access key, or the token's user."""
        authorization = self.headers.get("Authorization") or ""
        if "Access=" in authorization:
            return authorization.split("Access=", 1)[1].split(",", 1)[0].strip()
        return "token" if self.headers.get("X-Auth-Token") else authorization[:64]

    def _fault(self, fault: Fault) -> int:
        if fault.kind == "reset":
            # Abortive close: the client sees a connection reset, with no answer.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return 0
        if fault.kind == "html":
            status = fault.status or 502
            page = (
                f"<html><head><title>{status} Bad Gateway</title></head><body><h1>{status}</h1></body></html>"
            )
            self._send(Answer(status, raw=page.encode(), headers={"Content-Type": "text/html"}))
            return status
        if fault.kind == "malformed_json":
            self._send(Answer(fault.status or 200, raw=b'{"count": 1, "resources": [{"id": 10'))
            return fault.status or 200
        if fault.kind == "answer":
            self._send(Answer(fault.status or 200, fault.body))
            return fault.status or 200
        if fault.kind == "empty_body":
            self._send(Answer(fault.status or 200, raw=b""))
            return fault.status or 200
        status = fault.status or 500
        headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
        code = GATEWAY_CODES.get(status, "DQC.0500")
        message = "The request is throttled." if status == 429 else "Internal server error (injected)."
        self._send(Answer(status, {"error_code": code, "error_msg": message}, headers))
        return status

    def _authenticate(self, method: str, raw_path: str, query: list[tuple[str, str]], body: bytes) -> None:
        if raw_path.rstrip("/") == "/v3/auth/tokens":
            return
        credentials = self.server.emulation.credentials
        headers = {name: value for name, value in self.headers.items()}
        lowered = {name.lower(): value for name, value in headers.items()}
        if "authorization" in lowered:
            if (
                verify(
                    method, raw_path, query, headers, body, {credentials.access_key: credentials.secret_key}
                )
                is None
            ):
                raise EmulatorError(
                    401, "APIG.0301", "Incorrect IAM authentication information: verify aksk signature fail"
                )
            date = datetime.strptime(lowered["x-sdk-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            if abs((datetime.now(UTC) - date).total_seconds()) > CLOCK_SKEW_SECONDS:
                raise EmulatorError(
                    401, "APIG.0301", "Incorrect IAM authentication information: request expired"
                )
            if lowered.get("x-project-id") != credentials.project_id:
                raise EmulatorError(
                    401,
                    "APIG.0301",
                    "Incorrect IAM authentication information: X-Project-Id missing or wrong",
                )
            if credentials.security_token and lowered.get("x-security-token") != credentials.security_token:
                raise EmulatorError(
                    401, "APIG.0301", "Incorrect IAM authentication information: bad security token"
                )
            return
        token = lowered.get("x-auth-token")
        if not token:
            raise EmulatorError(401, "APIG.0301", "Incorrect IAM authentication information: no credentials")
        if token == credentials.static_token:
            return
        with self.server.emulation.lock:
            expires = self.server.emulation.tokens.get(token)
        if expires is None:
            raise EmulatorError(
                401, "APIG.0301", "Incorrect IAM authentication information: decrypt token fail"
            )
        if expires <= time.time():
            raise EmulatorError(401, "APIG.0307", "The token must be updated.")

    def _send(self, answer: Answer) -> None:
        if answer.raw is not None:
            payload = answer.raw
            content_type = answer.headers.pop("Content-Type", "application/json;charset=UTF-8")
        elif answer.body is None:
            payload, content_type = b"", ""
        else:
            payload = json.dumps(answer.body, ensure_ascii=False).encode()
            content_type = "application/json;charset=UTF-8"
        self.send_response(answer.status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("X-Request-Id", uuid.uuid4().hex)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    # --- the API ------------------------------------------------------------------------------------

    def _route(self, method: str, raw_path: str, query: list[tuple[str, str]], body: bytes) -> Answer:
        parts = [unquote(part) for part in raw_path.strip("/").split("/")]
        credentials = self.server.emulation.credentials
        state = self.server.emulation.state
        params = dict(query)
        if parts == ["v3", "auth", "tokens"] and method == "POST":
            return self._token(_json(body))
        if len(parts) < 3 or parts[0] not in ("v1", "v2", "v1.1"):
            raise _no_api()
        if parts[1] != credentials.project_id:
            raise EmulatorError(403, "APIG.0203", f"The project {parts[1]} is not the credentials' project.")
        rest = parts[2:]
        if parts[0] == "v1.1" and (found := migration.serve(method, rest, params, body, state.migration)):
            return Answer(*found)
        if parts[0] == "v2" and rest[0] == "quality":
            self._require_workspace()
            return self._quality(method, rest[1:], params, body, state)
        if parts[0] == "v1" and rest[0] == "scripts" and len(rest) >= 3:
            workspace = self.headers.get("workspace")
            if workspace is not None and workspace != credentials.workspace:
                raise EmulatorError(400, "DLF.0815", f"The workspace {workspace} does not exist.")
            return self._scripts(method, rest[1], rest[2:], _json(body) if body else {}, state)
        if parts[0] == "v1" and rest[0] == "jobs":
            workspace = self.headers.get("workspace")
            if workspace is not None and workspace != credentials.workspace:
                raise EmulatorError(400, "DLF.0815", f"The workspace {workspace} does not exist.")
            answer = jobs.route(method, rest[1:], params, _json(body) if body else None, state.factory)
            if answer is not None:
                return Answer(*answer)
        if parts[0] == "v2" and rest[0] == "factory":  # PatchData
            data = _json(body) if body else None
            answer = patchdata.route(
                method, rest[1:], params, data, self.headers, state.factory, credentials.workspace
            )
            if answer is not None:
                return Answer(*answer)
        raise _no_api()

    def _require_workspace(self) -> None:
        workspace = self.headers.get("workspace")
        if not workspace:
            raise EmulatorError(400, "DQC.0001", "The workspace header is required.")
        if workspace != self.server.emulation.credentials.workspace:
            raise EmulatorError(400, "DQC.0002", f"Workspace {workspace} does not exist.")

    def _quality(
        self, method: str, rest: list[str], params: dict[str, str], body: bytes, state: EmulatorState
    ) -> Answer:
        if rest == ["instances"] and method == "GET":
            now = time.time()
            return _page(state.list_instances(params), params, lambda item: item.overview(now))
        if rest == ["instances", "restart"] and method == "POST":
            data = _json(body)
            if not isinstance(data, dict):
                raise EmulatorError(400, "DQC.0003", "The body must be a JSON object.")
            instance = state.rerun(str(data.get("rule_id", "")), data.get("rule_type", 1))
            return Answer(200, {"instance_id": str(instance.id)})
        if rest == ["instances", "batch-stop"] and method == "POST":
            ids = _json(body)
            if not isinstance(ids, list):
                raise EmulatorError(400, "DQC.0003", "The body must be a JSON array of instance ids.")
            state.stop_instances(ids)
            return Answer(200, {"error_code": "DQC.0000", "error_msg": ""})
        if len(rest) == 3 and rest[0] == "instances" and rest[2] == "result" and method == "GET":
            return _page(state.instance_results(rest[1]), params)
        kinds = {"quality-tasks": "quality", "consistency-tasks": "comparison"}
        if rest and rest[0] in kinds and method == "GET":
            if len(rest) == 1:
                return _page(state.list_jobs(kinds[rest[0]], params), params)
            if len(rest) == 2:
                return Answer(200, state.job_detail(kinds[rest[0]], rest[1]))
        raise _no_api()

    def _scripts(self, method: str, name: str, rest: list[str], data: Any, state: EmulatorState) -> Answer:
        if rest == ["execute"] and method == "POST":
            params = data.get("params") if isinstance(data, dict) else None
            if params is not None and not isinstance(params, dict):
                raise EmulatorError(400, "DLF.0100", "params must be a JSON object.")
            instance = state.execute_script(name, params or {})
            key = "instance_id" if instance.script.legacy else "instanceId"
            return Answer(200, {key: instance.id})
        if len(rest) == 2 and rest[0] == "instances" and method == "GET":
            return Answer(200, state.script_answer(name, rest[1]))
        if len(rest) == 3 and rest[0] == "instances" and rest[2] == "stop" and method == "POST":
            state.stop_script(name, rest[1])
            return Answer(204)
        raise _no_api()

    def _token(self, data: Any) -> Answer:
        credentials = self.server.emulation.credentials
        try:
            identity = data["auth"]["identity"]
            user = identity["password"]["user"]
            name, password, domain = user["name"], user["password"], user["domain"]["name"]
            project = data["auth"]["scope"]["project"]["id"]
        except (KeyError, TypeError):
            return Answer(
                400,
                {"error": {"code": 400, "message": "The request body is invalid.", "title": "Bad Request"}},
            )
        with self.server.emulation.lock:
            self.server.emulation.token_requests += 1
        if (name, password, domain) != (
            credentials.iam_user,
            credentials.iam_password,
            credentials.domain_name,
        ):
            return Answer(
                401,
                {
                    "error": {
                        "code": 401,
                        "message": "The username or password is wrong.",
                        "title": "Unauthorized",
                    }
                },
            )
        if project != credentials.project_id:
            return Answer(
                400,
                {
                    "error": {
                        "code": 400,
                        "message": f"Project {project} does not exist.",
                        "title": "Bad Request",
                    }
                },
            )
        token, expires = self.server.emulation.issue_token()
        expires_at = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        issued_at = (
            datetime.fromtimestamp(expires, UTC) - timedelta(seconds=credentials.token_ttl)
        ).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        body = {
            "token": {
                "expires_at": expires_at,
                "issued_at": issued_at,
                "methods": ["password"],
                "project": {"id": project, "name": "cn-north-4"},
                "user": {"name": name, "domain": {"name": domain}},
            }
        }
        return Answer(201, body, {"X-Subject-Token": token})

    # --- the console's HTML pages (the extra link's target in local development) --------------------

    def _console(self, raw_path: str) -> Answer:
        status, html = console.page(raw_path, self.server.emulation.state)
        return Answer(status, raw=html.encode(), headers={"Content-Type": "text/html; charset=utf-8"})

    # --- control routes for tests, benchmarks and the demo ------------------------------------------

    def _control(self, method: str, raw_path: str, query: list[tuple[str, str]], body: bytes) -> Answer:
        emulation = self.server.emulation
        state = emulation.state
        route = raw_path[len("/_emulator/") :].strip("/")
        try:
            data = _json(body) if body else {}
            if not isinstance(data, dict):
                raise EmulatorError(400, "EMULATOR.0400", "The request body must be a JSON object.")
            if route == "health":
                return Answer(200, {"status": "ok", "instances": len(state.instances)})
            if route == "requests" and method == "GET":
                with emulation.lock:
                    return Answer(
                        200, {"requests": list(emulation.log), "token_requests": emulation.token_requests}
                    )
            if route == "requests/timeline" and method == "GET":  # [time, status] of each request
                with emulation.lock:
                    return Answer(200, {"requests": [[r["time"], r["status"]] for r in emulation.log]})
            if route == "requests/count" and method == "GET":
                with emulation.lock:
                    counts: dict[str, int] = {}
                    statuses: dict[str, int] = {}
                    for record in emulation.log:
                        key = f"{record['method']} {record['path']}"
                        counts[key] = counts.get(key, 0) + 1
                        statuses[str(record["status"])] = statuses.get(str(record["status"]), 0) + 1
                    total = len(emulation.log)
                return Answer(
                    200,
                    {
                        "total": total,
                        "by_path": counts,
                        "status": statuses,
                        "token_requests": emulation.token_requests,
                    },
                )
            if route == "requests" and method == "DELETE":
                with emulation.lock:
                    emulation.log.clear()
                return Answer(204)
            if route == "faults" and method == "POST":
                fault = Fault(**data)
                with emulation.lock:
                    emulation.faults.append(fault)
                return Answer(201, asdict(fault))
            if route == "faults" and method == "DELETE":
                with emulation.lock:
                    emulation.faults.clear()
                return Answer(204)
            if route == "quality-jobs" and method == "POST":
                job = state.add_quality_job(**data)
                return Answer(201, {"id": str(job.id), "name": job.name})
            parts = route.split("/")
            if method == "POST" and len(parts) == 3 and parts[0::2] == ["quality-jobs", "instances"]:
                instance = state.start_instance(
                    unquote(parts[1]), data.get("run_seconds"), float(data.get("started_ago") or 0)
                )
                return Answer(201, {"id": str(instance.id), "job_name": instance.job.name})
            if route == "scripts" and method == "POST":
                script = state.add_script(**data)
                return Answer(201, {"name": script.name})
            if route == "instances/bulk" and method == "POST":
                return Answer(201, {"instances": state.add_running_instances(**data)})
            if route == "instances" and method == "GET":
                job_name = dict(query).get("job_name")
                return Answer(200, {"instances": state.instance_reports(job_name)})
            if route.startswith("instances/") and route.endswith("/finish") and method == "POST":
                return Answer(200, state.finish_instance(unquote(route.split("/")[1])))
            if route.startswith("instances/") and method == "GET":
                return Answer(200, state.instance_report(unquote(route[len("instances/") :])))
            if route.startswith("scripts/") and method == "GET":
                parts = [unquote(part) for part in route.split("/")]
                if len(parts) == 3 and parts[2] == "instances":
                    return Answer(200, {"instances": state.script_reports(parts[1])})
                if len(parts) == 4 and parts[2] == "instances":
                    return Answer(200, state.script_report(parts[1], parts[3]))
            if route.startswith("scripts/") and route.endswith("/finish") and method == "POST":
                parts = [unquote(part) for part in route.split("/")]
                if len(parts) == 5 and parts[2] == "instances":
                    return Answer(200, state.finish_script(parts[1], parts[3]))
            if parts[0] == "patch-data" and (answer := patchdata.control(method, parts, data, state.factory)):
                return Answer(*answer)
            if parts[0] == "migration" and (
                found := migration.control(method, parts, data, dict(query), state.migration)
            ):
                return Answer(*found)
            if parts[0] == "factory-jobs":
                answer = jobs.control(method, [unquote(p) for p in parts], data, dict(query), state.factory)
                if answer is not None:
                    return Answer(*answer)
            if route == "throttle" and method == "POST":  # {"per_second": N} or {"per_minute": N}; 0: off
                if "per_second" in data:
                    emulation.throttle(int(data["per_second"]), 1.0)
                else:
                    emulation.throttle(int(data["per_minute"]), 60.0)
                return Answer(204)
            if (
                route == "limits" and method == "POST"
            ):  # {"enabled": bool, "families": {f: [n, window] | null}}
                families = {
                    k: (tuple(v) if v is not None else None) for k, v in (data.get("families") or {}).items()
                }
                emulation.set_limits(bool(data.get("enabled", True)), **families)
                return Answer(204)
            if route == "limits" and method == "GET":
                return Answer(200, {f: list(v) for f, v in emulation.family_limits.items()})
            if route == "expire-tokens" and method == "POST":
                emulation.expire_tokens()
                return Answer(204)
            if route == "reset" and method == "POST":
                emulation.reset()
                return Answer(204)
        except EmulatorError as error:
            return Answer(error.status, {"error_code": error.code, "error_msg": error.message})
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as error:
            return Answer(
                400,
                {"error_code": "EMULATOR.0400", "error_msg": f"{type(error).__name__}: {str(error)[:200]}"},
            )
        return Answer(404, {"error_code": "EMULATOR.0404", "error_msg": f"no control route {method} {route}"})


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024
    # Seconds a connection may stay silent (between requests, or in a header) before it is closed.
    idle_timeout = 60.0
    # Seconds a request's body may take to arrive in full (an overstated Content-Length).
    body_timeout = 5.0

    def __init__(self, address: tuple[str, int], emulation: Emulation, quiet: bool = True) -> None:
        super().__init__(address, Handler)
        self.emulation = emulation
        self.quiet = quiet


# Headers that carry a credential or a signature made with one: recorded as a fingerprint.
SECRET_HEADERS = frozenset({"authorization", "x-auth-token", "x-security-token", "x-subject-token", "cookie"})
# Body fields that are credentials (the IAM token request's password).
SECRET_FIELDS = frozenset({"password", "secret", "sk", "token"})
MAX_BODY = 64 * 1024 * 1024


def fingerprint(secret: str) -> str:
    """What the request log keeps of a credential: equal values stay equal, none can be read back."""
    return "redacted:" + hashlib.sha256(secret.encode()).hexdigest()[:16]


def redact_headers(headers: Any) -> dict[str, str]:
    """
    The request's headers for the log, every credential replaced by its ``fingerprint``; an AK/SK
    signature keeps its shape (algorithm, signed headers) with the access key and signature redacted.
    """
    redacted = {}
    for name, value in headers:
        if name.lower() == "authorization" and value.startswith("SDK-HMAC-SHA256 "):
            parts = [part.strip() for part in value[len("SDK-HMAC-SHA256 ") :].split(",")]
            kept = [
                f"{key}={fingerprint(text)}" if key in ("Access", "Signature") else f"{key}={text}"
                for key, _, text in (part.partition("=") for part in parts)
            ]
            redacted[name] = "SDK-HMAC-SHA256 " + ", ".join(kept)
        else:
            redacted[name] = fingerprint(value) if name.lower() in SECRET_HEADERS else value
    return redacted


def redact_body(body: Any) -> Any:
    """The request's body for the log, the value of every credential field replaced by its ``fingerprint``."""
    if isinstance(body, dict):
        return {
            key: fingerprint(str(value))
            if str(key).lower() in SECRET_FIELDS and isinstance(value, str)
            else redact_body(value)
            for key, value in body.items()
        }
    if isinstance(body, list):
        return [redact_body(item) for item in body]
    return body


def _no_api() -> EmulatorError:
    return EmulatorError(
        404, "APIG.0101", "The API does not exist or has not been published in the environment."
    )


def _json(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError:
        raise EmulatorError(400, "DQC.0003", "The request body is not valid JSON.") from None


def _decoded(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body.decode(errors="replace")


def _multi(query: list[tuple[str, str]]) -> dict[str, list[str]]:
    answer: dict[str, list[str]] = {}
    for key, value in query:
        answer.setdefault(key, []).append(value)
    return answer


def _page(
    items: list[Any], params: dict[str, str], render: Callable[[Any], dict[str, Any]] = lambda item: item
) -> Answer:
    try:
        limit = int(params.get("limit") or 10)
        offset = int(params.get("offset") or 0)
    except ValueError:
        raise EmulatorError(400, "DQC.0003", "limit and offset must be integers.") from None
    # The reference gives the result page's range as [0,100]; limit=0 answers the count alone.
    if limit > MAX_LIMIT or limit < 0 or offset < 0:
        raise EmulatorError(400, "DQC.0003", f"limit must be between 0 and {MAX_LIMIT}, offset at least 0.")
    return Answer(
        200, {"count": len(items), "resources": [render(i) for i in items[offset : offset + limit]]}
    )
