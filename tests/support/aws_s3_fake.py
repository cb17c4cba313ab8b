"""TEST-ONLY: install the aws_s3.query_export_to_s3 stand-in into a local PostgreSQL database.

Aurora's aws_s3 extension cannot run outside RDS, so the exporter's `aurora_s3` mode would otherwise go
untested. aws_s3_fake.sql recreates the documented interface (aws_commons._s3_uri_1,
aws_commons.create_s3_uri, both aws_s3.query_export_to_s3 overloads) on top of COPY ... TO PROGRAM and
aws_s3_uploader.py, which uploads to moto.

    install_aws_s3_fake(admin, endpoint_url=moto.endpoint_url, max_file_bytes=1024)
    grant_export(admin, "exporter")     # what an RDS admin grants the exporter role
    set_split(admin, 64, header_on_parts="all")

`conn` is always a superuser pg8000.native.Connection in autocommit mode (no open transaction).
The server's OS user (`postgres`) runs the uploader, so the interpreter and this directory must be
readable by it; the installer finds an interpreter that works from the server's point of view.
"""

from __future__ import annotations

import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUPPORT_DIR = Path(__file__).resolve().parent
SQL_FILE = SUPPORT_DIR / "aws_s3_fake.sql"
UPLOADER = SUPPORT_DIR / "aws_s3_uploader.py"

# Aurora: "Larger exports are stored in multiple files, each with a maximum size of approximately 6 GB."
AURORA_MAX_FILE_BYTES = 6 * 1024**3
HEADER_ON_PARTS = ("first", "all")
EMPTY_RESULT = ("no_file", "one_file")

_ROLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
_SETTINGS_SQL = """
INSERT INTO aws_s3_fake.settings AS s
    (singleton, endpoint_url, python, python_path, uploader, region, max_file_bytes, header_on_parts,
     empty_result, work_dir)
VALUES (true, :endpoint_url, :python, :python_path, :uploader, :region, :max_file_bytes,
        :header_on_parts, :empty_result, :work_dir)
ON CONFLICT (singleton) DO UPDATE SET
    endpoint_url = EXCLUDED.endpoint_url, python = EXCLUDED.python, python_path = EXCLUDED.python_path,
    uploader = EXCLUDED.uploader, region = EXCLUDED.region, max_file_bytes = EXCLUDED.max_file_bytes,
    header_on_parts = EXCLUDED.header_on_parts, empty_result = EXCLUDED.empty_result,
    work_dir = EXCLUDED.work_dir
"""


class AwsS3FakeError(RuntimeError):
    """The stand-in could not be installed or configured (e.g. no interpreter the server can run)."""


@dataclass(frozen=True)
class FakeConfig:
    """What install_aws_s3_fake wrote to aws_s3_fake.settings."""

    endpoint_url: str
    python: str
    python_path: str | None
    region: str
    max_file_bytes: int
    header_on_parts: str
    empty_result: str
    work_dir: str


def part_keys(file_path: str, files: int) -> list[str]:
    """The keys Aurora writes for an export of `files` files: file_path, file_path_part2, ..."""
    return [file_path if n == 1 else f"{file_path}_part{n}" for n in range(1, files + 1)]


def _boto3_site_dir() -> str:
    import boto3

    return str(Path(boto3.__file__).resolve().parent.parent)


def _interpreters() -> list[tuple[str, str | None]]:
    """Candidates for the server to run, best first: this interpreter as is, then a system python3
    with this environment's site-packages on sys.path (when this venv lives where the server's OS
    user cannot read, e.g. under /root)."""
    site = _boto3_site_dir()
    candidates: list[tuple[str, str | None]] = [(sys.executable, None)]
    for name in ("/usr/bin/python3", shutil.which("python3")):
        if name:
            candidates.append((name, site))
    unique: list[tuple[str, str | None]] = []
    for candidate in candidates:
        if candidate not in unique:
            unique.append(candidate)
    return unique


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
    python_path: str | None = None,
    work_dir: str | None = None,
) -> FakeConfig:
    """Create the aws_commons / aws_s3 stand-in in conn's database and configure it.

    Idempotent: re-running replaces the functions and settings. With `python` None, the first
    interpreter the server can start that imports boto3 wins (checked through the server itself).
    Raises AwsS3FakeError naming every interpreter tried when none works. `work_dir` (where the
    server keeps one small header/stats file pair per backend) defaults to the cluster's data
    directory, so a throwaway cluster takes them with it.
    """
    from pg8000.native import DatabaseError

    if max_file_bytes <= 0:
        raise ValueError("max_file_bytes must be positive")
    _check(header_on_parts, HEADER_ON_PARTS, "header_on_parts")
    _check(empty_result, EMPTY_RESULT, "empty_result")
    conn.run(SQL_FILE.read_text(encoding="utf-8"))
    if work_dir is None:
        work_dir = str(conn.run("SELECT current_setting('data_directory')")[0][0])
    candidates = [(python, python_path)] if python else _interpreters()
    failures: list[str] = []
    for interpreter, sys_path in candidates:
        settings = {
            "endpoint_url": endpoint_url,
            "python": interpreter,
            "python_path": sys_path,
            "uploader": str(UPLOADER),
            "region": region,
            "max_file_bytes": max_file_bytes,
            "header_on_parts": header_on_parts,
            "empty_result": empty_result,
            "work_dir": work_dir,
        }
        conn.run(_SETTINGS_SQL, **settings)
        try:
            conn.run("SELECT aws_s3_fake.self_check()")
        except DatabaseError as exc:  # the server could not start the uploader or import boto3
            failures.append(f"{interpreter} (sys.path+={sys_path}): {exc}")
            continue
        return FakeConfig(
            endpoint_url,
            interpreter,
            sys_path,
            region,
            max_file_bytes,
            header_on_parts,
            empty_result,
            work_dir,
        )
    raise AwsS3FakeError(
        "the PostgreSQL server cannot start the aws_s3 uploader with any interpreter; tried:\n  "
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
