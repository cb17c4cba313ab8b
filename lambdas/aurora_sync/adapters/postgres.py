"""Aurora PostgreSQL through pg8000 (pure Python: no native wheel in the layer).

The session is pinned to UTC: a `timestamp` (without time zone) watermark compares with the
rendered UTC bounds as the export renders it, as UTC wall-clock time. The socket, TLS and timeouts
are set up in postgres_transport.
"""

from __future__ import annotations

import contextlib
import json
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import pg8000.native
from pg8000.exceptions import DatabaseError, InterfaceError

from aurora_sync.adapters.pg_copy import CopyProtocolError, buffered_read_into, query_message, read_copy_out
from aurora_sync.adapters.postgres_transport import lift_timeout, open_socket
from aurora_sync.adapters.snowflake import normalize_key
from aurora_sync.column_types import rejected_value
from aurora_sync.deletes.compare import AuroraBucket, Digest, Key
from aurora_sync.deletes.keyhash import AuroraKeyHash
from aurora_sync.errors import StatementTimeoutError, SyncError, TerminalError, TransientError
from aurora_sync.exporter.ports import AuroraExportResult, OpenTransaction, SafeBound, Writable
from aurora_sync.identifiers import quote_pg
from aurora_sync.tables import TableConfig
from aurora_sync.timeutil import MICROSECOND, as_utc

# SQLSTATE classes/codes worth retrying: connection, serialization, resources, shutdown, lock
# timeouts, and a cancel by someone else (pg_cancel_backend). The statement timeout is also 57014 but
# terminal for its window (classify_pg tells them apart).
TRANSIENT_SQLSTATE_PREFIXES = ("08", "40", "53", "57P")
TRANSIENT_SQLSTATES = frozenset({"55P03", "57014", "57P01", "57P02", "57P03"})
QUERY_CANCELED = "57014"
STREAM_CURSOR = "aurora_sync_stream"  # the one server-side cursor a stream opens at a time
# A stream's READ ONLY transaction names itself so (SET LOCAL: until it ends) and the safe bound
# skips it: it stays open for the whole compare (minutes on a wide delete pass) but can write no row,
# so no watermark at or after its start can be waiting to commit. A constant without quotes.
READ_ONLY_STREAM = "aurora-snowflake-sync read-only key stream"
FETCH_ROWS = 100  # rows per FETCH of a stream: buckets of ~1,000 MD5s, about 3.3 MB per round trip
MD5_HEX = 32

_T = TypeVar("_T")


def classify_pg(
    exc: Exception, action: str, statement_timeout_ms: int | None = None, elapsed_ms: int = 0
) -> SyncError:
    """`statement_timeout_ms` and `elapsed_ms` tell a statement timeout from another cancel (both
    are SQLSTATE 57014) without depending on the server's message language."""
    if isinstance(exc, DatabaseError) and exc.args and isinstance(exc.args[0], dict):
        fields: dict[str, str] = exc.args[0]
        code, message = fields.get("C", ""), fields.get("M", "")
        rejected = rejected_value(message, action)  # a value the export query refused on purpose
        if rejected is not None:
            return rejected
        detail = f"{action} failed: SQLSTATE {code}: {message}"
        if (
            code == QUERY_CANCELED
            and statement_timeout_ms is not None
            and ("statement timeout" in message or elapsed_ms >= statement_timeout_ms)
        ):
            return StatementTimeoutError(
                f"{action} hit the statement timeout: cancelled after {elapsed_ms / 1000:.1f} s "
                f"(statement_timeout {statement_timeout_ms} ms, the Lambda's remaining time less a margin)",
                statement_timeout_ms,
            )
        if code in TRANSIENT_SQLSTATES or code.startswith(TRANSIENT_SQLSTATE_PREFIXES):
            return TransientError(detail)
        return TerminalError(detail)
    if isinstance(exc, InterfaceError | OSError | TimeoutError):
        return TransientError(f"{action} failed: connection problem: {exc}")
    return TerminalError(f"{action} failed: {exc}")


