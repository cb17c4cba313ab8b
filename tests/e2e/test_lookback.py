"""What `lookback_seconds` protects, on the whole local pipeline: export, Snowpipe/task stand-in and
the production MERGE into FINAL.

An incremental run exports `lower < watermark <= upper` with `lower` = FINAL's newest watermark M
minus `lookback_seconds`. The commit-safe upper bound already waits for transactions that are open
when a run starts; what it cannot see is a transaction that starts *after* the run fixed its bound
and still stamps its rows at or below M: an application clock a few seconds behind the database's,
or an explicit timestamp equal to M (a batch stamping all its transactions alike). With the lower
bound at M itself, those rows would never be exported; the lookback re-exports the last
`lookback_seconds` below M every run, so they arrive with the next one (the MERGE is idempotent, so
the overlap costs only bytes).

What it does not protect: a row stamped further back than `lookback_seconds` below M when it
commits. No watermark scheme can find it again; the reconciler's sample check pages it (P2) with the
payload that re-exports its window, shown by the last test here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from aurora_sync.timeutil import as_utc, iso, parse_instant
from tests.support.pipeline import Pipeline

LOOKBACK_SECONDS = 300
Version = tuple[int, str, datetime]


@pytest.fixture
def pipeline(pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any) -> Pipeline:
    """GIVEN orders 1..20 stamped 30 s apart, the newest at the database's now(): once synced, FINAL's
    newest watermark M is row 20's, and rows 1..10 lie at least the lookback below it."""
    p = Pipeline(pg_server, moto, bao, fakesnow_server)
    for table in p.tables:
        table["lookback_seconds"] = LOOKBACK_SECONDS
    p.put_tables()
    admin = p.admin()
    admin.run(
        "INSERT INTO public.orders (id, status, amount, updated_at) "
        "SELECT g, 'new', g, now() - (20 - g) * interval '30 seconds' FROM generate_series(1, 20) g"
    )
    admin.close()
    return p


def sync(p: Pipeline) -> dict[str, Any]:
    """One hourly run, then the pipe and the task take its files into STAGING and FINAL; returns
    the run's result for orders."""
    result = p.run()
    p.loader().cycle()
    [orders] = [t for t in result["tables"] if t["table"] == "public.orders"]
    assert orders["status"] in {"exported", "empty"}, orders
    return dict(orders)


def aurora_versions(p: Pipeline) -> set[Version]:
    admin = p.admin()
    try:
        rows = admin.run("SELECT id, status, updated_at FROM public.orders")
    finally:
        admin.close()
    return {(int(i), s, as_utc(u)) for i, s, u in rows}


def final_versions(p: Pipeline) -> set[Version]:
    conn = p.snow.connect(p.snowflake_database, "FINAL")
    try:
        cur = conn.cursor()
        cur.execute('SELECT "ID", "STATUS", "UPDATED_AT" FROM "FINAL"."ORDERS"')
        return {(int(i), s, as_utc(u)) for i, s, u in cur.fetchall()}
    finally:
        conn.close()


def commit_after_the_bound(p: Pipeline, bound: str, stamp: datetime) -> None:
    """A new row and an update of row 1, stamped `stamp`, by a transaction that starts after the
    export fixed `bound`: the upper bound never waited for it. Row 1's previous version is older
    than `stamp`, so the MERGE (latest watermark wins) takes the update once it is exported."""
    late = p.admin()
    try:
        late.run("BEGIN")
        [[started]] = late.run("SELECT now()")
        assert as_utc(started) > parse_instant(bound, "upper")
        late.run(
            "INSERT INTO public.orders (id, status, amount, updated_at) VALUES (101, 'late', 1, :ts)",
            ts=stamp,
        )
        late.run("UPDATE public.orders SET status = 'paid', updated_at = :ts WHERE id = 1", ts=stamp)
        late.run("COMMIT")
    finally:
        late.close()


def final_max(p: Pipeline) -> datetime:
    return max(ts for _, _, ts in final_versions(p))


@pytest.mark.parametrize(
    "seconds_below_final_max",
    [pytest.param(10, id="app-clock-10s-behind"), pytest.param(0, id="explicit-stamp-equal-to-final-max")],
)
def test_rows_stamped_within_the_lookback_below_final_max_arrive_with_the_next_run(
    pipeline: Pipeline, seconds_below_final_max: int
) -> None:
    p = pipeline
    first = sync(p)
    newest = final_max(p)
    assert first["rows"] == 20 and final_versions(p) == aurora_versions(p)

    # GIVEN, after that run's bound, a transaction commits rows stamped at or just below FINAL's max
    commit_after_the_bound(p, first["upper"], newest - timedelta(seconds=seconds_below_final_max))

    # WHEN the next hourly run exports and its files are loaded and merged
    second = sync(p)

    # THEN FINAL ends equal to Aurora: the late row and the late update are in it
    assert aurora_versions(p) - final_versions(p) == set(), "rows that committed late never arrived"
    assert final_versions(p) == aurora_versions(p)
    assert {v[:2] for v in final_versions(p)} >= {(101, "late"), (1, "paid")}
    # AND that is because the run's window started lookback_seconds below FINAL's max
    assert second["lower"] == iso(newest - timedelta(seconds=LOOKBACK_SECONDS))


def test_a_row_stamped_further_back_than_the_lookback_is_paged_by_the_sample_check(
    pipeline: Pipeline,
) -> None:
    p = pipeline
    first = sync(p)
    newest = final_max(p)
    assert first["rows"] == 20

    # GIVEN, after that run's bound, rows stamped 60 s further back than the lookback commit
    commit_after_the_bound(p, first["upper"], newest - timedelta(seconds=LOOKBACK_SECONDS + 60))

    # WHEN the next hourly run exports and its files are loaded and merged
    sync(p)

    # THEN they are not in FINAL: the limit of any watermark scheme
    missing = aurora_versions(p) - final_versions(p)
    assert {v[:2] for v in missing} == {(101, "late"), (1, "paid")}
    # AND the reconciler pages it once (P2, sample): the new row missing, the update stale, and the
    # payload that re-exports their window
    p.reconcile(LOAD_GRACE_MINUTES="0.0001")
    [page] = list(p.pages())
    assert (page["severity"], page["check"], page["table"]) == ("P2", "sample", "public.orders")
    stamped = iso(newest - timedelta(seconds=LOOKBACK_SECONDS + 60))
    assert page["details"]["missing"] == [{"key": ["101"], "aurora_watermark": stamped}]
    assert [(m["key"], m["aurora_watermark"]) for m in page["details"]["stale"]] == [(["1"], stamped)]

    # WHEN on-call runs that payload and the files are loaded and merged THEN FINAL equals Aurora
    p.run(page["details"]["rerun"])
    p.loader().cycle()
    assert final_versions(p) == aurora_versions(p)
