"""The aws_s3.query_export_to_s3 stand-in behaves like the documented Aurora function.

The exporter's `aurora_s3` mode is only as well tested as this stand-in is faithful, so these tests pin
what the Aurora docs promise (signatures, result columns, `file_path`, `file_path_part2`, ... naming,
rows_uploaded without the header, query run with the caller's privileges) and what the stand-in adds
to stay safe (no shell or SQL injection through caller-supplied names or options).
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pg8000.native
import pytest

from tests.support.aws_s3_fake import (
    AURORA_MAX_FILE_BYTES,
    grant_export,
    install_aws_s3_fake,
    part_keys,
    set_empty_result,
    set_split,
)
from tests.support.stack import MotoServer, PostgresServer

CSV = "format csv, header true"
HEADER = b"id,note,amount,updated_at\n"
QUERY = "SELECT id, note, amount, updated_at FROM public.events ORDER BY id"

EVENTS_DDL = """
CREATE TABLE public.events (
    id integer PRIMARY KEY,
    note text,
    amount numeric(12, 2),
    updated_at timestamptz NOT NULL
);
INSERT INTO public.events
SELECT g,
       CASE g % 6
           WHEN 0 THEN NULL
           WHEN 1 THEN ''
           WHEN 2 THEN E'two\\nlines, "quoted"\\nand a third'
           WHEN 3 THEN 'comma, inside'
           WHEN 4 THEN repeat('"', g % 5 + 1) || E'\\n' || 'ünïcødé ✓'
           ELSE 'plain ' || g
       END,
       g * 1.25,
       timestamptz '2026-11-20 00:00:00+00' + g * interval '1 minute'
