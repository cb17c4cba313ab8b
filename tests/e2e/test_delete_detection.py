"""Delete detection end to end (issue 15 §1): hourly runs on the local stack, the stand-in for
Snowpipe and the task running the production MERGE with its tombstone branch. Rows deleted in Aurora
leave FINAL (hard) or are marked there (soft); a bulk delete over the guard changes nothing and
pages; a tombstone never removes a newer version of its row; a re-inserted key comes back, also
when its tombstone and the re-insert are merged in one load (the MERGE's dedup decides: latest
watermark first, and at an equal watermark the data row)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from tests.support.pipeline import Pipeline

SCHEDULED = {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
ROWS = 300  # the guard allows max(1, 1 % of 300) = 3 deletes a pass


def make_pipeline(pg: Any, moto: Any, bao: Any, snow: Any, mode: str) -> Pipeline:
    """GIVEN orders with delete detection `mode` (lookback 0), 300 rows a day old, synced once"""
    p = Pipeline(pg, moto, bao, snow)
    for table in p.tables:
        table["lookback_seconds"] = 0
        if table["table_name"] == "public.orders":
            table["delete_detection"] = mode
    p.put_tables()
    if mode == "soft":  # what Terraform's snowflake_table does when a table switches to soft
        conn = p.snow.connect(p.snowflake_database, "FINAL")
        try:
            conn.cursor().execute('ALTER TABLE "FINAL"."ORDERS" ADD COLUMN "_DELETED_AT" TIMESTAMP_TZ(6)')
        finally:
            conn.close()
    p.aurora(
        "INSERT INTO public.orders (id, status, updated_at) "
        f"SELECT g, 'new', now() - interval '1 day' FROM generate_series(1, {ROWS}) g",
    )
    hour(p)
    return p


@pytest.fixture
def hard(pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any) -> Pipeline:
    return make_pipeline(pg_server, moto, bao, fakesnow_server, "hard")


def hour(p: Pipeline) -> dict[str, Any]:
    """One hourly cycle: the exporter's run (export, then the pass), then the pipe and the task."""
    result = next(t for t in p.run(SCHEDULED)["tables"] if t["table"] == "public.orders")
    p.loader().cycle()
    return result


def final(p: Pipeline, columns: str = '"ID"', order: str = ' ORDER BY "ID"') -> list[tuple[Any, ...]]:
    conn = p.snow.connect(p.snowflake_database, "FINAL")
    try:
        return list(conn.cursor().execute(f'SELECT {columns} FROM "FINAL"."ORDERS"{order}').fetchall())
    finally:
        conn.close()


def final_ids(p: Pipeline) -> set[int]:
    return {int(r[0]) for r in final(p)}


def aurora_ids(p: Pipeline) -> set[int]:
    return {int(r[0]) for r in p.aurora("SELECT id FROM public.orders")}


def test_random_deletes_converge_in_final_within_two_cycles(hard: Pipeline) -> None:
    p = hard
    # GIVEN 3 random rows deleted in Aurora (within the guard)
    gone = random.Random(15).sample(range(1, ROWS + 1), 3)
    p.aurora(f"DELETE FROM public.orders WHERE id IN ({', '.join(map(str, gone))})")
    # WHEN hourly cycles run THEN FINAL has exactly Aurora's keys within two of them
    outcomes = []
    while final_ids(p) != aurora_ids(p) and len(outcomes) < 2:
        outcomes.append(hour(p)["deletes"])
    assert final_ids(p) == aurora_ids(p) and len(outcomes) <= 2
    assert outcomes[0]["status"] == "written" and outcomes[0]["deletes"] == 3
    # AND the reconciler's checks are ok: the tombstone file loaded, the merge ran; MERGE_AUDIT
    # counts the 3 deletes apart from the 300 data rows, and the loads check the tombstones apart
    report = p.reconcile()
    checks = {(c["check"], c["table"]): c for c in report["checks"]}
    loads, merge = checks[("loads", "public.orders")], checks[("merge", "public.orders")]
    assert loads["status"] == "ok" and merge["status"] == "ok"
    assert (loads["details"]["rows_loaded"], loads["details"]["tombstones_loaded"]) == (ROWS, 3)
    details = merge["details"]
    assert (details["rows_merged_in_window"], details["rows_deleted_in_window"]) == (ROWS, 3)
    assert details["rows_marked_in_window"] == 0


