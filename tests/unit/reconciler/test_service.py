"""ReconcileService's decisions, with in-memory fakes for Aurora, Snowflake, its history and the
bucket: evidence that cannot be read makes its checks UNKNOWN (never OK) naming what failed; failed
checks raise, passing ones resolve, unknown ones leave an alert open; the self-alert pages P1 when it
keeps happening; evidence shared by every table is read once. (The same paths against the local
stack: tests/integration/test_reconciler*.py.)"""

from __future__ import annotations

import inspect
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aurora_sync.adapters.postgres import Aurora
from aurora_sync.adapters.s3 import ObjectStore
from aurora_sync.adapters.snowflake import Snowflake
from aurora_sync.adapters.snowflake_history import (
    CopyRecord,
    MergeCredits,
    PipeCredits,
    PipeStatus,
    SnowflakeHistory,
    TaskRun,
)
from aurora_sync.adapters.sns import AlertPublisher
from aurora_sync.alert_routing import AlertRouter
from aurora_sync.errors import StatementTimeoutError, TerminalError, TransientError
from aurora_sync.layout import data_key, manifest_key
from aurora_sync.manifest import Manifest, ManifestFile
from aurora_sync.observability import METRICS_NAMESPACE
from aurora_sync.ports import Alerts
from aurora_sync.reconciler import table_checks
from aurora_sync.reconciler.ports import AuroraReader, BucketReader, HistoryReader, SnowflakeReader
from aurora_sync.reconciler.service import CHECKS, ReconcileResult, ReconcileService
from aurora_sync.settings import load_reconciler_settings
from aurora_sync.snowflake_sql import SnowflakeTable
from aurora_sync.tables import TableConfig, TablesConfig, parse_tables
from aurora_sync.timeutil import iso
from tests.support.memory import MemoryStore, RecordingAlerts
from tests.unit.reconciler.fakes import FakeAurora, FakeHistory, FakeSnowflake
from tests.unit.test_alert_routing import Clock, MemoryState, Sns

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
ORDERS, CUSTOMERS = "public.orders", "public.customers"
TABLES = parse_tables(
    json.dumps(
        [
            {
                "table_name": name,
                "watermark_col": "updated_at",
                "primary_keys": ["id"],
                "columns": [{"name": "id", "type": "bigint"}, {"name": "updated_at", "type": "timestamptz"}],
            }
            for name in (ORDERS, CUSTOMERS)
        ]
    ),
    "tables.json",
)
ENV = {
    "AWS_REGION": "us-east-1",
    "EXPORT_BUCKET": "exports",
    "ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts",
    "RUNBOOK_URL": "https://git.example/aurora-snowflake-sync/blob/main/docs/runbook.md",
    "ALERT_STATE_TABLE": "alerts",
    "DB_HOST": "aurora.example",
    "DB_NAME": "app",
    "DB_SSL": "false",
    "VAULT_ADDR": "https://vault.example:8200",
    "VAULT_AUTH_METHOD": "token",
    "VAULT_TOKEN": "hvs.fake-root",
    "SNOWFLAKE_ACCOUNT": "acme-xy12345",
    "SNOWFLAKE_DATABASE": "ANALYTICS",
}


def table(name: str) -> TableConfig:
    config = TABLES.get(name)
    assert config is not None
    return config


def objects(name: str) -> SnowflakeTable:
    return SnowflakeTable(table(name), ENV["SNOWFLAKE_DATABASE"])


