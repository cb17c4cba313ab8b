"""Incremental windows made visible in pieces, interrupted while FINAL already advanced on the
pieces that landed: the publish pin keeps the next run's lower bound at what no manifest covers,
so no row is lost.

Two ways in: a split aurora_s3 export whose publish stops after part 1 (a failed copy, or the Lambda
ended at its timeout), and a timed-out window the state machine split into sub-windows of which one
failed. The interruption is injected at the narrowest seam, ObjectStore.copy (the server-side copy
of one part), or by not running a sub-window; Aurora, the aws_s3 stand-in, moto, Vault and fakesnow
are the real local services.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aurora_sync.adapters.s3 import ObjectStore
from aurora_sync.errors import TransientError
from aurora_sync.timeutil import as_utc, iso
from tests.support.aws_s3_fake import grant_export, install_aws_s3_fake
from tests.support.pipeline import Pipeline

ROWS = 3000
SEED = 100


class LambdaKilled(BaseException):
    """Stands for the runtime ending the invocation: a BaseException, so no `except` of ours
    handles it. (Our `finally` blocks still run here, unlike under a real kill; they only remove
    temporary objects and close connections.)"""


@pytest.fixture
def pipeline(pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any) -> Pipeline:
    """GIVEN orders already synced once (100 rows two days old, so FINAL's watermark is real), then
    3,000 newer rows whose heap order is the reverse of their watermark order, so Aurora's part 1
    (and a later sub-window) holds the newest."""
    p = Pipeline(pg_server, moto, bao, fakesnow_server)
    for table in p.tables:
        table["lookback_seconds"] = 0  # no overlap to hide the hole behind
    p.put_tables()
    admin = p.admin()
    admin.run(
        "INSERT INTO public.orders (id, status, amount, updated_at) "
        "SELECT 100000 + g, 'old', g, now() - interval '2 days' + g * interval '1 second' "
        "FROM generate_series(1, :n) g",
        n=SEED,
    )
    admin.close()
    p.run({"tables": ["public.orders"]})
    p.merge_into_final("public.orders")
    admin = p.admin()
    # Stamped after the first export's bound, as the application stamps them (at or after their
    # transaction's start), newest first in the heap. Without the watermark index the export reads
    # in heap order (as seq and bitmap scans do); a plain index scan, which the planner picks or not
    # depending on statistics, would hand Aurora the rows in watermark order and hide the hole.
    admin.run("DROP INDEX public.orders_updated_at")
    admin.run(
        "INSERT INTO public.orders (id, status, amount, updated_at) "
        "SELECT g, 'new', g, now() + (:n - g) * interval '1 microsecond' FROM generate_series(1, :n) g",
        n=ROWS,
    )
    admin.close()
    return p


def final_state(p: Pipeline) -> tuple[int, Any]:
    conn = p.snow.connect(p.snowflake_database, "FINAL")
    try:
        cur = conn.cursor()
        cur.execute('SELECT COUNT(*), MAX("UPDATED_AT") FROM "FINAL"."ORDERS"')
        count, newest = cur.fetchone()
    finally:
        conn.close()
    return int(count), newest


def final_ids(p: Pipeline) -> list[int]:
    conn = p.snow.connect(p.snowflake_database, "FINAL")
    try:
        cur = conn.cursor()
        cur.execute('SELECT "ID" FROM "FINAL"."ORDERS"')
        return [int(i) for (i,) in cur.fetchall()]
    finally:
        conn.close()


def assert_the_hole(p: Pipeline) -> None:
    """FINAL's watermark is already above rows FINAL lacks: a lower bound from FINAL alone would
    skip them for good."""
    loaded, newest = final_state(p)
    assert SEED < loaded < SEED + ROWS
    admin = p.admin()
    try:
        [[oldest_missing]] = admin.run(
            "SELECT min(updated_at) FROM public.orders WHERE NOT (id = ANY(CAST(:ids AS bigint[])))",
            ids=final_ids(p),
        )
    finally:
        admin.close()
    assert as_utc(newest) > as_utc(oldest_missing)


def split_aurora_exports(p: Pipeline, max_file_bytes: int) -> None:
    """aurora_s3 mode, with Aurora (the stand-in) cutting exports into parts of this size."""
    admin = p.admin()
    install_aws_s3_fake(admin, endpoint_url=p.moto.endpoint_url, max_file_bytes=max_file_bytes)
    grant_export(admin, p.db_user)
    admin.close()
    p.export_mode = "aurora_s3"


def stop_publishing_at_part_2(
    monkeypatch: pytest.MonkeyPatch, failure: BaseException, meanwhile: Any = None
) -> list[str]:
    """The second part copy raises `failure`, after `meanwhile()` (Snowpipe and the task at work)."""
    real_copy = ObjectStore.copy
    copied: list[str] = []

    def copy(self: ObjectStore, source_key: str, target_key: str, size: int, prefix: bytes = b"") -> int:
        copied.append(target_key)
        if len(copied) > 1:
            if meanwhile is not None:
                meanwhile()
            raise failure
        return real_copy(self, source_key, target_key, size, prefix)

    monkeypatch.setattr(ObjectStore, "copy", copy)
    return copied


def recover(p: Pipeline, expected_lower: str) -> None:
    """WHEN the next scheduled run exports and the pipe and task take its files THEN it started at
    the pinned lower bound, FINAL has every row, the pin is gone, and the run after it starts from
    FINAL again and finds nothing new."""
    [orders] = [t for t in p.run({})["tables"] if t["table"] == "public.orders"]
    assert orders["lower"] == expected_lower, orders
    p.merge_into_final("public.orders")
    assert final_state(p)[0] == SEED + ROWS
    assert p.object_keys("_pending/") == []
    [again] = p.run({"tables": ["public.orders"]})["tables"]
    assert again["status"] == "empty"


@pytest.mark.parametrize(
    "failure",
    [TransientError("s3:CopyObject: connection reset by peer"), LambdaKilled()],
    ids=["copy-fails", "lambda-killed"],
)
def test_interrupted_split_publish_is_reexported_by_the_next_run(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    # GIVEN Aurora splits the next export into parts, and its publish stops at part 2, after
    # Snowpipe loaded part 1 and the task merged it
    split_aurora_exports(pipeline, max_file_bytes=20_000)
    [seeded] = pipeline.manifests("public.orders")
    stop_publishing_at_part_2(
        monkeypatch, failure, meanwhile=lambda: pipeline.merge_into_final("public.orders")
    )
    with pytest.raises(BaseException) as raised:
        pipeline.run({"tables": ["public.orders"]})
    assert isinstance(raised.value, LambdaKilled) or "stays pinned" in str(raised.value)
    monkeypatch.undo()

    # THEN this is the hole, and the window's pin is in S3 (no manifest was written for it)
    assert_the_hole(pipeline)
    assert len(pipeline.object_keys("_pending/public.orders/")) == 1
    assert len(pipeline.manifests("public.orders")) == 1
    recover(pipeline, expected_lower=seeded["upper"])


def test_split_window_with_a_failed_sub_window_is_reexported_from_its_start(
    pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any
) -> None:
    # GIVEN orders synced up to two days ago, 3,000 rows since (one every 50 s), and the next hourly
    # window (two days wide) timed out, so the state machine split it into four 12-hour sub-windows
    pipeline = Pipeline(pg_server, moto, bao, fakesnow_server)
    for table in pipeline.tables:
        table["lookback_seconds"] = 0
    pipeline.put_tables()
    admin = pipeline.admin()
    admin.run(
        "INSERT INTO public.orders (id, status, amount, updated_at) "
        "SELECT 100000 + g, 'old', g, now() - interval '2 days' + g * interval '1 second' "
        "FROM generate_series(1, :n) g",
        n=SEED,
    )
    admin.run(
        "INSERT INTO public.orders (id, status, amount, updated_at) "
        "SELECT g, 'new', g, now() - g * interval '50 seconds' FROM generate_series(1, :n) g",
        n=ROWS,
    )
    admin.close()
    now = datetime.now(UTC)
    seed_end = now - timedelta(days=2) + timedelta(seconds=SEED + 1)
    pipeline.run({"tables": ["public.orders"], "start": iso(now - timedelta(days=3)), "end": iso(seed_end)})
    pipeline.merge_into_final("public.orders")
    items = pipeline.run({"action": "split", "table": "public.orders", "parts": 4})["items"]
    assert len(items) == 4 and len(pipeline.object_keys("_pending/public.orders/")) == 1
    # WHEN sub-windows 4, 1 and 3 export and merge, and 2 fails (here: never runs)
    for item in (items[3], items[0], items[2]):
        pipeline.run(item)
    pipeline.merge_into_final("public.orders")
    # THEN FINAL holds the newest watermark but lacks sub-window 2's rows, and the next run starts
    # exactly where that sub-window did (not at FINAL's watermark)
    assert_the_hole(pipeline)
    recover(pipeline, expected_lower=items[1]["start"])


def test_unreadable_pin_fails_the_table_naming_the_object_before_any_export(pipeline: Pipeline) -> None:
    # GIVEN a truncated pin for orders
    key = "_pending/public.orders/run-broken.json"
    pipeline.s3.put_object(Bucket=pipeline.bucket, Key=key, Body=b'{"table": "public.orders", "lower"')
    before = len(pipeline.manifests("public.orders"))
    # WHEN the exporter runs
    with pytest.raises(Exception, match=key):
        pipeline.run({})
    # THEN orders exported nothing (its window is unknown), customers still did
    assert len(pipeline.manifests("public.orders")) == before
    assert pipeline.manifests("public.customers") != []


def test_manual_window_interrupted_mid_publish_pins_nothing(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN on-call's manual re-export of a window, split by Aurora, whose publish fails
    split_aurora_exports(pipeline, max_file_bytes=2_000)
    [seeded] = pipeline.manifests("public.orders")
    calls = stop_publishing_at_part_2(monkeypatch, TransientError("s3:CopyObject: connection reset by peer"))
    with pytest.raises(Exception, match="re-export this window") as raised:
        pipeline.run({"tables": ["public.orders"], "start": seeded["upper"], "end": iso(datetime.now(UTC))})
    # THEN the error names the payload to run, no pin holds the hourly bound back to that old window
    assert len(calls) == 2 and "stays pinned" not in str(raised.value)
    assert pipeline.object_keys("_pending/") == []
