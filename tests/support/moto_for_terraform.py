"""moto's server, completed where the AWS provider needs what moto 5.2 lacks, for `terraform apply`.

    python tests/support/moto_for_terraform.py -H 127.0.0.1 -p PORT

Each addition is the narrowest stand-in for one gap, found by applying the env roots
(tests/infra/test_terraform_apply.py); every other call is moto's own server, unchanged:
- states:ValidateStateMachineDefinition (the provider calls it before creating or updating a state
  machine) is not implemented: it answers "OK" with no diagnostics. The definition itself is
  validated by asl-validator and executed on moto in tests/infra/test_state_machine.py.
- states:ListStateMachineVersions (called when the provider reads a state machine) is not
  implemented: it lists moto's own versions (none unless published).
- Lambda's LoggingConfig is neither stored nor returned, so every plan after an apply would show
  logging_config being added again. It is kept and returned, with Lambda's documented default
  (Text, /aws/lambda/<name>) when none was given.
- A security group rule that references another group loses its description (moto reads it from
  the CIDR range only), so every plan would show it being set again. It is read from either.
- AWS managed policies (AWSLambdaVPCAccessExecutionRole, ...) exist only with
  MOTO_IAM_LOAD_MANAGED_POLICIES=true, set here.
Imports only moto, so it runs from any directory.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.core.responses import ActionResult
from moto.ec2.models.security_groups import SecurityGroupRule
from moto.server import main
from moto.stepfunctions.responses import StepFunctionResponse


def validate_state_machine_definition(self: StepFunctionResponse) -> ActionResult:
    return ActionResult({"result": "OK", "diagnostics": [], "truncated": False})


def list_state_machine_versions(self: StepFunctionResponse) -> ActionResult:
    machine = self.stepfunction_backend.describe_state_machine(self._get_param("stateMachineArn"))
    versions = [
        {"stateMachineVersionArn": version.arn, "creationDate": version.creation_date}
        for version in sorted(machine.versions.values(), key=lambda v: -int(v.arn.rsplit(":", 1)[1]))
    ]
    return ActionResult({"stateMachineVersions": versions})


def keep_logging_config() -> None:
    create, describe, update = (
        LambdaFunction.__init__,
        LambdaFunction.get_configuration,
        LambdaFunction.update_configuration,
    )

    def __init__(
        self: LambdaFunction, account_id: str, spec: dict[str, Any], *args: Any, **kwargs: Any
    ) -> None:
        create(self, account_id, spec, *args, **kwargs)
        self.logging_config = spec.get("LoggingConfig")

    def get_configuration(self: LambdaFunction, on_create: bool = False) -> dict[str, Any]:
        config = describe(self, on_create)
        default = {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{self.function_name}"}
        config["LoggingConfig"] = {**default, **(getattr(self, "logging_config", None) or {})}
        return config

    def update_configuration(self: LambdaFunction, config_updates: dict[str, Any]) -> dict[str, Any]:
        if "LoggingConfig" in config_updates:
            self.logging_config = config_updates["LoggingConfig"]
        return update(self, config_updates)

    LambdaFunction.__init__ = __init__  # type: ignore[method-assign]
    LambdaFunction.get_configuration = get_configuration  # type: ignore[method-assign]
    LambdaFunction.update_configuration = update_configuration  # type: ignore[method-assign]


def rule_description(self: SecurityGroupRule) -> str | None:
    return self.ip_range.get("Description") or self.source_group.get("Description")


if __name__ == "__main__":
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    for action in (validate_state_machine_definition, list_state_machine_versions):
        setattr(StepFunctionResponse, action.__name__, action)
    keep_logging_config()
    SecurityGroupRule.description = property(rule_description)  # type: ignore[method-assign,assignment]
    sys.exit(main())
