"""
How often the flagship example's deferred sensor is failed by Airflow's scheduler race (a trigger
that fires before the scheduler has processed the executor's report of the worker that deferred:
apache/airflow issues 66374, 67287, 72716), on a real deployment (the system tests' one).

    .venv/bin/python -m benchmarks.deferral_race --runs 10 --run-seconds 5

Run it from a checkout of the code to measure (before and after a change: two checkouts). Prints
each run's outcome and the tally. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

from tests.system.deployment import Deployment

DAG_ID = "example_dataarts_quality"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--run-seconds", type=float, default=5.0, help="how long the quality job runs")
    args = parser.parse_args()
    deployment = Deployment(run_seconds=args.run_seconds).start()
    try:
        api = deployment.api
        tally: Counter[str] = Counter()
        began = time.monotonic()
        for number in range(args.runs):
            run_id = api.trigger_dag(DAG_ID, {})
            run = api.wait_for_dag_run(DAG_ID, run_id, timeout=240)
            states = {ti["task_id"]: ti["state"] for ti in api.task_instances(DAG_ID, run_id)}
            tally[run["state"]] += 1
            print(f"run {number + 1}: {run['state']} {states}", flush=True)
        wall = time.monotonic() - began
        print(f"{DAG_ID}, job running {args.run_seconds} s: {dict(tally)}")
        print(f"{args.runs} runs one after another in {wall:.0f} s")
    finally:
        deployment.stop()


if __name__ == "__main__":
    main()
