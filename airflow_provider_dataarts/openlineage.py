"""
OpenLineage for the DataArts Quality operator and sensor (``QualityLineageMixin``).

Works only when Airflow's OpenLineage provider (the ``openlineage`` extra) is installed. DAG files
import the operators, so this module imports nothing but the statuses: the facets are built in
``openlineage_facets`` when the provider asks for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_dataarts.statuses import is_quality_terminal

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_dataarts.hooks.dataarts import DataArtsHook


def remember_quality_result(context: Any, quality_result: dict[str, Any], policy: Any = None) -> None:
    """
    Keep the finished instance's result on the task for ``get_openlineage_facets_on_complete``.

    The OpenLineage listener runs in a forked child of the task process by default, where the
    supervisor channel (XCom, connections) must not be used: it reads what the task left here.
    """
    task = context.get("task") if hasattr(context, "get") else None
    if isinstance(task, QualityLineageMixin):
        task.quality_result_for_lineage = quality_result
        task.quality_policy_for_lineage = policy


class QualityLineageMixin:
    """
    ``get_openlineage_facets_on_complete`` (and ``_on_failure``) for the quality operator and sensor.

    Reports the instance this task saw finish (``remember_quality_result``), so nothing when the task
    did not wait for one. Needs ``hook``, ``fail_on_alarm`` and ``task_id`` on the class it mixes
    into; Airflow's OpenLineage provider calls it only when that provider is installed. The job
    detail is fetched with the task's own hook, whose connection is already loaded.
    """

    quality_result_for_lineage: dict[str, Any] | None = None
    quality_policy_for_lineage: Any = None  # the QualityPolicy the verdict was given under

    if TYPE_CHECKING:

        @property
        def hook(self) -> DataArtsHook: ...

        fail_on_alarm: bool
        task_id: str
        log: Any

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        result = self.quality_result_for_lineage
        if not isinstance(result, dict) or not is_quality_terminal(result.get("run_status")):
            return None
        from airflow_provider_dataarts.openlineage_facets import quality_lineage

        policy = self.quality_policy_for_lineage
        return quality_lineage(
            self.hook,
            result,
            fail_on_alarm=policy.fail_on_alarm if policy is not None else self.fail_on_alarm,
            warn_only=tuple(policy.warn_only) if policy is not None else (),
            log=self.log,
        )

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> OperatorLineage | None:
        """An ALARMING or FAILED verdict fails the task: its FAIL event carries the assertions too."""
        return self.get_openlineage_facets_on_complete(task_instance)