# Every client backend in this database with an open transaction, except this one and a delete
# pass's READ ONLY key stream (READ_ONLY_STREAM, below; a test checks the two spellings agree). A row with
# watermark <= bound cannot still be uncommitted: each open transaction began after the bound.
SAFE_BOUND_SQL = """
SELECT now() AS db_now,
       pg_is_in_recovery() AS in_recovery,
       (SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND backend_type = 'client backend'
           AND pid <> pg_backend_pid() AND state IS NULL) AS invisible,
       oldest.pid, oldest.xact_start, oldest.usename, oldest.application_name, oldest.state
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
    SELECT pid, xact_start, usename::text, application_name, state
      FROM pg_stat_activity
     WHERE datname = current_database() AND backend_type = 'client backend'
       AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
       AND application_name IS DISTINCT FROM 'aurora-snowflake-sync read-only key stream'
     ORDER BY xact_start
     LIMIT 1
) AS oldest ON true
"""

# A table's columns in order: name, type name, type category, numeric precision and scale. The
# exporter's schema check and onboarding (aurora_sync.onboarding) both read it.
COLUMNS_SQL = """
SELECT a.attname, t.typname, t.typcategory,
       information_schema._pg_numeric_precision(a.atttypid, a.atttypmod),
       information_schema._pg_numeric_scale(a.atttypid, a.atttypmod)
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_type t ON t.oid = a.atttypid
 WHERE n.nspname = :schema AND c.relname = :table AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum
"""


# Which of the named columns lack NOT NULL (a full refresh's key ranges would never select a NULL key).
NULLABLE_SQL = """
SELECT a.attname
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = :schema AND c.relname = :table AND a.attnum > 0 AND NOT a.attisdropped
   AND NOT a.attnotnull AND a.attname = ANY(:columns)
"""


@dataclass(frozen=True)
class Endpoint:
    """Where and how to connect; `tls` None is plain TCP (local tools only)."""

    host: str
    port: int
    database: str
    user: str
    password: str = field(repr=False)
    tls: ssl.SSLContext | None
    connect_timeout_s: float
    application_name: str

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}/{self.database}"


