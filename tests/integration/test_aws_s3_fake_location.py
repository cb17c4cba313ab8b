"""The aws_s3 stand-in works wherever the checkout lives, including where the server cannot look.

PostgreSQL runs as its own OS user (`postgres` when the tests run as root), and COPY ... TO PROGRAM
starts the stand-in's program as that user. A clone in a 0700 home folder or a `mktemp -d` folder
is invisible to it, so a program, interpreter or library taken from the checkout cannot start there:
`make test` from such a clone failed every test that used the stand-in. This test builds such a
clone (the support files and a venv interpreter inside a 0700 directory), installs the stand-in
from it in a child process, as a test session would, and exports through it.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import uuid
from pathlib import Path
from typing import Any

import pg8000.native
import pytest

from tests.support.aws_s3_fake import part_keys
from tests.support.stack import MotoServer, PostgresServer

ROOT = Path(__file__).resolve().parents[2]
QUERY = "SELECT g AS id, repeat('x', g % 40) AS note FROM generate_series(1, 200) AS g ORDER BY g"
CSV = "format csv, header true"

# Runs inside the unreachable clone: imports the stand-in from there (cwd first on sys.path).
CHILD = """
import json, os, sys
import pg8000.native
import tests.support.aws_s3_fake as fake

con = pg8000.native.Connection(
    user=os.environ["T_PG_USER"], password=os.environ["T_PG_PASSWORD"], host=os.environ["T_PG_HOST"],
    port=int(os.environ["T_PG_PORT"]), database=os.environ["T_PG_DB"])
fake.install_aws_s3_fake(con, endpoint_url=os.environ["T_ENDPOINT"], max_file_bytes=500)
[[rows, files, size]] = con.run(
    "SELECT * FROM aws_s3.query_export_to_s3(:q, :b, :k, 'us-east-1', :o)",
    q=os.environ["T_QUERY"], b=os.environ["T_BUCKET"], k="clone/run.csv", o=os.environ["T_OPTIONS"])
print(json.dumps({"rows": rows, "files": files, "bytes": size,
                  "module": fake.__file__, "python": sys.executable}))
"""


def make_unreachable_clone(parent: Path) -> tuple[Path, Path]:
    """A 0700 directory holding tests/support (copied) and a venv whose interpreter lives inside it.

    The venv borrows this environment's installed packages through a .pth file instead of
    reinstalling them, which keeps the test cheap; what matters is that the interpreter path and
    every file of the stand-in are inside the directory the server cannot traverse.
    """
    clone = parent / "clone"
    clone.mkdir(mode=0o700)
    clone.chmod(0o700)  # whatever the umask
    (clone / "tests").mkdir()
    (clone / "tests" / "__init__.py").write_text("")
    shutil.copytree(ROOT / "tests" / "support", clone / "tests" / "support",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    venv = clone / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    [site] = list(venv.glob("lib/python3*/site-packages"))
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return clone, venv / "bin" / "python"


def server_can_read(admin: Any, path: Path) -> bool:
    """Whether the PostgreSQL server's OS user can read `path` (asked through the server itself)."""
    try:
        admin.run("SELECT pg_read_file(:p, 0, 1)", p=str(path))
    except pg8000.native.DatabaseError:
        return False
    return True


def copy_stdout(admin: Any, query: str) -> bytes:
    out = io.BytesIO()
    admin.run(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER)", stream=out)
    return out.getvalue()


def test_stand_in_installed_from_a_clone_the_server_cannot_traverse_exports(
    pg_server: PostgresServer, moto: MotoServer, tmp_path: Path
) -> None:
    # GIVEN a clone and its venv interpreter in a 0700 directory, which the server cannot read
    clone, python = make_unreachable_clone(tmp_path)
    database = pg_server.create_database(f"aws_s3_clone_{uuid.uuid4().hex[:8]}")
    admin = pg_server.connect(dbname=database)
    try:
        if server_can_read(admin, clone / "tests" / "support" / "aws_s3_fake.sql"):
            pytest.skip("the server runs as this user and can read a 0700 directory: nothing to reproduce")
        s3 = moto.client("s3")
        bucket = f"clone-{uuid.uuid4().hex[:12]}"
        s3.create_bucket(Bucket=bucket)

        # WHEN a process running from that clone installs the stand-in and exports through it
        env = {
            **os.environ,
            "T_PG_USER": pg_server.user,
            "T_PG_PASSWORD": pg_server.password,
            "T_PG_HOST": pg_server.host,
            "T_PG_PORT": str(pg_server.port),
            "T_PG_DB": database,
            "T_ENDPOINT": moto.endpoint_url,
            "T_BUCKET": bucket,
            "T_QUERY": QUERY,
            "T_OPTIONS": CSV,
        }
        child = subprocess.run(
            [str(python), "-c", CHILD],
            cwd=clone, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

        # THEN the export succeeds, and it really ran from the clone
        assert child.returncode == 0, child.stderr[-3000:]
        result = json.loads(child.stdout)
        assert Path(result["module"]).is_relative_to(clone) and Path(result["python"]).is_relative_to(clone)
        # AND S3 holds exactly what COPY writes, split into _partN files as Aurora does
        expected = copy_stdout(admin, QUERY)
        keys = part_keys("clone/run.csv", result["files"])
        assert result["files"] >= 3
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == sorted(keys)
        assert b"".join(s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys) == expected
        assert (result["rows"], result["bytes"]) == (200, len(expected))
    finally:
        admin.close()
