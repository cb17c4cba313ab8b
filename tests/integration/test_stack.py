"""The local stack really works: each server answers the way the pipeline will use it (DESIGN.md §7).

These are the canaries for every other integration test: when one of them fails, the stack (not the
code under test) is broken, and the error carries the server's log tail.
"""

from __future__ import annotations

import uuid

import pg8000.native
import pytest

from tests.support.stack import (
    FakeSnowServer,
    MotoServer,
    OpenBaoServer,
    PostgresServer,
    ServiceStartError,
    pid_alive,
)


def test_postgres_answers_queries_with_password_auth(pg_server: PostgresServer) -> None:
    # GIVEN a fresh database on the local cluster
    dbname = pg_server.create_database(f"stack_{uuid.uuid4().hex[:8]}")

    # WHEN we connect over TCP with the superuser's password and run a query
    con = pg_server.connect(dbname=dbname)
    try:
        con.run("CREATE TABLE t (id int PRIMARY KEY, note text)")
        con.run("INSERT INTO t VALUES (1, 'ünïcode')")
        rows = con.run("SELECT id, note, current_database() FROM t")
    finally:
        con.close()

    # THEN the row comes back from the database we created, UTF-8 intact
    assert rows == [[1, "ünïcode", dbname]]


def test_postgres_rejects_a_wrong_password(pg_server: PostgresServer) -> None:
    # GIVEN the cluster requires SCRAM passwords on TCP
    # WHEN a client offers the wrong password THEN it is refused (auth is real, not "trust")
    with pytest.raises(pg8000.native.DatabaseError):
        pg_server.connect(password="wrong")


def test_moto_stores_and_returns_s3_objects(moto: MotoServer) -> None:
    # GIVEN a bucket on the moto server
    s3 = moto.client("s3")
    bucket = f"stack-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)

    # WHEN an object is put
    s3.put_object(Bucket=bucket, Key="a/b.csv", Body=b"id,note\n1,x\n")

    # THEN it reads back byte for byte
    assert s3.get_object(Bucket=bucket, Key="a/b.csv")["Body"].read() == b"id,note\n1,x\n"


def test_moto_reset_forgets_resources(moto: MotoServer) -> None:
    # GIVEN a bucket exists
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="stack-reset-me")

    # WHEN moto is reset
    moto.reset()

    # THEN the bucket is gone
    assert "stack-reset-me" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_openbao_writes_and_reads_kv_v2(bao: OpenBaoServer) -> None:
    # GIVEN an authenticated client of the dev server
    client = bao.client()
    assert client.is_authenticated()

    # WHEN a secret is written to KV v2
    client.secrets.kv.v2.create_or_update_secret(
        path="aurora-sync/stack", secret={"username": "sync", "password": "s3cret"}
    )

    # THEN the latest version reads back
    read = client.secrets.kv.v2.read_secret_version(path="aurora-sync/stack", raise_on_deleted_version=True)
    assert read["data"]["data"] == {"username": "sync", "password": "s3cret"}


def test_fakesnow_creates_and_selects_across_connections(fakesnow_server: FakeSnowServer) -> None:
    # GIVEN a table created and filled through one connection
    writer = fakesnow_server.connect("STACK_DB", "RAW")
    try:
        writer.cursor().execute("CREATE TABLE orders (id INT, amount NUMBER(10, 2))")
        writer.cursor().execute("INSERT INTO orders VALUES (1, 9.99), (2, 20.00)")
    finally:
        writer.close()

    # WHEN another connection to the same server selects from it
    reader = fakesnow_server.connect("STACK_DB")
    try:
        rows = reader.cursor().execute("SELECT id FROM RAW.orders ORDER BY id").fetchall()
    finally:
        reader.close()

    # THEN it sees the rows: server state is shared, as the pipeline's tests rely on
    assert rows == [(1,), (2,)]


def test_stopped_server_leaves_no_process_or_temp_dir() -> None:
    # GIVEN a running server of our own (not the shared session one; not moto, which LOCALSTACK_HOST
    # may replace)
    server = OpenBaoServer().start()
    pid, tmpdir = server.pid, server.tmpdir
    assert pid is not None and tmpdir is not None
    assert pid_alive(pid)

    # WHEN it is stopped
    server.stop()

    # THEN its process is gone and its temp dir removed; stopping again is harmless
    assert not pid_alive(pid)
    assert not tmpdir.exists()
    server.stop()


def test_stopped_postgres_leaves_no_postmaster() -> None:
    # GIVEN a second, private cluster (the postmaster is not our child: pg_ctl daemonizes it)
    server = PostgresServer().start()
    pid = server.pid
    assert pid is not None and pid_alive(pid)
    con = server.connect()  # an open client must not block the shutdown

    # WHEN it is stopped
    server.stop()

    # THEN the postmaster is gone
    assert not pid_alive(pid)
    con.close()


def test_start_failure_reports_the_log_tail() -> None:
    # GIVEN a server whose process exits immediately
    class BrokenServer(MotoServer):
        kind = "broken"

        def _launch(self) -> None:
            self.port = 1
            self._spawn(["sh", "-c", "echo 'boom: config invalid' >&2; exit 3"])

    # WHEN it is started THEN the error says why, with the log tail, and nothing is left behind
    server = BrokenServer()
    with pytest.raises(ServiceStartError, match=r"(?s)exited with code 3.*boom: config invalid"):
        server.start()
    assert server.pid is None
    assert server.tmpdir is None
