"""
The FastAPI app behind the DataArts tab, mounted by the api-server under ``/dataarts``.

A mounted app gets none of the core API's authentication, so every route here checks it itself:
the UI's JWT (``Authorization: Bearer`` or the ``_token`` cookie the UI sets) is verified by the
api-server's own auth manager, then that manager must allow reading the DAG's XComs (teams
included where the Airflow has them). No token, a forged or expired one: 401; no access: 403. If
Airflow's auth helpers cannot be imported, every route answers 503 and shows nothing (fail closed).
"""

# No ``from __future__ import annotations``: FastAPI reads the route signatures (closures) at runtime.
import inspect
import logging
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import HTMLResponse, PlainTextResponse

log = logging.getLogger(__name__)

COOKIE_NAME = "_token"  # the UI's JWT cookie (airflow.api_fastapi.auth.managers.base_auth_manager)
# Security headers for a page shown in the UI's iframe: no scripts at all, framed by Airflow only.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class AuthUnavailable(Exception):
    """Airflow's auth helpers could not be imported: the app serves nothing."""


def _auth_helpers() -> dict[str, Any]:
    """What authentication needs from Airflow, imported when the app is built (raises ``AuthUnavailable``)."""
    try:
        from airflow.api_fastapi.app import get_auth_manager
        from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
        from jwt import InvalidTokenError
    except Exception as error:  # any import failure: fail closed
        raise AuthUnavailable(f"{type(error).__name__}: {error}") from error
    return {
        "get_auth_manager": get_auth_manager,
        "DagAccessEntity": DagAccessEntity,
        "DagDetails": DagDetails,
        "InvalidTokenError": InvalidTokenError,
    }


def request_token(request: Request) -> str | None:
    """The caller's JWT: an explicit ``Authorization: Bearer`` header wins over the UI's cookie."""
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.cookies.get(COOKIE_NAME) or None


def _team_name(dag_id: str) -> str | None:
    """The team owning the DAG's bundle, on Airflows with teams (3.1 may lack the lookup)."""
    from airflow.models.dag import DagModel

    lookup = getattr(DagModel, "get_team_name", None)
    return lookup(dag_id) if lookup is not None else None


def create_app() -> FastAPI:
    """The app; when Airflow's auth helpers are missing, one that answers 503 to everything."""
    app = FastAPI(
        title="DataArts task results",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    try:
        helpers = _auth_helpers()
    except AuthUnavailable as error:
        log.error("DataArts plugin: Airflow's auth helpers cannot be imported (%s); serving nothing", error)

        @app.api_route("/{path:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
        def unavailable(path: str) -> PlainTextResponse:
            return PlainTextResponse(
                "The DataArts view is unavailable: authentication cannot be checked.", 503
            )

        return app

    async def authenticated_user(request: Request) -> Any:
        token = request_token(request)
        if not token:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, "Not authenticated", {"WWW-Authenticate": "Bearer"}
            )
        try:
            user = helpers["get_auth_manager"]().get_user_from_token(token)
            if inspect.isawaitable(user):
                user = await user
        except helpers["InvalidTokenError"] as error:  # expired ones too (ExpiredSignatureError)
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Invalid or expired token") from error
        except Exception as error:  # a token the auth manager cannot read at all: still no entry
            log.warning("DataArts plugin: token rejected (%s)", type(error).__name__)
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Invalid token") from error
        if user is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Not authenticated")
        return user

    def readable_dag(dag_id: str, user: Annotated[Any, Depends(authenticated_user)]) -> Any:
        """The user may read this DAG's task instances and XComs, as the auth manager says."""
        details = helpers["DagDetails"](id=dag_id)
        team = _team_name(dag_id)
        if team is not None and hasattr(details, "team_name"):
            details.team_name = team
        manager = helpers["get_auth_manager"]()
        entity = helpers["DagAccessEntity"]
        allowed = all(
            manager.is_authorized_dag(method="GET", access_entity=access, details=details, user=user)
            for access in (entity.TASK_INSTANCE, entity.XCOM)
        )
        if not allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "Forbidden")
        return user

    @app.get("/ti/{dag_id}/{task_id}/{map_index}/{run_id:path}", response_class=HTMLResponse)
    def task_instance_page(
        dag_id: str,
        task_id: str,
        map_index: str,
        run_id: str,
        user: Annotated[Any, Depends(readable_dag)],
    ) -> HTMLResponse:
        from airflow_provider_dataarts.plugins.data import load_view
        from airflow_provider_dataarts.plugins.render import render_page

        view = load_view(dag_id, run_id, task_id, parse_map_index(map_index))
        if view is None:
            return HTMLResponse(
                render_page("DataArts", "<p class='note'>No such task instance.</p>"), 404, HEADERS
            )
        return HTMLResponse(render_page(f"DataArts: {task_id}", view.html()), 200, HEADERS)

    @app.api_route("/{path:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
    def not_found(path: str, user: Annotated[Any, Depends(authenticated_user)]) -> PlainTextResponse:
        return PlainTextResponse("Not found", 404)

    return app


def parse_map_index(value: str) -> int:
    """
    The UI's ``{MAP_INDEX}``: a number, or the placeholder itself (an unmapped task): -1. A number of
    more digits than any map index has comes back as one past the largest (no such task instance).
    """
    text = value.strip()
    if not text.lstrip("-").isdigit():
        return -1
    return int(text) if len(text) <= 11 else 2**31
