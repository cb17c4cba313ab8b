"""Delete detection (exporter/deletes.py) on the local stack: real PostgreSQL and fakesnow through the
real adapters; the tombstone file passes the pipe's load as any export does."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aurora_sync.adapters import postgres, snowflake
from aurora_sync.layout import TOMBSTONE_SUFFIX
from tests.support.pipeline import Pipeline, parse_pg_csv

SCHEDULED = {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}


@pytest.fixture
def pipeline(pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any) -> Pipeline:
    """GIVEN orders with hard delete detection, 200 rows a day old, exported, loaded and merged"""
    p = Pipeline(pg_server, moto, bao, fakesnow_server)
    for table in p.tables:
        if table["table_name"] == "public.orders":
            table["delete_detection"] = "hard"
    p.put_tables()
    p.aurora(
        "INSERT INTO public.orders (id, status, updated_at) "
        "SELECT g, 'new', now() - interval '1 day' FROM generate_series(1, 200) g"
    )
    p.run(SCHEDULED)
    p.loader().cycle()
    return p


def orders_result(result: dict[str, Any]) -> dict[str, Any]:
    return next(t for t in result["tables"] if t["table"] == "public.orders")


def test_a_deleted_row_becomes_a_tombstone_the_pipe_loads(pipeline: Pipeline) -> None:
    p = pipeline
    # GIVEN the first run's pass found nothing to delete
    # WHEN a row is deleted in Aurora and the next hourly run exports the table
    p.aurora("DELETE FROM public.orders WHERE id = 42")
    before = datetime.now(UTC)
    exported = orders_result(p.run(SCHEDULED))
    deletes = exported["deletes"]
    # THEN its pass wrote one tombstone: key 42, watermark the run's commit-safe bound, the rest NULL
    assert (deletes["status"], deletes["deletes"], deletes["limit"], deletes["final_rows"]) == (
        "written",
        1,
        2,
        200,
    )
    assert deletes["file"].endswith(f"{TOMBSTONE_SUFFIX}.csv") and deletes["statements"] == {
        "aurora": 2,
        "snowflake": 3,
    }
    (row,) = parse_pg_csv(p.read(deletes["file"]))
    assert row["id"] == "42" and row["status"] is None and row["amount"] is None and row["is_deleted"] is None
    bound = datetime.fromisoformat(str(row["updated_at"]))
    assert before - timedelta(seconds=5) <= bound <= datetime.now(UTC)
    manifest = next(m for m in p.manifests("public.orders") if m["mode"] == "deletes")
    assert manifest["files"] == [{"key": deletes["file"], "rows": 1, "bytes": len(p.read(deletes["file"]))}]
    # AND the pipe's stand-in, which checks every field as the COPY would, loads it into STAGING
    runner = p.loader()
    (orders,) = [t for t in runner.tables if t.table_name == "public.orders"]
    assert runner.load_new_files(orders) == exported["rows"] + 1  # the lookback's overlap, and it
    # AND customers, without detection, ran no pass
    assert "deletes" not in next(t for t in p.run(SCHEDULED)["tables"] if t["table"] == "public.customers")


def final_ids(p: Pipeline) -> set[int]:
    conn = p.snow.connect(p.snowflake_database, "FINAL")
    try:
        return {int(r[0]) for r in conn.cursor().execute('SELECT "ID" FROM "FINAL"."ORDERS"').fetchall()}
    finally:
        conn.close()


def test_the_wide_case_streams_both_sides_and_writes_exactly_the_deletes(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = pipeline
    # GIVEN 5,000 rows synced (5 buckets), row 77 changed just now (synced: FINAL's copy is recent)
    p.aurora(
        "INSERT INTO public.orders (id, status, updated_at) "
        "SELECT g, 'new', now() - interval '1 day' FROM generate_series(201, 5000) g",
        "UPDATE public.orders SET status = 'changed', updated_at = now() WHERE id = 77",
    )
    p.run(SCHEDULED)
    p.loader().cycle()
    # AND a key read that names 1 bucket at most, so 2+ differing buckets are the wide case, read
    # 2 buckets per FETCH (Aurora) and 100 rows per fetchmany (FINAL)
    monkeypatch.setattr("aurora_sync.exporter.deletes.MAX_BUCKETS_PER_READ", 1)
    monkeypatch.setattr(postgres, "FETCH_ROWS", 2)
    monkeypatch.setattr(snowflake, "FETCH_ROWS", 100)
    # WHEN 40 old rows spread over every bucket and row 77 are deleted in Aurora, row 9001 is
    # inserted (not in FINAL yet), and the next hourly run exports the table
    gone = random.Random(15).sample([i for i in range(1, 5001) if i != 77], 40)
    p.aurora(
        f"DELETE FROM public.orders WHERE id IN ({', '.join(str(i) for i in [*gone, 77])})",
        "INSERT INTO public.orders (id, status, updated_at) VALUES (9001, 'new', now())",
    )
    deletes = orders_result(p.run(SCHEDULED))["deletes"]
    # THEN both sides were streamed once and the tombstones are exactly the old deleted rows: 77
    # changed within the lookback, 9001 is the pipeline's lag
    assert (deletes["key_read"], deletes["buckets"]) == ("stream", 5)
    # (Aurora's third statement: the candidates looked up by value, none found)
    assert deletes["statements"] == {"aurora": 3, "snowflake": 3}
    assert (deletes["status"], deletes["deletes"], deletes["recent"], deletes["kept"]) == (
        "written",
        40,
        1,
        0,
    )
    assert {int(row["id"]) for row in parse_pg_csv(p.read(deletes["file"]))} == set(gone)
    # AND once loaded and merged, FINAL lacks exactly those keys
    p.loader().cycle()
    assert final_ids(p) == (set(range(1, 5001)) - set(gone)) | {9001}
