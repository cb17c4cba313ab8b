"""The adapter's block COPY reader against the real local PostgreSQL over verified TLS: the bytes are
pg8000's own COPY output byte for byte, notices between rows and a parameter change before
ReadyForQuery are handled, and the connection stays usable after the COPY and after an error in it."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from aurora_sync.adapters.postgres import Aurora, Endpoint
from aurora_sync.adapters.postgres_transport import tls_context
from aurora_sync.errors import TerminalError

ROWS = 60_000
# A NOTICE every 10,000 rows (NoticeResponse between CopyData messages) and a changed
# application_name (a ParameterStatus after CommandComplete, before ReadyForQuery).
SETUP = """
CREATE FUNCTION public.noisy(g integer) RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
    IF g % 10000 = 0 THEN RAISE NOTICE 'row %', g; END IF;
    IF g = 1 THEN PERFORM set_config('application_name', 'changed-during-copy', false); END IF;
    RETURN g;
END $$
"""
QUERY = (
    "SELECT public.noisy(g) AS id, 'text, \"quoted\"' AS note, CASE WHEN g % 7 = 0 THEN NULL "
    "ELSE repeat('é', g % 40) END AS pad, E'two\\nlines' AS multi FROM generate_series(1, {rows}) g"
)


class Sink:
    def __init__(self) -> None:
        self.data = bytearray()
        self.writes = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.data += data
        self.writes += 1
        return len(data)


@pytest.fixture(scope="module")
def database(pg_server: Any) -> str:
    name = pg_server.create_database("copy_" + uuid.uuid4().hex[:8])
    admin = pg_server.connect(dbname=name)
    try:
        admin.run(SETUP)
    finally:
        admin.close()
    return str(name)


@pytest.fixture
def aurora(pg_server: Any, database: str) -> Iterator[Aurora]:
    endpoint = Endpoint(
        host=pg_server.tls_host,
        port=pg_server.port,
        database=database,
        user=pg_server.user,
        password=pg_server.password,
        tls=tls_context(pg_server.ca_pem, "test CA"),
        connect_timeout_s=10,
        application_name="copy-out-test",
    )
    adapter = Aurora(endpoint, remaining_ms=lambda: 600_000, margin_ms=10_000)
    yield adapter
    adapter.close()


def pg8000_copy(pg_server: Any, database: str, query: str) -> bytes:
    """The same COPY through pg8000's own per-message loop, for comparison."""
    conn = pg_server.connect(dbname=database)
    try:
        conn.run("SET TimeZone = 'UTC'")
        out = io.BytesIO()
        conn.run(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER)", stream=out)
        return out.getvalue()
    finally:
        conn.close()


def test_the_block_reader_returns_pg8000s_bytes_and_handles_async_messages(
    aurora: Aurora, pg_server: Any, database: str
) -> None:
    # GIVEN a query whose rows carry quoting, NULLs, multi-byte text and newlines, and which raises
    # notices mid-stream and changes application_name
    query = QUERY.format(rows=ROWS)
    sink = Sink()
    # WHEN the adapter copies it out
    rows = aurora.copy_out(query, sink)
    # THEN the bytes are exactly pg8000's COPY of the same query, in few large writes
    assert rows == ROWS
    assert bytes(sink.data) == pg8000_copy(pg_server, database, query)
    assert sink.writes < ROWS // 100
    # AND pg8000 saw the notices and the new parameter value, as its own loop would have recorded them
    conn = aurora._connection()
    assert any(n.get(b"M") == b"row 60000" for n in conn.notices)
    assert conn.parameter_statuses["application_name"] == "changed-during-copy"
    # AND the connection is idle and usable: a later statement runs on the same session
    assert conn._transaction_status == b"I"
    assert aurora.run("SELECT current_setting('application_name')", "check")[0][0] == "changed-during-copy"


def test_an_error_mid_copy_is_classified_and_the_connection_stays_usable(aurora: Aurora) -> None:
    # GIVEN a query that fails with division by zero after 30,000 rows (about 3 MB) have been sent
    pid = aurora.run("SELECT pg_backend_pid()", "pid")[0][0]
    query = "SELECT g, repeat('x', 100) AS pad, 1 / (30000 - g) AS boom FROM generate_series(1, 40000) g"
    sink = Sink()
    # WHEN the adapter copies it out
    with pytest.raises(TerminalError, match="SQLSTATE 22012: division by zero"):
        aurora.copy_out(query, sink)
    # THEN whole megabytes had streamed before the error, and the same session answers the next statement
    assert len(sink.data) >= 1024 * 1024
    assert aurora.run("SELECT pg_backend_pid()", "pid")[0][0] == pid


def test_a_row_larger_than_the_read_block_arrives_whole(aurora: Aurora) -> None:
    # GIVEN a 3 MB field, larger than the reader's 1 MiB block
    sink = Sink()
    # WHEN copied out
    rows = aurora.copy_out("SELECT 1 AS id, repeat('x', 3000000) AS big UNION ALL SELECT 2, 'y'", sink)
    # THEN both rows arrive intact
    assert rows == 2
    assert bytes(sink.data) == b"id,big\n1," + b"x" * 3_000_000 + b"\n2,y\n"
