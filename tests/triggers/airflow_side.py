"""What Airflow's triggerer gives a trigger: its task instance and the channel to the API server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest


class TriggererComms:
    """The triggerer's channel to its supervisor, as a trigger sees it: the API server's answers."""

    def __init__(self, state: str | None, delay: float = 0.0) -> None:
        self.state, self.delay, self.asked = state, delay, 0

    async def asend(self, message: Any) -> Any:
        from airflow.sdk.execution_time.comms import GetTaskStates, TaskStatesResult

        if not isinstance(message, GetTaskStates):
            return None  # a secret to mask (the connection's): nothing to answer
        self.asked += 1
        await asyncio.sleep(self.delay)
        assert message.task_ids == ["run"]
        return TaskStatesResult(task_states={message.run_ids[0]: {"run": self.state}})

    def send(self, message: Any) -> Any:
        return None


class DeferredTaskInstance:
    dag_id, task_id, run_id, map_index, try_number = "edges", "run", "manual__1", -1, 1


def task_state_after_kill(
    trigger: Any, monkeypatch: pytest.MonkeyPatch, state: str | None = None, delay: float = 0.0
) -> TriggererComms:
    """
    The trigger runs for a deferred task instance whose state the API server reports as ``state``
    (default: none, as a user's clear leaves it).
    """
    from airflow.sdk.execution_time import task_runner

    channel = TriggererComms(state, delay)
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", channel, raising=False)
    trigger.task_instance = DeferredTaskInstance()
    return channel
