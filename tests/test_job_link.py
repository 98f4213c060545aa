"""The console link of a Factory job instance: the template, its placeholders, the region rule."""

from __future__ import annotations

import pytest

from airflow_provider_dataarts.client.config import DataArtsConfig
from airflow_provider_dataarts.exceptions import DataArtsConfigError
from airflow_provider_dataarts.links.dataarts import job_instance_url


def config(host: str = "https://dayu.cn-north-4.myhuaweicloud.com", **extra: object) -> DataArtsConfig:
    return DataArtsConfig.from_connection(
        conn_id="c",
        host=host,
        login="AK",
        password="SK",
        extra={"project_id": "p1", "workspace": "w1", **extra},
    )


def test_the_default_link_names_the_region_job_and_instance() -> None:
    url = job_instance_url(config(), "daily orders/eu", "1012386207306600449")
    assert url.startswith("https://console.huaweicloud.com/dataartsstudio/?region=cn-north-4#/dlf/")
    assert "jobName=daily%20orders%2Feu" in url and "instanceId=1012386207306600449" in url
    assert "projectId=p1&workspace=w1" in url


def test_without_a_known_region_the_link_leaves_region_out() -> None:
    url = job_instance_url(config(host="http://127.0.0.1:8790"), "daily_orders", "1")
    assert "region=" not in url and url.startswith("https://console.huaweicloud.com/dataartsstudio/#/dlf/")


def test_a_custom_template_and_its_placeholders_are_checked_at_once() -> None:
    custom = config(job_console_url="http://127.0.0.1:8790/console/jobs/{job_name}/instances/{instance_id}")
    assert (
        job_instance_url(custom, "daily_orders", "42")
        == "http://127.0.0.1:8790/console/jobs/daily_orders/instances/42"
    )
    with pytest.raises(
        DataArtsConfigError, match=r"extra.job_console_url has an unknown placeholder \{job\}"
    ):
        config(job_console_url="https://x/{job}/{instance_id}")
    with pytest.raises(
        DataArtsConfigError, match=r"extra.console_url has an unknown placeholder \{job_name\}"
    ):
        config(console_url="https://x/{job_name}")


def test_the_migration_link_takes_a_template_of_its_own() -> None:
    """An EU or private console: extra.migration_console_url, checked at once like the others."""
    from airflow_provider_dataarts.links.migration import migration_url

    default = migration_url(config(), "cluster-1", "orders to dws", "7")
    assert default.startswith("https://console.huaweicloud.com/cdm/?region=cn-north-4#/cdm/")
    assert "clusterId=cluster-1&jobName=orders%20to%20dws&submissionId=7" in default
    eu = config(
        host="https://dayu.eu-west-101.myhuaweicloud.eu",
        migration_console_url="https://console.eu.huaweicloud.com/cdm/?region={region}#/cdm/"
        "clusterList/jobManagement?clusterId={cluster_id}&jobName={job_name}&submissionId={submission_id}",
    )
    url = migration_url(eu, "cluster-1", "orders_to_dws", "7")
    assert url.startswith("https://console.eu.huaweicloud.com/cdm/?region=eu-west-101#")
    with pytest.raises(
        DataArtsConfigError, match=r"extra.migration_console_url has an unknown placeholder \{instance_id\}"
    ):
        config(migration_console_url="https://x/{instance_id}")
