"""What the reconciler reads its evidence through: both databases, Snowflake's load and merge
history, and the export bucket.

The adapters satisfy them structurally (adapters/postgres.Aurora, adapters/snowflake.Snowflake,
adapters/snowflake_history.SnowflakeHistory, adapters/s3.ObjectStore); the unit tests pass the
in-memory fakes of tests/unit/reconciler/fakes.py. Paging goes through aurora_sync.ports.Alerts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from aurora_sync.adapters.snowflake_history import (
    CopyRecord,
    MergeAudit,
    MergeCredits,
    PipeCredits,
    PipeStatus,
    TaskRuns,
)
from aurora_sync.ports import ObjectReader
from aurora_sync.tables import TableConfig


class Connection(Protocol):
    def connect(self) -> None:
        """Open now, so an unreachable server fails once, up front."""
        ...

    def close(self) -> None: ...


class AuroraReader(Connection, Protocol):
    """The source side: its newest watermark, and recent rows to look up in FINAL."""

    def max_watermark(self, schema: str, table: str, column: str) -> datetime | None: ...

    def recent_versions(
        self, table: TableConfig, upper: datetime, limit: int
    ) -> list[tuple[tuple[Any, ...], datetime]]:
        """The `limit` most recent rows at or below `upper`: (primary key values, watermark)."""
        ...


class SnowflakeReader(Connection, Protocol):
    """The target side: FINAL's newest watermark, and the watermarks of sampled keys."""

    def max_watermark(self, schema: str, table: str, column: str) -> datetime | None: ...

    def versions(
        self, schema: str, table: TableConfig, wanted: list[tuple[Any, ...]]
    ) -> dict[tuple[Any, ...], datetime | None]: ...


class HistoryReader(Protocol):
    """Snowflake's record of loads and merges, read through a SnowflakeReader's session."""

    def copy_history(self, staging_table: str, since: datetime) -> list[CopyRecord]: ...

    def task_runs(
        self, database: str, schema: str, tasks: set[str], since: datetime, until: datetime
    ) -> TaskRuns: ...

    def pipe_status(self, pipe: str) -> PipeStatus: ...

    def merge_audits(self, audit_table: str, since: datetime) -> dict[str, list[MergeAudit]]: ...

    def pipe_credits(
        self, database: str, schema: str, start: datetime, end: datetime
    ) -> dict[str, PipeCredits]: ...

    def merge_credits(self, tag_prefix: str, start: datetime, end: datetime) -> dict[str, MergeCredits]: ...


class BucketReader(ObjectReader, Protocol):
    """Manifests and publish pins are read through ObjectReader; a file no load mentions is looked
    up, so the alert can say whether it was deleted or never noticed."""

    def exists(self, key: str) -> bool: ...
