"""Following a sync execution: a progress bar (chunks done of total, rows exported) from its
history, then the result and every re-run payload. Ctrl-C stops the following, never the execution.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from aurora_sync.commands import rerun_command
from aurora_sync_cli.executions import OPEN, RunProgress, SyncMachine

INTERRUPTED_EXIT = 130  # the shell's code for a command stopped by SIGINT


@dataclass
class Outcome:
    arn: str
    described: dict[str, Any]
    progress: RunProgress

    @property
    def status(self) -> str:
        return str(self.described.get("status"))

    @property
    def ok(self) -> bool:
        p = self.progress
        return self.status == "SUCCEEDED" and not p.failures and not p.remaining


def console_for(out: IO[str]) -> Any:
    from rich.console import Console

    return Console(file=out, highlight=False, emoji=False, soft_wrap=True)


def follow(
    machine: SyncMachine,
    arn: str,
    out: IO[str],
    *,
    poll_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Poll DescribeExecution, then the history's new events, until the execution is closed."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = console_for(out)
    progress = RunProgress()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("chunks, {task.fields[rows]:,} rows"),
        TimeElapsedColumn(),
    )
    last_line = ""
    began = time.monotonic()
    with Progress(*columns, console=console, disable=not console.is_terminal) as bar:
        task = bar.add_task("starting", total=None, rows=0)
        while True:
            described = machine.describe(arn)
            progress.apply(machine.events_after(arn, progress.last_event_id))
            bar.update(task, description=progress.stage, total=progress.total, completed=progress.done)
            bar.update(task, rows=progress.rows)
            if not console.is_terminal:  # a log file or a pipe: one line per change
                line = f"{progress.stage}: {progress.done}/{_total(progress)} chunks, {progress.rows:,} rows"
                if progress.refresh is not None:
                    line = refresh_line(progress, time.monotonic() - began)
                if line != last_line:
                    console.print(line)
                    last_line = line
            if described["status"] != OPEN:
                return Outcome(arn, described, progress)
            sleep(poll_seconds)


def refresh_line(progress: RunProgress, elapsed_s: float) -> str:
    """A full refresh's progress: ranges done of the plan's total (those a resumed refresh had done
    before this execution included), rows exported against Aurora's estimate, and an ETA from this
    execution's pace so far."""
    refresh = progress.refresh or {}
    before = int(refresh.get("done") or 0)
    ranges = int(refresh.get("ranges") or 0)
    estimate = int(refresh.get("rows_estimate") or 0)
    done = before + progress.done
    line = f"{progress.stage}: {done}/{ranges} ranges, {progress.rows:,} rows"
    if estimate:
        line += f" (this execution; about {estimate:,} in the table)"
    if progress.done and ranges > done:
        eta = elapsed_s / progress.done * (ranges - done)
        line += f", ETA {int(eta // 60)}m{int(eta % 60):02d}s"
    return line


def _total(progress: RunProgress) -> str:
    return "?" if progress.total is None else str(progress.total)


def render_outcome(outcome: Outcome, out: IO[str], prefix: str) -> None:
    """The result: status, chunks and rows, then what to re-run and how."""
    console = console_for(out)
    p, described = outcome.progress, outcome.described
    style = "green" if outcome.ok else "bold red"
    console.print(f"execution {outcome.arn}: [{style}]{outcome.status}[/]")
    failed = len(p.failures)
    console.print(
        f"chunks: {p.done - failed} of {_total(p)} exported, {failed} failed; rows exported: {p.rows:,}"
        + (f"; reconciler: {p.reconcile_status}" if p.reconcile_status else "")
    )
    for export in (e for e in p.exports if e.get("status") == "skipped"):
        console.print(f"skipped {export.get('table')}: {export.get('message')}")
    if outcome.ok:
        return
    if described.get("error"):
        console.print(f"error: {described.get('error')}: {_short(described.get('cause'))}")
    _reruns(console, p, prefix)
    if p.attempt_errors:
        console.print("errors the exporter reported (retried attempts included):")
        for error in p.attempt_errors[:5]:
            console.print(f"  {_short(error)}")
    if outcome.status in ("TIMED_OUT", "ABORTED") or (outcome.status == "FAILED" and not p.failures):
        console.print(
            f"the execution stopped before its chunks ended; re-run its input: {described.get('input')}"
        )


def _reruns(console: Any, p: RunProgress, prefix: str) -> None:
    if p.failures:
        console.print("[bold]re-run each failed chunk[/] (an overlap is harmless: the MERGE is idempotent):")
        for failure in p.failures:
            console.print(f"  {failure.error}: {json.dumps(failure.rerun, sort_keys=True)}")
            command = rerun_command(failure.rerun, prefix)
            if command:
                console.print(f"    {command}")
    if p.remaining:
        console.print("[bold]windows left for a re-run[/] (the exporter ran out of time before them):")
        for payload in p.remaining:
            console.print(f"  {json.dumps(payload, sort_keys=True)}")


def interrupted(arn: str, prefix: str) -> str:
    return (
        f"\nstopped following; the execution goes on: {arn}\n"
        f"follow it again:  {prefix} backfill --follow {arn}\n"
        f"stop the export itself (rarely right: chunks in flight finish anyway):  "
        f"aws stepfunctions stop-execution --execution-arn {arn}"
    )


def _short(text: Any, limit: int = 400) -> str:
    value = str(text or "")
    return value if len(value) <= limit else value[:limit] + "..."
