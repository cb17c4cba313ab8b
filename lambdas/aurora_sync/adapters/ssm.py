"""SSM Parameter Store: the Terraform-owned table list and CA bundle, and on-call's per-table overrides."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from aurora_sync.adapters.aws_errors import classify, error_code
from aurora_sync.config import Override, TablesConfig, parse_override, parse_tables
from aurora_sync.errors import ConfigError


class ParameterStore:
    def __init__(self, ssm: Any, tables_parameter: str, overrides_path: str) -> None:
        self._ssm = ssm
        self._tables_parameter = tables_parameter
        self._overrides_path = overrides_path

    def override_name(self, table: str) -> str:
        return f"{self._overrides_path}{table}"

    def load_tables(self) -> TablesConfig:
        raw = self._get(self._tables_parameter)
        if raw is None:
            raise ConfigError(
                self._tables_parameter, "(parameter)", "does not exist; terraform apply writes it"
            )
        return parse_tables(raw, self._tables_parameter)

    def read_text(self, name: str) -> str | None:
        """Any other parameter's value (None when it does not exist), e.g. the Aurora CA bundle."""
        return self._get(name)

    def load_override(self, table: str) -> Override | None:
        name = self.override_name(table)
        raw = self._get(name)
        return None if raw is None else parse_override(raw, name)

    def delete_override(self, table: str) -> None:
        name = self.override_name(table)
        try:
            self._ssm.delete_parameter(Name=name)
        except ClientError as exc:
            if error_code(exc) == "ParameterNotFound":
                return
            raise classify(exc, f"ssm:DeleteParameter {name}") from exc
        except BotoCoreError as exc:
            raise classify(exc, f"ssm:DeleteParameter {name}") from exc

    def _get(self, name: str) -> str | None:
        try:
            response = self._ssm.get_parameter(Name=name, WithDecryption=True)
        except ClientError as exc:
            if error_code(exc) == "ParameterNotFound":
                return None
            raise classify(exc, f"ssm:GetParameter {name}") from exc
        except BotoCoreError as exc:
            raise classify(exc, f"ssm:GetParameter {name}") from exc
        return str(response["Parameter"]["Value"])
