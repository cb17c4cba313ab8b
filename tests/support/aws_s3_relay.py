"""TEST-ONLY: the program PostgreSQL runs behind the aws_s3 stand-in (see aws_s3_fake.sql).

`COPY (...) TO PROGRAM` starts it as the server's OS user (`postgres` when the tests run as root),
and that user may be unable to read anything in the checkout: a clone under a 0700 home folder or a
`mktemp -d` folder is invisible to it. So this program needs nothing from the checkout or its venv:
it is standard library only, install_aws_s3_fake() copies it into the server's own work directory,
and the system python3 runs it with `-I`. It does no work of its own either: it forwards the COPY
stream over a Unix socket (in that same work directory) to the uploader inside the test process
(aws_s3_uploader_service.py), which holds boto3, splits the stream into parts and uploads them.

Protocol, one connection per call: one JSON line, {"request": {...}, "header": "<base64>"} for an
export or {"ping": true} for the install check; then, for an export, the COPY stream until this side
shuts down writing. The answer is one line: `ok FILES BYTES ROWS` (export), `ok` (ping) or
`error MESSAGE`. It goes to --stats-file as `NONCE <answer>`, because COPY TO PROGRAM gives the
calling SQL function no other way to hear back; the exit code is 0 for ok, else 1.

Keep it runnable by any Python 3.8+: the system interpreter is not the project's.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import sys
from typing import IO

CHUNK_BYTES = 1 << 20
CONNECT_TIMEOUT_S = 10.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="aws_s3 stand-in: relay a COPY stream to the uploader")
    parser.add_argument("--mode", choices=("export", "check"), default="export")
    parser.add_argument("--socket", required=True, help="the uploader's Unix socket")
    parser.add_argument("--stats-file", required=True)
    parser.add_argument("--nonce", required=True)
    parser.add_argument("--header-file", help="what COPY writes for zero rows: the header line, or nothing")
    parser.add_argument("--request", help="the export request as JSON (bucket, key, format, ...)")
    return parser.parse_args(argv)


def opening_line(args: argparse.Namespace) -> bytes:
    if args.mode == "check":
        message: dict[str, object] = {"ping": True}
    else:
        header = b""
        if args.header_file:
            with open(args.header_file, "rb") as probe:
                header = probe.read()
        message = {"request": json.loads(args.request), "header": base64.b64encode(header).decode("ascii")}
    return json.dumps(message).encode("utf-8") + b"\n"


def forward(args: argparse.Namespace, stdin: IO[bytes]) -> str:
    """Send the request and (for an export) all of stdin; return the uploader's one-line answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(CONNECT_TIMEOUT_S)
        sock.connect(args.socket)
        sock.settimeout(None)  # an upload of a big part may take a while
        sock.sendall(opening_line(args))
        if args.mode == "export":
            while True:
                chunk = stdin.read(CHUNK_BYTES)
                if not chunk:
                    break
                sock.sendall(chunk)
        sock.shutdown(socket.SHUT_WR)
        with sock.makefile("rb") as replies:
            answer = replies.readline().decode("utf-8", "replace").strip()
    if not answer:
        raise ConnectionError("the uploader closed the connection without an answer")
    return answer


def drain(stream: IO[bytes]) -> None:
    """Read COPY's remaining output so the server fails on our exit code, not on a broken pipe."""
    while stream.read(CHUNK_BYTES):
        pass


def write_stats(path: str, line: str) -> None:
    """Replace the stats file atomically, so the SQL side never reads half a line."""
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(line + "\n")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stdin = sys.stdin.buffer
    try:
        answer = forward(args, stdin)
    except Exception as exc:  # e.g. no uploader listening: the SQL caller learns it from the stats file
        answer = "error relay: " + " ".join(f"{type(exc).__name__}: {exc} (socket {args.socket})".split())
    drain(stdin)
    write_stats(args.stats_file, f"{args.nonce} {answer}")
    if answer == "ok" or answer.startswith("ok "):
        return 0
    print(f"aws_s3_relay: {answer}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
