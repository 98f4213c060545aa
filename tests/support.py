"""Values and helpers the tests share: the emulator's credentials and connection JSON."""

from __future__ import annotations

import json
from typing import Any

PROJECT, WORKSPACE = "p1", "w1"
AK, SK = "AK-test-0123456789", "SK-test-secret-abcdef0123456789"
IAM_USER, IAM_PASSWORD, DOMAIN = "demo-user", "iam-password-s3cr3t-42", "demo-domain"
STATIC_TOKEN = "static-token-MIIbigsecretvalue0123456789"
SECRETS = (SK, IAM_PASSWORD, STATIC_TOKEN)
AUTH_MODES = ("aksk", "password", "token")
RUN_SECONDS = 0.6
SCRIPT_SECONDS = 0.6


def connection_json(url: str, auth_type: str = "aksk", **extra: Any) -> str:
    """An ``AIRFLOW_CONN_...`` value for the emulator in one of the three auth modes."""
    fields: dict[str, Any] = {"project_id": PROJECT, "workspace": WORKSPACE, "retry_wait": 0.05, **extra}
    if auth_type == "aksk":
        login, password = AK, SK
    elif auth_type == "password":
        login, password = IAM_USER, IAM_PASSWORD
        fields.update(auth_type="password", domain_name=DOMAIN)
    else:
        login, password = None, STATIC_TOKEN
        fields.update(auth_type="token")
    return json.dumps(
        {"conn_type": "dataarts", "host": url, "login": login, "password": password, "extra": fields}
    )
