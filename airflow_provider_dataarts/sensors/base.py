"""What the DataArts sensors share: the hook, the deadline, durable waiting state, deferring."""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowSkipException, BaseSensorOperator

from airflow_provider_dataarts.operators.base import BACKSTOP, DEFAULT_DEFERRABLE
from airflow_provider_dataarts.statuses import DEFAULT_CONN_ID, positive_seconds

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_dataarts.exceptions import DataArtsAPIError
    from airflow_provider_dataarts.hooks.dataarts import DataArtsHook
    from airflow_provider_dataarts.triggers.base import DataArtsPollingTrigger
    from airflow_provider_dataarts.waiting import TaskState


class DataArtsSensor(BaseSensorOperator):
    """
    A sensor that pokes DataArts, or defers to a DataArts trigger with the same deadline.

    A sensor only watches: nothing it does, and nothing done to it (clear, mark, kill), stops the
    instance it waits for.

    :param dataarts_conn_id: The Airflow connection of type ``dataarts``. (templated)
    :param deferrable: Wait in the triggerer instead of a worker slot.
    :param triggerer_queue: The triggerer queue the deferred wait goes to (Airflow 3.2+ with
        ``[triggerer] queues_enabled``; default ``[dataarts] triggerer_queue``), so one triggerer
        can own every DataArts wait; ignored, with a warning, below 3.2.
    """

    # Every sensor's own fields come first: ``(..., *DataArtsSensor.template_fields)``.
    template_fields: Sequence[str] = ("dataarts_conn_id",)
    # task_state_store key of what waiting has learnt (not-listed grace, an outage's start).
    state_key: str

    def __init__(
        self,
        *,
        dataarts_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool = DEFAULT_DEFERRABLE,
        triggerer_queue: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        # Where the deferred wait runs (Airflow 3.2+ triggerer queues): waiting.route_to_triggerer_queue.
        self.triggerer_queue = triggerer_queue
        # Airflow accepts 0, which would make every deferred poll of a connection spin.
        positive_seconds(self.poke_interval, "poke_interval")
        self.dataarts_conn_id = dataarts_conn_id
        self.deferrable = deferrable
        self._state: TaskState | None = None

    @cached_property
    def hook(self) -> DataArtsHook:
        from airflow_provider_dataarts.hooks.dataarts import DataArtsHook

        return DataArtsHook(dataarts_conn_id=self.dataarts_conn_id)

    def execute(self, context: Context) -> Any:
        from airflow_provider_dataarts.waiting import TaskState

        self.validate()
        self.hook.deadline = self._started(context) + self.timeout
        self._state = TaskState(context, self.state_key, self.log)
        self._state.load()
        if not self.deferrable:
            return super().execute(context)
        from airflow_provider_dataarts.waiting import route_to_triggerer_queue

        route_to_triggerer_queue(self, self.triggerer_queue, self.log)
        self.defer(
            trigger=self.make_trigger(end_time=self.hook.deadline),
            method_name="execute_complete",
            timeout=timedelta(seconds=max(0.0, self.hook.deadline - time.time())) + BACKSTOP,
        )
        return None

    def _started(self, context: Context) -> float:
        """When waiting began: this try's start, or in reschedule mode the first poke's."""
        if self.reschedule:
            first = context["ti"].get_first_reschedule_date(context)
            if first is not None:
                return first.timestamp()
        return time.time()

    @property
    def state(self) -> TaskState:
        assert self._state is not None, "execute() sets the state before poke()"
        return self._state

    def validate(self) -> None:
        """Check the connection before any request or deferral, as poke mode would find it."""
        self.hook.config  # noqa: B018 - reads and validates the connection

    @abstractmethod
    def make_trigger(self, end_time: float) -> DataArtsPollingTrigger:
        """The trigger that waits for this sensor's instance until ``end_time`` (it never stops it)."""

    def _skip_if_soft_fail(self, error: DataArtsAPIError) -> None:
        """With ``soft_fail``, an API error skips the task, exactly as it does for a deferred sensor."""
        if self.soft_fail:
            raise AirflowSkipException(f"Skipping due to soft_fail: {error}") from error
