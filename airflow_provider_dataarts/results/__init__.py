"""
What a finished DataArts run means for a task, one module per kind of result: the XCom it leaves,
the log it writes, where else it goes (lineage, asset events), and the verdict. ``quality`` and
``script`` (and ``job``) each have one ``finish_*`` function that every operator and sensor of that
kind calls, whether it waited in a worker or deferred. This module holds what they share: the check
of a trigger's event.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.common.compat.sdk import AirflowException

EVENT_STATUSES = ("success", "error", "timeout")
# Rows of a result table that the task log shows (sub-rules, nodes); the XCom keeps them all.
SUMMARY_ROWS = 20


def other_run(event: Any, instance_id: str | None) -> str | None:
    """The instance an event names when it is not ``instance_id`` (the run this task waits for)."""
    theirs = event.get("instance_id") if isinstance(event, dict) else None
    if instance_id is None or not theirs or str(theirs) == str(instance_id):
        return None
    return str(theirs)


def validate_event(event: Any, instance_id: str | None = None) -> dict[str, Any]:
    """Check a trigger event before trusting it; raise on "error" and "timeout"."""
    from airflow.providers.common.compat.sdk import AirflowSensorTimeout

    if (
        not isinstance(event, dict)
        or event.get("status") not in EVENT_STATUSES
        or not event.get("instance_id")
    ):
        raise AirflowException(f"Unexpected event from the DataArts trigger: {event!r}")
    if other_run(event, instance_id) is not None:
        raise AirflowException(
            f"The trigger reported instance {event['instance_id']}, expected {instance_id}: another "
            "run's verdict is not taken"
        )
    if event["status"] == "timeout":
        raise AirflowSensorTimeout(f"DataArts: {event.get('message')}")
    if event["status"] == "error":
        raise AirflowException(f"DataArts: {event.get('message')}")
    return event
