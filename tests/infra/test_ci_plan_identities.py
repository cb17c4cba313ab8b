"""The identities CI plans run as (docs/deploy.md, "Plan identities"), checked offline.

A pull request's plan runs in the GitHub environment <env>-plan, which has no reviewers and whose
workflow file the branch controls, so whatever that job holds anyone who can push a branch can print.
It holds only read-only identities:

- Snowflake: the env roots connect as their plan user with their plan role whenever
  `terraform_mode = "plan"` (an ephemeral variable, so the saved plan an apply runs does not carry it);
  modules/snowflake_account/plan_role.tf lets that role SHOW/DESCRIBE every object Terraform manages
  (a refresh that cannot see an object drops it from the plan's state) and read no rows.
- AWS: the plan role is ReadOnlyAccess plus `ci_plan_role_policy_json`, which denies the export
  bucket's objects and its key.
- State: plans run with -lock=false (the plan role cannot write `<key>.tflock`); the apply locks, and
  refuses a saved plan whose state has moved.

The Terraform behaviours this relies on are pinned here with the real terraform binary on throwaway
roots (provider-free where possible), so a Terraform upgrade that changed them would fail a test.
"""

from __future__ import annotations

import fnmatch
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.support.terraform import (
    ENVS_DIR,
    MODULES_DIR,
    PLUGIN_DIR,
    SYSTEM_DIR,
    Terraform,
    TerraformError,
    blocks,
    hcl_load,
    hcl_load_many,
    locals_of,
    mirrored_providers,
    module_calls,
    one,
    terraform_bin,
)

ENVS = sorted(p for p in ENVS_DIR.iterdir() if (p / "main.tf").exists())
SNOWFLAKE_ACCOUNT = MODULES_DIR / "snowflake_account"
PLAN_ROLE_TF = SNOWFLAKE_ACCOUNT / "plan_role.tf"
PLAN_POLICY_MODULE = MODULES_DIR / "aws_ci_plan_policy"
GRANT = "snowflake_grant_privileges_to_account_role"

needs_terraform = pytest.mark.skipif(terraform_bin() is None, reason="terraform is not installed here")
needs_aws_mirror = pytest.mark.skipif(
    "hashicorp/aws" not in mirrored_providers(), reason=f"hashicorp/aws not in the plugin mirror {PLUGIN_DIR}"
)

# --------------------------------------------------------------------------------------------------
# Snowflake: which user and role the provider blocks are
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_every_snowflake_provider_is_the_plan_identity_in_plan_mode(env: Path) -> None:
    """GIVEN an env root's Snowflake provider blocks (default and the ACCOUNTADMIN alias)
    WHEN terraform_mode is plan
    THEN every block connects as the plan user with the plan role, and only in apply mode as the deploy
    user with the owner role / ACCOUNTADMIN: no plan reaches a role that can change anything."""
    providers = [one(p["snowflake"]) for p in hcl_load(env / "main.tf")["provider"] if "snowflake" in p]
    assert len(providers) == 2
    deploy_roles = {"default": "local.snowflake.owner_role", "accountadmin": '"ACCOUNTADMIN"'}
    for block in providers:
        alias = one(block.get("alias", ["default"]))
        assert one(block["user"]) == (
            '${var.terraform_mode == "plan" ? local.snowflake.plan_user : local.snowflake.deploy_user}'
        ), alias
        assert one(block["role"]) == (
            f'${{var.terraform_mode == "plan" ? local.snowflake.plan_role : {deploy_roles[alias]}}}'
        ), alias


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_terraform_mode_is_ephemeral_required_and_validated(env: Path) -> None:
    """GIVEN the variable that picks the Snowflake identity
    WHEN its declaration is read
    THEN it is ephemeral (not saved in a plan file, so an apply must set it again rather than inherit
    "plan"), has no default (every run says which it is) and accepts only plan or apply."""
    [body] = [v["terraform_mode"] for v in hcl_load(env / "main.tf")["variable"] if "terraform_mode" in v]
    assert one(body["ephemeral"]) is True
    assert "default" not in body
    condition = one(one(body["validation"])["condition"])
    assert "plan" in condition and "apply" in condition
    assert one(body["type"]) == "${string}"


