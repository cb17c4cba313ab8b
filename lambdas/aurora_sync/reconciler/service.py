"""The reconciler's domain logic: gather each table's evidence, run the checks, route the alerts.

A check whose evidence cannot be read is UNKNOWN, never OK: it leaves any open alert open and
raises one alert about the reconciler itself, which escalates to P1 when it keeps happening.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from aurora_sync.adapters.postgres import Aurora
from aurora_sync.adapters.s3 import ObjectStore
from aurora_sync.adapters.snowflake import Snowflake
from aurora_sync.adapters.snowflake_history import (
    COPY_HISTORY_REACH,
    TASK_HISTORY_REACH,
    CopyRecord,
    HistoryQueries,
    MergeAudit,
    SnowflakeHistory,
    TaskRun,
    TaskRuns,
    within_reach,
)
from aurora_sync.alert_routing import AlertRouter
from aurora_sync.alerts import Alert, Severity
from aurora_sync.manifest import ReadManifest, read_manifests
from aurora_sync.observability import METRICS_NAMESPACE, logger
from aurora_sync.pins import read_pins
from aurora_sync.reconciler.checks import (
    CheckResult,
    Status,
    check_freshness,
    check_loads,
    check_manifests,
    check_merge,
    check_pins,
    check_pipe,
    check_sample,
    settled_upper,
    unknown,
)
from aurora_sync.settings import ReconcilerSettings
from aurora_sync.snowflake_sql import SnowflakeTable
from aurora_sync.tables import TableConfig, TablesConfig

T = TypeVar("T")
SELF_CHECK = "reconciler"
CHECKS = ("manifests", "loads", "merge", "pipe", "freshness", "sample", "pins")
# No table is started with less than this left before the Lambda's timeout: a run cut off by its
# timeout returns nothing (the state machine pages P1, every check is lost); one that stops here
# reports the tables it could not reach as unknown, and its self-alert says to give it more time.
STOP_BEFORE_TIMEOUT_MS = 60_000
OUT_OF_TIME = (
    "the reconciler stopped {seconds} s before its timeout without checking this table: give it more "
    "time (reconciler.timeout_seconds; docs/deploy.md, Hundreds of tables)"
)


@dataclass
class ReconcileResult:
    run_id: str
    tables: list[str]
    export_run_ids: list[str]
    checks: list[CheckResult] = field(default_factory=list)
    alerts: dict[str, list[str]] = field(
        default_factory=lambda: {"notified": [], "escalated": [], "suppressed": [], "resolved": []}
    )

    @property
    def status(self) -> str:
        if any(c.status == Status.PROBLEM for c in self.checks):
            return "problems"
        if any(c.status == Status.UNKNOWN for c in self.checks):
            return "unknown"
        return "ok"

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "tables": self.tables,
            "export_run_ids": self.export_run_ids,
            "checks": [c.as_dict() for c in self.checks],
            "alerts": self.alerts,
        }


@dataclass(frozen=True)
class _SharedEvidence:
    """Evidence read once per run for every table; None with the error when it could not be."""

    runs: TaskRuns | None
    runs_error: str | None
    audits: dict[str, list[MergeAudit]] | None
    audit_error: str | None

    def runs_of(self, task: str) -> list[TaskRun] | None:
        return None if self.runs is None else self.runs.by_task.get(task, [])

    def runs_since(self, task_since: datetime) -> datetime:
        """Where the runs are complete from: a history too long for its pages starts later."""
        return task_since if self.runs is None else max(task_since, self.runs.since)

    def audits_of(self, table: str) -> list[MergeAudit] | None:
        return None if self.audits is None else self.audits.get(table, [])


class _Unavailable(Exception):
    """A service failed earlier in this invocation; the same error is reported without retrying."""


class ReconcileService:
    def __init__(
        self,
        *,
        settings: ReconcilerSettings,
        tables: TablesConfig,
        store: ObjectStore,
        open_aurora: Callable[[], Aurora],
        open_snowflake: Callable[[], Snowflake],
        router: AlertRouter,
        run_id: str,
        history_queries: HistoryQueries,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        remaining_ms: Callable[[], int] | None = None,
    ) -> None:
        self._settings = settings
        self._tables = tables
        self._store = store
        self._open: dict[str, Callable[[], Aurora | Snowflake]] = {
            "aurora": open_aurora,
            "snowflake": open_snowflake,
        }
        self._handles: dict[str, Aurora | Snowflake] = {}
        self._failed: dict[str, str] = {}
        self._router = router
        self._queries = history_queries
        self._clock = clock
        self._remaining_ms = remaining_ms
        self.run_id = run_id

    # -- connections: opened once, a failure remembered for the rest of the run ---------------------
    def _handle(self, name: str) -> Aurora | Snowflake:
        if name in self._failed:
            raise _Unavailable(self._failed[name])
        if name not in self._handles:
            try:
                handle = self._open[name]()
                handle.connect()
                self._handles[name] = handle
            except Exception as exc:
                self._failed[name] = f"{name} unavailable: {exc}"
                raise _Unavailable(self._failed[name]) from exc
        return self._handles[name]

    def aurora(self) -> Aurora:
        handle = self._handle("aurora")
        assert isinstance(handle, Aurora)
        return handle

    def snowflake(self) -> Snowflake:
        handle = self._handle("snowflake")
        assert isinstance(handle, Snowflake)
        return handle

    def history(self) -> SnowflakeHistory:
        return SnowflakeHistory(self.snowflake(), self._queries)

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()

    def _gather(self, what: str, fn: Callable[[], T]) -> tuple[T | None, str | None]:
        try:
            return fn(), None
        except _Unavailable as exc:
            return None, str(exc)
        except Exception as exc:  # any failure to read evidence is UNKNOWN, reported with its cause
            logger.warning("could not gather evidence", extra={"what": what, "error": str(exc)})
            return None, f"{what}: {type(exc).__name__}: {exc}"

    # -- the run ---------------------------------------------------------------------------------
    def run(self, names: list[str], export_run_ids: list[str]) -> ReconcileResult:
        result = ReconcileResult(self.run_id, names, export_run_ids)
        tables = [t for t in (self._tables.get(name) for name in names) if t is not None]
        assert len(tables) == len(names)  # parse_reconcile_event rejected unknown names
        shared = self._shared_evidence(tables)
        for table in tables:
            checks = self._checks(table, shared)
            result.checks.extend(checks)
            for check in checks:
                self._route(check, result)
                self._emit(check)
        self._self_alert(result)
        logger.info("reconciler result", extra={"result": result.as_dict()})
        return result

    def _checks(self, table: TableConfig, shared: _SharedEvidence) -> list[CheckResult]:
        name = table.table_name
        if self._remaining_ms is not None and self._remaining_ms() < STOP_BEFORE_TIMEOUT_MS:
            reason = OUT_OF_TIME.format(seconds=STOP_BEFORE_TIMEOUT_MS // 1000)
            return [unknown(c, name, reason) for c in CHECKS]
        try:
            return self.reconcile_table(table, shared)
        except Exception as exc:  # a bug must cost one table's checks (as unknown), not the run
            logger.exception("reconciling a table failed", extra={"table": name})
            return [unknown(c, name, f"{type(exc).__name__}: {exc}") for c in CHECKS]

    def _since(self, now: datetime) -> datetime:
        """Start of the look-back: the manifests' first hour."""
        return (now - timedelta(hours=self._settings.lookback_hours)).replace(
            minute=0, second=0, microsecond=0
        )

    def _shared_evidence(self, tables: list[TableConfig]) -> _SharedEvidence:
        """What one statement reads for every table of the run: TASK_HISTORY (all tasks of the
        STAGING schema, paged) and MERGE_AUDIT (all tables). Per table, Snowflake needs its own
        COPY_HISTORY (TABLE_NAME is required), SYSTEM$PIPE_STATUS, MAX(watermark) and sample lookup."""
        if not tables:
            return _SharedEvidence(None, "no table", None, "no table")
        now = self._clock()
        since = self._since(now)
        sf = SnowflakeTable(tables[0], self._settings.snowflake.database)
        tasks = {SnowflakeTable(t, self._settings.snowflake.database).task_name for t in tables}
        task_since = within_reach(since, now, TASK_HISTORY_REACH)
        runs, runs_error = self._gather(
            "TASK_HISTORY",
            lambda: self.history().task_runs(
                sf.bare_database, sf.staging_schema.upper(), tasks, task_since, now
            ),
        )
        audits, audit_error = self._gather(
            "MERGE_AUDIT", lambda: self.history().merge_audits(sf.audit_table, since)
        )
        return _SharedEvidence(runs, runs_error, audits, audit_error)

    def reconcile_table(self, table: TableConfig, shared: _SharedEvidence) -> list[CheckResult]:
        name = table.table_name
        sf = SnowflakeTable(table, self._settings.snowflake.database)
        now = self._clock()
        since = self._since(now)
        # The manifests' hours start at `since`; the history functions refuse a range that starts
        # beyond their reach (168 look-back hours floored to the hour are more than 7 days).
        copy_since = within_reach(since, now, COPY_HISTORY_REACH)
        task_since = within_reach(since, now, TASK_HISTORY_REACH)
        grace = timedelta(minutes=self._settings.load_grace_minutes)

        listed, s3_error = self._gather("S3 manifests", lambda: self._manifests(table, since, now))
        records, copy_error = self._gather(
            "COPY_HISTORY", lambda: self.history().copy_history(sf.bare(sf.staging_schema), copy_since)
        )
        runs, task_error, task_since = (
            shared.runs_of(sf.task_name),
            shared.runs_error,
            shared.runs_since(task_since),
        )
        audits, audit_error = shared.audits_of(name), shared.audit_error
        pipe, pipe_error = self._gather("SYSTEM$PIPE_STATUS", lambda: self.history().pipe_status(sf.pipe))

        results: list[CheckResult] = []
        manifests: list[ReadManifest] | None = None
        if listed is None:
            results.append(unknown("manifests", name, s3_error or "S3"))
        else:
            manifests, invalid = listed
            results.append(check_manifests(name, invalid))

        if manifests is None or records is None:
            results.append(unknown("loads", name, s3_error or copy_error or "?"))
        else:
            results.append(
                check_loads(
                    name,
                    manifests,
                    records,
                    bucket=self._store.bucket,
                    now=now,
                    grace=grace,
                    object_exists=self._object_exists,
                    overrides_path=self._settings.overrides_path,
                )
            )
        if records is None or runs is None or audits is None:
            results.append(unknown("merge", name, copy_error or task_error or audit_error or "?"))
        else:
            results.append(
                check_merge(name, sf.task, records, runs, audits, now=now, grace=grace, runs_since=task_since)
            )
        if pipe is None:
            results.append(unknown("pipe", name, pipe_error or "?"))
        else:
            results.append(check_pipe(name, sf.pipe, pipe, now=now, grace=grace))

        final_max, final_error = self._gather(
            "FINAL MAX(watermark)",
            lambda: self.snowflake().max_watermark("FINAL", table.snowflake_table, table.watermark_col),
        )
        results.append(self._freshness(table, final_max, final_error))
        if manifests is None or records is None or runs is None or final_error:
            results.append(
                unknown("sample", name, s3_error or copy_error or task_error or final_error or "?")
            )
        else:
            results.append(
                self._sample(table, self._must_be_in_final(table, manifests, records, runs, final_max))
            )
        pinned, pin_error = self._gather("S3 publish pins", lambda: read_pins(self._store, name))
        if pinned is None or manifests is None:
            results.append(unknown("pins", name, pin_error or s3_error or "?"))
        else:
            pin_grace = timedelta(minutes=self._settings.pin_grace_minutes)
            results.append(
                check_pins(
                    name,
                    *pinned,
                    manifests,
                    now=now,
                    grace=pin_grace,
                    overrides_path=self._settings.overrides_path,
                )
            )
        return results

    def _object_exists(self, key: str) -> bool | None:
        """Evidence for on-call (deleted vs never noticed); None when S3 will not say."""
        found, _ = self._gather(f"S3 listing of {key}", lambda: self._store.exists(key))
        return found

    def _manifests(
        self, table: TableConfig, since: datetime, now: datetime
    ) -> tuple[list[ReadManifest], list[str]]:
        manifests, invalid = read_manifests(self._store, table.table_name, since, now)
        for error in invalid:
            logger.error("manifest is invalid", extra={"error": error})
        return manifests, invalid

    def _must_be_in_final(
        self,
        table: TableConfig,
        manifests: list[ReadManifest],
        records: list[CopyRecord],
        runs: list[TaskRun],
        final_max: datetime | None,
    ) -> datetime | None:
        """Rows at or below this watermark must be in FINAL now. It is the newest export bound whose
        files are loaded and merged, capped at FINAL's watermark, minus lookback_seconds: rows
        stamped within the overlap may commit late and arrive with the next export by design;
        older ones missing from FINAL will never be exported again."""
        settled = settled_upper(manifests, records, runs, self._store.bucket)
        if settled is None or final_max is None:
            return None
        return min(settled, final_max) - timedelta(seconds=table.lookback_seconds)

    def _freshness(
        self, table: TableConfig, final_max: datetime | None, final_error: str | None
    ) -> CheckResult:
        name = table.table_name
        aurora_max, aurora_error = self._gather(
            "Aurora MAX(watermark)",
            lambda: self.aurora().max_watermark(table.schema_name, table.relation, table.watermark_col),
        )
        if aurora_error or final_error:
            return unknown("freshness", name, aurora_error or final_error or "?")
        result, lag = check_freshness(name, aurora_max, final_max, table.freshness_sla_minutes)
        if lag is not None:
            with single_metric(
                name="FreshnessLagSeconds", unit=MetricUnit.Seconds, value=lag, namespace=METRICS_NAMESPACE
            ) as metric:
                metric.add_dimension(name="table", value=name)
        return result

    def _sample(self, table: TableConfig, upper: datetime | None) -> CheckResult:
        name = table.table_name
        if upper is None or self._settings.sample_size == 0:
            return check_sample(name, None, [], {})
        sampled, aurora_error = self._gather(
            "Aurora sample", lambda: self.aurora().recent_versions(table, upper, self._settings.sample_size)
        )
        if sampled is None:
            return unknown("sample", name, aurora_error or "?")
        found, final_error = self._gather(
            "FINAL lookup", lambda: self.snowflake().versions("FINAL", table, [k for k, _ in sampled])
        )
        if found is None:
            return unknown("sample", name, final_error or "?")
        return check_sample(name, upper, sampled, found)

    # -- alerts and metrics -------------------------------------------------------------------------
    def _route(self, check: CheckResult, result: ReconcileResult) -> None:
        if check.status == Status.PROBLEM:
            decision = self._router.raise_alert(check.alert(self.run_id))
            result.alerts[decision].append(f"{check.check}:{check.table}")
        # UNKNOWN: an open alert stays open; the self-alert says why nothing is known
        elif check.status != Status.UNKNOWN and self._router.resolve(
            check.check, check.table, self.run_id, check.summary
        ):
            result.alerts["resolved"].append(f"{check.check}:{check.table}")

    def _self_alert(self, result: ReconcileResult) -> None:
        blind = [c for c in result.checks if c.status == Status.UNKNOWN]
        if not blind:
            if self._router.resolve(SELF_CHECK, "", self.run_id, "every check could run"):
                result.alerts["resolved"].append(f"{SELF_CHECK}:")
            return
        causes = sorted({str(c.details.get("error", c.summary)) for c in blind})
        alert = Alert(
            Severity.P3,
            SELF_CHECK,
            "",
            f"{len(blind)} check(s) could not run: {causes[0]}"[:300],
            details={"unknown": [f"{c.check}:{c.table}" for c in blind], "causes": causes[:10]},
            run_id=self.run_id,
            runbook_anchor="reconciler-blind",
        )
        decision = self._router.raise_alert(alert, escalate_after=self._settings.self_alert_p1_after)
        result.alerts[decision].append(f"{SELF_CHECK}:")

    def _emit(self, check: CheckResult) -> None:
        for metric_name, hit in (
            ("CheckProblem", check.status == Status.PROBLEM),
            ("CheckUnknown", check.status == Status.UNKNOWN),
        ):
            with single_metric(
                name=metric_name, unit=MetricUnit.Count, value=1 if hit else 0, namespace=METRICS_NAMESPACE
            ) as metric:
                metric.add_dimension(name="table", value=check.table)
                metric.add_dimension(name="check", value=check.check)
