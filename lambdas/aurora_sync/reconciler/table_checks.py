"""One table's evidence and its nine checks (reconciler/checks.py judges, this module reads).

A check whose evidence could not be read is UNKNOWN and names what failed (Sources.gather); a check
is never run on part of its evidence.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from aws_lambda_powertools.metrics import MetricUnit

from aurora_sync.adapters.snowflake_history import COPY_HISTORY_REACH, CopyRecord, TaskRun, within_reach
from aurora_sync.manifest import ReadManifest, read_manifests, read_manifests_of_hours
from aurora_sync.observability import logger, put_metric
from aurora_sync.pins import read_pins
from aurora_sync.reconciler.checks import (
    CheckResult,
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
from aurora_sync.reconciler.cost import check_cost
from aurora_sync.reconciler.evidence import SharedEvidence, look_back_start
from aurora_sync.reconciler.ports import BucketReader
from aurora_sync.reconciler.sources import Sources
from aurora_sync.reconciler.volume import check_volume, hours_to_read, newest_hour, windows
from aurora_sync.settings import ReconcilerSettings
from aurora_sync.snowflake_sql import SnowflakeTable
from aurora_sync.tables import TableConfig


class TableChecks:
    def __init__(self, settings: ReconcilerSettings, store: BucketReader, sources: Sources) -> None:
        self._settings = settings
        self._store = store
        self._sources = sources

    def check(self, table: TableConfig, shared: SharedEvidence, now: datetime) -> list[CheckResult]:
        """manifests, loads, merge, pipe, freshness, sample, pins, volume, cost: in this order (CHECKS)."""
        name = table.table_name
        sf = SnowflakeTable(table, self._settings.snowflake.database)
        since = look_back_start(now, self._settings.lookback_hours)
        # The manifests' hours start at `since`; COPY_HISTORY refuses a range that starts beyond its reach.
        copy_since = within_reach(since, now, COPY_HISTORY_REACH)
        grace = timedelta(minutes=self._settings.load_grace_minutes)
        gather, history = self._sources.gather, self._sources.history

        listed, s3_error = gather("S3 manifests", lambda: self._manifests(table, since, now))
        records, copy_error = gather(
            "COPY_HISTORY", lambda: history().copy_history(sf.bare(sf.staging_schema), copy_since)
        )
        runs, task_error = shared.runs_of(sf.task_name), shared.runs_error
        audits, audit_error = shared.audits_of(name), shared.audit_error
        pipe, pipe_error = gather("SYSTEM$PIPE_STATUS", lambda: history().pipe_status(sf.pipe))

        results: list[CheckResult] = []
        manifests: list[ReadManifest] | None = None
        loads: list[ReadManifest] = []  # export and tombstone manifests: every file must load
        if listed is None:
            results.append(unknown("manifests", name, s3_error or "S3"))
        else:
            loads, invalid = listed
            results.append(check_manifests(name, invalid))
            manifests = [m for m in loads if not m.doc.is_tombstones]  # export windows only

        if manifests is None or records is None:
            results.append(unknown("loads", name, s3_error or copy_error or "?"))
        else:
            results.append(
                check_loads(
                    name,
                    loads,
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
                check_merge(
                    name, sf.task, records, runs, audits, now=now, grace=grace, runs_since=shared.runs_since
                )
            )
        if pipe is None:
            results.append(unknown("pipe", name, pipe_error or "?"))
        else:
            results.append(check_pipe(name, sf.pipe, pipe, now=now, grace=grace))

        final_max, final_error = gather(
            "FINAL MAX(watermark)",
            lambda: self._sources.snowflake().max_watermark(
                "FINAL", table.snowflake_table, table.watermark_col
            ),
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
        results.append(self._pins(name, manifests, s3_error, now))
        results.append(self._volume(table, manifests, s3_error, since))
        results.append(self._cost(table, sf, shared))
        return results

    def _cost(self, table: TableConfig, sf: SnowflakeTable, shared: SharedEvidence) -> CheckResult:
        """The day's credits, read once for every table (SharedEvidence), judged against the budget.
        They are logged per table too: Logs Insights charts them for free, where a CloudWatch metric
        per table would cost $0.30 a month each (docs/deploy.md, Cost)."""
        name = table.table_name
        found = shared.credits_of(sf)
        if found is None:
            return unknown("cost", name, shared.credits_error or "?")
        logger.info("daily credits", extra={"table": name, **found.as_details()})
        return check_cost(name, table.daily_credit_budget, found)

    def _manifests(
        self, table: TableConfig, since: datetime, now: datetime
    ) -> tuple[list[ReadManifest], list[str]]:
        manifests, invalid = read_manifests(self._store, table.table_name, since, now, tombstones=True)
        for error in invalid:
            logger.error("manifest is invalid", extra={"error": error})
        return manifests, invalid

    def _object_exists(self, key: str) -> bool | None:
        """Evidence for on-call (deleted vs never noticed); None when S3 will not say."""
        found, _ = self._sources.gather(f"S3 listing of {key}", lambda: self._store.exists(key))
        return found

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
        aurora_max, aurora_error = self._sources.gather(
            "Aurora MAX(watermark)",
            lambda: self._sources.aurora().max_watermark(
                table.schema_name, table.relation, table.watermark_col
            ),
        )
        if aurora_error or final_error:
            return unknown("freshness", name, aurora_error or final_error or "?")
        result, lag = check_freshness(name, aurora_max, final_max, table.freshness_sla_minutes)
        if lag is not None:
            put_metric("FreshnessLagSeconds", MetricUnit.Seconds, lag, table=name)
        return result

    def _sample(self, table: TableConfig, upper: datetime | None) -> CheckResult:
        name = table.table_name
        if upper is None or self._settings.sample_size == 0:
            return check_sample(name, None, [], {})
        sampled, aurora_error = self._sources.gather(
            "Aurora sample",
            lambda: self._sources.aurora().recent_versions(table, upper, self._settings.sample_size),
        )
        if sampled is None:
            return unknown("sample", name, aurora_error or "?")
        found, final_error = self._sources.gather(
            "FINAL lookup",
            lambda: self._sources.snowflake().versions("FINAL", table, [k for k, _ in sampled]),
        )
        if found is None:
            return unknown("sample", name, final_error or "?")
        return check_sample(name, upper, sampled, found)

    def _volume(
        self, table: TableConfig, manifests: list[ReadManifest] | None, s3_error: str | None, since: datetime
    ) -> CheckResult:
        """The look-back's manifests (from `since`) give the hours compared; the hours of past weeks
        it compares them with (volume.hours_to_read) are read besides, and only for a table with
        low_volume configured: `weeks` x (`hours` + 4) GETs and one listing."""
        name, config = table.table_name, table.low_volume
        if config is None:
            return check_volume(name, None, [], None)
        if manifests is None:
            return unknown("volume", name, s3_error or "?")
        recent = windows(manifests)
        end = newest_hour(recent)
        if end is None:
            return check_volume(name, config, [], None)
        hours = [h for h in hours_to_read(end, config) if h < since]  # the look-back read the rest
        older, error = self._sources.gather(
            "S3 manifests of past weeks", lambda: read_manifests_of_hours(self._store, name, hours)
        )
        if older is None:
            return unknown("volume", name, error or "?")
        return check_volume(name, config, recent + windows(older[0]), end)

    def _pins(
        self, name: str, manifests: list[ReadManifest] | None, s3_error: str | None, now: datetime
    ) -> CheckResult:
        pinned, pin_error = self._sources.gather("S3 publish pins", lambda: read_pins(self._store, name))
        if pinned is None or manifests is None:
            return unknown("pins", name, pin_error or s3_error or "?")
        return check_pins(
            name,
            *pinned,
            manifests,
            now=now,
            grace=timedelta(minutes=self._settings.pin_grace_minutes),
            overrides_path=self._settings.overrides_path,
        )
