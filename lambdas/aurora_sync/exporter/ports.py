"""The narrow interfaces the exporter is typed against, beside aurora_sync.ports (ObjectReader,
Alerts). The adapters satisfy them structurally: adapters/postgres.Aurora, adapters/snowflake.Snowflake,
adapters/s3.ObjectStore, adapters/ssm.ParameterStore and exporter/lease.TableLeases; unit tests pass
the fakes in tests/support/memory.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from aurora_sync.deletes.ports import AuroraKeys, FinalKeys
from aurora_sync.exporter.lease import Claim, Lease
from aurora_sync.pins import PinStore
from aurora_sync.tables import Override, TableConfig


@dataclass(frozen=True)
class OpenTransaction:
    """The oldest transaction in flight: rows it writes may carry a watermark at or after its start."""

    pid: int
    xact_start: datetime
    usename: str | None
    application_name: str | None
    state: str | None


@dataclass(frozen=True)
class SafeBound:
    upper: datetime
    db_now: datetime
    held_back_by: OpenTransaction | None


@dataclass(frozen=True)
class AuroraExportResult:
    rows: int
    files: int
    bytes: int


class Writable(Protocol):
    def write(self, data: bytes | bytearray | memoryview, /) -> int: ...


class AuroraSource(AuroraKeys, Protocol):
    """The source database: its commit-safe bound, its columns, the two ways to export a query, and
    its keys for delete detection."""

    def safe_bound(self) -> SafeBound: ...

    def columns(self, schema: str, table: str) -> dict[str, str]:
        """Column name -> PostgreSQL type name, in table order; empty when the table is not visible."""
        ...

    def copy_out(self, query: str, stream: Writable) -> int:
        """The query's rows as CSV with a header into `stream`; returns the row count."""
        ...

    def export_to_s3(self, query: str, bucket: str, key: str, region: str) -> AuroraExportResult: ...

    def limit_statements(self, milliseconds: int | None) -> None:
        """Cap every later statement's timeout (a full refresh's configured bound)."""
        ...

    def row_estimate(self, schema: str, table: str) -> int:
        """The planner's estimate of the table's rows (no scan)."""
        ...

    def nullable(self, schema: str, table: str, columns: list[str]) -> list[str]:
        """Which of `columns` lack NOT NULL."""
        ...

    def key_sample(self, table: TableConfig, percent: float) -> list[tuple[str, ...]]:
        """Primary keys of about `percent` % of the pages, sorted, as PostgreSQL text."""
        ...

    def close(self) -> None: ...


class WatermarkSource(FinalKeys, Protocol):
    """Snowflake, where FINAL's watermark gives an incremental window its lower bound, and FINAL's
    keys for delete detection."""

    def max_watermark(self, schema: str, table: str, column: str) -> datetime | None: ...

    def close(self) -> None: ...


class PartWriter(Writable, Protocol):
    """A multipart upload the COPY stream is written into: visible only once committed."""

    bytes_written: int

    def commit(self) -> None: ...

    def abort(self) -> None: ...


class ExportStore(PinStore, Protocol):
    """The export bucket: pins (read, write, delete), temp parts, published data and manifests."""

    def read_range(self, key: str, start: int, end: int) -> bytes: ...

    def copy(self, source_key: str, target_key: str, size: int, prefix: bytes = b"") -> int:
        """A server-side copy of the first `size` bytes, after `prefix`; returns the bytes written."""
        ...

    def writer(self, key: str, part_bytes: int) -> PartWriter: ...

    def put_json_if(self, key: str, body: str, *, etag: str | None) -> bool:
        """S3's conditional write (refresh pointer, new plans): False when the condition failed."""
        ...

    def read_with_etag(self, key: str) -> tuple[bytes, str] | None: ...


class Overrides(Protocol):
    """On-call's per-table override (full_refresh), read by an incremental run and consumed by it."""

    def load_override(self, table: str) -> Override | None: ...

    def delete_override(self, table: str) -> None: ...


class Leases(Protocol):
    """Per-table export leases (exporter/lease.TableLeases)."""

    def acquire(self, table: str, holder: str, remaining: timedelta) -> Claim: ...

    def release(self, lease: Lease) -> None: ...
