"""The COPY OUT block reader on crafted wire bytes: every message split at every boundary, errors
mid-stream, asynchronous messages between rows, rows larger than the block, and a stream that ends
early. The byte layouts follow the PostgreSQL docs, Frontend/Backend Protocol, "Message Formats"."""

from __future__ import annotations

import io
import random
import struct
from collections.abc import Iterable
from typing import Any

import pytest

from aurora_sync.adapters.pg_copy import (
    CopyProtocolError,
    buffered_read_into,
    error_fields,
    query_message,
    read_copy_out,
)


def message(code: bytes, payload: bytes) -> bytes:
    return code + struct.pack("!I", len(payload) + 4) + payload


def copy_out_response(columns: int, binary: bool = False) -> bytes:
    return message(b"H", struct.pack("!bh", int(binary), columns) + struct.pack("!h", 0) * columns)


def error(code: str, text: str) -> bytes:
    return message(b"E", b"SERROR\x00VERROR\x00C" + code.encode() + b"\x00M" + text.encode() + b"\x00\x00")


def notice(text: str) -> bytes:
    return message(b"N", b"SNOTICE\x00C00000\x00M" + text.encode() + b"\x00\x00")


def parameter(name: str, value: str) -> bytes:
    return message(b"S", name.encode() + b"\x00" + value.encode() + b"\x00")


COMPLETE = message(b"c", b"")
READY = message(b"Z", b"I")


def copy_response(rows: list[bytes], status: bytes = b"I") -> bytes:
    return (
        copy_out_response(2)
        + b"".join(message(b"d", row) for row in rows)
        + COMPLETE
        + message(b"C", f"COPY {len(rows) - 1}".encode() + b"\x00")  # the header line is no row
        + message(b"Z", status)
    )


class Wire:
    """A socket file that hands out `stream` in the given chunk sizes, then end of stream."""

    def __init__(self, stream: bytes, chunks: Iterable[int]) -> None:
        self.stream, self.offset = stream, 0
        self.chunks = iter(chunks)

    def read_into(self, view: memoryview) -> int:
        size = min(next(self.chunks, len(self.stream)), len(view), len(self.stream) - self.offset)
        view[:size] = self.stream[self.offset : self.offset + size]
        self.offset += size
        return size


class Collected:
    def __init__(self) -> None:
        self.data = bytearray()
        self.writes = 0
        self.asynchronous: list[tuple[bytes, bytes]] = []

    def write(self, data: bytearray) -> int:
        self.data += data
        self.writes += 1
        return len(data)

    def on_async(self, code: bytes, payload: bytes) -> None:
        self.asynchronous.append((code, payload))


ROWS = [b"id,note\n", b"1,plain\n", b'2,"quoted, with ""quotes"""\n', b'3,"two\nlines"\n', b"4,\n"]


def read(stream: bytes, chunks: Iterable[int], **sizes: int) -> tuple[Collected, object]:
    wire, sink = Wire(stream, chunks), Collected()
    outcome = read_copy_out(wire.read_into, sink.write, sink.on_async, **sizes)
    return sink, outcome


@pytest.mark.parametrize("chunk", [1, 2, 3, 4, 5, 6, 7, 13, 64, 1 << 20])
def test_rows_come_out_byte_for_byte_whatever_the_read_sizes(chunk: int) -> None:
    # GIVEN a COPY response delivered `chunk` bytes per read, splitting headers and payloads anywhere
    stream = copy_response(ROWS)
    # WHEN the reader walks it with a block smaller than the response
    sink, outcome = read(stream, iter(lambda: chunk, None), block_bytes=16, flush_bytes=8)
    # THEN the sink holds exactly the CopyData payloads, and the row count and status are the server's
    assert bytes(sink.data) == b"".join(ROWS)
    assert (outcome.rows, outcome.status, outcome.error, outcome.copy_format) == (4, b"I", None, 0)
    assert outcome.leftover == b"" and outcome.bytes_out == len(b"".join(ROWS))


