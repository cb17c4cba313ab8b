"""Incremental exports of one table never overlap: its lease in DynamoDB (aurora_sync.exporter.lease).

Real PostgreSQL (a table lock holds the first run inside its COPY), moto's DynamoDB, S3, SNS and
SQS (what the pager receives), OpenBao and fakesnow; both invocations run in-process, in threads.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aurora_sync.adapters.dynamodb import LeaseTable
from aurora_sync.exporter.lease import LEASE_MARGIN, Lease, TableLeases
from aurora_sync.exporter.run import ExportRunFailed, run_exporter
from aurora_sync.timeutil import as_utc, iso
from tests.support.lambda_context import LambdaContext
from tests.support.logs import rendered_logs
from tests.support.pipeline import Pipeline

ORDERS = {"tables": ["public.orders"]}
ROWS = 50


@pytest.fixture
def pipeline(pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any) -> Pipeline:
    """GIVEN 50 orders in Aurora, none exported yet."""
    p = Pipeline(pg_server, moto, bao, fakesnow_server)
    admin = p.admin()
    try:
        admin.run(
            "INSERT INTO public.orders (id, status, amount, updated_at) "
            "SELECT g, 'new', g, now() - interval '1 hour' + g * interval '1 second' "
            "FROM generate_series(1, :n) g",
            n=ROWS,
        )
    finally:
        admin.close()
    return p


# -- helpers ---------------------------------------------------------------------------------------
def lease_item(p: Pipeline, table: str) -> dict[str, Any] | None:
    got = p.moto.client("dynamodb").get_item(
        TableName=p.lease_table, Key={"lease_key": {"S": table}}, ConsistentRead=True
    )
    item: dict[str, Any] | None = got.get("Item")
    return item


def put_lease(p: Pipeline, table: str, holder: str, acquired: datetime, expires: datetime) -> None:
    """A lease as another invocation wrote it."""
    p.moto.client("dynamodb").put_item(
        TableName=p.lease_table,
        Item={
            "lease_key": {"S": table},
            "holder": {"S": holder},
            "acquired_at": {"S": iso(acquired)},
            "expires_at": {"N": str(int(expires.timestamp()))},
        },
    )


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)


@contextmanager
def table_locked(p: Pipeline, relation: str) -> Iterator[Callable[[], None]]:
    """ACCESS EXCLUSIVE on `relation` until the yielded release() (or the block's end)."""
    holder = p.admin()
    holder.run("BEGIN")
    holder.run(f"LOCK TABLE {relation} IN ACCESS EXCLUSIVE MODE")
    released = False

    def release() -> None:
        nonlocal released
        if not released:
            holder.run("COMMIT")
            released = True

    try:
        yield release
    finally:
        release()
        holder.close()


def waiting_on_a_lock(p: Pipeline) -> bool:
    admin = p.admin()
    try:
        [[count]] = admin.run(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = :user AND wait_event_type = 'Lock'",
            user=p.db_user,
        )
    finally:
        admin.close()
    return int(count) > 0


def aurora_orders(p: Pipeline) -> set[tuple[int, str, datetime]]:
    admin = p.admin()
    try:
        rows = admin.run("SELECT id, status, updated_at FROM public.orders")
    finally:
        admin.close()
    return {(int(i), str(s), as_utc(ts)) for i, s, ts in rows}


def final_orders(p: Pipeline) -> set[tuple[int, str, datetime]]:
    conn = p.snow.connect(p.snowflake_database, "FINAL")
    try:
        cur = conn.cursor()
        cur.execute('SELECT "ID", "STATUS", "UPDATED_AT" FROM "FINAL"."ORDERS"')
        return {(int(i), str(s), as_utc(ts)) for i, s, ts in cur.fetchall()}
    finally:
        conn.close()


# -- two runs at once ------------------------------------------------------------------------------
def test_a_second_run_skips_the_table_while_the_first_exports_it(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = pipeline
    for name, value in p.env().items():  # one environment for both threads (Pipeline.run swaps it)
        monkeypatch.setenv(name, value)
    first: list[dict[str, Any] | BaseException] = []

    def first_run() -> None:
        try:
            first.append(run_exporter(ORDERS, LambdaContext()))
        except BaseException as exc:  # reported by the main thread's assertions
            first.append(exc)

    # GIVEN a first run of the table holding its lease, its COPY waiting behind a table lock
    with table_locked(p, "public.orders") as release:
        thread = threading.Thread(target=first_run, name="first-run")
        thread.start()
        try:
            wait_for(lambda: waiting_on_a_lock(p), "the first run's COPY waits on the lock")
            holder = lease_item(p, "public.orders")
            assert holder is not None

            # WHEN a second run of the same table starts (the next hour, or on-call by hand); its
            # short deadline bounds the wait should it, wrongly, queue behind the lock as well
            second = run_exporter(ORDERS, LambdaContext(timeout_ms=30_000))
        finally:
            release()
            thread.join(timeout=120)
    assert not thread.is_alive()

    # THEN the second run skipped the table, naming the holder, and did not fail for it
    [skipped] = second["tables"]
    assert skipped["status"] == "skipped", skipped
    assert f"held by {holder['holder']['S']} since {holder['acquired_at']['S']}" in skipped["message"]
    assert "nothing to re-run" in skipped["message"]
    # AND the first run exported every row, and its lease was the one named
    [result] = first
    assert isinstance(result, dict), result
    assert result["run_id"] == holder["holder"]["S"]
    [exported] = result["tables"]
    assert (exported["status"], exported["rows"]) == ("exported", ROWS)
    # AND exactly one export of the table happened
    assert [m["run_id"] for m in p.manifests("public.orders")] == [result["run_id"]]
    # AND the lease was released when the first run finished; nobody was paged
    assert lease_item(p, "public.orders") is None
    assert list(p.pages()) == []
    # AND FINAL converges on Aurora
    p.loader().cycle()
    assert final_orders(p) == aurora_orders(p)


# -- a holder that died, a lease held too long ------------------------------------------------------
def test_a_lease_whose_holder_died_is_taken_over_after_its_expiry(
    pipeline: Pipeline, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    p = pipeline
    # GIVEN a lease left by a run killed at its timeout: expired a second ago, never released
    now = datetime.now(UTC)
    put_lease(p, "public.orders", "run-killed", now - timedelta(minutes=16), now - timedelta(seconds=1))

    # WHEN the next run exports the table
    result = p.run(ORDERS)

    # THEN it took the lease over and exported, and says whose lease it replaced
    [table] = result["tables"]
    assert (table["status"], table["rows"]) == ("exported", ROWS)
    logs = rendered_logs(caplog, capsys)
    assert "took over an expired export lease" in logs
    assert "run-killed" in logs
    # AND released it afterwards; an expired lease is no reason to page
    assert lease_item(p, "public.orders") is None
    assert list(p.pages()) == []


def test_a_lease_held_past_the_alert_limit_pages_once_and_resolves_when_next_acquired(
    pipeline: Pipeline,
) -> None:
    p = pipeline
    # GIVEN a lease held for 30 minutes (longer than any run lasts) that expires only in an hour
    now = datetime.now(UTC)
    put_lease(p, "public.orders", "run-stuck", now - timedelta(minutes=30), now + timedelta(hours=1))

    # WHEN two runs find it
    first = p.run(ORDERS)
    second = p.run(ORDERS)

    # THEN both skip the table naming the holder; neither fails
    for result in (first, second):
        [table] = result["tables"]
        assert table["status"] == "skipped"
        assert "held by run-stuck since" in table["message"]
    # AND the pager got exactly one P2 export_lease alert, with the holder and the runbook section
    [page] = list(p.pages())
    assert (page["severity"], page["check"], page["table"], page["status"]) == (
        "P2",
        "export_lease",
        "public.orders",
        "open",
    )
    assert page["details"]["holder"] == "run-stuck"
    assert page["details"]["held_minutes"] >= 30
    assert page["details"]["lease_table"] == p.lease_table
    assert page["runbook"].endswith("#export-lease-held")
    assert "run-stuck" in page["summary"]

    # WHEN on-call clears the stale lease as the runbook says (only if that holder still has it)
    p.moto.client("dynamodb").delete_item(
        TableName=p.lease_table,
        Key={"lease_key": {"S": "public.orders"}},
        ConditionExpression="holder = :h",
        ExpressionAttributeValues={":h": {"S": "run-stuck"}},
    )
    # AND the next run exports
    third = p.run(ORDERS)

    # THEN it acquired the lease, exported, and the alert resolved once
    [table] = third["tables"]
    assert (table["status"], table["rows"]) == ("exported", ROWS)
    [resolved] = list(p.pages())
    assert (resolved["check"], resolved["status"]) == ("export_lease", "resolved")
    assert third["run_id"] in resolved["details"]["evidence"]


def test_a_lease_held_under_the_alert_limit_does_not_page(pipeline: Pipeline) -> None:
    p = pipeline
    # GIVEN a lease taken 10 minutes ago by a run that is still exporting
    now = datetime.now(UTC)
    put_lease(p, "public.orders", "run-busy", now - timedelta(minutes=10), now + timedelta(minutes=6))
    # WHEN another run finds it
    [table] = p.run(ORDERS)["tables"]
    # THEN the table is skipped quietly: the holder is doing the work
    assert table["status"] == "skipped"
    assert list(p.pages()) == []
    assert lease_item(p, "public.orders") is not None


# -- what takes no lease, and a failed export --------------------------------------------------------
def test_a_manual_window_exports_while_another_run_holds_the_lease(pipeline: Pipeline) -> None:
    p = pipeline
    # GIVEN another run holding the table's lease
    now = datetime.now(UTC)
    put_lease(p, "public.orders", "run-hourly", now - timedelta(minutes=1), now + timedelta(minutes=15))
    # WHEN on-call re-exports an explicit window of that table
    window = {**ORDERS, "start": iso(now - timedelta(hours=2)), "end": iso(now)}
    [table] = p.run(window)["tables"]
    # THEN the window is exported (skipping it would lose exactly what was asked for)
    assert (table["status"], table["rows"]) == ("exported", ROWS)
    # AND the other run's lease is untouched
    item = lease_item(p, "public.orders")
    assert item is not None and item["holder"]["S"] == "run-hourly"


def test_the_lease_is_released_when_the_export_fails(pipeline: Pipeline) -> None:
    p = pipeline
    # GIVEN a configured table that no longer exists in Aurora
    admin = p.admin()
    try:
        admin.run("DROP TABLE public.customers")
    finally:
        admin.close()
    # WHEN its incremental export fails
    with pytest.raises(ExportRunFailed) as caught:
        p.run({"tables": ["public.customers"]})
    assert "does not exist" in str(caught.value)
    # THEN its lease is released: the next run is not skipped for it
    assert lease_item(p, "public.customers") is None


# -- the conditional writes themselves, on moto's DynamoDB ------------------------------------------
def test_lease_conditions_on_dynamodb(pipeline: Pipeline) -> None:
    p = pipeline
    clock_now = [datetime.now(UTC)]
    leases = TableLeases(LeaseTable(p.moto.client("dynamodb"), p.lease_table), clock=lambda: clock_now[0])
    term = timedelta(minutes=14)

    # GIVEN a free table WHEN run A acquires THEN it holds the lease until its deadline + margin
    a = leases.acquire("public.orders", "run-a", term)
    assert a.acquired and a.replaced is None
    item = lease_item(p, "public.orders")
    assert item is not None
    expected_expiry = clock_now[0] + term + LEASE_MARGIN
    assert int(item["expires_at"]["N"]) == math.ceil(expected_expiry.timestamp())

    # WHEN run B tries before that expiry THEN it is refused and told who holds it
    b = leases.acquire("public.orders", "run-b", term)
    assert not b.acquired and b.lease.holder == "run-a"

    # WHEN run A writes again (botocore retrying a put whose answer was lost) THEN it still holds it
    again = leases.acquire("public.orders", "run-a", term)
    assert again.acquired and again.replaced is None

    # WHEN run B releases a lease it does not hold THEN run A's lease stays
    leases.release(Lease("public.orders", "run-b", None, None))
    assert lease_item(p, "public.orders") is not None

    # WHEN A's expiry has passed (A was killed) THEN B takes it over and learns whose it replaced
    clock_now[0] = expected_expiry + timedelta(seconds=1)
    taken = leases.acquire("public.orders", "run-b", term)
    assert taken.acquired and taken.replaced is not None and taken.replaced.holder == "run-a"

    # WHEN B releases THEN the table is free; a second release finds nothing and is harmless
    leases.release(taken.lease)
    assert lease_item(p, "public.orders") is None
    leases.release(taken.lease)
