"""Typed errors at every boundary.

Retries (Step Functions, the Lambda service, on-call re-running a window) only help when the
cause can go away by itself, so every error the domain raises says which kind it is.
"""

from __future__ import annotations

from datetime import datetime


class SyncError(Exception):
    """Base of every error this package raises on purpose."""

    transient: bool = False


class TransientError(SyncError):
    """May succeed if tried again: a connection reset, a throttle, a 5xx, a lock timeout."""

    transient = True


class TerminalError(SyncError):
    """Will fail the same way again until someone changes config, code, grants or data."""


class ConfigError(TerminalError):
    """Configuration (environment, SSM parameter, override) is invalid; the message names the field."""

    def __init__(self, source: str, field: str, problem: str) -> None:
        self.source = source
        self.field = field
        self.problem = problem
        detail = problem if problem.startswith(f"{field}:") else f"{field}: {problem}"
        super().__init__(f"{source}: {detail}")


class PayloadError(TerminalError):
    """An invocation payload is invalid; raised before any side effect, naming the field."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"invalid payload: {field}: {problem}")


class StatementTimeoutError(TerminalError):
    """PostgreSQL cancelled a statement at its statement_timeout (the Lambda's remaining time less a
    margin). Terminal for the same window, which would time out again; a smaller window succeeds, so
    the exporter answers it with a re-run payload in chunks and the state machine splits the chunk."""

    def __init__(
        self, message: str, timeout_ms: int, window: tuple[datetime | None, datetime] | None = None
    ) -> None:
        self.timeout_ms = timeout_ms
        self.window = window  # (lower, upper) of the export that timed out, once known
        super().__init__(message)


class TlsVerificationError(TerminalError):
    """The server's certificate did not verify (unknown CA, wrong host name, expired). Retrying cannot
    fix it and other credentials would not either: the CA bundle or DB_HOST is wrong, or the peer is
    not the database."""


class SchemaDriftError(TerminalError):
    """A configured column no longer exists in Aurora: exporting would shift every CSV column."""


class RejectedValueError(TerminalError):
    """The export query met a value Snowflake cannot load (aurora_sync.exporter.query): the same row
    fails every retry until someone changes the data or the column's type."""

    def __init__(self, column: str, value: str, key: dict[str, object], action: str) -> None:
        self.column = column
        self.value = value
        self.key = key
        self.row = ", ".join(f"{k}={v!r}" for k, v in key.items())  # the row's primary key, shown
        super().__init__(f"{action} failed: column {column} holds {value!r} (row {self.row})")


class CredentialsError(TerminalError):
    """Credentials could not be obtained (denied, malformed secret, no fallback configured)."""


class VaultUnreachableError(TransientError):
    """Vault did not answer (connection error, timeout, 5xx): the only case that allows the KMS fallback."""


class StateConflict(TransientError):
    """A conditional write lost to a concurrent writer; re-read and decide again."""
