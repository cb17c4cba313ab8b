"""One table's delete detection pass (aurora_sync.deletes holds its pure parts): compare the key
digests of Aurora and FINAL, read only the buckets that differ, and write the keys FINAL must lose
as a tombstone file with its manifest, unless the guard stops it.

Order (the safety argument, docs/architecture.md "Delete detection"):
1. FINAL's row count fixes the bucket count N, the same for both sides, and the guard's limit.
2. B is Aurora's commit-safe bound, taken before any Aurora key read (the invocation's, which the
   export used). A row stamped at or below B had committed before the read began, so a FINAL row at
   or below B - lookback that the read lacks was deleted, not merely uncommitted or inserted after
   the read (that one is stamped above B and waits as `recent`).
3. Digests on both sides; FINAL's surplus from the counts alone over the limit stops the pass
   before any key is read.
4. Keys of the differing buckets: up to MAX_BUCKETS_PER_READ of them in one IN-list read per side;
   more (the wide case: deletes spread over most buckets) as one stream per side ordered by bucket,
   compared a bucket at a time (compare.stream_candidates): one scan per side whatever the number
   of differing buckets, memory one bucket's keys plus the deletes found. The stream's candidates
   are then looked up in Aurora by value (one statement), so a key the two engines bucketed
   differently is kept, never deleted.
5. Candidates over the limit stop the pass (the stream stops reading at once); otherwise the
   tombstone file (watermark B: a key re-inserted after the read has a later watermark and wins the
   MERGE), then its manifest.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aurora_sync.alerts import Alert, Severity
from aurora_sync.deletes.compare import (
    Key,
    Streamed,
    candidates,
    delete_limit,
    differing_buckets,
    stream_candidates,
    surplus_at_least,
)
from aurora_sync.deletes.keyhash import (
    MAX_BUCKETS_PER_READ,
    STREAM_FILTER_SHARE,
    AuroraKeyHash,
    bucket_count,
)
from aurora_sync.deletes.ports import AuroraKeys, FinalKeys
from aurora_sync.deletes.tombstones import render
from aurora_sync.exporter.paging import Paging
from aurora_sync.exporter.ports import ExportStore
from aurora_sync.layout import tombstone_key, tombstone_manifest_key
from aurora_sync.manifest import TOMBSTONE_MODE, Manifest, ManifestFile
from aurora_sync.observability import logger
from aurora_sync.ports import Alerts
from aurora_sync.tables import TableConfig
from aurora_sync.timeutil import iso

CHECK = "deletes"  # P2 when the guard stops a pass
FAILED_CHECK = "deletes_failed"  # P3 when a pass cannot run
ANCHOR = "deletes-over-limit"
FAILED_ANCHOR = "deletes-failed"
MAX_KEYS_IN_ALERT = 20
# Reading the differing buckets' keys costs about what the count and digests before it did (a scan per
# side, plus sorting and transfer): a pass starts that read only with this many times their time left,
# beyond the reserve, and otherwise leaves the table to the next run (docs/benchmarks.md, deletes).
KEY_READ_COST_FACTOR = 2


@dataclass
class DeleteOutcome:
    """What one pass found and did (the table's `deletes` in the exporter's result)."""

    status: str  # "none" | "written" | "guarded" | "skipped"
    final_rows: int = 0
    buckets: int = 0
    differing: int = 0
    key_read: str | None = None  # "in" (one IN-list read per side) | "stream" (ordered, merged)
    kept: int = 0  # stream candidates Aurora has after all (bucketed differently: never deleted)
    deletes: int = 0
    recent: int = 0
    limit: int = 0
    file: str | None = None
    manifest: str | None = None
    seconds: float = 0.0
    statements: dict[str, int] = field(default_factory=dict)  # per side
    reason: str | None = None  # why "skipped"

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


class DeletePass:
    def __init__(
        self,
        *,
        store: ExportStore,
        part_bytes: int,
        aurora: Callable[[], AuroraKeys],
        snowflake: Callable[[], FinalKeys],
        safe_bound: Callable[[], datetime],
        alerts: Alerts,
        run_id: str,
        started: datetime,
        clock: Callable[[], datetime],
        remaining_ms: Callable[[], int],
        reserve_ms: int,
    ) -> None:
        self._store = store
        self._part_bytes = part_bytes
        self._aurora = aurora
        self._snowflake = snowflake
        self._safe_bound = safe_bound
        self._paging = Paging(alerts, run_id)
        self._run_id = run_id
        self._started = started
        self._clock = clock
        self._remaining_ms = remaining_ms
        self._reserve_ms = reserve_ms

    def run(self, table: TableConfig) -> DeleteOutcome:
        began = time.monotonic()
        final, aurora = self._snowflake(), self._aurora()
        rows = final.final_row_count(table)
        n = bucket_count(rows)
        out = DeleteOutcome("none", rows, n, limit=delete_limit(rows, table.delete_limit_fraction))
        bound = self._safe_bound()
        cutoff = bound - timedelta(seconds=table.lookback_seconds)
        aurora_digests, final_digests = aurora.key_digests(table, n), final.key_digests(table, n)
        out.statements = {"aurora": 1, "snowflake": 2}  # the count, the digests (B is the run's)
        differing = differing_buckets(aurora_digests, final_digests)
        out.differing = len(differing)
        at_least = surplus_at_least(aurora_digests, final_digests)
        if at_least > out.limit:
            return self._guarded(table, out, at_least, [], began)
        if differing and not self._time_for_keys(began):
            return self._skipped(table, out, began)
        found = self._compare(table, out, differing=differing, cutoff=cutoff, aurora=aurora, final=final)
        deletes = found.deletes
        out.recent = found.recent
        if found.over_limit:  # the rest cannot bring it back under
            return self._guarded(table, out, len(deletes), deletes, began)
        out.deletes = len(deletes)
        if deletes:
            self._write(table, out, deletes, cutoff, bound)
            out.status = "written"
        out.seconds = round(time.monotonic() - began, 3)
        logger.info("delete detection", extra={"table": table.table_name, **out.as_dict()})
        self._resolve(table, f"delete detection: {out.status}, {out.deletes} key(s)")
        return out

    def _time_for_keys(self, began: float) -> bool:
        """Whether the Lambda has time left to read the differing keys: a pass squeezed by a long
        export stops here, between statements, instead of having its key read cancelled at the
        statement budget (or cut off by the Lambda's timeout) midway."""
        spent_ms = (time.monotonic() - began) * 1000
        return self._remaining_ms() >= self._reserve_ms + KEY_READ_COST_FACTOR * spent_ms

    def _skipped(self, table: TableConfig, out: DeleteOutcome, began: float) -> DeleteOutcome:
        """Not a failure and not a page: the next run's pass starts afresh (nothing was written). A
        table whose pass never fits shows as `skipped` in every result and log."""
        out.status, out.reason = "skipped", "time budget"
        out.seconds = round(time.monotonic() - began, 3)
        logger.warning(
            "delete detection skipped: too little time left to read the differing keys",
            extra={"table": table.table_name, "remaining_ms": self._remaining_ms(), **out.as_dict()},
        )
        return out

    def _compare(
        self,
        table: TableConfig,
        out: DeleteOutcome,
        *,
        differing: list[int],
        cutoff: datetime,
        aurora: AuroraKeys,
        final: FinalKeys,
    ) -> Streamed:
        """The keys of the differing buckets, compared. A few buckets: one IN-list read per side,
        whole (each read is a scan of the table, so batches of them would each scan it again). More:
        one ordered stream per side, merged a bucket at a time; it names the buckets only while they
        are a minority (STREAM_FILTER_SHARE), otherwise it reads all and skips the equal ones."""
        if not differing:
            return Streamed([], 0, False, 0)
        n = out.buckets
        if len(differing) <= MAX_BUCKETS_PER_READ:
            out.key_read = "in"
            read = candidates(
                aurora.bucket_keys(table, n, differing), final.bucket_keys(table, n, differing), cutoff
            )
            self._count_statements(out)
            return Streamed(read.deletes, len(read.recent), len(read.deletes) > out.limit, len(differing))
        out.key_read = "stream"
        which = differing if len(differing) <= STREAM_FILTER_SHARE * n else None
        with (
            # FINAL's first: its statement runs to completion inside `execute`, before Aurora's
            # READ ONLY transaction opens, so Aurora is never idle in a transaction meanwhile
            # (idle_in_transaction_session_timeout) and holds other tables' safe bound back less.
            final.key_hash_stream(table, n, which) as final_rows,
            aurora.key_hash_stream(table, n, which) as aurora_rows,
        ):
            self._count_statements(out)
            found = stream_candidates(aurora_rows, final_rows, cutoff, out.limit, set(differing))
        if found.over_limit or not found.deletes:
            return found
        return self._recheck(table, out, found, aurora)

    def _recheck(
        self, table: TableConfig, out: DeleteOutcome, found: Streamed, aurora: AuroraKeys
    ) -> Streamed:
        """The stream matched keys within a bucket, so it relies on both engines putting a key in the
        same bucket (the IN-list read compares all read keys at once and does not). A key they
        bucketed differently would look deleted: each candidate is looked up in Aurora by value
        (one statement) and kept if found, with a warning, since it means the hashes disagree."""
        present = aurora.present_keys(table, found.deletes)
        out.statements = {**out.statements, "aurora": out.statements["aurora"] + 1}
        if not present:
            return found
        out.kept = len(present)
        logger.warning(
            "delete detection: keys missing from the stream are in Aurora; kept",
            extra={
                "table": table.table_name,
                "kept": len(present),
                "keys": [list(k) for k in sorted(present)[:20]],
            },
        )
        deletes = [k for k in found.deletes if k not in present]
        return Streamed(deletes, found.recent, False, found.buckets)

    @staticmethod
    def _count_statements(out: DeleteOutcome) -> None:
        out.statements = {
            "aurora": out.statements["aurora"] + 1,
            "snowflake": out.statements["snowflake"] + 1,
        }

    def failed(self, table: TableConfig, error: str) -> None:
        """A pass that could not run: the export stands; chat hears it (P3) until a pass works."""
        logger.error("delete detection failed", extra={"table": table.table_name, "error": error})
        self._page(
            Alert(
                severity=Severity.P3,
                check=FAILED_CHECK,
                table=table.table_name,
                summary=f"delete detection failed (rows deleted in Aurora stay in FINAL meanwhile): {error}"[
                    :300
                ],
                details={"error": error},
                run_id=self._run_id,
                runbook_anchor=FAILED_ANCHOR,
            )
        )

    def _write(
        self, table: TableConfig, out: DeleteOutcome, deletes: list[Key], cutoff: datetime, bound: datetime
    ) -> None:
        export_id = str(uuid.uuid4())
        started_at = self._clock()
        body = render(table, deletes, bound)
        key = tombstone_key(table.table_name, self._started, export_id)
        writer = self._store.writer(key, self._part_bytes)  # visible only once complete
        try:
            writer.write(body)
            writer.commit()
        except BaseException:
            writer.abort()
            raise
        manifest = Manifest(
            run_id=self._run_id,
            export_id=export_id,
            table=table.table_name,
            files=[ManifestFile(key, len(deletes), len(body))],
            rows=len(deletes),
            lower=iso(cutoff),
            upper=iso(bound),
            mode=TOMBSTONE_MODE,
            started_at=iso(started_at),
            finished_at=iso(self._clock()),
            query_sha256=hashlib.sha256(AuroraKeyHash(table).digests(out.buckets).encode()).hexdigest(),
            extra={"final_rows": out.final_rows, "limit": out.limit, "recent": out.recent},
        )
        out.file, out.manifest = key, tombstone_manifest_key(table.table_name, self._started, export_id)
        self._store.put_json(out.manifest, manifest.to_json())

    def _guarded(
        self, table: TableConfig, out: DeleteOutcome, count: int, keys: list[Key], began: float
    ) -> DeleteOutcome:
        out.status, out.deletes = "guarded", count
        out.seconds = round(time.monotonic() - began, 3)
        summary = (
            f"delete detection stopped: at least {count:,} of {out.final_rows:,} FINAL rows are gone from "
            f"Aurora, over the limit of {out.limit:,} (max_delete_fraction {table.delete_limit_fraction}); "
            "nothing deleted"
        )
        logger.warning("delete detection guard", extra={"table": table.table_name, **out.as_dict()})
        self._page(
            Alert(
                severity=Severity.P2,
                check=CHECK,
                table=table.table_name,
                summary=summary[:300],
                details={
                    **out.as_dict(),
                    "max_delete_fraction": table.delete_limit_fraction,
                    "keys": [list(k) for k in keys[:MAX_KEYS_IN_ALERT]],
                },
                run_id=self._run_id,
                runbook_anchor=ANCHOR,
            )
        )
        return out

    def _page(self, alert: Alert) -> None:
        self._paging.raise_alert(alert)

    def _resolve(self, table: TableConfig, evidence: str) -> None:
        for check in (CHECK, FAILED_CHECK):
            self._paging.resolve(check, table.table_name, evidence)
