"""Async transport for the triggers: one pooled ``httpx.AsyncClient`` per event loop, same client core."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, TypeVar, cast

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


def shared_budget(config: DataArtsConfig, family: str = "quality") -> core.RequestBudget:
    """
    The process's request budget of ``family`` for the connection's user (``client.core.BUDGETS``,
    shared with every other trigger, and with any hook call made in this process).
    """
    budget = core.current_budgets().get(config, family)
    if budget is None:
        raise ValueError(f"the API family {family!r} has no request budget")
    return budget


def shared_client(config: DataArtsConfig) -> httpx.AsyncClient:
    import httpx

    clients = _CLIENTS.setdefault(asyncio.get_running_loop(), {})
    key = str(config.verify)
    client = clients.get(key)
    if client is None or client.is_closed:
        client = httpx.AsyncClient(
            verify=config.verify,
            limits=httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS),
            follow_redirects=False,
        )
        clients[key] = client
    return client


class AsyncTransport:
    """
    The async twin of ``SyncTransport`` (same ``deadline`` rule): only the I/O differs. Every
    request waits for the process's budget of its API family (``extra.rate_limits``, in ``core``).
    """

    def __init__(self, config: DataArtsConfig, log: Any, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.log = log
        self.client = client

    async def run(self, operation: Generator[core.ApiRequest, Any, T], *, deadline: float | None = None) -> T:
        steps = core.run_operation(self.config, operation, self.log, deadline)
        return await self._carry_out(steps)

    async def call(self, request: core.ApiRequest, *, deadline: float | None = None) -> Any:
        steps = core.call(self.config, request, self.log, deadline)
        return await self._carry_out(steps)

    async def _carry_out(self, steps: core.Steps[T]) -> T:
        with core.Drive(steps) as drive:
            while not drive.done:
                drive.reply(await self._step(drive.step))
            return cast(T, drive.result)

    async def _step(self, step: core.Step) -> Any:
        if isinstance(step, core.Send):
            return await self._exchange(step)
        if isinstance(step, core.Sleep):
            await asyncio.sleep(step.seconds)
        else:
            await amask_secret(step.secret)
        return None

    async def _exchange(self, step: core.Send) -> tuple[int, Any, bytes] | DataArtsAPIError:
        import httpx

        prepared, request = step.prepared, step.request
        client = self.client or shared_client(self.config)
        try:
            response = await client.request(
                prepared.method,
                prepared.url,
                headers=prepared.headers,
                content=prepared.body or None,
                timeout=httpx.Timeout(step.timeout, connect=min(CONNECT_TIMEOUT, step.timeout)),
            )
        except httpx.TransportError as error:
            return DataArtsConnectionError(
                f"{type(error).__name__}: {error}",
                may_have_arrived=not isinstance(error, _not_sent()),
                method=request.method,
                path=request.path,
            )
        return response.status_code, response.headers, response.content


def _not_sent() -> tuple[type[Exception], ...]:
    import httpx

    return (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


async def amask_secret(value: str) -> None:
    try:
        from airflow.sdk.log import amask_secret as sdk_amask_secret
    except ImportError:  # Airflow before 3.1
        from airflow.providers.common.compat.sdk import mask_secret

        mask_secret(value)
    else:
        await sdk_amask_secret(value)
