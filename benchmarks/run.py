"""
Benchmarks of the DataArts provider: triggerer scale, requests per call, import cost.

Run with ``./scripts/bench.sh`` (or ``.venv/bin/python benchmarks/run.py --help``). The emulator runs
in its own process on 127.0.0.1, so its CPU is not counted as ours; it does share the machine.
Nothing here is a test: it measures and prints Markdown tables (and writes them to ``--out``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TERMINAL = {"SUCCESS", "ALARMING", "FAILED"}
PUBLIC_MODULES = [
    "airflow_provider_dataarts.hooks.dataarts",
    "airflow_provider_dataarts.operators.quality",
    "airflow_provider_dataarts.sensors.quality",
    "airflow_provider_dataarts.triggers.quality",
    "airflow_provider_dataarts.operators.script",
    "airflow_provider_dataarts.sensors.script",
    "airflow_provider_dataarts.triggers.script",
    "airflow_provider_dataarts.links.dataarts",
    "airflow_provider_dataarts.exceptions",
    "airflow_provider_dataarts.get_provider_info",
]
PEER_MODULE = "airflow.providers.http.operators.http"


# --- the emulator in another process ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def control(url: str, method: str, route: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{url}/_emulator/{route}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=300) as answer:
        raw = answer.read()
    return json.loads(raw) if raw else None


@contextmanager
def emulator_process() -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_dataarts.emulator", "--port", str(port), "--quiet"],
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                control(url, "GET", "health")
                break
            except OSError:
                time.sleep(0.05)
        os.environ["AIRFLOW_CONN_DATAARTS_DEFAULT"] = json.dumps(
            {
                "conn_type": "dataarts",
                "host": url,
                "login": "AK",
                "password": "SK",
                "extra": {"project_id": "p1", "workspace": "w1"},
            }
        )
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def requests_seen(url: str) -> int:
    return int(control(url, "GET", "requests/count")["total"])


# --- triggerer scale -------------------------------------------------------------------------------


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class ThreadPollingTrigger:
    """
    The baseline many providers use: each trigger polls on its own, calling the sync hook through
    ``asyncio.to_thread`` (a new hook, so a new HTTP session, on every poll), on a fixed schedule.
    """

    def __init__(self, instance_id: str, job_name: str, interval: float, started_after: int, offset: float):
        self.instance_id = instance_id
        self.job_name = job_name
        self.interval = interval
        self.started_after = started_after
        self.offset = offset

    async def run(self) -> dict[str, Any]:
        from airflow_provider_dataarts.hooks.dataarts import DataArtsHook

        def poll() -> dict[str, Any]:
            return DataArtsHook().get_quality_instance(
                self.instance_id, name=self.job_name, started_after=self.started_after
            )

        start = time.time() + self.offset
        for tick in range(10_000):
            due = start + tick * self.interval
            await asyncio.sleep(max(0.0, due - time.time()))
            try:
                instance = await asyncio.to_thread(poll)
            except Exception as error:
                return {"status": "error", "instance_id": self.instance_id, "message": str(error)}
            if instance["run_status"] in TERMINAL:
                return {
                    "status": "success",
                    "instance_id": self.instance_id,
                    "run_status": instance["run_status"],
                }
        return {"status": "timeout", "instance_id": self.instance_id}


def dbt_over_http() -> None:
    """
    The dbt Cloud hook builds ``https://{tenant}/...`` URLs; the emulator speaks plain HTTP (as it
    does to ours). Only the scheme is changed: the trigger, its hook, retries and sessions are dbt's.
    """
    from airflow.providers.dbt.cloud.hooks.dbt import DbtCloudHook

    original = DbtCloudHook.get_request_url_params

    def over_http(tenant: str, endpoint: str, include_related: Any = None, *, api_version: str = "v2") -> Any:
        url, data = original(tenant, endpoint, include_related, api_version=api_version)
        return "http://" + url.removeprefix("https://"), data

    DbtCloudHook.get_request_url_params = staticmethod(over_http)  # type: ignore[method-assign]


async def drive(
    kind: str, url: str, size: int, interval: float, restart: bool, min_seconds: float, max_seconds: float
) -> dict[str, Any]:
    """
    Run one trigger per instance in this loop and measure what users feel and pay: detection
    delay, CPU per waiting trigger per interval, memory. With ``restart``, every trigger is dropped
    1.5 intervals in and made again from its serialized form, as a triggerer restart does.
    """
    import random

    from airflow_provider_dataarts.triggers.quality import DataArtsQualityInstanceTrigger

    events: dict[str, tuple[dict[str, Any], float]] = {}
    rng = random.Random(7)
    # Warm up what every implementation loads once per process (imports, the connection).
    import httpx  # noqa: F401
    import requests  # noqa: F401

    from airflow_provider_dataarts.hooks.dataarts import DataArtsHook

    DataArtsHook().config  # noqa: B018
    if kind == "dbt":
        import aiohttp  # noqa: F401
        from airflow.providers.dbt.cloud.triggers.dbt import DbtCloudRunJobTrigger

        dbt_over_http()
    # Started now, once this process is ready, so its start-up is no part of the detection delay.
    started_after = int(time.time() * 1000) - 1000
    if kind == "job":  # Factory job instances (one job, running now): the job triggers' shared list
        created = control(
            url,
            "POST",
            "factory-jobs/instances/bulk",
            {
                "job_name": "daily_orders",
                "count": size,
                "min_seconds": min_seconds,
                "max_seconds": max_seconds,
            },
        )["instances"]
        for item in created:
            item["outcome"] = item["status"]
    else:
        created = control(
            url,
            "POST",
            "instances/bulk",
            {
                "job_name": "orders_completeness",
                "count": size,
                "min_seconds": min_seconds,
                "max_seconds": max_seconds,
                "distinct_jobs": True,
                "seed": os.getpid(),
            },
        )["instances"]
    rss_before = rss_bytes()
    cpu_before, began = time.process_time(), time.time()

    async def shared(trigger: Any) -> None:
        async for event in trigger.run():
            payload = dict(event.payload)
            if "job_status" in payload:  # a job trigger's verdict
                payload["run_status"] = payload["job_status"]
            events[trigger.instance_id] = (payload, time.time())

    async def threaded(item: dict[str, Any]) -> None:
        trigger = ThreadPollingTrigger(
            item["id"], item["job_name"], interval, started_after, rng.uniform(0, interval)
        )
        events[item["id"]] = (await trigger.run(), time.time())

    async def dbt(item: dict[str, Any], offset: float) -> None:
        # Deferrals arrive over an interval (as the thread baseline's first polls): not all at once.
        await asyncio.sleep(offset)
        trigger = DbtCloudRunJobTrigger(
            conn_id="dbt_cloud_default",
            run_id=int(item["id"]),
            end_time=time.time() + 3600,
            poll_interval=interval,
            account_id=1,
        )
        async for event in trigger.run():
            payload = dict(event.payload)
            status = payload.get("status")
            message = str(payload.get("message", ""))
            # dbt's "error" is both a failed run and a failed request: only the first is a verdict.
            if status == "success":
                payload["run_status"] = "SUCCESS|ALARMING"
            elif status == "error" and message.endswith("has failed."):
                payload.update(status="success", run_status="FAILED")
            events[item["id"]] = (payload, time.time())

    def make(item: dict[str, Any]) -> DataArtsQualityInstanceTrigger:
        return DataArtsQualityInstanceTrigger(
            instance_id=item["id"],
            poll_interval=interval,
            job_name=item["job_name"],
            started_after=started_after,
        )

    triggers: list[Any] = []
    if kind == "job":
        from airflow_provider_dataarts.triggers.job import DataArtsJobInstanceTrigger

        triggers = [
            DataArtsJobInstanceTrigger(
                job_name=item["job_name"],
                instance_id=item["id"],
                planned_after=item["plan_time"],
                poll_interval=interval,
            )
            for item in created
        ]
        tasks = [asyncio.create_task(shared(trigger)) for trigger in triggers]
    elif kind == "shared":
        triggers = [make(item) for item in created]
        tasks = [asyncio.create_task(shared(trigger)) for trigger in triggers]
    elif kind == "dbt":
        tasks = [asyncio.create_task(dbt(item, rng.uniform(0, interval))) for item in created]
    else:
        tasks = [asyncio.create_task(threaded(item)) for item in created]
    await asyncio.sleep(interval * 1.5)  # every trigger is waiting and has polled at least once
    rss_waiting = rss_bytes()
    restarted = 0
    if restart:
        from airflow_provider_dataarts.triggers import shared_poll

        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        shared_poll._POLLERS.clear()  # a new triggerer process starts with no pollers
        reborn = []
        for trigger in triggers:
            if trigger.instance_id not in events:
                _, kwargs = trigger.serialize()
                reborn.append(DataArtsQualityInstanceTrigger(**json.loads(json.dumps(kwargs))))
        restarted = len(reborn)
        tasks = [asyncio.create_task(shared(trigger)) for trigger in reborn]
    # Every run gets the same time: the last instance's end plus a minute. What has no verdict by
    # then has none (a baseline that cannot keep up).
    await asyncio.wait(tasks, timeout=max(1.0, began + max_seconds + 60 - time.time()))
    ended = time.time()
    for task in tasks:
        task.cancel()
    cpu = time.process_time() - cpu_before
    expected = {item["id"]: item["outcome"] for item in created}

    def right(instance_id: str, event: dict[str, Any]) -> bool:
        return event.get("status") == "success" and expected[instance_id] in str(
            event.get("run_status")
        ).split("|")

    finish = {item["id"]: item["finish_at"] for item in created}
    # Detection: of the right verdicts only (an error event is no detection).
    detection = [at - finish[i] for i, (event, at) in events.items() if right(i, event)]
    # A trigger "waits" from the start until its event: the intervals it was owed a poll.
    waited_intervals = sum(((events[i][1] if i in events else ended) - began) / interval for i in expected)
    return {
        "began": began,
        "cpu": cpu,
        "cpu_per_trigger_interval_ms": 1000 * cpu / max(1e-9, waited_intervals),
        "rss_per_trigger_kib": (rss_waiting - rss_before) / len(created) / 1024,
        "detections": detection,
        "right_events": sum(1 for i, (event, _) in events.items() if right(i, event)),
        "events": len(events),
        "restarted": restarted,
        "wall": ended - began,
    }


@contextmanager
def workspace_noise(url: str, per_hour: float) -> Iterator[None]:
    """Other jobs' instances keep starting (each running an hour) while the benchmark waits."""
    import threading

    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(3600.0 / per_hour):
            control(
                url,
                "POST",
                "instances/bulk",
                {"job_name": "orders_freshness", "count": 1, "min_seconds": 3600, "max_seconds": 7200},
            )

    thread = threading.Thread(target=loop, daemon=True)
    if per_hour > 0:
        thread.start()
    try:
        yield
    finally:
        stop.set()


