"""
The DataArts tab in the Airflow UI: an Airflow plugin (``DataArtsPlugin``) with a task-instance tab
(an ``external_views`` entry, Airflow 3.1+) served by its own FastAPI app under ``/dataarts``.

Every Airflow component loads plugins, so this module stays cheap: it imports nothing heavier than
Airflow's own plugin base class, and the FastAPI app (``app.py``: routes, auth, database reads,
HTML) is built on the first request the api-server sends it. Below Airflow 3.1 the plugin
registers nothing (3.0 has no ``external_views``) and logs why, once per process.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from airflow import __version__ as AIRFLOW_VERSION
from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger(__name__)

URL_PREFIX = "/dataarts"
URL_ROUTE = "dataarts"
TAB_NAME = "DataArts"
MIN_AIRFLOW = (3, 1)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def airflow_version() -> tuple[int, int]:
    """The running Airflow's (major, minor), from a version such as ``3.1.8`` or ``3.2.0rc1``."""
    parts = AIRFLOW_VERSION.split(".")
    minor = "".join(c for c in (parts[1] if len(parts) > 1 else "0") if c.isdigit()) or "0"
    return int(parts[0]), int(minor)


def base_path() -> str:
    """The path part of ``[api] base_url`` (empty when Airflow is served at the root)."""
    from urllib.parse import urlsplit

    from airflow.configuration import conf

    base_url = conf.get("api", "base_url", fallback="") or ""
    return urlsplit(base_url).path.rstrip("/")


def tab_href() -> str:
    """
    The tab's address, filled in by the UI. The run id goes last, as a path: run ids hold ``+``, ``:``
    and sometimes ``/``; a query string would turn an unencoded ``+`` (releases before 3.3.2 do not
    encode) into a space.
    """
    return f"{base_path()}{URL_PREFIX}/ti/{{DAG_ID}}/{{TASK_ID}}/{{MAP_INDEX}}/{{RUN_ID}}"


class LazyApp:
    """
    An ASGI app that builds the real FastAPI app (``app.create_app``) on its first request, so that
    no Airflow component but the api-server pays for importing FastAPI and the page code.
    """

    def __init__(self) -> None:
        self._app: Callable[[Scope, Receive, Send], Awaitable[None]] | None = None

    def get(self) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
        if self._app is None:
            from airflow_provider_dataarts.plugins.app import create_app

            self._app = create_app()
        return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.get()(scope, receive, send)


APP = LazyApp()
SUPPORTED = airflow_version() >= MIN_AIRFLOW
_said_why = False


class DataArtsPlugin(AirflowPlugin):
    """The DataArts tab on the task-instance page, and the app that serves it (Airflow 3.1+)."""

    name = "dataarts"
    fastapi_apps = (
        [{"app": APP, "url_prefix": URL_PREFIX, "name": "DataArts task results"}] if SUPPORTED else []
    )
    external_views = (
        [
            {
                "name": TAB_NAME,
                "href": tab_href(),
                "destination": "task_instance",
                "url_route": URL_ROUTE,
                "category": "DataArts",
            }
        ]
        if SUPPORTED
        else []
    )

    @classmethod
    def on_load(cls, *args: Any, **kwargs: Any) -> None:
        global _said_why
        if not SUPPORTED and not _said_why:
            _said_why = True
            # Every component loads plugins: the api-server's log says it, the others (task logs
            # included) only at debug level.
            import sys

            level = logging.WARNING if "api-server" in sys.argv or "api_server" in sys.argv else logging.DEBUG
            log.log(
                level,
                "DataArts plugin: the DataArts tab needs Airflow 3.1 or newer (task-instance tabs, "
                "external_views, arrived in 3.1); this is Airflow %s, so the plugin registers nothing.",
                AIRFLOW_VERSION,
            )
