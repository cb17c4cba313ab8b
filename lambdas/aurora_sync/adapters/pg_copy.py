"""COPY OUT read in large blocks: the PostgreSQL wire framing walked in one tight loop.

PostgreSQL sends one CopyData message per row ("COPY Operations" in the PostgreSQL docs, Frontend/
Backend Protocol, Message Flow). pg8000 reads each message with two buffered reads, copies both,
dispatches through a dict and calls the stream's `write` per row: about ten Python calls a row, which
on narrow rows (about 100 bytes) made the exporter half as fast as `psql | upload`. Here the socket is
read in blocks of up to `BLOCK_BYTES`, each message's 5-byte header (Byte1 type, Int32 length that
counts itself; "Message Formats") is unpacked in place, and the CopyData payloads are appended to one
buffer handed to the sink about every `FLUSH_BYTES`: a few bytecode operations and no call per row.

The loop is pure (a `read_into` callable in, a `sink` out), so its framing is unit-tested on crafted
byte streams split at every boundary. The connection glue lives in adapters/postgres.

Messages handled, as the protocol allows them after a simple Query holding one COPY TO STDOUT:
CopyOutResponse 'H', CopyData 'd', CopyDone 'c', CommandComplete 'C' ("COPY n"), ErrorResponse 'E'
(the copy ends; the server then sends ReadyForQuery), ReadyForQuery 'Z' (the transaction status), and
the asynchronous NoticeResponse 'N', ParameterStatus 'S' and NotificationResponse 'A', which may come
between CopyData messages ("frontends must handle these cases") and are passed to `on_async`.
Anything else is a protocol error: the caller must drop the connection.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

BLOCK_BYTES = 256 * 1024
FLUSH_BYTES = 64 * 1024
READ_BYTES = 64 * 1024  # per socket read; over TLS one read returns at most one 16 KiB record
HEADER = struct.Struct("!cI")  # Byte1 message type, Int32 length including itself (not the type)
ASYNC_TYPES = frozenset({b"N", b"S", b"A"})
NUL = b"\x00"


class BufferedFile(Protocol):
    def read1(self, size: int = ..., /) -> bytes: ...


class CopyProtocolError(Exception):
    """The byte stream broke the protocol (or ended): the connection's state is unknown."""


@dataclass
class CopyOutcome:
    """How the COPY ended. `error` holds an ErrorResponse's fields (field type letter -> value, as
    pg8000's DatabaseError carries them); `status` is ReadyForQuery's transaction status (b"I", b"T",
    b"E") or None if the server closed the connection after an error. `leftover` holds bytes read
    past ReadyForQuery, which belong to no one here: a caller that cannot hand them back to the
    connection must close it."""

    rows: int | None = None
    error: dict[str, str] | None = None
    status: bytes | None = None
    copy_format: int | None = None
    leftover: bytes = b""
    bytes_out: int = 0


def query_message(sql: str, encoding: str) -> bytes:
    """A simple Query message: Byte1('Q'), Int32 length, the statement as a NUL-terminated string."""
    body = sql.encode(encoding)
    if NUL in body:
        raise ValueError("the COPY statement contains a NUL byte, which the Query message cannot carry")
    return b"Q" + struct.pack("!I", len(body) + 5) + body + NUL


def buffered_read_into(wire: BufferedFile, most: int = READ_BYTES) -> Callable[[memoryview], int]:
    """`read_into` over a buffered socket file (pg8000's `usock.makefile("rwb")`), via `read1`.

    Not `readinto1`: with some bytes already in the file's buffer and a target larger than that
    buffer, CPython's BufferedReader.readinto1 copies the buffered bytes and then still makes one
    blocking read on the socket, which hangs when the buffered bytes were the end of the response.
    `read1` returns the buffered bytes alone if there are any, else makes one socket read; the
    extra copy is one per socket read (at most a 16 KiB TLS record), not one per row."""
    read1 = wire.read1

    def read_into(view: memoryview) -> int:
        data = read1(min(len(view), most))
        view[: len(data)] = data
        return len(data)

    return read_into


def error_fields(payload: bytes, encoding: str) -> dict[str, str]:
    """ErrorResponse/NoticeResponse body: (Byte1 field type, String value)*, then a NUL."""
    return {
        part[:1].decode("ascii"): part[1:].decode(encoding, errors="replace")
        for part in payload.split(NUL)
        if part
    }