@contextmanager
def load_samples(every: float = 5.0) -> Iterator[list[float]]:
    """The machine's 1-minute load average, sampled while the block runs (the machine is shared)."""
    import threading

    samples: list[float] = [os.getloadavg()[0]]
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every):
            samples.append(os.getloadavg()[0])

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        samples.append(os.getloadavg()[0])


SCENARIOS = {
    # name: (implementation, triggerer restart mid-wait, triggerer processes)
    "shared": ("shared", False, 1),
    "job": ("job", False, 1),
    "dbt": ("dbt", False, 1),
    "thread": ("thread", False, 1),
    "restart": ("shared", True, 1),
    "two": ("shared", False, 2),
}
SCENARIO_NAMES = {
    "shared": "ours, defaults",
    "dbt": "dbt Cloud provider trigger",
    "thread": "sync hook in thread (baseline)",
    "restart": "ours, triggerer restart mid-wait",
    "two": "ours, two triggerers, one connection",
    "job": "ours, Factory job waits, defaults",
}


def scale(
    url: str,
    runs: list[tuple[int, str, float, float | None]],
    interval: float,
    noise_per_hour: float,
    finish: tuple[float, float],
) -> list[dict[str, Any]]:
    """
    Each (size, scenario, gateway limit) runs in fresh processes (one per triggerer), so memory and
    CPU are their own; the gateway's timeline of requests gives requests/s and 429s.
    """
    rows = []
    for size, scenario, per_second, each in runs:
        processes = SCENARIOS[scenario][2]
        control(url, "POST", "reset")  # DataArts' documented per-user limits per API family, on
        # The gateway of the row: the family the waits use at ``per_second``, counted as DataArts
        # documents it (quality: 40 per 10 s, so 4/s is 40 per 10 s; Factory v1: per second).
        if SCENARIOS[scenario][0] == "job":
            families = {"factory": [per_second, 1.0]}
        else:
            families = {"quality": [round(per_second * 10), 10.0]}
        control(url, "POST", "limits", {"enabled": True, "families": families})
        rate_limits = {"quality": each} if each else None
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as spec:
            json.dump(
                {
                    "url": url,
                    "size": size,
                    "min_seconds": finish[0],
                    "max_seconds": finish[1],
                    "rate_limits": rate_limits,
                },
                spec,
            )
        command = [
            sys.executable, __file__, "--one", scenario, "--spec", spec.name, "--interval", str(interval),
        ]  # fmt: skip
        with workspace_noise(url, noise_per_hour), load_samples() as load:
            children = [
                subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(processes)
            ]
            outputs = [child.communicate(timeout=finish[1] + 900) for child in children]
        os.unlink(spec.name)
        results = []
        for child, (out, err) in zip(children, outputs, strict=True):
            if child.returncode:
                raise SystemExit(f"scenario {scenario} at N={size} failed:\n{err[-3000:]}")
            results.append(json.loads(out.strip().splitlines()[-1]))
        timeline = control(url, "GET", "requests/timeline")["requests"]
        began = min(r["began"] for r in results)
        ended = max(r["began"] + r["wall"] for r in results)
        wall = ended - began
        after_minute = [(t, status) for t, status in timeline if t >= began + 60]
        late_wall = max(1e-9, ended - (began + 60))
        detections = [d for r in results for d in r["detections"]]
        row = {
            "scenario": scenario,
            "size": size * processes,
            "gateway": per_second,
            "each": each,
            "detect_p50": percentile(detections, 0.5),
            "detect_p99": percentile(detections, 0.99),
            "detect_max": max(detections, default=float("nan")),
            "requests_per_s": len(timeline) / wall,
            "requests_per_s_after_minute": len(after_minute) / late_wall
            if ended > began + 60
            else float("nan"),
            "throttled": sum(1 for _, status in timeline if status == 429),
            "throttled_after_minute": sum(1 for _, status in after_minute if status == 429),
            "cpu_per_trigger_interval_ms": statistics.mean(r["cpu_per_trigger_interval_ms"] for r in results),
            "rss_per_trigger_kib": statistics.mean(r["rss_per_trigger_kib"] for r in results),
            "right_events": sum(r["right_events"] for r in results),
            "wall": wall,
            "load": (min(load), max(load)),
        }
        rows.append(row)
        print(
            f"  N={row['size']:>6} {scenario:<8} gateway {per_second:g}/s"
            f"{f' (rate_limits.quality {each:g} each)' if each else ''}: "
            f"detection p50 {row['detect_p50']:.2f} "
            f"p99 {row['detect_p99']:.2f} max {row['detect_max']:.2f} s, "
            f"{row['requests_per_s']:.1f} req/s ({row['requests_per_s_after_minute']:.1f} after 1 min), "
            f"429s {row['throttled']} ({row['throttled_after_minute']} after 1 min), "
            f"cpu/trigger/interval {row['cpu_per_trigger_interval_ms']:.3f} ms, "
            f"rss/trigger {row['rss_per_trigger_kib']:.1f} KiB, right {row['right_events']}/{row['size']}, "
            f"wall {wall:.0f} s, load {row['load'][0]:.1f}-{row['load'][1]:.1f}",
            flush=True,
        )
    return rows


