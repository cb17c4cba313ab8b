"""The Terraform code, checked offline: formatting, `terraform validate` of every module whose
providers the local plugin mirror holds, checkov with zero failures, the snowflake_* resources
against the provider's schema map, the env roots as a few lines over terraform/system, and the
wiring that keeps tables.json the one source of truth.

Nothing is initialised inside the repository: validation runs on a copy in a temp dir.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from aurora_sync.layout import MANIFEST_ROOT, PENDING_ROOT, REFRESH_ROOT
from aurora_sync.settings import ExporterSettings, ReconcilerSettings
from tests.support.terraform import (
    ENVS_DIR,
    INFRA_VENV,
    MODULES_DIR,
    PLUGIN_DIR,
    REPO,
    SNOWFLAKE_MODULES,
    SYSTEM_DIR,
    TERRAFORM_DIR,
    Terraform,
    blocks,
    hcl_load,
    hcl_load_many,
    locals_of,
    mirrored_providers,
    module_calls,
    one,
    required_providers,
    stub_snowflake,
    terraform_bin,
)

CHECKOV = INFRA_VENV / "bin" / "checkov"
SNOWFLAKE_CHECK = REPO / "tests/infra/tools/check-snowflake-tf"
SNOWFLAKE_SCHEMA = REPO / "tests/infra/tools/snowflake-provider-v2.20.0.schema.json"
TEMPLATES = MODULES_DIR / "snowflake_table" / "sql"
ENVS = sorted(p for p in ENVS_DIR.iterdir() if (p / "main.tf").exists())
# Every module (a versions.tf each) and every env root (its terraform block is in main.tf).
ROOTS = sorted(
    {p.parent for p in TERRAFORM_DIR.glob("**/versions.tf") if ".terraform" not in p.parts} | set(ENVS)
)
SYSTEM_MAIN = SYSTEM_DIR / "main.tf"

needs_terraform = pytest.mark.skipif(terraform_bin() is None, reason="terraform is not installed here")


def rel(path: Path) -> str:
    return str(path.relative_to(REPO))


# --------------------------------------------------------------------------------------------------
# terraform fmt / validate
# --------------------------------------------------------------------------------------------------


@needs_terraform
def test_terraform_is_formatted() -> None:
    """GIVEN every .tf file WHEN `terraform fmt -check -recursive` runs THEN nothing needs reformatting."""
    for tree in (TERRAFORM_DIR, REPO / "tests/infra/tf_render"):
        result = subprocess.run(
            [str(terraform_bin()), "fmt", "-check", "-recursive", "-diff", str(tree)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"terraform fmt would change:\n{result.stdout}{result.stderr}"


@pytest.fixture(scope="module")
def terraform_copy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """terraform/ (and layers/target.json, which the roots read) copied out of the repo for init."""
    base = tmp_path_factory.mktemp("tf-validate")
    shutil.copytree(TERRAFORM_DIR, base / "terraform", ignore=shutil.ignore_patterns(".terraform*"))
    (base / "layers").mkdir()
    shutil.copy(REPO / "layers" / "target.json", base / "layers" / "target.json")
    yield base
    shutil.rmtree(base, ignore_errors=True)


def missing_providers(root: Path) -> set[str]:
    return required_providers(root) - mirrored_providers()


@pytest.fixture(scope="module")
def validations(terraform_copy: Path) -> dict[Path, str | Exception]:
    """`init -plugin-dir` + `validate` of every root whose providers are mirrored, run concurrently
    (each loads the aws provider's schema: seconds apiece). Maps root -> output or the error."""

    def validate(root: Path) -> str | Exception:
        work = Path(tempfile.mkdtemp(prefix="aurora-sync-tf-validate-"))
        try:
            tf = Terraform(terraform_copy / "terraform" / root.relative_to(TERRAFORM_DIR), work)
            tf.init(plugin_dir=PLUGIN_DIR if required_providers(root) else None)
            return tf.run("validate")
        except Exception as exc:  # reported by the test of that root
            return exc
        finally:
            shutil.rmtree(work, ignore_errors=True)

    roots = [r for r in ROOTS if not missing_providers(r)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(roots, pool.map(validate, roots), strict=True))


@needs_terraform
@pytest.mark.parametrize("root", ROOTS, ids=lambda p: str(p.relative_to(TERRAFORM_DIR)))
def test_terraform_validate(root: Path, validations: dict[Path, str | Exception]) -> None:
    """GIVEN a module or environment root
    WHEN its providers are in the local plugin mirror (or it needs none)
    THEN `terraform init -plugin-dir` and `terraform validate` succeed."""
    missing = missing_providers(root)
    if missing:
        pytest.skip(
            f"{rel(root)}: provider(s) {', '.join(sorted(missing))} not in the plugin mirror {PLUGIN_DIR}; "
            "validate needs them (snowflake_* resources are checked against the schema map instead)"
        )
    outcome = validations[root]
    if isinstance(outcome, Exception):
        raise outcome
    assert "Success" in outcome


@needs_terraform
@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_environment_root_validates_with_snowflake_modules_stubbed(env: Path, tmp_path: Path) -> None:
    """GIVEN an environment root, whose snowflake provider cannot be installed here
    WHEN the Snowflake modules are replaced by provider-free stubs with the same interface
    THEN `terraform validate` passes: the root's expressions and all AWS module calls type-check."""
    if "hashicorp/aws" not in mirrored_providers():
        pytest.skip(f"hashicorp/aws not in the plugin mirror {PLUGIN_DIR}")
    tree = tmp_path / "terraform"
    shutil.copytree(TERRAFORM_DIR, tree, ignore=shutil.ignore_patterns(".terraform*"))
    shutil.copytree(
        REPO / "layers", tmp_path / "layers", ignore=shutil.ignore_patterns("__pycache__", "*.py")
    )
    root = stub_snowflake(tree, env)
    tf = Terraform(root, tmp_path / "work")
    tf.init(plugin_dir=PLUGIN_DIR)
    assert "Success" in tf.run("validate")


def test_env_roots_pin_no_provider_version() -> None:
    """GIVEN the env roots' required_providers WHEN read THEN they name sources only: the versions are
    pinned once, in terraform/system/versions.tf (and each module's own)."""
    for env in ENVS:
        [terraform] = hcl_load(env / "main.tf")["terraform"]
        [required] = terraform["required_providers"]
        assert {name: one(p) for name, p in required.items() if not name.startswith("__")} == {
            "aws": {"source": "hashicorp/aws"},
            "snowflake": {"source": "snowflakedb/snowflake"},
        }, rel(env)
        assert "required_version" not in terraform, rel(env)


def test_aws_provider_pin_admits_the_mirrored_version() -> None:
    """GIVEN the aws provider constraint of every module WHEN compared with the mirrored version(s)
    THEN at least one mirrored version satisfies it (or there is no mirror to compare with)."""
    base = PLUGIN_DIR / "registry.terraform.io" / "hashicorp" / "aws"
    if not base.is_dir():
        pytest.skip(f"no hashicorp/aws in the plugin mirror {PLUGIN_DIR}")
    mirrored = [tuple(int(x) for x in v.name.split(".")) for v in base.iterdir() if v.is_dir()]
    for root in sorted(set(ROOTS) - set(ENVS)):
        text = "\n".join(p.read_text() for p in root.glob("*.tf"))
        match = re.search(
            r'source\s*=\s*"hashicorp/aws"\s*\n\s*version\s*=\s*">= ([\d.]+), < ([\d.]+)"', text
        )
        if "hashicorp/aws" not in text:
            continue
        assert match, f'{rel(root)}: aws provider must be pinned as ">= X, < Y"'
        low, high = (tuple(int(x) for x in v.split(".")) for v in match.groups())
        assert any(low <= v < high for v in mirrored), f"{rel(root)}: {match.group(0)} excludes {mirrored}"


# --------------------------------------------------------------------------------------------------
# checkov and the Snowflake schema map
# --------------------------------------------------------------------------------------------------


def test_checkov_finds_no_failed_checks() -> None:
    """GIVEN the whole terraform/ tree WHEN checkov scans it offline THEN no check fails (skips carry
    their reason inline)."""
    assert CHECKOV.exists(), f"{CHECKOV} missing: run `make venv` (scripts/bootstrap_infra.sh)"
    result = subprocess.run(
        [str(CHECKOV), "-d", str(TERRAFORM_DIR), "--framework", "terraform", "--skip-download",
         "--quiet", "--compact", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    report: Any = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [c for r in reports for c in r["results"]["failed_checks"]]
    assert not failed, "\n".join(f"{c['check_id']} {c['resource']} {c['file_path']}" for c in failed)
    assert sum(r["summary"]["passed"] for r in reports) > 100


def test_every_checkov_skip_is_justified() -> None:
    """GIVEN the inline checkov skips WHEN read THEN each names one check and says why."""
    skips = [
        (tf, line.strip())
        for tf in TERRAFORM_DIR.glob("**/*.tf")
        for line in tf.read_text().splitlines()
        if "checkov:skip" in line
    ]
    assert skips
    for tf, line in skips:
        assert re.fullmatch(r"# checkov:skip=CKV2?_AWS_\d+:\S.{20,}", line), f"{rel(tf)}: {line}"


def run_snowflake_check(*paths: Path) -> subprocess.CompletedProcess[str]:
    assert (INFRA_VENV / "bin" / "python").exists(), "run `make venv` (scripts/bootstrap_infra.sh)"
    return subprocess.run(
        [str(INFRA_VENV / "bin" / "python"), str(SNOWFLAKE_CHECK), str(SNOWFLAKE_SCHEMA), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_snowflake_resources_match_the_provider_schema() -> None:
    """GIVEN every snowflake_* resource WHEN checked against the v2.20.0 schema map THEN no unknown,
    read-only or missing argument; and every preview resource is enabled in every environment."""
    result = run_snowflake_check(MODULES_DIR, SYSTEM_DIR, ENVS_DIR)
    assert result.returncode == 0 and "0 problem(s)" in result.stdout, result.stdout + result.stderr

    needed = set(re.findall(r'needs "([a-z_]+)" in preview_features_enabled', result.stdout))
    assert needed
    enabled = set(locals_of(hcl_load(SYSTEM_MAIN))["snowflake_preview_features"])
    assert needed <= enabled, f"{rel(SYSTEM_MAIN)}: enable {sorted(needed - enabled)}"
    outputs = {k: v for entry in hcl_load(SYSTEM_DIR / "outputs.tf")["output"] for k, v in entry.items()}
    assert one(outputs["snowflake_preview_features"]["value"]) == "${local.snowflake_preview_features}"
    for env in ENVS:
        for block in snowflake_providers(env):
            assert one(block["preview_features_enabled"]) == "${module.system.snowflake_preview_features}"


def test_snowflake_schema_check_catches_a_wrong_argument(tmp_path: Path) -> None:
    """GIVEN a pipe with a misspelt argument and no copy_statement WHEN checked THEN it is reported
    (the check above can fail)."""
    bad = tmp_path / "bad.tf"
    bad.write_text(
        'resource "snowflake_pipe" "p" {\n'
        '  database = "D"\n  schema = "S"\n  name = "P"\n  auto_ingst = true\n'
        "}\n"
    )
    result = run_snowflake_check(bad)
    assert result.returncode == 1
    assert "unknown argument/block `auto_ingst`" in result.stdout
    assert "missing required argument `copy_statement`" in result.stdout


# --------------------------------------------------------------------------------------------------
# The env roots: their values, providers and outputs over terraform/system
# --------------------------------------------------------------------------------------------------

# An env root's files: backend, values and providers, operators' outputs, moved blocks, table list.
ENV_FILES = {"backend.hcl", "main.tf", "outputs.tf", "moved.tf", "tables.json"}
# Added beside them in a deployment (docs/deploy.md): the region's RDS CA bundle, the provider lock.
ENV_FILES_LATER = {"rds-ca-bundle.pem", ".terraform.lock.hcl"}
# System outputs the env root's provider blocks read; every other one is an output of the env root.
PROVIDER_OUTPUTS = {"tags", "snowflake_preview_features"}
# The env root's addresses before issue 13 moved its body into terraform/system, as main had them
# (0bdac9b: terraform/envs/dev/main.tf); its data sources need no move.
ROOT_ADDRESSES_BEFORE_THE_SYSTEM = {
    *("aws_ssm_parameter.table", "aws_ssm_parameter.tables", "aws_ssm_parameter.db_ca_bundle"),
    "aws_lambda_layer_version.dependencies",
    *(f"module.{name}" for name in ("names", "tables", "network_endpoints", "storage", "alerting", "exporter",
                                    "reconciler", "ci_plan_policy", "orchestration", "snowflake_account",
                                    "snowflake_table")),
}  # fmt: skip


def without_lines(value: Any) -> Any:
    """A parsed block without the parser's line numbers (so two files' blocks compare)."""
    if isinstance(value, dict):
        return {k: without_lines(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [without_lines(v) for v in value]
    return value


def snowflake_providers(env: Path) -> list[dict[str, Any]]:
    return [one(p["snowflake"]) for p in hcl_load(env / "main.tf")["provider"] if "snowflake" in p]


def outputs_of(tf: Path) -> dict[str, dict[str, Any]]:
    return {name: body for entry in hcl_load(tf).get("output", []) for name, body in entry.items()}


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_environment_roots_only_call_the_system(env: Path) -> None:
    """GIVEN an env root WHEN its files and blocks are read THEN it holds its own files only, and
    declares nothing the system deploys: one module call, ../../system, given every provider; no
    resource, data source or other module; one variable, terraform_mode, which CI sets."""
    files = {p.name for p in env.iterdir() if p.name != ".terraform"}
    assert ENV_FILES <= files <= ENV_FILES | ENV_FILES_LATER, rel(env)

    main = without_lines(hcl_load(env / "main.tf"))
    assert set(main) == {"terraform", "variable", "locals", "provider", "module"}, rel(env)
    [(name, call)] = module_calls(main).items()
    assert (name, one(call["source"])) == ("system", "../../system")
    assert one(call["providers"]) == {
        "aws": "${aws}",
        "snowflake": "${snowflake}",
        "snowflake.accountadmin": "${snowflake.accountadmin}",
    }
    assert [list(v) for v in main["variable"]] == [["terraform_mode"]]
    assert set(hcl_load(env / "outputs.tf")) == {"output"}
    assert set(hcl_load(env / "moved.tf")) == {"moved"}


def test_environments_differ_only_in_values() -> None:
    """GIVEN the env roots WHEN compared THEN outputs.tf and moved.tf are the same file, and main.tf has
    the same terraform block, variable and provider blocks, the same local names and the same call to
    the system: they differ in values only (the call's arguments, the locals, backend.hcl, tables.json)."""

    def shape(env: Path) -> dict[str, Any]:
        main = without_lines(hcl_load(env / "main.tf"))
        call = module_calls(main)["system"]
        local_names = {k: sorted(v) if isinstance(v, dict) else None for k, v in locals_of(main).items()}
        return {
            "terraform": main["terraform"],
            "variable": main["variable"],
            "provider": main["provider"],
            "locals": local_names,
            "system": {k: call[k] for k in ("source", "providers")},
        }

    first, *others = ENVS
    assert others, "expected at least dev and prod"
    for env in others:
        assert shape(env) == shape(first), rel(env)
        for name in ("outputs.tf", "moved.tf"):
            assert (env / name).read_text() == (first / name).read_text(), rel(env / name)


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_env_root_outputs_what_the_system_outputs_for_operators(env: Path) -> None:
    """GIVEN an env root's outputs (what `terraform output` shows operators) WHEN compared with the
    system's THEN each passes the system output of the same name through, and every system output is
    there but the two the root's provider blocks read."""
    system = set(outputs_of(SYSTEM_DIR / "outputs.tf"))
    assert system >= PROVIDER_OUTPUTS
    root = {name: one(body["value"]) for name, body in outputs_of(env / "outputs.tf").items()}
    assert root == {name: f"${{module.system.{name}}}" for name in system - PROVIDER_OUTPUTS}


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_moved_blocks_carry_every_address_of_the_root_before_the_system(env: Path) -> None:
    """GIVEN the env root's moved blocks WHEN read THEN each resource and module call the root held
    before issue 13 moves to the same address under module.system, which declares it
    (test_terraform_apply.py plans such a state: moves only, no change)."""
    moves = {one(m["from"]): one(m["to"]) for m in hcl_load(env / "moved.tf")["moved"]}
    assert moves == {f"${{{a}}}": f"${{module.system.{a}}}" for a in ROOT_ADDRESSES_BEFORE_THE_SYSTEM}
    declared = set()
    for doc in hcl_load_many(sorted(SYSTEM_DIR.glob("*.tf"))).values():
        declared |= {f"module.{name}" for name in module_calls(doc)}
        declared |= {
            f"{t}.{name}" for entry in doc.get("resource", []) for t, named in entry.items() for name in named
        }
    assert declared >= ROOT_ADDRESSES_BEFORE_THE_SYSTEM


# --------------------------------------------------------------------------------------------------
# Wiring: tables.json -> SSM / S3 / Snowflake; Lambda environment contract
# --------------------------------------------------------------------------------------------------


def test_environment_derives_everything_from_tables_json() -> None:
    """GIVEN the system an env root calls WHEN its wiring is read THEN the SSM parameter, the S3 prefixes
    (notifications, lifecycle, Snowflake role) and the per-table Snowflake objects all come from
    module.tables, which reads the tables.json beside the env root (path.root); every env has one."""
    doc = hcl_load(SYSTEM_MAIN)
    modules = module_calls(doc)

    assert one(modules["tables"]["tables_json"]) == '${file("${path.root}/tables.json")}'
    parameters = blocks(doc, "resource", "aws_ssm_parameter")
    assert one(parameters["tables"]["value"]) == "${module.tables.ssm_index}"
    assert one(parameters["table"]["for_each"]) == "${module.tables.ssm_parameters}"
    assert "aws_ssm_parameter.table" in str(parameters["tables"]["depends_on"])
    assert one(modules["storage"]["table_prefixes"]) == "${module.tables.s3_prefixes}"
    assert one(modules["snowflake_table"]["for_each"]) == "${module.tables.by_name}"
    assert "module.tables.s3_prefixes[each.key]" in one(modules["snowflake_table"]["stage_url"])
    assert "module.snowflake_table" in one(modules["storage"]["pipe_notification_channels"])
    for env in ENVS:
        assert (env / "tables.json").exists()


def test_snowflake_sql_and_lambdas_name_the_same_database() -> None:
    """GIVEN the database every pipe, task and Lambda query is qualified with
    WHEN the system's wiring is read
    THEN the per-table SQL (snowflake_table's `database`) and the Lambdas' SNOWFLAKE_DATABASE both come
    from module.snowflake_account.database, the database that module creates."""
    doc = hcl_load(SYSTEM_MAIN)
    modules = module_calls(doc)
    account = "${module.snowflake_account.database}"

    assert one(modules["snowflake_table"]["database"]) == account
    assert locals_of(doc)["lambda_common"]["snowflake"]["database"] == account
    for function in ("exporter", "reconciler"):
        assert one(modules[function]["common"]) == "${local.lambda_common}", function
        environment = locals_of(hcl_load(MODULES_DIR / f"aws_{function}" / "main.tf"))["environment"]
        assert environment["SNOWFLAKE_DATABASE"] == "${var.common.snowflake.database}", function
    render = module_calls(hcl_load(MODULES_DIR / "snowflake_table" / "main.tf"))["render"]
    assert one(render["database"]) == "${var.database}"
    account_main = hcl_load(MODULES_DIR / "snowflake_account" / "main.tf")
    assert one(blocks(account_main, "resource", "snowflake_database")["sync"]["name"]) == "${var.database}"


def test_exporter_and_reconciler_declare_the_same_common_variable() -> None:
    """GIVEN the `common` object both function modules take (built once, local.lambda_common)
    WHEN their declarations are read THEN they are the same: type, validations, description."""
    exporter, reconciler = (
        without_lines(
            [v for v in hcl_load(MODULES_DIR / f"aws_{f}" / "variables.tf")["variable"] if "common" in v]
        )
        for f in ("exporter", "reconciler")
    )
    assert exporter == reconciler and len(exporter) == 1
    assert "validation" in exporter[0]["common"]


# Roles that hold the global MANAGE GRANTS privilege out of the box (SECURITYADMIN, and ACCOUNTADMIN
# above it): GRANT ... ON FUTURE ... IN SCHEMA needs it unless the schema is managed-access.
MANAGE_GRANTS_ROLES = {"ACCOUNTADMIN", "SECURITYADMIN"}


def future_grants(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    grants = blocks(doc, "resource", "snowflake_grant_privileges_to_account_role")
    return {
        name: body
        for name, body in grants.items()
        if any("future" in on for on in body.get("on_schema_object", []))
    }


def test_future_grants_run_as_a_role_with_manage_grants() -> None:
    """GIVEN every `future {}` grant of the Snowflake modules
    WHEN the provider it runs through is read
    THEN it is the accountadmin alias (the default provider's SYSADMIN lacks MANAGE GRANTS and the
    schemas are not managed-access, so the first apply would fail), the module declares that alias,
    the system passes it on, and every environment binds it, when applying, to a role holding MANAGE
    GRANTS (plans run as the read-only plan role: terraform_mode)."""
    found = {}
    for module in SNOWFLAKE_MODULES:
        for tf in sorted((MODULES_DIR / module).glob("*.tf")):
            for name, body in future_grants(hcl_load(tf)).items():
                found[f"{module}/{tf.name}:{name}"] = one(body.get("provider"))
    assert found, "no future grants found: the check would be vacuous"
    assert {k: v for k, v in found.items() if v != "${snowflake.accountadmin}"} == {}

    for declaring in (MODULES_DIR / "snowflake_account", SYSTEM_DIR):
        versions = (declaring / "versions.tf").read_text()
        assert re.search(r"configuration_aliases\s*=\s*\[[^]]*snowflake\.accountadmin", versions), rel(
            declaring
        )
    passed = one(module_calls(hcl_load(SYSTEM_MAIN))["snowflake_account"]["providers"])
    assert passed["snowflake.accountadmin"] == "${snowflake.accountadmin}"
    for env in ENVS:
        [admin] = [p for p in snowflake_providers(env) if one(p.get("alias")) == "accountadmin"]
        role = one(admin["role"])
        applying = re.fullmatch(
            r'\$\{var\.terraform_mode == "plan" \? local\.snowflake\.plan_role : "(\w+)"\}', role
        )
        assert applying is not None, f"{rel(env)}: accountadmin alias role {role!r}"
        assert applying.group(1) in MANAGE_GRANTS_ROLES, rel(env)
        passed = one(module_calls(hcl_load(env / "main.tf"))["system"]["providers"])
        assert passed["snowflake.accountadmin"] == "${snowflake.accountadmin}", rel(env)


def aliases(model: type[BaseModel]) -> tuple[set[str], set[str]]:
    """(every environment variable a settings model reads, the ones without a default)."""
    names: set[str] = set()
    required: set[str] = set()
    for field in model.model_fields.values():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            sub_names, sub_required = aliases(annotation)
            names |= sub_names
            required |= sub_required
        elif field.alias:
            names.add(field.alias)
            if field.is_required():
                required.add(field.alias)
    return names, required


POWERTOOLS = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"}
# Set by the Lambda runtime itself (reserved: a function's configuration may not set it).
LAMBDA_RUNTIME = {"AWS_REGION"}


@pytest.mark.parametrize(
    ("module", "model"),
    [("aws_exporter", ExporterSettings), ("aws_reconciler", ReconcilerSettings)],
)
def test_lambda_environment_matches_the_settings_model(module: str, model: type[BaseModel]) -> None:
    """GIVEN a function module's environment map WHEN compared with the code's settings model
    THEN every variable it sets is one the code reads, and every variable the code requires is set."""
    environment = locals_of(hcl_load(MODULES_DIR / module / "main.tf"))["environment"]
    known, required = aliases(model)

    assert set(environment) - POWERTOOLS <= known, f"not read by {model.__name__}: {set(environment) - known}"
    assert not set(environment) & LAMBDA_RUNTIME, "reserved: Lambda sets these itself"
    assert required - LAMBDA_RUNTIME <= set(environment), (
        f"required by {model.__name__} but not set: {required - LAMBDA_RUNTIME - set(environment)}"
    )


@pytest.mark.parametrize("module", ["aws_exporter", "aws_reconciler"])
def test_lambdas_get_the_aurora_ca_bundle_and_may_read_it(module: str) -> None:
    """GIVEN a function module (DB_SSL is left at its default, true) WHEN its environment and policy
    are read THEN it names the CA bundle parameter, which the settings require with TLS, and its
    role may read exactly that parameter."""
    environment = locals_of(hcl_load(MODULES_DIR / module / "main.tf"))["environment"]
    assert "DB_SSL" not in environment
    assert environment["DB_SSL_CA_BUNDLE_PARAMETER"] == "${var.common.database.ca_bundle_parameter}"
    [policy] = blocks(hcl_load(MODULES_DIR / module / "iam.tf"), "data", "aws_iam_policy_document").values()
    readable = [
        r
        for st in policy["statement"]
        if "ssm:GetParameter" in one(st["actions"])
        for r in one(st["resources"])
    ]
    assert any(r.endswith("${var.common.database.ca_bundle_parameter}") for r in readable), readable


def template_options(name: str) -> dict[str, str]:
    """`KEY = value` lines of a CREATE ... template, values unquoted and lower-cased."""
    options = {}
    for line in (TEMPLATES / f"{name}.sql").read_text().splitlines()[1:]:
        key, _, value = line.strip().partition(" = ")
        options[key.lower()] = value.strip("'").lower()
    return options


def test_file_format_resource_has_the_templates_options() -> None:
    """GIVEN the CSV file format as a provider resource WHEN compared with sql/file_format.sql
    THEN every option is there with the same value (the template is what the local tests load with)."""
    resource = blocks(
        hcl_load(MODULES_DIR / "snowflake_account" / "main.tf"), "resource", "snowflake_file_format_csv"
    )
    args = {k: one(v) for k, v in resource["aurora_csv"].items() if not k.startswith("__")}
    options = template_options("file_format")

    assert options.pop("type") == "csv"
    terraform = {
        k: ("()" if v == [] else str(v).replace('\\"', '"').lower())
        for k, v in args.items()
        if k not in ("database", "schema", "name")
    }
    assert terraform == options


def test_merge_audit_table_resource_has_the_templates_columns() -> None:
    """GIVEN the MERGE audit table as a provider resource WHEN compared with sql/merge_audit_table.sql
    THEN names, types and NOT NULL agree."""
    from tests.infra.test_tables_and_sql import sql_columns

    table = blocks(hcl_load(MODULES_DIR / "snowflake_account" / "main.tf"), "resource", "snowflake_table")
    columns = [{k: one(v) for k, v in c.items()} for c in table["merge_audit"]["column"]]
    expected = sql_columns((TEMPLATES / "merge_audit_table.sql").read_text())

    assert [{"name": c["name"], "type": c["type"], "nullable": c["nullable"]} for c in columns] == expected


def test_every_variable_and_output_is_typed_and_described() -> None:
    """GIVEN every module and root WHEN their variables and outputs are read THEN each variable has a
    type and a description, and each output a description (an env root's outputs pass the system's
    through, described there: test_env_root_outputs_what_the_system_outputs_for_operators)."""
    problems = []
    passed_through = {env / "outputs.tf" for env in ENVS}
    for tf, doc in hcl_load_many(sorted(TERRAFORM_DIR.glob("**/*.tf"))).items():
        for entry in doc.get("variable", []):
            for name, body in entry.items():
                missing = {"type", "description"} - set(body)
                if missing:
                    problems.append(f"{rel(tf)}: variable {name} lacks {sorted(missing)}")
        for entry in doc.get("output", []):
            for name, body in entry.items():
                if "description" not in body and tf not in passed_through:
                    problems.append(f"{rel(tf)}: output {name} lacks a description")
    assert not problems, "\n".join(problems)


@needs_terraform
@pytest.mark.parametrize(
    ("module", "variable", "code_value"),
    [
        ("aws_storage", "manifest_prefix", MANIFEST_ROOT),
        ("aws_storage", "pending_prefix", PENDING_ROOT),
        ("aws_exporter", "pending_prefix", PENDING_ROOT),
        ("aws_exporter", "manifest_prefix", MANIFEST_ROOT),
        ("aws_exporter", "refresh_prefix", REFRESH_ROOT),
        ("aws_storage", "refresh_prefix", REFRESH_ROOT),
        ("aws_reconciler", "manifest_prefix", MANIFEST_ROOT),
        ("aws_reconciler", "pending_prefix", PENDING_ROOT),
        ("aws_storage", "incoming_prefix", ExporterSettings.model_fields["temp_prefix"].default),
        ("aws_exporter", "incoming_prefix", ExporterSettings.model_fields["temp_prefix"].default),
    ],
)
def test_s3_prefix_defaults_are_the_exporters_layout(module: str, variable: str, code_value: str) -> None:
    """GIVEN lifecycle rules and IAM conditions written against S3 prefixes the code fixes
    WHEN a module's default is compared with the code's constant THEN they are the same string, so
    a pin or manifest is never expired by the wrong rule or listed without permission."""
    doc = hcl_load(MODULES_DIR / module / "variables.tf")
    [body] = [entry[variable] for entry in doc["variable"] if variable in entry]
    assert one(body["default"]) == code_value


# --------------------------------------------------------------------------------------------------
# Failures that must not be dropped, and alarms that page only when something is really down
# --------------------------------------------------------------------------------------------------


def statements(doc: dict[str, Any], policy: str) -> dict[str, dict[str, Any]]:
    """The statements of one aws_iam_policy_document, by Sid, attributes unwrapped."""
    body = blocks(doc, "data", "aws_iam_policy_document")[policy]
    return {one(st["sid"]): {k: one(v) for k, v in st.items()} for st in body["statement"]}


def resource(doc: dict[str, Any], type_: str, name: str) -> dict[str, Any]:
    return {k: one(v) for k, v in blocks(doc, "resource", type_)[name].items()}


ORCHESTRATION_DIR = MODULES_DIR / "aws_orchestration"
ALERTING_DIR = MODULES_DIR / "aws_alerting"


def test_reconciler_async_failures_are_retried_then_sent_to_the_pager() -> None:
    """GIVEN the reconciler, which EventBridge Scheduler and the status-change rule invoke
    asynchronously (Lambda retries, then discards)
    WHEN its module is read
    THEN the retries are explicit (2, within Lambda's 0..2), what still fails goes to the on-failure
    destination the environment wires to the alarms topic, and the function's role may publish there
    with the key that encrypts that topic."""
    doc = hcl_load(MODULES_DIR / "aws_reconciler" / "main.tf")
    config = resource(doc, "aws_lambda_function_event_invoke_config", "reconciler")
    assert config["function_name"] == "${module.function.function_name}"
    assert config["maximum_retry_attempts"] == "${var.async_retry_attempts}"
    assert one(one(config["destination_config"])["on_failure"])["destination"] == [
        "${var.invocation_failure_topic_arn}"
    ]
    [retries] = [e["async_retry_attempts"] for e in hcl_load(MODULES_DIR / "aws_reconciler" / "variables.tf")
                 ["variable"] if "async_retry_attempts" in e]  # fmt: skip
    assert one(retries["default"]) == 2 and "validation" in retries

    policy = statements(hcl_load(MODULES_DIR / "aws_reconciler" / "iam.tf"), "reconciler")
    assert policy["RecordFailedAsyncInvocations"]["actions"] == ["sns:Publish"]
    assert policy["RecordFailedAsyncInvocations"]["resources"] == ["${var.invocation_failure_topic_arn}"]
    assert "kms:GenerateDataKey" in policy["UseOpsKeyForTopicsAndAlertState"]["actions"]

    alerting = hcl_load(ALERTING_DIR / "main.tf")
    assert resource(alerting, "aws_sns_topic", "alarms")["kms_master_key_id"] == "${aws_kms_key.ops.arn}"
    system = hcl_load(SYSTEM_MAIN)
    calls = module_calls(system)
    assert one(calls["reconciler"]["invocation_failure_topic_arn"]) == "${module.alerting.alarm_topic_arn}"
    assert one(calls["reconciler"]["common"]) == "${local.lambda_common}"
    assert locals_of(system)["lambda_common"]["ops_kms_key_arn"] == "${module.alerting.kms_key_arn}"


def test_schedules_and_the_status_rule_dead_letter_to_an_encrypted_watched_queue() -> None:
    """GIVEN both hourly schedules and the status-change rule's target
    WHEN their Terraform is read
    THEN each has a dead-letter queue: one SQS queue encrypted with the ops key, written by the
    schedules' role (Scheduler's DLQ permission model) and by EventBridge for this rule only (queue
    policy, SourceArn; the key allows EventBridge), and its depth pages."""
    schedules = hcl_load(ORCHESTRATION_DIR / "schedules.tf")
    for name in ("sync", "reconcile"):
        schedule = resource(schedules, "aws_scheduler_schedule", name)
        target = one(schedule["target"])
        assert one(target["dead_letter_config"])["arn"] == ["${aws_sqs_queue.undelivered.arn}"], name
        assert one(target["retry_policy"])["maximum_retry_attempts"] == [3 if name == "sync" else 2]
        assert schedule["group_name"] == "${aws_scheduler_schedule_group.pipeline.name}"
    role = statements(schedules, "scheduler")
    assert role["DeadLetterUndeliveredInvocations"]["actions"] == ["sqs:SendMessage"]
    assert role["DeadLetterUndeliveredInvocations"]["resources"] == ["${aws_sqs_queue.undelivered.arn}"]
    assert role["EncryptDeadLetters"]["resources"] == ["${var.ops_kms_key_arn}"]

    status = hcl_load(ORCHESTRATION_DIR / "status_changes.tf")
    assert resource(status, "aws_sqs_queue", "undelivered")["kms_master_key_id"] == "${var.ops_kms_key_arn}"
    target = resource(status, "aws_cloudwatch_event_target", "sync_status")
    assert one(target["dead_letter_config"])["arn"] == ["${aws_sqs_queue.undelivered.arn}"]
    queue_policy = statements(status, "undelivered")["StatusChangesRuleDeadLetters"]
    assert one(queue_policy["principals"])["identifiers"] == [["events.amazonaws.com"]]
    assert one(queue_policy["condition"])["values"] == [["${aws_cloudwatch_event_rule.sync_status.arn}"]]
    key_policy = statements(hcl_load(ALERTING_DIR / "iam.tf"), "ops_key")["EventBridgeEncryptsDeadLetters"]
    assert one(key_policy["principals"])["identifiers"] == [["events.amazonaws.com"]]

    depth = alarms()["undelivered"]
    assert (depth["namespace"], depth["metric_name"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert depth["dimensions"] == {"QueueName": "${var.undelivered_queue_name}"}
    assert alarm_severity(depth) == "P1"


def test_status_changes_reach_the_reconciler_which_may_read_the_cause() -> None:
    """GIVEN the rule for the state machine's status changes WHEN read THEN its pattern is the render
    module's (tested on moto), its target is the reconciler, EventBridge may invoke it for this rule
    only, and the reconciler may describe this state machine's executions only."""
    status = hcl_load(ORCHESTRATION_DIR / "status_changes.tf")
    rule = resource(status, "aws_cloudwatch_event_rule", "sync_status")
    assert rule["event_pattern"] == "${module.render.status_change_pattern}"
    assert (
        resource(status, "aws_cloudwatch_event_target", "sync_status")["arn"]
        == "${var.reconciler_function_arn}"
    )
    permission = resource(status, "aws_lambda_permission", "sync_status")
    assert permission["principal"] == "events.amazonaws.com"
    assert permission["source_arn"] == "${aws_cloudwatch_event_rule.sync_status.arn}"
    describe = statements(hcl_load(MODULES_DIR / "aws_reconciler" / "iam.tf"), "reconciler")[
        "DescribeSyncExecutions"
    ]
    assert describe["actions"] == ["states:DescribeExecution"]
    assert describe["resources"][0].endswith(":execution:${var.sync_state_machine_name}:*")
    calls = module_calls(hcl_load(SYSTEM_MAIN))
    assert one(calls["reconciler"]["sync_state_machine_name"]) == "${module.orchestration.state_machine_name}"
    # The state machine no longer publishes (its P1 went through no deduplication).
    sfn_policy = statements(hcl_load(ORCHESTRATION_DIR / "iam.tf"), "state_machine")
    assert not [s for s in sfn_policy.values() if any(a.startswith("sns:") for a in s["actions"])]


def alarms() -> dict[str, dict[str, Any]]:
    """Every alarm by name: the entries of the one-metric map (local.metric_alarms, each over
    local.alarm_defaults, as the `metric` resource's for_each merges them) and the other resources."""
    doc = hcl_load(ALERTING_DIR / "alarms.tf")
    resources = {
        n: {k: one(v) for k, v in b.items()}
        for n, b in blocks(doc, "resource", "aws_cloudwatch_metric_alarm").items()
    }
    assert resources.pop("metric")["for_each"] == (
        "${{for key , alarm in local.metric_alarms : key => merge(local.alarm_defaults,alarm)}}"
    )
    defined = locals_of(doc)
    return {n: defined["alarm_defaults"] | a for n, a in defined["metric_alarms"].items()} | resources


def test_throttle_and_scheduler_alarms_watch_the_right_metrics() -> None:
    """GIVEN the alarms WHEN read THEN Lambda Throttles is watched for both functions, and the
    Scheduler's TargetErrorCount and InvocationDroppedCount (namespace AWS/Scheduler) for the
    pipeline's own schedule group, the group both schedules are in."""
    found = alarms()
    for name, function in (("exporter_throttles", "exporter"), ("reconciler_throttles", "reconciler")):
        alarm = found[name]
        assert (alarm["namespace"], alarm["metric_name"]) == ("AWS/Lambda", "Throttles")
        assert alarm["dimensions"] == {"FunctionName": f"${{var.{function}_function_name}}"}
    for name, metric in (("scheduler_target_errors", "TargetErrorCount"),
                         ("scheduler_invocations_dropped", "InvocationDroppedCount")):  # fmt: skip
        alarm = found[name]
        assert (alarm["namespace"], alarm["metric_name"]) == ("AWS/Scheduler", metric)
        assert alarm["dimensions"] == {"ScheduleGroup": "${var.schedule_group_name}"}
    alerting = module_calls(hcl_load(SYSTEM_MAIN))["alerting"]
    assert one(alerting["schedule_group_name"]) == "${module.orchestration.schedule_group_name}"
    assert one(alerting["undelivered_queue_name"]) == "${module.orchestration.undelivered_queue_name}"


# The severity of every alarm, as docs/runbook.md ("Alerts and what they mean") lists them: what is
# down after every retry pages (P1); what something else retries, or an SLA at risk, is P3: chat only.
ALARM_SEVERITIES = {
    "state_machine_failures": "P1",
    "scheduler_invocations_dropped": "P1",
    "undelivered": "P1",
    "reconciler_errors": "P1",
    "reconciler_throttles": "P1",
    "reconciler_silent": "P1",
    "exporter_errors": "P3",
    "exporter_throttles": "P3",
    "scheduler_target_errors": "P3",
    "exporter_duration": "P3",
    "freshness": "P3",
}


def alarm_severity(alarm: dict[str, Any]) -> str:
    """An alarm's severity: a map entry names it; a resource of its own sends to its severity's topic
    (`local.alarm_topics.P1`) and tags itself with it."""
    if "severity" in alarm:
        return str(alarm["severity"])
    match = re.fullmatch(r"\$\{local\.alarm_topics\.(P\d)\}", alarm["alarm_actions"])
    assert match, alarm["alarm_actions"]
    assert alarm["ok_actions"] == alarm["alarm_actions"]
    assert alarm["tags"] == f"${{merge(var.tags,{{'severity': '{match.group(1)}'}})}}"
    return match.group(1)


def test_every_alarm_names_its_severity_and_its_severity_picks_the_topic() -> None:
    """GIVEN every CloudWatch alarm WHEN its Terraform is read THEN it names its severity (the ones in
    the runbook's table), its description starts with it, and that severity alone picks the topic:
    P1/P2 the alarms topic (pager and chat), P3 the alerts topic, whose pager subscription takes only
    messages with a severity attribute P1/P2, which alarm notifications never carry (chat only)."""
    doc = hcl_load(ALERTING_DIR / "alarms.tf")
    defined = locals_of(doc)
    assert defined["alarm_topics"] == {
        "P1": ["${aws_sns_topic.alarms.arn}"],
        "P2": ["${aws_sns_topic.alarms.arn}"],
        "P3": ["${aws_sns_topic.alerts.arn}"],
    }
    assert set(defined["alarm_labels"]) == set(defined["alarm_topics"])
    metric = resource(doc, "aws_cloudwatch_metric_alarm", "metric")
    assert metric["alarm_actions"] == metric["ok_actions"] == "${local.alarm_topics[each.value.severity]}"
    assert metric["tags"] == "${merge(var.tags,{'severity': '${each.value.severity}'})}"
    assert metric["alarm_description"].startswith("${local.alarm_labels[each.value.severity]} ")
    found = {name: alarm_severity(alarm) for name, alarm in alarms().items()}
    assert found == ALARM_SEVERITIES
    for name, alarm in alarms().items():
        if "severity" not in alarm:
            assert alarm["alarm_description"].startswith(f"${{local.alarm_labels.{found[name]}}} "), name
    [expression] = one(alarms()["state_machine_failures"]["metric_query"])["expression"]
    assert expression == "failed + timed_out + aborted"


def test_the_pager_hears_p1_p2_only_and_chat_hears_everything() -> None:
    """GIVEN the subscriptions WHEN read THEN on the alerts topic the pager's filter policy takes
    messages whose `severity` attribute is P1 or P2 (so P3/P4 alerts and attribute-less P3 alarm
    notifications never page) and chat is unfiltered; on the alarms topic (P1/P2 alarms) both are
    unfiltered."""
    main = hcl_load(ALERTING_DIR / "main.tf")
    assert locals_of(main)["pager_filter"] == "${jsonencode({'severity': ['P1', 'P2']})}"
    pager = resource(main, "aws_sns_topic_subscription", "alerts_pager")
    assert pager["topic_arn"] == "${aws_sns_topic.alerts.arn}"
    assert (pager["filter_policy_scope"], pager["filter_policy"]) == (
        "MessageAttributes",
        "${local.pager_filter}",
    )
    for name, topic in (("alerts_chat", "alerts"), ("alarms_pager", "alarms"), ("alarms_chat", "alarms")):
        subscription = resource(main, "aws_sns_topic_subscription", name)
        assert subscription["topic_arn"] == f"${{aws_sns_topic.{topic}.arn}}", name
        assert "filter_policy" not in subscription, name
    kind = {"alerts_pager": "pager", "alarms_pager": "pager", "alerts_chat": "chat", "alarms_chat": "chat"}
    for name, who in kind.items():
        subscription = resource(main, "aws_sns_topic_subscription", name)
        assert subscription["endpoint"] == f"${{var.{who}_subscription.endpoint}}", name


def test_the_reconciler_silent_alarm_acts_only_while_its_schedule_runs() -> None:
    """GIVEN the reconciler-silent alarm (P1: missing Invocations for two hours is breaching) WHEN
    read THEN its actions are on only while the schedules are enabled, so an environment whose
    schedules are off on purpose is not paged for it."""
    silent = alarms()["reconciler_silent"]
    assert (silent["metric_name"], silent["comparison_operator"], silent["threshold"]) == (
        "Invocations",
        "LessThanThreshold",
        1,
    )
    assert silent["treat_missing_data"] == "breaching"
    assert silent["actions_enabled"] == "${var.reconciler_scheduled}"
    alerting = module_calls(hcl_load(SYSTEM_MAIN))["alerting"]
    assert one(alerting["reconciler_scheduled"]) == "${var.schedules_enabled}"


def test_the_alarms_that_became_map_entries_keep_their_state() -> None:
    """GIVEN the moved blocks in alarms.tf WHEN read THEN each moves a former one-metric alarm
    resource to the map entry of the same name, so an applied environment keeps its alarms."""
    doc = hcl_load(ALERTING_DIR / "alarms.tf")
    keys = set(locals_of(doc)["metric_alarms"])
    moves = {one(m["from"]): one(m["to"]) for m in doc.get("moved", [])}
    assert moves, "no moved blocks"
    for source, target in moves.items():
        name = source.removeprefix("${aws_cloudwatch_metric_alarm.").removesuffix("}")
        assert name in keys and target == f'${{aws_cloudwatch_metric_alarm.metric["{name}"]}}', source


def github_anchor(heading: str) -> str:
    """The fragment GitHub gives a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_every_alarm_and_alert_links_a_runbook_section_that_exists() -> None:
    """GIVEN docs/runbook.md WHEN every alarm description's `#anchor` and every runbook anchor the
    Lambdas' alerts name are looked up THEN each is a heading of the runbook."""
    runbook = (REPO / "docs" / "runbook.md").read_text()
    headings = {github_anchor(h) for h in re.findall(r"^#+ (.+)$", runbook, re.MULTILINE)}
    linked = {}
    for name, alarm in alarms().items():
        match = re.search(r"\$\{var\.runbook_url\}#([\w-]+)", alarm["alarm_description"])
        assert match, f"alarm {name} links no runbook section"
        linked[f"alarm {name}"] = match.group(1)
    for source in (REPO / "lambdas").rglob("*.py"):
        for anchor in re.findall(r'(?:runbook_anchor=|RUNBOOK_ANCHOR = )"([\w-]+)"', source.read_text()):
            linked[f"{source.name} {anchor}"] = anchor
    assert "execution_alerts.py sync-execution-failed" in linked
    missing = {where: anchor for where, anchor in linked.items() if anchor not in headings}
    assert not missing, f"runbook sections missing: {missing}"


FILTER_CONDITIONS = {"prefix", "tag", "and", "object_size_greater_than", "object_size_less_than"}


def test_every_lifecycle_rule_filter_names_one_condition() -> None:
    """GIVEN every S3 lifecycle configuration (static and dynamic rules)
    WHEN each rule's filter is read THEN it names exactly one condition; the whole bucket is
    `prefix = ""`. An empty `filter {}` draws "Invalid Attribute Combination ... will be an error in a
    future version of the provider" from hashicorp/aws 5.90 to 5.97, which the pin admits
    (hashicorp/terraform-provider-aws#41710, #42714; relaxed again by #42624)."""
    rules = []
    for tf, doc in hcl_load_many(sorted(MODULES_DIR.glob("aws_*/*.tf"))).items():
        for name, body in blocks(doc, "resource", "aws_s3_bucket_lifecycle_configuration").items():
            found = [(f"{rel(tf)} {name} {one(r['id'])}", r) for r in body.get("rule", [])]
            for dynamic in body.get("dynamic", []):
                found += [
                    (f"{rel(tf)} {name} dynamic", c) for c in dynamic.get("rule", {}).get("content", [])
                ]
            rules += found
    assert len(rules) >= 5
    for where, rule in rules:
        [filter_] = rule["filter"]
        conditions = set(filter_) & FILTER_CONDITIONS
        assert len(conditions) == 1 and set(filter_) - {"__start_line__", "__end_line__"} == conditions, (
            f"{where}: filter {filter_}"
        )


def test_refresh_objects_expire_by_their_own_rule() -> None:
    """GIVEN the export bucket's lifecycle configuration
    WHEN its rules are read THEN `_refresh/` (the exporter's REFRESH_ROOT, through refresh_prefix) has
    its own rule: current versions expire after refresh_retention_days (default 30), old versions
    after noncurrent_version_days, stale multipart uploads after a day; no other rule with an
    expiration names a prefix that `_refresh/` keys start with (S3 applies every matching rule, and
    the shortest expiration wins), and the system root passes its own variable through."""
    doc = hcl_load(MODULES_DIR / "aws_storage" / "main.tf")
    body = blocks(doc, "resource", "aws_s3_bucket_lifecycle_configuration")["exports"]
    rules = {one(r["id"]): r for r in body["rule"]}
    rule = {k: one(v) for k, v in rules["expire-refresh"].items()}
    assert one(rule["filter"]["prefix"]) == "${var.refresh_prefix}"
    assert one(rule["expiration"]["days"]) == "${var.refresh_retention_days}"
    assert one(rule["noncurrent_version_expiration"]["noncurrent_days"]) == "${var.noncurrent_version_days}"
    assert one(rule["abort_incomplete_multipart_upload"]["days_after_initiation"]) == 1
    for name, other in rules.items():
        prefix = one(one(other["filter"])["prefix"])
        if name != "expire-refresh" and "expiration" in other and REFRESH_ROOT.startswith(prefix):
            assert "days" not in one(other["expiration"]), name  # only the delete-marker cleanup
    variables = {
        k: v
        for entry in hcl_load(MODULES_DIR / "aws_storage" / "variables.tf")["variable"]
        for k, v in entry.items()
    }
    assert one(variables["refresh_retention_days"]["default"]) == 30
    system = module_calls(hcl_load(TERRAFORM_DIR / "system" / "main.tf"))["storage"]
    assert one(system["refresh_retention_days"]) == "${var.refresh_retention_days}"


@pytest.mark.skipif(terraform_bin() is None, reason="terraform is not on PATH")
def test_refresh_retention_days_is_validated_by_terraform(tmp_path: Path) -> None:
    """GIVEN the aws_storage module's refresh_retention_days variable, copied as written into a
    provider-free root WHEN Terraform plans it with each value THEN whole numbers 7..365 pass and
    anything else stops the plan naming the variable."""
    text = (MODULES_DIR / "aws_storage" / "variables.tf").read_text()
    block = re.search(r'variable "refresh_retention_days" \{.*?\n\}\n', text, re.S)
    assert block is not None
    root = tmp_path / "root"
    root.mkdir()
    (root / "main.tf").write_text(
        block.group(0) + 'output "days" {\n  value = var.refresh_retention_days\n}\n'
    )
    tf = Terraform(root, tmp_path / "work")
    tf.init()
    for days, passes in ((7, True), (30, True), (365, True), (6, False), (366, False), (7.5, False)):
        code, _ = tf.run_status("plan", "-input=false", f"-var=refresh_retention_days={days}", ok=(0, 1))
        assert (code == 0) is passes, days


def test_the_sync_warehouse_has_a_notify_only_resource_monitor() -> None:
    """GIVEN the account module WHEN read THEN the task warehouse is assigned a resource monitor that
    ACCOUNTADMIN creates (only it may), over the environment's monthly credit quota, notifying at 80 %
    and 100 % and suspending nothing (P4: cost is looked at in working hours; a suspended warehouse
    would stop every MERGE); the quota comes from snowflake_warehouse.credit_quota."""
    doc = hcl_load(MODULES_DIR / "snowflake_account" / "main.tf")
    monitor = resource(doc, "snowflake_resource_monitor", "sync")
    assert monitor["provider"] == "${snowflake.accountadmin}"
    assert monitor["notify_triggers"] == [80, 100]
    assert monitor["credit_quota"] == "${var.resource_monitor.credit_quota}"
    assert not {"suspend_trigger", "suspend_immediate_trigger"} & set(monitor)
    warehouse = resource(doc, "snowflake_warehouse", "tasks")
    assert warehouse["resource_monitor"] == "${snowflake_resource_monitor.sync.name}"
    call = module_calls(hcl_load(SYSTEM_MAIN))["snowflake_account"]
    assert one(call["resource_monitor"]) == {
        "credit_quota": "${var.snowflake_warehouse.credit_quota}",
        "notify_users": "${var.snowflake_warehouse.notify_users}",
    }


def test_the_service_role_may_read_the_usage_views_the_cost_check_queries() -> None:
    """GIVEN the reconciler's production credit queries (SNOWFLAKE.ACCOUNT_USAGE views) WHEN the
    account module's grants are read THEN ACCOUNTADMIN (only it grants the SNOWFLAKE database's
    roles) gives the service role USAGE_VIEWER (PIPE_USAGE_HISTORY, QUERY_ATTRIBUTION_HISTORY) and
    OBJECT_VIEWER (PIPES), and no other SNOWFLAKE database role."""
    from aurora_sync.adapters.snowflake_history import PRODUCTION_QUERIES

    views = set(
        re.findall(
            r"SNOWFLAKE\.ACCOUNT_USAGE\.(\w+)",
            PRODUCTION_QUERIES.pipe_credits + PRODUCTION_QUERIES.merge_credits,
        )
    )
    assert views == {"PIPE_USAGE_HISTORY", "PIPES", "QUERY_ATTRIBUTION_HISTORY"}
    grant = resource(
        hcl_load(MODULES_DIR / "snowflake_account" / "grants.tf"),
        "snowflake_grant_database_role",
        "service_reads_usage",
    )
    assert grant["provider"] == "${snowflake.accountadmin}"
    assert grant["for_each"] == "${toset(['USAGE_VIEWER', 'OBJECT_VIEWER'])}"
    assert grant["database_role_name"] == r"\"SNOWFLAKE\".\"${each.value}\""  # the parser keeps HCL's escapes
    assert grant["parent_role_name"] == "${snowflake_account_role.service.name}"