@needs_terraform
@needs_aws_mirror
def test_an_ephemeral_variable_is_set_again_at_apply_and_the_apply_value_wins(tmp_path: Path) -> None:
    """GIVEN a root whose provider block and a provisioner read an ephemeral variable
    WHEN it is planned with mode=plan and the saved plan applied
    THEN the plan file does not hold the value, an apply without it refuses to start, and an apply with
    mode=apply runs with "apply": what lets the main-branch plan (plan user) be applied by the deploy user."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "main.tf").write_text(EPHEMERAL_ROOT)
    tf = Terraform(root, tmp_path / "work")
    tf.init(plugin_dir=PLUGIN_DIR)
    state = f"-state={tmp_path / 'state.tfstate'}"

    tf.run("plan", "-input=false", state, f"-out={tmp_path / 'tfplan'}", "-var=terraform_mode=plan")
    with zipfile.ZipFile(tmp_path / "tfplan") as saved:
        plan_bytes = saved.read("tfplan")  # the plan proper (the rest is config, state, lock file)
    assert b"terraform_mode" in plan_bytes  # it records that the variable must be set again...
    assert b"plan" not in plan_bytes  # ...but not its value

    with pytest.raises(TerraformError, match="must also be set during the apply phase"):
        tf.run("apply", "-input=false", state, str(tmp_path / "tfplan"))
    tf.run("apply", "-input=false", state, "-var=terraform_mode=apply", str(tmp_path / "tfplan"))
    assert (root / "mode-at-apply.txt").read_text().strip() == "apply"


EPHEMERAL_ROOT = """
variable "terraform_mode" {
  type      = string
  ephemeral = true
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  max_retries                 = var.terraform_mode == "plan" ? 1 : 2
}

data "aws_partition" "current" {}

