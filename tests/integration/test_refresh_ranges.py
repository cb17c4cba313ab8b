"""A full refresh in key ranges against the real local PostgreSQL, moto and fakesnow: the plan's key
sample and boundaries, row comparisons that PostgreSQL answers as index ranges (composite and text
keys with quotes and backslashes included), and a refresh killed after one range that resumes and
ends with FINAL equal to Aurora, FINAL's row count never dropping on the way."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from aurora_sync.exporter.query import build_range_query
from aurora_sync.exporter.refresh import choose_boundaries
from aurora_sync.runtime import Runtime
from aurora_sync.settings import load_exporter_settings
from aurora_sync.tables import parse_tables
from aurora_sync.timeutil import parse_instant
from tests.support.pipeline import Pipeline

ROWS = 400
PAIRS = [(k, n) for k in ("a", "O'Brien", "back\\slash", "Zeta", "ünïcode", "a b") for n in range(1, 41)]


@pytest.fixture(scope="module")
def pipeline(pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any) -> Pipeline:
    """public.orders with ids 1..3000, and public.pairs keyed by (text, int): 240 awkward keys."""
    p = Pipeline(pg_server, moto, bao, fakesnow_server)
    admin = p.admin()
    try:
        admin.run(
            "INSERT INTO public.orders (id, status, amount, updated_at) "
            "SELECT g, 'new', g, now() - interval '1 day' + g * interval '1 second' "
            f"FROM generate_series(1, {ROWS}) g"
        )
        admin.run("CREATE TABLE public.pairs (k text, n int, updated_at timestamptz, PRIMARY KEY (k, n))")
        for k, n in PAIRS:
            admin.run("INSERT INTO public.pairs VALUES (:k, :n, now())", k=k, n=n)
        admin.run(f"GRANT SELECT ON public.pairs TO {p.db_user}")
        admin.run("ANALYZE")
    finally:
        admin.close()
    return p


@contextmanager
def aurora_of(p: Pipeline) -> Iterator[Any]:
    """The exporter's own Aurora adapter (TLS, Vault credentials) under the pipeline's environment."""
    saved = dict(os.environ)
    os.environ.update(p.env())
    try:
        runtime = Runtime(load_exporter_settings(), "exporter", lambda: 600_000)
        aurora = runtime.open_aurora()
        try:
            yield aurora
        finally:
            aurora.close()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def final_rows(p: Pipeline) -> dict[int, str]:
    with p.snow.connect(p.snowflake_database, "FINAL") as conn:
        rows = conn.cursor().execute('SELECT "ID", "STATUS" FROM "FINAL"."ORDERS"').fetchall()
    return {int(i): str(s) for i, s in rows}


def aurora_rows(p: Pipeline) -> dict[int, str]:
    admin = p.admin()
    try:
        return {int(i): str(s) for i, s in admin.run("SELECT id, status FROM public.orders")}
    finally:
        admin.close()


def test_composite_text_keys_are_sampled_in_postgresqls_order_and_ranges_cover_each_row_once(
    pipeline: Pipeline,
) -> None:
    # GIVEN a (text, int) key holding quotes, backslashes, spaces and non-ASCII text
    [pairs] = parse_tables(
        json.dumps(
            [
                {
                    "table_name": "public.pairs",
                    "watermark_col": "updated_at",
                    "primary_keys": ["k", "n"],
                    "columns": [
                        {"name": "k", "type": "VARCHAR"},
                        {"name": "n", "type": "NUMBER(38,0)"},
                        {"name": "updated_at", "type": "TIMESTAMP_TZ"},
                    ],
                }
            ]
        ),
        "test",
    ).tables
    with aurora_of(pipeline) as aurora:
        # WHEN the whole table is sampled and cut into 7 ranges
        sample = aurora.key_sample(pairs, 100.0)
        assert aurora.nullable("public", "pairs", ["k", "n"]) == []
        bound = aurora.safe_bound().upper
    assert len(sample) == len(PAIRS)
    # THEN in the key's own order: the int column as numbers (10 after 9), not as its text
    assert [int(n) for k, n in sample if k == "a"] == list(range(1, 41))
    boundaries = choose_boundaries(sample, 7)
    # THEN each range's query, run by PostgreSQL, selects a disjoint part and together all rows
    admin = pipeline.admin()
    try:
        seen: list[tuple[str, int]] = []
        for i in range(len(boundaries) + 1):
            after = boundaries[i - 1] if i else None
            upto = boundaries[i] if i < len(boundaries) else None
            query = build_range_query(pairs, bound, after, upto)
            rows = admin.run(f"SELECT k, n FROM ({query.text}) q")
            assert rows, f"range {i} is empty"
            seen.extend((str(k), int(n)) for k, n in rows)
    finally:
        admin.close()
    assert sorted(seen) == sorted(PAIRS) and len(seen) == len(set(seen))


def test_a_range_of_the_key_is_answered_from_its_index_as_one_range(pipeline: Pipeline) -> None:
    # GIVEN a range query of public.orders, whose key has a b-tree (its primary key)
    [orders] = [t for t in parse_tables(json.dumps(pipeline.tables), "test").tables if t.relation == "orders"]
    query = build_range_query(orders, parse_instant("2100-01-01T00:00:00Z", "t"), ("100",), ("200",))
    admin = pipeline.admin()
    try:
        # WHEN PostgreSQL plans it with sequential scans ruled out (the test table is small enough
        # that a scan would win; a condition the index cannot answer would still be a Seq Scan)
        admin.run("SET enable_seqscan = off")
        plan = "\n".join(str(r[0]) for r in admin.run(f"EXPLAIN {query.text}"))
    finally:
        admin.close()
    # THEN both ends of the range are the primary key index's condition
    assert "Index Scan on orders_pkey" in plan or "Index Scan using orders_pkey" in plan, plan
    assert "Index Cond: ((id > '100'::bigint) AND (id <= '200'::bigint))" in plan, plan


def test_a_refresh_killed_after_one_range_resumes_and_ends_with_final_equal_to_aurora(
    pipeline: Pipeline,
) -> None:
    p = pipeline
    # GIVEN FINAL holding every row once (an incremental run, loaded and merged)
    p.run({"tables": ["public.orders"]})
    p.merge_into_final("public.orders")
    start = len(final_rows(p))
    assert start == ROWS
    # AND rows FINAL holds stale: changed in Aurora without a newer watermark (what a refresh fixes)
    admin = p.admin()
    try:
        admin.run("UPDATE public.orders SET status = 'fixed' WHERE id % 40 = 0")
    finally:
        admin.close()
    # WHEN a refresh is planned in ranges of 100 rows
    planned = p.run({"action": "plan", "refresh": "public.orders", "rows_per_range": 100})
    assert planned["refresh"]["resumed"] is False
    items = planned["items"]
    assert len(items) >= 2, planned["refresh"]
    # AND killed after its first range (exported, loaded, merged)
    counts = []
    first = p.run({"item": items[0], "attempt": {"retry": 0, "max_retries": 2}})
    assert first["tables"][0]["status"] == "exported"
    p.merge_into_final("public.orders")
    counts.append(len(final_rows(p)))
    # WHEN the same request is planned again
    resumed = p.run({"action": "plan", "refresh": "public.orders", "rows_per_range": 100})
    # THEN it is the same refresh, with only the other ranges left
    assert resumed["refresh"]["id"] == planned["refresh"]["id"] and resumed["refresh"]["resumed"] is True
    assert resumed["items"] == items[1:]
    # WHEN they are exported, each loaded and merged in turn
    for item in resumed["items"]:
        p.run(item)
        p.merge_into_final("public.orders")
        counts.append(len(final_rows(p)))
    # THEN FINAL's count never dropped below its start, and FINAL equals Aurora
    assert min(counts) >= start, counts
    assert final_rows(p) == aurora_rows(p)
    # AND the ranges' manifests hold every row exactly once
    ranges = [m for m in p.manifests("public.orders") if m.get("refresh")]
    assert sorted(m["refresh"]["index"] for m in ranges) == list(range(len(items)))
    assert sum(m["rows"] for m in ranges) == ROWS
    # AND the refresh is complete: a new request plans a new refresh
    refresh_id = planned["refresh"]["id"]
    assert f"_refresh/public.orders/{refresh_id}/complete.json" in p.object_keys("_refresh/")
    # AND the reconciler takes the ranges' files as loads like any other: public.orders's loads, pins
    # and volume checks are not problems
    result = p.reconcile()
    statuses = {c["check"]: c["status"] for c in result["checks"] if c["table"] == "public.orders"}
    assert statuses["loads"] == "ok" and statuses["pins"] == "ok", statuses
    assert statuses.get("volume") != "problem", statuses
