"""
The security and input review of the connection (issue 23, findings 1, 2, 7 and 8): credentials
go only to endpoints derived from the host or a validated region, and every field is checked
with a message that names it and never echoes a credential.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from airflow.sdk import Connection

from airflow_provider_dataarts.client.config import DataArtsConfig
from airflow_provider_dataarts.exceptions import DataArtsConfigError
from airflow_provider_dataarts.hooks.dataarts import config_from_connection

HOST = "https://dayu.cn-north-4.myhuaweicloud.com"


def read(host: str | None = HOST, password: str = "SK-secret", **extra: Any) -> DataArtsConfig:
    fields = {"project_id": "p1", **extra}
    return config_from_connection(
        Connection(
            conn_id="c1",
            conn_type="dataarts",
            host=host,
            login="AK",
            password=password,
            extra=json.dumps(fields),
        )
    )


def refused(field: str, **kwargs: Any) -> str:
    with pytest.raises(DataArtsConfigError) as caught:
        read(**kwargs)
    message = str(caught.value)
    assert f"{field} " in message, message
    return message


# --- finding 1: endpoint extras may not send the credentials elsewhere ---------------------------


@pytest.mark.parametrize("key", ["iam_endpoint", "factory_endpoint", "migration_endpoint"])
@pytest.mark.parametrize(
    "elsewhere",
    [
        "http://127.0.0.1:9999",
        "https://evil.example.com",
        "https://iam.cn-north-4.myhuaweicloud.com.evil.example",
        "https://bucket.obs.cn-north-4.myhuaweicloud.com",  # anyone's bucket: not a service endpoint
        "http://iam.cn-north-4.myhuaweicloud.com",  # plain http to an https host's family
    ],
)
def test_an_endpoint_extra_elsewhere_is_refused(key: str, elsewhere: str) -> None:
    message = refused(f"extra.{key}", **{key: elsewhere})
    assert "credentials" in message


def test_the_emulator_host_trusts_only_itself() -> None:
    emulator = "http://127.0.0.1:8790"
    config = read(host=emulator, iam_endpoint=emulator, factory_endpoint=emulator + "/")
    assert config.iam_endpoint == config.factory_endpoint == config.migration_endpoint == emulator
    refused("extra.iam_endpoint", host=emulator, iam_endpoint="http://127.0.0.1:8791")
    refused("extra.factory_endpoint", host=emulator, factory_endpoint="http://localhost:8790")


@pytest.mark.parametrize(
    ("host", "key", "endpoint"),
    [
        (HOST, "iam_endpoint", "https://iam.myhuaweicloud.com"),
        (HOST, "iam_endpoint", "https://iam.ap-southeast-1.myhuaweicloud.com:443"),
        (HOST, "factory_endpoint", "https://dayu-dlf.cn-north-4.myhuaweicloud.com"),
        (
            "https://dayu.eu-west-101.myhuaweicloud.eu",
            "iam_endpoint",
            "https://iam.eu-west-101.myhuaweicloud.eu",
        ),
        ("https://gateway.corp.example", "iam_endpoint", "https://iam.corp.example"),
        ("http://dayu.internal.corp", "factory_endpoint", "http://dlf.internal.corp"),
        (HOST, "migration_endpoint", "https://cdm.cn-north-4.myhuaweicloud.com"),
    ],
)
def test_endpoints_of_the_hosts_own_family_are_kept(host: str, key: str, endpoint: str) -> None:
    assert getattr(read(host=host, **{key: endpoint}), key) == endpoint


def test_the_migration_endpoint_is_derived_like_the_others() -> None:
    assert read().migration_endpoint == "https://cdm.cn-north-4.myhuaweicloud.com"
    assert read(host=None, region="ap-southeast-3").migration_endpoint == (
        "https://cdm.ap-southeast-3.myhuaweicloud.com"
    )
    assert read(host="http://127.0.0.1:8790").migration_endpoint == "http://127.0.0.1:8790"


# --- finding 2: the region becomes part of host names ------------------------------------------------


@pytest.mark.parametrize(
    "region",
    [
        "cn-north-4@127.0.0.1:8790#",
        "evil.example/x?",
        "cn-north-4.evil.example",
        "CN-NORTH-4",
        "cn-north-4\r\nX",
        "cn-north-",
        "north-4",
        "cn-north-4/../x",
    ],
)
def test_a_region_that_is_not_a_region_id_is_refused(region: str) -> None:
    refused("extra.region", host=None, region=region)
    refused("extra.region", region=region)


@pytest.mark.parametrize(
    "region",
    [
        "cn-north-4",
        "cn-north-9",
        "cn-east-3",
        "cn-south-1",
        "cn-southwest-2",
        "ap-southeast-1",
        "ap-southeast-4",
        "af-south-1",
        "af-north-1",
        "la-south-2",
        "la-north-2",
        "sa-brazil-1",
        "na-mexico-1",
        "eu-west-101",
        "eu-west-0",
        "me-east-1",
        "tr-west-1",
        "ru-northwest-2",
        "ru-moscow-1",
        "my-kualalumpur-1",
        "ae-ad-1",
    ],
)
def test_every_huawei_cloud_region_id_is_accepted(region: str) -> None:
    config = read(host=None, region=region)
    assert config.iam_endpoint == f"https://iam.{region}.myhuaweicloud.com"


def test_a_dayu_looking_host_without_a_region_derives_no_region() -> None:
    config = read(host="https://dayu.example.com")
    assert config.region is None
    assert config.iam_endpoint == "https://dayu.example.com"


# --- finding 7: console_url placeholders -----------------------------------------------------------


@pytest.mark.parametrize("key", ["console_url", "job_console_url"])
@pytest.mark.parametrize(
    "template",
    [
        "https://console.example/{instance_id:>400000000}",
        "https://console.example/{instance_id!r}",
        "https://console.example/{instance_id!s:^9}",
        "https://console.example/{region.__class__}",
        "https://console.example/{project_id[0]}",
        "javascript:alert(1)//{instance_id}",
        "data:text/html,{instance_id}",
        "/relative/{instance_id}",
        "https://console.example/{",
    ],
)
def test_console_links_take_only_plain_placeholders_and_http(key: str, template: str) -> None:
    refused(f"extra.{key}", **{key: template})


def test_a_plain_console_link_is_kept() -> None:
    template = "http://127.0.0.1:8790/console/quality/instances/{instance_id}?w={workspace}&x={{y}}"
    assert read(console_url=template).console_url == template


# --- finding 8: every field, bounds, no echo --------------------------------------------------------


def test_a_host_with_credentials_and_a_bad_port_is_not_echoed() -> None:
    message = refused("host", host="https://admin:Pa55word@dayu.cn-north-4.myhuaweicloud.com:port")
    assert "Pa55word" not in message


@pytest.mark.parametrize("host", ["http://[::1", "https://[::1:8443", "http://[not-an-ip]"])
def test_a_malformed_ipv6_host_names_host(host: str) -> None:
    refused("host", host=host)


def test_verify_must_name_an_existing_ca_bundle() -> None:
    message = refused("extra.verify", verify="/no/such/ca-bundle.pem")
    assert "CA bundle" in message
    refused("extra.verify", verify=["x"])
    refused("extra.verify", verify=7)


@pytest.mark.parametrize(
    "key", ["timeout", "max_retries", "retry_wait", "outage_tolerance", "not_listed_grace"]
)
def test_booleans_are_not_numbers(key: str) -> None:
    refused(f"extra.{key}", **{key: True})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("max_retries", 1e9),
        ("max_retries", 51),
        ("timeout", 3601),
        ("retry_wait", 301),
        ("outage_tolerance", 8 * 24 * 3600),
        ("not_listed_grace", 2 * 24 * 3600),
    ],
)
def test_numbers_have_upper_bounds(key: str, value: float) -> None:
    assert "at most" in refused(f"extra.{key}", **{key: value})


@pytest.mark.parametrize("key", ["workspace", "project_id"])
@pytest.mark.parametrize("value", ["w1\r\nX-Injected: 1", "..", "a/../b", "a..b", "w 1", "/", ["w1"], True])
def test_ids_are_ids(key: str, value: Any) -> None:
    refused(f"extra.{key}", **{key: value})


def test_a_login_or_domain_with_a_line_break_is_refused_without_echo() -> None:
    with pytest.raises(DataArtsConfigError, match="login ") as caught:
        config_from_connection(
            Connection(
                conn_id="c1",
                conn_type="dataarts",
                host=HOST,
                login="AK-1\r\nX: y",
                password="SK",
                extra='{"project_id": "p1"}',
            )
        )
    assert "AK-1" not in str(caught.value)
    refused("extra.domain_name", auth_type="password", domain_name="acct\nX")
