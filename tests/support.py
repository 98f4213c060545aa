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


def files_holding(folder: Any, needles: Any) -> list[str]:
    """
    The files under ``folder`` (recursively) whose bytes hold any of ``needles`` (strings), as
    "path: first 4 characters of the needle".

    Read in a child process, never in this one: a plain ``open()`` and ``close()`` of a SQLite file
    this process has connections to drops every POSIX lock it holds on it; in WAL mode (Airflow's
    for SQLite) the next other process to close the database then deletes its ``-wal`` and
    ``-shm``, and this process's later commits are seen by no other process
    (``tests/integration/test_home_scan.py``).
    """
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _SCAN, str(folder), json.dumps(list(needles))],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    found: list[str] = json.loads(done.stdout)
    return found


_SCAN = """
import json, sys
from pathlib import Path
needles = json.loads(sys.argv[2])
found = []
for path in sorted(Path(sys.argv[1]).rglob("*")):
    if path.is_file():
        content = path.read_bytes()
        found += [f"{path}: {needle[:4]}..." for needle in needles if needle.encode() in content]
print(json.dumps(found))
"""