def read_copy_out(
    read_into: Callable[[memoryview], int],
    sink: Callable[[bytearray], object],
    on_async: Callable[[bytes, bytes], None],
    *,
    encoding: str = "utf-8",
    block_bytes: int = BLOCK_BYTES,
    flush_bytes: int = FLUSH_BYTES,
) -> CopyOutcome:
    """Read one COPY TO STDOUT response until ReadyForQuery, writing the data rows to `sink`.

    `read_into(view)` fills a prefix of `view` and returns how many bytes it wrote (0 at end of
    stream), like `BufferedReader.readinto1`. `sink` receives a bytearray of whole rows at least
    every `flush_bytes` and once at the end; it must not keep a reference (the caller's writer
    copies it into its part). An ErrorResponse does not raise here: the outcome carries it, after
    ReadyForQuery, so the caller raises with the connection in a known state.
    """
    buf = bytearray(max(block_bytes, HEADER.size))  # a header always fits; a bigger row grows it
    view = memoryview(buf)
    out = bytearray()
    outcome = CopyOutcome()
    unpack = HEADER.unpack_from
    start = end = 0
    finished = False
    while not finished:
        # The hot loop: one row per iteration, no Python-level call but the header unpack.
        while end - start >= 5:
            code, length = unpack(buf, start)
            stop = start + 1 + length
            if stop > end:
                break
            if code == b"d":
                out += view[start + 5 : stop]
            elif _control(code, bytes(view[start + 5 : stop]), outcome, on_async, encoding):
                outcome.leftover, finished = bytes(view[stop:end]), True
                break
            start = stop
        if len(out) >= flush_bytes or (finished and out and outcome.error is None):
            outcome.bytes_out += len(out)
            sink(out)
            out = bytearray()
        if not finished:
            if start or end == len(buf):
                buf, view, end = _make_room(buf, view, start, end)
                start = 0
            count = read_into(view[end:])
            if not count:
                return _closed(outcome, end)
            end += count
    return outcome


def _closed(outcome: CopyOutcome, pending: int) -> CopyOutcome:
    """End of stream before ReadyForQuery: fine only after an ErrorResponse (a FATAL error, such as
    an administrator's pg_terminate_backend, is followed by the server closing the connection)."""
    if outcome.error is None:
        raise CopyProtocolError(f"the server closed the connection during COPY ({pending} bytes pending)")
    return outcome


def _make_room(buf: bytearray, view: memoryview, start: int, end: int) -> tuple[bytearray, memoryview, int]:
    """Move the incomplete message at buf[start:end] to the front; if it fills the whole buffer
    (one row larger than the block), grow the buffer to hold it. Returns (buf, view, end)."""
    pending = end - start
    if start:
        # Copied out first: bytearray slice assignment from an overlapping view is a memcpy.
        buf[:pending] = bytes(view[start:end])
    if pending == len(buf):
        length = HEADER.unpack_from(buf, 0)[1]
        view.release()
        grown = bytearray(max(len(buf) * 2, length + 1))
        grown[:pending] = buf
        buf, view = grown, memoryview(grown)
    return buf, view, pending


def _control(
    code: bytes, payload: bytes, outcome: CopyOutcome, on_async: Callable[[bytes, bytes], None], encoding: str
) -> bool:
    """Every message but CopyData; True at ReadyForQuery, the end of the response."""
    if code == b"H":  # CopyOutResponse: Int8 overall format (0 text, 1 binary), Int16 columns, ...
        outcome.copy_format = payload[0] if payload else None
    elif code == b"c":  # CopyDone
        pass
    elif code == b"C":  # CommandComplete: the tag "COPY n"
        tag = payload.rstrip(NUL).decode("ascii", errors="replace")
        verb, _, count = tag.partition(" ")
        if verb != "COPY" or not count.isdigit():
            raise CopyProtocolError(f"expected the command tag COPY n, got {tag!r}")
        outcome.rows = int(count)
    elif code == b"E":
        outcome.error = error_fields(payload, encoding)
    elif code == b"Z":
        outcome.status = payload[:1]
        return True
    elif code in ASYNC_TYPES:
        on_async(code, payload)
    else:
        raise CopyProtocolError(f"unexpected message {code!r} in a COPY OUT response")
    return False
