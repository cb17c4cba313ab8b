"""The MERGE the task runs (rendered from the production template) on fakesnow: idempotent,
order-independent, deduplicating, soft-delete aware; FINAL ends equal to Aurora."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from aurora_sync.timeutil import iso
from tests.support.pipeline import Pipeline

Row = tuple[int, int | None, str | None, Decimal | None, bool, datetime]
HEADER = "id,customer_id,status,amount,is_deleted,updated_at\n"


@pytest.fixture
def pipeline(pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any) -> Pipeline:
    p = Pipeline(pg_server, moto, bao, fakesnow_server)
    for table in p.tables:
        table["lookback_seconds"] = 0
    p.put_tables()
    return p


def aurora_rows(p: Pipeline) -> set[Row]:
    admin = p.admin()
    try:
        rows = admin.run("SELECT id, customer_id, status, amount, is_deleted, updated_at FROM public.orders")
    finally:
        admin.close()
    return {(int(i), c, s, a, bool(d), u.astimezone(UTC)) for i, c, s, a, d, u in rows}


def final_rows(p: Pipeline) -> set[Row]:
    conn = p.snow.connect(p.snowflake_database, "FINAL")
    try:
        cur = conn.cursor()
        cur.execute(
            'SELECT "ID", "CUSTOMER_ID", "STATUS", "AMOUNT", "IS_DELETED", "UPDATED_AT" FROM "FINAL"."ORDERS"'
        )
        fetched = cur.fetchall()
    finally:
        conn.close()
    return {
        (
            int(i),
            None if c is None else int(c),
            s,
            None if a is None else Decimal(a).quantize(Decimal("0.01")),
            bool(d),
            u.astimezone(UTC),
        )
        for i, c, s, a, d, u in fetched
    }


def put_csv(p: Pipeline, name: str, body: str) -> str:
    key = f"public.orders/2026/11/20/00/{name}.csv"
    p.s3.put_object(Bucket=p.bucket, Key=key, Body=(HEADER + body).encode())
    return key


def merge(p: Pipeline) -> None:
    p.merge_into_final("public.orders")


def seed(p: Pipeline, n: int = 30) -> None:
    admin = p.admin()
    admin.run(
        "INSERT INTO public.orders (id, customer_id, status, amount) "
        "SELECT g, g % 5, 'new', g * 1.25 FROM generate_series(1, :n) g",
        n=n,
    )
    admin.close()


def test_replaying_the_same_file_changes_nothing(pipeline: Pipeline) -> None:
    # GIVEN a table exported and merged
    seed(pipeline)
    pipeline.run({"tables": ["public.orders"]})
    merge(pipeline)
    before = final_rows(pipeline)
    assert before == aurora_rows(pipeline)
    # WHEN the very same file is loaded again (a forced COPY ... FILES reload) and the task merges
    runner = pipeline.loader()
    [table] = [t for t in runner.tables if t.table_name == "public.orders"]
    [manifest] = pipeline.manifests("public.orders")
    assert runner.load_file(table, manifest["files"][0]["key"]) > 0
    assert runner.merge(table).state == "SUCCEEDED"
    # THEN FINAL is unchanged
    assert final_rows(pipeline) == before


def test_loading_run_n_before_run_n_minus_1_ends_in_the_same_final(pipeline: Pipeline) -> None:
    # GIVEN two exports of the same rows: run 1, then updates, then run 2 (not yet loaded)
    seed(pipeline)
    now = datetime.now(UTC)
    window = {
        "tables": ["public.orders"],
        "start": iso(now - timedelta(hours=1)),
        "end": iso(now + timedelta(hours=1)),
    }
    pipeline.run(window)
    admin = pipeline.admin()
    admin.run("UPDATE public.orders SET status = 'paid', updated_at = now() WHERE id <= 10")
    admin.close()
    pipeline.run(window)
    first, second = (
        m["files"][0]["key"]
        for m in sorted(pipeline.manifests("public.orders"), key=lambda m: m["started_at"])
    )
    # WHEN run 2's file is loaded and merged before run 1's
    runner = pipeline.loader()
    [table] = [t for t in runner.tables if t.table_name == "public.orders"]
    runner.load_file(table, second)
    runner.merge(table)
    runner.load_file(table, first)
    runner.merge(table)
    # THEN FINAL equals Aurora: the older file rolled nothing back
    assert final_rows(pipeline) == aurora_rows(pipeline)


def test_duplicate_keys_in_one_file_and_across_files_resolve_to_the_latest(pipeline: Pipeline) -> None:
    # GIVEN one file with two versions of key 1, and a second file with an older version of key 1
    # and two versions of key 2 sharing one timestamp (the later row in the file wins)
    put_csv(
        pipeline,
        "run-a",
        "1,1,old,1.00,f,2026-11-20T00:00:01.000000+00:00\n1,1,new,2.00,f,2026-11-20T00:00:03.000000+00:00\n",
    )
    put_csv(
        pipeline,
        "run-b",
        "1,1,older,0.50,f,2026-11-20T00:00:00.000000+00:00\n"
        "2,1,first,1.00,f,2026-11-20T00:00:05.000000+00:00\n"
        "2,1,second,1.00,f,2026-11-20T00:00:05.000000+00:00\n",
    )
    # WHEN both load and the task merges once
    merge(pipeline)
    # THEN each key has exactly its latest version
    rows = {r[0]: r for r in final_rows(pipeline)}
    assert rows[1][2] == "new" and rows[1][3] == Decimal("2.00")
    assert rows[2][2] == "second"
    assert len(rows) == 2


def test_soft_deleted_rows_are_marked_in_final(pipeline: Pipeline) -> None:
    seed(pipeline, 5)
    pipeline.run({"tables": ["public.orders"]})
    merge(pipeline)
    admin = pipeline.admin()
    admin.run("UPDATE public.orders SET is_deleted = true, updated_at = now() WHERE id = 3")
    admin.close()
    pipeline.run({"tables": ["public.orders"]})
    merge(pipeline)
    rows = {r[0]: r for r in final_rows(pipeline)}
    assert rows[3][4] is True and all(not rows[i][4] for i in (1, 2, 4, 5))


def test_full_refresh_leaves_final_equal_to_the_source(pipeline: Pipeline) -> None:
    # GIVEN FINAL drifted (a row edited by hand in Snowflake, one deleted there)
    seed(pipeline, 10)
    pipeline.run({"tables": ["public.orders"]})
    merge(pipeline)
    conn = pipeline.snow.connect(pipeline.snowflake_database, "FINAL")
    conn.cursor().execute('DELETE FROM "FINAL"."ORDERS" WHERE "ID" = 4')
    conn.close()
    # WHEN on-call sets full_refresh and the pipeline runs
    name = f"{pipeline.overrides_path}public.orders"
    pipeline.ssm.put_parameter(Name=name, Value='{"full_refresh": true}', Type="String")
    pipeline.run({"tables": ["public.orders"]})
    merge(pipeline)
    # THEN FINAL equals Aurora again
    assert final_rows(pipeline) == aurora_rows(pipeline)


def test_randomized_rounds_keep_final_equal_to_aurora(pipeline: Pipeline) -> None:
    # GIVEN random inserts, updates and soft deletes interleaved with hourly runs and merges
    rng = random.Random(20261122)
    admin = pipeline.admin()
    next_id = 1
    for _round in range(5):
        for _ in range(rng.randint(5, 15)):
            action = rng.random()
            if action < 0.5 or next_id < 5:
                admin.run(
                    "INSERT INTO public.orders (id, customer_id, status, amount) VALUES (:i, :c, :s, :a)",
                    i=next_id,
                    c=rng.choice([None, 1, 2]),
                    s=rng.choice(["new", "", None, 'q"x,\ny']),
                    a=Decimal(rng.randint(0, 99999)) / 100,
                )
                next_id += 1
            elif action < 0.85:
                admin.run(
                    "UPDATE public.orders SET status = :s, amount = amount + 1, updated_at = now() "
                    "WHERE id = :i",
                    s=rng.choice(["paid", "shipped", ""]),
                    i=rng.randint(1, next_id - 1),
                )
            else:
                admin.run(
                    "UPDATE public.orders SET is_deleted = true, updated_at = now() WHERE id = :i",
                    i=rng.randint(1, next_id - 1),
                )
        pipeline.run({"tables": ["public.orders"]})
        if rng.random() < 0.7:  # sometimes the task has not run before the next export
            merge(pipeline)
    admin.close()
    merge(pipeline)
    # THEN FINAL equals Aurora row for row, every column
    assert final_rows(pipeline) == aurora_rows(pipeline)
    # AND the next run's lower bound comes from FINAL: nothing new, nothing exported
    assert pipeline.run({"tables": ["public.orders"]})["tables"][0]["status"] == "empty"


def test_task_deletes_staged_rows_past_retention_and_final_keeps_every_row(pipeline: Pipeline) -> None:
    # GIVEN orders exported and merged once, half of that load aged 15 days (past the 14-day
    # retention) and half 13 days (inside it)
    seed(pipeline, 10)
    pipeline.run({"tables": ["public.orders"]})
    merge(pipeline)
    conn = pipeline.snow.connect(pipeline.snowflake_database, "STAGING")
    cur = conn.cursor()
    cur.execute(
        'UPDATE "STAGING"."ORDERS" SET "_LOADED_AT" = DATEADD(DAY, -15, CURRENT_TIMESTAMP()) WHERE "ID" <= 5'
    )
    cur.execute(
        'UPDATE "STAGING"."ORDERS" SET "_LOADED_AT" = DATEADD(DAY, -13, CURRENT_TIMESTAMP()) WHERE "ID" > 5'
    )
    admin = pipeline.admin()
    admin.run("UPDATE public.orders SET status = 'paid', updated_at = now() WHERE id <= 3")
    admin.close()
    # WHEN the next export loads and the task merges
    pipeline.run({"tables": ["public.orders"]})
    merge(pipeline)
    # THEN the 15-day-old staged rows are gone, the 13-day-old ones and the new load's stay, the audit
    # keeps both merges, and FINAL still equals Aurora (all 10 rows)
    cur.execute('SELECT "ID" FROM "STAGING"."ORDERS" ORDER BY "_LOADED_AT", "ID"')
    assert [int(i) for (i,) in cur.fetchall()] == [6, 7, 8, 9, 10, 1, 2, 3]
    cur.execute('SELECT COUNT(*) FROM "STAGING"."MERGE_AUDIT" WHERE "TABLE_NAME" = \'public.orders\'')
    assert cur.fetchone() == (2,)
    conn.close()
    assert final_rows(pipeline) == aurora_rows(pipeline) and len(final_rows(pipeline)) == 10
