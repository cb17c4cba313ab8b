"""The reconciler on the local stack: a healthy cycle is silent; each way the pipeline can break
pages once, with the right severity, check, table and evidence; a re-run does not re-page; the fix
sends one resolve. Alerts arrive through SNS -> SQS subscriptions with the deployed filter
policies (chat: everything; pager: P1/P2)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from aurora_sync.layout import pending_key
from aurora_sync.pins import PublishPin
from aurora_sync.tables import TableConfig
from aurora_sync.timeutil import iso, parse_instant
from tests.support.pipeline import Pipeline
from tests.support.snowpipe_runner import LocalLoadRunner
from tests.support.stack import free_port

GRACE_OVER = {"LOAD_GRACE_MINUTES": "0.0001"}  # every load older than 6 ms is overdue
PIN_GRACE_OVER = {"PIN_GRACE_MINUTES": "0.0001"}  # likewise every pinned gap


@pytest.fixture
def pipeline(pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any) -> Pipeline:
    """GIVEN both tables exported, loaded and merged once: orders 1..40 stamped ten seconds apart
    ending three hours ago (so rows 1..10 are older than FINAL's newest minus the 300 s lookback,
    the ones the sample check must find), customers likewise."""
    return synced(pg_server, moto, bao, fakesnow_server)


@pytest.fixture(scope="module")
def refusing(pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any) -> Pipeline:
    """GIVEN the same state as `pipeline`, made once for the tests whose event is refused before the
    reconciler reads or writes anything (a pipeline per case was most of their time)."""
    return synced(pg_server, moto, bao, fakesnow_server)


def synced(pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any) -> Pipeline:
    p = Pipeline(pg_server, moto, bao, fakesnow_server)
    admin = p.admin()
    admin.run(
        "INSERT INTO public.orders (id, customer_id, status, amount, updated_at) "
        "SELECT g, g % 7, 'new', g * 1.5, now() - interval '3 hours' - (40 - g) * interval '10 seconds' "
        "FROM generate_series(1, 40) g"
    )
    admin.run(
        "INSERT INTO public.customers (id, email, name, updated_at) "
        "SELECT g, 'c' || g || '@example.com', 'C' || g, "
        "(now() AT TIME ZONE 'UTC') - interval '3 hours' + g * interval '1 second' "
        "FROM generate_series(1, 10) g"
    )
    admin.close()
    p.run()
    p.loader().cycle()
    return p


def orders(p: Pipeline) -> tuple[LocalLoadRunner, TableConfig]:
    runner = p.loader()
    [table] = [t for t in runner.tables if t.table_name == "public.orders"]
    return runner, table


def add_orders(p: Pipeline, ids: range, stamped: str = "just after FINAL") -> None:
    """New rows stamped a few seconds after FINAL's newest (no freshness drift), or "now"."""
    when = "now()" if stamped == "now" else "now() - interval '3 hours' + interval '5 seconds'"
    admin = p.admin()
    admin.run(
        f"INSERT INTO public.orders (id, status, amount, updated_at) SELECT g, 'late', 1, {when} "
        "FROM generate_series(CAST(:a AS int), CAST(:b AS int)) g",
        a=ids.start,
        b=ids.stop - 1,
    )
    admin.close()


def export_orders(p: Pipeline) -> dict[str, Any]:
    [table] = p.run({"tables": ["public.orders"]})["tables"]
    assert table["status"] == "exported", table
    return dict(table)