def test_a_bulk_delete_over_the_guard_applies_nothing_and_pages(hard: Pipeline) -> None:
    p = hard
    list(p.pages())
    # GIVEN 50 rows deleted at once (limit 3)
    p.aurora("DELETE FROM public.orders WHERE id <= 50")
    # WHEN the hourly cycle runs
    deletes = hour(p)["deletes"]
    # THEN nothing is deleted from FINAL, and the pager has the P2 with the counts
    assert (deletes["status"], deletes["deletes"], deletes["limit"]) == ("guarded", 50, 3)
    assert len(final_ids(p)) == ROWS
    (page,) = [m for m in p.pages() if m["check"] == "deletes"]
    assert page["severity"] == "P2" and page["table"] == "public.orders"
    assert "at least 50 of 300 FINAL rows" in page["summary"] and page["runbook"].endswith(
        "#deletes-over-limit"
    )


def test_a_delete_racing_an_update_keeps_the_row_and_a_reinserted_key_comes_back(hard: Pipeline) -> None:
    p = hard
    # GIVEN key 7 deleted in Aurora and the pass's tombstone written, not yet loaded
    p.aurora("DELETE FROM public.orders WHERE id = 7")
    first = next(t for t in p.run(SCHEDULED)["tables"] if t["table"] == "public.orders")
    assert first["deletes"]["deletes"] == 1
    # AND the row written again (an update racing the delete), exported and merged before the tombstone
    p.aurora("INSERT INTO public.orders (id, status) VALUES (7, 'back')")
    second = next(t for t in p.run(SCHEDULED)["tables"] if t["table"] == "public.orders")
    runner = p.loader()
    (orders,) = [t for t in runner.tables if t.table_name == "public.orders"]
    for key in second["files"]:
        runner.load_file(orders, key)
    assert runner.merge(orders).state == "SUCCEEDED"
    # WHEN the tombstone loads and merges after it
    assert runner.load_file(orders, first["deletes"]["file"]) == 1
    assert runner.merge(orders).state == "SUCCEEDED"
    # THEN the row stays at its newer version: the tombstone's watermark is older
    assert (7, "back") in {(int(i), s) for i, s in final(p, '"ID", "STATUS"')}
    # AND deleted again, it leaves FINAL; re-inserted after that, it comes back (an insert)
    p.aurora("DELETE FROM public.orders WHERE id = 7")
    hour(p)
    assert 7 not in final_ids(p)
    p.aurora("INSERT INTO public.orders (id, status) VALUES (7, 'third')")
    hour(p)
    assert (7, "third") in {(int(i), s) for i, s in final(p, '"ID", "STATUS"')}
    assert final_ids(p) == aurora_ids(p)


def test_soft_mode_marks_the_row_and_a_new_version_clears_the_mark(
    pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any
) -> None:
    p = make_pipeline(pg_server, moto, bao, fakesnow_server, "soft")
    before = final(p, 'MAX("UPDATED_AT")', "")
    # GIVEN two rows deleted in Aurora WHEN the hourly cycle runs
    p.aurora("DELETE FROM public.orders WHERE id IN (3, 4)")
    p.run(SCHEDULED)
    outcome = p.loader().cycle()["public.orders"]
    # THEN FINAL keeps them with _DELETED_AT set (the tombstone's watermark), the others without,
    # and FINAL's watermark is unchanged. (IS NULL in SQL: fakesnow's server returns a NULL
    # timestamp as 1970-01-01.)
    marked = {int(i): (bool(m), d) for i, m, d in final(p, '"ID", "_DELETED_AT" IS NOT NULL, "_DELETED_AT"')}
    assert {i for i, (m, _) in marked.items() if m} == {3, 4} and len(marked) == ROWS
    assert marked[3][1] > before[0][0] and final(p, 'MAX("UPDATED_AT")', "") == before
    # AND MERGE_AUDIT has the 2 marks, not as updated rows (a mark is an update in the MERGE's own
    # result, which says 2)
    assert (outcome.rows_inserted, outcome.rows_updated, outcome.rows_deleted, outcome.rows_marked) == (
        0,
        0,
        0,
        2,
    )
    merge = next(c for c in p.reconcile()["checks"] if (c["check"], c["table"]) == ("merge", "public.orders"))
    assert (
        merge["details"]["last_merge"]["rows_marked"] == 2 and merge["details"]["rows_marked_in_window"] == 2
    )
    # AND key 3 re-inserted comes back unmarked; that hour's pass finds nothing to delete: rows
    # already marked do not count as FINAL's (4 is gone from Aurora but marked already)
    p.aurora("INSERT INTO public.orders (id, status) VALUES (3, 'back')")
    assert hour(p)["deletes"]["status"] == "none"
    rows = {int(i): (s, bool(m)) for i, s, m in final(p, '"ID", "STATUS", "_DELETED_AT" IS NOT NULL')}
    assert rows[3] == ("back", False) and rows[4][1]


