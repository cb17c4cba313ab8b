"""Running terraform offline for the infra tests.

Nothing is written into the repository: every root gets its own TF_DATA_DIR (the `.terraform`
directory), state file and CLI config under a temp dir. Providers come only from a local plugin
mirror (`-plugin-dir`), so `init` never reaches a registry; a root needing a provider that is not
mirrored is reported as such and the caller skips it with that message.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "terraform"
MODULES_DIR = TERRAFORM_DIR / "modules"
SYSTEM_DIR = TERRAFORM_DIR / "system"
ENVS_DIR = TERRAFORM_DIR / "envs"
RENDER_ROOT = REPO / "tests/infra/tf_render"
PLUGIN_DIR = Path(os.environ.get("TF_PLUGIN_MIRROR", "/opt/tf-plugins"))
TIMEOUT_S = 300


class TerraformError(RuntimeError):
    """A terraform command failed; the message carries its output."""


def terraform_bin() -> str | None:
    return shutil.which("terraform")


def mirrored_providers() -> set[str]:
    """`namespace/type` of every provider in the plugin mirror (e.g. hashicorp/aws)."""
    base = PLUGIN_DIR / "registry.terraform.io"
    if not base.is_dir():
        return set()
    return {f"{ns.name}/{p.name}" for ns in base.iterdir() if ns.is_dir() for p in ns.iterdir() if p.is_dir()}


@dataclass
class Terraform:
    """One root directory, with its data dir and state under `workdir`."""

    root: Path
    workdir: Path

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "terraformrc").touch()

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "AWS_"))}
        env.update(
            TF_DATA_DIR=str(self.workdir / "data"),
            TF_CLI_CONFIG_FILE=str(self.workdir / "terraformrc"),
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
            CHECKPOINT_DISABLE="1",
        )
        return env

    def run(self, *args: str, ok: tuple[int, ...] = (0,), timeout: float = TIMEOUT_S) -> str:
        """stdout of `terraform <args>`; TerraformError unless its exit code is one of `ok`."""
        return self.run_status(*args, ok=ok, timeout=timeout)[1]

    def run_status(
        self, *args: str, ok: tuple[int, ...] = (0,), timeout: float = TIMEOUT_S
    ) -> tuple[int, str]:
        """(exit code, stdout) of `terraform <args>`, e.g. plan -detailed-exitcode with ok=(0, 2)."""
        binary = terraform_bin()
        if binary is None:
            raise TerraformError("terraform is not on PATH")
        result = subprocess.run(
            [binary, f"-chdir={self.root}", *args, "-no-color"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode not in ok:
            raise TerraformError(
                f"terraform {' '.join(args)} in {self.root} failed ({result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result.returncode, result.stdout

    def init(self, plugin_dir: Path | None = None) -> None:
        args = ["init", "-backend=false", "-input=false"]
        if plugin_dir is not None:
            args.append(f"-plugin-dir={plugin_dir}")
        self.run(*args)

    def apply_outputs(self, variables: dict[str, Any]) -> dict[str, Any]:
        """`apply` a provider-free root on local state and return its outputs' values."""
        var_file = self.workdir / "vars.tfvars.json"
        var_file.write_text(json.dumps(variables))
        state = self.workdir / "terraform.tfstate"
        self.run("apply", "-auto-approve", "-input=false", f"-state={state}", f"-var-file={var_file}")
        outputs = json.loads(self.run("output", "-json", f"-state={state}"))
        return {name: output["value"] for name, output in outputs.items()}


SNOWFLAKE_MODULES = ("snowflake_account", "snowflake_table")


def stub_snowflake(tree: Path, env: Path, values: Mapping[str, str] | None = None) -> Path:
    """In a copy of terraform/: the Snowflake modules reduced to their interface (same variables,
    same outputs, no provider), and system/ and the env root without the snowflake provider, so the
    root's and the system's own expressions and every AWS module call can be validated, or applied,
    with the aws provider alone.

    Each output's value is the HCL expression `values` gives for its name, else null: enough for
    `validate`; an apply needs values where AWS resources use them (the handshake's IAM user)."""
    values = values or {}
    for name in SNOWFLAKE_MODULES:
        module = tree / "modules" / name
        outputs = re.findall(r'^output "(\w+)"', (module / "outputs.tf").read_text(), re.MULTILINE)
        for tf in module.glob("*.tf"):
            if tf.name != "variables.tf":
                tf.unlink()
        (module / "outputs.tf").write_text(
            "".join(f'output "{o}" {{\n  value = {values.get(o, "null")}\n}}\n' for o in outputs)
        )
    providers_argument = re.compile(r"\n  providers = \{.*?\n  \}\n", re.DOTALL)
    system = tree / "system"
    versions = (system / "versions.tf").read_text()
    (system / "versions.tf").write_text(
        re.sub(r"\n    snowflake = \{.*?\n    \}", "", versions, flags=re.DOTALL)
    )
    (system / "main.tf").write_text(providers_argument.sub("\n", (system / "main.tf").read_text()))
    root = tree / "envs" / env.name
    main = (root / "main.tf").read_text()
    main = re.sub(r"\n *snowflake *= \{ source = \"snowflakedb/snowflake\" \}", "", main)
    main = re.sub(r'\nprovider "snowflake" \{.*?\n\}\n', "", main, flags=re.DOTALL)
    (root / "main.tf").write_text(providers_argument.sub("\n", main))
    for tf in (*system.glob("*.tf"), *root.glob("*.tf")):
        text = tf.read_text()
        assert "snowflakedb" not in text and 'provider "snowflake"' not in text, tf
        assert "providers = {" not in text, tf
    return root


