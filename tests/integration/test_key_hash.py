"""The key hash of delete detection (aurora_sync.deletes.keyhash) gives the same buckets, counts and
checksums on real PostgreSQL and on fakesnow, for every key type config allows, and matches the
formula computed in Python: the two sides can be compared bucket by bucket."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from aurora_sync.adapters import postgres, snowflake
from aurora_sync.adapters.postgres import Aurora, Endpoint
from aurora_sync.adapters.postgres_transport import tls_context
from aurora_sync.adapters.snowflake import Snowflake, normalize_key
from aurora_sync.deletes.compare import Digest, differing_buckets
from aurora_sync.deletes.keyhash import AuroraKeyHash, FinalKeyHash
from aurora_sync.identifiers import quote_pg, quote_sf
from aurora_sync.tables import TableConfig
from tests.support import key_hash as reference

DATABASE = "KEY_HASH_DB"
WATERMARK = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
BUCKETS = 7

# Each case: (relation, [(column, PostgreSQL type, Snowflake type)], keys)
TEXTS = ["", "a", "1:2", "héllo wörld", "日本語", "it's", 'say "hi"', "a\nb", " padded ", "x" * 300]
CASES: list[tuple[str, list[tuple[str, str, str]], list[tuple[Any, ...]]]] = [
    ("kh_int", [("id", "bigint", "NUMBER(38,0)")], [(i,) for i in [*range(-50, 950), 2**62, -(2**62)]]),
    ("kh_text", [("code", "text", "VARCHAR")], [(t,) for t in TEXTS] + [(f"k{i}",) for i in range(300)]),
    (
        "kh_pair",  # '1','23' and '12','3' must not hash alike
        [("tenant", "integer", "NUMBER(10,0)"), ("code", "varchar(400)", "VARCHAR(400)")],
        [(1, "23"), (12, "3"), (1, "2:3"), *[(i % 7, t) for i, t in enumerate(TEXTS)]],
    ),
    ("kh_uuid", [("id", "uuid", "VARCHAR(36)")], [(str(uuid.UUID(int=i * 7919)),) for i in range(200)]),
    (
        "kh_names",  # key columns named like the words a pass's own SQL might use for its columns
        [
            ("h", "integer", "NUMBER(10,0)"),
            ("bucket", "integer", "NUMBER(10,0)"),
            ("checksum", "text", "VARCHAR"),
        ],
        [(i, i % 3, f"c{i % 5}") for i in range(120)],
    ),
]


def config(relation: str, columns: list[tuple[str, str, str]]) -> TableConfig:
    return TableConfig.model_validate(
        {
            "table_name": f"public.{relation}",
            "watermark_col": "updated_at",
            "primary_keys": [c[0] for c in columns],
            "columns": [{"name": c[0], "type": c[2]} for c in columns]
            + [{"name": "updated_at", "type": "TIMESTAMP_TZ"}],
            "delete_detection": "hard",
        }
    )


@pytest.fixture(scope="module")
def sides(pg_server: Any, fakesnow_server: Any) -> Iterator[tuple[Any, Any]]:
    """Every case's keys in a PostgreSQL table and in a FINAL table on fakesnow."""
    dbname = pg_server.create_database("key_hash")
    pg = pg_server.connect(dbname)
    pg.dbname = dbname  # for the adapter-level tests below
    sf = fakesnow_server.connect(DATABASE)
    cur = sf.cursor()
    cur.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_sf(DATABASE, 'FINAL')}")
    for relation, columns, keys in CASES:
        table = config(relation, columns)
        pg_cols = ", ".join(f"{quote_pg(c)} {t}" for c, t, _ in columns)
        pg.run(f"CREATE TABLE {quote_pg('public', relation)} ({pg_cols}, updated_at timestamptz)")
        names = ", ".join(quote_pg(c) for c, _, _ in columns)
        params = ", ".join(f":k{i}" for i in range(len(columns)))
        for key in keys:
            pg.run(
                f"INSERT INTO {quote_pg('public', relation)} ({names}) VALUES ({params})",
                **{f"k{i}": v for i, v in enumerate(key)},
            )
        sf_cols = ", ".join(f"{quote_sf(c)} {t}" for c, _, t in columns)
        final = quote_sf(DATABASE, "FINAL", table.snowflake_table)
        cur.execute(f'CREATE TABLE {final} ({sf_cols}, "UPDATED_AT" TIMESTAMP_TZ)')
        placeholders = ", ".join(["%s"] * (len(columns) + 1))
        cur.executemany(f"INSERT INTO {final} VALUES ({placeholders})", [(*key, WATERMARK) for key in keys])
    try:
        yield pg, sf
    finally:
        pg.close()
        sf.close()


def aurora_digests(pg: Any, table: TableConfig, count: int) -> dict[int, Digest]:
    return {int(b): Digest(int(c), int(s)) for b, c, s in pg.run(AuroraKeyHash(table).digests(count))}


def final_hash(table: TableConfig) -> FinalKeyHash:
    return FinalKeyHash(table, quote_sf(DATABASE, "FINAL", table.snowflake_table))


