"""What the DataArts triggers share: connection loading, the deadline, one event per run."""

from __future__ import annotations

import asyncio
import time
import weakref
from abc import abstractmethod
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_dataarts.statuses import positive_seconds

# The triggerer gives on_kill() 30 s by default ([triggerer] on_kill_timeout); we stop sooner.
ON_KILL_TIMEOUT = 25.0

if TYPE_CHECKING:
    from airflow_provider_dataarts.client.aio import AsyncTransport
    from airflow_provider_dataarts.client.config import DataArtsConfig
    from airflow_provider_dataarts.client.core import Outage

# No event leaves a trigger sooner than this after it started. Airflow 3.3's scheduler fails a
# deferred task whose trigger fires before it has processed the executor's report of the worker
# that deferred ("finished with state success, but the task instance's state attribute is queued":
# apache/airflow issues 66374, 67287, 72716). Measured with the example DAGs: see docs "Airflow versions".
FIRST_EVENT_DELAY = 10.0


# A triggerer starts thousands of triggers at once (after a restart, a burst of deferrals): each
# connection is read once a minute per loop, not once per trigger (a secrets backend call each).
CONFIG_TTL = 60.0
_CONFIGS: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[str, tuple[float, asyncio.Task[DataArtsConfig]]]
] = weakref.WeakKeyDictionary()


async def load_config(conn_id: str) -> DataArtsConfig:
    """The connection, read without blocking the triggerer's loop, with its secrets masked."""
    loop = asyncio.get_running_loop()
    configs = _CONFIGS.setdefault(loop, {})
    entry = configs.get(conn_id)
    if entry is None or time.monotonic() - entry[0] > CONFIG_TTL:
        # A task of its own: a trigger cancelled while it reads must not fail the others waiting.
        reading = loop.create_task(_read_config(conn_id))

        def forget_if_failed(done: asyncio.Task[DataArtsConfig]) -> None:
            # A failure is not kept: the next trigger reads the connection again.
            failed = done.cancelled() or done.exception() is not None
            if failed and conn_id in configs and configs[conn_id][1] is done:
                del configs[conn_id]

        reading.add_done_callback(forget_if_failed)
        entry = configs[conn_id] = (time.monotonic(), reading)
    return await asyncio.shield(entry[1])


async def _read_config(conn_id: str) -> DataArtsConfig:
    from airflow.providers.common.compat.connection import get_async_connection, get_async_extra_dejson

    from airflow_provider_dataarts.client.aio import amask_secret
    from airflow_provider_dataarts.hooks.dataarts import DataArtsHook, config_from_connection

    conn = await get_async_connection(conn_id, DataArtsHook)
    config = config_from_connection(conn, await get_async_extra_dejson(conn))
    for secret in [*config.secrets, config.login if config.auth_type == "aksk" else None]:
        if secret:
            await amask_secret(secret)
    return config


