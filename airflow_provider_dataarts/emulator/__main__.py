"""``python -m airflow_provider_dataarts.emulator``: run the DataArts emulator until stopped."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from typing import Any

from airflow_provider_dataarts.emulator.emulator import DataArtsEmulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dataarts-emulator", description="A local DataArts Studio emulator."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--run-seconds", type=float, default=5.0, help="how long a rerun quality job runs")
    parser.add_argument("--script-seconds", type=float, default=3.0, help="how long a script runs")
    parser.add_argument("--seed", help="JSON file of quality_jobs and scripts (default: the demo set)")
    parser.add_argument("--project-id", default="p1")
    parser.add_argument("--workspace", default="w1")
    parser.add_argument("--ak", default="AK")
    parser.add_argument("--sk", default="SK")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    parser.add_argument(
        "--limit-per-second",
        type=int,
        default=0,
        help="the gateway's per-user limit: 429 APIG.0308 with Retry-After beyond it (0: none)",
    )
    parser.add_argument(
        "--no-limits",
        action="store_true",
        help="do not enforce DataArts' documented per-user limits per API family (on by default: "
        "quality 40 per 10 s, Factory v1 30/s, job detail 10/s, Factory v2 10/s, CDM status 2/s)",
    )
    args = parser.parse_args(argv)
    emulator = DataArtsEmulator(
        args.host,
        args.port,
        run_seconds=args.run_seconds,
        script_seconds=args.script_seconds,
        seed_file=args.seed,
        quiet=args.quiet,
        project_id=args.project_id,
        workspace=args.workspace,
        access_key=args.ak,
        secret_key=args.sk,
        enforce_limits=not args.no_limits,
    )
    if args.limit_per_second:
        emulator.limit_per_second(args.limit_per_second)
    creds = emulator.credentials
    connection: dict[str, Any] = {
        "conn_type": "dataarts",
        "host": emulator.url,
        "login": creds.access_key,
        "password": creds.secret_key,
        "extra": {
            "project_id": creds.project_id,
            "workspace": creds.workspace,
            "console_url": emulator.console_url,
        },
    }
    print(f"DataArts emulator on {emulator.url}", flush=True)
    print(f"  AK/SK: {creds.access_key} / {creds.secret_key}", flush=True)
    print(
        f"  IAM: domain {creds.domain_name}, user {creds.iam_user}, password {creds.iam_password}",
        flush=True,
    )
    print(f"  static token: {creds.static_token}", flush=True)
    limits = "off (--no-limits)" if args.no_limits else "DataArts' documented per-user limits per API family"
    print(f"  gateway limits: {limits}", flush=True)
    print(f"  jobs: {', '.join(job.name for job in emulator.state.jobs.values())}", flush=True)
    print(f"  scripts: {', '.join(emulator.state.scripts)}", flush=True)
    print(f"  console: {emulator.url}/console/ (each instance's page, the tasks' extra link)", flush=True)
    print(f"AIRFLOW_CONN_DATAARTS_DEFAULT='{json.dumps(connection)}'", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        emulator.server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        emulator.server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