def final_digests(sf: Any, table: TableConfig, count: int) -> dict[int, Digest]:
    rows = sf.cursor().execute(final_hash(table).digests(count)).fetchall()
    return {int(b): Digest(int(c), int(s)) for b, c, s in rows}


@pytest.mark.parametrize(("relation", "columns", "keys"), CASES, ids=[c[0] for c in CASES])
def test_both_databases_hash_the_same_keys_to_the_same_buckets_and_checksums(
    sides: tuple[Any, Any], relation: str, columns: list[tuple[str, str, str]], keys: list[tuple[Any, ...]]
) -> None:
    # GIVEN the same keys in Aurora (PostgreSQL) and FINAL (fakesnow)
    pg, sf = sides
    table = config(relation, columns)
    # WHEN both sides aggregate them into the same number of buckets
    aurora = aurora_digests(pg, table, BUCKETS)
    final = final_digests(sf, table, BUCKETS)
    # THEN every bucket's count and checksum sum agree, and equal the formula computed in Python
    assert aurora == final == reference.digests(keys, BUCKETS)
    assert sum(d.count for d in aurora.values()) == len(keys) and set(aurora) <= set(range(BUCKETS))
    assert differing_buckets(aurora, final) == []


@pytest.mark.parametrize(("relation", "columns", "keys"), CASES[:3], ids=[c[0] for c in CASES[:3]])
def test_a_deleted_key_changes_only_its_bucket_and_the_key_read_finds_it(
    sides: tuple[Any, Any], relation: str, columns: list[tuple[str, str, str]], keys: list[tuple[Any, ...]]
) -> None:
    # GIVEN one key deleted in Aurora only
    pg, sf = sides
    table = config(relation, columns)
    gone = keys[len(keys) // 2]
    where = " AND ".join(f"{quote_pg(c)} = :k{i}" for i, (c, _, _) in enumerate(columns))
    pg.run("BEGIN")
    try:
        pg.run(
            f"DELETE FROM {quote_pg('public', relation)} WHERE {where}",
            **{f"k{i}": v for i, v in enumerate(gone)},
        )
        # WHEN the digests are compared and the differing buckets read key by key on both sides
        differing = differing_buckets(aurora_digests(pg, table, BUCKETS), final_digests(sf, table, BUCKETS))
        aurora_keys = {
            tuple(normalize_key(v) for v in row)
            for row in pg.run(AuroraKeyHash(table).keys(BUCKETS, differing))
        }
        final_rows = sf.cursor().execute(final_hash(table).keys(BUCKETS, differing)).fetchall()
    finally:
        pg.run("ROLLBACK")
    # THEN exactly one bucket differs, by one key, and that key is the deleted one, with its watermark
    assert len(differing) == 1
    final_keys = Counter(tuple(normalize_key(v) for v in row[:-1]) for row in final_rows)
    assert set(final_keys) - aurora_keys == {gone}
    assert all(n == 1 for n in final_keys.values())
    assert {row[-1].astimezone(UTC) for row in final_rows} == {WATERMARK}


# -- the wide case's streams (keyhash `stream`, the adapters' key_hash_stream) ------------------------


def adapters(pg_server: Any, fakesnow_server: Any, pg: Any) -> tuple[Aurora, Snowflake]:
    """The real adapters over the same databases as `sides`."""
    endpoint = Endpoint(
        host=pg_server.tls_host,
        port=pg_server.port,
        database=pg.dbname,
        user=pg_server.user,
        password=pg_server.password,
        tls=tls_context(pg_server.ca_pem, "the test server's CA"),
        connect_timeout_s=5.0,
        application_name="key-hash-test",
    )
    return Aurora(endpoint, lambda: 600_000, 30_000), Snowflake(
        fakesnow_server.connect_kwargs | {"database": DATABASE}
    )


@pytest.mark.parametrize("which", [None, [1, 4]], ids=["every bucket", "buckets 1 and 4"])
@pytest.mark.parametrize(("relation", "columns", "keys"), CASES, ids=[c[0] for c in CASES])
def test_both_streams_carry_each_key_once_in_bucket_order_with_the_same_md5(  # noqa: PLR0917
    sides: tuple[Any, Any],
    pg_server: Any,
    fakesnow_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    relation: str,
    columns: list[tuple[str, str, str]],
    keys: list[tuple[Any, ...]],
    which: list[int] | None,
) -> None:
    # GIVEN the same keys on both sides, and streams that fetch 2 buckets (Aurora) and 7 rows
    # (FINAL) at a time: many round trips
    monkeypatch.setattr(postgres, "FETCH_ROWS", 2)
    monkeypatch.setattr(snowflake, "FETCH_ROWS", 7)
    table = config(relation, columns)
    aurora, final = adapters(pg_server, fakesnow_server, sides[0])
    try:
        # WHEN both adapters stream the buckets' key hashes
        with aurora.key_hash_stream(table, BUCKETS, which) as rows:
            aurora_rows = list(rows)
        with final.key_hash_stream(table, BUCKETS, which) as rows:
            final_rows = list(rows)
        # THEN both come in bucket order: Aurora's one row per wanted bucket with its keys' MD5s,
        # FINAL's one row per key, with the MD5 the formula gives, the key as the driver returns it
        # (normalized) and its watermark
        expected = reference.ordered(keys, BUCKETS, which)
        by_bucket: dict[int, set[str]] = {}
        for b, h, _ in expected:
            by_bucket.setdefault(b, set()).add(h)
        assert [b for b, _ in aurora_rows] == sorted(by_bucket)
        assert dict(aurora_rows) == by_bucket
        assert [r[0] for r in final_rows] == sorted(r[0] for r in final_rows)
        assert sorted((b, h) for b, h, _, _ in final_rows) == [(b, h) for b, h, _ in expected]
        assert {h: k for _, h, k, _ in final_rows} == {
            h: tuple(normalize_key(v) for v in k) for _, h, k in expected
        }
        assert {w for *_, w in final_rows} == {WATERMARK}
        # AND the Aurora connection is usable and outside any transaction afterwards
        assert aurora.run("SHOW transaction_read_only", "check") == [["off"]]
        assert aurora.run("SELECT count(*) FROM pg_cursors", "check") == [[0]]
    finally:
        aurora.close()
        final.close()


def test_leaving_an_aurora_stream_early_ends_its_transaction(
    sides: tuple[Any, Any], pg_server: Any, fakesnow_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a stream read 2 buckets at a time, left after its first bucket
    monkeypatch.setattr(postgres, "FETCH_ROWS", 2)
    relation, columns, keys = CASES[0]
    aurora, final = adapters(pg_server, fakesnow_server, sides[0])
    final.close()
    try:
        with aurora.key_hash_stream(config(relation, columns), BUCKETS, None) as rows:
            assert next(rows)[0] == 0
        # THEN the session is back outside a transaction (a read-write statement works, the
        # cursor is gone) and a new stream can open its cursor again
        assert aurora.run("SHOW transaction_read_only", "check") == [["off"]]
        assert aurora.run("SELECT count(*) FROM pg_cursors", "check") == [[0]]
        with aurora.key_hash_stream(config(relation, columns), BUCKETS, None) as rows:
            assert sum(len(hashes) for _, hashes in rows) == len(keys)
    finally:
        aurora.close()


@pytest.mark.parametrize(("relation", "columns", "keys"), CASES, ids=[c[0] for c in CASES])
def test_aurora_finds_candidate_keys_by_value_for_every_key_type(  # noqa: PLR0917
    sides: tuple[Any, Any],
    pg_server: Any,
    fakesnow_server: Any,
    relation: str,
    columns: list[tuple[str, str, str]],
    keys: list[tuple[Any, ...]],
) -> None:
    # GIVEN keys as FINAL's driver returns them: some Aurora has, one it does not
    aurora, final = adapters(pg_server, fakesnow_server, sides[0])
    final.close()
    table = config(relation, columns)
    absent = {
        "kh_int": (123_456_789,),
        "kh_text": ("not there",),
        "kh_pair": (99, "x"),
        "kh_uuid": (str(uuid.UUID(int=1)),),
        "kh_names": (999, 1, "c1"),
    }[relation]
    held = [tuple(normalize_key(v) for v in k) for k in keys[::25]]
    try:
        # WHEN Aurora is asked which it has THEN exactly the held ones, as the same normalized values
        assert aurora.present_keys(table, [*held, absent]) == set(held)
        assert aurora.present_keys(table, []) == set()
    finally:
        aurora.close()


def test_an_open_key_stream_does_not_hold_back_another_sessions_safe_bound(
    sides: tuple[Any, Any], pg_server: Any, fakesnow_server: Any
) -> None:
    # GIVEN a delete pass's stream open (its READ ONLY transaction began before the bound is taken)
    # AND the safe bound's SQL names the stream's tag as the adapter sets it
    assert f"'{postgres.READ_ONLY_STREAM}'" in postgres.SAFE_BOUND_SQL
    relation, columns, _ = CASES[0]
    streaming, final = adapters(pg_server, fakesnow_server, sides[0])
    other, _ = adapters(pg_server, fakesnow_server, sides[0])
    final.close()
    try:
        with streaming.key_hash_stream(config(relation, columns), BUCKETS, None) as rows:
            next(rows)
            # WHEN another exporter takes its commit-safe bound meanwhile
            bound = other.safe_bound()
            # THEN the stream's transaction does not hold it back (it can write no row)
            assert bound.held_back_by is None or bound.held_back_by.application_name != (
                postgres.READ_ONLY_STREAM
            )
        # AND the session's own name is back once the stream ended
        assert streaming.run("SHOW application_name", "check") == [["key-hash-test"]]
        # AND a transaction that may write still holds the bound back (the check can fail)
        streaming.run("START TRANSACTION", "check")
        streaming.run("SELECT txid_current()", "check")
        held = other.safe_bound().held_back_by
        assert held is not None and held.application_name == "key-hash-test"
        streaming.run("ROLLBACK", "check")
    finally:
        streaming.close()
        other.close()
