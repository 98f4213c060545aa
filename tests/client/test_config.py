"""The DataArts connection read into DataArtsConfig: endpoints, defaults, and errors naming the field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from airflow.sdk import Connection

from airflow_provider_dataarts.client.config import DEFAULT_CONSOLE_URL, DataArtsConfig
from airflow_provider_dataarts.exceptions import DataArtsConfigError
from airflow_provider_dataarts.hooks.dataarts import config_from_connection

AK = "AK-config-test-0001"
SK = "SK-very-secret-value-0123456789"
IAM_PASSWORD = "iam-password-s3cr3t-42"
TOKEN = "MIIstatic-token-secret-abcdef"
SECURITY_TOKEN = "temporary-security-token-xyz"
SECRETS = (SK, IAM_PASSWORD, TOKEN, SECURITY_TOKEN)


def connection(
    host: str | None = "https://dayu.cn-north-4.myhuaweicloud.com",
    login: str | None = AK,
    password: str | None = SK,
    port: int | None = None,
    **extra: Any,
) -> Connection:
    fields = {"project_id": "p1", **extra}
    return Connection(
        conn_id="dataarts_test",
        conn_type="dataarts",
        host=host,
        login=login,
        password=password,
        port=port,
        extra=json.dumps({k: v for k, v in fields.items() if v is not None}),
    )


def read(**kwargs: Any) -> DataArtsConfig:
    return config_from_connection(connection(**kwargs))


# --- endpoints -------------------------------------------------------------------------------------


def test_defaults() -> None:
    config = read()
    assert config.auth_type == "aksk"
    assert config.timeout == 60
    assert config.max_retries == 5
    assert config.verify is True
    assert config.workspace is None
    assert config.security_token is None
    assert config.console_url == DEFAULT_CONSOLE_URL
    assert (config.project_id, config.login, config.secret) == ("p1", AK, SK)


def test_endpoints_from_a_dayu_host() -> None:
    config = read()
    assert config.endpoint == "https://dayu.cn-north-4.myhuaweicloud.com"
    assert config.region == "cn-north-4"
    assert config.factory_endpoint == "https://dayu-dlf.cn-north-4.myhuaweicloud.com"
    assert config.iam_endpoint == "https://iam.cn-north-4.myhuaweicloud.com"


@pytest.mark.parametrize(
    ("host", "endpoint"),
    [
        ("dayu.cn-north-4.myhuaweicloud.com", "https://dayu.cn-north-4.myhuaweicloud.com"),
        ("  dayu.cn-north-4.myhuaweicloud.com  ", "https://dayu.cn-north-4.myhuaweicloud.com"),
        ("https://dayu.cn-north-4.myhuaweicloud.com/", "https://dayu.cn-north-4.myhuaweicloud.com"),
        ("127.0.0.1:8790", "https://127.0.0.1:8790"),
        ("http://127.0.0.1:8790", "http://127.0.0.1:8790"),
        ("http://localhost", "http://localhost"),
        ("https://[::1]:8443", "https://[::1]:8443"),
    ],
)
def test_host_forms(host: str, endpoint: str) -> None:
    assert read(host=host).endpoint == endpoint


def test_a_bare_host_means_https_and_keeps_its_domain() -> None:
    config = read(host="dayu.eu-west-101.myhuaweicloud.eu")
    assert config.endpoint == "https://dayu.eu-west-101.myhuaweicloud.eu"
    assert config.factory_endpoint == "https://dayu-dlf.eu-west-101.myhuaweicloud.eu"
    assert config.iam_endpoint == "https://iam.eu-west-101.myhuaweicloud.eu"


def test_the_connection_port_is_kept() -> None:
    assert read(host="dayu.cn-north-4.myhuaweicloud.com", port=8443).endpoint == (
        "https://dayu.cn-north-4.myhuaweicloud.com:8443"
    )
    assert read(host="http://127.0.0.1", port=8790).endpoint == "http://127.0.0.1:8790"


@pytest.mark.parametrize("host", [None, "", "   "])
def test_an_empty_host_is_derived_from_the_region(host: str | None) -> None:
    config = read(host=host, region="ap-southeast-1")
    assert config.endpoint == "https://dayu.ap-southeast-1.myhuaweicloud.com"
    assert config.factory_endpoint == "https://dayu-dlf.ap-southeast-1.myhuaweicloud.com"
    assert config.iam_endpoint == "https://iam.ap-southeast-1.myhuaweicloud.com"
    assert config.region == "ap-southeast-1"


def test_without_a_region_factory_and_iam_default_to_the_host() -> None:
    config = read(host="http://127.0.0.1:8790")
    assert config.region is None
    assert config.endpoint == config.factory_endpoint == config.iam_endpoint == "http://127.0.0.1:8790"


def test_a_region_with_a_custom_host_derives_the_factory_endpoint() -> None:
    config = read(host="https://gateway.example.com", region="cn-south-1")
    assert config.endpoint == "https://gateway.example.com"
    assert config.factory_endpoint == "https://dayu-dlf.cn-south-1.myhuaweicloud.com"
    assert config.iam_endpoint == "https://iam.cn-south-1.myhuaweicloud.com"


def test_explicit_endpoints_win() -> None:
    config = read(
        region="cn-north-4",
        factory_endpoint="dayu-dlf.cn-north-4.myhuaweicloud.com:8443",
        iam_endpoint="https://iam.myhuaweicloud.com",
    )
    assert config.factory_endpoint == "https://dayu-dlf.cn-north-4.myhuaweicloud.com:8443"
    assert config.iam_endpoint == "https://iam.myhuaweicloud.com"
    assert config.endpoint == "https://dayu.cn-north-4.myhuaweicloud.com"


def test_settings_from_extra() -> None:
    config = read(
        workspace="ws-1",
        security_token=SECURITY_TOKEN,
        verify="false",
        timeout="12.5",
        max_retries=0,
        console_url="https://console.example/{instance_id}",
        auth_type="AKSK",
    )
    assert config.workspace == "ws-1"
    assert config.security_token == SECURITY_TOKEN
    assert config.verify is False
    assert config.timeout == 12.5
    assert config.max_retries == 0
    assert config.console_url == "https://console.example/{instance_id}"
    assert config.auth_type == "aksk"


@pytest.mark.parametrize(("value", "expected"), [(True, True), ("true", True), (False, False), ("0", False)])
def test_verify_flag(value: Any, expected: bool) -> None:
    assert read(verify=value).verify is expected


def test_verify_accepts_a_ca_bundle_path(tmp_path: Any) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    assert read(verify=str(bundle)).verify == str(bundle)


def test_a_numeric_project_id_is_text() -> None:
    assert read(project_id=123456).project_id == "123456"


def test_password_and_token_auth() -> None:
    password = read(login="iam-user", password=IAM_PASSWORD, auth_type="password", domain_name="acct")
    assert (password.auth_type, password.login, password.secret, password.domain_name) == (
        "password",
        "iam-user",
        IAM_PASSWORD,
        "acct",
    )
    token = read(login=None, password=TOKEN, auth_type="token")
    assert (token.auth_type, token.secret) == ("token", TOKEN)


def test_extra_given_as_text_or_dict() -> None:
    as_text = DataArtsConfig.from_connection(
        conn_id="c", host="h.example", login=AK, password=SK, extra='{"project_id": "p1"}'
    )
    as_dict = DataArtsConfig.from_connection(
        conn_id="c", host="h.example", login=AK, password=SK, extra={"project_id": "p1"}
    )
    assert as_text == as_dict


def test_secrets_stay_out_of_the_repr() -> None:
    config = read(security_token=SECURITY_TOKEN)
    assert set(config.secrets) == {SK, SECURITY_TOKEN}
    assert SK not in repr(config)
    assert SECURITY_TOKEN not in repr(config)


# --- errors ----------------------------------------------------------------------------------------

BAD = [
    pytest.param({"project_id": None}, "extra.project_id", id="no-project"),
    pytest.param({"project_id": "  "}, "extra.project_id", id="blank-project"),
    pytest.param({"auth_type": "kerberos"}, "extra.auth_type", id="auth-type"),
    pytest.param({"host": "ftp://x"}, "host", id="ftp"),
    pytest.param({"host": "http://"}, "host", id="scheme-only"),
    pytest.param({"host": "not a url with spaces"}, "host", id="spaces"),
    pytest.param({"host": "https://dayu.example.com/v2/p1"}, "host", id="with-path"),
    pytest.param({"host": "https://dayu.example.com?x=1"}, "host", id="with-query"),
    pytest.param({"host": "https://dayu.example.com:99999"}, "host", id="bad-port"),
    pytest.param({"host": "https://dayu.example.com:port"}, "host", id="text-port"),
    pytest.param({"host": None}, "host", id="no-host-no-region"),
    pytest.param({"factory_endpoint": "ftp://x"}, "extra.factory_endpoint", id="factory"),
    pytest.param({"iam_endpoint": "https://iam.example.com/v3"}, "extra.iam_endpoint", id="iam"),
    pytest.param({"login": None}, "login", id="aksk-no-login"),
    pytest.param({"login": "  "}, "login", id="aksk-blank-login"),
    pytest.param({"password": None}, "password", id="aksk-no-password"),
    pytest.param({"auth_type": "password", "domain_name": "acct", "login": None}, "login", id="pw-no-login"),
    pytest.param(
        {"auth_type": "password", "domain_name": "acct", "password": None}, "password", id="pw-no-pw"
    ),
    pytest.param({"auth_type": "password"}, "extra.domain_name", id="pw-no-domain"),
    pytest.param({"auth_type": "token", "password": None}, "password", id="token-no-token"),
    pytest.param({"timeout": "soon"}, "extra.timeout", id="timeout-text"),
    pytest.param({"timeout": 0}, "extra.timeout", id="timeout-zero"),
    pytest.param({"timeout": -1}, "extra.timeout", id="timeout-negative"),
    pytest.param({"timeout": [1]}, "extra.timeout", id="timeout-list"),
    pytest.param({"max_retries": -1}, "extra.max_retries", id="retries-negative"),
    pytest.param({"max_retries": "many"}, "extra.max_retries", id="retries-text"),
    pytest.param(
        {"max_retries": "inf"},
        "extra.max_retries",
        id="retries-inf",
    ),
    pytest.param(
        {"max_retries": "nan"},
        "extra.max_retries",
        id="retries-nan",
    ),
    pytest.param(
        {"timeout": "nan"},
        "extra.timeout",
        id="timeout-nan",
    ),
]


def with_secrets(changes: dict[str, Any]) -> dict[str, Any]:
    """The bad setting, with every other credential present so an error could leak it."""
    kwargs: dict[str, Any] = {"security_token": SECURITY_TOKEN, **changes}
    if changes.get("auth_type") == "password":
        kwargs.setdefault("password", IAM_PASSWORD)
    if changes.get("auth_type") == "token":
        kwargs.setdefault("login", None)
    return kwargs


@pytest.mark.parametrize(("changes", "field"), BAD)
def test_a_bad_setting_is_named(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(DataArtsConfigError) as caught:
        read(**with_secrets(changes))
    message = str(caught.value)
    assert f"{field} " in message
    assert "'dataarts_test'" in message  # which connection
    for secret in SECRETS:
        assert secret not in message
        assert secret not in repr(caught.value)


def test_a_config_error_is_a_value_error_and_an_airflow_exception() -> None:
    from airflow.providers.common.compat.sdk import AirflowException

    with pytest.raises(DataArtsConfigError) as caught:
        read(project_id=None)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, AirflowException)


@pytest.mark.parametrize("extra", ["{not json", '["project_id"]', '"p1"'])
def test_extra_that_is_not_a_json_object(extra: str) -> None:
    with pytest.raises(DataArtsConfigError, match="extra"):
        DataArtsConfig.from_connection(conn_id="c", host="h.example", login=AK, password=SK, extra=extra)


def test_malformed_extra_json_does_not_echo_its_secrets() -> None:
    extra = '{"project_id": "p1", "security_token": "' + SECURITY_TOKEN + '" oops}'
    with pytest.raises(DataArtsConfigError) as caught:
        DataArtsConfig.from_connection(conn_id="c", host="h.example", login=AK, password=SK, extra=extra)
    assert SECURITY_TOKEN not in str(caught.value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"host": "https://user:pw@dayu.cn-north-4.myhuaweicloud.com"}, "must not contain user:password@"),
        ({"extra": {"max_retries": 2.7}}, "extra.max_retries must be a whole number"),
    ],
)
def test_url_credentials_and_fractional_retries_are_refused(changes: dict[str, Any], message: str) -> None:
    fields: dict[str, Any] = {
        "conn_id": "c",
        "host": "https://dayu.cn-north-4.myhuaweicloud.com",
        "login": "AK",
        "password": "SK",
        "extra": {"project_id": "p1"},
    }
    extra = changes.pop("extra", {})
    fields.update(changes)
    fields["extra"] = {**fields["extra"], **extra}
    with pytest.raises(DataArtsConfigError, match=message) as caught:
        DataArtsConfig.from_connection(**fields)
    assert "pw@" not in str(caught.value)