resource "terraform_data" "probe" {
  input = data.aws_partition.current.partition
  provisioner "local-exec" {
    command     = "echo ${var.terraform_mode} > mode-at-apply.txt"
    working_dir = path.module
  }
}
"""

# --------------------------------------------------------------------------------------------------
# Snowflake: what the plan role may see
# --------------------------------------------------------------------------------------------------

# How SHOW/DESCRIBE lets a role see each kind of object Terraform manages, and the privileges that do
# it without reading rows or running a warehouse (docs/deploy.md, "Plan identities", cites the sources).
# None: visible to the plan role without a grant of its own (SHOW ROLES lists every role) or read with
# SHOW GRANTS (see the docs on what the plan role sees of grants).
VISIBLE_THROUGH: dict[str, tuple[str, set[str]] | None] = {
    "snowflake_database": ("DATABASE", {"USAGE"}),
    "snowflake_schema": ("SCHEMA", {"USAGE"}),
    "snowflake_warehouse": ("WAREHOUSE", {"MONITOR"}),
    "snowflake_file_format_csv": ("FILE FORMAT", {"USAGE"}),
    "snowflake_table": ("TABLE", {"REFERENCES"}),
    "snowflake_stage_external_s3": ("STAGE", {"USAGE"}),
    "snowflake_pipe": ("PIPE", {"MONITOR"}),
    "snowflake_stream_on_table": ("STREAM", {"SELECT"}),
    "snowflake_task": ("TASK", {"MONITOR"}),
    "snowflake_storage_integration_aws": ("INTEGRATION", {"USAGE"}),
    "snowflake_notification_integration": ("INTEGRATION", {"USAGE"}),
    "snowflake_resource_monitor": ("RESOURCE MONITOR", {"MONITOR"}),
    "snowflake_account_role": None,
    "snowflake_grant_account_role": None,
    "snowflake_grant_database_role": None,
    GRANT: None,
}
# Privileges that read rows or spend credits: the plan role holds none of them on these kinds.
FORBIDDEN = {"TABLE": {"SELECT"}, "WAREHOUSE": {"USAGE", "OPERATE", "MODIFY"}, "TABLES": {"SELECT"}}
READ_ONLY = {"USAGE", "MONITOR", "REFERENCES", "SELECT"}


def _expand(name: str, body: dict[str, Any], local_values: dict[str, Any]) -> list[dict[str, Any]]:
    """One grant block per for_each item, with each.key / each.value[.field] substituted."""
    if "for_each" not in body:
        return [body]
    items = one(body["for_each"])
    if isinstance(items, str):
        match = re.fullmatch(r"\$\{local\.(\w+)\}", items)
        assert match, f"{name}: for_each {items} is neither a literal map nor a local"
        items = local_values[match.group(1)]
    expanded = []
    for key, value in items.items():
        text = json.dumps(body).replace("${each.key}", key)
        if isinstance(value, dict):
            for field, field_value in value.items():
                text = text.replace(f"${{each.value.{field}}}", field_value)
        else:
            text = text.replace("${each.value}", value)
        expanded.append(json.loads(text))
    return expanded


def _schema_key(expression: str) -> str:
    """`${snowflake_schema.staging...}` / `${var.staging_schema}` -> staging (final likewise)."""
    match = re.search(r"snowflake_schema\.(\w+)|var\.(\w+)_schema", expression)
    assert match, f"cannot tell the schema of {expression}"
    return match.group(1) or match.group(2)


def plan_role_grants() -> list[dict[str, Any]]:
    """Every grant plan_role.tf makes, for_each expanded."""
    doc = hcl_load(PLAN_ROLE_TF)
    local_values = locals_of(doc)
    return [
        g for name, body in blocks(doc, "resource", GRANT).items() for g in _expand(name, body, local_values)
    ]


def _sees(grant: dict[str, Any], kind: str, allowed: set[str], resource: str | None, schema: str) -> bool:
    """Whether one grant lets the plan role see an object of `kind` in `schema`: the resource `resource`
    of the same module (a direct grant naming it), or, with resource None, any later one (future grant)."""
    if not set(one(grant["privileges"])) & allowed:
        return False
    names = re.compile(rf"\b{re.escape(resource)}\b") if resource else None
    if "on_account_object" in grant:
        target = one(grant["on_account_object"])
        return (
            names is not None
            and one(target["object_type"]) == kind
            and bool(names.search(one(target["object_name"])))
        )
    if "on_schema" in grant:
        return (
            names is not None
            and kind == "SCHEMA"
            and bool(names.search(one(one(grant["on_schema"])["schema_name"])))
        )
    target = one(grant["on_schema_object"])
    if "future" in target:
        future = one(target["future"])
        plural = {"FILE FORMAT": "FILE FORMATS"}.get(kind, f"{kind}S")
        return one(future["object_type_plural"]) == plural and _schema_key(one(future["in_schema"])) == schema
    return (
        names is not None
        and one(target["object_type"]) == kind
        and bool(names.search(one(target["object_name"])))
    )


def test_plan_role_sees_every_object_terraform_manages() -> None:
    """GIVEN every snowflake_* resource of the Snowflake modules (the state a plan refreshes)
    WHEN plan_role.tf's grants are read
    THEN the plan role can SHOW each one: a direct grant for the account module's objects, a schema-level
    future grant for the per-table objects; a resource type nobody has decided about fails here."""
    docs = hcl_load_many(
        sorted([*SNOWFLAKE_ACCOUNT.glob("*.tf"), MODULES_DIR / "snowflake_table" / "main.tf"])
    )
    grants = plan_role_grants()
    unseen = []
    for tf, doc in docs.items():
        for entry in doc.get("resource", []):
            for type_, resources in entry.items():
                assert type_ in VISIBLE_THROUGH, f"{tf}: how does the plan role see a {type_}? (add it here)"
                visibility = VISIBLE_THROUGH[type_]
                if visibility is None:
                    continue
                kind, allowed = visibility
                for name, body in resources.items():
                    schema = _schema_key(one(body["schema"])) if "schema" in body else ""
                    resource = None if tf.parent.name == "snowflake_table" else f"{type_}.{name}"
                    if not any(_sees(g, kind, allowed, resource, schema) for g in grants):
                        unseen.append(f"{tf.parent.name}: {type_}.{name}")
    assert not unseen, "the plan role cannot see: " + ", ".join(unseen)


def test_plan_role_reads_no_rows_and_runs_no_warehouse() -> None:
    """GIVEN plan_role.tf's grants
    WHEN their privileges are read
    THEN all go to the plan role, are read-only (USAGE, MONITOR, REFERENCES, SELECT on streams only),
    none is on the account, with grant option or ALL, and tables and the warehouse get no row-reading
    or compute privilege (a stream or stage is unreadable without a warehouse)."""
    grants = plan_role_grants()
    assert grants
    for grant in grants:
        assert one(grant["account_role_name"]) == "${var.plan_role_name}"
        assert not {"on_account", "all_privileges", "with_grant_option", "always_apply"} & set(grant)
        privileges = set(one(grant["privileges"]))
        assert privileges <= READ_ONLY, privileges
        target = one(grant.get("on_account_object") or grant.get("on_schema_object") or [{}])
        kind = one(target.get("object_type", "")) or one(
            one(target.get("future", [{}])).get("object_type_plural", "")
        )
        assert not privileges & FORBIDDEN.get(kind, set()), f"{kind}: {privileges}"
        if "SELECT" in privileges:
            assert kind == "STREAMS", f"SELECT only on streams, not on {kind}"


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_env_root_gives_the_account_module_the_plan_role(env: Path) -> None:
    """GIVEN an env root and the system's snowflake_account call WHEN read THEN the grants go to the
    role the root's provider blocks use in plan mode (and the objects' owner is their apply role)."""
    call = module_calls(hcl_load(SYSTEM_DIR / "main.tf"))["snowflake_account"]
    assert one(call["plan_role_name"]) == "${var.snowflake_plan_role}"
    assert one(call["owner_role_name"]) == "${var.snowflake_owner_role}"
    system = module_calls(hcl_load(env / "main.tf"))["system"]
    assert one(system["snowflake_plan_role"]) == "${local.snowflake.plan_role}"
    assert one(system["snowflake_owner_role"]) == "${local.snowflake.owner_role}"


# --------------------------------------------------------------------------------------------------
# AWS: the plan role's deny policy
# --------------------------------------------------------------------------------------------------

BUCKET_ARN = "arn:aws:s3:::aurora-sync-exports-test"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"

POLICY_ROOT = """
provider "aws" {{
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
}}

