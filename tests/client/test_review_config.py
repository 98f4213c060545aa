"""Review finding: an extra field left empty in Airflow's connection form may be stored as null."""

from __future__ import annotations

from airflow_provider_dataarts.client.config import DataArtsConfig


def test_an_empty_tls_verification_field_means_the_default() -> None:
    """
    Airflow 3's connection form keeps a cleared provider field as ``null`` in the extra JSON: every
    other optional field then takes its default; ``verify`` refused the whole connection.
    """
    config = DataArtsConfig.from_connection(
        conn_id="c",
        host="https://dayu.cn-north-4.myhuaweicloud.com",
        login="AK",
        password="SK",
        extra={"project_id": "p1", "verify": None, "timeout": None, "auth_type": None, "region": None},
    )
    assert config.verify is True