_RESOURCE_BLOCK = re.compile(r'(?m)^(?=resource ")')
_RESOURCE_HEAD = re.compile(r'resource "(snowflake_\w+)" "(\w+)"')
_SNOWFLAKE_REF = re.compile(r"\b(snowflake_\w+)\.([a-z_]\w*)")
_VALUE_REF = re.compile(r"\b(?:var|local|module)\.[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


def keep_snowflake_dependencies(tree: Path, module: str = "snowflake_table") -> None:
    """After stub_snowflake: the module's snowflake_* resources back, each as a `terraform_data`
    named `<type>__<name>` whose input is every value and resource its block references (arguments,
    depends_on, replace_triggered_by), so the root's graph orders them as it would the real ones.
    For tests of the apply order (`terraform graph`), not of what the resources do."""
    source = (MODULES_DIR / module / "main.tf").read_text()
    head, *resources = _RESOURCE_BLOCK.split(source)
    stubs = [head]
    for block in resources:
        match = _RESOURCE_HEAD.match(block)
        assert match, f"modules/{module}/main.tf: a resource that is not snowflake_*: {block[:60]}"
        code = "\n".join(line.split("#", 1)[0] for line in block.splitlines()[1:])
        refs = sorted(
            {f"terraform_data.{t}__{n}" for t, n in _SNOWFLAKE_REF.findall(code)}
            | set(_VALUE_REF.findall(code))
        )
        stubs.append(
            f'resource "terraform_data" "{match[1]}__{match[2]}" {{\n  input = [{", ".join(refs)}]\n}}\n\n'
        )
    (tree / "modules" / module / "main.tf").write_text("".join(stubs))


def required_providers(root: Path) -> set[str]:
    """`namespace/type` sources named in a root's required_providers blocks (a plain text scan)."""
    sources: set[str] = set()
    for tf in root.glob("*.tf"):
        sources.update(re.findall(r'source\s*=\s*"([a-z0-9-]+/[a-z0-9-]+)"', tf.read_text()))
    return sources


# Inputs of the state machine's render module for tests: tiny retry intervals, waits and task
# timeouts so executions on moto take seconds; fake ARNs of the shape moto accepts (the Lambda front
# answers any function).
_FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:aurora-snowflake-sync-"
BUCKET = "aurora-sync-exports-test"
STATE_MACHINE_NAME = "aurora-snowflake-sync-test-sync"
ORCHESTRATION: dict[str, Any] = {
    "exporter_function_arn": _FUNCTION_ARN + "exporter",
    "reconciler_function_arn": _FUNCTION_ARN + "reconciler",
    "state_machine_arn": f"arn:aws:states:us-east-1:123456789012:stateMachine:{STATE_MACHINE_NAME}",
    "execution_timeout_seconds": 600,
    "table_count": 2,
    "max_concurrency": 2,
    "split_parts": 2,
    "split_concurrency": 2,
    "retry": {"interval_seconds": 1, "max_attempts": 2, "backoff_rate": 1},
    "export_task_timeout_seconds": 3,
    "reconcile_task_timeout_seconds": 60,
    "ingestion_wait_seconds": 1,
}


def terraform_view(
    tables_file: Path,
    orchestration: dict[str, Any] | None = None,
    tables_parameter: str | None = None,
    render_sql: bool = True,
    database: str | None = None,
) -> dict[str, Any]:
    """What Terraform computes from `tables_file` and the state machine's render module (with
    `orchestration` inputs, default ORCHESTRATION), evaluated by applying the provider-free root
    tests/infra/tf_render (cached: one init + apply per distinct input).

    `tables_parameter` defaults to the environment's (the directory of `tables_file`);
    `render_sql=False` computes the SSM parameters only (generated lists of hundreds of tables);
    `database` defaults to the environment's too (give both for a tables file outside terraform/envs)."""
    if not render_sql:
        database = NO_SQL
    elif database is None:
        database = env_snowflake_database(tables_file.parent)
    return _terraform_view(
        str(tables_file),
        json.dumps(orchestration or ORCHESTRATION, sort_keys=True),
        tables_parameter or env_tables_parameter(tables_file.parent),
        database,
    )


NO_SQL = "UNUSED"  # the database _terraform_view gets when no SQL is rendered


@functools.cache
def _terraform_view(
    tables_file: str, orchestration: str, tables_parameter: str, database: str
) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="aurora-sync-tf-render-"))
    try:
        tf = Terraform(RENDER_ROOT, workdir)
        tf.init()
        variables = {
            "tables_file": tables_file,
            "tables_parameter": tables_parameter,
            "render_sql": database != NO_SQL,
            "database": database,
            "bucket": BUCKET,
            "orchestration": json.loads(orchestration),
        }
        return tf.apply_outputs(variables)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@functools.cache