def test_random_splits_of_many_rows() -> None:
    # GIVEN 5,000 rows of random lengths (0 to 300 bytes) read in random chunk sizes
    rng = random.Random(16)
    rows = [b"h\n"] + [bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 300))) for _ in range(5000)]
    stream = copy_response(rows)
    # WHEN read with a 4 KiB block
    sink, outcome = read(stream, (rng.randrange(1, 9000) for _ in range(10**6)), block_bytes=4096)
    # THEN nothing is lost, reordered or duplicated
    assert bytes(sink.data) == b"".join(rows)
    assert outcome.rows == 5000


def test_the_sink_gets_large_writes_not_one_per_row() -> None:
    # GIVEN 10,000 rows of 100 bytes, delivered in 64 KiB reads
    rows = [b"x" * 99 + b"\n"] * 10_000
    # WHEN read with a 1 MiB block and a 256 KiB flush threshold
    sink, _ = read(copy_response(rows), iter(lambda: 65536, None), flush_bytes=256 * 1024)
    # THEN the sink saw a handful of writes: about one per 256 KiB, plus the tail
    assert bytes(sink.data) == b"".join(rows)
    assert sink.writes <= len(sink.data) // (256 * 1024) + 1


def test_a_row_larger_than_the_block_grows_the_buffer() -> None:
    # GIVEN a 100 kB row (a large text value) and a 1 kB block
    rows = [b"h\n", b"a" * 100_000 + b"\n", b"b\n"]
    # WHEN read in 3 kB pieces
    sink, outcome = read(copy_response(rows), iter(lambda: 3000, None), block_bytes=1000)
    # THEN the row arrives whole
    assert bytes(sink.data) == b"".join(rows)
    assert outcome.rows == 2


def test_notices_and_parameter_changes_between_rows_go_to_the_async_handler() -> None:
    # GIVEN a NoticeResponse between two CopyData messages and a ParameterStatus after CommandComplete
    stream = (
        copy_out_response(2)
        + message(b"d", ROWS[0])
        + notice("row 1 seen")
        + message(b"d", ROWS[1])
        + COMPLETE
        + message(b"C", b"COPY 1\x00")
        + parameter("application_name", "changed")
        + READY
    )
    # WHEN read one byte at a time
    sink, outcome = read(stream, iter(lambda: 1, None), block_bytes=8)
    # THEN the rows are intact and each asynchronous message reached the handler, in order
    assert bytes(sink.data) == ROWS[0] + ROWS[1]
    assert [code for code, _ in sink.asynchronous] == [b"N", b"S"]
    assert sink.asynchronous[1][1] == b"application_name\x00changed\x00"
    assert outcome.rows == 1


def test_an_error_mid_stream_is_reported_after_ready_for_query() -> None:
    # GIVEN rows, then an ErrorResponse (a statement timeout), then ReadyForQuery in a failed transaction
    stream = (
        copy_out_response(2)
        + b"".join(message(b"d", row) for row in ROWS[:3])
        + error("57014", "canceling statement due to statement timeout")
        + message(b"Z", b"E")
    )
    # WHEN read
    sink, outcome = read(stream, iter(lambda: 5, None), block_bytes=32, flush_bytes=1 << 20)
    # THEN the outcome carries the error's fields as pg8000 would, and the transaction status
    assert outcome.error == {
        "S": "ERROR",
        "V": "ERROR",
        "C": "57014",
        "M": "canceling statement due to statement timeout",
    }
    assert outcome.status == b"E" and outcome.rows is None
    # AND the rows held back at the error are not flushed (the caller aborts the upload anyway)
    assert sink.data == b""


def test_an_error_then_a_closed_connection_is_the_error_not_a_network_failure() -> None:
    # GIVEN a FATAL error (the backend was terminated) followed by the server closing the socket
    stream = copy_out_response(2) + message(b"d", ROWS[0]) + error("57P01", "terminating connection")
    # WHEN read
    _, outcome = read(stream, iter(lambda: 7, None))
    # THEN the error's SQLSTATE survives, and no status says the connection cannot be reused
    assert outcome.error is not None and outcome.error["C"] == "57P01"
    assert outcome.status is None


def test_a_stream_that_ends_mid_copy_is_a_protocol_error() -> None:
    # GIVEN the connection drops in the middle of a CopyData message
    stream = copy_response(ROWS)[:40]
    # WHEN read, THEN the reader says the server closed the connection
    with pytest.raises(CopyProtocolError, match="closed the connection during COPY"):
        read(stream, iter(lambda: 9, None))


