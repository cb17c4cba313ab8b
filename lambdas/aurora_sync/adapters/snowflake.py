"""Snowflake through snowflake-connector-python: the FINAL watermark (exporter), history (reconciler).

Sessions pin TIMEZONE to UTC and carry a QUERY_TAG with the run id, so every query this system
runs can be found in QUERY_HISTORY by the run that issued it.

Statement timeouts follow the invocation's remaining time (`remaining_ms`), as Aurora's
statement_timeout does (adapters/postgres.py), so a slow statement ends as a clear error the Lambda
reports, not as a killed Lambda: each statement is given the remaining time less the margin as the
connector's per-query `timeout` (its client-side timer asks Snowflake to cancel the query), and the
session is opened with STATEMENT_TIMEOUT_IN_SECONDS at the same budget, which Snowflake enforces by
itself: it stops a statement left running by a Lambda that was stopped before its timer fired.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from aurora_sync.deletes.compare import Digest, FinalHash, Key
from aurora_sync.deletes.keyhash import FinalKeyHash
from aurora_sync.errors import SyncError, TerminalError, TransientError
from aurora_sync.identifiers import quote_sf
from aurora_sync.tables import DELETED_AT_COLUMN, DeleteDetection, TableConfig
from aurora_sync.timeutil import as_utc

# Connector errnos that mean "try again": network, timeouts, service-side hiccups.
TRANSIENT_ERRNOS = frozenset({250001, 250003, 251005, 251006, 251011, 251012, 390114})
OBJECT_MISSING_ERRNOS = frozenset({2003, 2043})
# 000630 (57014) "Statement reached its statement or warehouse timeout of N second(s) and was
# canceled"; 000604 (57014) "SQL execution canceled", what a cancel by the connector's timer returns.
STATEMENT_TIMEOUT_ERRNO = 630
CANCELED_ERRNO = 604
MIN_STATEMENT_SECONDS = 1
FETCH_ROWS = 50_000  # rows taken from the cursor at a time by `stream`


class SnowflakeQueryError(TerminalError):
    """A terminal Snowflake error, keeping the connector's errno for callers that branch on it."""

    def __init__(self, message: str, errno: int) -> None:
        super().__init__(message)
        self.errno = errno


class SnowflakeStatementTimeout(TransientError):
    """Snowflake cancelled a statement at this invocation's statement timeout (the Lambda's remaining
    time less a margin), or at the warehouse's own STATEMENT_TIMEOUT_IN_SECONDS if lower. Transient,
    as Aurora's 57014 is: the next run starts with the Lambda's full time, so a statement cut short
    late in one invocation must not page as a broken table; the message says what helps if it
    recurs."""

    def __init__(self, message: str, timeout_s: int | None) -> None:
        super().__init__(message)
        self.timeout_s = timeout_s


def classify_snowflake(
    exc: Exception, action: str, timeout_s: int | None = None, elapsed_s: float = 0.0
) -> SyncError:
    """`timeout_s` and `elapsed_s` tell a cancel at the statement's timeout from another cancel."""
    from snowflake.connector import errors as sf_errors

    errno = int(getattr(exc, "errno", 0) or 0)
    sqlstate = str(getattr(exc, "sqlstate", "") or "")
    message = str(getattr(exc, "msg", "") or exc)
    detail = f"{action} failed: Snowflake error {errno} ({sqlstate}): {message}"
    timed_out = errno == STATEMENT_TIMEOUT_ERRNO or (
        errno == CANCELED_ERRNO and timeout_s is not None and elapsed_s >= timeout_s
    )
    if timed_out:
        limit = "its statement timeout" if timeout_s is None else f"{timeout_s} s"
        return SnowflakeStatementTimeout(
            f"{action}: Snowflake cancelled it after {elapsed_s:.1f} s at {limit} "
            "(STATEMENT_TIMEOUT_IN_SECONDS: this invocation's remaining Lambda time less a margin, "
            "or the warehouse's own timeout if lower), so it changed nothing. The next run starts with "
            "the Lambda's full time; if it is cancelled again, size the warehouse (SNOWFLAKE_WAREHOUSE) "
            "up, or look for queued queries and the warehouse's STATEMENT_TIMEOUT_IN_SECONDS "
            f"(Snowflake error {errno} ({sqlstate}): {message})",
            timeout_s,
        )
    if errno in TRANSIENT_ERRNOS or sqlstate.startswith("08"):
        return TransientError(detail)
    if isinstance(exc, sf_errors.OperationalError | sf_errors.InterfaceError) and errno not in {
        390100,
        390144,
    }:
        return TransientError(detail)
    if isinstance(exc, OSError | TimeoutError):
        return TransientError(f"{action} failed: {exc}")
    return SnowflakeQueryError(detail, errno)


