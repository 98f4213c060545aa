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


def instance_url(config: DataArtsConfig, instance_id: str) -> str:
    """
    The console link of an instance, from ``extra.console_url`` or the documented default.

    The region is the connection's ``extra.region`` or the one in its endpoint
    (``dayu.{region}.myhuaweicloud.com``); when neither tells it, ``region={region}`` is left out
    of the link (the console then opens in the account's default region).
    """
    template = config.console_url
    if not config.region:
        template = _REGION_LAST.sub("", _REGION_FIRST.sub("", template))
    return template.format(
        region=config.region or "",
        project_id=config.project_id,
        workspace=config.workspace or "",
        instance_id=instance_id,
    )


class DataArtsQualityInstanceLink(BaseOperatorLink):
    """Opens the quality instance that the task started, read from XCom ``instance_url``."""

    name = "DataArts Quality instance"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        return XCom.get_value(key=INSTANCE_URL_KEY, ti_key=ti_key) or ""
