"""
Deferred DataArts waits go to a triggerer queue (Airflow 3.2+): the trigger Airflow registers
carries the queue, while the task keeps its own worker queue. Checked through Airflow's own
deferral code (``task_runner._defer_task``), which builds the message the API server stores.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_dataarts.operators.quality import RerunQualityJobOperator
from airflow_provider_dataarts.sensors.job import DataArtsJobInstanceSensor
from airflow_provider_dataarts.sensors.quality import DataArtsQualityInstanceSensor
from airflow_provider_dataarts.sensors.script import DataArtsScriptInstanceSensor
from airflow_provider_dataarts.waiting import route_to_triggerer_queue

log = logging.getLogger("test")


def deferral_queue(task: Any, monkeypatch: pytest.MonkeyPatch, *, enabled: bool) -> str | None:
    """The queue Airflow gives the trigger of ``task``'s deferral, as its task runner decides it."""
    from airflow.sdk.execution_time import task_runner

    monkeypatch.setenv("AIRFLOW__TRIGGERER__QUEUES_ENABLED", str(enabled))
    route_to_triggerer_queue(task, task.triggerer_queue, log)
    trigger = task.make_trigger(end_time=None) if hasattr(task, "state_key") else None
    deferred = TaskDeferred(trigger=trigger, method_name="execute_complete")
    ti = SimpleNamespace(task=task, dag_id="d", task_id=task.task_id, run_id="r")
    import structlog

    message, _ = task_runner._defer_task(deferred, ti, structlog.get_logger("test"))
    return message.queue


SENSORS: dict[str, Callable[..., Any]] = {
    "quality": lambda **kw: DataArtsQualityInstanceSensor(task_id="w", instance_id="1", **kw),
    "script": lambda **kw: DataArtsScriptInstanceSensor(task_id="w", script_name="s", instance_id="1", **kw),
    "job": lambda **kw: DataArtsJobInstanceSensor(task_id="w", job_name="j", instance_id="1", **kw),
}


@pytest.mark.parametrize("kind", list(SENSORS))
def test_a_sensor_sends_its_wait_to_the_triggerer_queue_and_keeps_its_worker_queue(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sensor = SENSORS[kind](deferrable=True, triggerer_queue="dataarts", queue="workers")
    assert sensor.queue == "workers"
    assert deferral_queue(sensor, monkeypatch, enabled=True) == "dataarts"


def test_without_a_triggerer_queue_airflow_decides_as_usual(monkeypatch: pytest.MonkeyPatch) -> None:
    sensor = SENSORS["quality"](deferrable=True, queue="workers")
    assert deferral_queue(sensor, monkeypatch, enabled=True) == "workers", "Airflow's default: the task's"
    sensor = SENSORS["quality"](deferrable=True, triggerer_queue="dataarts", queue="workers")
    assert deferral_queue(sensor, monkeypatch, enabled=False) is None, "queues disabled: no queue at all"


def test_the_airflow_setting_routes_every_dataarts_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__DATAARTS__TRIGGERER_QUEUE", "dataarts")
    sensor = SENSORS["job"](deferrable=True)
    assert deferral_queue(sensor, monkeypatch, enabled=True) == "dataarts"
    own = SENSORS["job"](deferrable=True, triggerer_queue="mine")
    assert deferral_queue(own, monkeypatch, enabled=True) == "mine", "a task's own choice wins"


def test_operators_take_the_argument_too() -> None:
    operator = RerunQualityJobOperator(task_id="r", rule_id="1", deferrable=True, triggerer_queue="dataarts")
    assert operator.triggerer_queue == "dataarts"
