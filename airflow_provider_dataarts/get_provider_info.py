"""Provider metadata for Airflow's providers manager (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from typing import Any

_STRING = {"type": ["string", "null"]}


def _field(label: str, description: str, **schema: Any) -> dict[str, Any]:
    return {"label": label, "description": description, "schema": {**_STRING, **schema}}


CONN_FIELDS = {
    "project_id": _field(
        "Project ID",
        "Huawei Cloud project id (required): console, My Credentials, Projects, the id of the "
        "project in this region (32 hex characters).",
    ),
    "workspace": _field(
        "Workspace ID",
        "DataArts Studio workspace id; required by DataArts Quality, sent as header workspace.",
    ),
    "auth_type": _field(
        "Auth type",
        "aksk: AK/SK request signing; password: IAM user password exchanged for a token; "
        "token: a static IAM token in the password field.",
        enum=["aksk", "password", "token"],
        default="aksk",
    ),
    "domain_name": _field("Account (domain) name", "Huawei Cloud account name, for auth type password."),
    "region": _field(
        "Region", "Region id such as cn-north-4; derives the endpoints that are not given explicitly."
    ),
    "factory_endpoint": _field(
        "DataArts Factory endpoint",
        "Endpoint of the DataArts Factory v1 script APIs; default https://dayu-dlf.{region}.myhuaweicloud.com.",
    ),
    "iam_endpoint": _field(
        "IAM endpoint", "IAM endpoint for auth type password; default https://iam.{region}.myhuaweicloud.com."
    ),
    "security_token": _field(
        "Security token", "Temporary-credential token sent with AK/SK as X-Security-Token.", format="password"
    ),
    "verify": _field("TLS verification", "true (default), false, or the path of a CA bundle."),
    "timeout": {
        "label": "Timeout (seconds)",
        "description": "Per-request timeout in seconds.",
        "schema": {"type": ["number", "null"], "default": 60},
    },
    "max_retries": {
        "label": "Max retries",
        "description": "Retries of retryable failures (throttling, 5xx, connection errors).",
        "schema": {"type": ["integer", "null"], "default": 5},
    },
    "retry_wait": {
        "label": "Retry wait (seconds)",
        "description": "First backoff between retries (doubled each time, with jitter, capped); default 1.",
        "schema": {"type": ["number", "null"], "default": 1},
    },
    "not_listed_grace": {
        "label": "Not-listed grace (seconds)",
        "description": "How long an instance missing from the instance list (which lags behind a rerun) "
        "is waited for before it is an error; default 120.",
        "schema": {"type": ["number", "null"], "default": 120},
    },
    "outage_tolerance": {
        "label": "Outage tolerance (seconds)",
        "description": "How long a wait (deferred, poke or reschedule) survives DataArts being "
        "unreachable (network, 429, 5xx) before it fails; default 600.",
        "schema": {"type": ["number", "null"], "default": 600},
    },
    "max_requests_per_minute": {
        "label": "Max requests per minute (deprecated)",
        "description": "Deprecated: set extra.rate_limits (requests/s per API family: quality 4, "
        "factory 30, factory_detail 10, factory_v2 10, migration 2, migration_control 20 by default, "
        "DataArts' documented per-user limits) instead. When set, it caps every family at its "
        "value / 60 requests/s.",
        "schema": {"type": ["number", "null"], "default": None},
    },
    "console_url": _field(
        "Console URL template",
        "Link to an instance in the DataArts console; placeholders {region}, {project_id}, {workspace}, "
        "{instance_id}.",
    ),
    "job_console_url": _field(
        "Job console URL template",
        "Link to a DataArts Factory job instance in the console; placeholders {region}, {project_id}, "
        "{workspace}, {instance_id}, {job_name}.",
    ),
    "patch_data_console_url": _field(
        "PatchData console URL template",
        "Link to a DataArts Factory PatchData run in the console; placeholders {region}, {project_id}, "
        "{workspace}, {name}, {job_name}.",
    ),
    "migration_console_url": _field(
        "Migration console URL template",
        "Link to a DataArts Migration (CDM) submission in the console; placeholders {region}, "
        "{project_id}, {workspace}, {cluster_id}, {job_name}, {submission_id}. Empty: the CDM page of "
        "console.huaweicloud.com; set it for another console, e.g. Huawei Cloud Europe's.",
    ),
    # An object, not text: Airflow 3's form shows a text field's stored object as "[object Object]";
    # an object field is a JSON editor that shows the object, checks the JSON and saves an object.
    "rate_limits": {
        "label": "Request ceilings (JSON)",
        "description": 'Requests/s per API family, e.g. {"quality": 2, "factory": 15}; a family not named '
        "keeps DataArts' documented per-user limit (quality 4, factory 30, factory_detail 10, "
        "factory_v2 10, migration 2, migration_control 20).",
        "schema": {"type": ["object", "null"], "default": {}},
    },
    "migration_endpoint": _field(
        "DataArts Migration (CDM) endpoint",
        "e.g. https://cdm.cn-north-4.myhuaweicloud.com; default derived from the region, else the host.",
    ),
}


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-dataarts",
        "name": "Huawei Cloud DataArts Studio",
        "description": "Rerun and wait for DataArts Quality jobs; execute DataArts Factory scripts; "
        "run and wait for DataArts Factory jobs, their PatchData (backfill) runs, and DataArts Migration "
        "(CDM) jobs.",
        "integrations": [
            {
                "integration-name": "Huawei Cloud DataArts Studio",
                "external-doc-url": "https://support.huaweicloud.com/intl/en-us/dataartsstudio/",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": "Huawei Cloud DataArts Studio",
                "python-modules": ["airflow_provider_dataarts.hooks.dataarts"],
            }
        ],
        "operators": [
            {
                "integration-name": "Huawei Cloud DataArts Studio",
                "python-modules": [
                    "airflow_provider_dataarts.operators.quality",
                    "airflow_provider_dataarts.operators.script",
                    "airflow_provider_dataarts.operators.job",
                    "airflow_provider_dataarts.operators.migration",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "Huawei Cloud DataArts Studio",
                "python-modules": [
                    "airflow_provider_dataarts.sensors.quality",
                    "airflow_provider_dataarts.sensors.script",
                    "airflow_provider_dataarts.sensors.job",
                    "airflow_provider_dataarts.sensors.migration",
                ],
            }
        ],
        "triggers": [
            {
                "integration-name": "Huawei Cloud DataArts Studio",
                "python-modules": [
                    "airflow_provider_dataarts.triggers.quality",
                    "airflow_provider_dataarts.triggers.quality_events",
                    "airflow_provider_dataarts.triggers.script",
                    "airflow_provider_dataarts.triggers.job",
                    "airflow_provider_dataarts.triggers.migration",
                ],
            }
        ],
        "extra-links": [
            "airflow_provider_dataarts.links.dataarts.DataArtsQualityInstanceLink",
            "airflow_provider_dataarts.links.dataarts.DataArtsJobInstanceLink",
            "airflow_provider_dataarts.links.dataarts.DataArtsPatchDataLink",
            "airflow_provider_dataarts.links.migration.DataArtsMigrationLink",
        ],
        # The DataArts tab (also the airflow.plugins entry point, which Airflow always loads).
        "plugins": [{"name": "dataarts", "plugin-class": "airflow_provider_dataarts.plugins.DataArtsPlugin"}],
        "config": {
            "dataarts": {
                "description": "Settings of the DataArts Studio provider.",
                "options": {
                    "triggerer_queue": {
                        "description": "The triggerer queue every deferred DataArts wait goes to "
                        "(Airflow 3.2+ with [triggerer] queues_enabled = True; run one triggerer with "
                        "--queues set to it), unless a task sets triggerer_queue itself. Empty: "
                        "Airflow's default.",
                        "version_added": "0.2.0",
                        "type": "string",
                        "example": "dataarts",
                        "default": "",
                    }
                },
            }
        },
        "connection-types": [
            {
                "hook-class-name": "airflow_provider_dataarts.hooks.dataarts.DataArtsHook",
                "hook-name": "DataArts Studio",
                "connection-type": "dataarts",
                "conn-fields": CONN_FIELDS,
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {
                        "host": "DataArts endpoint",
                        "login": "Access key (AK) / IAM user",
                        "password": "Secret key (SK) / password / token",
                    },
                    "placeholders": {
                        "host": "https://dayu.cn-north-4.myhuaweicloud.com",
                        "project_id": "0123456789abcdef0123456789abcdef",
                        "region": "cn-north-4",
                    },
                },
            }
        ],
    }