FROM generate_series(1, 60) AS g;
"""


# --------------------------------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def database(pg_server: PostgresServer, moto: MotoServer) -> Iterator[str]:
    """A database of its own with the stand-in installed and a table of awkward CSV values."""
    name = pg_server.create_database(f"aws_s3_fake_{uuid.uuid4().hex[:8]}")
    admin = pg_server.connect(dbname=name)
    try:
        install_aws_s3_fake(admin, endpoint_url=moto.endpoint_url, max_file_bytes=AURORA_MAX_FILE_BYTES)
        admin.run(EVENTS_DDL)
    finally:
        admin.close()
    yield name


@pytest.fixture
def admin(pg_server: PostgresServer, database: str) -> Iterator[Any]:
    """Superuser connection; every test starts from Aurora-like settings (no split, no empty file)."""
    con = pg_server.connect(dbname=database)
    set_split(con, AURORA_MAX_FILE_BYTES, "first")
    set_empty_result(con, "no_file")
    try:
        yield con
    finally:
        con.close()


@pytest.fixture
def s3(moto: MotoServer) -> Any:
    return moto.client("s3")


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"fake-export-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def exporter_role(pg_server: PostgresServer, admin: Any) -> Iterator[tuple[str, str]]:
    """A fresh LOGIN role without superuser; dropped afterwards (roles are cluster-wide)."""
    role, password = f"exporter_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin.run(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    try:
        yield role, password
    finally:
        admin.run(f"DROP OWNED BY {role}")
        admin.run(f"DROP ROLE {role}")


def export(con: Any, query: str, bucket: str, key: str, options: str | None = CSV) -> tuple[int, int, int]:
    """Call the function the way the exporter does (s3_info built by aws_commons.create_s3_uri)."""
    [row] = con.run(
        "SELECT rows_uploaded, files_uploaded, bytes_uploaded FROM aws_s3.query_export_to_s3("
        ":query, aws_commons.create_s3_uri(:bucket, :key, 'us-east-1'), options := :options)",
        query=query, bucket=bucket, key=key, options=options,
    )  # fmt: skip
    return int(row[0]), int(row[1]), int(row[2])


def copy_stdout(con: Any, query: str, options: str = "FORMAT csv, HEADER") -> bytes:
    """What PostgreSQL itself writes for the query: the bytes the stand-in must reproduce."""
    out = io.BytesIO()
    con.run(f"COPY ({query}) TO STDOUT WITH ({options})", stream=out)
    return out.getvalue()


def keys_under(s3: Any, bucket: str, prefix: str) -> list[str]:
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(obj["Key"] for obj in listing.get("Contents", []))


def read(s3: Any, bucket: str, key: str) -> bytes:
    body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def sqlstate(exc: pytest.ExceptionInfo[pg8000.native.DatabaseError]) -> str:
    return str(exc.value.args[0]["C"])


def first_column(csv_records: bytes) -> list[str]:
    """The id of every record, with a parser that honours quoted newlines (like Snowflake's)."""
    import csv

    return [row[0] for row in csv.reader(io.StringIO(csv_records.decode(), newline=""))]


# --------------------------------------------------------------------------------------------------
# The documented behaviour
# --------------------------------------------------------------------------------------------------


def test_export_is_byte_identical_to_copy_to_stdout(admin: Any, s3: Any, bucket: str) -> None:
    # GIVEN rows holding NULL and '', quotes, commas, embedded newlines and unicode
    expected = copy_stdout(admin, QUERY)

    # WHEN the query is exported as CSV with a header
    rows, files, size = export(admin, QUERY, bucket, "events/run-1.csv")

    # THEN one object lands at file_path, byte for byte what COPY ... TO STDOUT writes
    assert keys_under(s3, bucket, "events/") == ["events/run-1.csv"]
    assert read(s3, bucket, "events/run-1.csv") == expected
    # AND the result counts rows without the header, one file, and every byte uploaded
    assert (rows, files, size) == (60, 1, len(expected))


def test_alternate_signature_with_default_options_writes_copy_text_format(
    admin: Any, s3: Any, bucket: str
) -> None:
    # GIVEN the documented alternate form (bucket, file_path, region) and no options at all
    # WHEN it is called by name, as in the docs' examples
    [[rows, files, size]] = admin.run(
        "SELECT * FROM aws_s3.query_export_to_s3(:query, :bucket, 'plain/run.txt', 'us-east-1')",
        query=QUERY, bucket=bucket,
    )  # fmt: skip

    # THEN the file is COPY's default text format, as COPY without options writes it
    expected = copy_stdout(admin, QUERY, "FORMAT text")
    assert read(s3, bucket, "plain/run.txt") == expected
    assert (rows, files, size) == (60, 1, len(expected))


def test_small_max_file_bytes_splits_into_part_files_at_record_boundaries(
    admin: Any, s3: Any, bucket: str
) -> None:
    # GIVEN parts are cut once they reach 300 bytes (Aurora: about 6 GB) and only the first has a header
    set_split(admin, 300, "first")
    expected = copy_stdout(admin, QUERY)

    # WHEN the query is exported
    rows, files, size = export(admin, QUERY, bucket, "split/run.csv")

    # THEN the files are named file_path, file_path_part2, file_path_part3, ... and nothing else
    assert files >= 3
    assert keys_under(s3, bucket, "split/") == sorted(part_keys("split/run.csv", files))
    parts = [read(s3, bucket, key) for key in part_keys("split/run.csv", files)]
    # AND together they are exactly the COPY output, in order: every record once, none lost
    assert b"".join(parts) == expected
    assert (rows, size) == (60, sum(len(p) for p in parts))
    # AND each part is whole records: an even number of quotes, ending at a record's newline
    for part in parts:
        assert part.endswith(b"\n") and part.count(b'"') % 2 == 0
    # AND every part but the last was cut only after reaching the threshold
    assert all(len(p) >= 300 for p in parts[:-1])
    assert parts[0].startswith(HEADER) and not any(p.startswith(HEADER) for p in parts[1:])
    ids = [i for p in parts for i in first_column(p)]
    assert ids == ["id", *map(str, range(1, 61))]


def test_header_on_all_parts_repeats_the_header_line(admin: Any, s3: Any, bucket: str) -> None:
    # GIVEN parts are cut at 300 bytes and each part is to carry the CSV header
    set_split(admin, 300, "all")
    expected = copy_stdout(admin, QUERY)

    # WHEN the query is exported
    rows, files, size = export(admin, QUERY, bucket, "all/run.csv")
    parts = [read(s3, bucket, key) for key in part_keys("all/run.csv", files)]

    # THEN every part starts with the header, and without the repeats they are the COPY output
    assert files >= 3 and all(p.startswith(HEADER) for p in parts)
    assert parts[0] + b"".join(p[len(HEADER) :] for p in parts[1:]) == expected
    # AND bytes_uploaded counts the repeated headers, rows_uploaded does not
    assert (rows, size) == (60, sum(len(p) for p in parts))


def test_a_record_longer_than_max_file_bytes_stays_whole(admin: Any, s3: Any, bucket: str) -> None:
    # GIVEN a threshold smaller than any record, and records with quoted newlines
    set_split(admin, 1, "first")
    query = "SELECT id, note FROM public.events WHERE id BETWEEN 1 AND 6 ORDER BY id"

    # WHEN exported
    rows, files, _ = export(admin, query, bucket, "tiny/run.csv")

    # THEN each record is a part of its own, never cut inside its quotes
    parts = [read(s3, bucket, key) for key in part_keys("tiny/run.csv", files)]
    assert (rows, files) == (6, 6)
    assert [first_column(p) for p in parts] == [["id", "1"], ["2"], ["3"], ["4"], ["5"], ["6"]]
    assert b"".join(parts) == copy_stdout(admin, query)


def test_empty_result_uploads_nothing_by_default_or_the_header_alone(
    admin: Any, s3: Any, bucket: str
) -> None:
    # GIVEN a query that selects no rows
    query = "SELECT id, note, amount, updated_at FROM public.events WHERE false"

    # WHEN exported with the default empty_result ('no_file')
    result = export(admin, query, bucket, "empty/none.csv")

    # THEN nothing is uploaded and the counts say so
    assert result == (0, 0, 0)
    assert keys_under(s3, bucket, "empty/") == []

    # WHEN the stand-in is told an empty export still writes its one file
    set_empty_result(admin, "one_file")
    result = export(admin, query, bucket, "empty/header.csv")

    # THEN that file holds the header alone, and no rows are counted
    assert result == (0, 1, len(HEADER))
    assert read(s3, bucket, "empty/header.csv") == HEADER


def test_upload_failure_is_reported_with_the_s3_error(admin: Any) -> None:
    # GIVEN a bucket that does not exist
    # WHEN an export targets it
    with pytest.raises(pg8000.native.DatabaseError) as exc:
        export(admin, QUERY, f"missing-{uuid.uuid4().hex[:8]}", "x.csv")

    # THEN the SQL error carries S3's reason, not just "program failed"
    assert sqlstate(exc) == "38000"
    assert "NoSuchBucket" in exc.value.args[0]["M"]


# --------------------------------------------------------------------------------------------------
# Privileges: how RDS works
# --------------------------------------------------------------------------------------------------


def test_non_superuser_granted_execute_can_export(
    *,
    pg_server: PostgresServer,
    database: str,
    admin: Any,
    exporter_role: tuple[str, str],
    s3: Any,
    bucket: str,
) -> None:
    # GIVEN a plain LOGIN role with SELECT on the table and the grants an RDS admin gives
    role, password = exporter_role
    admin.run(f"GRANT SELECT ON public.events TO {role}")
    grant_export(admin, role)
    con = pg_server.connect(dbname=database, user=role, password=password)
    try:
        assert con.run("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == [[False]]

        # WHEN that role exports
        rows, files, size = export(con, QUERY, bucket, "role/run.csv")

        # THEN the export works exactly as for the superuser
        expected = copy_stdout(con, QUERY)
        assert read(s3, bucket, "role/run.csv") == expected
        assert (rows, files, size) == (60, 1, len(expected))
    finally:
        con.close()


def test_role_without_execute_grant_is_refused(
    pg_server: PostgresServer, database: str, admin: Any, exporter_role: tuple[str, str], bucket: str
) -> None:
    # GIVEN a role that may read the table and use the schemas, but holds no EXECUTE grant
    role, password = exporter_role
    admin.run(f"GRANT SELECT ON public.events TO {role}")
    admin.run(f"GRANT USAGE ON SCHEMA aws_s3, aws_commons TO {role}")
    con = pg_server.connect(dbname=database, user=role, password=password)
    try:
        # WHEN it calls the function THEN permission is denied
        with pytest.raises(pg8000.native.DatabaseError) as exc:
            export(con, QUERY, bucket, "denied/run.csv")
        assert sqlstate(exc) == "42501"

        # AND going around it through the stand-in's internals is refused too
        with pytest.raises(pg8000.native.DatabaseError) as exc:
            con.run(
                "SELECT * FROM aws_s3_fake.run_export(:q, :b, 'denied/run2.csv', NULL, NULL, NULL)",
                q=QUERY, b=bucket,
            )  # fmt: skip
        assert sqlstate(exc) == "42501"
    finally:
        con.close()


def test_query_runs_with_the_callers_privileges(
    pg_server: PostgresServer, database: str, admin: Any, exporter_role: tuple[str, str], bucket: str
) -> None:
    # GIVEN a role granted EXECUTE but not SELECT on the table
    role, password = exporter_role
    grant_export(admin, role)
    con = pg_server.connect(dbname=database, user=role, password=password)
    try:
        # WHEN it exports the table, or reads a server file through the query
        with pytest.raises(pg8000.native.DatabaseError) as exc:
            export(con, QUERY, bucket, "nosel/run.csv")
        assert sqlstate(exc) == "42501"
        with pytest.raises(pg8000.native.DatabaseError) as exc:
            export(con, "SELECT pg_read_file('/etc/passwd')", bucket, "nosel/passwd.csv")

        # THEN both are refused: the query never gains the function owner's superuser rights
        assert sqlstate(exc) == "42501"
    finally:
        con.close()


# --------------------------------------------------------------------------------------------------
# Injection safety: bucket, file_path and options come from the caller
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bucket_name", "file_path", "region", "options"),
    [
        pytest.param(None, "x'; touch /tmp/aws-s3-fake-pwned; echo '", "us-east-1", CSV, id="quote-in-path"),
        pytest.param(None, "x\n/y.csv", "us-east-1", CSV, id="newline-in-path"),
        pytest.param(None, "a b.csv", "us-east-1", CSV, id="space-in-path"),
        pytest.param("bad'bucket", "x.csv", "us-east-1", CSV, id="quote-in-bucket"),
        pytest.param(None, "x.csv", "us-east-1'; true; '", CSV, id="quote-in-region"),
        pytest.param(None, "x.csv", "eu-west-1", CSV, id="other-region"),
        pytest.param(None, "x.csv", "us-east-1",
                     "format csv) TO PROGRAM 'touch /tmp/aws-s3-fake-pwned' --", id="options-breakout"),
        pytest.param(None, "x.csv", "us-east-1", "format csv; SELECT 1", id="options-second-statement"),
    ],
)  # fmt: skip
def test_hostile_arguments_are_rejected_before_anything_runs(
    *, admin: Any, s3: Any, bucket: str, bucket_name: str | None, file_path: str, region: str, options: str
) -> None:
    # GIVEN caller-supplied names or options crafted to escape into the shell or the COPY statement
    target = bucket_name or bucket

    # WHEN they are passed to the export
    with pytest.raises(pg8000.native.DatabaseError) as exc:
        admin.run(
            "SELECT * FROM aws_s3.query_export_to_s3(:q, :b, :k, :r, :o)",
            q=QUERY, b=target, k=file_path, r=region, o=options,
        )  # fmt: skip

    # THEN the call fails as invalid input, nothing is uploaded and no command ran
    assert sqlstate(exc) in {"22023", "42601"}
    assert keys_under(s3, bucket, "") == []
    assert not Path("/tmp/aws-s3-fake-pwned").exists()


def test_shell_syntax_in_an_accepted_file_path_stays_literal(admin: Any, s3: Any, bucket: str) -> None:
    # GIVEN a file_path made only of accepted characters that a shell would expand into a command
    marker = Path(f"/tmp/aws-s3-fake-marker-{uuid.uuid4().hex[:8]}")
    key = f"odd/$(mkdir$IFS{marker})"

    # WHEN it is exported there
    rows, files, _ = export(admin, QUERY, bucket, key)

    # THEN the object has exactly that name and the command never ran
    assert (rows, files) == (60, 1)
    assert keys_under(s3, bucket, "odd/") == [key]
    assert not marker.exists()
