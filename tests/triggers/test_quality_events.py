"""
DataArtsQualityJobEventTrigger against the emulator: one event per instance that ends, never twice,
also across a restart that keeps the asset state store; the shared poll of Airflow 3.3; a stuck
instance (its results call keeps failing) holds up nothing and is reported after a bound; an
instance running for an hour keeps a round at one page; a Jinja job_name is refused.

Instances are started through the emulator's control route (as DataArts' own schedule would), not
through the rerun API.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from airflow_provider_dataarts.triggers.quality_events import DataArtsQualityJobEventTrigger

pytestmark = pytest.mark.filterwarnings("ignore")
FAST = 0.1


class StateStore:
    """Airflow 3.3's per-asset state store, as the triggerer hands it to an event trigger."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.writes = 0

    async def aget(self, key: str, default: Any = None) -> Any:
        return json.loads(json.dumps(self.values[key])) if key in self.values else default

    async def aset(self, key: str, value: Any) -> None:
        self.values[key] = json.loads(json.dumps(value))  # stored as JSON, like the real one
        self.writes += 1


async def collect(stream: AsyncIterator[Any], count: int, limit: float = 15) -> list[dict[str, Any]]:
    payloads: list[dict[str, Any]] = []

    async def take() -> None:
        async for event in stream:
            payloads.append(event.payload)
            if len(payloads) == count:
                return

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(take(), limit)
    return payloads


def list_requests(emulator: DataArtsEmulator) -> int:
    return sum(
        1 for r in emulator.requests if r["method"] == "GET" and r["path"].endswith("/quality/instances")
    )


def watcher(store: StateStore | None = None, **kwargs: Any) -> DataArtsQualityJobEventTrigger:
    trigger = DataArtsQualityJobEventTrigger(
        **{"job_name": "orders_freshness", "poll_interval": FAST, **kwargs}
    )
    trigger.asset_state_store = store  # what the triggerer does for a watcher on Airflow 3.3
    return trigger


