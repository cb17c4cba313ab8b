"""The deploy contract between Terraform and the code: environment variables, parsed once per
cold start into typed settings. A missing or malformed variable fails the invocation before any
side effect, naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from aurora_sync.errors import ConfigError
from aurora_sync.validation import describe, describe_errors

NonEmpty = Annotated[str, Field(min_length=1)]


class ExportMode(StrEnum):
    AURORA_S3 = "aurora_s3"
    COPY_STREAM = "copy_stream"


class VaultAuthMethod(StrEnum):
    AWS = "aws"
    APPROLE = "approle"
    TOKEN = "token"  # noqa: S105 - an auth method name, not a secret


class VaultSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    addr: NonEmpty = Field(alias="VAULT_ADDR")
    auth_method: VaultAuthMethod = Field(default=VaultAuthMethod.AWS, alias="VAULT_AUTH_METHOD")
    role: str | None = Field(default=None, alias="VAULT_ROLE")
    # token auth (local) and AppRole's secret id: never logged (SecretStr).
    token: SecretStr | None = Field(default=None, alias="VAULT_TOKEN")
    approle_secret_id: SecretStr | None = Field(default=None, alias="VAULT_SECRET_ID")
    aws_auth_mount: NonEmpty = Field(default="aws", alias="VAULT_AWS_AUTH_MOUNT")
    aws_header_value: str | None = Field(default=None, alias="VAULT_AWS_HEADER_VALUE")
    kv_mount: NonEmpty = Field(default="secret", alias="VAULT_KV_MOUNT")
    secret_path: str | None = Field(default=None, alias="VAULT_SECRET_PATH")
    snowflake_secret_path: str | None = Field(default=None, alias="VAULT_SNOWFLAKE_SECRET_PATH")
    # Optional: short-lived Aurora users from the database secrets engine instead of a KV secret.
    db_role: str | None = Field(default=None, alias="VAULT_DB_ROLE")
    db_mount: NonEmpty = Field(default="database", alias="VAULT_DB_MOUNT")
    namespace: str | None = Field(default=None, alias="VAULT_NAMESPACE")
    timeout_seconds: float = Field(default=5.0, gt=0, le=60, alias="VAULT_TIMEOUT_SECONDS")


class SnowflakeSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    account: NonEmpty = Field(alias="SNOWFLAKE_ACCOUNT")
    warehouse: str | None = Field(default=None, alias="SNOWFLAKE_WAREHOUSE")
    database: NonEmpty = Field(alias="SNOWFLAKE_DATABASE")
    role: str | None = Field(default=None, alias="SNOWFLAKE_ROLE")
    # Only for a local stand-in (fakesnow); production uses the account's public endpoint.
    host: str | None = Field(default=None, alias="SNOWFLAKE_HOST")
    port: int | None = Field(default=None, alias="SNOWFLAKE_PORT")
    protocol: str | None = Field(default=None, alias="SNOWFLAKE_PROTOCOL")
    login_timeout_seconds: int = Field(default=30, gt=0, alias="SNOWFLAKE_LOGIN_TIMEOUT_SECONDS")
    # Fallback when Vault is unreachable, like DB_PASSWORD_ENCRYPTED (KMS ciphertext, base64).
    fallback_user: str | None = Field(default=None, alias="SNOWFLAKE_USER")
    fallback_private_key_encrypted: str | None = Field(default=None, alias="SNOWFLAKE_PRIVATE_KEY_ENCRYPTED")
    fallback_password_encrypted: str | None = Field(default=None, alias="SNOWFLAKE_PASSWORD_ENCRYPTED")


class DatabaseSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    host: NonEmpty = Field(alias="DB_HOST")
    port: int = Field(default=5432, gt=0, lt=65536, alias="DB_PORT")
    name: NonEmpty = Field(alias="DB_NAME")
    ssl: bool = Field(default=True, alias="DB_SSL")
    connect_timeout_seconds: int = Field(default=10, gt=0, alias="DB_CONNECT_TIMEOUT_SECONDS")
    fallback_user: str | None = Field(default=None, alias="DB_USER")
    fallback_password_encrypted: str | None = Field(default=None, alias="DB_PASSWORD_ENCRYPTED")


class ExporterSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    tables_parameter: NonEmpty = Field(default="/aurora-snowflake-sync/tables", alias="TABLES_PARAMETER")
    overrides_path: NonEmpty = Field(default="/aurora-snowflake-sync/overrides/", alias="OVERRIDES_PATH")
    export_bucket: NonEmpty = Field(alias="EXPORT_BUCKET")
    export_mode: ExportMode = Field(default=ExportMode.AURORA_S3, alias="EXPORT_MODE")
    alert_topic_arn: NonEmpty = Field(alias="ALERT_TOPIC_ARN")
    aws_region: NonEmpty = Field(default="us-east-1", alias="AWS_REGION")
    # Widest manual range accepted in one invocation (on-call splits wider ones).
    max_range_hours: int = Field(default=168, gt=0, alias="MAX_RANGE_HOURS")
    # Stop starting chunks when less than this is left of the Lambda's time.
    min_remaining_seconds: int = Field(default=60, ge=0, alias="MIN_REMAINING_SECONDS")
    # Where aurora_s3 exports land before they are complete; no pipe watches it.
    temp_prefix: NonEmpty = Field(default="_incoming/", alias="EXPORT_TEMP_PREFIX")
    multipart_chunk_mib: int = Field(default=8, ge=5, le=512, alias="EXPORT_PART_MIB")
    database: DatabaseSettings
    vault: VaultSettings
    snowflake: SnowflakeSettings

    @field_validator("overrides_path", "temp_prefix")
    @classmethod
    def _slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"


def load_exporter_settings(environ: Mapping[str, str] | None = None) -> ExporterSettings:
    """Validate every group and report all missing or bad variables at once, not one per deploy."""
    env = dict(os.environ if environ is None else environ)
    parts: dict[str, BaseModel] = {}
    problems: list[tuple[str, str]] = []
    for key, model in (
        ("database", DatabaseSettings),
        ("vault", VaultSettings),
        ("snowflake", SnowflakeSettings),
    ):
        try:
            parts[key] = model.model_validate(env)
        except ValidationError as exc:
            problems.append(describe(exc))
    try:
        if not problems:
            return ExporterSettings.model_validate({**env, **parts})
        ExporterSettings.model_validate({**env, **{k: None for k in ("database", "vault", "snowflake")}})
    except ValidationError as exc:
        own = [
            e for e in exc.errors(include_url=False) if e["loc"][0] not in ("database", "vault", "snowflake")
        ]
        if own:
            problems.insert(0, describe_errors(own))
    raise ConfigError("environment", problems[0][0], "; ".join(p for _, p in problems))