def only(messages: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(messages) == 1, [(m["check"], m["severity"], m["summary"]) for m in messages]
    return messages[0]


def drained(p: Pipeline) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return list(p.alerts()), list(p.pages())


def test_healthy_cycle_sends_nothing_and_says_ok(pipeline: Pipeline) -> None:
    drained(pipeline)  # the exporter's own messages, if any
    # WHEN the reconciler runs after a clean cycle
    result = pipeline.reconcile(**GRACE_OVER)
    # THEN every check of every table is ok (or skipped by config), and nothing is sent
    statuses = {(c["check"], c["table"]): c["status"] for c in result["checks"]}
    assert result["status"] == "ok", [c for c in result["checks"] if c["status"] not in {"ok", "skipped"}]
    assert set(statuses.values()) <= {"ok", "skipped"}
    assert {c for c, _ in statuses} == {
        *("manifests", "loads", "merge", "pipe", "freshness", "sample", "pins", "volume", "cost")
    }
    assert statuses[("sample", "public.orders")] == "ok"
    assert drained(pipeline) == ([], [])


def test_deleted_file_pages_once_with_the_rerun_then_resolves_after_the_reexport(pipeline: Pipeline) -> None:
    # GIVEN a new export whose file is deleted before Snowpipe saw it
    add_orders(pipeline, range(100, 110))
    exported = export_orders(pipeline)
    pipeline.s3.delete_object(Bucket=pipeline.bucket, Key=exported["files"][0])
    pipeline.loader().cycle()
    drained(pipeline)

    # WHEN the reconciler runs after the grace period
    pipeline.reconcile(**GRACE_OVER)

    # THEN exactly one P2 `loads` page for public.orders naming the file, that it is gone from S3,
    # and the payload that re-exports its window
    chat, pages = drained(pipeline)
    alert = only(pages)
    assert only(chat) == alert
    assert (alert["severity"], alert["check"], alert["table"]) == ("P2", "loads", "public.orders")
    [problem] = alert["details"]["problems"]
    assert problem["file"] == exported["files"][0] and problem["object_in_s3"] is False
    assert problem["rerun"] == {
        "tables": ["public.orders"],
        "start": exported["lower"],
        "end": exported["upper"],
    }
    assert alert["runbook"].endswith("#load-missing") and alert["status"] == "open"

    # AND running again does not page again
    again = pipeline.reconcile(**GRACE_OVER)
    assert drained(pipeline) == ([], [])
    assert again["alerts"]["suppressed"] == ["loads:public.orders"]

    # WHEN on-call runs the rerun payload and the new file loads
    pipeline.run(problem["rerun"])
    pipeline.loader().cycle()
    pipeline.reconcile(**GRACE_OVER)

    # THEN one resolve message reaches both pager and chat
    chat, pages = drained(pipeline)
    resolved = only(pages)
    assert only(chat) == resolved
    assert (resolved["status"], resolved["check"], resolved["severity"]) == ("resolved", "loads", "P2")
    pipeline.reconcile(**GRACE_OVER)
    assert drained(pipeline) == ([], [])


def test_bad_csv_pages_with_snowflakes_first_error_and_resolves_after_the_reload(pipeline: Pipeline) -> None:
    # GIVEN an exported file replaced by one with an extra column before the pipe loads it
    add_orders(pipeline, range(200, 205))
    exported = export_orders(pipeline)
    key = exported["files"][0]
    good = pipeline.read(key)
    bad = b"\n".join(line + b",x" for line in good.rstrip(b"\n").split(b"\n")) + b"\n"
    pipeline.s3.put_object(Bucket=pipeline.bucket, Key=key, Body=bad)
    pipeline.loader().cycle()
    drained(pipeline)

    # WHEN the reconciler runs
    pipeline.reconcile(**GRACE_OVER)

    # THEN one P2 `loads` page carrying the load error as Snowflake reports it
    chat, pages = drained(pipeline)
    alert = only(pages)
    assert only(chat) == alert
    assert (alert["severity"], alert["check"], alert["table"]) == ("P2", "loads", "public.orders")
    [problem] = alert["details"]["problems"]
    assert problem["problem"] == "load failed" and problem["file"] == key
    assert "Number of columns in file (7)" in problem["first_error"]
    assert "Number of columns in file (7)" in alert["summary"]
    assert alert["runbook"].endswith("#load-failed")
    pipeline.reconcile(**GRACE_OVER)
    assert drained(pipeline) == ([], [])

    # WHEN the file is fixed and reloaded by hand (COPY INTO ... FILES = (...)) and merged
    pipeline.s3.put_object(Bucket=pipeline.bucket, Key=key, Body=good)
    runner, table = orders(pipeline)
    assert runner.load_file(table, key) == exported["rows"]
    assert runner.merge(table).state == "SUCCEEDED"
    pipeline.reconcile(**GRACE_OVER)

    # THEN one resolve
    chat, pages = drained(pipeline)
    assert only(pages)["status"] == "resolved" and only(chat)["check"] == "loads"


def test_failed_merge_pages_with_the_task_error_and_resolves_when_it_succeeds(pipeline: Pipeline) -> None:
    # GIVEN FINAL lost a column, so the task's MERGE fails on the next load
    conn = pipeline.snow.connect(pipeline.snowflake_database, "FINAL")
    conn.cursor().execute('ALTER TABLE "FINAL"."ORDERS" DROP COLUMN "STATUS"')
    add_orders(pipeline, range(300, 303))
    export_orders(pipeline)
    pipeline.loader().cycle()
    drained(pipeline)

    # WHEN the reconciler runs
    result = pipeline.reconcile(**GRACE_OVER)

    # THEN one P2 `merge` page with the task's error
    chat, pages = drained(pipeline)
    alert = only(pages)
    assert only(chat) == alert
    assert (alert["severity"], alert["check"], alert["table"]) == ("P2", "merge", "public.orders")
    assert alert["details"]["error_message"] and "STATUS" in alert["details"]["error_message"].upper()
    assert alert["runbook"].endswith("#merge-failed")
    assert {c["check"] for c in result["checks"] if c["status"] == "problem"} == {"merge"}
    pipeline.reconcile(**GRACE_OVER)
    assert drained(pipeline) == ([], [])

    # WHEN the column is restored and the task runs again
    conn.cursor().execute('ALTER TABLE "FINAL"."ORDERS" ADD COLUMN "STATUS" VARCHAR')
    conn.close()
    runner, table = orders(pipeline)
    assert runner.merge(table).state == "SUCCEEDED"
    pipeline.reconcile(**GRACE_OVER)

    # THEN one resolve
    chat, pages = drained(pipeline)
    assert only(pages)["status"] == "resolved" and only(chat)["check"] == "merge"


def test_paused_pipe_pages_as_an_early_warning_and_resolves_when_running(pipeline: Pipeline) -> None:
    # GIVEN the orders pipe is paused
    runner, table = orders(pipeline)
    runner.set_pipe_state(table, "PAUSED")
    drained(pipeline)

    # WHEN the reconciler runs THEN one P2 `pipe` page naming the state
    pipeline.reconcile(**GRACE_OVER)
    chat, pages = drained(pipeline)
    alert = only(pages)
    assert only(chat) == alert
    assert (alert["severity"], alert["check"], alert["table"]) == ("P2", "pipe", "public.orders")
    assert "PAUSED" in alert["summary"] and alert["details"]["status"]["executionState"] == "PAUSED"
    pipeline.reconcile(**GRACE_OVER)
    assert drained(pipeline) == ([], [])

    # WHEN it runs again THEN one resolve
    runner.set_pipe_state(table, "RUNNING")
    pipeline.reconcile(**GRACE_OVER)
    chat, pages = drained(pipeline)
    assert only(pages)["status"] == "resolved" and only(chat)["check"] == "pipe"


def test_stale_table_goes_to_chat_not_the_pager(pipeline: Pipeline) -> None:
    # GIVEN Aurora has a row three hours newer than FINAL's newest (SLA 120 min), not exported yet
    add_orders(pipeline, range(400, 401), stamped="now")
    drained(pipeline)

    # WHEN the reconciler runs
    pipeline.reconcile(**GRACE_OVER)

    # THEN one P3 `freshness` alert in chat with both watermarks, and nothing on the pager
    chat, pages = drained(pipeline)
    alert = only(chat)
    assert pages == []
    assert (alert["severity"], alert["check"], alert["table"]) == ("P3", "freshness", "public.orders")
    assert alert["details"]["lag_minutes"] > 120 and alert["details"]["sla_minutes"] == 120
    assert alert["runbook"].endswith("#sync-lagging")

    # WHEN the next cycle exports and merges it THEN one resolve, in chat only
    export_orders(pipeline)
    pipeline.loader().cycle()
    pipeline.reconcile(**GRACE_OVER)
    chat, pages = drained(pipeline)
    assert only(chat)["status"] == "resolved" and pages == []


def test_a_drop_to_no_rows_goes_to_chat_as_low_volume(pipeline: Pipeline) -> None:
    # GIVEN orders with low_volume on, whose hourly runs exported 1,000 rows an hour in the same
    # hours of the past 3 weeks and none in the last 7 hours (manifests as the exporter writes them)
    from datetime import timedelta

    from aurora_sync.layout import manifest_key
    from aurora_sync.manifest import Manifest

    pipeline.tables = [
        {**t, "low_volume": {}} if t["table_name"] == "public.orders" else t for t in pipeline.tables
    ]
    pipeline.put_tables()
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    hours = [(end - timedelta(hours=h), 0) for h in range(1, 8)]
    hours += [(end - timedelta(weeks=k, hours=h), 1000) for k in (1, 2, 3) for h in range(-1, 9)]
    for at, rows in hours:
        run_hour = at + timedelta(hours=1)
        doc = Manifest("r", f"v{at:%m%d%H}", "public.orders", [], rows, iso(at), iso(run_hour), "aurora_s3",
                       iso(run_hour), iso(run_hour), "0" * 64)  # fmt: skip
        key = manifest_key("public.orders", run_hour, doc.export_id)
        pipeline.s3.put_object(Bucket=pipeline.bucket, Key=key, Body=doc.to_json().encode())
    drained(pipeline)

    # WHEN the reconciler runs
    result = pipeline.reconcile(**GRACE_OVER)

    # THEN one P3 `volume` alert in chat with the numbers and its runbook section, nothing on the pager
    chat, pages = drained(pipeline)
    alert = only(chat)
    assert pages == []
    assert (alert["severity"], alert["check"], alert["table"]) == ("P3", "volume", "public.orders")
    assert alert["summary"].startswith(
        f"0 rows exported for {iso(end - timedelta(hours=6))}..{iso(end)} (6 h)"
    )
    assert alert["details"]["median"] == 6000 and alert["runbook"].endswith("#low-volume")
    # AND customers, without low_volume, is not judged
    [customers] = [c for c in result["checks"] if c["check"] == "volume" and c["table"] == "public.customers"]
    assert customers["status"] == "skipped"


def with_budget(p: Pipeline, table: str, budget: float) -> None:
    """Set the table's daily_credit_budget in tables.json, as an apply writes it to Parameter Store."""
    p.tables = [{**t, "daily_credit_budget": budget} if t["table_name"] == table else t for t in p.tables]
    p.put_tables()


def on_the_judged_day(p: Pipeline) -> None:
    """What the fixture's loads and merges cost, recorded on the day the cost check judges now (the
    newest UTC day that ended 8 hours ago: Snowflake's usage views have settled for it)."""
    from datetime import timedelta

    from aurora_sync.reconciler.cost import cost_day

    start, _ = cost_day(datetime.now(UTC))
    p.loader().backdate_usage(start + timedelta(hours=12))


def test_a_table_over_its_daily_credit_budget_is_a_p4_in_chat_and_resolves_within_it(
    pipeline: Pipeline,
) -> None:
    # GIVEN the fixture's loads and merges on the judged day, orders with a daily_credit_budget below
    # what its load and merge cost, customers without one
    on_the_judged_day(pipeline)
    with_budget(pipeline, "public.orders", 1e-12)
    drained(pipeline)

    # WHEN the reconciler runs
    result = pipeline.reconcile(**GRACE_OVER)

    # THEN one P4 `cost` alert in chat with the day's figures and its runbook section, none on the pager
    chat, pages = drained(pipeline)
    alert = only(chat)
    assert pages == []
    assert (alert["severity"], alert["check"], alert["table"]) == ("P4", "cost", "public.orders")
    assert alert["summary"].endswith("over its daily_credit_budget of 1e-12")
    assert alert["runbook"].endswith("#table-over-budget")
    # AND the figures are what the stand-in recorded: the pipe's files at Snowpipe's per-GB price,
    # the one MERGE run at the X-Small warehouse's credit per hour, with the task's QUERY_TAG
    details = alert["details"]
    files = [k for k in pipeline.object_keys("public.orders/") if k.endswith(".csv")]
    size = sum(len(pipeline.read(k)) for k in files)
    assert (details["bytes_loaded"], details["merge_queries"]) == (size, 1)
    assert details["snowpipe_credits"] == pytest.approx(0.0037 * size / 1e9, rel=1e-5)
    assert 0 < details["merge_credits"] < 60 / 3600  # a run of under a minute
    assert details["source"].startswith("exact: ") and "idle time" in details["excludes"]
    # AND customers, without a budget, is reported with its own figures and not judged
    [customers] = [c for c in result["checks"] if c["check"] == "cost" and c["table"] == "public.customers"]
    assert customers["status"] == "skipped" and customers["details"]["merge_queries"] == 1
    assert customers["details"]["credits"] > 0

    # WHEN the budget is raised above the day's credits and the reconciler runs again
    with_budget(pipeline, "public.orders", 1000)
    result = pipeline.reconcile(**GRACE_OVER)
    # THEN the cost check is ok and chat gets the one resolve; the pager nothing
    chat, pages = drained(pipeline)
    resolved = only(chat)
    assert (resolved["check"], resolved["status"], pages) == ("cost", "resolved", [])
    [orders_cost] = [c for c in result["checks"] if c["check"] == "cost" and c["table"] == "public.orders"]
    assert orders_cost["status"] == "ok"


def test_credits_that_cannot_be_read_leave_cost_unknown_and_page_no_one(pipeline: Pipeline) -> None:
    # GIVEN orders with a budget, and QUERY_ATTRIBUTION_HISTORY unreadable: the stand-in's table is
    # gone, which Snowflake reports the same way as a missing grant ("does not exist or not authorized")
    with_budget(pipeline, "public.orders", 1)
    conn = pipeline.snow.connect(pipeline.snowflake_database, "FINAL")
    try:
        conn.cursor().execute('DROP TABLE "LOCAL_HISTORY"."QUERY_ATTRIBUTION_HISTORY"')
    finally:
        conn.close()
    drained(pipeline)

    # WHEN the reconciler runs
    result = pipeline.reconcile(**GRACE_OVER)

    # THEN both tables' cost checks are unknown, naming the view; every other check ran and is fine
    for c in result["checks"]:
        if c["check"] == "cost":
            assert c["status"] == "unknown"
            assert c["summary"].startswith("could not check: QUERY_ATTRIBUTION_HISTORY: "), c["summary"]
        else:
            assert c["status"] in {"ok", "skipped"}, c
    # AND chat gets one P4 notice that the cost checks could not run; the pager nothing
    chat, pages = drained(pipeline)
    notice = only(chat)
    assert pages == []
    assert (notice["severity"], notice["check"], notice["status"]) == ("P4", "reconciler_cost", "open")
    assert notice["details"]["unknown"] == ["cost:public.orders", "cost:public.customers"]


def test_row_missing_from_final_is_found_by_sampling(pipeline: Pipeline) -> None:
    # GIVEN a row older than the lookback overlap vanished from FINAL
    conn = pipeline.snow.connect(pipeline.snowflake_database, "FINAL")
    conn.cursor().execute('DELETE FROM "FINAL"."ORDERS" WHERE "ID" = 9')
    drained(pipeline)

    # WHEN the reconciler runs THEN one P2 `sample` page naming the key and its Aurora watermark
    pipeline.reconcile(**GRACE_OVER)
    chat, pages = drained(pipeline)
    alert = only(pages)
    assert only(chat) == alert
    assert (alert["severity"], alert["check"], alert["table"]) == ("P2", "sample", "public.orders")
    assert [m["key"] for m in alert["details"]["missing"]] == [["9"]]
    assert alert["runbook"].endswith("#rows-missing")

    # WHEN on-call re-exports the window the alert names, and it is loaded and merged
    assert pipeline.run(alert["details"]["rerun"])["tables"][0]["rows"] == 1
    pipeline.loader().cycle()
    conn.close()
    pipeline.reconcile(**GRACE_OVER)
    chat, pages = drained(pipeline)
    assert only(pages)["status"] == "resolved" and only(chat)["check"] == "sample"


def test_overdue_publish_pin_pages_once_and_resolves_when_the_next_run_reexports(pipeline: Pipeline) -> None:
    # GIVEN a window of orders above the last manifest's, pinned by a publish that never finished:
    # FINAL may lack rows of it below its own watermark, which no other check would see
    [seeded] = pipeline.manifests("public.orders")
    lower, upper = parse_instant(seeded["upper"], "upper"), datetime.now(UTC)
    pin = PublishPin("public.orders", "interrupted", "r0", lower, upper, datetime.now(UTC))
    key = pending_key("public.orders", "interrupted")
    pipeline.s3.put_object(Bucket=pipeline.bucket, Key=key, Body=pin.to_json().encode())
    drained(pipeline)

    # WHEN the reconciler runs past PIN_GRACE_MINUTES
    pipeline.reconcile(**PIN_GRACE_OVER)

    # THEN one P2 `pins` page carries the uncovered window and the payload that re-exports it
    chat, pages = drained(pipeline)
    alert = only(pages)
    assert only(chat) == alert
    assert (alert["severity"], alert["check"], alert["table"]) == ("P2", "pins", "public.orders")
    assert alert["details"]["rerun"] == {"tables": ["public.orders"], "start": iso(lower), "end": iso(upper)}
    assert alert["runbook"].endswith("#publish-pins")
    # AND running again does not page again
    pipeline.reconcile(**PIN_GRACE_OVER)
    assert drained(pipeline) == ([], [])

    # WHEN the next scheduled run exports orders (its window covers the pinned one) and it loads
    pipeline.run()
    pipeline.loader().cycle()
    pipeline.reconcile(**PIN_GRACE_OVER)

    # THEN that run deleted the pin, and one resolve arrives
    assert pipeline.object_keys("_pending/") == []
    chat, pages = drained(pipeline)
    resolved = only(pages)
    assert (resolved["status"], resolved["check"]) == ("resolved", "pins")


def test_files_inside_the_grace_period_are_pending_not_a_problem(pipeline: Pipeline) -> None:
    add_orders(pipeline, range(500, 502))
    export_orders(pipeline)  # not loaded yet
    drained(pipeline)
    result = pipeline.reconcile()  # default 30 minutes grace
    [loads] = [c for c in result["checks"] if c["check"] == "loads" and c["table"] == "public.orders"]
    assert loads["status"] == "pending" and result["status"] == "ok"
    assert drained(pipeline) == ([], [])


def test_snowflake_unreachable_is_unknown_never_ok_and_escalates_to_p1(pipeline: Pipeline) -> None:
    drained(pipeline)
    blind = {
        "SNOWFLAKE_PORT": str(free_port()),
        "SNOWFLAKE_LOGIN_TIMEOUT_SECONDS": "1",
        "SELF_ALERT_P1_AFTER": "3",
    }

    # WHEN Snowflake cannot be reached
    first = pipeline.reconcile(**blind)

    # THEN the run says unknown, every Snowflake-backed check is unknown, and one P3 self-alert
    # goes to chat only
    assert first["status"] == "unknown"
    unknown = {c["check"] for c in first["checks"] if c["status"] == "unknown"}
    assert unknown == {"loads", "merge", "pipe", "freshness", "sample", "cost"}
    chat, pages = drained(pipeline)
    alert = only(chat)
    assert pages == [] and (alert["severity"], alert["check"]) == ("P3", "reconciler")
    assert "snowflake unavailable" in alert["summary"]

    # WHEN it keeps failing THEN the second run is quiet and the third pages P1
    pipeline.reconcile(**blind)
    assert drained(pipeline) == ([], [])
    pipeline.reconcile(**blind)
    chat, pages = drained(pipeline)
    assert only(pages)["severity"] == "P1" and only(chat)["check"] == "reconciler"

    # WHEN Snowflake is back THEN one resolve, and the run is ok again
    assert pipeline.reconcile(**GRACE_OVER)["status"] == "ok"
    chat, pages = drained(pipeline)
    assert only(pages)["status"] == "resolved" and only(chat)["severity"] == "P1"


def test_aurora_unreachable_leaves_freshness_and_sample_unknown(pipeline: Pipeline) -> None:
    drained(pipeline)
    result = pipeline.reconcile(DB_PORT=str(free_port()), **GRACE_OVER)
    unknown = {(c["check"], c["table"]) for c in result["checks"] if c["status"] == "unknown"}
    assert {check for check, _ in unknown} == {"freshness", "sample"}
    assert result["status"] == "unknown"
    assert only(list(pipeline.alerts()))["check"] == "reconciler"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"run_id": "r", "table": "public.orders", "files": [{"key": "a.csv", "rows": 1', "EOF"),
        (
            b'{"run_id": "r", "table": "public.orders", "files": "nope", "rows": 1, "lower": null,'
            b' "upper": "2026-11-22T00:00:00Z", "finished_at": "2026-11-22T00:00:00Z"}',
            "files",
        ),
    ],
    ids=["truncated", "wrong-type"],
)
def test_bad_manifest_alerts_naming_the_object_and_other_checks_still_run(
    pipeline: Pipeline, body: bytes, field: str
) -> None:
    # GIVEN a manifest that is truncated or has a wrong type
    key = f"_manifests/public.orders/{datetime.now(UTC):%Y/%m/%d/%H}/run-broken.json"
    pipeline.s3.put_object(Bucket=pipeline.bucket, Key=key, Body=body)
    drained(pipeline)
    # WHEN the reconciler runs THEN one P2 `manifests` alert names the object and the problem
    result = pipeline.reconcile(**GRACE_OVER)
    alert = only(list(pipeline.pages()))
    assert (alert["check"], alert["table"]) == ("manifests", "public.orders")
    assert key in alert["summary"] and field in alert["summary"]
    # AND the loads of the readable manifests are still checked
    [loads] = [c for c in result["checks"] if c["check"] == "loads" and c["table"] == "public.orders"]
    assert loads["status"] == "ok"


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ([], "(event)"),
        ({"tables": ["public.nope"]}, "tables"),
        ({"source": "sync", "exports": "x"}, "exports"),
        ({"source": "sync", "exports": [{"tables": [{"table": "public.nope"}]}]}, "exports[].tables[].table"),
        ({"tabels": ["public.orders"]}, "tables"),
    ],
)
def test_malformed_event_is_rejected_naming_the_field(refusing: Pipeline, event: Any, field: str) -> None:
    from aurora_sync.errors import PayloadError

    with pytest.raises(PayloadError) as caught:
        refusing.reconcile(event)
    assert caught.value.field == field


