"""What the DataArts sensors share: the hook, deferring to a trigger, soft_fail on API errors."""

from __future__ import annotations

import time
from abc import abstractmethod
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowSkipException, BaseSensorOperator, conf

from airflow_provider_dataarts.operators.base import BACKSTOP
from airflow_provider_dataarts.statuses import DEFAULT_CONN_ID, positive_seconds

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_dataarts.exceptions import DataArtsAPIError
    from airflow_provider_dataarts.hooks.dataarts import DataArtsHook
    from airflow_provider_dataarts.triggers.base import DataArtsPollingTrigger


class DataArtsSensor(BaseSensorOperator):
    """
    A sensor that pokes DataArts, or defers to a DataArts trigger with the same deadline.

    :param dataarts_conn_id: The Airflow connection of type ``dataarts``.
    :param deferrable: Wait in the triggerer instead of a worker slot.
    """

    def __init__(
        self,
        *,
        dataarts_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        # Airflow accepts 0, which would make every deferred poll of a connection spin.
        positive_seconds(self.poke_interval, "poke_interval")
        self.dataarts_conn_id = dataarts_conn_id
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> DataArtsHook:
        from airflow_provider_dataarts.hooks.dataarts import DataArtsHook

        return DataArtsHook(dataarts_conn_id=self.dataarts_conn_id)

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        self.defer(
            trigger=self.make_trigger(end_time=time.time() + self.timeout),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout) + BACKSTOP,
        )
        return None

    @abstractmethod
    def make_trigger(self, end_time: float) -> DataArtsPollingTrigger:
        """The trigger that waits for this sensor's instance until ``end_time``."""

    def _skip_if_soft_fail(self, error: DataArtsAPIError) -> None:
        """With ``soft_fail``, an API error skips the task, exactly as it does for a deferred sensor."""
        if self.soft_fail:
            raise AirflowSkipException(f"Skipping due to soft_fail: {error}") from error
