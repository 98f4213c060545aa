"""
OpenLineage for the DataArts Migration operator and sensor (``MigrationLineageMixin``): the job's
source as the input dataset and its target as the output dataset, with the submission's row counts
(``inputStatistics``, ``outputStatistics``).

Works only when Airflow's OpenLineage provider (the ``openlineage`` extra) is installed: it is the
one that calls ``get_openlineage_facets_on_*``. Without it nothing here runs, and no request is
sent (the job's definition is read only when lineage is asked for). DAG files import the operators,
so this module imports nothing heavy at module level.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_dataarts.statuses import is_migration_terminal

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_dataarts.hooks.dataarts import DataArtsHook

INPUT_STATISTICS_FACET = "inputStatistics"
OUTPUT_STATISTICS_FACET = "outputStatistics"


def remember_migration_result(context: Any, result: dict[str, Any]) -> None:
    """Keep the finished submission on the task for ``get_openlineage_facets_on_complete``."""
    task = context.get("task") if hasattr(context, "get") else None
    if isinstance(task, MigrationLineageMixin):
        task.migration_result_for_lineage = result


def dataset_identity(host: str, cluster_id: str, side: dict[str, Any]) -> tuple[str, str] | None:
    """
    ``(namespace, name)`` of one side of the job: ``dataarts://{cdm host}/{cluster}/{link}`` and
    ``schema.table`` (or ``bucket/path``); None when the definition names no object.
    """
    if not side.get("name"):
        return None
    link = side.get("link") or side.get("connector") or "unknown-link"
    return f"dataarts://{host}/{cluster_id}/{link}", str(side["name"])


def migration_lineage(hook: DataArtsHook, result: dict[str, Any], *, log: Any) -> OperatorLineage:
    """Read the job's definition and build its input and output datasets with the row counts."""
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import InputDataset, OutputDataset
    from openlineage.client.facet_v2 import input_statistics_input_dataset as input_stats
    from openlineage.client.facet_v2 import output_statistics_output_dataset as output_stats

    from airflow_provider_dataarts.client.migration import endpoints_of
    from airflow_provider_dataarts.exceptions import DataArtsAPIError
    from airflow_provider_dataarts.openlineage_facets import endpoint_host

    cluster_id, job_name = str(result["cluster_id"]), str(result["job_name"])
    try:
        definition = hook.get_migration_job(cluster_id, job_name)
    except DataArtsAPIError as error:
        log.warning("OpenLineage: no definition of DataArts Migration job %s: %s", job_name, error)
        return OperatorLineage()
    ends = endpoints_of(definition)
    host = endpoint_host(hook.config.migration_endpoint or hook.config.endpoint)
    counters = result.get("counters") or {}
    inputs, outputs = [], []
    source = dataset_identity(host, cluster_id, ends["source"])
    if source is not None:
        facets: dict[str, Any] = {}
        if counters.get("rows_read") is not None:
            facets[INPUT_STATISTICS_FACET] = input_stats.InputStatisticsInputDatasetFacet(
                rowCount=counters.get("rows_read"), size=counters.get("bytes_read")
            )
        inputs.append(InputDataset(namespace=source[0], name=source[1], inputFacets=facets))
    target = dataset_identity(host, cluster_id, ends["target"])
    if target is not None:
        out: dict[str, Any] = {}
        written = result.get("rows_written")
        if written is not None:
            out[OUTPUT_STATISTICS_FACET] = output_stats.OutputStatisticsOutputDatasetFacet(
                rowCount=written, size=counters.get("bytes_written")
            )
        outputs.append(OutputDataset(namespace=target[0], name=target[1], outputFacets=out))
    return OperatorLineage(inputs=inputs, outputs=outputs)


class MigrationLineageMixin:
    """
    ``get_openlineage_facets_on_complete`` (and ``_on_failure``) for the migration operator and
    sensor: the submission this task saw finish (nothing when it did not wait for one).
    """

    migration_result_for_lineage: dict[str, Any] | None = None

    if TYPE_CHECKING:

        @property
        def hook(self) -> DataArtsHook: ...

        log: Any

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        result = self.migration_result_for_lineage
        if not isinstance(result, dict) or not is_migration_terminal(result.get("status")):
            return None
        return migration_lineage(self.hook, result, log=self.log)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> OperatorLineage | None:
        """A FAILED submission fails the task: its FAIL event names the source and target too."""
        return self.get_openlineage_facets_on_complete(task_instance)
