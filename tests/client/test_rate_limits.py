"""extra.rate_limits: validated per family; the deprecated max_requests_per_minute caps every family."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.exceptions import AirflowProviderDeprecationWarning

from airflow_provider_dataarts.client import core
from airflow_provider_dataarts.client.config import DataArtsConfig
from airflow_provider_dataarts.exceptions import DataArtsConfigError


def config(**extra: Any) -> DataArtsConfig:
    return DataArtsConfig.from_connection(
        conn_id="c", host="https://dayu.cn-north-4.myhuaweicloud.com", login="AK", password="SK",
        extra={"project_id": "p", **extra},
    )  # fmt: skip


def ceilings(cfg: DataArtsConfig) -> dict[str, float | None]:
    return {family: core.rate_limit(cfg, family) for family in core.DEFAULT_RATE_LIMITS}


def test_the_defaults_are_the_documented_per_user_limits() -> None:
    assert ceilings(config()) == {
        "quality": 4.0,
        "factory": 30.0,
        "factory_detail": 10.0,
        "factory_v2": 10.0,
        "migration": 2.0,
        "migration_control": 20.0,
    }
    assert core.rate_limit(config(), "iam") is None


def test_a_connection_changes_only_the_families_it_names() -> None:
    cfg = config(rate_limits={"quality": 2, "factory": "15.5"})
    assert ceilings(cfg)["quality"] == 2.0 and ceilings(cfg)["factory"] == 15.5
    assert ceilings(cfg)["factory_detail"] == 10.0
    assert ceilings(config(rate_limits='{"migration": 1}'))["migration"] == 1.0, "JSON text too"


@pytest.mark.parametrize(
    ("rate_limits", "message"),
    [
        ({"qualty": 2}, "extra.rate_limits has an unknown API family 'qualty'; known: quality, factory"),
        ({"quality": 0}, "extra.rate_limits.quality must be a positive number (requests/s), not 0"),
        ({"quality": -1}, "extra.rate_limits.quality must be a positive number"),
        ({"quality": "fast"}, "extra.rate_limits.quality must be a number (requests/s), not 'fast'"),
        ({"quality": "inf"}, "extra.rate_limits.quality must be a positive number"),
        ([4], "extra.rate_limits must be an object of requests/s per API family"),
        ("{nope", "extra.rate_limits must be a JSON object"),
    ],
)
def test_bad_rate_limits_name_the_field(rate_limits: Any, message: str) -> None:
    with pytest.raises(
        DataArtsConfigError, match="^Connection 'c': " + message.replace("(", r"\(").replace(")", r"\)")
    ):
        config(rate_limits=rate_limits)


def test_max_requests_per_minute_is_deprecated_and_caps_every_family() -> None:
    with pytest.warns(AirflowProviderDeprecationWarning, match="max_requests_per_minute is deprecated"):
        cfg = config(max_requests_per_minute=120, rate_limits={"factory_v2": 1})
    assert ceilings(cfg) == {
        "quality": 2.0,
        "factory": 2.0,
        "factory_detail": 2.0,
        "factory_v2": 1.0,
        "migration": 2.0,
        "migration_control": 2.0,
    }


def test_a_429_in_one_family_slows_only_that_family() -> None:
    registry = core.BudgetRegistry()
    cfg = config()
    quality, factory = registry.get(cfg, "quality"), registry.get(cfg, "factory")
    assert quality is not None and factory is not None
    factory_rate = factory.rate
    quality.refused(100.0, retry_after=5.0)
    assert quality.rate < quality.top and quality.reserve(101.0) > 0, "cut and paused"
    assert factory.rate == factory_rate and factory.reserve(101.0) == 0.0, "the other family goes on"


def test_connections_of_one_user_share_its_budget_at_the_lowest_ceiling() -> None:
    """
    DataArts' limits are per user: two connections with the same credentials (another project,
    another workspace) send through one budget per family, never one each; a lower ceiling one of
    them sets is the one they share. Another user has a budget of its own.
    """
    import dataclasses

    registry = core.BudgetRegistry()
    first = config()
    other_project = dataclasses.replace(first, project_id="0" * 32, workspace="w2")
    assert registry.get(first, "quality") is registry.get(other_project, "quality")
    lower = config(rate_limits={"quality": 2})
    lower = dataclasses.replace(lower, project_id="1" * 32)
    shared = registry.get(lower, "quality")
    assert shared is not None and shared.ceiling == 2.0
    again = registry.get(first, "quality")
    assert again is not None and again.ceiling == 2.0, "the lowest ceiling of the user's connections"
    another_user = dataclasses.replace(first, login="ANOTHERAK")
    assert registry.get(another_user, "quality") is not shared


# The extra Airflow 3.3.2's connection form saved (Add Connection, every field left as it was but
# project, workspace and the ceilings): every field, empty ones as null, numbers at their defaults.
FORM_SAVED = {
    "project_id": "p", "workspace": "w1", "auth_type": "aksk", "domain_name": None, "region": None,
    "factory_endpoint": None, "iam_endpoint": None, "security_token": None, "verify": None,
    "timeout": 60, "max_retries": 5, "retry_wait": 1, "not_listed_grace": 120, "outage_tolerance": 600,
    "max_requests_per_minute": None, "console_url": None, "job_console_url": None,
    "patch_data_console_url": None, "migration_console_url": None, "migration_endpoint": None,
}  # fmt: skip


@pytest.mark.parametrize(
    "saved",
    [{"quality": 2}, '{"quality": 2}', {}],
    ids=["the form's JSON editor", "text (the form before the editor, or the CLI)", "left empty"],
)
def test_the_ceilings_the_connection_form_saves_are_read(saved: Any) -> None:
    cfg = config(**{**FORM_SAVED, "rate_limits": saved})
    expected = 2.0 if saved else 4.0
    assert ceilings(cfg)["quality"] == expected and ceilings(cfg)["factory"] == 30.0
