"""``[core] hostname_callable`` of the system-test deployment (imported by its Airflow processes)."""

from __future__ import annotations


def loopback() -> str:
    """Task logs of running tasks are fetched from this address: the log servers listen on it."""
    return "127.0.0.1"
