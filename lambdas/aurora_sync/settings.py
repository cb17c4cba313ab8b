"""The deploy contract between Terraform and the code: environment variables, parsed once per
cold start into typed settings. A missing or malformed variable fails the invocation before any
side effect, naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, ValidationInfo, field_validator

from aurora_sync.errors import ConfigError
from aurora_sync.identifiers import validate_identifier
from aurora_sync.validation import describe, describe_errors

NonEmpty = Annotated[str, Field(min_length=1)]


def with_slash(prefix: str) -> str:
    """A path or key prefix as a directory, so appending a name never runs two names together."""
    return prefix if prefix.endswith("/") else prefix + "/"


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

    @field_validator("database")
    @classmethod
    def _database_is_an_identifier(cls, value: str) -> str:
        """It becomes the first part of every quoted Snowflake name the Lambdas put into SQL."""
        return validate_identifier(value, "SNOWFLAKE_DATABASE")


class DatabaseSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    host: NonEmpty = Field(alias="DB_HOST")
    port: int = Field(default=5432, gt=0, lt=65536, alias="DB_PORT")
    name: NonEmpty = Field(alias="DB_NAME")
    ssl: bool = Field(default=True, alias="DB_SSL")
    # SSM parameter holding the PEM CA bundle that signs the server's certificate (the RDS bundle of
    # the region in production): Lambda's trust store has no RDS CA, and the host name is verified.
    ssl_ca_bundle_parameter: str | None = Field(
        default=None, alias="DB_SSL_CA_BUNDLE_PARAMETER", validate_default=True
    )
    # Bounds TCP connect, TLS and authentication only; statements are bounded by statement_timeout.
    connect_timeout_seconds: int = Field(default=10, gt=0, alias="DB_CONNECT_TIMEOUT_SECONDS")
    fallback_user: str | None = Field(default=None, alias="DB_USER")
    fallback_password_encrypted: str | None = Field(default=None, alias="DB_PASSWORD_ENCRYPTED")

    @field_validator("ssl_ca_bundle_parameter")
    @classmethod
    def _ca_bundle_with_tls(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("ssl", True) and not value:
            raise ValueError(
                "required when DB_SSL is true: the SSM parameter holding the RDS CA bundle (PEM); "
                "without it the server's certificate cannot be verified"
            )
        return value


class ServiceSettings(BaseModel):
    """What both Lambdas share: the table list, the export bucket, alerting, and the three services
    they talk to."""

    model_config = ConfigDict(frozen=True)

    tables_parameter: NonEmpty = Field(default="/aurora-snowflake-sync/tables", alias="TABLES_PARAMETER")
    # On-call's per-table overrides. The exporter reads and deletes them; the reconciler names the one
    # to set when the only re-run of a window is a full refresh. Terraform sets both per environment.
    overrides_path: NonEmpty = Field(default="/aurora-snowflake-sync/overrides/", alias="OVERRIDES_PATH")
    export_bucket: NonEmpty = Field(alias="EXPORT_BUCKET")
    alert_topic_arn: NonEmpty = Field(alias="ALERT_TOPIC_ARN")
    # DynamoDB table holding open alerts, so one problem pages once (DESIGN.md §6). Without it
    # (local tools only) every alert is published as raised.
    alert_state_table: str | None = Field(default=None, alias="ALERT_STATE_TABLE")
    renotify_minutes: int = Field(default=240, gt=0, alias="RENOTIFY_MINUTES")
    # docs/runbook.md as on-call opens it (Terraform's runbook_url): every alert links `<it>#<section>`.
    # Required: a page whose link does not open is worse than a failed deploy.
    runbook_url: NonEmpty = Field(alias="RUNBOOK_URL")
    # Lambda always sets it; a local run without it must fail here, not talk to a default region.
    aws_region: NonEmpty = Field(alias="AWS_REGION")
    # The environment's name (Terraform's `environment`): the `--env` of the aurora-sync command each
    # alert's rerun gets (aurora_sync.commands). Absent: the command says `--env <env>`.
    sync_environment: str | None = Field(
        default=None, alias="SYNC_ENVIRONMENT", pattern=r"^[a-z][a-z0-9-]{1,15}$"
    )
    database: DatabaseSettings
    vault: VaultSettings
    snowflake: SnowflakeSettings

    @field_validator("overrides_path")
    @classmethod
    def _directory(cls, value: str) -> str:
        return with_slash(value)

    @field_validator("runbook_url")
    @classmethod
    def _https_without_fragment(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.netloc or parts.query or parts.fragment or " " in value:
            raise ValueError(
                "must be an https URL of docs/runbook.md without query or fragment (e.g. "
                "https://github.com/<org>/<repo>/blob/main/docs/runbook.md): each alert appends #<section>"
            )
        return value


class ExporterSettings(ServiceSettings):
    export_mode: ExportMode = Field(default=ExportMode.AURORA_S3, alias="EXPORT_MODE")
    # Widest manual range accepted in one invocation (on-call splits wider ones).
    max_range_hours: int = Field(default=168, gt=0, alias="MAX_RANGE_HOURS")
    # Stop starting chunks when less than this is left of the Lambda's time.
    min_remaining_seconds: int = Field(default=60, ge=0, alias="MIN_REMAINING_SECONDS")
    # Where aurora_s3 exports land before they are complete; no pipe watches it.
    temp_prefix: NonEmpty = Field(default="_incoming/", alias="EXPORT_TEMP_PREFIX")
    multipart_chunk_mib: int = Field(default=8, ge=5, le=512, alias="EXPORT_PART_MIB")
    # A table whose export fails this many runs in a row pages as P1 (pipeline down), not P2.
    export_failures_p1_after: int = Field(default=3, ge=1, alias="EXPORT_FAILURES_P1_AFTER")
    # DynamoDB table of the per-table export leases (aurora_sync.exporter.lease). Required: without it
    # nothing stops two incremental runs of one table exporting the same window at once.
    export_lease_table: NonEmpty = Field(alias="EXPORT_LEASE_TABLE")
    # A run that finds a table's lease held longer than this pages (P2 `export_lease`). No healthy
    # run holds one longer than Lambda's 15-minute maximum plus the lease's 1-minute margin, so a
    # lower limit would page for a run that is simply working.
    lease_alert_after_minutes: int = Field(default=20, ge=17, le=1440, alias="LEASE_ALERT_AFTER_MINUTES")
    # A full refresh (exporter/refresh.py) is planned in key ranges of about this many rows (a
    # request's rows_per_range overrides it), at most 1,000 ranges. Size it so one range exports
    # well inside REFRESH_STATEMENT_SECONDS.
    refresh_rows_per_range: int = Field(default=500_000, ge=10, alias="REFRESH_ROWS_PER_RANGE")
    # No Aurora statement of a full refresh (the key sample, each range's export) runs longer than
    # this, whatever is left of the Lambda's time: a range that would is cancelled and fails alone.
    refresh_statement_seconds: int = Field(default=600, ge=1, le=900, alias="REFRESH_STATEMENT_SECONDS")

    @field_validator("temp_prefix")
    @classmethod
    def _slash(cls, value: str) -> str:
        return with_slash(value)


class ReconcilerSettings(ServiceSettings):
    alert_state_table: NonEmpty = Field(alias="ALERT_STATE_TABLE")
    # How far back manifests and COPY_HISTORY (14 days of reach) are checked. TASK_HISTORY reaches
    # 7 days, and the reconciler starts its range inside that (within_reach); a longer look-back would
    # judge loads whose merges cannot be seen, so 168 stays the cap.
    lookback_hours: int = Field(default=24, gt=0, le=168, alias="RECONCILE_LOOKBACK_HOURS")
    # A manifest's files may be absent from COPY_HISTORY this long before that is a problem
    # (Snowpipe usually loads within a minute or two; the merge task runs every few minutes).
    load_grace_minutes: float = Field(default=30, gt=0, alias="LOAD_GRACE_MINUTES")
    sample_size: int = Field(default=20, ge=0, le=1000, alias="SAMPLE_SIZE")
    # A pinned window (aurora_sync.pins) no manifest covers is re-exported by the next incremental
    # run of the table; two hourly cycles and the load grace later it is a problem.
    pin_grace_minutes: float = Field(default=150, gt=0, alias="PIN_GRACE_MINUTES")
    # Checks that cannot run (Snowflake/Aurora unreachable) page P1 after this many runs in a row.
    self_alert_p1_after: int = Field(default=3, ge=1, alias="SELF_ALERT_P1_AFTER")


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)

SUB_SETTINGS: tuple[tuple[str, type[BaseModel]], ...] = (
    ("database", DatabaseSettings),
    ("vault", VaultSettings),
    ("snowflake", SnowflakeSettings),
)


def load_settings(model: type[SettingsT], environ: Mapping[str, str] | None = None) -> SettingsT:
    """Validate every group and report all missing or bad variables at once, not one per deploy."""
    env = dict(os.environ if environ is None else environ)
    parts: dict[str, BaseModel] = {}
    problems: list[tuple[str, str]] = []
    for key, sub in SUB_SETTINGS:
        try:
            parts[key] = sub.model_validate(env)
        except ValidationError as exc:
            problems.append(describe(exc, model=sub))
    try:
        if not problems:
            return model.model_validate({**env, **parts})
        model.model_validate({**env, **{k: None for k, _ in SUB_SETTINGS}})
    except ValidationError as exc:
        own = [e for e in exc.errors(include_url=False) if e["loc"][0] not in dict(SUB_SETTINGS)]
        if own:
            problems.insert(0, describe_errors(own))
    raise ConfigError("environment", problems[0][0], "; ".join(p for _, p in problems))


def load_exporter_settings(environ: Mapping[str, str] | None = None) -> ExporterSettings:
    return load_settings(ExporterSettings, environ)


def load_reconciler_settings(environ: Mapping[str, str] | None = None) -> ReconcilerSettings:
    return load_settings(ReconcilerSettings, environ)
