"""Delete detection (exporter/deletes.py) on the local stack: real PostgreSQL and fakesnow through the
real adapters; the tombstone file passes the pipe's load as any export does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

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
    admin = p.admin()
    try:
        admin.run(
            "INSERT INTO public.orders (id, status, updated_at) "
            "SELECT g, 'new', now() - interval '1 day' FROM generate_series(1, 200) g"
        )
    finally:
        admin.close()
    p.run(SCHEDULED)
    p.loader().cycle()
    return p


def orders_result(result: dict[str, Any]) -> dict[str, Any]:
    return next(t for t in result["tables"] if t["table"] == "public.orders")


def test_a_deleted_row_becomes_a_tombstone_the_pipe_loads(pipeline: Pipeline) -> None:
    p = pipeline
    # GIVEN the first run's pass found nothing to delete
    # WHEN a row is deleted in Aurora and the next hourly run exports the table
    admin = p.admin()
    try:
        admin.run("DELETE FROM public.orders WHERE id = 42")
    finally:
        admin.close()
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