def names_module_outputs(environment: str) -> dict[str, Any]:
    """terraform/modules/names' outputs for `environment` (every account-scoped name), computed by
    `terraform apply` of that provider-free module on local state (cached per environment)."""
    workdir = Path(tempfile.mkdtemp(prefix="aurora-sync-tf-names-"))
    try:
        tf = Terraform(MODULES_DIR / "names", workdir)
        tf.init()
        return tf.apply_outputs({"environment": environment})
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def env_values(env: Path) -> dict[str, Any]:
    """The values an env root gives terraform/system: the arguments of its `module "system"` call."""
    [call] = [
        body
        for entry in hcl_load(env / "main.tf")["module"]
        for name, body in entry.items()
        if name == "system"
    ]
    return {k: one(v) for k, v in call.items() if not k.startswith("__")}


def env_tables_parameter(env: Path) -> str:
    """The environment's TABLES_PARAMETER: modules/names' `tables_parameter` for its `environment`
    (tests/infra/test_environment_names.py evaluates that module itself and checks this form)."""
    return f"/aurora-snowflake-sync/{env_values(env)['environment']}/tables"


def env_snowflake_database(env: Path) -> str:
    """The environment's Snowflake database (`snowflake_connection.database` of its system call):
    what module.snowflake_account creates, the snowflake_table modules qualify every name with, and
    the Lambdas get as SNOWFLAKE_DATABASE."""
    database = env_values(env)["snowflake_connection"]["database"]
    if not isinstance(database, str):
        raise TerraformError(f"{env}/main.tf: snowflake_connection.database is not a string")
    return database


# --- HCL as data (checkov's parser, in the infra tools venv) ---------------------------------------

INFRA_VENV = REPO / ".venv-infra"
INFRA_PYTHON = INFRA_VENV / "bin" / "python"
_DUMP = "import hcl2, json, sys; json.dump(hcl2.load(open(sys.argv[1])), sys.stdout)"


def hcl_load(path: Path) -> dict[str, Any]:
    """One .tf file parsed by python-hcl2 (bc-python-hcl2, installed with checkov)."""
    if not INFRA_PYTHON.exists():
        raise TerraformError(f"{INFRA_PYTHON} missing: run `make venv` (scripts/bootstrap_infra.sh)")
    result = subprocess.run(
        [str(INFRA_PYTHON), "-c", _DUMP, str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        raise TerraformError(f"cannot parse {path}: {result.stderr[-2000:]}")
    data: dict[str, Any] = json.loads(result.stdout)
    return data


_DUMP_MANY = "import hcl2, json, sys; json.dump({p: hcl2.load(open(p)) for p in sys.argv[1:]}, sys.stdout)"


def hcl_load_many(paths: list[Path]) -> dict[Path, dict[str, Any]]:
    """Several .tf files in one parser process (it takes a moment to start)."""
    if not INFRA_PYTHON.exists():
        raise TerraformError(f"{INFRA_PYTHON} missing: run `make venv` (scripts/bootstrap_infra.sh)")
    result = subprocess.run(
        [str(INFRA_PYTHON), "-c", _DUMP_MANY, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise TerraformError(f"cannot parse: {result.stderr[-2000:]}")
    return {Path(p): doc for p, doc in json.loads(result.stdout).items()}


def one(value: Any) -> Any:
    """This parser wraps every attribute value in a one-element list; unwrap it."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def blocks(doc: dict[str, Any], kind: str, type_: str) -> dict[str, dict[str, Any]]:
    """`resource`/`data` blocks of one type, by name: blocks(doc, "resource", "aws_s3_bucket")."""
    found: dict[str, dict[str, Any]] = {}
    for entry in doc.get(kind, []):
        for name, body in entry.get(type_, {}).items():
            found[name] = body
    return found


def module_calls(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: body for entry in doc.get("module", []) for name, body in entry.items()}


def locals_of(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: one(v) for entry in doc.get("locals", []) for k, v in entry.items()}
