"""`aurora-sync status`: read every table's state once; judging and rendering are elsewhere.

Per table: Aurora's and FINAL's MAX(watermark) (two statements), the newest manifest (one listing of
the look-back and the newest hour's manifests), SYSTEM$PIPE_STATUS and the task's state, an unfinished
full refresh (one listing of its checkpoints, one GET of its plan). Once for all
tables: TASK_HISTORY over the last day, the open alerts (one Scan), on-call pauses (one GetItem) and the
hourly schedule. Each read that fails becomes that reading's cause; the others go on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aurora_sync.adapters.postgres import Aurora
from aurora_sync.adapters.s3 import ObjectStore
from aurora_sync.adapters.snowflake_history import TASK_HISTORY_REACH, TaskRun, TaskRuns, within_reach
from aurora_sync.exporter.refresh import PlanGone, RefreshLedger
from aurora_sync.layout import is_tombstone_manifest, manifest_hour, manifest_listing
from aurora_sync.manifest import parse_manifest
from aurora_sync.pauses import Pauses
from aurora_sync.pins import read_pins
from aurora_sync.tables import TableConfig
from aurora_sync.timeutil import as_utc
from aurora_sync_cli.session import Session
from aurora_sync_cli.verdict import (
    LastExport,
    OpenAlert,
    Pins,
    Reading,
    RefreshProgress,
    TableStatus,
    judge,
    read,
)

EXPORT_LOOKBACK = timedelta(hours=48)
TASK_RUN_LOOKBACK = timedelta(hours=24)


@dataclass
class StatusReport:
    at: datetime
    tables: list[TableStatus]
    schedule: Reading[str]
    other_alerts: Reading[list[OpenAlert]]


def gather(session: Session, tables: list[TableConfig]) -> StatusReport:
    now = datetime.now(UTC)
    alerts = read("open alerts", lambda: _open_alerts(session))
    pauses = read("pauses", lambda: session.pauses().read())
    runs = read("TASK_HISTORY", lambda: _task_runs(session, tables, now))
    aurora = read("Aurora", session.runtime.open_aurora)
    store = session.runtime.store()
    statuses = [
        _table(
            session,
            store=store,
            aurora=aurora,
            table=table,
            alerts=alerts,
            runs=runs,
            pauses=pauses,
            now=now,
        )
        for table in tables
    ]
    if aurora.value is not None:
        aurora.value.close()
    listed = {t.table_name for t in tables}
    other = Reading[list[OpenAlert]](
        value=[a for a in alerts.value or [] if a.table not in listed], error=alerts.error
    )
    return StatusReport(at=now, tables=statuses, schedule=_schedule(session), other_alerts=other)


def _table(
    session: Session,
    *,
    store: ObjectStore,
    aurora: Reading[Aurora],
    table: TableConfig,
    alerts: Reading[list[OpenAlert]],
    runs: Reading[TaskRuns],
    pauses: Reading[Pauses],
    now: datetime,
) -> TableStatus:
    objects = session.objects(table)
    status = TableStatus(
        table=table.table_name,
        sla_minutes=table.freshness_sla_minutes,
        aurora_max=_aurora_max(aurora, table),
        final_max=read(
            "FINAL",
            lambda: session.snowflake.max_watermark("FINAL", table.snowflake_table, table.watermark_col),
        ),
        last_export=read("manifests", lambda: last_export(store, table.table_name, now)),
        pipe=read("pipe", lambda: session.history().pipe_status(objects.pipe)),
        task_state=read("task", lambda: session.control().task_state(objects)),
        last_run=_last_run(runs, objects.task_name),
        alerts=Reading(
            value=[a for a in alerts.value or [] if a.table == table.table_name], error=alerts.error
        ),
        pins=read("pins", lambda: _pins(store, table.table_name)),
        refresh=read("refresh", lambda: unfinished_refresh(store, table.table_name)),
        pause=Reading(
            value=None if pauses.value is None else pauses.value.active(table.table_name, now),
            error=pauses.error,
        ),
    )
    status.findings = judge(status, now)
    return status


def _aurora_max(aurora: Reading[Aurora], table: TableConfig) -> Reading[datetime | None]:
    if aurora.value is None:
        return Reading(error=aurora.error)
    connection = aurora.value
    return read(
        "Aurora", lambda: connection.max_watermark(table.schema_name, table.relation, table.watermark_col)
    )


def _last_run(runs: Reading[TaskRuns], task_name: str) -> Reading[TaskRun | None]:
    if runs.value is None:
        return Reading(error=runs.error)
    finished = [r for r in runs.value.by_task.get(task_name, []) if r.completed_time is not None]
    return Reading(value=finished[-1] if finished else None)


def _task_runs(session: Session, tables: list[TableConfig], now: datetime) -> TaskRuns:
    names = {session.objects(t).task_name for t in tables}
    database = session.objects(tables[0]).bare_database if tables else ""
    since = within_reach(now - TASK_RUN_LOOKBACK, now, TASK_HISTORY_REACH)
    return session.history().task_runs(database, "STAGING", names, since, now)


def last_export(store: ObjectStore, table: str, now: datetime) -> LastExport | None:
    """The newest manifest of the look-back: one listing, then only the newest hour's manifests."""
    prefix, start_after = manifest_listing(table, now - EXPORT_LOOKBACK)
    keys = sorted(
        k for k in store.sizes(prefix, start_after) if k.endswith(".json") and not is_tombstone_manifest(k)
    )
    if not keys:
        return None
    newest_hour = manifest_hour(keys[-1], prefix)
    newest: LastExport | None = None
    for key in keys:
        if manifest_hour(key, prefix) != newest_hour:
            continue
        body = store.read_if_exists(key)
        if body is None:
            continue
        doc = parse_manifest(key, body, table).doc
        finished = doc.finished()
        if newest is None or finished > newest.finished_at:
            newest = LastExport(rows=doc.rows, files=len(doc.files), finished_at=finished, manifest=key)
    return newest


def unfinished_refresh(store: ObjectStore, table: str) -> RefreshProgress | None:
    """The table's unfinished full refresh: one listing of `_refresh/<table>/` and its plan (one GET)."""
    ledger = RefreshLedger(store)
    progress = ledger.unfinished(table)
    if progress is None:
        return None
    try:
        plan = ledger.plan(table, progress.refresh_id)
    except PlanGone:  # expired: nothing to resume; the next `resync` abandons it (exporter/refresh.py)
        return None
    return RefreshProgress(plan.refresh_id, len(progress.done), plan.ranges, plan.created_at)


def _pins(store: ObjectStore, table: str) -> Pins:
    pins, unreadable = read_pins(store, table)
    oldest = min((as_utc(p.created_at) for p in pins), default=None)
    return Pins(count=len(pins), oldest=oldest, unreadable=unreadable)


def _open_alerts(session: Session) -> list[OpenAlert]:
    items: list[dict[str, Any]] = session.alert_state().open_items()
    return sorted(
        (
            OpenAlert(
                check=str(item.get("check", "?")),
                table=str(item.get("table", "-")),
                severity=str(item.get("severity", "?")),
                summary=str(item.get("summary", "")),
                first_seen=item.get("first_seen"),
            )
            for item in items
        ),
        key=lambda a: (a.severity, a.table, a.check),
    )


def _schedule(session: Session) -> Reading[str]:
    schedule = session.schedule()
    if schedule is None:
        return Reading(
            error="schedule: SYNC_SCHEDULE_NAME is not set (Terraform output sync_schedule, or the variable)"
        )
    return read(f"schedule {schedule.group}/{schedule.name}", schedule.state)
