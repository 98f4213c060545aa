"""Extra link from a task to its DataArts Quality instance in the DataArts Studio console."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

if TYPE_CHECKING:
    from airflow_provider_dataarts.client.config import DataArtsConfig

INSTANCE_URL_KEY = "instance_url"


# "region={region}" with no region known: the parameter is left out, never sent empty.
_REGION_FIRST = re.compile(r"region=\{region\}&")
_REGION_LAST = re.compile(r"[?&]region=\{region\}(?=#|$)")


def _without_unknown_region(config: DataArtsConfig, template: str) -> str:
    return template if config.region else _REGION_LAST.sub("", _REGION_FIRST.sub("", template))


def instance_url(config: DataArtsConfig, instance_id: str) -> str:
    """
    The console link of an instance, from ``extra.console_url`` or the documented default.

    The region is the connection's ``extra.region`` or the one in its endpoint
    (``dayu.{region}.myhuaweicloud.com``); when neither tells it, ``region={region}`` is left out
    of the link (the console then opens in the account's default region).
    """
    return _without_unknown_region(config, config.console_url).format(
        region=config.region or "",
        project_id=config.project_id,
        workspace=config.workspace or "",
        instance_id=instance_id,
    )


def job_instance_url(config: DataArtsConfig, job_name: str, instance_id: str) -> str:
    """
    The console link of a Factory job instance, from ``extra.job_console_url`` (placeholders those
    of ``console_url`` plus ``{job_name}``, URL-quoted) or the default; the region as for quality.
    """
    from urllib.parse import quote

    return _without_unknown_region(config, config.job_console_url).format(
        region=config.region or "",
        project_id=config.project_id,
        workspace=config.workspace or "",
        instance_id=instance_id,
        job_name=quote(job_name, safe=""),
    )


class _InstanceUrlLink(BaseOperatorLink):
    """
    A link to what the task started in the DataArts console: the URL it pushed to XCom
    ``instance_url`` (``DataArtsRunOperator.push_link``), empty before that.
    """

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        return XCom.get_value(key=INSTANCE_URL_KEY, ti_key=ti_key) or ""


class DataArtsQualityInstanceLink(_InstanceUrlLink):
    """Opens the quality instance that the task started, read from XCom ``instance_url``."""

    name = "DataArts Quality instance"


class DataArtsJobInstanceLink(_InstanceUrlLink):
    """Opens the Factory job instance that the task started, read from XCom ``instance_url``."""

    name = "DataArts Factory job instance"


def patch_data_url(config: DataArtsConfig, name: str, job_name: str) -> str:
    """
    The console link of a PatchData run, from ``extra.patch_data_console_url`` (placeholders those
    of ``console_url`` plus ``{name}`` and ``{job_name}``, URL-quoted) or the default; the region
    as for quality.
    """
    from urllib.parse import quote

    return _without_unknown_region(config, config.patch_data_console_url).format(
        region=config.region or "",
        project_id=config.project_id,
        workspace=config.workspace or "",
        name=quote(name, safe=""),
        job_name=quote(job_name, safe=""),
    )


class DataArtsPatchDataLink(_InstanceUrlLink):
    """Opens the PatchData run that the task started, read from XCom ``instance_url``."""

    name = "DataArts PatchData"