def one_scale_run(scenario: str, spec_path: str, interval: float) -> None:
    kind, restart, _ = SCENARIOS[scenario]
    spec = json.loads(Path(spec_path).read_text())
    if spec.get("rate_limits"):  # this triggerer's share of the user's ceiling
        connection = json.loads(os.environ["AIRFLOW_CONN_DATAARTS_DEFAULT"])
        connection["extra"]["rate_limits"] = spec["rate_limits"]
        os.environ["AIRFLOW_CONN_DATAARTS_DEFAULT"] = json.dumps(connection)
    os.environ["AIRFLOW_CONN_DBT_CLOUD_DEFAULT"] = json.dumps(
        {"conn_type": "dbt_cloud", "host": spec["url"].removeprefix("http://"), "password": "dbt-token"}
    )
    result = asyncio.run(
        drive(kind, spec["url"], spec["size"], interval, restart, spec["min_seconds"], spec["max_seconds"])
    )
    print(json.dumps(result), flush=True)
    # Threads of the baseline may still sit in a retry's sleep: do not wait for them.
    os._exit(0)


# --- requests per call -----------------------------------------------------------------------------


def requests_per_call(url: str) -> list[tuple[str, int, str]]:
    from airflow_provider_dataarts.client.core import TOKENS
    from airflow_provider_dataarts.hooks.dataarts import DataArtsHook
    from airflow_provider_dataarts.triggers.quality import DataArtsQualityInstanceTrigger

    control(url, "POST", "reset")
    hook = DataArtsHook()
    rows: list[tuple[str, int, str]] = []

    def counted(what: str, target: str, call: Callable[[], Any]) -> Any:
        before = requests_seen(url)
        value = call()
        rows.append((what, requests_seen(url) - before, target))
        return value

    job_id = counted("resolve a job name to its id", "1", lambda: hook.resolve_job_id("orders_completeness"))
    started = int(time.time() * 1000)
    instance_id = counted("rerun a quality job", "1", lambda: hook.rerun_quality_job(job_id))
    counted(
        "poll a recent instance (hook, with hints)",
        "1",
        lambda: hook.get_quality_instance(instance_id, name="orders_completeness", started_after=started),
    )
    counted(
        "poll an instance (hook, no hints, 151 listed)", "-", lambda: hook.get_quality_instance(instance_id)
    )
    time.sleep(5.5)
    counted("fetch results, 3 sub-rules", "1", lambda: hook.get_quality_instance_results(instance_id))
    big = hook.rerun_quality_job(hook.resolve_job_id("big_rule_set"))
    time.sleep(5.5)
    counted("fetch results, 250 sub-rules", "3", lambda: hook.get_quality_instance_results(big))
    counted("execute a script", "1", lambda: hook.execute_script("daily_orders_sql"))

    # Token: 50 hook calls in 5 hooks plus 20 triggers, in one process, password auth.
    os.environ["AIRFLOW_CONN_DATAARTS_IAM"] = json.dumps(
        {
            "conn_type": "dataarts",
            "host": url,
            "login": "demo-user",
            "password": "demo-password",
            "extra": {
                "project_id": "p1",
                "workspace": "w1",
                "auth_type": "password",
                "domain_name": "demo-domain",
            },
        }
    )
    TOKENS._tokens.clear()
    tokens_before = control(url, "GET", "requests/count")["token_requests"]
    for _ in range(5):
        iam_hook = DataArtsHook("dataarts_iam")
        for _ in range(10):
            iam_hook.resolve_job_id("orders_completeness")

    async def triggers() -> None:
        async def one() -> None:
            trigger = DataArtsQualityInstanceTrigger(
                instance_id=instance_id, dataarts_conn_id="dataarts_iam", poll_interval=0.5
            )
            async for _ in trigger.run():
                pass

        await asyncio.gather(*(one() for _ in range(20)))

    asyncio.run(triggers())
    tokens = control(url, "GET", "requests/count")["token_requests"] - tokens_before
    rows.append(("IAM token calls for 50 hook calls + 20 triggers", tokens, "1 per token lifetime"))
    return rows