def merge_in_one_load(p: Pipeline, keys: list[str]) -> None:
    """The pipe loads `keys` in this order, then the task runs one MERGE over all of them."""
    runner = p.loader()
    (orders,) = [t for t in runner.tables if t.table_name == "public.orders"]
    for key in keys:
        assert runner.load_file(orders, key) >= 1
    assert runner.merge(orders).state == "SUCCEEDED"


def state_of_7(p: Pipeline, mode: str) -> tuple[Any, ...] | None:
    """Key 7 in FINAL as (status, marked), None when FINAL has no row for it."""
    marked = '"_DELETED_AT" IS NOT NULL' if mode == "soft" else "FALSE"
    rows = final(p, f'"ID", "STATUS", {marked}', "")
    return next(((s, bool(m)) for i, s, m in rows if int(i) == 7), None)


@pytest.mark.parametrize(
    "case",
    [(m, last) for m in ("hard", "soft") for last in (True, False)],
    ids=[f"{m}-tombstone-loaded-{o}" for m in ("hard", "soft") for o in ("last", "first")],
)
def test_a_tombstone_and_a_reinsert_of_its_key_in_one_load_keep_the_reinserted_row(
    pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any, case: tuple[str, bool]
) -> None:
    mode, tombstone_last = case
    p = make_pipeline(pg_server, moto, bao, fakesnow_server, mode)
    # GIVEN key 7 deleted in Aurora and the pass's tombstone written, not yet loaded
    p.aurora("DELETE FROM public.orders WHERE id = 7")
    first = next(t for t in p.run(SCHEDULED)["tables"] if t["table"] == "public.orders")
    tombstone = first["deletes"]["file"]
    assert first["deletes"]["deletes"] == 1 and first["files"] == []
    # AND key 7 re-inserted and exported (a newer watermark than the tombstone's)
    p.aurora("INSERT INTO public.orders (id, status) VALUES (7, 'back')")
    second = next(t for t in p.run(SCHEDULED)["tables"] if t["table"] == "public.orders")
    assert second["rows"] == 1
    # WHEN the pipe loads both files before the task runs once, in either order
    keys = [*second["files"], tombstone] if tombstone_last else [tombstone, *second["files"]]
    merge_in_one_load(p, keys)
    # THEN FINAL has the re-inserted row, unmarked, and every key of Aurora
    assert state_of_7(p, mode) == ("back", False)
    assert final_ids(p) == aurora_ids(p)


@pytest.mark.parametrize("mode", ["hard", "soft"])
def test_at_an_equal_watermark_in_one_load_the_data_row_wins_and_the_next_pass_settles_it(
    pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any, mode: str
) -> None:
    p = make_pipeline(pg_server, moto, bao, fakesnow_server, mode)
    # GIVEN key 7 deleted in Aurora and its tombstone written (watermark B, the pass's bound)
    p.aurora("DELETE FROM public.orders WHERE id = 7")
    first = next(t for t in p.run(SCHEDULED)["tables"] if t["table"] == "public.orders")
    tombstone = first["deletes"]["file"]
    header, row = p.read(tombstone).decode().splitlines()
    bound = row.split(",")[header.split(",").index("updated_at")]
    # AND key 7 written again stamped exactly B (an application-set watermark), and exported
    p.aurora(f"INSERT INTO public.orders (id, status, updated_at) VALUES (7, 'tie', '{bound}')")
    second = next(t for t in p.run(SCHEDULED)["tables"] if t["table"] == "public.orders")
    assert second["rows"] == 1
    # WHEN both load before one MERGE, the tombstone last (the later file)
    merge_in_one_load(p, [*second["files"], tombstone])
    # THEN the data row wins the tie: FINAL keeps key 7 at that version, unmarked
    assert state_of_7(p, mode) == ("tie", False)
    # AND once it is gone from Aurora, the next hourly pass (a later bound) removes or marks it
    p.aurora("DELETE FROM public.orders WHERE id = 7")
    assert hour(p)["deletes"]["deletes"] == 1
    assert state_of_7(p, mode) == (None if mode == "hard" else ("tie", True))
