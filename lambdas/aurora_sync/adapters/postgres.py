"""Aurora PostgreSQL through pg8000 (pure Python: no native wheel in the layer).

The session is pinned to UTC so timestamptz values in the CSV and the rendered bounds agree.
"""

from __future__ import annotations

import contextlib
import ssl
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import pg8000.native
from pg8000.exceptions import DatabaseError, InterfaceError

from aurora_sync.config import TableConfig
from aurora_sync.errors import SyncError, TerminalError, TransientError
from aurora_sync.export_sql import rejected_value
from aurora_sync.identifiers import quote_pg
from aurora_sync.timeutil import MICROSECOND, as_utc

# SQLSTATE classes/codes worth retrying: connection, serialization, resources, shutdown, lock
# timeouts. query_canceled (57014, statement_timeout) is transient too: a smaller window succeeds.
TRANSIENT_SQLSTATE_PREFIXES = ("08", "40", "53", "57P")
TRANSIENT_SQLSTATES = frozenset({"55P03", "57014", "57P01", "57P02", "57P03"})


def classify_pg(exc: Exception, action: str) -> SyncError:
    if isinstance(exc, DatabaseError) and exc.args and isinstance(exc.args[0], dict):
        fields: dict[str, str] = exc.args[0]
        code, message = fields.get("C", ""), fields.get("M", "")
        rejected = rejected_value(message, action)  # a value the export query refused on purpose
        if rejected is not None:
            return rejected
        detail = f"{action} failed: SQLSTATE {code}: {message}"
        if code in TRANSIENT_SQLSTATES or code.startswith(TRANSIENT_SQLSTATE_PREFIXES):
            return TransientError(detail)
        return TerminalError(detail)
    if isinstance(exc, InterfaceError | OSError | TimeoutError):
        return TransientError(f"{action} failed: connection problem: {exc}")
    return TerminalError(f"{action} failed: {exc}")


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
    def write(self, data: bytes, /) -> int: ...


# Every client backend in this database with an open transaction, except this one. A row with
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


class Aurora:
    """One connection per invocation, reopened after a connection-level failure."""

    def __init__(
        self,
        host: str,
        port: int,
        database: str,
        user: str,
        password: str,
        *,
        use_ssl: bool,
        timeout_seconds: int,
        application_name: str,
    ) -> None:
        self._params: dict[str, Any] = {
            "host": host,
            "port": port,
            "database": database,
            "user": user,
            "password": password,
            "timeout": timeout_seconds,
            "application_name": application_name,
            "ssl_context": ssl.create_default_context() if use_ssl else None,
        }
        self._conn: pg8000.native.Connection | None = None

    def _connection(self) -> pg8000.native.Connection:
        if self._conn is None:
            try:
                conn = pg8000.native.Connection(**self._params)
                conn.run("SET TimeZone = 'UTC'")
            except (DatabaseError, InterfaceError, OSError) as exc:
                where = f"{self._params['host']}:{self._params['port']}/{self._params['database']}"
                raise classify_pg(exc, f"connect to Aurora {where}") from exc
            self._conn = conn
        return self._conn

    def connect(self) -> None:
        """Open the connection now, so an unreachable cluster fails once, up front."""
        self._connection()

    def run(self, sql: str, action: str, stream: Any = None, **params: Any) -> list[list[Any]]:
        conn = self._connection()
        try:
            rows = conn.run(sql, stream=stream, **params)
        except (DatabaseError, InterfaceError, OSError) as exc:
            error = classify_pg(exc, action)
            if error.transient:
                self.close()  # the next table starts on a fresh connection
            raise error from exc
        except BaseException:
            # The stream's writer failed mid-COPY: the protocol state is unknown, start afresh.
            self.close()
            raise
        return rows or []

    @property
    def row_count(self) -> int:
        return int(self._connection().row_count)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(InterfaceError, OSError):
                conn.close()

    def set_statement_timeout(self, milliseconds: int) -> None:
        self.run(f"SET statement_timeout = {int(milliseconds)}", "set statement_timeout")

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

    def copy_out(self, query: str, stream: Writable) -> int:
        """Stream `COPY (query) TO STDOUT` as PostgreSQL CSV with a header; returns the row count."""
        self.run(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER)", "COPY export query", stream=stream)
        return self.row_count

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
