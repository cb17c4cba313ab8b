"""TEST-ONLY: install the aws_s3.query_export_to_s3 stand-in into a local PostgreSQL database.

Aurora's aws_s3 extension cannot run outside RDS, so the exporter's `aurora_s3` mode would otherwise go
untested. aws_s3_fake.sql recreates the documented interface (aws_commons._s3_uri_1,
aws_commons.create_s3_uri, both aws_s3.query_export_to_s3 overloads) on top of COPY ... TO PROGRAM.

    install_aws_s3_fake(admin, endpoint_url=moto.endpoint_url, max_file_bytes=1024)
    grant_export(admin, "exporter")     # what an RDS admin grants the exporter role
    set_split(admin, 64, header_on_parts="all")

`conn` is always a superuser pg8000.native.Connection in autocommit mode (no open transaction), to a
server on this machine. The program the server runs (aws_s3_relay.py) runs as the server's OS user,
which may not be able to read this checkout at all (a clone in a 0700 folder): so it is copied into
the server's work directory and run by the system python3, and it only relays the COPY stream to the
uploader service this function starts in the calling process (aws_s3_uploader_service.py), which
splits and uploads with this process's boto3. Exports work while that process lives.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tests.support.aws_s3_uploader import EMPTY_RESULT, HEADER_ON_PARTS
from tests.support.aws_s3_uploader_service import ensure_service

SUPPORT_DIR = Path(__file__).resolve().parent
SQL_FILE = SUPPORT_DIR / "aws_s3_fake.sql"
RELAY = SUPPORT_DIR / "aws_s3_relay.py"

# Aurora: "Larger exports are stored in multiple files, each with a maximum size of approximately 6 GB."
AURORA_MAX_FILE_BYTES = 6 * 1024**3

_ROLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
_SETTINGS_SQL = """
INSERT INTO aws_s3_fake.settings AS s
    (singleton, endpoint_url, python, relay, uploader_socket, region, max_file_bytes, header_on_parts,
     empty_result, work_dir)
VALUES (true, :endpoint_url, :python, :relay, :uploader_socket, :region, :max_file_bytes,
        :header_on_parts, :empty_result, :work_dir)
ON CONFLICT (singleton) DO UPDATE SET
    endpoint_url = EXCLUDED.endpoint_url, python = EXCLUDED.python, relay = EXCLUDED.relay,
    uploader_socket = EXCLUDED.uploader_socket, region = EXCLUDED.region,
    max_file_bytes = EXCLUDED.max_file_bytes, header_on_parts = EXCLUDED.header_on_parts,
    empty_result = EXCLUDED.empty_result, work_dir = EXCLUDED.work_dir
"""


class AwsS3FakeError(RuntimeError):
    """The stand-in could not be installed or configured (e.g. no interpreter the server can run)."""


@dataclass(frozen=True)
class FakeConfig:
    """What install_aws_s3_fake wrote to aws_s3_fake.settings."""

    endpoint_url: str
    python: str
    relay: str
    uploader_socket: str
    region: str
    max_file_bytes: int
    header_on_parts: str
    empty_result: str
    work_dir: str


def part_keys(file_path: str, files: int) -> list[str]:
    """The keys Aurora writes for an export of `files` files: file_path, file_path_part2, ..."""
    return [file_path if n == 1 else f"{file_path}_part{n}" for n in range(1, files + 1)]


def _interpreters() -> list[str]:
    """Candidates for running the relay, best first. It is standard library only, so any Python 3
    the server's OS user can execute will do: Debian's, then whatever `python3` the server's PATH
    finds, then this process's own (reachable only when the checkout is)."""
    unique: list[str] = []
    for candidate in ("/usr/bin/python3", "python3", sys.executable):
        if candidate not in unique:
            unique.append(candidate)
    return unique


def _install_relay(work_dir: str) -> str:
    """Copy the relay into the server's work directory, atomically (a concurrent export may be
    starting it), readable by the server's OS user; return its path there."""
    source = RELAY.read_bytes()
    target = Path(work_dir) / f"aws_s3_fake_relay-{hashlib.sha256(source).hexdigest()[:12]}.py"
    if not target.exists():
        tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        tmp.write_bytes(source)
        tmp.chmod(0o644)
        tmp.replace(target)
    return str(target)