class StatementBudget:
    """statement_timeout follows the Lambda's remaining time, so no statement outlives the Lambda
    and a slow one ends as a statement timeout the exporter can answer (a smaller window) instead of
    as a killed Lambda.

    Setting it costs a round trip, so it is re-set only when REFRESH_S have passed since the last
    SET; a statement may then end up to REFRESH_S later than the margin allows, well inside it.
    """

    REFRESH_S = 5.0
    MIN_MS = 1_000

    def __init__(
        self, remaining_ms: Callable[[], int], margin_ms: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if margin_ms <= self.REFRESH_S * 1000:
            raise ValueError("the margin must exceed the refresh interval")
        self._remaining_ms = remaining_ms
        self._margin_ms = margin_ms
        self._clock = clock
        self.current_ms: int | None = None
        self._set_at = 0.0
        self._cap_ms: int | None = None

    def cap(self, milliseconds: int | None) -> None:
        """No statement may run longer than `milliseconds` (a full refresh's configured bound), even
        with more Lambda time left; None lifts the cap. The next statement sets the new timeout."""
        if milliseconds != self._cap_ms:
            self._cap_ms = milliseconds
            self.current_ms = None

    def due(self) -> int | None:
        """The statement_timeout to SET now, or None while the current one is still fresh."""
        if self.current_ms is not None and self._clock() - self._set_at < self.REFRESH_S:
            return None
        budget = self._remaining_ms() - self._margin_ms
        if self._cap_ms is not None:
            budget = min(budget, self._cap_ms)
        return max(self.MIN_MS, budget)

    def applied(self, milliseconds: int) -> None:
        self.current_ms, self._set_at = milliseconds, self._clock()

    def reset(self) -> None:
        self.current_ms = None


class Aurora:
    """One connection per invocation, reopened after a connection-level failure."""

    def __init__(self, endpoint: Endpoint, remaining_ms: Callable[[], int], margin_ms: int) -> None:
        self._endpoint = endpoint
        self._budget = StatementBudget(remaining_ms, margin_ms)
        self._conn: pg8000.native.Connection | None = None

    def _connection(self) -> pg8000.native.Connection:
        if self._conn is None:
            e = self._endpoint
            sock = open_socket(e.host, e.port, e.connect_timeout_s, e.tls)
            try:
                # TLS (if any) is done on `sock`; pg8000 must not negotiate it again.
                conn = pg8000.native.Connection(
                    e.user,
                    password=e.password,
                    database=e.database,
                    application_name=e.application_name,
                    sock=sock,
                    ssl_context=False,
                )
                conn.run("SET TimeZone = 'UTC'")
            except (DatabaseError, InterfaceError, OSError) as exc:
                sock.close()
                raise classify_pg(exc, f"connect to Aurora {e.where}") from exc
            lift_timeout(sock)
            self._budget.reset()
            self._conn = conn
        return self._conn

    def connect(self) -> None:
        """Open the connection now, so an unreachable cluster fails once, up front."""
        self._connection()

    def run(self, sql: str, action: str, stream: Any = None, **params: Any) -> list[list[Any]]:
        rows = self._guarded(action, lambda conn: conn.run(sql, stream=stream, **params))
        return rows or []

    def _guarded(self, action: str, statement: Callable[[pg8000.native.Connection], _T]) -> _T:
        """Run `statement` on the connection under the statement budget, its failure classified."""
        conn = self._connection()
        started = time.monotonic()
        try:
            timeout_ms = self._budget.due()
            if timeout_ms is not None:
                conn.run(f"SET statement_timeout = {int(timeout_ms)}")
                self._budget.applied(timeout_ms)
            started = time.monotonic()
            return statement(conn)
        except (DatabaseError, InterfaceError, OSError) as exc:
            elapsed_ms = int((time.monotonic() - started) * 1000)
            error = classify_pg(exc, action, self._budget.current_ms, elapsed_ms)
            if error.transient:
                self.close()  # the next table starts on a fresh connection
            raise error from exc
        except BaseException:
            # The stream's writer failed mid-COPY: the protocol state is unknown, start afresh.
            self.close()
            raise

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(InterfaceError, OSError):
                conn.close()

    def safe_bound(self) -> SafeBound:
        row = self.run(SAFE_BOUND_SQL, "read the commit-safe bound (pg_stat_activity)")[0]
        db_now, in_recovery, invisible, pid, xact_start, usename, app, state = row
        if in_recovery:
            raise TerminalError(
                "DB_HOST is a read replica: the commit-safe bound needs the writer's pg_stat_activity; "
                "point DB_HOST at the cluster (writer) endpoint"
            )
        if invisible:
            raise TerminalError(
                f"{invisible} sessions' transactions are invisible to the export user, so rows they are "
                "writing could be skipped; GRANT pg_read_all_stats TO the export user"
            )
        now = as_utc(db_now)
        if xact_start is None or as_utc(xact_start) > now:
            return SafeBound(upper=now, db_now=now, held_back_by=None)
        blocker = OpenTransaction(int(pid), as_utc(xact_start), usename, app, state)
        return SafeBound(upper=min(now, blocker.xact_start - MICROSECOND), db_now=now, held_back_by=blocker)

    def limit_statements(self, milliseconds: int | None) -> None:
        """Cap every later statement's timeout at `milliseconds` (StatementBudget.cap)."""
        self._budget.cap(milliseconds)

    def row_estimate(self, schema: str, table: str) -> int:
        """The planner's row count for the whole table: no scan. EXPLAIN scales pg_class.reltuples
        to the relation's current size in pages, so it is close even when ANALYZE ran long ago, and
        still an estimate when it never ran (reltuples -1)."""
        rows = self.run(
            f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {quote_pg(schema, table)}", f"estimate the rows of {table}"
        )
        plan = rows[0][0]
        doc = json.loads(plan) if isinstance(plan, str) else plan
        return int(doc[0]["Plan"]["Plan Rows"])

    def nullable(self, schema: str, table: str, columns: list[str]) -> list[str]:
        """Which of `columns` may hold NULL (no NOT NULL constraint): a key range never selects them."""
        rows = self.run(
            NULLABLE_SQL, f"read NOT NULL of {schema}.{table}", schema=schema, table=table, columns=columns
        )
        return sorted(str(row[0]) for row in rows)

    def key_sample(self, table: TableConfig, percent: float) -> list[tuple[str, ...]]:
        """The primary keys of about `percent` % of the table's pages (TABLESAMPLE SYSTEM: whole
        pages, so it reads only those), in the keys' own order, each value as PostgreSQL's text
        output (session TimeZone UTC), which reads back as the same value of the column's type."""
        # Qualified (t."k"): ORDER BY "k" alone would sort the output column of the same name, the
        # text, so 10 would come before 9.
        keys = [f"t.{quote_pg(k)}" for k in table.primary_keys]
        rows = self.run(
            f"SELECT {', '.join(f'{k}::text' for k in keys)} "
            f"FROM {quote_pg(table.schema_name, table.relation)} AS t TABLESAMPLE SYSTEM (:percent) "
            f"ORDER BY {', '.join(keys)}",
            f"sample the primary keys of {table.table_name}",
            percent=float(percent),
        )
        return [tuple(str(v) for v in row) for row in rows]

    def columns(self, schema: str, table: str) -> dict[str, str]:
        """Column name -> PostgreSQL type name (typname), in table order."""
        rows = self.run(COLUMNS_SQL, f"read columns of {schema}.{table}", schema=schema, table=table)
        return {str(row[0]): str(row[1]) for row in rows}

    def max_watermark(self, schema: str, table: str, column: str) -> datetime | None:
        rows = self.run(
            f"SELECT MAX({quote_pg(column)}) FROM {quote_pg(schema, table)}", f"read MAX({column}) of {table}"
        )
        value = rows[0][0] if rows else None
        return None if value is None else as_utc(value)

    def recent_versions(
        self, table: TableConfig, upper: datetime, limit: int
    ) -> list[tuple[tuple[Any, ...], datetime]]:
        """The `limit` most recent rows at or below `upper`: (primary key values, watermark)."""
        keys = table.primary_keys
        wm = quote_pg(table.watermark_col)
        rows = self.run(
            f"SELECT {', '.join(quote_pg(k) for k in keys)}, {wm} "
            f"FROM {quote_pg(table.schema_name, table.relation)} WHERE {wm} <= :upper "
            f"ORDER BY {wm} DESC LIMIT :limit",
            f"sample recent rows of {table.table_name}",
            upper=upper,  # a `timestamp` column compares in the session's UTC, as exported
            limit=limit,
        )
        return [(tuple(row[: len(keys)]), as_utc(row[len(keys)])) for row in rows]

    def key_digests(self, table: TableConfig, buckets: int) -> dict[int, Digest]:
        """Delete detection: (count, checksum sum) of the table's keys per bucket (deletes.keyhash)."""
        rows = self.run(AuroraKeyHash(table).digests(buckets), f"hash the keys of {table.table_name}")
        return {int(b): Digest(int(c), int(s)) for b, c, s in rows}

    def bucket_keys(self, table: TableConfig, buckets: int, which: list[int]) -> list[Key]:
        """Delete detection: the keys of the given buckets."""
        action = f"read the keys of {len(which)} bucket(s) of {table.table_name}"
        rows = self.run(AuroraKeyHash(table).keys(buckets, which), action)
        return [tuple(normalize_key(v) for v in row) for row in rows]

    def present_keys(self, table: TableConfig, keys: list[Key]) -> set[Key]:
        """Delete detection: which of `keys` Aurora has. The keys travel as one bound JSON array that
        json_populate_recordset turns into rows of the table's own row type, so each value is read by
        its column's type (no type lookup, composite keys alike) and the primary-key index answers."""
        if not keys:
            return set()
        names = table.primary_keys
        relation = quote_pg(table.schema_name, table.relation)
        on = " AND ".join(f"t.{quote_pg(k)} = w.{quote_pg(k)}" for k in names)
        wanted = json.dumps(
            [{k: None if v is None else str(v) for k, v in zip(names, key, strict=True)} for key in keys]
        )
        rows = self.run(
            f"SELECT {', '.join(f't.{quote_pg(k)}' for k in names)} FROM {relation} AS t "
            f"JOIN json_populate_recordset(NULL::{relation}, CAST(:wanted AS json)) AS w ON {on}",
            f"look up {len(keys)} candidate key(s) of {table.table_name}",
            wanted=wanted,
        )
        return {tuple(normalize_key(v) for v in row) for row in rows}

    @contextlib.contextmanager
    def key_hash_stream(
        self, table: TableConfig, buckets: int, which: list[int] | None
    ) -> Iterator[Iterator[AuroraBucket]]:
        """Delete detection's wide case: each bucket in `which` (None: every bucket) with its keys'
        MD5s, ordered by bucket, FETCH_ROWS buckets at a time."""
        sql = AuroraKeyHash(table).stream(buckets, which is not None)
        params: dict[str, Any] = {} if which is None else {"which": [int(b) for b in which]}
        with self.cursor(sql, f"stream the key hashes of {table.table_name}", **params) as rows:
            yield (
                (int(bucket), frozenset(hashes[i : i + MD5_HEX] for i in range(0, len(hashes), MD5_HEX)))
                for bucket, hashes in rows
            )

    @contextlib.contextmanager
    def cursor(self, sql: str, action: str, **params: Any) -> Iterator[Iterator[list[Any]]]:
        """The rows of `sql` as they are consumed: pg8000's `run` returns a whole result as one list,
        so a large one goes through a server-side cursor (PostgreSQL DECLARE / FETCH), which lives
        in a transaction: READ ONLY, rolled back on leaving the context (nothing to commit), which
        also closes the cursor when the caller stopped early. Each FETCH is a statement under the
        StatementBudget's timeout."""
        self.run("START TRANSACTION READ ONLY", action)
        try:
            self.run(f"SET LOCAL application_name = '{READ_ONLY_STREAM}'", action)
            self.run(f"DECLARE {STREAM_CURSOR} NO SCROLL CURSOR FOR {sql}", action, **params)
            yield self._fetched(action)
        finally:
            self._end_transaction()

    def _fetched(self, action: str) -> Iterator[list[Any]]:
        while True:
            rows = self.run(f"FETCH FORWARD {FETCH_ROWS} FROM {STREAM_CURSOR}", action)
            yield from rows
            if len(rows) < FETCH_ROWS:
                return

    def _end_transaction(self) -> None:
        conn = self._conn
        if conn is None:  # closed after a failure: the transaction ended with the session
            return
        try:
            conn.run("ROLLBACK")
        except (DatabaseError, InterfaceError, OSError):
            self.close()
        self._budget.reset()  # ROLLBACK undoes a statement_timeout SET inside the transaction

    def copy_out(self, query: str, stream: Writable) -> int:
        """Stream `COPY (query) TO STDOUT` as PostgreSQL CSV with a header; returns the row count.

        Read in large blocks by adapters/pg_copy rather than through pg8000's per-message loop
        (docs/decisions.md, "COPY OUT read in blocks"); the bytes are the server's, unchanged."""
        sql = f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER)"
        return self._guarded("COPY export query", lambda conn: self._copy_blocks(conn, sql, stream))

    def _copy_blocks(self, conn: pg8000.native.Connection, sql: str, stream: Writable) -> int:
        """Send the simple Query on pg8000's own buffered socket file and read the response there,
        so no byte pg8000 already buffered is skipped; leave pg8000's transaction status as
        ReadyForQuery reported it. An ErrorResponse raises pg8000's DatabaseError with the same
        fields pg8000 would, so classify_pg treats it as before."""
        wire = conn._sock  # pg8000 wraps the socket we opened as usock.makefile("rwb")
        encoding = conn._client_encoding
        try:
            wire.write(query_message(sql, encoding))
            wire.flush()
            outcome = read_copy_out(
                buffered_read_into(wire), stream.write, self._on_async(conn), encoding=encoding
            )
        except CopyProtocolError as exc:
            raise InterfaceError(f"COPY protocol: {exc}") from exc
        except OSError as exc:
            raise InterfaceError("network error") from exc
        if outcome.status is None or outcome.leftover:
            # Closed by the server after an error, or bytes past ReadyForQuery pg8000 will never see.
            self.close()
        else:
            conn._transaction_status = outcome.status
        if outcome.error is not None:
            raise DatabaseError(outcome.error)
        if outcome.copy_format != 0 or outcome.rows is None:
            self.close()
            raise InterfaceError(
                f"COPY ended without a text-format CopyOutResponse and a row count "
                f"(format {outcome.copy_format}, rows {outcome.rows})"
            )
        return outcome.rows

    @staticmethod
    def _on_async(conn: pg8000.native.Connection) -> Callable[[bytes, bytes], None]:
        """Notices, parameter changes and notifications during the COPY go to pg8000's own handlers,
        so conn.notices and conn.parameter_statuses stay what pg8000 alone would have made them."""

        def handle(code: bytes, payload: bytes) -> None:
            conn.message_types[code](payload, None)

        return handle

    def export_to_s3(self, query: str, bucket: str, key: str, region: str) -> AuroraExportResult:
        rows = self.run(
            "SELECT rows_uploaded, files_uploaded, bytes_uploaded FROM aws_s3.query_export_to_s3("
            ":query, aws_commons.create_s3_uri(:bucket, :key, :region), :options)",
            "aws_s3.query_export_to_s3",
            query=query,
            bucket=bucket,
            key=key,
            region=region,
            options="format csv, header true",
        )
        if not rows:
            raise TerminalError("aws_s3.query_export_to_s3 returned no result row")
        uploaded, files, size = rows[0]
        return AuroraExportResult(int(uploaded or 0), int(files or 0), int(size or 0))
