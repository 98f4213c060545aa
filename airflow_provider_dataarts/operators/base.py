"""What the DataArts operators (and sensors) share: waiting in the worker, and deadlines."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from airflow.providers.common.compat.sdk import AirflowSensorTimeout

# What an operator's retry sees for a stored instance that DataArts no longer knows: submit afresh.
NOT_FOUND = "NOT_FOUND"
# The deferral's own timeout is a backstop only: the trigger itself sends a "timeout" event.
BACKSTOP = timedelta(seconds=60)


def deferral_deadline(timeout: float | None) -> tuple[float | None, timedelta | None]:
    """The trigger's absolute ``end_time``, and the backstop timeout for ``defer()``."""
    if timeout is None:
        return None, None
    return time.time() + timeout, timedelta(seconds=timeout) + BACKSTOP


def wait_in_worker(
    check: Callable[[], dict[str, Any]],
    status_of: Callable[[dict[str, Any]], str | None],
    finished: Callable[[str | None], bool],
    *,
    what: str,
    poll_interval: float,
    timeout: float | None,
    log: Any,
) -> dict[str, Any]:
    """
    Call ``check`` every ``poll_interval`` until ``finished(status)``; return that last answer.

    Logs each new status once (not every poll), and raises ``AirflowSensorTimeout`` rather than
    sleeping past ``timeout``.
    """
    started = time.monotonic()
    last_status = None
    while True:
        answer = check()
        status = status_of(answer)
        if status != last_status:
            log.info("DataArts %s is %s", what, status)
            last_status = status
        if finished(status):
            return answer
        if timeout is not None and time.monotonic() - started + poll_interval > timeout:
            raise AirflowSensorTimeout(f"DataArts {what} still {status} after {timeout} s")
        time.sleep(poll_interval)
