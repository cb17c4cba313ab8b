"""Where the CLI's names come from: Terraform outputs, the reconciler's own environment, the shell.

Resolution, each layer filling what the one above leaves unset:
1. Terraform outputs (`--env <env>`: `terraform -chdir=terraform/envs/<env> output -json`, or a saved
   copy with `--outputs FILE`): the environment's names (bucket, SSM paths, topic, tables, schedule).
2. The shell's environment: the variables the Lambdas take (TABLES_PARAMETER, EXPORT_BUCKET,
   ALERT_STATE_TABLE, DB_*, VAULT_*, SNOWFLAKE_* ...), and the operator's own credentials
   (VAULT_AUTH_METHOD=token, VAULT_TOKEN).
3. With outputs naming the reconciler, that function's environment (lambda:GetFunctionConfiguration):
   the connection settings Terraform gave it (DB_HOST, VAULT_ADDR, SNOWFLAKE_ACCOUNT ...), so on-call
   does not copy them by hand. The KMS fallback then decrypts with the reconciler's context.

No name is written here except the output names themselves, which `terraform output -json` defines.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import Field

from aurora_sync.errors import ConfigError
from aurora_sync.settings import ExporterSettings, NonEmpty, ServiceSettings, load_settings

# Output (or "output.key") -> the variable it sets. Terraform owns the names; these are its output names.
OUTPUT_VARIABLES: dict[str, str] = {
    "export_bucket": "EXPORT_BUCKET",
    "alert_topic_arn": "ALERT_TOPIC_ARN",
    "alert_state_table": "ALERT_STATE_TABLE",
    "snowflake_database": "SNOWFLAKE_DATABASE",
    "names.tables_parameter": "TABLES_PARAMETER",
    "names.overrides_path": "OVERRIDES_PATH",
    "names.db_ca_bundle_parameter": "DB_SSL_CA_BUNDLE_PARAMETER",
    "sync_schedule.name": "SYNC_SCHEDULE_NAME",
    "sync_schedule.group": "SYNC_SCHEDULE_GROUP",
    "reconciler_function_name": "RECONCILER_FUNCTION_NAME",
    "state_machine_arn": "STATE_MACHINE_ARN",
    "export_lease_table": "EXPORT_LEASE_TABLE",
}
# Outputs whose ARN gives the region when neither AWS_REGION nor AWS_DEFAULT_REGION is set.
REGION_ARNS = ("alert_topic_arn", "state_machine_arn")
FUNCTION_NAME_VARIABLE = "AWS_LAMBDA_FUNCTION_NAME"  # the KMS fallback's encryption context


class CliSettings(ServiceSettings):
    """ServiceSettings plus what only the CLI reads: the open alerts, the hourly schedule, the state
    machine and the export lease table."""

    alert_state_table: NonEmpty = Field(alias="ALERT_STATE_TABLE")
    # EventBridge Scheduler schedule of the hourly sync (pause/resume without a table).
    sync_schedule_name: str | None = Field(default=None, alias="SYNC_SCHEDULE_NAME")
    sync_schedule_group: NonEmpty = Field(default="default", alias="SYNC_SCHEDULE_GROUP")
    # The sync state machine (backfill, resync) and the exporter's lease table (resync's pre-check).
    state_machine_arn: str | None = Field(default=None, alias="STATE_MACHINE_ARN")
    export_lease_table: str | None = Field(default=None, alias="EXPORT_LEASE_TABLE")
    # The exporter's widest manual range (its own MAX_RANGE_HOURS; the Plan step checks it again).
    max_range_hours: int = Field(
        default=ExporterSettings.model_fields["max_range_hours"].default, gt=0, alias="MAX_RANGE_HOURS"
    )


def read_outputs(
    env: str | None,
    outputs_file: Path | None,
    *,
    terraform_root: Path = Path("terraform/envs"),
    run: Callable[[list[str]], str] | None = None,
) -> dict[str, Any]:
    """`{name: value}` of the environment's Terraform outputs, or {} when neither option is given."""
    if outputs_file is not None:
        try:
            raw = json.loads(outputs_file.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(
                "--outputs", str(outputs_file), f"not a `terraform output -json` file: {exc}"
            ) from None
        return _values(raw, f"--outputs {outputs_file}")
    if env is None:
        return {}
    root = terraform_root / env
    if not root.is_dir():
        raise ConfigError(
            "--env", env, f"{root} does not exist (run from the checkout, or use --outputs FILE)"
        )
    command = ["terraform", f"-chdir={root}", "output", "-json"]
    try:
        text = (run or _terraform)(command)
        return _values(json.loads(text), " ".join(command))
    except (OSError, ValueError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", None) or exc
        raise ConfigError(
            "--env", env, f"`{' '.join(command)}` failed: {str(detail).strip()[:500]}"
        ) from None


def _terraform(command: list[str]) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120).stdout


def _values(raw: Any, source: str) -> dict[str, Any]:
    if not isinstance(raw, dict) or not all(isinstance(v, dict) and "value" in v for v in raw.values()):
        raise ConfigError(
            source, "outputs", 'expected {"<name>": {"value": ...}} as `terraform output -json` prints'
        )
    return {name: item["value"] for name, item in raw.items()}


def variables_from_outputs(outputs: Mapping[str, Any]) -> dict[str, str]:
    """The variables the outputs provide (an output that is absent sets nothing)."""
    found: dict[str, str] = {}
    for path, variable in OUTPUT_VARIABLES.items():
        value: Any = outputs
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str) and value:
            found[variable] = value
    for name in REGION_ARNS:
        arn = outputs.get(name)
        if isinstance(arn, str) and arn.count(":") >= 5:
            found.setdefault("AWS_REGION", arn.split(":")[3])
            break
    return found


def resolve_environment(
    outputs: Mapping[str, Any],
    shell: Mapping[str, str],
    function_environment: Callable[[str, str], dict[str, str]],
) -> dict[str, str]:
    """Outputs over the shell over the reconciler's environment (see the module docstring)."""
    from_outputs = variables_from_outputs(outputs)
    env = dict(shell)
    if "AWS_REGION" not in env and env.get("AWS_DEFAULT_REGION"):
        env["AWS_REGION"] = env["AWS_DEFAULT_REGION"]
    for key, value in from_outputs.items():
        if key != "AWS_REGION" or "AWS_REGION" not in env:
            env[key] = value
    function = env.get("RECONCILER_FUNCTION_NAME")
    if function and env.get("AWS_REGION"):
        for key, value in function_environment(function, env["AWS_REGION"]).items():
            env.setdefault(key, value)
        env.setdefault(FUNCTION_NAME_VARIABLE, function)
    return env


def lambda_environment(function: str, region: str) -> dict[str, str]:
    """The function's environment variables as Terraform set them."""
    from aurora_sync import aws
    from aurora_sync.adapters.aws_errors import classify

    try:
        response = aws.client("lambda", region).get_function_configuration(FunctionName=function)
    except Exception as exc:  # botocore's errors: named, with what to do instead
        error = classify(exc, f"lambda:GetFunctionConfiguration {function}")
        raise ConfigError(
            "RECONCILER_FUNCTION_NAME",
            function,
            f"{error}; set the DB_*, VAULT_* and SNOWFLAKE_* variables yourself instead",
        ) from None
    variables = response.get("Environment", {}).get("Variables", {})
    return {str(k): str(v) for k, v in variables.items()}


def load_cli_settings(environ: Mapping[str, str] | None = None) -> CliSettings:
    return load_settings(CliSettings, dict(os.environ if environ is None else environ))