def _check(value: str, allowed: tuple[str, ...], name: str) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, not {value!r}")


def install_aws_s3_fake(
    conn: Any,
    *,
    endpoint_url: str,
    max_file_bytes: int = AURORA_MAX_FILE_BYTES,
    header_on_parts: str = "first",
    empty_result: str = "no_file",
    region: str = "us-east-1",
    python: str | None = None,
    work_dir: str | None = None,
) -> FakeConfig:
    """Create the aws_commons / aws_s3 stand-in in conn's database and configure it.

    Idempotent: re-running replaces the functions and settings. With `python` None, the first
    interpreter with which the server can start the relay and reach this process's uploader wins
    (checked through the server itself); AwsS3FakeError names every one tried when none works.
    `work_dir` (the relay, the uploader's socket and one small header/stats file pair per backend)
    defaults to the cluster's data directory: a throwaway cluster takes them with it, and only the
    server's OS user (and root) can enter it, so only the server can reach the uploader.
    """
    from pg8000.native import DatabaseError

    if max_file_bytes <= 0:
        raise ValueError("max_file_bytes must be positive")
    _check(header_on_parts, HEADER_ON_PARTS, "header_on_parts")
    _check(empty_result, EMPTY_RESULT, "empty_result")
    conn.run(SQL_FILE.read_text(encoding="utf-8"))
    if work_dir is None:
        work_dir = str(conn.run("SELECT current_setting('data_directory')")[0][0])
    relay = _install_relay(work_dir)
    uploader_socket = ensure_service(work_dir)
    failures: list[str] = []
    for interpreter in [python] if python else _interpreters():
        config = FakeConfig(
            endpoint_url,
            interpreter,
            relay,
            uploader_socket,
            region,
            max_file_bytes,
            header_on_parts,
            empty_result,
            work_dir,
        )
        conn.run(_SETTINGS_SQL, **asdict(config))
        try:
            conn.run("SELECT aws_s3_fake.self_check()")
        except DatabaseError as exc:  # the server could not start the relay, or it got no answer
            failures.append(f"{interpreter}: {exc}")
            continue
        return config
    raise AwsS3FakeError(
        "the PostgreSQL server cannot start the aws_s3 relay with any interpreter; tried:\n  "
        + "\n  ".join(failures)
    )


def _update(conn: Any, sql: str, **params: Any) -> None:
    conn.run(sql, **params)
    if conn.row_count != 1:
        raise AwsS3FakeError("aws_s3 fake is not installed in this database; call install_aws_s3_fake()")


def set_split(conn: Any, max_file_bytes: int, header_on_parts: str = "first") -> None:
    """Change where exports are cut into _partN files, and whether each part repeats the header.

    Aurora splits at about 6 GB (AURORA_MAX_FILE_BYTES); tests use a few hundred bytes. The docs do
    not say whether parts after the first carry the CSV header, so tests can cover both answers.
    """
    if max_file_bytes <= 0:
        raise ValueError("max_file_bytes must be positive")
    _check(header_on_parts, HEADER_ON_PARTS, "header_on_parts")
    _update(
        conn,
        "UPDATE aws_s3_fake.settings SET max_file_bytes = :m, header_on_parts = :h",
        m=max_file_bytes,
        h=header_on_parts,
    )


def set_empty_result(conn: Any, empty_result: str) -> None:
    """Choose what an export of zero rows leaves in S3: 'no_file' (files_uploaded 0) or 'one_file'
    (the header alone, files_uploaded 1). The docs are silent; the exporter must cope with both."""
    _check(empty_result, EMPTY_RESULT, "empty_result")
    _update(conn, "UPDATE aws_s3_fake.settings SET empty_result = :e", e=empty_result)


def grant_export(conn: Any, role: str) -> None:
    """Give `role` what an RDS admin grants an exporter: USAGE on aws_s3 and aws_commons, EXECUTE
    on the aws_s3 functions. (The stand-in's own internals need no grant.)"""
    if not _ROLE_RE.match(role):
        raise ValueError(f"not a plain role name: {role!r}")
    quoted = '"' + role + '"'
    conn.run(f"GRANT USAGE ON SCHEMA aws_s3, aws_commons TO {quoted}")
    conn.run(f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA aws_s3, aws_commons TO {quoted}")
