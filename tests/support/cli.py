"""The operator CLI against one Pipeline, with names found the way on-call finds them.

`terraform output -json` is written to a file from the pipeline's names (the outputs the CLI reads:
aurora_sync_cli.config.OUTPUT_VARIABLES); the connection settings are the environment of a reconciler
function created in moto, read back through lambda:GetFunctionConfiguration; the shell adds only the
AWS endpoint and the operator's own Vault token. The hourly schedule is a real EventBridge Scheduler
schedule in moto.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from aurora_sync.observability import logger
from aurora_sync_cli.main import cli
from aurora_sync_cli.session import Seams
from tests.support.local_history import LOCAL_CONTROL, LOCAL_QUERIES
from tests.support.pipeline import Pipeline
from tests.support.stack import venv_bin

LOCAL_SEAMS = Seams(history=LOCAL_QUERIES, control=LOCAL_CONTROL)
# backfill/resync follow an execution by polling it: every 0.2 s here, not the CLI's 5 s (a local
# execution ends in seconds).
FOLLOW_SEAMS = replace(LOCAL_SEAMS, poll_seconds=0.2)
# What the operator's shell holds besides AWS: their own Vault login.
OPERATOR_ONLY = ("VAULT_AUTH_METHOD", "VAULT_TOKEN")
# Set in the reconciler's environment by Terraform, never by outputs.
NAMES_FROM_OUTPUTS = (
    "TABLES_PARAMETER",
    "OVERRIDES_PATH",
    "EXPORT_BUCKET",
    "ALERT_TOPIC_ARN",
    "ALERT_STATE_TABLE",
    "SNOWFLAKE_DATABASE",
    "DB_SSL_CA_BUNDLE_PARAMETER",
    "EXPORT_LEASE_TABLE",
    "AWS_LAMBDA_FUNCTION_NAME",
)


@dataclass
class CliStack:
    pipeline: Pipeline
    directory: Path
    outputs_file: Path = field(init=False)
    schedule_name: str = field(init=False)
    schedule_group: str = field(init=False)

    def __post_init__(self) -> None:
        p = self.pipeline
        self.schedule_group = f"pipeline-{p.name}"
        self.schedule_name = f"{p.name}-sync-hourly"
        self.function_name = f"{p.name}-reconciler"
        self._create_schedule()
        self._create_reconciler()
        self.outputs_file = self.directory / "outputs.json"
        self.write_outputs()

    # -- setup ---------------------------------------------------------------------------------
    def _create_schedule(self) -> None:
        scheduler = self.pipeline.moto.client("scheduler")
        scheduler.create_schedule_group(Name=self.schedule_group)
        scheduler.create_schedule(
            Name=self.schedule_name,
            GroupName=self.schedule_group,
            ScheduleExpression="cron(5 * * * ? *)",
            ScheduleExpressionTimezone="UTC",
            Description="Hourly incremental sync of every table in tables.json",
            State="ENABLED",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={
                "Arn": f"arn:aws:states:us-east-1:123456789012:stateMachine:{self.pipeline.name}-sync",
                "RoleArn": "arn:aws:iam::123456789012:role/scheduler",
                "Input": "{}",
                "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 900},
            },
        )

    def _create_reconciler(self) -> None:
        """A function whose environment is the connection settings Terraform gives the reconciler."""
        env = self.pipeline.env()
        variables = {
            k: v
            for k, v in env.items()
            if k not in NAMES_FROM_OUTPUTS
            and k not in OPERATOR_ONLY
            and not k.startswith("AWS_")
            and k != "MIN_REMAINING_SECONDS"
        }
        variables["VAULT_AUTH_METHOD"] = "aws"  # as deployed: the operator overrides it with a token
        iam = self.pipeline.moto.client("iam")
        role = iam.create_role(
            RoleName=self.function_name,
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "sts:AssumeRole",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                        }
                    ],
                }
            ),
        )["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("handler.py", "def handler(event, context):\n    return {}\n")
        self.pipeline.moto.client("lambda").create_function(
            FunctionName=self.function_name,
            Runtime="python3.12",
            Role=role,
            Handler="handler.handler",
            Code={"ZipFile": code.getvalue()},
            Environment={"Variables": variables},
        )

    def outputs(self) -> dict[str, Any]:
        p = self.pipeline
        values: dict[str, Any] = {
            "export_bucket": p.bucket,
            "alert_topic_arn": p.topic_arn,
            "alert_state_table": p.alert_state_table,
            "snowflake_database": p.snowflake_database,
            "reconciler_function_name": self.function_name,
            "state_machine_arn": f"arn:aws:states:us-east-1:123456789012:stateMachine:{p.name}-sync",
            "export_lease_table": p.lease_table,
            "sync_schedule": {"name": self.schedule_name, "group": self.schedule_group},
            "names": {
                "tables_parameter": p.tables_parameter,
                "overrides_path": p.overrides_path,
                "db_ca_bundle_parameter": p.ca_bundle_parameter,
            },
        }
        return {name: {"sensitive": False, "type": "string", "value": v} for name, v in values.items()}

    def write_outputs(self, drop: tuple[str, ...] = ()) -> Path:
        outputs = {k: v for k, v in self.outputs().items() if k not in drop}
        self.outputs_file.write_text(json.dumps(outputs))
        return self.outputs_file

    def shell(self, **extra: str) -> dict[str, str]:
        """The operator's shell: AWS (moto) and their own Vault token, nothing else of the pipeline."""
        env = self.pipeline.env()
        shell = {**self.pipeline.moto.env, **{k: env[k] for k in OPERATOR_ONLY}}
        shell.update(extra)
        return shell

    # -- running ---------------------------------------------------------------------------------
    def invoke(
        self, *args: str, input: str | None = None, seams: Seams = LOCAL_SEAMS, **shell: str
    ) -> Result:
        """In process through click's runner, with the local stack's SQL seams. The CLI quiets the
        shared Powertools logger and points it at the runner's stderr (its own process ends there);
        both are restored, or later tests in this process would lose the Lambdas' info logs."""
        saved = dict(os.environ)
        level = logger.log_level
        streams = [(h, h.stream) for h in logger.handlers if isinstance(h, logging.StreamHandler)]
        os.environ.update(self.shell(**shell))
        os.environ.pop("AWS_LAMBDA_FUNCTION_NAME", None)
        try:
            return CliRunner().invoke(
                cli, ["--outputs", str(self.outputs_file), *args], obj=seams, input=input
            )
        finally:
            os.environ.clear()
            os.environ.update(saved)
            logger.setLevel(level)
            for handler, stream in streams:
                handler.setStream(stream)

    def run_script(self, *args: str, base_env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
        """The installed console script (.venv/bin/aurora-sync), production SQL and all."""
        env = {**base_env, **self.shell()}
        return subprocess.run(
            [str(venv_bin("aurora-sync")), "--outputs", str(self.outputs_file), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    def schedule_state(self) -> str:
        scheduler = self.pipeline.moto.client("scheduler")
        return str(scheduler.get_schedule(Name=self.schedule_name, GroupName=self.schedule_group)["State"])
