"""A whole hourly cycle on the local stack: no row version is ever missed, and the reconciler
agrees.

Real PostgreSQL, moto S3/SSM/SNS/SQS/DynamoDB, OpenBao and fakesnow. FINAL is advanced between
runs by the stand-in for Snowpipe + the merge task (tests/support/snowpipe_runner.py), which runs
the production MERGE.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.pipeline import Pipeline

MAX_WRITES_PER_WRITER = 400
SCHEDULED = {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}


@pytest.fixture
def pipeline(pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any) -> Pipeline:
    p = Pipeline(pg_server, moto, bao, fakesnow_server)
    for table in p.tables:
        table["lookback_seconds"] = 0  # prove correctness without relying on an overlap
    p.put_tables()
    return p


def versions(rows: list[dict[str, str | None]]) -> set[tuple[str, datetime]]:
    return {(str(r["id"]), parse_pg_ts(str(r["updated_at"]))) for r in rows}


def parse_pg_ts(text: str) -> datetime:
    value = datetime.fromisoformat(text if "+" in text[10:] else text + "+00:00")
    return value.astimezone(UTC)


def aurora_versions(conn: Any) -> set[tuple[str, datetime]]:
    return {(str(i), ts.astimezone(UTC)) for i, ts in conn.run("SELECT id, updated_at FROM public.orders")}


def run(p: Pipeline, event: dict[str, Any] | None = None) -> dict[str, Any]:
    return p.run(event or SCHEDULED)


def test_two_scheduled_runs_export_every_row_version_including_late_commits(pipeline: Pipeline) -> None:
    p = pipeline
    admin = p.admin()

    # GIVEN committed rows, two of them sharing one timestamp
    admin.run(
        "INSERT INTO public.orders (id, status, amount) "
        "SELECT g, 'new', g * 1.5 FROM generate_series(1, 20) g"
    )
    admin.run(
        "INSERT INTO public.orders (id, status, updated_at) VALUES "
        "(21, 'tie', '2026-01-01T00:00:00Z'), (22, 'tie', '2026-01-01T00:00:00Z')"
    )
    # AND a transaction that writes a row and stays open while the export runs
    late = p.admin()
    late.run("BEGIN")
    late.run("INSERT INTO public.orders (id, status) VALUES (100, 'late')")  # updated_at = its start
    late_start = late.run("SELECT now()")[0][0].astimezone(UTC)
    # AND rows committed after it began, one stamped exactly at its start (the boundary)
    admin.run("UPDATE public.orders SET status = 'paid', updated_at = now() WHERE id IN (1, 2)")
    admin.run("INSERT INTO public.orders (id, status, updated_at) VALUES (101, 'edge', :ts)", ts=late_start)
    before_first = aurora_versions(admin)

    # WHEN the first scheduled run exports while that transaction is open
    first = run(p)

    # THEN its window stops just before the open transaction began, and holds everything older
    orders = next(t for t in first["tables"] if t["table"] == "public.orders")
    assert orders["status"] == "exported"
    assert parse_pg_ts(orders["upper"].replace("Z", "+00:00")) < late_start
    exported_first = versions(p.exported_rows("public.orders"))
    assert all(ts < late_start for _, ts in exported_first)
    assert {v for v in before_first if v[1] < late_start} == exported_first

    # WHEN the late transaction commits, FINAL catches up, rows change, and the next run exports
    late.run("COMMIT")
    late.close()
    p.merge_into_final("public.orders")
    admin.run("UPDATE public.orders SET status = 'shipped', updated_at = now() WHERE id = 3")
    admin.run("INSERT INTO public.orders (id, status) VALUES (200, 'new')")
    second = run(p)
    assert {t["status"] for t in second["tables"]} <= {"exported", "empty"}

    # THEN every version committed by then (the late row, the boundary row, the updates) is in a
    # file a manifest names: none missed
    exported = versions(p.exported_rows("public.orders"))
    missing = aurora_versions(admin) - exported
    assert not missing, f"row versions never exported: {sorted(missing)}"
    assert ("100", late_start) in exported and ("101", late_start) in exported

    # AND every manifest's files exist with the row counts and sizes it claims
    for manifest in p.manifests("public.orders"):
        assert manifest["rows"] == sum(f["rows"] for f in manifest["files"])
        for entry in manifest["files"]:
            body = p.read(entry["key"])
            assert len(body) == entry["bytes"]
            assert body.count(b"\n") >= entry["rows"] + 1
            assert entry["key"].startswith("public.orders/") and entry["key"].endswith(".csv")
    admin.close()


def test_concurrent_writers_during_repeated_runs_lose_nothing(pipeline: Pipeline) -> None:
    # GIVEN writers committing continuously (some in slow transactions) while exports run
    p = pipeline
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(offset: int, hold: float) -> None:
        conn = p.admin()
        try:
            for i in range(MAX_WRITES_PER_WRITER):
                if stop.is_set():
                    break
                conn.run("BEGIN")
                conn.run("INSERT INTO public.orders (id, status) VALUES (:id, 'w')", id=offset + i)
                stop.wait(hold)
                conn.run("COMMIT")
                stop.wait(0.01)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            conn.close()

    threads = [
        threading.Thread(target=writer, args=(10_000 * (n + 1), hold))
        for n, hold in enumerate((0, 0.05, 0.2))
    ]
    for t in threads:
        t.start()
    try:
        # WHEN several scheduled runs export, FINAL advancing between them
        for _ in range(4):
            run(p)
            p.merge_into_final("public.orders")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors
    run(p)  # after the writers stop, one more hourly run catches up

    # THEN every committed row is in the export
    admin = p.admin()
    missing = aurora_versions(admin) - versions(p.exported_rows("public.orders"))
    admin.close()
    assert not missing, f"{len(missing)} rows never exported, e.g. {sorted(missing)[:5]}"

    # AND once Snowpipe and the task have caught up, the reconciler finds every check ok and
    # sends nothing: no false page after a busy hour
    p.loader().cycle()
    list(p.alerts())
    result = p.reconcile(LOAD_GRACE_MINUTES="0.0001")
    assert result["status"] == "ok", [c for c in result["checks"] if c["status"] not in {"ok", "skipped"}]
    [sample] = [c for c in result["checks"] if c["check"] == "sample" and c["table"] == "public.orders"]
    assert sample["details"]["sampled"] == 20
    assert list(p.alerts()) == [] and list(p.pages()) == []


def test_manual_range_exports_exactly_the_window(pipeline: Pipeline) -> None:
    # GIVEN rows spread over three hours
    p = pipeline
    admin = p.admin()
    base = datetime(2026, 11, 20, tzinfo=UTC)
    for i in range(30):
        admin.run(
            "INSERT INTO public.orders (id, status, updated_at) VALUES (:id, 'x', :ts)",
            id=i,
            ts=base + timedelta(minutes=6 * i),
        )
    admin.close()
    # WHEN on-call re-exports 01:00-02:00 in 20 minute chunks
    result = run(
        p,
        {
            "tables": ["public.orders"],
            "start": "2026-11-20T01:00:00Z",
            "end": "2026-11-20T02:00:00Z",
            "chunk_minutes": 20,
        },
    )
    # THEN three chunks, rows with 01:00 < updated_at <= 02:00 exactly once
    assert len(result["tables"]) == 3
    ids = sorted(int(str(r["id"])) for r in p.exported_rows("public.orders"))
    assert ids == list(range(11, 21))
