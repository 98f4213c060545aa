"""
What the UI's Test button says, through Airflow's own endpoint (``POST /api/v2/connections/test``):
Airflow tests a copy of the connection under a random id, so no message may name that id.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_dataarts.emulator import DataArtsEmulator
from tests.airflow_api import api_client, close_api_client
from tests.support import AK, DOMAIN, IAM_PASSWORD, IAM_USER, SK, STATIC_TOKEN

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.filterwarnings("ignore")]


@pytest.fixture(autouse=True, scope="module")
def _api_ends_with_this_module() -> Iterator[None]:
    yield
    close_api_client()


def press_test(
    host: str, login: str | None = AK, password: str | None = SK, **extra: Any
) -> tuple[bool, str]:
    body = {
        "connection_id": "my_dataarts",
        "conn_type": "dataarts",
        "host": host,
        "login": login,
        "password": password,
        "extra": json.dumps({"project_id": "p1", "workspace": "w1", **extra}),
    }
    answer = api_client().post("/api/v2/connections/test", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()["status"], answer.json()["message"]


def assert_no_random_id(message: str) -> None:
    assert not re.search(r"Connection '[A-Za-z0-9]{8}'", message), message


def test_a_working_connection(emulator: DataArtsEmulator) -> None:
    ok, message = press_test(emulator.url)
    assert ok, message
    assert message == f"Connected to DataArts workspace w1 of project p1 at {emulator.url}."


def test_a_missing_project_id_names_the_field_not_a_random_connection_id(emulator: DataArtsEmulator) -> None:
    ok, message = press_test(emulator.url, project_id="")
    assert not ok
    assert message == "extra.project_id is required (the Huawei Cloud project id)."
    assert_no_random_id(message)


@pytest.mark.parametrize("auth_type", ["aksk", "password", "token"])
def test_a_wrong_project_is_not_reported_as_wrong_credentials(
    auth_type: str, emulator: DataArtsEmulator
) -> None:
    login, password, extra = {
        "aksk": (AK, SK, {}),
        "password": (IAM_USER, IAM_PASSWORD, {"auth_type": "password", "domain_name": DOMAIN}),
        "token": (None, STATIC_TOKEN, {"auth_type": "token"}),
    }[auth_type]
    ok, message = press_test(emulator.url, login, password, project_id="p9", **extra)
    assert not ok
    assert message.startswith("Project 'p9' is not a project of these credentials: check extra.project_id"), (
        message
    )
    assert "Credentials rejected" not in message
    assert_no_random_id(message)


def test_a_wrong_secret_key(emulator: DataArtsEmulator) -> None:
    ok, message = press_test(emulator.url, password="not-the-secret-key")
    assert not ok
    assert message.startswith("Credentials rejected: check the access key (login) and secret key (password).")
    assert "APIG.0301" in message and "not-the-secret-key" not in message


def test_a_wrong_iam_password_prints_its_code_once(emulator: DataArtsEmulator) -> None:
    extra = {"auth_type": "password", "domain_name": DOMAIN}
    ok, message = press_test(emulator.url, IAM_USER, "wrong-password-123", **extra)
    assert not ok
    assert message.startswith(
        "Credentials rejected: check the IAM user (login), password and extra.domain_name."
    )
    assert "HTTP 401: IAM rejected" in message and "The username or password is wrong." in message
    assert "401 401" not in message and "wrong-password-123" not in message


def test_an_unknown_workspace(emulator: DataArtsEmulator) -> None:
    ok, message = press_test(emulator.url, workspace="w-unknown")
    assert not ok
    assert message.startswith("Unknown workspace 'w-unknown' in project p1: check extra.workspace")
    assert message.count("DQC.0002") == 1


def test_an_unreachable_host_in_words() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ok, message = press_test(f"http://127.0.0.1:{port}")
    assert not ok
    assert message == (
        f"Cannot reach 127.0.0.1:{port}: connection refused. Check the endpoint http://127.0.0.1:{port} "
        "and that the Airflow workers can open connections to it."
    )


def test_a_host_that_does_not_resolve() -> None:
    ok, message = press_test("http://no-such-host.invalid:8790")
    assert not ok
    assert message.startswith("Cannot reach no-such-host.invalid:8790: the host name does not resolve."), (
        message
    )
