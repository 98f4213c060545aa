"""Airflow's own REST API (what the UI calls), in-process, on the tests' AIRFLOW_HOME."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

# The UI's Test button needs this; every user is an admin of the simple auth manager, so no login.
API_ENV = {
    "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
}


@cache
def api_client() -> Any:
    """A client of Airflow's FastAPI app (the api-server's), made once per test session."""
    from fastapi.testclient import TestClient

    os.environ.update(API_ENV)
    from airflow.api_fastapi.app import create_app

    return TestClient(create_app())
