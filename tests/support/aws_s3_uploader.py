"""TEST-ONLY: what the aws_s3 stand-in does with a COPY stream: Aurora's splitting and upload.

The stream reaches this code through the relay the PostgreSQL server runs (aws_s3_relay.py) and the
uploader service in the test process (aws_s3_uploader_service.py); this module is the work itself,
with boto3, and knows nothing about sockets. It does what Aurora's extension does with the output
of COPY: cuts it into files of at most about `max_file_bytes` (Aurora: ~6 GB) named KEY, KEY_part2,
KEY_part3, ..., uploads them to S3 (the local AWS side) and counts files, bytes and records.

Parts are only ever cut at record boundaries, so no row is split across two files: in CSV a newline
ends a record only when the number of `"` seen so far is even (PostgreSQL quotes any field holding a
quote, newline or delimiter and doubles the quotes inside it); in text format every newline ends a
record (embedded newlines are written as `\\n`). Binary COPY output is never split.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

CHUNK_BYTES = 1 << 20
FORMATS = ("text", "csv", "binary")
HEADER_ON_PARTS = ("first", "all")
EMPTY_RESULT = ("no_file", "one_file")
# The stand-in only ever uploads to the AWS side it was installed with (moto, or the LocalStack at
# LOCALSTACK_HOST); both take any keys.
_DUMMY_KEY = "testing"

Upload = Callable[[IO[bytes], str], None]


@dataclass(frozen=True)
class ExportRequest:
    """One export as the SQL side describes it (aws_s3_fake.export_snapshot builds the JSON)."""

    endpoint_url: str
    region: str
    bucket: str
    key: str
    copy_format: str
    header_on_parts: str
    max_file_bytes: int
    empty_result: str
    kms_key: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ExportRequest:
        """Validate the request; a ValueError names the field, so the SQL error says what was wrong."""
        request = cls(
            endpoint_url=_text(data, "endpoint_url"),
            region=_text(data, "region"),
            bucket=_text(data, "bucket"),
            key=_text(data, "key"),
            copy_format=_choice(data, "format", FORMATS),
            header_on_parts=_choice(data, "header_on_parts", HEADER_ON_PARTS),
            max_file_bytes=int(data.get("max_file_bytes") or 0),
            empty_result=_choice(data, "empty_result", EMPTY_RESULT),
            kms_key=data.get("kms_key") or None,
        )
        if request.max_file_bytes <= 0:
            raise ValueError("request field max_file_bytes must be a positive integer")
        return request


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"request field {name} must be a non-empty string, not {value!r}")
    return value


def _choice(data: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    value = _text(data, name)
    if value not in allowed:
        raise ValueError(f"request field {name} must be one of {allowed}, not {value!r}")
    return value


def part_key(key: str, number: int) -> str:
    """Aurora's naming: the first file is the file_path itself, then file_path_part2, _part3, ..."""
    return key if number == 1 else f"{key}_part{number}"


class RecordEnds:
    """Finds the offsets just past each record's terminating newline in a chunked COPY stream.

    State (the running count of quote characters) carries over between chunks, so a quoted field
    may span any number of chunks.
    """

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.quotes = 0

    def __call__(self, chunk: bytes) -> Iterator[int]:
        if self.fmt == "binary":
            return
        pos = 0
        while (newline := chunk.find(b"\n", pos)) >= 0:
            if self.fmt == "csv":
                self.quotes += chunk.count(b'"', pos, newline)
            pos = newline + 1
            if self.quotes % 2 == 0:
                yield pos
        if self.fmt == "csv":
            self.quotes += chunk.count(b'"', pos)


@dataclass
class Parts:
    """Writes records into the current part and rolls over to a new part at a record boundary once
    the current part has reached max_file_bytes; each finished part is uploaded at once."""

    upload: Upload
    key: str
    header: bytes
    header_on_parts: str
    max_file_bytes: int
    files: int = 0
    total_bytes: int = 0
    records: int = 0
    _current: IO[bytes] | None = None
    _size: int = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        if self._current is None:
            self._open()
        assert self._current is not None
        self._current.write(data)
        self._size += len(data)

    def record_done(self) -> None:
        self.records += 1
        if self._size >= self.max_file_bytes:
            self._close()

    def finish(self, empty_result: str) -> None:
        if self._current is not None:
            self._close()
        elif self.files == 0 and empty_result == "one_file":
            self._open()
            self._close()

    def _open(self) -> None:
        self._current = tempfile.TemporaryFile()  # noqa: SIM115 - closed in _close()
        self._size = 0
        if self.files == 0 or self.header_on_parts == "all":
            self._current.write(self.header)
            self._size = len(self.header)

    def _close(self) -> None:
        assert self._current is not None
        current, self._current = self._current, None
        try:
            self.files += 1
            current.seek(0)
            self.upload(current, part_key(self.key, self.files))
            self.total_bytes += self._size
        finally:
            current.close()


def read_exactly(stream: IO[bytes], size: int) -> bytes:
    data = b""
    while len(data) < size and (more := stream.read(size - len(data))):
        data += more
    return data


def s3_uploader(request: ExportRequest) -> Upload:
    """A function (fileobj, key) -> None that puts one object with boto3 (multipart when large)."""
    import boto3
    from botocore.config import Config

    # A session per export: the uploader service runs exports on several threads at once.
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=request.endpoint_url,
        region_name=request.region,
        aws_access_key_id=_DUMMY_KEY,
        aws_secret_access_key=_DUMMY_KEY,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
    )
    extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": request.kms_key} if request.kms_key else {}

    def upload(fileobj: IO[bytes], key: str) -> None:
        client.upload_fileobj(fileobj, request.bucket, key, ExtraArgs=extra or None)

    return upload


def export(request: ExportRequest, header: bytes, stream: IO[bytes], upload: Upload) -> Parts:
    """Split the COPY stream into parts and upload them; returns the counts.

    `header` is what COPY wrote for zero rows with the same options: the header line, or nothing.
    The stream starts with it; it is taken off and put back on the first part (or on every part
    when header_on_parts is 'all').
    """
    if request.copy_format == "binary":
        header = b""
    if header and read_exactly(stream, len(header)) != header:
        raise RuntimeError("the COPY stream does not start with the probed header")
    parts = Parts(upload, request.key, header, request.header_on_parts, request.max_file_bytes)
    ends = RecordEnds(request.copy_format)
    while chunk := stream.read(CHUNK_BYTES):
        start = 0
        for end in ends(chunk):
            parts.write(chunk[start:end])
            parts.record_done()
            start = end
        parts.write(chunk[start:])
    parts.finish(request.empty_result)
    return parts