module "policy" {{
  source                    = "{module}"
  export_bucket_arn         = "{bucket}"
  export_bucket_kms_key_arn = "{key}"
}}

output "json" {{
  value = module.policy.json
}}
"""


def _denied(policy: dict[str, Any], action: str, resource: str) -> bool:
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        if (
            statement["Effect"] == "Deny"
            and "Condition" not in statement
            and any(fnmatch.fnmatchcase(action, a) for a in actions)
            and any(fnmatch.fnmatchcase(resource, r) for r in resources)
        ):
            return True
    return False


@needs_terraform
@needs_aws_mirror
def test_ci_plan_policy_denies_the_export_objects_and_key(tmp_path: Path) -> None:
    """GIVEN the aws_ci_plan_policy module with a bucket and key ARN
    WHEN terraform renders its policy document (offline, fake credentials)
    THEN it only denies (it is attached beside ReadOnlyAccess): every object read in the bucket, current
    or old version, and decrypting with the bucket's key; bucket configuration (what a refresh reads)
    stays allowed."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "main.tf").write_text(
        POLICY_ROOT.format(module=PLAN_POLICY_MODULE, bucket=BUCKET_ARN, key=KEY_ARN)
    )
    tf = Terraform(root, tmp_path / "work")
    tf.init(plugin_dir=PLUGIN_DIR)
    policy = json.loads(tf.apply_outputs({})["json"])

    assert {s["Effect"] for s in policy["Statement"]} == {"Deny"}
    for action in ("s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAttributes"):
        assert _denied(policy, action, f"{BUCKET_ARN}/orders/2026/11/20/10/run-1.csv"), action
    assert _denied(policy, "kms:Decrypt", KEY_ARN)
    assert not _denied(policy, "s3:GetBucketPolicy", BUCKET_ARN)
    assert not _denied(
        policy, "s3:GetObject", "arn:aws:s3:::terraform-state/aurora-snowflake-sync/dev.tfstate"
    )


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_env_root_outputs_the_plan_role_policy_of_its_own_bucket(env: Path) -> None:
    """GIVEN an env root WHEN its wiring is read THEN the deny policy is built from this environment's
    export bucket and key, and is an output (the plan role lives outside the stack)."""
    call = module_calls(hcl_load(SYSTEM_DIR / "main.tf"))["ci_plan_policy"]
    assert one(call["export_bucket_arn"]) == "${module.storage.bucket_arn}"
    assert one(call["export_bucket_kms_key_arn"]) == "${module.storage.kms_key_arn}"
    for tf, value in ((SYSTEM_DIR / "outputs.tf", "${module.ci_plan_policy.json}"),
                      (env / "outputs.tf", "${module.system.ci_plan_role_policy_json}")):  # fmt: skip
        outputs = {k: v for entry in hcl_load(tf)["output"] for k, v in entry.items()}
        assert one(outputs["ci_plan_role_policy_json"]["value"]) == value


