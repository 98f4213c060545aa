"""Extra link from a task to its DataArts Migration (CDM) job in the console."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_dataarts.links.dataarts import _InstanceUrlLink, _without_unknown_region

if TYPE_CHECKING:
    from airflow_provider_dataarts.client.config import DataArtsConfig

# Assumption (no page documents console deep links): the CDM console opens a cluster's job
# management by the cluster id in its hash route; the job name and submission id ride along.
DEFAULT_MIGRATION_CONSOLE_URL = (
    "https://console.huaweicloud.com/cdm/?region={region}#/cdm/clusterList/jobManagement"
    "?clusterId={cluster_id}&jobName={job_name}&submissionId={submission_id}"
)


def migration_url(config: DataArtsConfig, cluster_id: str, job_name: str, submission_id: str) -> str:
    """The console link of a migration job's submission (region as for the quality links)."""
    from urllib.parse import quote

    return _without_unknown_region(config, DEFAULT_MIGRATION_CONSOLE_URL).format(
        region=config.region or "",
        cluster_id=quote(cluster_id, safe=""),
        job_name=quote(job_name, safe=""),
        submission_id=quote(submission_id, safe=""),
    )


class DataArtsMigrationLink(_InstanceUrlLink):
    """Opens the migration job the task started, read from XCom ``instance_url``."""

    name = "DataArts Migration job"
