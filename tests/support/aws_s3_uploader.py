"""TEST-ONLY: the program behind the aws_s3.query_export_to_s3 stand-in (see aws_s3_fake.sql).

PostgreSQL starts it with `COPY (...) TO PROGRAM`, as the server's OS user, and pipes the COPY output
to stdin. It does what Aurora's extension does with that output: cuts it into files of at most about
`--max-file-bytes` (Aurora: ~6 GB) named KEY, KEY_part2, KEY_part3, ..., uploads them to S3 (moto) and
reports how many files and bytes went up.

Parts are only ever cut at record boundaries, so no row is split across two files: in CSV a newline
ends a record only when the number of `"` seen so far is even (PostgreSQL quotes any field holding a
quote, newline or delimiter and doubles the quotes inside it); in text format every newline ends a
record (embedded newlines are written as `\\n`). Binary COPY output is never split.

The result goes to `--stats-file` as one line, `NONCE ok FILES BYTES ROWS` or `NONCE error MESSAGE`,
because COPY TO PROGRAM gives the calling SQL function no other way to hear back. ROWS is the number of
records the splitter saw (-1 for binary); the SQL side checks it against COPY's own row count.

This file runs under the server's interpreter with `-I` (isolated mode), so it imports nothing from
the test suite and only needs boto3, found via `--sys-path` when that interpreter lacks it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

CHUNK_BYTES = 1 << 20
FORMATS = ("text", "csv", "binary")

Upload = Callable[[IO[bytes], str], None]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sys-path", help="directory to put first on sys.path (where boto3 lives)")
    parser.add_argument("--self-check", help="only check that boto3 imports, then exit")
    parser.add_argument("--endpoint-url")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--bucket")
    parser.add_argument("--key")
    parser.add_argument("--format", choices=FORMATS, default="text")
    parser.add_argument("--header-file", help="what COPY writes for zero rows: the header line, or nothing")
    parser.add_argument("--header-on-parts", choices=("first", "all"), default="first")
    parser.add_argument("--max-file-bytes", type=int, default=6 * 1024**3)
    parser.add_argument("--empty-result", choices=("no_file", "one_file"), default="no_file")
    parser.add_argument("--stats-file")
    parser.add_argument("--nonce")
    parser.add_argument("--kms-key")
    return parser.parse_args(argv)


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


def s3_uploader(args: argparse.Namespace) -> Upload:
    """A function (fileobj, key) -> None that puts one object with boto3 (multipart when large)."""
    import boto3
    from botocore.config import Config

    client = boto3.session.Session().client(
        "s3",
        endpoint_url=args.endpoint_url,
        region_name=args.region,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
    )
    extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": args.kms_key} if args.kms_key else {}

    def upload(fileobj: IO[bytes], key: str) -> None:
        client.upload_fileobj(fileobj, args.bucket, key, ExtraArgs=extra or None)

    return upload


def export(args: argparse.Namespace, stdin: IO[bytes], upload: Upload) -> Parts:
    """Split the COPY stream on stdin into parts and upload them; returns the counts."""
    header = b""
    if args.format != "binary" and args.header_file:
        with open(args.header_file, "rb") as probe:
            header = probe.read()
    if header and read_exactly(stdin, len(header)) != header:
        raise RuntimeError("the COPY stream does not start with the probed header")
    parts = Parts(upload, args.key, header, args.header_on_parts, args.max_file_bytes)
    ends = RecordEnds(args.format)
    while chunk := stdin.read(CHUNK_BYTES):
        start = 0
        for end in ends(chunk):
            parts.write(chunk[start:end])
            parts.record_done()
            start = end
        parts.write(chunk[start:])
    parts.finish(args.empty_result)
    return parts


def write_stats(path: str, line: str) -> None:
    """Replace the stats file atomically, so the SQL side never reads half a line."""
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(line + "\n")
    os.replace(tmp, path)


def drain(stream: IO[bytes]) -> None:
    """Read COPY's remaining output so the server fails on our exit code, not on a broken pipe."""
    while stream.read(CHUNK_BYTES):
        pass


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.sys_path:
        sys.path.insert(0, args.sys_path)
    if args.self_check:
        import boto3  # noqa: F401 - the check is that it imports

        return 0
    stdin = sys.stdin.buffer
    try:
        parts = export(args, stdin, s3_uploader(args))
    except Exception as exc:  # reported to the SQL caller through the stats file
        message = " ".join(f"{type(exc).__name__}: {exc}".split())
        print(f"aws_s3_uploader: {message}", file=sys.stderr)
        drain(stdin)
        write_stats(args.stats_file, f"{args.nonce} error {message}")
        return 1
    rows = -1 if args.format == "binary" else parts.records
    write_stats(args.stats_file, f"{args.nonce} ok {parts.files} {parts.total_bytes} {rows}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
