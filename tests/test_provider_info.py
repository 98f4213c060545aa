"""The provider registers itself: Airflow lists it, its connection type, fields and modules."""

from __future__ import annotations

import importlib

import pytest

from airflow_provider_dataarts.get_provider_info import get_provider_info


def test_airflow_discovers_the_provider_and_its_connection_type() -> None:
    from airflow.providers_manager import ProvidersManager

    try:  # Airflow 3.2+: the task runtime reads hooks through its own manager
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

        hooks = ProvidersManagerTaskRuntime().hooks
    except ImportError:
        hooks = ProvidersManager().hooks
    assert "airflow-provider-dataarts" in ProvidersManager().providers
    hook = hooks["dataarts"]
    assert hook is not None
    assert hook.hook_class_name == "airflow_provider_dataarts.hooks.dataarts.DataArtsHook"
    assert hook.connection_id_attribute_name == "dataarts_conn_id"


def test_every_extra_of_the_contract_has_a_ui_field() -> None:
    (connection,) = get_provider_info()["connection-types"]
    fields = connection["conn-fields"]
    assert set(fields) >= {
        "project_id", "workspace", "auth_type", "domain_name", "region", "factory_endpoint",
        "iam_endpoint", "security_token", "verify", "timeout", "max_retries", "console_url",
        "job_console_url", "patch_data_console_url", "migration_console_url", "migration_endpoint",
        "rate_limits", "not_listed_grace", "outage_tolerance",
    }  # fmt: skip
    assert fields["auth_type"]["schema"]["enum"] == ["aksk", "password", "token"]
    assert fields["security_token"]["schema"].get("format") == "password"
    behaviour = connection["ui-field-behaviour"]
    assert behaviour["hidden-fields"] == ["schema", "port"]
    assert behaviour["relabeling"]["login"] == "Access key (AK) / IAM user"
    assert behaviour["relabeling"]["password"] == "Secret key (SK) / password / token"


def test_every_listed_module_and_link_imports() -> None:
    info = get_provider_info()
    modules = [
        m
        for kind in ("hooks", "operators", "sensors", "triggers")
        for e in info[kind]
        for m in e["python-modules"]
    ]
    assert len(modules) == 14
    for module in modules:
        importlib.import_module(module)
    names = []
    for link in info["extra-links"]:
        module, _, name = link.rpartition(".")
        names.append(getattr(importlib.import_module(module), name).name)
    assert names == [
        "DataArts Quality instance",
        "DataArts Factory job instance",
        "DataArts PatchData",
        "DataArts Migration job",
    ]


def test_the_form_edits_rate_limits_as_a_json_object() -> None:
    """
    Airflow 3's connection form picks each extra field's widget from the first non-null type of the
    schema it is served (``/ui/connections/hook_meta``, built by Airflow's ``HookMetaService``). A
    "string" field is a text input: a connection whose ``rate_limits`` is an object, as DESIGN and the
    docs write it (CLI, REST API, environment), showed ``[object Object]`` in the 3.3.2 edit form. An
    "object" field is a JSON editor that shows the object, checks the JSON and saves an object.
    """
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    (meta,) = [m for m in HookMetaService.hook_meta_data() if m.connection_type == "dataarts"]
    from airflow import __version__
    from packaging.version import Version

    if Version(__version__) < Version("3.2.0.dev0"):
        pytest.skip("Airflow before 3.2 builds no form from a provider's conn-fields")
    assert meta.extra_fields is not None
    field = meta.extra_fields["rate_limits"]
    assert [kind for kind in field["schema"]["type"] if kind != "null"] == ["object"]
    assert field["schema"]["title"] == "Request ceilings (JSON)"
