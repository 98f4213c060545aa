"""
Event trigger for asset watchers: an asset event each time a DataArts Quality job's instance ends.

Many teams let DataArts schedule its own quality jobs. With this trigger in an ``AssetWatcher``,
``schedule=[Asset(..., watchers=[...])]`` runs a DAG when DataArts itself finishes a check::

    from airflow.sdk import Asset, AssetWatcher

    checked = Asset(
        "dataarts_orders_checked",
        watchers=[
            AssetWatcher(
                name="orders_completeness_instances",
                trigger=DataArtsQualityJobEventTrigger(job_name="orders_completeness"),
            )
        ],
    )

Each event's payload is the verdict the quality operator puts on its outlets
(``{"dataarts_instance_id", "job_name", "run_status", "sub_rules", "alarming_sub_rules"}``); Airflow
stores it in the asset event as ``extra["payload"]`` (``assets.quality_verdict_of`` reads both).

At most one event per instance, also across triggerer restarts: on Airflow 3.3+ the trigger keeps
what it has handled in the watched asset's ``asset_state_store`` and writes it before it yields an
event; an instance that ends while the triggerer is down is reported when it is back (if it started
less than a day before, or later than the last instance the trigger handled). Where Airflow gives
watchers no state store, only instances that end while this trigger runs are reported.

On Airflow 3.3+ every watcher of one triggerer with the same connection and poll interval shares one
paginated list request per interval (``shared_stream_key``); elsewhere each watcher lists its own job.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Hashable
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_provider_dataarts.statuses import (
    DEFAULT_CONN_ID,
    QUALITY_TERMINAL,
    TASK_TYPES,
    is_quality_terminal,
    rule_type_code,
)

if TYPE_CHECKING:
    from airflow_provider_dataarts.client.aio import AsyncTransport

log = logging.getLogger(__name__)

# A listing reaches this far back when it starts: instances that ended while the triggerer was down.
FIRST_LOOKBACK_MS = 24 * 3600 * 1000
# The instance list may show an instance a moment after it started: listings overlap by this much.
LAG_MS = 5 * 60 * 1000
STATE_KEY_PREFIX = "dataarts_quality_job_watcher"


def _start(item: dict[str, Any]) -> int:
    return int(item.get("start_time") or 0)


def _now_ms() -> int:
    return int(time.time() * 1000)


async def instance_rounds(
    dataarts_conn_id: str, poll_interval: float, **filters: Any
) -> AsyncIterator[list[dict[str, Any]]]:
    """
    Every ``poll_interval``, the quality instances started since the oldest one still running (or
    the newest one, when none runs), newest first: one list request per page of 100.

    Yields for ever. A failed round is logged and skipped, so one bad answer never ends a watcher.
    """
    from airflow_provider_dataarts.client import operations as ops
    from airflow_provider_dataarts.client.aio import AsyncTransport
    from airflow_provider_dataarts.triggers.base import load_config

    config = await load_config(dataarts_conn_id)
    config.require_workspace()
    transport = AsyncTransport(config, log)
    bound = _now_ms() - FIRST_LOOKBACK_MS
    while True:
        try:
            items = await transport.run(
                ops.list_quality_instances(config.project_id, start_time=bound, **filters)
            )
        except Exception as error:
            log.warning("DataArts quality instance list failed (trying again next round): %s", error)
        else:
            yield items
            running = [_start(item) for item in items if not is_quality_terminal(item.get("run_status"))]
            starts = running or [_start(item) for item in items]
            if starts:
                bound = max(bound, (min(running) if running else max(starts)) - LAG_MS)
        await asyncio.sleep(poll_interval)


class DataArtsQualityJobEventTrigger(BaseEventTrigger):
    """
    Emit an event for each instance of one DataArts Quality job that turns terminal.

    For an ``AssetWatcher``: the DAG scheduled on the asset runs once per finished instance, however
    the instance was started (DataArts' own schedule, the console, another tool). Instances already
    finished when the trigger first runs are not reported.

    :param job_name: Exact name of the quality or comparison job. Not templated: Airflow builds an
        asset watcher's trigger when it parses the DAG and never renders its arguments (a watcher
        has no task instance, so the triggerer has no context to render with); a name with ``{{``
        or ``{%`` is refused at parse time.
    :param rule_id: Id of the job, instead of ``job_name``.
    :param rule_type: ``"quality"`` (1) or ``"comparison"`` (2).
    :param dataarts_conn_id: The Airflow connection of type ``dataarts``.
    :param poll_interval: Seconds between polls of the instance list.
    :param run_statuses: Report only instances ending with one of these (default: ``SUCCESS``,
        ``ALARMING`` and ``FAILED``); e.g. ``["SUCCESS"]`` runs the DAG only on data that passed.
    """

    def __init__(
        self,
        *,
        job_name: str | None = None,
        rule_id: str | int | None = None,
        rule_type: str | int = "quality",
        dataarts_conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = 60.0,
        run_statuses: list[str] | None = None,
    ) -> None:
        super().__init__()
        if (job_name is None) == (rule_id is None):
            raise ValueError("DataArtsQualityJobEventTrigger: give exactly one of job_name and rule_id.")
        for name, value in (("job_name", job_name), ("rule_id", rule_id)):
            if isinstance(value, str) and ("{{" in value or "{%" in value):
                raise ValueError(
                    f"DataArtsQualityJobEventTrigger: {name} {value!r} is a Jinja template, but a "
                    f"watcher's {name} is not templated (Airflow builds asset watchers when it parses "
                    "the DAG and renders nothing for them): give the job's own name or id."
                )
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive, not {poll_interval!r}.")
        statuses = sorted({str(s).upper() for s in run_statuses}) if run_statuses is not None else None
        if statuses is not None and not set(statuses) <= set(QUALITY_TERMINAL):
            raise ValueError(f"run_statuses must be among {sorted(QUALITY_TERMINAL)}, not {run_statuses!r}.")
        self.job_name = job_name
        self.rule_id = str(rule_id) if rule_id is not None else None
        self.rule_type = rule_type
        self.task_type = TASK_TYPES[rule_type_code(rule_type)]
        self.dataarts_conn_id = dataarts_conn_id
        self.poll_interval = float(poll_interval)
        self.run_statuses = statuses
        self.state: dict[str, Any] = {}
        self._transport: AsyncTransport | None = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "airflow_provider_dataarts.triggers.quality_events.DataArtsQualityJobEventTrigger",
            {
                "job_name": self.job_name,
                "rule_id": self.rule_id,
                "rule_type": self.rule_type,
                "dataarts_conn_id": self.dataarts_conn_id,
                "poll_interval": self.poll_interval,
                "run_statuses": self.run_statuses,
            },
        )

    # --- sharing one poll (Airflow 3.3+) ----------------------------------------------------------

    def shared_stream_key(self) -> Hashable | None:
        """Watchers with the same connection and poll interval share one listing of all instances."""
        return ("dataarts-quality-instances", self.dataarts_conn_id, self.poll_interval)

    @classmethod
    async def open_shared_stream(cls, kwargs: dict[str, Any]) -> AsyncIterator[Any]:
        async for items in instance_rounds(kwargs["dataarts_conn_id"], float(kwargs["poll_interval"])):
            yield items

    async def filter_shared_stream(self, shared_stream: AsyncIterator[Any]) -> AsyncIterator[TriggerEvent]:
        await self._load_state()
        for event in await self._catch_up():
            yield event
        async for items in shared_stream:
            for event in await self._handle(items):
                yield event

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Without shared streams (Airflow before 3.3): list this job's instances alone."""
        filters = {"name": self.job_name} if self.job_name else {}
        rounds = instance_rounds(
            self.dataarts_conn_id, self.poll_interval, task_type=self.task_type, **filters
        )
        async for event in self.filter_shared_stream(rounds):
            yield event

    # --- what this watcher has handled -------------------------------------------------------------

    def _state_key(self) -> str:
        job = f"name={self.job_name}" if self.job_name else f"id={self.rule_id}"
        return f"{STATE_KEY_PREFIX}:{self.dataarts_conn_id}:{self.task_type}:{job}"

    def _accessors(self) -> list[Any]:
        """The watched assets' state stores (Airflow 3.3+); several when assets share this trigger."""
        store = getattr(self, "asset_state_store", None)  # Airflow 3.3+
        if store is None:
            return []
        # The accessor mapping offers no public listing of its assets; one asset is the usual case.
        by_name = getattr(store, "_by_name", None)
        by_uri = getattr(store, "_by_uri", None)
        if isinstance(by_name, dict) and isinstance(by_uri, dict):
            return [*by_name.values(), *by_uri.values()]
        return [store]

    async def _load_state(self) -> None:
        stored = None
        for accessor in self._accessors():
            stored = await accessor.aget(self._state_key())
            if isinstance(stored, dict):
                break
        if isinstance(stored, dict) and "baseline" in stored:
            self.state = {
                "baseline": int(stored["baseline"]),
                "floor": int(stored["floor"]) if stored.get("floor") is not None else None,
                "handled": {str(k): int(v) for k, v in (stored.get("handled") or {}).items()},
                "pending": {str(k): int(v) for k, v in (stored.get("pending") or {}).items()},
            }
            self.log.info("DataArts watcher %s resumes: %s", self._state_key(), self._summary())
        else:
            self.state = {"baseline": _now_ms(), "floor": None, "handled": {}, "pending": {}}
            self.log.info("DataArts watcher %s starts: instances ending from now on", self._state_key())

    async def _save_state(self) -> None:
        for accessor in self._accessors():
            await accessor.aset(self._state_key(), self.state)

    def _summary(self) -> str:
        return (
            f"{len(self.state['handled'])} instance(s) handled, {len(self.state['pending'])} running, "
            f"floor {self.state['floor']}"
        )

    # --- turning listings into events ----------------------------------------------------------

    def _is_mine(self, item: dict[str, Any]) -> bool:
        if item.get("task_type") and item.get("task_type") != self.task_type:
            return False
        if self.rule_id is not None:
            return str(item.get("task_id")) == self.rule_id
        return item.get("name") == self.job_name

    async def _catch_up(self) -> list[TriggerEvent]:
        """After a long outage the shared listing starts too late: list this job from the floor."""
        floor = self.state.get("floor")
        if floor is None or floor >= _now_ms() - FIRST_LOOKBACK_MS:
            return []
        from airflow_provider_dataarts.client import operations as ops

        transport = await self._get_transport()
        filters = {"name": self.job_name} if self.job_name else {}
        try:
            items = await transport.run(
                ops.list_quality_instances(
                    transport.config.project_id, start_time=floor, task_type=self.task_type, **filters
                )
            )
        except Exception as error:
            self.log.warning("DataArts watcher could not catch up from %s: %s", floor, error)
            return []
        return await self._handle(items)

    async def _get_transport(self) -> AsyncTransport:
        if self._transport is None:
            from airflow_provider_dataarts.client.aio import AsyncTransport
            from airflow_provider_dataarts.triggers.base import load_config

            self._transport = AsyncTransport(await load_config(self.dataarts_conn_id), self.log)
        return self._transport

    async def _handle(self, items: list[dict[str, Any]]) -> list[TriggerEvent]:
        """The events for this job's instances that ended since last seen; state saved first."""
        state = self.state
        before = repr(state)
        handled: dict[str, int] = state["handled"]
        pending: dict[str, int] = state["pending"]
        mine = sorted((item for item in items if self._is_mine(item)), key=_start)
        events = []
        for item in mine:
            instance_id, start, status = str(item.get("id")), _start(item), item.get("run_status")
            if instance_id in handled:
                continue
            if not is_quality_terminal(status):
                pending[instance_id] = start
                continue
            fresh = instance_id in pending or (
                (state["floor"] is None or start >= state["floor"])
                and int(item.get("end_time") or start) >= state["baseline"]
            )
            if fresh and (self.run_statuses is None or str(status).upper() in self.run_statuses):
                try:
                    payload = await self._verdict(item)
                except Exception as error:  # the results call failed: try it next round, whatever the floor
                    self.log.warning(
                        "DataArts watcher: results of instance %s failed: %s", instance_id, error
                    )
                    pending[instance_id] = start
                    break
                events.append(TriggerEvent(payload))
                self.log.info(
                    "DataArts quality instance %s of %s ended %s", instance_id, item.get("name"), status
                )
            handled[instance_id] = start
            pending.pop(instance_id, None)
        if mine:
            candidate = min(pending.values()) if pending else max(_start(item) for item in mine)
            state["floor"] = max(state["floor"] or 0, candidate - LAG_MS)
            state["handled"] = {key: value for key, value in handled.items() if value >= state["floor"]}
        if repr(state) != before:
            await self._save_state()
        return events

    async def _verdict(self, item: dict[str, Any]) -> dict[str, Any]:
        from airflow_provider_dataarts.assets import quality_event_extra
        from airflow_provider_dataarts.client import operations as ops

        transport = await self._get_transport()
        sub_rules = await transport.run(ops.quality_instance_results(transport.config.project_id, item["id"]))
        return quality_event_extra(
            {
                "instance_id": item["id"],
                "run_status": item.get("run_status"),
                "instance": item,
                "sub_rules": sub_rules,
            }
        )
