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
(``{"dataarts_instance_id", "job_name", "run_status", "sub_rules", "alarming_sub_rules", "verdict"}``,
``verdict`` decided by the same policy as the operator's, with this trigger's ``warn_only``); Airflow
stores it in the asset event as ``extra["payload"]`` (``assets.quality_verdict_of`` reads both). An
instance whose results call keeps failing does not hold up the others: it is tried again each round
and, after ``results_retry_seconds``, reported without its results (``sub_rules`` and
``alarming_sub_rules`` ``None``, ``results_error`` says why) with one ERROR line in the triggerer log.

At most one event per instance, also across triggerer restarts: on Airflow 3.3+ the trigger keeps
what it has handled in the watched asset's ``asset_state_store`` and writes it before it yields an
event; an instance that ends while the triggerer is down is reported when it is back (if it started
less than a day before, was running when the triggerer stopped, or started later than the last
instance the trigger handled). Where Airflow gives watchers no state store, only instances that end
while this trigger runs are reported.

On Airflow 3.3+ every watcher of one triggerer with the same connection and poll interval shares one
list request per interval (``shared_stream_key``): the instances started since the newest one of the
round before, about one page; elsewhere each watcher lists its own job the same way. A watched
instance still running when that window has moved past it costs its watcher one more request a
round (``run_status=RUNNING`` within its start) until it ends. User guide: ``docs/watchers.md``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Hashable
from dataclasses import dataclass
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
# A finished instance whose results call fails is tried again each round, at least this many times
# and for at least ``results_retry_seconds``, then reported without its results.
MIN_RESULT_ATTEMPTS = 3
# At most this many instances wait for their results at once (the durable progress stays small):
# one more is reported without its results at once.
MAX_STUCK = 100
ERROR_CHARS = 500


def _start(item: dict[str, Any]) -> int:
    return int(item.get("start_time") or 0)


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Listing:
    """
    One round's instances: every instance listed that started at ``since`` (epoch ms) or later.

    :param items: The instances listed, newest first.
    :param since: The round's window start (epoch milliseconds).
    """

    items: list[dict[str, Any]]
    since: int


