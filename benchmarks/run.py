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

    async def run(self, lateness: list[float]) -> dict[str, Any]:
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
            lateness.append(time.time() - due)
            if instance["run_status"] in TERMINAL:
                return {
                    "status": "success",
                    "instance_id": self.instance_id,
                    "run_status": instance["run_status"],
                }
        return {"status": "timeout", "instance_id": self.instance_id}


async def drive(
    kind: str, created: list[dict[str, Any]], interval: float, started_after: int
) -> dict[str, Any]:
    """Run one trigger per instance in this loop; measure CPU, memory, lateness and events."""
    import random

    from airflow_provider_dataarts.triggers import shared_poll
    from airflow_provider_dataarts.triggers.quality import DataArtsQualityInstanceTrigger

    lateness: list[float] = []
    original = shared_poll.SharedInstancePoller.poll

    async def timed_poll(self: Any, instance_id: str, hint: int | None) -> Any:
        answer = await original(self, instance_id, hint)
        lateness.append(time.time() - answer.due)
        return answer

    shared_poll.SharedInstancePoller.poll = timed_poll  # type: ignore[method-assign]
    events: dict[str, tuple[dict[str, Any], float]] = {}
    rng = random.Random(7)
    # Warm up what both implementations load once per process (imports, the connection).
    import httpx  # noqa: F401
    import requests  # noqa: F401

    from airflow_provider_dataarts.hooks.dataarts import DataArtsHook

    DataArtsHook().config  # noqa: B018
    rss_before = rss_bytes()
    began = time.time()

    async def shared(item: dict[str, Any]) -> None:
        trigger = DataArtsQualityInstanceTrigger(
            instance_id=item["id"],
            poll_interval=interval,
            job_name=item["job_name"],
            started_after=started_after,
        )
        async for event in trigger.run():
            events[item["id"]] = (event.payload, time.time())

    async def threaded(item: dict[str, Any]) -> None:
        trigger = ThreadPollingTrigger(
            item["id"], item["job_name"], interval, started_after, rng.uniform(0, interval)
        )
        events[item["id"]] = (await trigger.run(lateness), time.time())

    runner: Callable[[dict[str, Any]], Any] = shared if kind == "shared" else threaded
    tasks = [asyncio.create_task(runner(item)) for item in created]
    await asyncio.sleep(interval * 1.5)  # every trigger is waiting and has polled at least once
    rss_waiting = rss_bytes()
    # CPU is counted from here: steady polling, not start-up (imports, first connections).
    cpu_before, polls_before = time.process_time(), len(lateness)
    await asyncio.wait(tasks, timeout=240)
    wall = time.time() - began
    cpu = time.process_time() - cpu_before
    steady_polls = len(lateness) - polls_before
    steady_lateness = lateness[polls_before:]
    shared_poll.SharedInstancePoller.poll = original  # type: ignore[method-assign]
    expected = {item["id"]: item["outcome"] for item in created}
    right = sum(
        1
        for instance_id, (event, _) in events.items()
        if event.get("status") == "success" and event.get("run_status") == expected[instance_id]
    )
    finish = {item["id"]: item["finish_at"] for item in created}
    detection = [at - finish[i] for i, (_, at) in events.items()]
    return {
        "polls": len(lateness),
        "cpu": cpu,
        "cpu_per_poll_ms": 1000 * cpu / max(1, steady_polls),
        "rss_per_trigger_kib": (rss_waiting - rss_before) / len(created) / 1024,
        "late_p50": percentile(steady_lateness, 0.5),
        "late_p99": percentile(steady_lateness, 0.99),
        "right_events": right,
        "events": len(events),
        "wall": wall,
        "detect_p99": percentile(detection, 0.99),
    }


def scale(url: str, sizes: list[int], interval: float, kinds: list[str]) -> list[dict[str, Any]]:
    """Each (size, implementation) runs in a fresh process, so memory and CPU are its own."""
    rows = []
    for size in sizes:
        for kind in kinds:
            control(url, "POST", "reset")
            started_after = int(time.time() * 1000) - 1000
            created = control(
                url,
                "POST",
                "instances/bulk",
                {
                    "job_name": "orders_completeness",
                    "count": size,
                    "min_seconds": interval / 2,
                    "max_seconds": interval * 3.5,
                    "distinct_jobs": True,
                },
            )["instances"]
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as spec:
                json.dump({"created": created, "started_after": started_after}, spec)
            before = requests_seen(url)
            done = subprocess.run(
                [sys.executable, __file__, "--one", kind, "--spec", spec.name, "--interval", str(interval)],
                capture_output=True,
                text=True,
                check=True,
            )
            os.unlink(spec.name)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            result["requests_per_s"] = (requests_seen(url) - before) / result["wall"]
            result.update(kind=kind, size=size)
            rows.append(result)
            print(
                f"  N={size:>6} {kind:<8} cpu/poll {result['cpu_per_poll_ms']:.3f} ms, "
                f"lateness p50 {result['late_p50']:.3f} s p99 {result['late_p99']:.3f} s, "
                f"{result['requests_per_s']:.1f} req/s, rss/trigger {result['rss_per_trigger_kib']:.1f} KiB, "
                f"events right {result['right_events']}/{size}",
                flush=True,
            )
    return rows


def one_scale_run(kind: str, spec_path: str, interval: float) -> None:
    spec = json.loads(Path(spec_path).read_text())
    result = asyncio.run(drive(kind, spec["created"], interval, spec["started_after"]))
    print(json.dumps(result))


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
            "| N triggers | implementation | CPU per poll | RSS per trigger | lateness p50 | lateness p99 "
            "| requests/s | right events |",
            "|---:|---|---:|---:|---:|---:|---:|---:|",
        ]
        for row in scale_rows:
            name = "shared polls (ours)" if row["kind"] == "shared" else "sync hook in thread"
            lines.append(
                f"| {row['size']:,} | {name} | {row['cpu_per_poll_ms']:.3f} ms "
                f"| {row['rss_per_trigger_kib']:.1f} KiB "
                f"| {row['late_p50']:.3f} s | {row['late_p99']:.3f} s | {row['requests_per_s']:.1f} "
                f"| {row['right_events']:,}/{row['size']:,} |"
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


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100,1000,5000,10000", help="numbers of concurrent triggers")
    parser.add_argument("--interval", type=float, default=10.0, help="poll interval, seconds")
    parser.add_argument("--kinds", default="shared,thread", help="shared (ours) and/or thread (baseline)")
    parser.add_argument("--import-runs", type=int, default=5)
    parser.add_argument("--skip", default="", help="comma list of parts to skip: scale, requests, imports")
    parser.add_argument("--out", default=None, help="also write the Markdown tables to this file")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: one scale run in this process
    parser.add_argument("--spec", help=argparse.SUPPRESS)
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
    scale_rows: list[dict[str, Any]] = []
    calls: list[tuple[str, int, str]] = []
    with emulator_process() as url:
        if "requests" not in skip:
            print("Requests per call ...", flush=True)
            calls = requests_per_call(url)
        if "scale" not in skip:
            print(f"Triggerer scale (interval {args.interval:g} s) ...", flush=True)
            sizes = [int(size) for size in args.sizes.split(",")]
            scale_rows = scale(url, sizes, args.interval, args.kinds.split(","))
    imports = [] if "imports" in skip else import_costs(args.import_runs)
    text = report(scale_rows, calls, imports)
    print("\n" + text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