def test_state_machine_payload_reconciles_the_exported_tables(pipeline: Pipeline) -> None:
    exported = pipeline.run({"tables": ["public.customers"]})
    result = pipeline.reconcile({"source": "sync", "exports": [exported]}, **GRACE_OVER)
    assert result["tables"] == ["public.customers"] and result["export_run_ids"] == [exported["run_id"]]
    assert {c["table"] for c in result["checks"]} == {"public.customers"}


def test_the_longest_look_back_reads_task_history_within_its_seven_days(pipeline: Pipeline) -> None:
    # GIVEN the longest look-back the settings allow, 168 hours, which floored to the hour starts up
    # to 7 days and 59 minutes ago: beyond TASK_HISTORY's 7 days, where Snowflake (and the local
    # stand-in, like it) fails the whole query
    drained(pipeline)
    # WHEN the reconciler runs with it after a clean cycle
    result = pipeline.reconcile(RECONCILE_LOOKBACK_HOURS="168", **GRACE_OVER)
    # THEN the merge evidence is read (its range starts inside the 7 days), every check is ok and
    # nothing is sent: no "reconciler" alert about checks that could not run
    statuses = {(c["check"], c["table"]): c["status"] for c in result["checks"]}
    assert statuses[("merge", "public.orders")] == "ok", result["checks"]
    assert result["status"] == "ok" and drained(pipeline) == ([], [])