# --- import cost -----------------------------------------------------------------------------------


def import_ms(module: str, runs: int) -> float:
    """Milliseconds that importing ``module`` adds after ``airflow.sdk`` (median of runs, -X importtime)."""
    samples = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import airflow.sdk; import {module}"],
            capture_output=True,
            text=True,
            check=True,
        )
        # The module's own top-level line: its cumulative time covers everything it pulled in
        # that airflow.sdk had not already imported.
        pattern = re.compile(r"import time:\s+\d+\s+\|\s+(\d+)\s+\| " + re.escape(module) + "$")
        matches = [m for line in done.stderr.splitlines() if (m := pattern.match(line))]
        # No line: importing airflow.sdk had already imported it (provider discovery): nothing added.
        samples.append(int(matches[-1].group(1)) / 1000 if matches else 0.0)
    return statistics.median(samples)


def import_costs(runs: int) -> list[tuple[str, float]]:
    rows = []
    for module, label in [*((m, m) for m in PUBLIC_MODULES), (PEER_MODULE, PEER_MODULE + " (peer)")]:
        try:
            rows.append((label, import_ms(module, runs)))
        except subprocess.CalledProcessError:
            rows.append((label + " (cannot be imported)", float("nan")))
    return rows


# --- report ----------------------------------------------------------------------------------------


