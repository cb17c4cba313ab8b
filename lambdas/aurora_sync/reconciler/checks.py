"""The reconciler's checks (DESIGN.md §6) as pure functions of the evidence already gathered.

Keeping them free of I/O is what lets every "is this worth a page?" rule be tested exactly; the
service gathers the evidence (table_checks.py) and turns a failed gathering into UNKNOWN, never OK.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from aurora_sync.adapters.snowflake import normalize_key
from aurora_sync.adapters.snowflake_history import FAILED_STATES, CopyRecord, MergeAudit, PipeStatus, TaskRun
from aurora_sync.alerts import Alert, Severity
from aurora_sync.manifest import ManifestDoc, ReadManifest, rerun_payload
from aurora_sync.pins import PublishPin, gaps
from aurora_sync.timeutil import EPOCH, MICROSECOND, iso, parse_instant

MAX_LISTED = 10  # evidence lists are cut here; the count is always complete


class Status(StrEnum):
    OK = "ok"
    PENDING = "pending"  # nothing wrong yet: files inside the load grace period
    PROBLEM = "problem"
    UNKNOWN = "unknown"  # the evidence could not be read: never reported as OK
    SKIPPED = "skipped"  # not configured for this table (e.g. no freshness_sla_minutes)


@dataclass
class CheckResult:
    check: str
    table: str
    status: Status
    summary: str
    severity: Severity | None = None
    details: dict[str, Any] = field(default_factory=dict)
    runbook_anchor: str = ""

    def alert(self, run_id: str) -> Alert:
        assert self.severity is not None
        return Alert(
            self.severity,
            self.check,
            self.table,
            self.summary,
            details=self.details,
            run_id=run_id,
            runbook_anchor=self.runbook_anchor,
        )

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"check": self.check, "table": self.table, "status": str(self.status)}
        data["summary"] = self.summary
        if self.severity is not None:
            data["severity"] = str(self.severity)
        if self.details:
            data["details"] = self.details
        return data


def unknown(check: str, table: str, error: str) -> CheckResult:
    return CheckResult(check, table, Status.UNKNOWN, f"could not check: {error}", details={"error": error})


# -- manifests ---------------------------------------------------------------------------------


def check_manifests(table: str, problems: list[str]) -> CheckResult:
    if not problems:
        return CheckResult("manifests", table, Status.OK, "every manifest is readable")
    return CheckResult(
        "manifests",
        table,
        Status.PROBLEM,
        f"{len(problems)} manifest(s) unreadable; their files cannot be reconciled: {problems[0]}"[:300],
        Severity.P2,
        {"invalid": problems[:MAX_LISTED], "count": len(problems)},
        "manifest-invalid",
    )


# -- loads: manifest files vs COPY_HISTORY -----------------------------------------------------


def _latest_records(records: list[CopyRecord], bucket: str) -> dict[str, CopyRecord]:
    """Latest COPY_HISTORY record per file, keyed by its S3 URL (a reload supersedes a failure)."""
    latest: dict[str, CopyRecord] = {}
    for record in sorted(records, key=lambda r: r.last_load_time or EPOCH):
        latest[record.url] = record
    return latest


def _find(latest: dict[str, CopyRecord], bucket: str, key: str) -> CopyRecord | None:
    found = latest.get(f"s3://{bucket}/{key}")
    if found is not None:
        return found
    # FILE_NAME may be relative to a stage URL spelled differently (e.g. without the bucket's
    # region); run-<uuid> makes the key's tail unique within one table's history.
    for url, record in latest.items():
        if url.endswith("/" + key) or key.endswith("/" + record.file_name.lstrip("/")):
            return record
    return None


@dataclass
class _LoadFindings:
    problems: list[dict[str, Any]] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    loaded_files: int = 0
    loaded_rows: int = 0
    loaded_tombstones: int = 0  # rows of tombstone files: keys to delete, not data rows


def check_loads(
    table: str,
    manifests: list[ReadManifest],
    records: list[CopyRecord],
    *,
    bucket: str,
    now: datetime,
    grace: timedelta,
    object_exists: Callable[[str], bool | None],
    overrides_path: str,
) -> CheckResult:
    latest = _latest_records(records, bucket)
    found = _LoadFindings()
    superseded: list[str] = []
    exports = [m for m in manifests if not m.doc.is_tombstones]  # only an export covers a window
    for manifest in manifests:
        own = _LoadFindings()
        _check_manifest_loads(
            manifest,
            own,
            latest=latest,
            bucket=bucket,
            now=now,
            grace=grace,
            object_exists=object_exists,
            overrides_path=overrides_path,
        )
        if (
            own.problems
            and not manifest.doc.is_tombstones
            and _covered_by_later_load(manifest, exports, latest, bucket)
        ):
            superseded.append(manifest.key)
            continue
        found.problems += own.problems
        found.pending += own.pending
        found.loaded_files += own.loaded_files
        found.loaded_rows += own.loaded_rows
        found.loaded_tombstones += own.loaded_tombstones
    details: dict[str, Any] = {
        "manifests": len(manifests),
        "files_loaded": found.loaded_files,
        "rows_loaded": found.loaded_rows,
        "tombstones_loaded": found.loaded_tombstones,
    }
    if superseded:
        details["superseded"] = superseded[:MAX_LISTED]
    if found.problems:
        kinds = sorted({p["problem"] for p in found.problems})
        first_error = next((p["first_error"] for p in found.problems if p.get("first_error")), None)
        summary = f"{len(found.problems)} file problem(s): {', '.join(kinds)}"
        if "load skipped" in kinds:
            summary += " (Snowflake loaded no row of a skipped file: re-export its window with the rerun)"
        if first_error:
            summary += f"; Snowflake: {first_error}"
        details["problems"] = found.problems[:MAX_LISTED]
        details["problem_count"] = len(found.problems)
        return CheckResult(
            "loads", table, Status.PROBLEM, summary[:300], Severity.P2, details, _loads_anchor(kinds)
        )
    if found.pending:
        details["pending"] = found.pending[:MAX_LISTED]
        return CheckResult(
            "loads",
            table,
            Status.PENDING,
            f"{len(found.pending)} file(s) within the load grace period",
            details=details,
        )
    return CheckResult(
        "loads",
        table,
        Status.OK,
        f"{found.loaded_files} file(s) loaded, rows match manifests",
        details=details,
    )


def _loads_anchor(kinds: list[str]) -> str:
    """The runbook section for the worst kind present: failed/partial files need a fix before a
    reload; a skipped file needs a re-export under a new name (Snowflake's load metadata would skip
    the same file again); a missing file needs the pipe or the object looked at."""
    if any(k in {"load failed", "partially loaded"} for k in kinds):
        return "load-failed"
    if "load skipped" in kinds:
        return "load-skipped"
    if kinds == ["row count differs"]:
        return "row-count-mismatch"
    return "load-missing"


def _covered_by_later_load(
    manifest: ReadManifest, manifests: list[ReadManifest], latest: dict[str, CopyRecord], bucket: str
) -> bool:
    """True when a later export of this table covers the manifest's whole window and every one of
    its files loaded: the re-export on-call ran (the alert's `rerun`) has replaced the lost file."""
    doc = manifest.doc
    lower = None if doc.lower is None else parse_instant(doc.lower, "lower")
    upper = parse_instant(doc.upper, "upper")
    for other in manifests:
        o = other.doc
        if other.key == manifest.key or o.finished() <= doc.finished() or not o.covers_window:
            continue
        o_lower = None if o.lower is None else parse_instant(o.lower, "lower")
        covers = (o_lower is None or (lower is not None and o_lower <= lower)) and parse_instant(
            o.upper, "upper"
        ) >= upper
        records = [_find(latest, bucket, f.key) for f in o.files]
        loaded = [r for r in records if r is not None and r.status == "loaded"]
        if covers and len(loaded) == len(records) and sum(r.row_count for r in loaded) == o.rows:
            return True
    return False


def _check_manifest_loads(
    manifest: ReadManifest,
    found: _LoadFindings,
    *,
    latest: dict[str, CopyRecord],
    bucket: str,
    now: datetime,
    grace: timedelta,
    object_exists: Callable[[str], bool | None],
    overrides_path: str,
) -> None:
    doc = manifest.doc
    overdue = now - doc.finished() > grace
    loaded_rows = 0
    complete = True
    for entry in doc.files:
        record = _find(latest, bucket, entry.key)
        base = {"file": entry.key, "manifest": manifest.key, "rerun": _rerun(doc, overrides_path)}
        if record is None or record.status == "load in progress":
            complete = False
            if not overdue:
                found.pending.append(entry.key)
                continue
            exists = object_exists(entry.key)
            found.problems.append(
                {**base, "problem": "not loaded", "object_in_s3": exists, "exported_at": doc.finished_at}
            )
            continue
        if record.status != "loaded":
            complete = False
            found.problems.append(
                {
                    **base,
                    "problem": record.status,
                    "first_error": record.first_error_message,
                    "rows_loaded": record.row_count,
                    "rows_parsed": record.row_parsed,
                    "errors": record.error_count,
                }
            )
            continue
        found.loaded_files += 1
        if doc.is_tombstones:
            found.loaded_tombstones += record.row_count
        else:
            found.loaded_rows += record.row_count
        loaded_rows += record.row_count
    if complete and loaded_rows != doc.rows:
        found.problems.append(
            {
                "problem": "row count differs",
                "manifest": manifest.key,
                "exported_rows": doc.rows,
                "loaded_rows": loaded_rows,
                "files": [f.key for f in doc.files],
                "rerun": _rerun(doc, overrides_path),
            }
        )


def _rerun(doc: ManifestDoc, overrides_path: str) -> dict[str, Any]:
    """What repairs a file that did not load: an export's window exported again; for tombstones,
    the next detection pass, which finds the same keys and writes them again (runbook: deletes)."""
    if doc.is_tombstones:
        return {"tombstones": "written again by the next hourly run's delete detection; nothing to run"}
    return doc.rerun(overrides_path)


def _merged_after(run: TaskRun, loaded_at: datetime) -> bool:
    """A run merged a load only if its statement started after the load: the task's transaction
    reads the stream as of its start, so a run that started earlier and completed later did not see
    those rows (they wait for the next run)."""
    return run.state == "SUCCEEDED" and run.query_start_time is not None and run.query_start_time >= loaded_at


def settled_upper(
    manifests: list[ReadManifest], records: list[CopyRecord], runs: list[TaskRun], bucket: str
) -> datetime | None:
    """Newest export bound whose files are all loaded AND merged by a successful task run that
    started after the last of them loaded: every Aurora row at or below it must be in FINAL now."""
    latest = _latest_records(records, bucket)
    best: datetime | None = None
    for manifest in manifests:
        loads = [_find(latest, bucket, f.key) for f in manifest.doc.files]
        if not loads or any(r is None or r.status != "loaded" or r.last_load_time is None for r in loads):
            continue  # an empty export proves nothing about earlier windows
        last_load = max(r.last_load_time for r in loads if r is not None and r.last_load_time is not None)
        if any(_merged_after(run, last_load) for run in runs):
            upper = parse_instant(manifest.doc.upper, "upper")
            best = upper if best is None else max(best, upper)
    return best


# -- merge task --------------------------------------------------------------------------------


def check_merge(
    table: str,
    task: str,
    records: list[CopyRecord],
    runs: list[TaskRun],
    audits: list[MergeAudit],
    *,
    now: datetime,
    grace: timedelta,
    runs_since: datetime | None = None,
) -> CheckResult:
    """`runs_since` is where the TASK_HISTORY evidence starts (it reaches back 7 days at most, less
    than the loads' look-back may): a load older than that has no visible run that could have
    merged it, so it is not judged, rather than paged as never merged."""
    finished = [r for r in runs if r.state in {"SUCCEEDED", *FAILED_STATES} and r.completed_time is not None]
    loads = [
        r.last_load_time
        for r in records
        if r.status == "loaded"
        and r.row_count
        and r.last_load_time
        and (runs_since is None or r.last_load_time >= runs_since)
    ]
    last_load = max(loads) if loads else None
    details: dict[str, Any] = {"task": task, "last_load": None if last_load is None else iso(last_load)}
    if audits:
        last = audits[-1]
        details["last_merge"] = {
            "query_id": last.query_id,
            "rows_inserted": last.rows_inserted,
            "rows_updated": last.rows_updated,
            "rows_deleted": last.rows_deleted,
            "rows_marked": last.rows_marked,
            "merged_at": iso(last.merged_at),
        }
        # Data rows only: a tombstone's effect is counted apart, never as a merged (or missing) row.
        details["rows_merged_in_window"] = sum(a.rows_inserted + a.rows_updated for a in audits)
        details["rows_deleted_in_window"] = sum(a.rows_deleted for a in audits)
        details["rows_marked_in_window"] = sum(a.rows_marked for a in audits)
    if finished and finished[-1].state in FAILED_STATES:
        failed = finished[-1]
        details.update(
            {
                "state": failed.state,
                "error_code": failed.error_code,
                "error_message": failed.error_message,
                "query_id": failed.query_id,
            }
        )
        what = "failed and was suspended by Snowflake" if failed.state != "FAILED" else "failed"
        summary = f"merge task {task} {what} at {iso(failed.completed_time or now)}: {failed.error_message}"
        return CheckResult(
            "merge", table, Status.PROBLEM, summary[:300], Severity.P2, details, "merge-failed"
        )
    if last_load is None:
        return CheckResult("merge", table, Status.OK, "no loads to merge in the window", details=details)
    if any(_merged_after(r, last_load) for r in finished):
        return CheckResult("merge", table, Status.OK, "merged after the last load", details=details)
    if now - last_load <= grace:
        return CheckResult(
            "merge", table, Status.PENDING, "loads within the grace period await the task", details=details
        )
    summary = f"merge task {task} has not succeeded in a run started since the last load at {iso(last_load)}"
    return CheckResult("merge", table, Status.PROBLEM, summary, Severity.P2, details, "merge-not-run")


# -- freshness -----------------------------------------------------------------------------------


def check_freshness(
    table: str, aurora_max: datetime | None, final_max: datetime | None, sla_minutes: int | None
) -> tuple[CheckResult, float | None]:
    """Returns the result and the lag in seconds (for the metric); no lag when Aurora is empty."""
    if aurora_max is None:
        return CheckResult("freshness", table, Status.OK, "Aurora table is empty"), None
    lag = max(timedelta(0), aurora_max - (final_max or EPOCH))
    details = {
        "aurora_max": iso(aurora_max),
        "final_max": None if final_max is None else iso(final_max),
        "lag_minutes": round(lag.total_seconds() / 60, 1),
    }
    if sla_minutes is None:
        return CheckResult(
            "freshness", table, Status.SKIPPED, "no freshness_sla_minutes", details=details
        ), lag.total_seconds()
    details["sla_minutes"] = sla_minutes
    if lag <= timedelta(minutes=sla_minutes):
        return CheckResult(
            "freshness", table, Status.OK, f"lag {details['lag_minutes']} min", details=details
        ), lag.total_seconds()
    summary = f"FINAL is {details['lag_minutes']} min behind Aurora (SLA {sla_minutes} min)"
    return (
        CheckResult("freshness", table, Status.PROBLEM, summary, Severity.P3, details, "sync-lagging"),
        lag.total_seconds(),
    )


# -- sampled rows --------------------------------------------------------------------------------


def check_sample(
    table: str,
    upper: datetime | None,
    sampled: list[tuple[tuple[Any, ...], datetime]],
    found: dict[tuple[Any, ...], datetime | None],
) -> CheckResult:
    if upper is None:
        return CheckResult(
            "sample", table, Status.SKIPPED, "no export in the window is loaded and merged yet"
        )
    if not sampled:
        summary = f"no Aurora rows at or below {iso(upper)} (older than the lookback overlap) to sample"
        return CheckResult("sample", table, Status.SKIPPED, summary, details={"settled_upper": iso(upper)})
    missing: list[dict[str, Any]] = []
    stale: list[dict[str, Any]] = []
    wrong: list[datetime] = []  # Aurora watermarks of the rows FINAL lacks or has older
    for key, watermark in sampled:
        norm = tuple(normalize_key(v) for v in key)
        if norm not in found:
            wrong.append(watermark)
            missing.append({"key": [str(v) for v in key], "aurora_watermark": iso(watermark)})
        elif found[norm] != watermark:
            wrong.append(watermark)
            got = found[norm]
            stale.append(
                {
                    "key": [str(v) for v in key],
                    "aurora_watermark": iso(watermark),
                    "final_watermark": None if got is None else iso(got),
                }
            )
    details: dict[str, Any] = {"sampled": len(sampled), "settled_upper": iso(upper)}
    if not missing and not stale:
        return CheckResult(
            "sample", table, Status.OK, f"{len(sampled)} sampled row(s) match FINAL", details=details
        )
    details.update({"missing": missing[:MAX_LISTED], "stale": stale[:MAX_LISTED]})
    # The exact manual payload that re-exports every row found wrong (start is exclusive).
    details["rerun"] = {"tables": [table], "start": iso(min(wrong) - MICROSECOND), "end": iso(max(wrong))}
    summary = f"{len(missing)} sampled row(s) missing from FINAL, {len(stale)} with a different watermark"
    return CheckResult("sample", table, Status.PROBLEM, summary, Severity.P2, details, "rows-missing")


# -- pipe ----------------------------------------------------------------------------------------


def check_pipe(table: str, pipe: str, status: PipeStatus, *, now: datetime, grace: timedelta) -> CheckResult:
    details = {"pipe": pipe, "status": status.raw}
    if status.execution_state != "RUNNING":
        summary = (
            f"pipe {pipe} is {status.execution_state or 'in an unknown state'}: new files are not loaded"
        )
        return CheckResult("pipe", table, Status.PROBLEM, summary, Severity.P2, details, "pipe-stalled")
    oldest = status.oldest_file_timestamp
    if status.pending_file_count and oldest is not None and now - oldest > grace:
        summary = f"pipe {pipe} has {status.pending_file_count} file(s) pending since {iso(oldest)}"
        return CheckResult("pipe", table, Status.PROBLEM, summary, Severity.P3, details, "pipe-stalled")
    return CheckResult(
        "pipe", table, Status.OK, f"running, {status.pending_file_count} pending", details=details
    )


# -- publish pins: windows made visible in pieces that no manifest covers yet -------------------


def check_pins(
    table: str,
    pins: list[PublishPin],
    unreadable: list[str],
    manifests: list[ReadManifest],
    *,
    now: datetime,
    grace: timedelta,
    overrides_path: str,
) -> CheckResult:
    """The one loss no other check sees: FINAL may lack rows *below* its own watermark (freshness
    looks fine, the sample of the newest rows finds them all). A pin whose window manifests cover
    is only waiting for the exporter to delete it; one with gaps past `grace` (PIN_GRACE_MINUTES:
    the next incremental runs should have re-exported them) is a problem."""
    covered = [m.doc.window() for m in manifests if m.doc.covers_window]
    guarded = sorted(
        ((p, left) for p in pins if (left := gaps(p.window, covered))), key=lambda item: item[0].created_at
    )
    details: dict[str, Any] = {
        "pins": [
            {
                "export_id": p.export_id,
                "run_id": p.run_id,
                "created_at": iso(p.created_at),
                "gaps": [[None if lo is None else iso(lo), iso(hi)] for lo, hi in left],
            }
            for p, left in guarded[:MAX_LISTED]
        ],
        "count": len(guarded),
    }
    if unreadable:
        details["unreadable"] = unreadable[:MAX_LISTED]
        summary = (
            f"{len(unreadable)} publish pin(s) unreadable; the exporter stops this table: {unreadable[0]}"
        )
        return CheckResult("pins", table, Status.PROBLEM, summary[:300], Severity.P2, details, "publish-pins")
    overdue = [(p, left) for p, left in guarded if now - p.created_at > grace]
    if overdue:
        pin, left = overdue[0]
        lower, upper = left[0][0], left[-1][1]
        details["rerun"] = rerun_payload(table, lower, upper, overrides_path=overrides_path)
        summary = (
            f"pinned window of {iso(pin.created_at)} still not re-exported: FINAL may lack rows in "
            f"({'the beginning' if lower is None else iso(lower)}, {iso(upper)}] below its watermark"
        )
        return CheckResult("pins", table, Status.PROBLEM, summary[:300], Severity.P2, details, "publish-pins")
    if guarded:
        summary = f"{len(guarded)} pinned window(s) not covered yet; the next incremental run re-exports them"
        return CheckResult("pins", table, Status.PENDING, summary, details=details)
    if pins:
        return CheckResult(
            "pins", table, Status.OK, f"{len(pins)} pin(s) covered by manifests, deleted next run"
        )
    return CheckResult("pins", table, Status.OK, "no pinned window")
