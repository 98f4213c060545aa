"""Async transport for the triggers: one pooled ``httpx.AsyncClient`` per event loop, same client core."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_dataarts.client import core
from airflow_provider_dataarts.exceptions import DataArtsAPIError, DataArtsConnectionError

if TYPE_CHECKING:
    import httpx

    from airflow_provider_dataarts.client.config import DataArtsConfig

T = TypeVar("T")
CONNECT_TIMEOUT = 10.0
MAX_CONNECTIONS = 64

# Every trigger of a triggerer shares one connection pool per loop and TLS setting: no handshake
# per poll. Weak keys let a finished loop (tests, dag.test()) take its clients with it.
_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, httpx.AsyncClient]] = (
    weakref.WeakKeyDictionary()
)
_TOKEN_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def shared_client(config: DataArtsConfig) -> httpx.AsyncClient:
    import httpx

    clients = _CLIENTS.setdefault(asyncio.get_running_loop(), {})
    key = (str(config.verify), config.timeout)
    client = clients.get(key)
    if client is None or client.is_closed:
        client = httpx.AsyncClient(
            verify=config.verify,
            timeout=httpx.Timeout(config.timeout, connect=min(CONNECT_TIMEOUT, config.timeout)),
            limits=httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS),
            follow_redirects=False,
        )
        clients[key] = client
    return client


class AsyncTransport:
    """The async twin of ``SyncTransport``: only the I/O differs, every decision is in ``core``."""

    def __init__(self, config: DataArtsConfig, log: Any, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.log = log
        self.client = client

    async def run(self, operation: Generator[core.ApiRequest, Any, T], *, deadline: float | None = None) -> T:
        try:
            request = next(operation)
            while True:
                request = operation.send(await self.call(request, deadline=deadline))
        except StopIteration as done:
            return done.value

    async def call(self, request: core.ApiRequest, *, deadline: float | None = None) -> Any:
        core.check_deadline(request, deadline)
        async for attempt in _retrying(self.config, request, self.log, deadline):
            with attempt:
                return await self._call_once(request)
        raise AssertionError("unreachable: tenacity reraises the last error")

    async def _call_once(self, request: core.ApiRequest) -> Any:
        token = await self._token()
        try:
            return core.read_answer(request, *await self._exchange(request, token))
        except DataArtsAPIError as error:
            if not core.needs_token_renewal(self.config, error):
                raise
            self.log.info("DataArts token was refused (%s); renewing it once", error.error_code)
            core.TOKENS.discard(self.config, token)
            return core.read_answer(request, *await self._exchange(request, await self._token()))

    async def _token(self) -> str | None:
        if self.config.auth_type == "token":
            return self.config.secret
        if self.config.auth_type != "password":
            return None
        cached = core.TOKENS.get(self.config)
        if cached:
            return cached
        key = core.TOKENS.key(self.config)
        lock = _TOKEN_LOCKS.setdefault(asyncio.get_running_loop(), {}).setdefault(key, asyncio.Lock())
        async with lock:
            cached = core.TOKENS.get(self.config)
            if cached:
                return cached
            token = await self._fetch_token()
            await amask_secret(token.value)
            core.TOKENS.put(self.config, token)
            return token.value

    async def _fetch_token(self) -> core.IamToken:
        request = core.token_request(self.config)
        async for attempt in _retrying(self.config, request, self.log):
            with attempt:
                return core.read_token(request, *await self._exchange(request, None))
        raise AssertionError("unreachable: tenacity reraises the last error")

    async def _exchange(self, request: core.ApiRequest, token: str | None) -> tuple[int, Any, bytes]:
        import httpx

        prepared = core.prepare(self.config, request, token)
        client = self.client or shared_client(self.config)
        try:
            response = await client.request(
                prepared.method, prepared.url, headers=prepared.headers, content=prepared.body or None
            )
        except httpx.TransportError as error:
            raise DataArtsConnectionError(
                f"{type(error).__name__}: {error}",
                may_have_arrived=not isinstance(error, _not_sent()),
                method=request.method,
                path=request.path,
            ) from None
        return response.status_code, response.headers, response.content


def _not_sent() -> tuple[type[Exception], ...]:
    import httpx

    return (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def _retrying(
    config: DataArtsConfig, request: core.ApiRequest, log: Any, deadline: float | None = None
) -> Any:
    from tenacity import AsyncRetrying

    kwargs = core.retry_kwargs(config, request, log)
    base, late = kwargs["stop"], core.deadline_stop(deadline)
    kwargs["stop"] = lambda state: base(state) or late(state)
    return AsyncRetrying(**kwargs)


async def amask_secret(value: str) -> None:
    try:
        from airflow.sdk.log import amask_secret as sdk_amask_secret
    except ImportError:  # Airflow before 3.1
        from airflow.providers.common.compat.sdk import mask_secret

        mask_secret(value)
    else:
        await sdk_amask_secret(value)
