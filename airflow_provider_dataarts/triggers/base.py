"""What the DataArts triggers share: connection loading, the deadline, one event per run."""

from __future__ import annotations

import asyncio
import time
import weakref
from abc import abstractmethod
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_dataarts.statuses import not_listed_too_long, positive_seconds

# The triggerer gives on_kill() 30 s by default ([triggerer] on_kill_timeout); we stop sooner.
ON_KILL_TIMEOUT = 25.0

if TYPE_CHECKING:
    from airflow_provider_dataarts.client.aio import AsyncTransport
    from airflow_provider_dataarts.client.config import DataArtsConfig
    from airflow_provider_dataarts.client.core import Outage
    from airflow_provider_dataarts.lifecycle import KillReason

# No event leaves a trigger sooner than this after it started. Airflow 3.3's scheduler fails a
# deferred task whose trigger fires before it has processed the executor's report of the worker
# that deferred ("finished with state success, but the task instance's state attribute is queued":
# apache/airflow issues 66374, 67287, 72716). Measured with the example DAGs: see docs "Airflow versions".
FIRST_EVENT_DELAY = 10.0
# A trigger started after its deadline looks at the instance once before it honours the deadline:
# for at most one poll interval and this long.
LATE_LOOK = 30.0
# How long a trigger's on_kill waits for its task instance's state (through the triggerer's channel
# to the API server) before it stops nothing.
STATE_QUERY_TIMEOUT = 10.0


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
        self._status: Any = None  # the last status seen (``_saw``)
        self._polled = False  # ``_paced``
        self._waiting_since = time.time()  # ``_not_listed``

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
            looked = False
            while True:
                remaining = self._remaining()
                if remaining is not None and remaining <= 0 and looked:
                    yield await self._ended()
                    return
                if remaining is not None and remaining <= 0 and not looked:
                    # A trigger (re)started after its deadline (the triggerer was down across it)
                    # looks once first: an instance that finished in time reports its verdict.
                    remaining = self.poll_interval + LATE_LOOK
                looked = True
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
        """
        The task's ``execution_timeout`` passed: stop what the task started and say whether
        DataArts accepted the stop (``stopped``): only then does the task record the run stopped.
        """
        stopped = self.cancel_on_kill and await self._stop_bounded("execution_timeout")
        if stopped:
            outcome = "it was stopped"
        elif self.cancel_on_kill:
            outcome = "its stop was not accepted: the retry waits for it"
        else:
            outcome = "it was left running (cancel_on_kill=False): the retry waits for it"
        return self._event(
            "execution_timeout",
            f"the task's execution_timeout passed while {self._what()} ran; {outcome}",
            stopped=stopped,
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
        The triggerer cancelled this trigger "by user action": stop the instance if this trigger's
        task started it (``cancel_on_kill``; a sensor's trigger leaves it running) and the task
        instance really left ``deferred`` by a user's action (a clear, a mark, a removal:
        ``lifecycle.kill_reason``). Airflow gives the same cancel to a trigger that another
        triggerer took over (still ``deferred``) or that fired there (the task resumed): those stop
        nothing, nor does a state that cannot be read.

        Bounded by ``ON_KILL_TIMEOUT``, under the triggerer's own bound, so a slow service ends in
        a warning that names the instance rather than in a generic one.
        """
        from airflow_provider_dataarts.lifecycle import KillReason

        if not self.cancel_on_kill:
            self.log.info("The task was killed; DataArts %s is left running (only watched)", self._what())
            return
        reason = await self._why_cancelled()
        if reason is not KillReason.USER:
            self.log.warning(
                "Trigger cancelled (%s): DataArts %s is left running", reason.value, self._what()
            )
            return
        await self._stop_bounded(reason.value)

    async def _why_cancelled(self) -> KillReason:
        """The task instance's state on the API server, asked through the triggerer's own channel."""
        from airflow_provider_dataarts.lifecycle import KillReason, kill_reason, state_key

        ti = getattr(self, "task_instance", None)
        try:
            from airflow.sdk.execution_time import task_runner
            from airflow.sdk.execution_time.comms import GetTaskStates

            comms = getattr(task_runner, "SUPERVISOR_COMMS", None)
            if ti is None or comms is None or not hasattr(comms, "asend"):
                self.log.warning("Cannot read the task instance's state here: stopping nothing")
                return KillReason.UNKNOWN
            answer = await asyncio.wait_for(
                comms.asend(
                    GetTaskStates(
                        dag_id=ti.dag_id, task_ids=[ti.task_id], run_ids=[ti.run_id], map_index=ti.map_index
                    )
                ),
                STATE_QUERY_TIMEOUT,
            )
            state = getattr(answer, "task_states", {}).get(ti.run_id, {})[state_key(ti.task_id, ti.map_index)]
        except Exception as error:
            self.log.warning("Could not read the task instance's state (%r): stopping nothing", error)
            return KillReason.UNKNOWN
        self.log.info("Trigger cancelled; the API server says the task instance is %s", state)
        return kill_reason(state)

    async def _stop_bounded(self, why: str) -> bool:
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
            return False
        except Exception:
            self.log.exception("Could not stop DataArts %s; it may still run", what)
            return False
        self.log.info("Stopped DataArts %s (%s, cancel_on_kill)", what, why)
        return True

    def _what(self) -> str:
        return f"instance {self.instance_id}"

    # --- what the polls share -----------------------------------------------------------------

    async def _paced(self) -> None:
        """Before a poll of this trigger's own (no shared poller): the first at once, then every interval."""
        if self._polled:  # short runs end before the first interval
            await asyncio.sleep(self.poll_interval)
        self._polled = True

    def _saw(self, status: Any) -> bool:
        """Log the instance's status when it changes; whether it did."""
        if status == self._status:
            return False
        self.log.info("DataArts %s is %s", self._what(), status)
        self._status = status
        return True

    def _not_listed(
        self, counted_from: int | None, grace: float, message: str, **fields: Any
    ) -> TriggerEvent | None:
        """
        The instance is not listed (yet): None while ``not_listed_grace`` has not passed since
        ``counted_from`` (epoch ms: its start) or this trigger's start (``statuses.not_listed_too_long``,
        the rule of the worker's waits too), then the "error" event that says ``not_listed``.
        """
        if not not_listed_too_long(self._waiting_since, counted_from, time.time(), grace):
            return None
        return self._event("error", message, not_listed=True, **fields)

    @abstractmethod
    async def poll(self, transport: AsyncTransport) -> TriggerEvent | None:
        """Wait for the next poll and check the instance; the final event, or None to go on."""

    @abstractmethod
    def _last_seen(self) -> dict[str, Any]:
        """Fields for an error or timeout event: the last status seen."""
