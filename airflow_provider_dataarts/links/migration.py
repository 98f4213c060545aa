"""Extra link from a task to its DataArts Migration (CDM) job in the console."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_dataarts.links.dataarts import _InstanceUrlLink, _without_unknown_region

if TYPE_CHECKING:
    from airflow_provider_dataarts.client.config import DataArtsConfig


def migration_url(config: DataArtsConfig, cluster_id: str, job_name: str, submission_id: str) -> str:
    """
    The console link of a migration job's submission, from ``extra.migration_console_url``
    (placeholders those of ``console_url`` plus ``{cluster_id}``, ``{job_name}`` and
    ``{submission_id}``, URL-quoted) or the default; the region as for the quality links.
    """
    from urllib.parse import quote

    return _without_unknown_region(config, config.migration_console_url).format(
        region=config.region or "",
        project_id=quote(config.project_id, safe=""),
        workspace=quote(config.workspace or "", safe=""),
        cluster_id=quote(cluster_id, safe=""),
        job_name=quote(job_name, safe=""),
        submission_id=quote(submission_id, safe=""),
    )


class DataArtsMigrationLink(_InstanceUrlLink):
    """Opens the migration job the task started, read from XCom ``instance_url``."""

    name = "DataArts Migration job"