async def instance_rounds(
    dataarts_conn_id: str, poll_interval: float, **filters: Any
) -> AsyncIterator[Listing]:
    """
    Every ``poll_interval``, the quality instances started since the newest one of the round
    before (less ``LAG_MS``; the first round reaches a day back), newest first: one list request
    per page of 100, so about one request a round. An instance that is still running when the
    window moves past it is each watcher's to follow (``DataArtsQualityJobEventTrigger``), so one
    instance running for hours does not make every round re-read everything since its start.

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
        since = bound
        try:
            items = await transport.run(
                ops.list_quality_instances(config.project_id, start_time=since, **filters)
            )
        except Exception as error:
            log.warning("DataArts quality instance list failed (trying again next round): %s", error)
        else:
            yield Listing(items, since)
            if items:
                bound = max(bound, max(_start(item) for item in items) - LAG_MS)
        await asyncio.sleep(poll_interval)


class DataArtsQualityJobEventTrigger(BaseEventTrigger):
    """
    Emit an event for each instance of one DataArts Quality job that turns terminal.

    For an ``AssetWatcher``: the DAG scheduled on the asset runs once per finished instance, however
    the instance was started (DataArts' own schedule, the console, another tool). Instances already
    finished when the trigger first runs are not reported.

    When the results call of a finished instance fails, the instances after it are reported all
    the same; that one is tried again each round, and when it still fails after
    ``results_retry_seconds`` (and at least three tries, also counted across triggerer restarts)
    it is reported without its results: its event carries the listing's ``run_status``,
    ``sub_rules`` and ``alarming_sub_rules`` ``None``, and ``results_error`` (why), and the
    triggerer logs one ERROR line naming the instance.

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
    :param results_retry_seconds: How long a finished instance whose results cannot be read is
        tried again before it is reported without them (default 10 minutes).
    :param warn_only: Sub-rule names or dimensions (``fnmatch`` patterns, case ignored) whose alarms
        only warn: an ALARMING instance whose alarming sub-rules all match has the event's
        ``verdict`` ``"passed_with_warnings"``, else ``"failed"`` (the quality operator's policy).
        Not templated (see ``job_name``). The job's definition is read once per trigger for the names.
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
        results_retry_seconds: float = 600.0,
        warn_only: list[str] | str | None = None,
    ) -> None:
        from airflow_provider_dataarts.quality_policy import check_warn_only_at_parse, warn_only_patterns

        super().__init__()
        if (job_name is None) == (rule_id is None):
            raise ValueError("DataArtsQualityJobEventTrigger: give exactly one of job_name and rule_id.")
        for name, value in (("job_name", job_name), ("rule_id", rule_id), ("warn_only", warn_only)):
            if isinstance(value, str) and ("{{" in value or "{%" in value):
                raise ValueError(
                    f"DataArtsQualityJobEventTrigger: {name} {value!r} is a Jinja template, but a "
                    f"watcher's {name} is not templated (Airflow builds asset watchers when it parses "
                    "the DAG and renders nothing for them): give the job's own name or id."
                )
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive, not {poll_interval!r}.")
        if results_retry_seconds < 0:
            raise ValueError(f"results_retry_seconds must not be negative, not {results_retry_seconds!r}.")
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
        self.results_retry_seconds = float(results_retry_seconds)
        check_warn_only_at_parse(warn_only, "DataArtsQualityJobEventTrigger")
        self.warn_only = list(warn_only_patterns(warn_only, "DataArtsQualityJobEventTrigger: warn_only"))
        self._definitions: dict[str, dict[str, Any]] = {}  # job id -> its definition, read once
        self.state: dict[str, Any] = {}
        self._transport: AsyncTransport | None = None
        self._just_stuck: set[str] = set()  # failed in this round: tried again from the next one

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
                "results_retry_seconds": self.results_retry_seconds,
                "warn_only": self.warn_only,
            },
        )

    # --- sharing one poll (Airflow 3.3+) ----------------------------------------------------------

    def shared_stream_key(self) -> Hashable | None:
        """Watchers with the same connection and poll interval share one listing of all instances."""
        return ("dataarts-quality-instances", self.dataarts_conn_id, self.poll_interval)

    @classmethod
    async def open_shared_stream(cls, kwargs: dict[str, Any]) -> AsyncIterator[Any]:
        async for listing in instance_rounds(kwargs["dataarts_conn_id"], float(kwargs["poll_interval"])):
            yield listing

    async def filter_shared_stream(self, shared_stream: AsyncIterator[Any]) -> AsyncIterator[TriggerEvent]:
        await self._load_state()
        for event in await self._catch_up():
            yield event
        async for listing in shared_stream:
            for event in await self._handle(listing):
                yield event
            for event in await self._retry_stuck():  # after this round's own events, however slow
                yield event

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Without shared streams (Airflow before 3.3): list this job's instances alone."""
        rounds = instance_rounds(self.dataarts_conn_id, self.poll_interval, **self._filters())
        async for event in self.filter_shared_stream(rounds):
            yield event

    def _filters(self) -> dict[str, Any]:
        """The list call's filters for this job's instances (the name filter matches fuzzily)."""
        return {"task_type": self.task_type, **({"name": self.job_name} if self.job_name else {})}

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
        """
        The durable progress: ``baseline`` (instances ending before it are history), ``floor``
        (instances starting before it and not ``pending`` are never reported, so ``handled`` keeps
        only ids from it on), ``handled`` (id -> start), ``pending`` (running; id -> start) and
        ``stuck`` (ended, results not read yet; id -> start, name, run_status, attempts, since, error).
        """
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
                "stuck": {
                    str(k): dict(v) for k, v in (stored.get("stuck") or {}).items() if isinstance(v, dict)
                },
            }
            self.log.info("DataArts watcher %s resumes: %s", self._state_key(), self._summary())
        else:
            self.state = {"baseline": _now_ms(), "floor": None, "handled": {}, "pending": {}, "stuck": {}}
            self.log.info("DataArts watcher %s starts: instances ending from now on", self._state_key())

    async def _save_state(self) -> None:
        for accessor in self._accessors():
            await accessor.aset(self._state_key(), self.state)

    def _summary(self) -> str:
        return (
            f"{len(self.state['handled'])} instance(s) handled, {len(self.state['pending'])} running, "
            f"{len(self.state['stuck'])} waiting for results, floor {self.state['floor']}"
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
        try:
            items = await transport.run(
                ops.list_quality_instances(transport.config.project_id, start_time=floor, **self._filters())
            )
        except Exception as error:
            self.log.warning("DataArts watcher could not catch up from %s: %s", floor, error)
            return []
        return await self._handle(Listing(items, floor))

    async def _get_transport(self) -> AsyncTransport:
        if self._transport is None:
            from airflow_provider_dataarts.client.aio import AsyncTransport
            from airflow_provider_dataarts.triggers.base import load_config

            self._transport = AsyncTransport(await load_config(self.dataarts_conn_id), self.log)
        return self._transport

    async def _handle(self, listing: Listing) -> list[TriggerEvent]:
        """The events for this job's instances that ended since last seen; state saved first."""
        state = self.state
        before = repr(state)
        handled: dict[str, int] = state["handled"]
        pending: dict[str, int] = state["pending"]
        stuck: dict[str, dict[str, Any]] = state["stuck"]
        events: list[TriggerEvent] = []
        listed = [item for item in listing.items if self._is_mine(item)]
        seen = {str(item.get("id")) for item in listed}
        behind = {key: start for key, start in pending.items() if start < listing.since and key not in seen}
        mine = sorted([*listed, *await self._follow(behind)], key=_start)
        for item in mine:
            instance_id, start, status = str(item.get("id")), _start(item), item.get("run_status")
            if instance_id in handled or instance_id in stuck:
                continue
            if not is_quality_terminal(status):
                pending[instance_id] = start
                continue
            fresh = instance_id in pending or (
                (state["floor"] is None or start >= state["floor"])
                and int(item.get("end_time") or start) >= state["baseline"]
            )
            pending.pop(instance_id, None)
            if fresh and (self.run_statuses is None or str(status).upper() in self.run_statuses):
                payload: dict[str, Any] | None
                try:
                    payload = await self._verdict(item)
                except Exception as error:  # tried again next round, while the others go on
                    stuck[instance_id] = {
                        "start": start,
                        "name": item.get("name"),
                        "task_id": item.get("task_id"),
                        "run_status": status,
                        "attempts": 0,
                        "since": _now_ms(),
                        "error": "",
                    }
                    self._just_stuck.add(instance_id)
                    payload = self._failed(instance_id, error)
                if payload is None:
                    continue
                events.append(TriggerEvent(payload))
                self.log.info(
                    "DataArts quality instance %s of %s ended %s", instance_id, item.get("name"), status
                )
            handled[instance_id] = start
        if listed:
            newest = max(_start(item) for item in listed)
            state["floor"] = max(state["floor"] or 0, newest - LAG_MS)
            state["handled"] = {key: value for key, value in handled.items() if value >= state["floor"]}
        if repr(state) != before:
            await self._save_state()
        return events

    async def _follow(self, behind: dict[str, int]) -> list[dict[str, Any]]:
        """
        The overviews of this job's running instances that the listing window has left behind:
        one list request for those still running (``run_status=RUNNING``, within their starts), and
        one more for each that has ended since. One that is not listed at all any more is dropped.
        """
        if not behind:
            return []
        from airflow_provider_dataarts.client import operations as ops

        transport = await self._get_transport()
        project_id, pending = transport.config.project_id, self.state["pending"]
        # The window's end bounds the start; a second on, so that an instance's own millisecond counts.
        window = {"start_time": min(behind.values()), "end_time": max(behind.values()) + 1000}
        try:
            running = await transport.run(
                ops.list_quality_instances(project_id, run_status="RUNNING", **window, **self._filters())
            )
        except Exception as error:
            self.log.warning("DataArts watcher: running instances %s not read: %s", sorted(behind), error)
            return []
        found = [item for item in running if str(item.get("id")) in behind]
        for instance_id in sorted(set(behind) - {str(item.get("id")) for item in found}):
            start = behind[instance_id]
            try:
                items = await transport.run(
                    ops.list_quality_instances(
                        project_id, start_time=start, end_time=start + 1000, **self._filters()
                    )
                )
            except Exception as error:
                self.log.warning("DataArts watcher: instance %s not read: %s", instance_id, error)
                continue
            item = next((item for item in items if str(item.get("id")) == instance_id), None)
            if item is None:  # not in its own second: look for it from its start on, newest first
                try:
                    item = await transport.run(
                        ops.find_quality_instance(
                            project_id,
                            instance_id,
                            name=self.job_name,
                            task_type=self.task_type,
                            started_after=start,
                            exhaustive=False,
                        )
                    )
                except Exception as error:
                    self.log.warning("DataArts watcher: instance %s not read: %s", instance_id, error)
                    continue
            if item is None:
                self.log.warning("DataArts watcher: running instance %s is no longer listed", instance_id)
                pending.pop(instance_id, None)
            else:
                found.append(item)
        return found

    async def _retry_stuck(self) -> list[TriggerEvent]:
        """Read the results of the instances stuck in earlier rounds again, oldest first."""
        stuck = self.state["stuck"]
        oldest_first = sorted(stuck, key=lambda key: int(stuck[key].get("start") or 0))
        waiting = [key for key in oldest_first if key not in self._just_stuck]
        self._just_stuck = set()
        if not waiting:
            return []
        before = repr(self.state)
        events = [TriggerEvent(payload) for key in waiting if (payload := await self._retry(key)) is not None]
        if repr(self.state) != before:
            await self._save_state()
        return events

    async def _retry(self, instance_id: str) -> dict[str, Any] | None:
        """Read a stuck instance's results again: its event's payload, or ``None`` to try later."""
        entry = self.state["stuck"][instance_id]
        item = {
            "id": instance_id,
            "name": entry.get("name"),
            "run_status": entry.get("run_status"),
            "task_id": entry.get("task_id"),
        }
        try:
            payload = await self._verdict(item)
        except Exception as error:
            return self._failed(instance_id, error)
        self.log.info(
            "DataArts quality instance %s of %s ended %s (results read at attempt %s)",
            instance_id,
            entry.get("name"),
            entry.get("run_status"),
            int(entry.get("attempts") or 0) + 1,
        )
        self._settle(instance_id)
        return payload

    def _failed(self, instance_id: str, error: Exception) -> dict[str, Any] | None:
        """
        Count a failed results call of a stuck instance: ``None`` to try again next round, or, past
        the bound (or with too many stuck at once), the payload that reports it without results.
        """
        stuck = self.state["stuck"]
        entry = stuck[instance_id]
        entry["attempts"] = int(entry.get("attempts") or 0) + 1
        entry["error"] = str(error)[:ERROR_CHARS]
        waited = (_now_ms() - int(entry.get("since") or 0)) / 1000
        crowded = len(stuck) > MAX_STUCK
        if not crowded and (entry["attempts"] < MIN_RESULT_ATTEMPTS or waited < self.results_retry_seconds):
            self.log.warning(
                "DataArts watcher: results of instance %s failed (attempt %s; tried again for %.1f s "
                "more): %s",
                instance_id,
                entry["attempts"],
                max(0.0, self.results_retry_seconds - waited),
                entry["error"],
            )
            return None
        self.log.error(
            "DataArts watcher: reporting instance %s of %s (%s) without its results: the results call "
            "failed %s time(s) over %.1f s%s; last error: %s",
            instance_id,
            entry.get("name"),
            entry.get("run_status"),
            entry["attempts"],
            waited,
            f" ({len(stuck)} instances waiting at once)" if crowded else "",
            entry["error"],
        )
        from airflow_provider_dataarts.assets import quality_event_extra
        from airflow_provider_dataarts.quality_policy import QualityPolicy, decide

        item = {"id": instance_id, "name": entry.get("name"), "run_status": entry.get("run_status")}
        # Without results no sub-rule can be warn_only: the verdict the default policy gives.
        verdict = decide(item["run_status"], [], QualityPolicy()).word
        payload = quality_event_extra(
            {
                "instance_id": instance_id,
                "run_status": item["run_status"],
                "verdict": verdict,
                "instance": item,
                "sub_rules": [],
            }
        )
        payload.update(sub_rules=None, alarming_sub_rules=None, results_error=entry["error"])
        self._settle(instance_id)
        return payload

    def _settle(self, instance_id: str) -> None:
        """A stuck instance is reported: handled from now on."""
        entry = self.state["stuck"].pop(instance_id)
        self.state["handled"][instance_id] = int(entry.get("start") or 0)

    async def _verdict(self, item: dict[str, Any]) -> dict[str, Any]:
        """The event payload of a finished instance: its results, judged by the quality gate policy."""
        from airflow_provider_dataarts.assets import quality_event_extra
        from airflow_provider_dataarts.client import operations as ops
        from airflow_provider_dataarts.quality_policy import QualityPolicy, decide, describe_sub_rules

        transport = await self._get_transport()
        sub_rules = await transport.run(ops.quality_instance_results(transport.config.project_id, item["id"]))
        definition = await self._definition(item) if sub_rules else None
        if definition is not None:
            describe_sub_rules(definition, sub_rules)
        decision = decide(item.get("run_status"), sub_rules, QualityPolicy(warn_only=tuple(self.warn_only)))
        if self.warn_only and definition is None and sub_rules:
            self.log.warning(
                "DataArts watcher: instance %s is judged without warn_only %s (the job's definition "
                "could not be read): every alarm fails, as without a policy",
                item["id"],
                self.warn_only,
            )
        for pattern in decision.unmatched:
            self.log.warning(
                "DataArts watcher: warn_only pattern %r matched no sub-rule of job %s",
                pattern,
                item.get("name"),
            )
        return quality_event_extra(
            {
                "instance_id": item["id"],
                "run_status": item.get("run_status"),
                "verdict": decision.word,
                "instance": item,
                "sub_rules": sub_rules,
            }
        )

    async def _definition(self, item: dict[str, Any]) -> dict[str, Any] | None:
        """
        The job's definition (sub-rule names and dimensions), read once per job by this trigger and
        only when ``warn_only`` needs it; ``None`` when it cannot be read (logged; tried again later).
        """
        from airflow_provider_dataarts.client import operations as ops

        job_id = str(item.get("task_id") or self.rule_id or "")
        if not self.warn_only or not job_id:
            return None
        if job_id not in self._definitions:
            transport = await self._get_transport()
            try:
                self._definitions[job_id] = await transport.run(
                    ops.get_quality_job(transport.config.project_id, job_id, self.rule_type)
                )
            except Exception as error:
                self.log.warning("DataArts watcher: definition of job %s not read: %s", job_id, error)
                return None
        return self._definitions[job_id]