def report(
    scale_rows: list[dict[str, Any]], calls: list[tuple[str, int, str]], imports: list[tuple[str, float]]
) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine}.", ""]
    if scale_rows:
        lines += [
            "| N waiting | implementation | gateway | detection p50 / p99 / max | requests/s (after 1 min) "
            "| 429s (after 1 min) | CPU per waiting trigger per interval | RSS per trigger | right verdicts "
            "| load average |",
            "|---:|---|---:|---|---:|---:|---:|---:|---:|---|",
        ]
        for row in scale_rows:
            share = f", rate_limits.quality {row['each']:g} each" if row.get("each") else ""
            lines.append(
                f"| {row['size']:,} | {SCENARIO_NAMES[row['scenario']]}{share} | {row['gateway']:g}/s "
                f"| {row['detect_p50']:.1f} / {row['detect_p99']:.1f} / {row['detect_max']:.1f} s "
                f"| {row['requests_per_s']:.1f} ({row['requests_per_s_after_minute']:.1f}) "
                f"| {row['throttled']:,} ({row['throttled_after_minute']:,}) "
                f"| {row['cpu_per_trigger_interval_ms']:.3f} ms | {row['rss_per_trigger_kib']:.1f} KiB "
                f"| {row['right_events']:,}/{row['size']:,} | {row['load'][0]:.1f} to {row['load'][1]:.1f} |"
            )
        lines.append("")
    if calls:
        lines += ["| call | requests | target |", "|---|---:|---|"]
        lines += [f"| {what} | {count} | {target} |" for what, count, target in calls]
        lines.append("")
    if imports:
        lines += ["| module | import time added over airflow.sdk |", "|---|---:|"]
        lines += [f"| `{module}` | {ms:.1f} ms |" for module, ms in imports]
        lines.append("")
    return "\n".join(lines)