def test_an_unexpected_message_is_a_protocol_error() -> None:
    # GIVEN a RowDescription where only COPY messages may come
    stream = copy_out_response(1) + message(b"T", b"\x00\x00") + READY
    # WHEN read, THEN it is refused, naming the message type
    with pytest.raises(CopyProtocolError, match="unexpected message b'T'"):
        read(stream, iter(lambda: 100, None))


def test_a_command_tag_other_than_copy_is_a_protocol_error() -> None:
    stream = copy_out_response(1) + COMPLETE + message(b"C", b"SELECT 3\x00") + READY
    with pytest.raises(CopyProtocolError, match="COPY n"):
        read(stream, iter(lambda: 100, None))


def test_bytes_after_ready_for_query_are_handed_back() -> None:
    # GIVEN an asynchronous notice that arrived in the same read as ReadyForQuery
    late = notice("after the copy")
    # WHEN read in one piece
    sink, outcome = read(copy_response(ROWS) + late, iter(lambda: 1 << 20, None))
    # THEN the rows are complete and the extra bytes are returned, not consumed
    assert bytes(sink.data) == b"".join(ROWS)
    assert outcome.leftover == late


def test_a_binary_copy_is_reported_as_binary() -> None:
    stream = copy_out_response(1, binary=True) + COMPLETE + message(b"C", b"COPY 0\x00") + READY
    _, outcome = read(stream, iter(lambda: 100, None))
    assert outcome.copy_format == 1


def test_the_query_message_frames_the_statement() -> None:
    # GIVEN a statement with non-ASCII text
    sql = "COPY (SELECT 'é') TO STDOUT"
    # THEN the Query message is 'Q', Int32 length counting itself, the UTF-8 text, a NUL
    text = sql.encode()
    assert query_message(sql, "utf8") == b"Q" + struct.pack("!I", 4 + len(text) + 1) + text + b"\0"
    with pytest.raises(ValueError, match="NUL"):
        query_message("COPY (SELECT '\0') TO STDOUT", "utf8")


def test_error_fields_decode_like_pg8000() -> None:
    assert error_fields(b"SERROR\x00C22P02\x00Mbad \xff\x00\x00", "utf8") == {
        "S": "ERROR",
        "C": "22P02",
        "M": "bad \ufffd",
    }


class Socket(io.RawIOBase):
    """A raw socket stand-in: each read returns the next chunk; a read past the last one would block
    forever on a real socket, here it fails the test."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self.chunks:
            raise AssertionError("a socket read after the whole response: this would block forever")
        chunk = self.chunks.pop(0)
        size = min(len(chunk), len(buffer))
        buffer[:size] = chunk[:size]
        if size < len(chunk):
            self.chunks.insert(0, chunk[size:])
        return size


def buffered_file(stream: bytes) -> io.BufferedReader:
    """pg8000's socket file with the end of a response already in its buffer, as after a read that
    filled the buffer: the first 100 bytes sit unread in the 8 KiB buffer."""
    wire = io.BufferedReader(Socket([stream]), buffer_size=8192)
    wire.peek(1)  # fills the buffer with the first (up to) 8 KiB: the whole short response
    return wire


def test_reading_through_the_buffered_file_never_reads_past_the_response() -> None:
    # GIVEN a short response that pg8000's buffered socket file already holds in full
    stream = copy_response(ROWS)
    sink = Collected()
    # WHEN the reader reads through buffered_read_into with a 1 MiB block
    outcome = read_copy_out(buffered_read_into(buffered_file(stream)), sink.write, sink.on_async)
    # THEN it completes from the buffer without another socket read
    assert bytes(sink.data) == b"".join(ROWS) and outcome.status == b"I"


def test_readinto1_would_block_on_the_same_buffered_file() -> None:
    # GIVEN the same file (why buffered_read_into uses read1: CPython's readinto1 copies the buffered
    # bytes, then, the target being larger than its buffer, still reads the socket once)
    wire = buffered_file(copy_response(ROWS))
    wire.read(3)  # part of the buffer consumed, the rest still buffered
    # WHEN readinto1 is asked for more than the buffer holds, THEN it reads the socket again
    with pytest.raises(AssertionError, match="would block forever"):
        wire.readinto1(memoryview(bytearray(1 << 20)))
