"""
A dbt Cloud run endpoint over the emulator's quality instances, for the benchmarks only.

``GET /api/v2/accounts/{account_id}/runs/{run_id}/`` answers a quality instance (``run_id`` is its
id) the way dbt Cloud answers a job run: ``{"data": {"id", "status", ...}}`` with dbt's status
codes (3 running, 10 success, 20 error). So the dbt Cloud provider's trigger, unchanged but for the
URL scheme, can wait for the same instances as ours, behind the same gateway limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_dataarts.emulator.state import EmulatorError

if TYPE_CHECKING:
    from airflow_provider_dataarts.emulator.state import EmulatorState

PREFIX = "/api/v2/accounts/"
# dbt Cloud's run status codes for the quality instance's status.
DBT_STATUS = {"RUNNING": 3, "SUCCESS": 10, "ALARMING": 10, "FAILED": 20}


def is_dbt_path(raw_path: str) -> bool:
    return raw_path.startswith(PREFIX)


def run_answer(state: EmulatorState, raw_path: str, authorization: str | None, now: float) -> dict[str, Any]:
    """The body of dbt Cloud's "get run" answer for the quality instance the path names."""
    if not (authorization or "").startswith("Token "):
        raise EmulatorError(401, "dbt.401", "Authentication credentials were not provided.")
    parts = raw_path[len(PREFIX) :].strip("/").split("/")
    if len(parts) != 3 or parts[1] != "runs" or not parts[2].isdigit():
        raise EmulatorError(404, "dbt.404", f"no dbt Cloud route {raw_path}")
    instance = state.instances.get(int(parts[2]))
    if instance is None:
        raise EmulatorError(404, "dbt.404", f"run {parts[2]} not found")
    status = DBT_STATUS.get(instance.run_status(now), 3)
    return {
        "status": {"code": 200, "is_success": True},
        "data": {"id": int(parts[2]), "account_id": int(parts[0]), "status": status},
    }
