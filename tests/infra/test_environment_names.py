"""Two environments in one AWS or Snowflake account must not share a name.

SSM parameter names, CloudWatch namespaces and dimensions, Snowflake integrations, warehouses and
roles are unique per account (and region): with one shared name the second environment's apply
fails (ParameterAlreadyExists, "object already exists"), or worse succeeds and mixes them (dev's
exporter deleting prod's overrides; prod's freshness alarms reading dev's data points). Every such
name comes from terraform/modules/names (evaluated here by Terraform itself, for each environment's
`environment`) or from the values the environment's root gives terraform/system; this file checks
that the environments' names are pairwise disjoint and that the system really uses them.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from tests.support.terraform import (
    ENVS_DIR,
    MODULES_DIR,
    SYSTEM_DIR,
    blocks,
    env_tables_parameter,
    env_values,
    hcl_load,
    locals_of,
    module_calls,
    names_module_outputs,
    one,
    terraform_bin,
)

ENVS = sorted(p for p in ENVS_DIR.iterdir() if (p / "main.tf").exists())
NAMES_MODULE = MODULES_DIR / "names"

needs_terraform = pytest.mark.skipif(terraform_bin() is None, reason="terraform is not installed here")


evaluated_names = names_module_outputs


def account_scoped_names(env: Path) -> dict[str, str]:
    """Every account-scoped name the environment's root creates or claims, by what it is."""
    values = env_values(env)
    names = evaluated_names(values["environment"])
    assert env_tables_parameter(env) == names["tables_parameter"]  # what the other infra tests assume
    snowflake = names["snowflake"]
    connection = values["snowflake_connection"]
    account_main = hcl_load(MODULES_DIR / "snowflake_account" / "main.tf")
    error_integration = blocks(account_main, "resource", "snowflake_notification_integration")["errors"]
    assert one(error_integration["name"]) == "${var.storage_integration_name}_ERRORS"
    return {
        "aws resource prefix": names["prefix"],
        "ssm tables index": names["tables_parameter"],
        "ssm table entries": names["tables_parameter"] + "/",
        "ssm overrides path": names["overrides_path"],
        "ssm db ca bundle": names["db_ca_bundle_parameter"],
        "powertools service (metric dimension)": names["service_name"],
        "cloudwatch namespace": names["metrics_namespace"],
        "s3 bucket": values["export_bucket_name"],
        "snowflake database": connection["database"],
        "snowflake service user": connection["service_user"],
        "snowflake warehouse": snowflake["warehouse"],
        "snowflake storage integration": snowflake["storage_integration"],
        "snowflake error integration": snowflake["storage_integration"] + "_ERRORS",
        "snowflake service role": snowflake["service_role"],
    }


@needs_terraform
@pytest.mark.parametrize(("a", "b"), list(itertools.combinations(ENVS, 2)), ids=lambda p: p.name)
def test_environments_share_no_account_scoped_name(a: Path, b: Path) -> None:
    """GIVEN two environment roots (their values, and modules/names evaluated by Terraform)
    WHEN their account-scoped names are compared
    THEN no name is used by both, and no SSM name of one lies under a path of the other (the
    exporter's IAM grant on `<overrides path>*` reaches exactly its own environment's overrides)."""
    names_a, names_b = account_scoped_names(a), account_scoped_names(b)

    shared = set(names_a.values()) & set(names_b.values())
    assert not shared, f"{a.name} and {b.name} share {sorted(shared)}"
    ssm_a = [v for k, v in names_a.items() if k.startswith("ssm")]
    ssm_b = [v for k, v in names_b.items() if k.startswith("ssm")]
    for name_a, name_b in itertools.product(ssm_a, ssm_b):
        assert not name_b.startswith(name_a) and not name_a.startswith(name_b), (name_a, name_b)


@needs_terraform
def test_names_carry_the_environment() -> None:
    """GIVEN an environment with a dash (allowed by the variable's validation)
    WHEN its names are evaluated
    THEN each carries it, the Snowflake ones as an upper-case identifier without the dash."""
    names = evaluated_names("pre-prod")

    assert names["tables_parameter"] == "/aurora-snowflake-sync/pre-prod/tables"
    assert names["overrides_path"] == "/aurora-snowflake-sync/pre-prod/overrides/"
    assert names["metrics_namespace"] == "AuroraSnowflakeSync/pre-prod"
    assert names["service_name"] == names["prefix"] == "aurora-snowflake-sync-pre-prod"
    assert names["snowflake"] == {
        "warehouse": "SYNC_WH_PRE_PROD",
        "storage_integration": "AURORA_EXPORTS_PRE_PROD",
        "service_role": "AURORA_SYNC_SERVICE_PRE_PROD",
    }


def test_the_system_takes_every_account_scoped_name_from_the_names_module() -> None:
    """GIVEN terraform/system, which every env root calls with its `environment`
    WHEN its wiring is read
    THEN every account-scoped name it passes on comes from module.names (fed that `environment`), so
    none can be typed in twice: the SSM parameters, the Lambdas' overrides path, service and
    namespace, the alarms' namespace and dimension, and the Snowflake warehouse, integration, role."""
    doc = hcl_load(SYSTEM_DIR / "main.tf")
    modules = module_calls(doc)
    ssm = blocks(doc, "resource", "aws_ssm_parameter")
    lambda_common = locals_of(doc)["lambda_common"]

    assert one(modules["names"]["environment"]) == "${var.environment}"
    assert locals_of(doc)["name"] == "${module.names.prefix}"
    assert one(ssm["tables"]["name"]) == "${module.names.tables_parameter}"
    assert one(ssm["db_ca_bundle"]["name"]) == "${module.names.db_ca_bundle_parameter}"
    for module in ("exporter", "reconciler"):
        assert one(modules[module]["common"]) == "${local.lambda_common}", module
    assert lambda_common["overrides_path"] == "${module.names.overrides_path}"
    for module, values in (("lambda_common", lambda_common), ("alerting", module_calls(doc)["alerting"])):
        assert one(values["service_name"]) == "${module.names.service_name}", module
        assert one(values["metrics_namespace"]) == "${module.names.metrics_namespace}", module
    account = modules["snowflake_account"]
    assert one(account["warehouse_name"]) == "${module.names.snowflake.warehouse}"
    assert one(account["storage_integration_name"]) == "${module.names.snowflake.storage_integration}"
    assert one(account["service_role_name"]) == "${module.names.snowflake.service_role}"


@pytest.mark.parametrize(
    ("module", "variable"),
    [
        ("aws_exporter", "common.overrides_path"),
        ("aws_exporter", "common.service_name"),
        ("aws_exporter", "common.metrics_namespace"),
        ("aws_reconciler", "common.overrides_path"),
        ("aws_reconciler", "common.service_name"),
        ("aws_reconciler", "common.metrics_namespace"),
        ("snowflake_account", "warehouse_name"),
        ("snowflake_account", "storage_integration_name"),
        ("snowflake_account", "service_role_name"),
    ],
)
def test_modules_have_no_shared_default_for_an_account_scoped_name(module: str, variable: str) -> None:
    """GIVEN a module variable (or a field of an object variable) that names an account-scoped object
    WHEN its declaration is read
    THEN it has no default (a field: required, not optional): a caller that forgets it fails to plan
    instead of silently sharing a name with every other environment."""
    name, _, field = variable.partition(".")
    doc = hcl_load(MODULES_DIR / module / "variables.tf")
    [body] = [entry[name] for entry in doc["variable"] if name in entry]
    assert "default" not in body
    if field:
        assert f"'{field}': '${{string}}'" in one(body["type"]), one(body["type"])