class Snowflake:
    def __init__(
        self,
        connect_kwargs: dict[str, Any],
        remaining_ms: Callable[[], int] | None = None,
        margin_ms: int = 0,
    ) -> None:
        """`remaining_ms`: the invocation's time left (Lambda's context), None where nothing stops
        the process (tests): then statements keep the connector's default, `network_timeout`."""
        self._kwargs = connect_kwargs
        self._remaining_ms = remaining_ms
        self._margin_ms = margin_ms
        self._conn: Any = None

    def statement_seconds(self) -> int | None:
        """The time a statement started now may take: the remaining time less the margin (at least
        a second), never more than the connector's `network_timeout`, its bound until now."""
        if self._remaining_ms is None:
            return None
        budget = max(MIN_STATEMENT_SECONDS, (self._remaining_ms() - self._margin_ms) // 1000)
        network = self._kwargs.get("network_timeout")
        return budget if network is None else min(budget, int(network))

    @classmethod
    def from_settings(
        cls,
        settings: Any,
        *,
        user: str,
        password: str | None,
        private_key_der: bytes | None,
        query_tag: str,
        remaining_ms: Callable[[], int] | None = None,
        margin_ms: int = 0,
    ) -> Snowflake:
        kwargs: dict[str, Any] = {
            "account": settings.account,
            "user": user,
            "database": settings.database,
            "login_timeout": settings.login_timeout_seconds,
            "network_timeout": settings.login_timeout_seconds * 4,
            "session_parameters": {"TIMEZONE": "UTC", "QUERY_TAG": query_tag},
            "client_session_keep_alive": False,
        }
        if private_key_der is not None:
            kwargs["private_key"] = private_key_der
        elif password is not None:
            kwargs["password"] = password
        else:
            raise TerminalError("Snowflake credentials have neither private_key nor password")
        for name in ("warehouse", "role", "host", "port", "protocol"):
            value = getattr(settings, name)
            if value is not None:
                kwargs[name] = value
        return cls(kwargs, remaining_ms, margin_ms)

    def _connection(self) -> Any:
        if self._conn is None:
            import snowflake.connector  # heavy import: only when Snowflake is actually used

            kwargs = self._kwargs
            seconds = self.statement_seconds()
            if seconds is not None:  # Snowflake's own bound, from the time left at connect
                session = {**kwargs.get("session_parameters", {}), "STATEMENT_TIMEOUT_IN_SECONDS": seconds}
                kwargs = {**kwargs, "session_parameters": session}
            try:
                self._conn = snowflake.connector.connect(**kwargs)
            except Exception as exc:
                raise classify_snowflake(
                    exc, f"connect to Snowflake account {self._kwargs['account']}"
                ) from exc
        return self._conn

    @property
    def database(self) -> str:
        """SNOWFLAKE_DATABASE: every name this adapter queries is qualified with it, so the result
        never depends on which database the session happens to have as current."""
        return str(self._kwargs["database"])

    def connect(self) -> None:
        """Open the session now, so an unreachable account fails once, up front."""
        self._connection()

    def query(self, sql: str, action: str, params: tuple[Any, ...] | None = None) -> list[tuple[Any, ...]]:
        from snowflake.connector import errors as sf_errors

        connection = self._connection()
        timeout = self.statement_seconds()
        started = time.monotonic()
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params, timeout=timeout)
                return list(cursor.fetchall())
        except (sf_errors.Error, OSError) as exc:
            raise classify_snowflake(exc, action, timeout, time.monotonic() - started) from exc

    @contextlib.contextmanager
    def stream(self, sql: str, action: str) -> Iterator[Iterator[tuple[Any, ...]]]:
        """The rows of `sql` as they are consumed. The connector hands a large result over as result
        batches, each fetched when iteration reaches it ("Distributing workloads that fetch results
        with the Snowflake Connector for Python"), so fetchmany holds about a batch, not the result."""
        from snowflake.connector import errors as sf_errors

        timeout = self.statement_seconds()
        started = time.monotonic()
        cursor = None
        try:
            cursor = self._connection().cursor()
            cursor.execute(sql, timeout=timeout)
        except (sf_errors.Error, OSError) as exc:
            if cursor is not None:
                with contextlib.suppress(Exception):
                    cursor.close()
            raise classify_snowflake(exc, action, timeout, time.monotonic() - started) from exc
        try:
            yield self._fetched(cursor, action)
        finally:
            with contextlib.suppress(Exception):
                cursor.close()

    @staticmethod
    def _fetched(cursor: Any, action: str) -> Iterator[tuple[Any, ...]]:
        from snowflake.connector import errors as sf_errors

        while True:
            try:
                rows = cursor.fetchmany(FETCH_ROWS)
            except (sf_errors.Error, OSError) as exc:
                raise classify_snowflake(exc, action) from exc
            if not rows:
                return
            yield from rows

    def max_watermark(self, schema: str, table: str, column: str) -> datetime | None:
        relation = quote_sf(self.database, schema, table)
        sql = f"SELECT MAX({quote_sf(column)}) FROM {relation}"
        try:
            rows = self.query(sql, f"read MAX({column}) from {relation}")
        except SnowflakeQueryError as exc:
            if exc.errno in OBJECT_MISSING_ERRNOS:
                raise TerminalError(
                    f"{relation} does not exist in Snowflake (or the role cannot see it): "
                    "apply the Snowflake Terraform before exporting"
                ) from exc
            raise
        value = rows[0][0] if rows else None
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TerminalError(f"{schema}.{table}.{column} is not a timestamp in Snowflake (got {value!r})")
        return as_utc(value)

    # -- delete detection (aurora_sync.deletes) ----------------------------------------------------
    def _final_keys(self, table: TableConfig) -> FinalKeyHash:
        """FINAL's rows that still count: with soft deletes, those not already marked deleted."""
        live = None
        if table.delete_detection is DeleteDetection.SOFT:
            live = f"{quote_sf(DELETED_AT_COLUMN)} IS NULL"
        return FinalKeyHash(table, quote_sf(self.database, "FINAL", table.snowflake_table), live)

    def final_row_count(self, table: TableConfig) -> int:
        """Rows of FINAL that still count (Snowflake answers a plain COUNT(*) from metadata)."""
        keys = self._final_keys(table)
        where = "" if keys.live is None else f" WHERE {keys.live}"
        rows = self.query(f"SELECT COUNT(*) FROM {keys.final}{where}", f"count the rows of {keys.final}")
        return int(rows[0][0])

    def key_digests(self, table: TableConfig, buckets: int) -> dict[int, Digest]:
        """(count, checksum sum) of FINAL's keys per bucket (deletes.keyhash)."""
        keys = self._final_keys(table)
        rows = self.query(keys.digests(buckets), f"hash the keys of {keys.final}")
        return {int(b): Digest(int(c), int(s)) for b, c, s in rows}

    def bucket_keys(
        self, table: TableConfig, buckets: int, which: list[int]
    ) -> list[tuple[Key, datetime | None]]:
        """FINAL's keys of the given buckets with their watermarks."""
        keys = self._final_keys(table)
        rows = self.query(
            keys.keys(buckets, which), f"read the keys of {len(which)} bucket(s) of {keys.final}"
        )
        width = len(table.primary_keys)
        return [
            (tuple(normalize_key(v) for v in row[:width]), None if row[width] is None else as_utc(row[width]))
            for row in rows
        ]

    @contextlib.contextmanager
    def key_hash_stream(
        self, table: TableConfig, buckets: int, which: list[int] | None
    ) -> Iterator[Iterator[FinalHash]]:
        """Delete detection's wide case: (bucket, MD5, key, watermark) of FINAL's rows in `which`
        (None: every bucket), ordered by bucket."""
        keys = self._final_keys(table)
        width = len(table.primary_keys)
        with self.stream(keys.stream(buckets, which), f"stream the key hashes of {keys.final}") as rows:
            # The watermark stays as the driver returns it (naive = UTC): the compare reads it only
            # for candidates (compare.stream_candidates), so 10M rows need no datetime conversion.
            yield (
                (int(row[0]), row[1], tuple(map(normalize_key, row[2 : 2 + width])), row[2 + width])
                for row in rows
            )

    def versions(
        self, schema: str, table: TableConfig, wanted: list[tuple[Any, ...]]
    ) -> dict[tuple[Any, ...], datetime | None]:
        """Watermark of each wanted primary key found in <database>.schema.<table> (bound values,
        one query)."""
        if not wanted:
            return {}
        keys = table.primary_keys
        match = "(" + " AND ".join(f"{quote_sf(k)} = %s" for k in keys) + ")"
        sql = (
            f"SELECT {', '.join(quote_sf(k) for k in keys)}, {quote_sf(table.watermark_col)} "
            f"FROM {quote_sf(self.database, schema, table.snowflake_table)} WHERE "
            + " OR ".join([match] * len(wanted))
        )
        params = tuple(_bindable(v) for key in wanted for v in key)
        rows = self.query(sql, f"look up sampled keys in {schema}.{table.snowflake_table}", params)
        return {
            tuple(normalize_key(v) for v in row[: len(keys)]): None if row[-1] is None else as_utc(row[-1])
            for row in rows
        }

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()


def normalize_key(value: Any) -> Any:
    """Key values as both databases' drivers return them compare equal: NUMBER(38,0) may come back
    as Decimal from one side and int from the other, UUIDs as str."""
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, UUID):
        return str(value)
    return value


def _bindable(value: Any) -> Any:
    return str(value) if isinstance(value, UUID) else value
