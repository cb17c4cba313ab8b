"""In-memory stand-ins for the exporter's ports (aurora_sync.exporter.ports), beside the shared ones in
tests/support/memory.py. Their method signatures are those of the real adapters (test_fakes.py
compares them), so a fake cannot drift from what the service calls in production.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from aurora_sync.alerts import Alert
from aurora_sync.deletes.compare import AuroraBucket, Digest, FinalHash, Key
from aurora_sync.errors import TransientError
from aurora_sync.exporter.deletes import DeletePass
from aurora_sync.exporter.lease import Claim, Lease
from aurora_sync.exporter.payloads import Attempt
from aurora_sync.exporter.ports import AuroraExportResult, SafeBound, Writable
from aurora_sync.exporter.service import ExportService
from aurora_sync.exporter.window import WindowExport
from aurora_sync.settings import ExporterSettings, load_exporter_settings
from aurora_sync.tables import Override, TableConfig, TablesConfig, parse_tables
from tests.support import key_hash
from tests.support.memory import MemoryStore, RecordingAlerts

if TYPE_CHECKING:
    from aurora_sync.exporter.ports import PartWriter

T0 = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)  # the fakes' clock and Aurora's commit-safe bound
TABLE = "public.orders"
FINAL_TABLE = "ORDERS"  # its Snowflake name, FakeSnowflake.final_max's key
COLUMNS = {"id": "int8", "note": "text", "updated_at": "timestamptz"}
HEADER = b"id,note,updated_at\n"
ENVIRONMENT = {
    "AWS_REGION": "us-east-1",
    "EXPORT_BUCKET": "exports",
    "EXPORT_LEASE_TABLE": "export-lease",
    "ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts",
    "RUNBOOK_URL": "https://git.example/aurora-snowflake-sync/blob/main/docs/runbook.md",
    "DB_HOST": "aurora.example",
    "DB_NAME": "app",
    "DB_SSL": "false",
    "VAULT_ADDR": "https://vault.example:8200",
    "SNOWFLAKE_ACCOUNT": "acme-xy12345",
    "SNOWFLAKE_DATABASE": "ANALYTICS",
}


def settings(**variables: str) -> ExporterSettings:
    return load_exporter_settings({**ENVIRONMENT, **variables})


def tables(*, lookback_seconds: int = 300, delete_detection: str = "off") -> TablesConfig:
    return parse_tables(
        f'[{{"table_name": "{TABLE}", "watermark_col": "updated_at", "primary_keys": ["id"],'
        f' "lookback_seconds": {lookback_seconds}, "delete_detection": "{delete_detection}",'
        ' "columns": [{"name": "id", "type": "NUMBER"}, {"name": "note", "type": "VARCHAR"},'
        ' {"name": "updated_at", "type": "TIMESTAMP_TZ"}]}]',
        "test",
    )


def table_config() -> TableConfig:
    config = tables().get(TABLE)
    assert config is not None
    return config


@dataclass
class MemoryWriter:
    """A multipart upload: its bytes become an object only on commit."""

    store: MemoryStore
    key: str
    buffer: bytearray = field(default_factory=bytearray)
    bytes_written: int = 0
    committed: bool = False
    aborted: bool = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.buffer += data
        self.bytes_written += len(data)
        return len(data)

    def commit(self) -> None:
        self.store.objects[self.key] = bytes(self.buffer)
        self.committed = True

    def abort(self) -> None:
        self.aborted = True


@dataclass
class ExportMemoryStore(MemoryStore):
    """MemoryStore plus what the exporter writes through: multipart writers, and copies that fail
    from the `fail_copy_at`-th on (a publish that stops midway)."""

    fail_copy_at: int | None = None
    copies: int = 0
    writers: list[MemoryWriter] = field(default_factory=list)

    def writer(self, key: str, part_bytes: int) -> PartWriter:
        self.writers.append(MemoryWriter(self, key))
        return self.writers[-1]

    def copy(self, source_key: str, target_key: str, size: int, prefix: bytes = b"") -> int:
        self.copies += 1
        if self.copies >= (self.fail_copy_at or 1):
            self._check("copy")
        data = prefix + self.objects[source_key][:size]
        self.objects[target_key] = data
        return len(data)


@dataclass
class FakeAurora:
    """Aurora with a fixed commit-safe bound and columns. An export writes `parts` (CSV bytes, each
    with the header, as Aurora writes them) to the stream or, for aurora_s3, to `store` under the
    temp key as Aurora names its parts. `fail_on` makes the named method raise."""

    store: MemoryStore
    columns_of: dict[str, str] = field(default_factory=dict)
    bound: SafeBound = field(default_factory=lambda: SafeBound(upper=T0, db_now=T0, held_back_by=None))
    rows: int = 0
    parts: list[bytes] = field(default_factory=list)
    reported_files: int | None = None  # what export_to_s3 reports, when not the parts it wrote
    fail_on: dict[str, Exception] = field(default_factory=dict)
    queries: list[str] = field(default_factory=list)
    closed: bool = False
    keys: set[Key] = field(default_factory=set)  # the table's primary keys, for delete detection
    key_reads: list[list[int]] = field(default_factory=list)  # buckets of each bucket_keys call
    key_streams: list[list[int] | None] = field(default_factory=list)  # each key_hash_stream's buckets
    misbucketed: set[Key] = field(default_factory=set)  # keys the stream puts one bucket further on
    looked_up: list[list[Key]] = field(default_factory=list)  # each present_keys call's keys
    estimate: int = 0  # row_estimate's answer
    sample_keys: list[tuple[str, ...]] = field(default_factory=list)  # key_sample's answer (text)
    nullable_keys: list[str] = field(default_factory=list)
    statement_cap_ms: int | None = None
    sampled_percent: list[float] = field(default_factory=list)

    def _check(self, method: str) -> None:
        if method in self.fail_on:
            raise self.fail_on[method]

    def key_digests(self, table: TableConfig, buckets: int) -> dict[int, Digest]:
        self._check("key_digests")
        return key_hash.digests(self.keys, buckets)

    def bucket_keys(self, table: TableConfig, buckets: int, which: list[int]) -> list[Key]:
        self._check("bucket_keys")
        self.key_reads.append(list(which))
        wanted = set(which)
        return [k for k in self.keys if key_hash.bucket_of(k, buckets) in wanted]

    @contextlib.contextmanager
    def key_hash_stream(
        self, table: TableConfig, buckets: int, which: list[int] | None
    ) -> Iterator[Iterator[AuroraBucket]]:
        self._check("key_hash_stream")
        self.key_streams.append(None if which is None else list(which))
        hashes: dict[int, set[str]] = {}
        for b, h, k in key_hash.ordered(self.keys, buckets, None):
            hashes.setdefault((b + 1) % buckets if k in self.misbucketed else b, set()).add(h)
        yield iter([(b, frozenset(hashes[b])) for b in sorted(hashes) if which is None or b in which])

    def present_keys(self, table: TableConfig, keys: list[Key]) -> set[Key]:
        self._check("present_keys")
        self.looked_up.append(list(keys))
        return {k for k in keys if k in self.keys}

    def safe_bound(self) -> SafeBound:
        self._check("safe_bound")
        return self.bound

    def columns(self, schema: str, table: str) -> dict[str, str]:
        self._check("columns")
        return dict(self.columns_of)

    def copy_out(self, query: str, stream: Writable) -> int:
        self.queries.append(query)
        self._check("copy_out")
        for part in self.parts:
            stream.write(part)
        return self.rows

    def export_to_s3(self, query: str, bucket: str, key: str, region: str) -> AuroraExportResult:
        self.queries.append(query)
        self._check("export_to_s3")
        if not self.rows:
            return AuroraExportResult(0, 0, 0)
        for number, body in enumerate(self.parts, start=1):
            self.store.objects[key if number == 1 else f"{key}_part{number}"] = body
        files = len(self.parts) if self.reported_files is None else self.reported_files
        return AuroraExportResult(self.rows, files, sum(len(p) for p in self.parts))

    def limit_statements(self, milliseconds: int | None) -> None:
        self.statement_cap_ms = milliseconds

    def row_estimate(self, schema: str, table: str) -> int:
        self._check("row_estimate")
        return self.estimate

    def nullable(self, schema: str, table: str, columns: list[str]) -> list[str]:
        return [c for c in columns if c in self.nullable_keys]

    def key_sample(self, table: TableConfig, percent: float) -> list[tuple[str, ...]]:
        """Every key (a sample of 100 %): the planner's arithmetic is what the unit tests check."""
        self._check("key_sample")
        self.sampled_percent.append(percent)
        return list(self.sample_keys)

    def close(self) -> None:
        self.closed = True