@dataclass
class World:
    """One Aurora, one Snowflake with its history, one bucket, and what the router was told."""

    store: MemoryStore = field(default_factory=MemoryStore)
    aurora: FakeAurora = field(default_factory=FakeAurora)
    snowflake: FakeSnowflake = field(default_factory=FakeSnowflake)
    history: FakeHistory = field(default_factory=FakeHistory)
    alerts: Alerts = field(default_factory=RecordingAlerts)
    opened: Counter[str] = field(default_factory=Counter)
    tables: TablesConfig = TABLES

    def exported(self, name: str, *, row_at: datetime = NOW - timedelta(minutes=90)) -> str:
        """GIVEN one healthy cycle of `name`: an export of one row stamped `row_at`, its file loaded
        50 minutes ago, merged by a run started 40 minutes ago, the row in FINAL. Returns its data key."""
        run_hour = NOW - timedelta(hours=1)
        key = data_key(name, run_hour, "e1")
        manifest = Manifest(
            run_id="r1",
            export_id="e1",
            table=name,
            files=[ManifestFile(key, 1, 10)],
            rows=1,
            lower=iso(row_at - timedelta(minutes=30)),
            upper=iso(row_at),
            mode="aurora_s3",
            started_at=iso(run_hour),
            finished_at=iso(run_hour),
            query_sha256="0" * 64,
        )
        self.store.objects[manifest_key(name, run_hour, "e1")] = manifest.to_json().encode()
        self.store.objects[key] = b"id,updated_at\n1,x\n"
        sf = objects(name)
        self.history.loads[sf.bare("STAGING")] = [
            CopyRecord(
                file_name=key.removeprefix(f"{name}/"),
                stage_location=f"s3://{self.store.bucket}/{name}/",
                last_load_time=NOW - timedelta(minutes=50),
                row_count=1,
                row_parsed=1,
                error_count=0,
                first_error_message=None,
                status="loaded",
            )
        ]
        started = NOW - timedelta(minutes=40)
        self.history.runs[sf.task_name] = [
            TaskRun(
                sf.task_name, "SUCCEEDED", started, started, started + timedelta(seconds=30), None, None, "q1"
            )
        ]
        self.aurora.newest[name] = row_at
        self.aurora.rows[name] = [((1,), row_at)]
        final = f"FINAL.{table(name).snowflake_table}"
        self.snowflake.newest[final] = row_at
        self.snowflake.rows[final] = {(1,): row_at}
        return key

    def service(
        self,
        *,
        remaining_ms: Callable[[], int] | None = None,
        **env: str,
    ) -> ReconcileService:
        def open_aurora() -> FakeAurora:
            self.opened["aurora"] += 1
            return self.aurora

        def open_snowflake() -> FakeSnowflake:
            self.opened["snowflake"] += 1
            return self.snowflake

        return ReconcileService(
            settings=load_reconciler_settings({**ENV, **env}),
            tables=self.tables,
            store=self.store,
            open_aurora=open_aurora,
            open_snowflake=open_snowflake,
            read_history=lambda snowflake: self.history,
            router=self.alerts,
            run_id="run-1",
            clock=lambda: NOW,
            remaining_ms=remaining_ms,
        )

    def reconcile(
        self, names: list[str] | None = None, export_run_ids: list[str] | None = None, **options: Any
    ) -> ReconcileResult:
        service = self.service(**options)
        try:
            return service.run(names or [ORDERS], export_run_ids or [])
        finally:
            service.close()


def statuses(result: ReconcileResult, name: str = ORDERS) -> dict[str, str]:
    return {c.check: str(c.status) for c in result.checks if c.table == name}


def summary(result: ReconcileResult, check: str, name: str = ORDERS) -> str:
    [found] = [c for c in result.checks if c.check == check and c.table == name]
    return found.summary


@pytest.fixture
def world() -> World:
    world = World()
    world.exported(ORDERS)
    return world


def recorded(world: World) -> RecordingAlerts:
    assert isinstance(world.alerts, RecordingAlerts)
    return world.alerts


# -- every check ran ------------------------------------------------------------------------------


def test_a_healthy_table_is_ok_on_every_check_and_resolves_each(world: World) -> None:
    # WHEN a healthy table is reconciled
    result = world.reconcile()
    # THEN every check is ok (pins: no pinned window; volume and cost are not judged without
    # low_volume / daily_credit_budget), the run is ok, and each check and both of the reconciler's
    # own alerts are resolved: nothing is raised
    assert statuses(result) == {**dict.fromkeys(CHECKS, "ok"), "volume": "skipped", "cost": "skipped"}
    assert result.as_dict()["status"] == "ok"
    assert recorded(world).raised == []
    assert [(check, name) for check, name, _ in recorded(world).resolved] == [
        *((check, ORDERS) for check in CHECKS),
        ("reconciler", ""),
        ("reconciler_cost", ""),
    ]
    # AND both connections are closed
    assert world.aurora.closed and world.snowflake.closed


def test_a_failed_check_raises_its_alert_and_is_not_resolved(world: World) -> None:
    # GIVEN the table's pipe is paused
    pipe = objects(ORDERS).pipe
    world.history.pipes[pipe] = PipeStatus("PAUSED", 0, None, {"executionState": "PAUSED"})
    # WHEN the reconciler runs
    result = world.reconcile()
    # THEN the pipe alert is raised (P2, naming the pipe) and recorded as notified, not resolved
    [(alert, escalate_after)] = recorded(world).raised
    assert (alert.check, alert.table, str(alert.severity), escalate_after) == ("pipe", ORDERS, "P2", None)
    assert pipe in alert.summary and alert.run_id == "run-1"
    assert result.alerts["notified"] == ["pipe:public.orders"]
    assert ("pipe", ORDERS) not in {(check, name) for check, name, _ in recorded(world).resolved}
    assert result.as_dict()["status"] == "problems"


