"""
Every example DAG that a user triggers, triggered through the REST API of a real deployment, five
times at once: each run ends as the example documents. The flagship example's deferred sensor is
where Airflow 3.3's scheduler race bit (docs "Airflow versions": FIRST_EVENT_DELAY).
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.integration.test_examples_without_logical_date import EXAMPLES
from tests.system.client import AirflowClient

RUNS = 5
# dag id -> (the run's state, each task's state), as each example documents.
DOCUMENTED = {dag_id: (run_state, states) for dag_id, (_, _, run_state, states) in EXAMPLES.items()}
DOCUMENTED["example_dataarts_job"] = (
    "success",
    {"load_orders": "success", "check_orders": "success", "publish": "success"},
)


@pytest.mark.parametrize("dag_id", list(DOCUMENTED))
def test_each_example_ends_as_documented_five_times_out_of_five(
    airflow_api: AirflowClient, dag_id: str
) -> None:
    run_state, states = DOCUMENTED[dag_id]
    run_ids = [airflow_api.trigger_dag(dag_id, {}) for _ in range(RUNS)]
    outcomes: Counter[str] = Counter()
    problems = []
    for run_id in run_ids:
        run = airflow_api.wait_for_dag_run(dag_id, run_id, timeout=240)
        seen = {ti["task_id"]: ti["state"] for ti in airflow_api.task_instances(dag_id, run_id)}
        outcomes[run["state"]] += 1
        if run["state"] != run_state or seen != states:
            problems.append(f"{run_id}: {run['state']} {seen}")
    assert not problems, f"{dag_id}: {outcomes}; not as documented: {problems}"