@dataclass
class FakeSnowflake:
    """FINAL's watermark per Snowflake table name (None: FINAL is empty), and FINAL's rows by key
    with their watermarks, for delete detection."""

    final_max: dict[str, datetime | None] = field(default_factory=dict)
    rows: dict[Key, datetime | None] = field(default_factory=dict)
    closed: bool = False

    def final_row_count(self, table: TableConfig) -> int:
        return len(self.rows)

    def key_digests(self, table: TableConfig, buckets: int) -> dict[int, Digest]:
        return key_hash.digests(self.rows, buckets)

    def bucket_keys(
        self, table: TableConfig, buckets: int, which: list[int]
    ) -> list[tuple[Key, datetime | None]]:
        wanted = set(which)
        return [(k, w) for k, w in self.rows.items() if key_hash.bucket_of(k, buckets) in wanted]

    @contextlib.contextmanager
    def key_hash_stream(
        self, table: TableConfig, buckets: int, which: list[int] | None
    ) -> Iterator[Iterator[FinalHash]]:
        yield iter([(b, h, k, self.rows[k]) for b, h, k in key_hash.ordered(self.rows, buckets, which)])

    def max_watermark(self, schema: str, table: str, column: str) -> datetime | None:
        assert schema == "FINAL", schema
        return self.final_max.get(table)

    def close(self) -> None:
        self.closed = True