# -- evidence that cannot be read is UNKNOWN, never OK ---------------------------------------------


def test_snowflake_unreachable_makes_its_checks_unknown_naming_why(world: World) -> None:
    # GIVEN Snowflake refuses the connection
    world.snowflake.fail_on["connect"] = TransientError("connect to Snowflake account acme: refused")
    # WHEN the reconciler runs
    result = world.reconcile()
    # THEN every check that needs Snowflake is unknown and says so; S3's checks still run
    assert statuses(result) == {
        "manifests": "ok",
        "loads": "unknown",
        "merge": "unknown",
        "pipe": "unknown",
        "freshness": "unknown",
        "sample": "unknown",
        "pins": "ok",
        "volume": "skipped",
        "cost": "unknown",
    }
    assert summary(result, "loads") == (
        "could not check: snowflake unavailable: connect to Snowflake account acme: refused"
    )
    # AND Snowflake was opened once: the failure is remembered, not retried for every read
    assert world.opened["snowflake"] == 1 and world.snowflake.calls["connect"] == 1
    # AND the unknown checks resolve nothing (an open alert stays open); one P3 self-alert names the cause
    resolved = {check for check, _, _ in recorded(world).resolved}
    assert resolved == {"manifests", "pins", "volume"}
    [(alert, escalate_after)] = recorded(world).raised
    assert (alert.check, str(alert.severity), escalate_after) == ("reconciler", "P3", 3)
    assert alert.summary == (
        "6 check(s) could not run: snowflake unavailable: connect to Snowflake account acme: refused"
    )
    assert alert.details["unknown"] == [
        f"{c}:{ORDERS}" for c in ("loads", "merge", "pipe", "freshness", "sample", "cost")
    ]
    assert result.as_dict()["status"] == "unknown"


def test_an_aurora_statement_timeout_leaves_freshness_unknown_and_the_sample_still_runs(world: World) -> None:
    # GIVEN Aurora cancels the MAX(watermark) statement at its statement_timeout
    world.aurora.fail_on["max_watermark"] = StatementTimeoutError(
        "read MAX(updated_at) of orders: cancelled", 5000
    )
    # WHEN the reconciler runs
    result = world.reconcile()
    # THEN freshness is unknown, naming the read and the error; the sample, a separate read, is ok
    assert statuses(result)["freshness"] == "unknown"
    assert summary(result, "freshness") == (
        "could not check: Aurora MAX(watermark): StatementTimeoutError: "
        "read MAX(updated_at) of orders: cancelled"
    )
    assert statuses(result)["sample"] == "ok" and world.aurora.calls["recent_versions"] == 1


def test_aurora_unreachable_leaves_freshness_and_sample_unknown(world: World) -> None:
    # GIVEN Aurora cannot be reached
    world.aurora.fail_on["connect"] = TransientError("connect to Aurora aurora.example:5432: timed out")
    # WHEN the reconciler runs
    result = world.reconcile()
    # THEN exactly the checks that read Aurora are unknown, each naming it; it was opened once
    assert {c for c, s in statuses(result).items() if s == "unknown"} == {"freshness", "sample"}
    assert summary(result, "sample") == (
        "could not check: aurora unavailable: connect to Aurora aurora.example:5432: timed out"
    )
    assert world.opened["aurora"] == 1


def test_an_s3_listing_failure_leaves_the_bucket_checks_unknown(world: World) -> None:
    # GIVEN S3 refuses to list
    world.store.fail_on["sizes"] = TransientError("s3:ListObjectsV2: SlowDown")
    # WHEN the reconciler runs
    result = world.reconcile()
    # THEN the checks that need the manifests or the pins are unknown, naming S3; the rest run
    assert {c for c, s in statuses(result).items() if s == "unknown"} == {
        "manifests",
        "loads",
        "sample",
        "pins",
    }
    assert (
        summary(result, "manifests")
        == "could not check: S3 manifests: TransientError: s3:ListObjectsV2: SlowDown"
    )
    assert statuses(result)["merge"] == "ok" and statuses(result)["freshness"] == "ok"