# --- deferred Factory job waits (docs/factory-jobs.md) ---------------------------------------------


async def drive_job_waits(url: str, size: int, interval: float) -> dict[str, Any]:
    """
    ``size`` job triggers (one per running instance) in this loop, sharing the job instance list:
    detection delay, CPU per waiting trigger per interval, memory, right events.
    """
    from airflow_provider_dataarts.hooks.dataarts import DataArtsHook
    from airflow_provider_dataarts.triggers.job import DataArtsJobInstanceTrigger

    DataArtsHook().config  # noqa: B018 - warm up what every triggerer process loads once
    created = control(
        url,
        "POST",
        "factory-jobs/instances/bulk",
        {
            "job_name": "daily_orders",
            "count": size,
            "min_seconds": interval / 2,
            "max_seconds": interval * 3.5,
        },
    )["instances"]
    events: dict[str, tuple[dict[str, Any], float]] = {}
    rss_before = rss_bytes()
    cpu_before, began = time.process_time(), time.time()

    async def wait(item: dict[str, Any]) -> None:
        trigger = DataArtsJobInstanceTrigger(
            job_name=item["job_name"],
            instance_id=item["id"],
            planned_after=item["plan_time"],
            poll_interval=interval,
        )
        async for event in trigger.run():
            events[item["id"]] = (event.payload, time.time())

    tasks = [asyncio.create_task(wait(item)) for item in created]
    await asyncio.sleep(interval * 1.5)
    rss_waiting = rss_bytes()
    await asyncio.wait(tasks, timeout=600)
    ended = time.time()
    cpu = time.process_time() - cpu_before
    expected = {item["id"]: item["status"] for item in created}
    right = sum(
        1
        for instance_id, (event, _) in events.items()
        if event.get("status") == "success" and event.get("job_status") == expected[instance_id]
    )
    finish = {item["id"]: item["finish_at"] for item in created}
    detection = [at - finish[i] for i, (_, at) in events.items()]
    waited_intervals = sum(((events[i][1] if i in events else ended) - began) / interval for i in expected)
    return {
        "cpu_per_trigger_interval_ms": 1000 * cpu / max(1e-9, waited_intervals),
        "rss_per_trigger_kib": (rss_waiting - rss_before) / len(created) / 1024,
        "detect_p50": percentile(detection, 0.5),
        "detect_p99": percentile(detection, 0.99),
        "right_events": right,
        "wall": ended - began,
    }