@dataclass
class FakeOverrides:
    overrides: dict[str, Override] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)

    def load_override(self, table: str) -> Override | None:
        return self.overrides.get(table)

    def delete_override(self, table: str) -> None:
        self.overrides.pop(table, None)
        self.deleted.append(table)


@dataclass
class FakeLeases:
    """Leases held by other runs (`held`); records what this run acquired and released."""

    held: dict[str, Lease] = field(default_factory=dict)
    acquired: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)

    def acquire(self, table: str, holder: str, remaining: timedelta) -> Claim:
        other = self.held.get(table)
        if other is not None:
            return Claim(other, acquired=False)
        self.acquired.append(table)
        return Claim(Lease(table, holder, T0, T0 + remaining), acquired=True)

    def release(self, lease: Lease) -> None:
        self.released.append(lease.table)


class FailingAlerts(RecordingAlerts):
    """Alerting that is down: every raise and resolve fails as SNS or DynamoDB would."""

    def raise_alert(self, alert: Alert, escalate_after: int | None = None) -> str:
        raise TransientError("sns:Publish: throttled")

    def resolve(self, check: str, table: str, run_id: str, evidence: str) -> bool:
        raise TransientError("dynamodb:UpdateItem: throttled")


@dataclass
class Exporter:
    """The exporter as exporter/run.py composes it, on fakes; `service` runs windows, `windows`
    exports or splits one."""

    settings: ExporterSettings = field(default_factory=settings)
    tables: TablesConfig = field(default_factory=tables)
    store: ExportMemoryStore = field(default_factory=ExportMemoryStore)
    snowflake: FakeSnowflake = field(default_factory=FakeSnowflake)
    overrides: FakeOverrides = field(default_factory=FakeOverrides)
    leases: FakeLeases = field(default_factory=FakeLeases)
    alerts: RecordingAlerts = field(default_factory=RecordingAlerts)
    remaining: int = 600_000  # milliseconds left of the Lambda's time
    remaining_during_pass: int = 0  # what the delete pass sees instead, when set
    attempt: Attempt | None = None  # the state machine's attempt, when it invoked this run
    now: datetime = T0  # the clock of WindowExport (a refresh's id is the time it was planned)
    aurora: FakeAurora = field(init=False)

    def __post_init__(self) -> None:
        self.aurora = FakeAurora(self.store, dict(COLUMNS))

    @cached_property
    def windows(self) -> WindowExport:
        return WindowExport(
            settings=self.settings,
            tables=self.tables,
            overrides=self.overrides,
            store=self.store,
            open_aurora=lambda: self.aurora,
            open_snowflake=lambda: self.snowflake,
            alerts=self.alerts,
            run_id="run-1",
            clock=lambda: self.now,
        )

    @cached_property
    def deletes(self) -> DeletePass:
        return DeletePass(
            store=self.store,
            part_bytes=5 * 1024 * 1024,
            aurora=self.windows.aurora,
            snowflake=self.windows.snowflake,
            safe_bound=self.windows.safe_upper,
            alerts=self.alerts,
            run_id="run-1",
            started=T0,
            clock=lambda: T0,
            remaining_ms=lambda: self.remaining_during_pass or self.remaining,
            reserve_ms=self.settings.min_remaining_seconds * 1000,
        )

    @cached_property
    def service(self) -> ExportService:
        return ExportService(
            settings=self.settings,
            windows=self.windows,
            alerts=self.alerts,
            leases=self.leases,
            remaining_ms=lambda: self.remaining,
            run_id="run-1",
            attempt=self.attempt,
            deletes=self.deletes,
            clock=lambda: T0,
        )