class DataArtsPollingTrigger(BaseTrigger):
    """
    Polls one DataArts instance until ``poll()`` says it is done, or until ``end_time``.

    Yields exactly one event, ``{"status": "success"|"error"|"timeout", "instance_id", "message",
    ...}``, and never dies with an exception: the task decides what the event means.

    :param instance_id: The instance to wait for.
    :param dataarts_conn_id: The Airflow connection of type ``dataarts``.
    :param poll_interval: Seconds between polls.
    :param end_time: Absolute deadline (epoch seconds); ``None`` waits for ever.
    :param cancel_on_kill: Stop the instance when a user kills the deferred task (clear, mark
        failed or success): True for an operator that started the instance, never for a sensor.
    :param stop_at: The task's ``execution_timeout`` as an absolute time (epoch seconds), which
        Airflow 3.3 does not apply to deferrals: then the instance is stopped (with
        ``cancel_on_kill``) and an "execution_timeout" event sent, and the task's retry starts a
        new run.
    """

    def __init__(
        self,
        *,
        instance_id: str,
        dataarts_conn_id: str = "dataarts_default",
        poll_interval: float = 30.0,
        end_time: float | None = None,
        cancel_on_kill: bool = False,
        stop_at: float | None = None,
    ) -> None:
        super().__init__()
        self.instance_id = str(instance_id)
        self.dataarts_conn_id = dataarts_conn_id
        self.poll_interval = positive_seconds(poll_interval, "poll_interval")
        self.end_time = float(end_time) if end_time is not None else None
        self.cancel_on_kill = bool(cancel_on_kill)
        self.stop_at = float(stop_at) if stop_at is not None else None

    def _base_kwargs(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id,
            "dataarts_conn_id": self.dataarts_conn_id,
            "poll_interval": self.poll_interval,
            "end_time": self.end_time,
            "cancel_on_kill": self.cancel_on_kill,
            "stop_at": self.stop_at,
        }

    def _event(self, status: str, message: str, **fields: Any) -> TriggerEvent:
        return TriggerEvent({"status": status, "instance_id": self.instance_id, "message": message, **fields})

    def _remaining(self) -> float | None:
        ends = [t for t in (self.end_time, self.stop_at) if t is not None]
        return None if not ends else min(ends) - time.time()

    async def run(self) -> AsyncIterator[TriggerEvent]:
        started = time.monotonic()
        async for event in self._run():
            held = FIRST_EVENT_DELAY - (time.monotonic() - started)
            if held > 0:
                await asyncio.sleep(held)
            yield event

    async def _run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_provider_dataarts.client.core import Outage, is_transient
        from airflow_provider_dataarts.exceptions import DataArtsDeadlineExceeded

        try:
            from airflow_provider_dataarts.client.aio import AsyncTransport

            config = await load_config(self.dataarts_conn_id)
            self.validate(config)  # the checks the hook makes, before any request
            transport = AsyncTransport(config, self.log)
            outage = Outage(config.outage_tolerance)
            while True:
                remaining = self._remaining()
                if remaining is not None and remaining <= 0:
                    yield await self._ended()
                    return
                try:
                    done = await asyncio.wait_for(self.poll(transport), timeout=remaining)
                except (TimeoutError, DataArtsDeadlineExceeded):
                    yield await self._ended()
                    return
                except Exception as error:
                    # The instance keeps running while the gateway is down: only a long outage, or
                    # an error that retrying cannot change, ends the wait.
                    if not is_transient(error):
                        raise
                    if not outage.failed(error, time.time(), self.log, self.poll_interval):
                        yield self._event("error", outage.give_up_message(time.time()), **self._last_seen())
                        return
                    await self._back_off(outage)
                    continue
                outage.recovered(time.time(), self.log)
                if done is not None:
                    yield done
                    return
        except Exception as error:
            self.log.exception("DataArts trigger for instance %s failed", self.instance_id)
            yield self._event("error", f"{type(error).__name__}: {error}", **self._last_seen())

    async def _back_off(self, outage: Outage) -> None:
        """Poll less often while DataArts is unreachable (``core.outage_backoff``), not past the deadline."""
        wait = max(0.0, (outage.next_poll_at or time.time()) - time.time())
        remaining = self._remaining()
        await asyncio.sleep(wait if remaining is None else max(0.0, min(wait, remaining)))

    def _timeout_event(self) -> TriggerEvent:
        return self._event(
            "timeout", f"instance {self.instance_id} not finished by the deadline", **self._last_seen()
        )

    async def _execution_timeout_event(self) -> TriggerEvent:
        """The task's ``execution_timeout`` passed: stop what the task started, say so."""
        if self.cancel_on_kill:
            await self._stop_bounded("execution_timeout")
        return self._event(
            "execution_timeout",
            f"the task's execution_timeout passed while {self._what()} ran; it was "
            + ("stopped" if self.cancel_on_kill else "left running (cancel_on_kill=False)"),
            **self._last_seen(),
        )

    async def _ended(self) -> TriggerEvent:
        """The wait ran out of time: the task's ``execution_timeout`` or the provider's ``timeout``."""
        if self.stop_at is not None and (self.end_time is None or self.stop_at <= self.end_time):
            return await self._execution_timeout_event()
        return self._timeout_event()

    def validate(self, config: DataArtsConfig) -> None:
        """Raise ``DataArtsConfigError`` if the connection cannot serve this trigger's calls."""

    @abstractmethod
    async def stop(self, transport: AsyncTransport) -> None:
        """Ask DataArts to stop the instance."""

    async def on_kill(self) -> None:
        """
        A user killed the deferred task (mark failed/success, clear): stop the instance if this
        trigger's task started it (``cancel_on_kill``); a sensor's trigger leaves it running.

        Bounded by ``ON_KILL_TIMEOUT``, under the triggerer's own bound, so a slow service ends in
        a warning that names the instance rather than in a generic one.
        """

        if not self.cancel_on_kill:
            self.log.info("The task was killed; DataArts %s is left running (only watched)", self._what())
            return
        await self._stop_bounded("the task was killed")

    async def _stop_bounded(self, why: str) -> None:
        from airflow_provider_dataarts.client.aio import AsyncTransport

        what = self._what()

        async def stop() -> None:
            config = await load_config(self.dataarts_conn_id)
            await self.stop(AsyncTransport(config, self.log))

        try:
            await asyncio.wait_for(stop(), ON_KILL_TIMEOUT)
        except TimeoutError:
            self.log.warning(
                "DataArts did not confirm the stop of %s within %s s; it may still run", what, ON_KILL_TIMEOUT
            )
            return
        except Exception:
            self.log.exception("Could not stop DataArts %s; it may still run", what)
            return
        self.log.info("Stopped DataArts %s (%s, cancel_on_kill)", what, why)

    def _what(self) -> str:
        return f"instance {self.instance_id}"

    @abstractmethod
    async def poll(self, transport: AsyncTransport) -> TriggerEvent | None:
        """Wait for the next poll and check the instance; the final event, or None to go on."""

    @abstractmethod
    def _last_seen(self) -> dict[str, Any]:
        """Fields for an error or timeout event: the last status seen."""