def test_the_local_history_refuses_a_range_snowflake_refuses(pipeline: Pipeline) -> None:
    # GIVEN the local stand-in of TASK_HISTORY / COPY_HISTORY, read through the production adapter
    from datetime import timedelta

    from aurora_sync.adapters.snowflake import Snowflake
    from aurora_sync.adapters.snowflake_history import SnowflakeHistory
    from tests.support.local_history import LOCAL_QUERIES

    runner, table = orders(pipeline)
    sf = runner.objects(table)
    adapter = Snowflake({**pipeline.snow.connect_kwargs, "database": pipeline.snowflake_database})
    history = SnowflakeHistory(adapter, LOCAL_QUERIES)
    now = datetime.now(UTC)
    try:
        # WHEN a range starts inside each function's reach THEN it answers
        found = history.task_runs(sf.bare_database, "STAGING", {sf.task_name}, now - timedelta(days=6), now)
        runs = found.by_task[sf.task_name]
        assert [r.state for r in runs] == ["SUCCEEDED"] and runs[0].query_start_time is not None
        assert history.copy_history(sf.bare("STAGING"), now - timedelta(days=13))
        # WHEN it starts beyond (7 days for TASK_HISTORY, 14 for COPY_HISTORY) THEN the query fails
        with pytest.raises(Exception, match="within the last 7 days"):
            history.task_runs(
                sf.bare_database, "STAGING", {sf.task_name}, now - timedelta(days=7, hours=1), now
            )
        with pytest.raises(Exception, match="within the last 14 days"):
            history.copy_history(sf.bare("STAGING"), now - timedelta(days=14, hours=1))
    finally:
        adapter.close()