# --------------------------------------------------------------------------------------------------
# State lock: plans without it, the apply with it
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_state_is_locked_by_lockfile(env: Path) -> None:
    """GIVEN an env root's backend WHEN read THEN S3-native locking (use_lockfile) stays on: the apply
    and force-unlock take <key>.tflock; only plans opt out (-lock=false, .github/workflows)."""
    backend = one(one(hcl_load(env / "main.tf")["terraform"])["backend"])
    assert one(backend["s3"]["use_lockfile"]) is True


STALE_ROOT = """
variable "value" {
  type = string
}

resource "terraform_data" "x" {
  input = var.value
}
"""


@needs_terraform
def test_a_saved_plan_made_without_the_lock_is_refused_once_the_state_moved(tmp_path: Path) -> None:
    """GIVEN a saved plan made with -lock=false (as CI plans are)
    WHEN another apply changes the state before it is applied
    THEN applying the saved plan fails as stale and changes nothing: skipping the lock on plans cannot
    apply a plan made from an old state."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "main.tf").write_text(STALE_ROOT)
    tf = Terraform(root, tmp_path / "work")
    tf.init()
    state = f"-state={tmp_path / 'state.tfstate'}"
    tf.run("apply", "-auto-approve", "-input=false", state, "-var=value=a")

    tf.run("plan", "-lock=false", "-input=false", state, "-var=value=b", f"-out={tmp_path / 'tfplan'}")
    tf.run("apply", "-auto-approve", "-input=false", state, "-var=value=c")  # e.g. an earlier merge's apply
    with pytest.raises(TerraformError, match="Saved plan is stale"):
        tf.run("apply", "-input=false", state, str(tmp_path / "tfplan"))

    shown = json.loads(tf.run("show", "-json", str(tmp_path / "state.tfstate")))
    [resource] = shown["values"]["root_module"]["resources"]
    assert resource["values"]["input"] == "c"