def test_serialize_round_trip_is_json_safe() -> None:
    trigger = DataArtsQualityJobEventTrigger(
        job_name="orders", rule_type="comparison", poll_interval=5, run_statuses=["success"]
    )
    path, kwargs = trigger.serialize()
    assert path == "airflow_provider_dataarts.triggers.quality_events.DataArtsQualityJobEventTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert kwargs["run_statuses"] == ["SUCCESS"]
    module, _, name = path.rpartition(".")
    assert getattr(importlib.import_module(module), name)(**kwargs).serialize() == (path, kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"job_name": "a", "rule_id": "1"}, {"job_name": "a", "run_statuses": ["RUNNING"]}],
    ids=["no-job", "two-jobs", "non-terminal-status"],
)
def test_bad_arguments_fail_when_the_dag_is_parsed(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        DataArtsQualityJobEventTrigger(**kwargs)


def test_one_event_per_instance_that_ends_with_the_verdict(
    dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    async def scenario() -> list[dict[str, Any]]:
        trigger = watcher()
        stream = trigger.run()
        first = asyncio.ensure_future(collect(stream, 2))
        await asyncio.sleep(0.3)  # the trigger has listed once: the 30 seeded instances are history
        ids.append(emulator.start_quality_instance("orders_freshness", run_seconds=0.2))
        ids.append(emulator.start_quality_instance("orders_completeness", run_seconds=0.2))  # another job
        await asyncio.sleep(0.4)
        ids.append(emulator.start_quality_instance("orders_freshness", run_seconds=0.2))
        events = await first
        events += await collect(stream, 1, limit=1)  # nothing more: never twice
        await stream.aclose()
        return events

    ids: list[str] = []
    events = asyncio.run(scenario())

    job = emulator.state.job_by_name("orders_freshness")
    assert [e["dataarts_instance_id"] for e in events] == [ids[0], ids[2]]
    assert events[0] == {
        "dataarts_instance_id": ids[0],
        "job_name": "orders_freshness",
        "run_status": "ALARMING",
        "sub_rules": 4,
        "alarming_sub_rules": [str(i) for i in job.sub_rule_ids[:2]],
        "verdict": "failed",  # no warn_only: every alarm fails
    }
    assert emulator.count("POST", "/instances/restart") == 0


def test_an_instance_running_when_the_watcher_starts_is_reported_when_it_ends(
    dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    running = emulator.start_quality_instance("orders_completeness", run_seconds=0.6)
    events = asyncio.run(collect(watcher(job_name="orders_completeness").run(), 1))
    assert [(e["dataarts_instance_id"], e["run_status"]) for e in events] == [(running, "SUCCESS")]


def test_a_restarted_watcher_reports_what_ended_while_it_was_down_and_nothing_twice(
    dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    store = StateStore()

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        before = asyncio.ensure_future(collect(watcher(store).run(), 1))
        await asyncio.sleep(0.3)
        ids.append(emulator.start_quality_instance("orders_freshness", run_seconds=0.1))
        first = await before  # the first triggerer stops here
        ids.append(emulator.start_quality_instance("orders_freshness", run_seconds=0.1))
        await asyncio.sleep(0.3)  # ...and this one ends while no triggerer runs
        return first, await collect(watcher(store).run(), 2, limit=2)

    ids: list[str] = []
    first, second = asyncio.run(scenario())

    assert [e["dataarts_instance_id"] for e in first] == [ids[0]]
    assert [e["dataarts_instance_id"] for e in second] == [ids[1]]
    (state,) = store.values.values()
    assert ids[1] in state["handled"]


def test_without_a_state_store_a_new_watcher_reports_only_what_ends_from_then_on(
    dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    emulator.start_quality_instance("orders_freshness", run_seconds=0)
    time.sleep(0.01)  # it ended before the watcher started
    assert asyncio.run(collect(watcher().run(), 1, limit=1)) == []


def test_run_statuses_keeps_only_those_verdicts(dataarts_conn: str, emulator: DataArtsEmulator) -> None:
    async def scenario() -> list[dict[str, Any]]:
        stream = watcher(job_name="orders", run_statuses=["SUCCESS"]).run()
        events = asyncio.ensure_future(collect(stream, 1, limit=3))
        await asyncio.sleep(0.3)
        emulator.add_quality_job("orders", outcome="ALARMING", run_seconds=0.1)
        emulator.start_quality_instance("orders")
        return await events

    assert asyncio.run(scenario()) == []


def test_failing_rounds_do_not_end_the_watcher(dataarts_conn: str, emulator: DataArtsEmulator) -> None:
    async def scenario() -> list[dict[str, Any]]:
        stream = watcher().run()
        events = asyncio.ensure_future(collect(stream, 1))
        await asyncio.sleep(0.3)
        emulator.inject("status", status=400, path="/quality/instances", count=3)
        ids.append(emulator.start_quality_instance("orders_freshness", run_seconds=0.1))
        return await events

    ids: list[str] = []
    assert [e["dataarts_instance_id"] for e in asyncio.run(scenario())] == ids


def test_watchers_of_one_triggerer_share_one_listing_per_round(
    dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    shared_stream = pytest.importorskip("airflow.triggers.shared_stream")

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        manager = shared_stream.SharedStreamManager()
        triggers = [watcher(job_name="orders_freshness"), watcher(job_name="orders_completeness")]
        keys = {t.shared_stream_key() for t in triggers}
        assert len(keys) == 1
        streams = [
            t.filter_shared_stream(manager.subscribe(trigger_id=n, trigger=t, key=t.shared_stream_key()))
            for n, t in enumerate(triggers)
        ]
        results = [asyncio.ensure_future(collect(s, 1)) for s in streams]
        await asyncio.sleep(0.3)
        before = list_requests(emulator)
        emulator.start_quality_instance("orders_freshness", run_seconds=0.1)
        emulator.start_quality_instance("orders_completeness", run_seconds=0.1)
        await asyncio.sleep(0.5)
        lists = list_requests(emulator) - before
        done = [await r for r in results]
        await manager.stop_all()
        rounds.append(lists)
        return done[0], done[1]

    rounds: list[int] = []
    freshness, completeness = asyncio.run(scenario())
    assert [e["job_name"] for e in freshness] == ["orders_freshness"]
    assert [e["job_name"] for e in completeness] == ["orders_completeness"]
    assert rounds[0] <= 0.5 / FAST + 1, "one list request per round, not one per watcher"


# --- a stuck instance (its results call keeps failing) -------------------------------------------


def results_requests(emulator: DataArtsEmulator, instance_id: str) -> int:
    return emulator.count("GET", f"/quality/instances/{instance_id}/result")


def stick(emulator: DataArtsEmulator, instance_id: str) -> None:
    """Every results call of this instance fails (a 400: the transport does not retry it itself)."""
    emulator.inject("status", status=400, path=f"/quality/instances/{instance_id}/result", count=10_000)


def test_a_stuck_instance_does_not_hold_up_the_instances_that_end_after_it(
    dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    async def scenario() -> list[dict[str, Any]]:
        stream = watcher(results_retry_seconds=3600).run()
        events = asyncio.ensure_future(collect(stream, 2))
        await asyncio.sleep(0.3)
        ids.append(emulator.start_quality_instance("orders_freshness", run_seconds=0.1))
        stick(emulator, ids[0])
        await asyncio.sleep(1.5)  # it ended and its results failed in several rounds
        ids.append(emulator.start_quality_instance("orders_freshness", run_seconds=0.1))
        ids.append(emulator.start_quality_instance("orders_freshness", run_seconds=0.3))
        return await events

    ids: list[str] = []
    events = asyncio.run(scenario())
    # Both, each once (in one round when both end within it: the order is then the list's).
    assert sorted(e["dataarts_instance_id"] for e in events) == ids[1:], "later instances are reported"
    assert results_requests(emulator, ids[0]) >= 3, "the stuck one was tried again each round"


def test_a_stuck_instance_is_reported_without_its_results_after_the_bound_and_only_once(
    dataarts_conn: str,
    emulator: DataArtsEmulator,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = StateStore()

    async def scenario() -> list[dict[str, Any]]:
        stream = watcher(store, results_retry_seconds=0.5).run()
        events = asyncio.ensure_future(collect(stream, 1))
        await asyncio.sleep(0.3)
        ids.append(emulator.start_quality_instance("orders_freshness", run_seconds=0.1))
        stick(emulator, ids[0])
        return await events + await collect(stream, 1, limit=1)  # a second would be a duplicate

    ids: list[str] = []
    with caplog.at_level(logging.ERROR):
        events = asyncio.run(scenario())

    job = emulator.state.job_by_name("orders_freshness")
    assert events == [
        {
            "dataarts_instance_id": ids[0],
            "job_name": job.name,
            "run_status": "ALARMING",
            "sub_rules": None,
            "alarming_sub_rules": None,
            "verdict": "failed",  # without results nothing is warn_only: the default policy's verdict
            "results_error": events[0]["results_error"],
        }
    ]
    assert "400" in events[0]["results_error"]
    attempts = results_requests(emulator, ids[0])
    assert 3 <= attempts <= 0.5 / FAST + 3, "retried each round, for the bound, then no more"
    logged = (caplog.text + capsys.readouterr().out).splitlines()  # Airflow's structlog writes to stdout
    errors = [line for line in logged if "without its results" in line]
    assert len(errors) == 1 and ids[0] in errors[0] and "400" in errors[0]
    assert "error" in errors[0].lower().split("dataarts watcher")[0], "logged as an ERROR"
    (state,) = store.values.values()
    assert state["stuck"] == {} and ids[0] in state["handled"]


def test_a_restarted_watcher_goes_on_counting_the_attempts_of_a_stuck_instance(
    dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    store = StateStore()

    async def first_triggerer() -> None:
        first = watcher(store, results_retry_seconds=3600, poll_interval=0.5)
        task = asyncio.ensure_future(collect(first.run(), 1, limit=10))
        await asyncio.sleep(0.3)
        ids.append(emulator.start_quality_instance("orders_freshness", run_seconds=0.1))
        stick(emulator, ids[0])
        deadline = time.monotonic() + 15
        while store.values.get(key, {}).get("stuck", {}).get(ids[0], {}).get("attempts") != 2:
            assert time.monotonic() < deadline, "two failed attempts"
            await asyncio.sleep(0.02)
        task.cancel()  # the triggerer stops after two failed attempts
        with contextlib.suppress(asyncio.CancelledError):
            await task

    ids: list[str] = []
    key = watcher()._state_key()
    asyncio.run(first_triggerer())
    (state,) = store.values.values()
    assert state["stuck"][ids[0]]["attempts"] == 2

    # The bound has passed in time by now: the next attempt is the third and the last.
    events = asyncio.run(collect(watcher(store, results_retry_seconds=0).run(), 1))
    assert [(e["dataarts_instance_id"], e["sub_rules"]) for e in events] == [(ids[0], None)]
    assert results_requests(emulator, ids[0]) == 3
    assert asyncio.run(collect(watcher(store, results_retry_seconds=0).run(), 1, limit=1)) == []


# --- the listing's cost with an instance that runs for hours -------------------------------------


def list_pages(emulator: DataArtsEmulator) -> list[dict[str, list[str]]]:
    """The query of every list request, in order."""
    return [
        r["query"]
        for r in emulator.requests
        if r["method"] == "GET" and r["path"].endswith("/quality/instances")
    ]


def rounds_of(queries: list[dict[str, list[str]]]) -> int:
    """How many rounds these list requests are: each round's listing starts at offset 0."""
    return sum(
        1 for q in queries if "run_status" not in q and "end_time" not in q and q.get("offset") == ["0"]
    )


async def until(ready: Any, limit: float = 20) -> None:
    deadline = time.monotonic() + limit
    while not ready():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize(
    "long_job", ["orders_freshness", "orders_completeness"], ids=["watched", "unwatched"]
)
def test_an_instance_running_for_an_hour_keeps_a_round_at_one_page(
    dataarts_conn: str, emulator: DataArtsEmulator, long_job: str
) -> None:
    shared_stream = pytest.importorskip("airflow.triggers.shared_stream")
    # Started an hour ago and still running; since then 450 instances of another job ended.
    long = emulator.start_quality_instance(long_job, run_seconds=7200, started_ago=3600)
    for n in range(450):
        emulator.start_quality_instance("orders_broken", run_seconds=1, started_ago=3500 - n * 7)

    async def scenario() -> list[dict[str, Any]]:
        manager = shared_stream.SharedStreamManager()
        trigger = watcher()
        stream = trigger.filter_shared_stream(
            manager.subscribe(trigger_id=1, trigger=trigger, key=trigger.shared_stream_key())
        )
        events = asyncio.ensure_future(collect(stream, 1, limit=15 if long_job == "orders_freshness" else 1))
        # The first listing reaches a day back: several pages, once. Then some rounds are measured.
        await until(lambda: rounds_of(list_pages(emulator)) >= 2)
        before = len(list_pages(emulator))
        await until(lambda: rounds_of(list_pages(emulator)[before:]) >= 6)
        measured.extend(list_pages(emulator)[before:])
        emulator.state.finish_instance(long)
        done = await events
        await manager.stop_all()
        return done

    measured: list[dict[str, list[str]]] = []
    events = asyncio.run(scenario())

    rounds = rounds_of(measured)
    checks = [q for q in measured if "run_status" in q]
    later_pages = [q for q in measured if q.get("offset") != ["0"]]
    print(f"\n{long_job}: {len(measured)} list requests in {rounds} rounds ({len(checks)} checks)")
    assert later_pages == [], "a round reads one page"
    if long_job == "orders_freshness":
        assert len(checks) <= rounds + 1, "at most one look a round at the long-running instance"
        assert [e["dataarts_instance_id"] for e in events] == [long], "reported when it ends"
    else:
        assert checks == [], "another job's long-running instance costs this watcher nothing"
        assert events == []


@pytest.mark.parametrize("empty_answers", [1, 2], ids=["found-from-its-start", "no-longer-listed"])
def test_a_long_running_instance_not_found_in_its_own_second_is_looked_for_from_its_start(
    dataarts_conn: str, emulator: DataArtsEmulator, empty_answers: int
) -> None:
    """If the list call's window did not bound the start (the API's wording is loose), a
    long-running instance that ended is still found; one that is listed nowhere is dropped."""
    store = StateStore()
    long = emulator.start_quality_instance("orders_freshness", run_seconds=7200, started_ago=3600)
    start = emulator.instance(long)["start_time"]
    key = watcher()._state_key()
    for n in range(20):  # the window moves past it (these ended before the watcher starts: history)
        emulator.start_quality_instance("orders_freshness", run_seconds=0.1, started_ago=3000 - n * 100)

    async def scenario() -> list[dict[str, Any]]:
        events = asyncio.ensure_future(collect(watcher(store).run(), 1, limit=8 if empty_answers == 1 else 3))
        await until(lambda: long in (store.values.get(key) or {}).get("pending", {}))
        # Sorted query: only the look-ups from its start (not the run_status=RUNNING check) match.
        emulator.inject(
            "answer",
            query=f"offset=0&start_time={start}",
            body={"count": 0, "resources": []},
            count=empty_answers,
        )
        emulator.state.finish_instance(long)
        return await events

    events = asyncio.run(scenario())
    lookups = [
        q for q in list_pages(emulator) if q.get("start_time") == [str(start)] and "run_status" not in q
    ]
    assert [("end_time" in q) for q in lookups[:2]] == [True, False], "its own second, then from its start"
    (state,) = store.values.values()
    assert state["pending"] == {}
    if empty_answers == 1:
        assert [e["dataarts_instance_id"] for e in events] == [long]
    else:
        assert events == []


def test_the_durable_progress_stays_small_when_every_results_call_fails(
    dataarts_conn: str, emulator: DataArtsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    import airflow_provider_dataarts.triggers.quality_events as module

    monkeypatch.setattr(module, "MAX_STUCK", 2)
    sizes: list[int] = []

    class Recording(StateStore):
        async def aset(self, key: str, value: Any) -> None:
            sizes.append(len(value["stuck"]))
            await super().aset(key, value)

    async def scenario() -> list[dict[str, Any]]:
        stream = watcher(Recording(), results_retry_seconds=1).run()
        events = asyncio.ensure_future(collect(stream, 4, limit=30))
        await asyncio.sleep(0.3)
        emulator.inject("status", status=400, path="/result", count=10_000)
        ids.extend(emulator.start_quality_instance("orders_freshness", run_seconds=0.1) for _ in range(4))
        return await events + await collect(stream, 1, limit=1)

    ids: list[str] = []
    events = asyncio.run(scenario())
    assert sorted(e["dataarts_instance_id"] for e in events) == sorted(ids), "each once, none twice"
    assert {e["sub_rules"] for e in events} == {None}
    assert max(sizes) == 2, "never more than MAX_STUCK instances wait for their results"


# --- job_name is not templated ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["{{ var.value.orders_job }}", "orders_{% if true %}x{% endif %}"])
def test_a_jinja_job_name_fails_when_the_dag_is_parsed(name: str) -> None:
    with pytest.raises(ValueError, match=r"job_name.*not templated"):
        DataArtsQualityJobEventTrigger(job_name=name)


def test_no_docstring_calls_the_watcher_templated() -> None:
    import airflow_provider_dataarts.triggers.quality_events as module

    text = (module.__doc__ or "") + (DataArtsQualityJobEventTrigger.__doc__ or "")
    assert "templated" not in text.lower().replace("not templated", "")


# --- the quality gate policy (warn_only) -------------------------------------------------------------


def watch_two_instances(emulator: DataArtsEmulator, **kwargs: Any) -> list[dict[str, Any]]:
    """Two orders_freshness instances (ALARMING) that end while a watcher with ``kwargs`` runs."""

    async def scenario() -> list[dict[str, Any]]:
        stream = watcher(**kwargs).run()
        events = asyncio.ensure_future(collect(stream, 2))
        await asyncio.sleep(0.3)
        emulator.start_quality_instance("orders_freshness", run_seconds=0.1)
        emulator.start_quality_instance("orders_freshness", run_seconds=0.1)
        found = await events
        await stream.aclose()
        return found

    return asyncio.run(scenario())


@pytest.mark.parametrize(
    ("warn_only", "verdict"),
    [(["Completeness", "order_id_*"], "passed_with_warnings"), ("Completeness", "failed"), (None, "failed")],
)
def test_the_watchers_events_carry_the_policys_verdict(
    warn_only: Any, verdict: str, dataarts_conn: str, emulator: DataArtsEmulator
) -> None:
    events = watch_two_instances(emulator, warn_only=warn_only)

    assert [e["verdict"] for e in events] == [verdict, verdict]
    assert [e["run_status"] for e in events] == ["ALARMING", "ALARMING"]
    job = emulator.state.job_by_name("orders_freshness")
    reads = emulator.count("GET", f"/quality/quality-tasks/{job.id}")
    assert reads == (1 if warn_only else 0), "the definition is read once per job, and only for warn_only"


def test_a_watcher_without_the_definition_gives_the_default_verdict(
    dataarts_conn: str,
    emulator: DataArtsEmulator,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator.inject("status", status=403, path="/quality-tasks/", count=10)
    with caplog.at_level(logging.WARNING):
        events = watch_two_instances(emulator, warn_only=["*"])

    assert [e["verdict"] for e in events] == ["failed", "failed"], "every alarm fails, as without a policy"
    logged = caplog.text + capsys.readouterr().out
    assert "definition of job" in logged and "not read" in logged and "403" in logged
    assert "is judged without warn_only ['*']" in logged


def test_a_watchers_warn_only_is_checked_when_the_dag_is_parsed() -> None:
    with pytest.raises(ValueError, match=r"warn_only.*not templated"):
        DataArtsQualityJobEventTrigger(job_name="orders", warn_only="{{ params.warn_only }}")
    with pytest.warns(UserWarning, match=r"warn_only pattern 'Uniquness' is no DataArts dimension"):
        trigger = DataArtsQualityJobEventTrigger(job_name="orders", warn_only=["Uniquness"])
    assert trigger.serialize()[1]["warn_only"] == ["Uniquness"]