def job_waits(url: str, sizes: list[int], interval: float) -> list[dict[str, Any]]:
    """Each size in a fresh process (its own memory and CPU), against a reset emulator."""
    rows = []
    for size in sizes:
        control(url, "POST", "reset")
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as spec:
            json.dump({"url": url, "size": size}, spec)
        before = control(url, "GET", "requests/count")
        done = subprocess.run(
            [sys.executable, __file__, "--one-jobs", spec.name, "--interval", str(interval)],
            capture_output=True,
            text=True,
            timeout=900,
        )
        os.unlink(spec.name)
        if done.returncode:
            raise SystemExit(f"job waits at N={size} failed:\n{done.stderr[-3000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        after = control(url, "GET", "requests/count")
        result["requests_per_s"] = (after["total"] - before["total"]) / result["wall"]
        result["size"] = size
        rows.append(result)
        print(
            f"  N={size:>6} job waits: detection p50 {result['detect_p50']:.2f} s "
            f"p99 {result['detect_p99']:.2f} s, "
            f"cpu/trigger/interval {result['cpu_per_trigger_interval_ms']:.3f} ms, "
            f"{result['requests_per_s']:.1f} req/s, rss/trigger {result['rss_per_trigger_kib']:.1f} KiB, "
            f"events right {result['right_events']}/{size}",
            flush=True,
        )
    return rows


def job_waits_report(rows: list[dict[str, Any]], interval: float) -> str:
    lines = [
        f"Deferred Factory job waits, poll interval {interval:g} s "
        f"({platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}):",
        "",
        "| N waiting | detection p50 | detection p99 | CPU per waiting trigger per interval | requests/s "
        "| RSS per trigger | right events |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['size']:,} | {row['detect_p50']:.2f} s | {row['detect_p99']:.2f} s "
            f"| {row['cpu_per_trigger_interval_ms']:.3f} ms | {row['requests_per_s']:.1f} "
            f"| {row['rss_per_trigger_kib']:.1f} KiB | {row['right_events']:,}/{row['size']:,} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,3000", help="numbers of concurrent triggers")
    parser.add_argument("--interval", type=float, default=10.0, help="poll interval, seconds")
    parser.add_argument(
        "--scenarios",
        default="shared",
        help="run at each size, comma list of: shared (ours, defaults), dbt (the dbt Cloud provider's "
        "trigger), thread (sync hook in a thread: the baseline), restart (ours, triggerer restart)",
    )
    parser.add_argument(
        "--gateway",
        type=float,
        default=4,
        help="the gateway's per-user limit of the waits' API family, requests/s (quality: counted over "
        "10 s, as DataArts documents it); default 4, DataArts Quality's documented limit",
    )
    parser.add_argument(
        "--extra",
        default="dbt@1000@4,thread@1000@4,job@1000@30,shared@2000@2,two@1500@4@2",
        help="more runs, comma list of SCENARIO@SIZE@LIMIT[@EACH] (job: Factory job waits, LIMIT the "
        "Factory v1 limit; two: two triggerers of SIZE each, one connection; EACH: every triggerer's "
        "extra.rate_limits.quality); default: the peers at 1,000, job waits at 30/s, ours against a "
        "gateway of 2/s below the ceiling, two triggerers each at half the ceiling",
    )
    parser.add_argument(
        "--finish", default="5,75", help="instances end between these seconds after they start"
    )
    parser.add_argument(
        "--noise-per-hour", type=float, default=1000.0, help="other jobs' instances started per hour"
    )
    parser.add_argument("--import-runs", type=int, default=5)
    parser.add_argument("--skip", default="", help="comma list of parts to skip: scale, requests, imports")
    parser.add_argument("--out", default=None, help="also write the Markdown tables to this file")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: one scale run in this process
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument(
        "--jobs", default=None, help="only the deferred Factory job waits, at these sizes (e.g. 1000,10000)"
    )
    parser.add_argument("--one-jobs", help=argparse.SUPPRESS)  # internal: one job-wait run
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="dataarts-bench-"))
    # Both implementations log at WARNING, as a busy triggerer would be configured.
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    import logging

    logging.getLogger().setLevel(logging.WARNING)
    if args.one:
        one_scale_run(args.one, args.spec, args.interval)
        return 0
    if args.one_jobs:
        spec = json.loads(Path(args.one_jobs).read_text())
        print(json.dumps(asyncio.run(drive_job_waits(spec["url"], spec["size"], args.interval))))
        return 0
    if args.jobs:
        with emulator_process() as url:
            rows = job_waits(url, [int(size) for size in args.jobs.split(",")], args.interval)
        text = job_waits_report(rows, args.interval)
        print("\n" + text)
        if args.out:
            Path(args.out).write_text(text)
        return 0
    scale_rows: list[dict[str, Any]] = []
    calls: list[tuple[str, int, str]] = []
    with emulator_process() as url:
        if "requests" not in skip:
            print("Requests per call ...", flush=True)
            calls = requests_per_call(url)
        if "scale" not in skip:
            print(f"Triggerer scale (interval {args.interval:g} s) ...", flush=True)
            runs: list[tuple[int, str, float, float | None]] = [
                (int(size), scenario, float(args.gateway), None)
                for size in args.sizes.split(",")
                if size
                for scenario in args.scenarios.split(",")
                if scenario
            ]
            for extra in filter(None, args.extra.split(",")):
                # scenario@size@gateway[@each]: each = extra.rate_limits.quality of every triggerer
                scenario, size, limit, *each = extra.split("@")
                runs.append((int(size), scenario, float(limit), float(each[0]) if each else None))
            low, high = (float(x) for x in args.finish.split(","))
            scale_rows = scale(url, runs, args.interval, args.noise_per_hour, (low, high))
    imports = [] if "imports" in skip else import_costs(args.import_runs)
    text = report(scale_rows, calls, imports)
    print("\n" + text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