def test_a_bug_in_one_table_costs_its_checks_not_the_run(
    monkeypatch: pytest.MonkeyPatch, world: World
) -> None:
    # GIVEN two tables, and checking the pipe of the first fails with a bug
    world.exported(CUSTOMERS)
    real = table_checks.check_pipe

    def check_pipe(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == ORDERS:
            raise KeyError("executionState")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(table_checks, "check_pipe", check_pipe)
    # WHEN the reconciler runs
    result = world.reconcile([ORDERS, CUSTOMERS])
    # THEN the first table's checks are all unknown with the error; the second's are checked
    assert statuses(result, ORDERS) == dict.fromkeys(CHECKS, "unknown")
    assert summary(result, "loads", ORDERS) == "could not check: KeyError: 'executionState'"
    assert statuses(result, CUSTOMERS) == {
        **dict.fromkeys(CHECKS, "ok"),
        "volume": "skipped",
        "cost": "skipped",
    }


def test_a_reconciler_short_of_time_reports_the_table_unknown_without_reading_it(world: World) -> None:
    # GIVEN less than a minute left of the Lambda's time
    # WHEN the reconciler runs
    result = world.reconcile(remaining_ms=lambda: 59_999)
    # THEN the table is not read, and its checks are unknown saying to give the reconciler more time
    assert statuses(result) == dict.fromkeys(CHECKS, "unknown")
    assert "stopped 60 s before its timeout" in summary(result, "pins")
    assert world.history.calls["copy_history"] == 0 and world.opened["aurora"] == 0


# -- the self-alert -----------------------------------------------------------------------------


def test_the_self_alert_pages_p1_after_self_alert_p1_after_runs_then_resolves(world: World) -> None:
    # GIVEN the real alert router, its state in memory, and Snowflake unreachable
    sns = Sns()
    world.alerts = AlertRouter(
        AlertPublisher(sns, "arn:topic", "https://runbook.example"),
        MemoryState(),
        timedelta(hours=4),
        Clock(),
    )
    world.snowflake.fail_on["connect"] = TransientError("refused")

    def published() -> list[tuple[str, str, str]]:
        sns.sent.clear()
        world.reconcile(SELF_ALERT_P1_AFTER="3")
        return [(m["check"], m["severity"], m["status"]) for m in sns.sent]

    # WHEN it stays unreachable for SELF_ALERT_P1_AFTER=3 runs
    # THEN the first run sends a P3 (chat), the second nothing, the third a P1 (the pager)
    assert [published() for _ in range(3)] == [
        [("reconciler", "P3", "open")],
        [],
        [("reconciler", "P1", "open")],
    ]
    # WHEN Snowflake is back THEN the self-alert is resolved, once
    del world.snowflake.fail_on["connect"]
    assert published() == [("reconciler", "P1", "resolved")]


# -- what is read, and how often ----------------------------------------------------------------


def test_task_history_and_merge_audit_are_read_once_for_every_table(world: World) -> None:
    # GIVEN two tables
    world.exported(CUSTOMERS)
    # WHEN the reconciler checks both
    result = world.reconcile([ORDERS, CUSTOMERS])
    # THEN TASK_HISTORY is read once, for both tasks, MERGE_AUDIT and both credit views once;
    # COPY_HISTORY and the pipe status once per table
    assert world.history.tasks_asked == [{objects(ORDERS).task_name, objects(CUSTOMERS).task_name}]
    assert world.history.calls == Counter(
        task_runs=1, merge_audits=1, pipe_credits=1, merge_credits=1, copy_history=2, pipe_status=2
    )
    assert statuses(result, ORDERS)["merge"] == statuses(result, CUSTOMERS)["merge"] == "ok"


def test_task_history_that_cannot_be_read_is_one_cause_for_every_table(world: World) -> None:
    # GIVEN two tables, and TASK_HISTORY failing
    world.exported(CUSTOMERS)
    world.history.fail_on["task_runs"] = TransientError("TASK_HISTORY: warehouse suspended")
    # WHEN the reconciler runs
    result = world.reconcile([ORDERS, CUSTOMERS])
    # THEN it was tried once, and both tables' merge and sample checks are unknown, naming it
    assert world.history.calls["task_runs"] == 1
    for name in (ORDERS, CUSTOMERS):
        unknown = {c for c, s in statuses(result, name).items() if s == "unknown"}
        assert unknown == {"merge", "sample"}
        assert "TASK_HISTORY: TransientError" in summary(result, "merge", name)


def test_loads_older_than_the_complete_task_history_are_not_judged(world: World) -> None:
    # GIVEN a load no visible run merged, from before where TASK_HISTORY's pages are complete
    world.history.runs.clear()
    world.history.runs_since = NOW - timedelta(minutes=45)
    # WHEN the reconciler runs
    result = world.reconcile()
    # THEN the merge check does not page a merge it cannot see
    assert statuses(result)["merge"] == "ok"
    assert summary(result, "merge") == "no loads to merge in the window"
    # AND WHEN the history is complete from before that load THEN it is a problem
    world.history.runs_since = None
    assert statuses(world.reconcile())["merge"] == "problem"


def test_only_the_named_tables_are_checked_and_the_export_run_ids_are_reported(world: World) -> None:
    # GIVEN the state machine's payload named one table and one export run
    world.exported(CUSTOMERS)
    # WHEN the reconciler runs
    result = world.reconcile([CUSTOMERS], ["export-run-7"]).as_dict()
    # THEN only that table is checked, and the export run ids are in the result as evidence
    assert {c["table"] for c in result["checks"]} == {CUSTOMERS}
    assert (result["tables"], result["export_run_ids"]) == ([CUSTOMERS], ["export-run-7"])
    assert world.history.calls["copy_history"] == 1


# -- the sample ----------------------------------------------------------------------------------


def test_sample_size_zero_skips_the_sample_without_reading_rows(world: World) -> None:
    # WHEN SAMPLE_SIZE is 0
    result = world.reconcile(SAMPLE_SIZE="0")
    # THEN the sample is skipped, and neither Aurora's rows nor FINAL's keys are read
    assert statuses(result)["sample"] == "skipped"
    assert world.aurora.calls["recent_versions"] == 0 and world.snowflake.calls["versions"] == 0


def test_the_sample_reads_at_or_below_finals_watermark_when_final_is_behind(world: World) -> None:
    # GIVEN FINAL's newest row is older than the newest export that is loaded and merged
    final_max = NOW - timedelta(hours=2)
    world.snowflake.newest[f"FINAL.{table(ORDERS).snowflake_table}"] = final_max
    # WHEN the reconciler samples
    world.reconcile()
    # THEN it samples rows at or below FINAL's watermark (lookback_seconds is 0 for this table)
    assert world.aurora.sampled_below == [final_max]


def test_a_row_missing_from_final_is_a_problem_with_the_rerun(world: World) -> None:
    # GIVEN FINAL lacks the exported row
    world.snowflake.rows[f"FINAL.{table(ORDERS).snowflake_table}"] = {}
    # WHEN the reconciler runs
    result = world.reconcile()
    # THEN the sample raises a P2 whose details carry the manual payload that re-exports it
    [(alert, _)] = recorded(world).raised
    assert (alert.check, str(alert.severity)) == ("sample", "P2")
    assert alert.details["rerun"]["tables"] == [ORDERS]
    assert statuses(result)["sample"] == "problem"


# -- loads ---------------------------------------------------------------------------------------


def test_a_file_never_loaded_says_whether_it_is_still_in_s3(world: World) -> None:
    # GIVEN the exported file was never loaded, and has been deleted from the bucket
    [key] = world.store.keys(f"{ORDERS}/")
    world.history.loads.clear()
    del world.store.objects[key]
    # WHEN the reconciler runs past the load grace period
    result = world.reconcile()
    # THEN the loads problem names the file, and says it is gone from S3
    [loads] = [c for c in result.checks if c.check == "loads"]
    [problem] = loads.details["problems"]
    assert (problem["file"], problem["problem"], problem["object_in_s3"]) == (key, "not loaded", False)


# -- volume --------------------------------------------------------------------------------------


@dataclass
class CountingStore(MemoryStore):
    """A bucket that counts manifest listings and reads, and can refuse listings after the first few."""

    listings: int = 0
    reads: list[str] = field(default_factory=list)
    refuse_listings_after: int | None = None

    def sizes(self, prefix: str, start_after: str | None = None) -> dict[str, int]:
        if prefix.startswith("_manifests/"):
            self.listings += 1
            if self.refuse_listings_after is not None and self.listings > self.refuse_listings_after:
                raise TransientError("s3:ListObjectsV2: SlowDown")
        return super().sizes(prefix, start_after)

    def read_if_exists(self, key: str) -> bytes | None:
        self.reads.append(key)
        return super().read_if_exists(key)


def with_low_volume(store: CountingStore, recent_rate: int) -> World:
    """GIVEN orders with `"low_volume": {}` (6 hours, 20 %, 3 weeks), one hourly run a window of one
    hour for the past four weeks: 1,000 rows an hour, the last 6 hours `recent_rate` an hour. The
    windows name no files (the loads check is not the subject here)."""
    entries = [{**t.model_dump(exclude_none=True), "low_volume": {}} for t in TABLES.tables]
    world = World(store=store, tables=parse_tables(json.dumps(entries), "tables.json"))
    at = NOW - 4 * timedelta(weeks=1)
    while at < NOW:
        rows = recent_rate if at >= NOW - timedelta(hours=6) else 1000
        run_hour = at + timedelta(hours=1)
        doc = Manifest("r", f"v{at:%m%d%H}", ORDERS, [], rows, iso(at), iso(run_hour), "aurora_s3",
                       iso(run_hour), iso(run_hour), "0" * 64)  # fmt: skip
        store.objects[manifest_key(ORDERS, run_hour, doc.export_id)] = doc.to_json().encode()
        at = run_hour
    return world


def test_a_drop_in_exported_rows_is_a_p3_for_chat_reading_only_the_compared_hours() -> None:
    # GIVEN the last 6 hours exported 10 rows an hour where the same hours of past weeks had 1,000
    store = CountingStore()
    world = with_low_volume(store, recent_rate=10)
    # WHEN the reconciler runs
    result = world.reconcile()
    # THEN the volume check raises a P3 (chat only) with its numbers and runbook section
    [(alert, _)] = [(a, e) for a, e in recorded(world).raised if a.check == "volume"]
    assert (alert.table, str(alert.severity), alert.runbook_anchor) == (ORDERS, "P3", "low-volume")
    assert alert.summary.startswith(
        "60 rows exported for 2026-11-22T02:00:00.000000Z..2026-11-22T08:00:00.000000Z"
    )
    assert alert.details["median"] == 6000 and statuses(result)["volume"] == "problem"
    # AND besides the look-back's listing and reads, S3 was asked for one more listing and
    # the 10 run hours of each of the 3 past weeks: not the 4 weeks' 672 manifests
    since = NOW - timedelta(hours=24)
    older = [k for k in store.reads if k.startswith("_manifests/") and k < manifest_key(ORDERS, since, "")]
    assert store.listings == 2 and len(older) == 3 * 10


def test_usual_volume_resolves_the_volume_alert() -> None:
    # GIVEN the last 6 hours as busy as the same hours of past weeks WHEN the reconciler runs
    world = with_low_volume(CountingStore(), recent_rate=1000)
    result = world.reconcile()
    # THEN the volume check is ok and resolves any open volume alert
    assert statuses(result)["volume"] == "ok"
    assert ("volume", ORDERS) in {(check, name) for check, name, _ in recorded(world).resolved}


def test_past_weeks_that_cannot_be_listed_leave_the_volume_unknown() -> None:
    # GIVEN S3 lists the look-back's manifests, then refuses the listing of the past weeks
    world = with_low_volume(CountingStore(refuse_listings_after=1), recent_rate=10)
    # WHEN the reconciler runs
    result = world.reconcile()
    # THEN volume is unknown naming S3 (never ok, nothing raised or resolved for it); manifests ran
    assert statuses(result)["volume"] == "unknown" and statuses(result)["manifests"] == "ok"
    assert summary(result, "volume") == (
        "could not check: S3 manifests of past weeks: TransientError: s3:ListObjectsV2: SlowDown"
    )
    assert "volume" not in {a.check for a, _ in recorded(world).raised}
    assert "volume" not in {check for check, _, _ in recorded(world).resolved}


# -- cost -----------------------------------------------------------------------------------------


def with_budgets(**budgets: float) -> World:
    """GIVEN both tables exported healthily, `daily_credit_budget` set for the tables named (orders=,
    customers=), and the day's usage: each pipe 0.25 credits for 1 GB, each MERGE task 1.5 credits
    in 40 queries."""
    by_name = {"orders": ORDERS, "customers": CUSTOMERS}
    wanted = {by_name[k]: v for k, v in budgets.items()}
    entries = [
        {**t.model_dump(exclude_none=True), **({"daily_credit_budget": wanted[t.table_name]}
                                                if t.table_name in wanted else {})}
        for t in TABLES.tables
    ]  # fmt: skip
    world = World(tables=parse_tables(json.dumps(entries), "tables.json"))
    for name in (ORDERS, CUSTOMERS):
        world.exported(name)
        sf = objects(name)
        world.history.pipe_usage[sf.pipe_name] = PipeCredits(0.25, 10**9)
        world.history.merge_usage[sf.merge_query_tag] = MergeCredits(1.5, 40)
    return world


def test_a_table_over_its_budget_is_a_p4_and_one_without_a_budget_is_reported_only() -> None:
    # GIVEN orders with a budget of 1 credit a day, customers with none, each 1.75 credits that day
    world = with_budgets(orders=1)
    # WHEN the reconciler runs at 08:00 UTC
    result = world.reconcile([ORDERS, CUSTOMERS])
    # THEN the day judged is the one that ended 8 hours ago, read once for both tables
    midnight = NOW - timedelta(hours=8)
    assert world.history.credit_days == [(midnight - timedelta(days=1), midnight)]
    # AND orders raises one P4 (never escalated) with the day's figures and the runbook section
    [(alert, escalate_after)] = recorded(world).raised
    assert (alert.check, alert.table, str(alert.severity), escalate_after) == ("cost", ORDERS, "P4", None)
    assert alert.runbook_anchor == "table-over-budget"
    assert alert.summary == (
        "1.750 credits on 2026-11-21 (Snowpipe 0.250, MERGE 1.500 in 40 queries): over its "
        "daily_credit_budget of 1"
    )
    assert alert.details["budget"] == 1 and alert.details["source"].startswith("exact: ")
    # AND customers is reported, not judged, and resolves nothing it never raised
    [customers] = [c for c in result.checks if c.check == "cost" and c.table == CUSTOMERS]
    assert customers.status == "skipped" and customers.details["credits"] == 1.75
    assert customers.summary.endswith("no daily_credit_budget: not judged")


def test_a_table_back_within_its_budget_resolves_the_cost_alert() -> None:
    # GIVEN orders with a budget of 2 credits a day and 1.75 spent
    world = with_budgets(orders=2)
    # WHEN the reconciler runs THEN the cost check is ok and resolves any open cost alert
    result = world.reconcile()
    assert statuses(result)["cost"] == "ok"
    assert summary(result, "cost").endswith("within its daily_credit_budget of 2")
    assert ("cost", ORDERS) in {(check, name) for check, name, _ in recorded(world).resolved}


def test_credits_that_cannot_be_read_leave_cost_unknown_with_a_p4_notice_that_never_pages() -> None:
    # GIVEN the role lacks the SNOWFLAKE database role QUERY_ATTRIBUTION_HISTORY needs
    world = with_budgets(orders=1)
    world.history.fail_on["merge_credits"] = TerminalError(
        "Object 'SNOWFLAKE.ACCOUNT_USAGE.QUERY_ATTRIBUTION_HISTORY' does not exist or not authorized."
    )
    # WHEN the reconciler runs
    result = world.reconcile([ORDERS, CUSTOMERS])
    # THEN both tables' cost checks are unknown naming the view and the cause; the others ran
    for name in (ORDERS, CUSTOMERS):
        assert {c for c, s in statuses(result, name).items() if s == "unknown"} == {"cost"}
        assert summary(result, "cost", name).startswith(
            "could not check: QUERY_ATTRIBUTION_HISTORY: TerminalError: Object 'SNOWFLAKE.ACCOUNT_USAGE"
        )
    # AND no cost alert is raised or resolved; the reconciler's own P3 (P1 after 3 runs) is resolved,
    # and one P4 notice, which never escalates, names the blind checks instead
    assert "cost" not in {check for check, _, _ in recorded(world).resolved}
    [(alert, escalate_after)] = recorded(world).raised
    assert (alert.check, str(alert.severity), escalate_after) == ("reconciler_cost", "P4", None)
    assert alert.details["unknown"] == [f"cost:{ORDERS}", f"cost:{CUSTOMERS}"]
    assert ("reconciler", "") in {(check, name) for check, name, _ in recorded(world).resolved}


def test_the_p4_blind_notice_pages_no_one_however_long_it_lasts() -> None:
    # GIVEN the real alert router and credits that cannot be read, run after run
    sns = Sns()
    world = with_budgets(orders=1)
    clock = Clock()
    world.alerts = AlertRouter(
        AlertPublisher(sns, "arn:topic", "https://runbook.example"), MemoryState(), timedelta(hours=4), clock
    )
    world.history.fail_on["pipe_credits"] = TerminalError("does not exist or not authorized")

    def published() -> list[tuple[str, str, str]]:
        sns.sent.clear()
        world.reconcile(SELF_ALERT_P1_AFTER="3")
        clock.now += timedelta(hours=1)
        return [(m["check"], m["severity"], m["status"]) for m in sns.sent]

    # WHEN it lasts 24 hourly runs THEN chat hears the P4 once, never a P1, and once more a day later
    sent = [published() for _ in range(24)]
    assert sent[0] == [("reconciler_cost", "P4", "open")]
    assert sent[1:23] == [[]] * 22 and sent[23] == [("reconciler_cost", "P4", "open")]
    # WHEN the credits can be read again THEN the notice is resolved and orders' overspend raised
    del world.history.fail_on["pipe_credits"]
    assert sorted(published()) == [("cost", "P4", "open"), ("reconciler_cost", "P4", "resolved")]


# -- metrics -------------------------------------------------------------------------------------


def test_every_check_that_ran_counts_in_check_problem_and_check_unknown_a_skipped_one_not(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN Aurora unreachable (freshness and sample unknown); volume and cost are not configured
    world.aurora.fail_on["connect"] = TransientError("refused")
    capsys.readouterr()
    # WHEN the reconciler runs
    world.reconcile()
    # THEN each check that ran put one CheckProblem and one CheckUnknown, with its table and check;
    # the skipped ones put nothing (no alarm reads them; each series is a $0.30/month custom metric)
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    counts = {
        (m["check"], name): m[name][0]
        for m in emitted
        for name in ("CheckProblem", "CheckUnknown")
        if name in m
    }
    ran = [c for c in CHECKS if c not in {"volume", "cost"}]
    assert counts == {
        **{(c, "CheckProblem"): 0 for c in ran},
        **{(c, "CheckUnknown"): int(c in {"freshness", "sample"}) for c in ran},
    }
    assert {m["table"] for m in emitted} == {ORDERS}
    assert {
        (declared["Namespace"], tuple(declared["Dimensions"][0]))
        for m in emitted
        for declared in m["_aws"]["CloudWatchMetrics"]
    } == {(METRICS_NAMESPACE, ("table", "check"))}


def test_the_freshness_lag_is_measured_per_table(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN FINAL ten minutes behind Aurora
    world.aurora.newest[ORDERS] = NOW - timedelta(minutes=80)
    capsys.readouterr()
    # WHEN the reconciler runs
    world.reconcile()
    # THEN FreshnessLagSeconds is 600 for the table
    emitted = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if "FreshnessLagSeconds" in line
    ]
    [metric] = emitted
    assert (metric["table"], metric["FreshnessLagSeconds"]) == (ORDERS, [600.0])
    [declared] = metric["_aws"]["CloudWatchMetrics"]
    assert declared["Namespace"] == METRICS_NAMESPACE and declared["Dimensions"] == [["table"]]
    assert declared["Metrics"] == [{"Name": "FreshnessLagSeconds", "Unit": "Seconds"}]


# -- the fakes keep the adapters' signatures ------------------------------------------------------


def _protocol_methods(protocol: type) -> set[str]:
    return {
        name
        for cls in protocol.__mro__
        if getattr(cls, "_is_protocol", False)
        for name, value in vars(cls).items()
        if callable(value) and not name.startswith("_")
    }


@pytest.mark.parametrize(
    ("protocol", "fake", "real"),
    [
        (AuroraReader, FakeAurora, Aurora),
        (SnowflakeReader, FakeSnowflake, Snowflake),
        (HistoryReader, FakeHistory, SnowflakeHistory),
        (BucketReader, MemoryStore, ObjectStore),
        (Alerts, RecordingAlerts, AlertRouter),
    ],
    ids=lambda p: p.__name__ if isinstance(p, type) else str(p),
)
def test_each_fake_has_the_real_adapters_signatures(protocol: type, fake: type, real: type) -> None:
    methods = _protocol_methods(protocol)
    assert methods  # the protocol's own methods were found
    for name in sorted(methods):
        expected = inspect.signature(getattr(real, name), eval_str=True)
        assert inspect.signature(getattr(protocol, name), eval_str=True) == expected, (
            f"{protocol.__name__}.{name}"
        )
        assert inspect.signature(getattr(fake, name), eval_str=True) == expected, f"{fake.__name__}.{name}"
