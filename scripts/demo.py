"""`make demo`: the pipeline on the local stack, told the way on-call would live it.

Starts PostgreSQL, moto (with its Step Functions interpreter, for the sync state machine that
`aurora-sync backfill` drives), OpenBao and fakesnow on 127.0.0.1, then:
1. two hourly runs of the exporter, the first with a write transaction open; Snowpipe and the MERGE
   task through their local stand-in (tests/support/snowpipe_runner.py); Aurora beside FINAL; the
   reconciler, silent;
2. one incident end to end: an exported file the pipe rejects, the reconciler's P2 as the pager
   receives it, the `aurora-sync backfill` on-call runs from it, the `resolved` message, and
   `aurora-sync status` all green.

Every step checks that it happened as told; if one did not, the demo stops with exit 1 saying which:
it never prints a story that did not happen. What the demo stages (the file rewritten before the
pipe reads it) it says. Metrics are off (POWERTOOLS_METRICS_DISABLED, Powertools' own switch): in
Lambda each one is an EMF JSON line for CloudWatch, which is noise here.

The backfill needs moto itself (its Step Functions interpreter calls the Lambdas in this process,
tests/support/sync_machine.py), and terraform to render the state machine's definition as the tests
do: with LOCALSTACK_HOST set, or without terraform, the demo stops at once saying so (exit 2).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from click.testing import Result

    from aurora_sync.tables import TableConfig
    from tests.support.cli import CliStack
    from tests.support.pipeline import Pipeline
    from tests.support.snowpipe_runner import LoadRecord, LocalLoadRunner, TaskOutcome
    from tests.support.stepfunctions import StepFunctionsStack

ORDERS, CUSTOMERS = "public.orders", "public.customers"
TABLES = (ORDERS, CUSTOMERS)
LATE_ORDER = 9999
NEW_ORDERS = range(1001, 1041)
# A timestamp as the CSV contract writes it (docs/architecture.md): `2026-12-02T02:27:51.934127+00:00`.
# The incident rewrites it as PostgreSQL's own text, `2026-12-02 02:27:51.934127+00`, which is what an
# exporter older than the contract wrote and what the pipe's pinned TIMESTAMP_FORMAT refuses.
CONTRACT_TIMESTAMP = re.compile(rb"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2}(?:\.\d+)?)\+00:00")


class StoryBroken(Exception):
    """A step did not happen as the demo tells it; the demo stops here (exit 1)."""


class CannotRun(Exception):
    """Something the demo needs is not here (exit 2); nothing was started."""


def expect(condition: bool, what: str) -> None:
    """Go on only if the step happened as told; `what` says what happened instead."""
    if not condition:
        raise StoryBroken(what)


def say(text: str = "") -> None:
    print(text, flush=True)


def heading(text: str) -> None:
    say(f"\n== {text}")


def short(instant: str | None) -> str:
    """An exporter bound (`2026-12-02T02:27:48.182047Z`) as `2026-12-02 02:27:48` UTC, for reading."""
    return "-" if instant is None else instant.replace("T", " ")[:19]


@dataclass
class Demo:
    """One pipeline on the local stack, the CLI's outputs for it, and the Snowpipe + task stand-in,
    with what of the stand-in's history has been told already."""

    p: Pipeline
    cli: CliStack
    loader: LocalLoadRunner
    seen_loads: dict[str, int] = field(default_factory=dict)
    merged_while_waiting: dict[str, TaskOutcome] = field(default_factory=dict)

    # -- what the stand-ins did ----------------------------------------------------------------------
    def table(self, name: str) -> TableConfig:
        [config] = [t for t in self.loader.tables if t.table_name == name]
        return config

    def new_loads(self, name: str) -> list[LoadRecord]:
        """COPY_HISTORY rows of the table since the last call (the runbook's COPY_HISTORY query)."""
        history = self.loader.copy_history(self.table(name))
        new = history[self.seen_loads.get(name, 0) :]
        self.seen_loads[name] = len(history)
        return new

    def pipe_and_task(self, expect_failed: str | None = None) -> None:
        """One pass of the Snowpipe + MERGE task stand-in, reported."""
        self.report(self.loader.cycle(), expect_failed)

    def while_waiting_for_ingestion(self) -> None:
        """The state machine's WaitForIngestion, locally: one pass of the stand-in, reported after
        the command (its output is the CLI's while it runs)."""
        self.merged_while_waiting.update(self.loader.cycle())

    def report(self, merged: dict[str, TaskOutcome], expect_failed: str | None = None) -> None:
        """What a pass did: each new COPY_HISTORY row, then each MERGE's outcome (also its TASK_HISTORY
        row). Every new file must have loaded, except `expect_failed`, which must have failed; every
        MERGE must have succeeded."""
        attempted = []
        for name in TABLES:
            for load in self.new_loads(name):
                attempted.append(load.key)
                failed = load.status != "Loaded"
                expect(
                    failed == (load.key == expect_failed),
                    f"Snowpipe: {load.key} {load.status} ({load.first_error}), expected "
                    + ("Load failed" if load.key == expect_failed else "Loaded"),
                )
                say(f"  Snowpipe   {load.key}: {load.status}, " + (load.first_error or f"{load.rows} rows"))
        expect(bool(attempted), "Snowpipe found no new file")
        if expect_failed is not None:
            expect(expect_failed in attempted, f"Snowpipe never attempted {expect_failed}")
        for name, outcome in merged.items():
            expect(outcome.state == "SUCCEEDED", f"MERGE of {name}: {outcome.state} {outcome.error_message}")
            say(
                f"  MERGE task {name}: {outcome.state}, "
                f"{outcome.rows_inserted} inserted, {outcome.rows_updated} updated in FINAL"
            )

    # -- the exporter ----------------------------------------------------------------------------------
    def hourly_run(self, title: str) -> dict[str, Any]:
        heading(title)
        return self.hourly_run_lines(self.p.run())

    def hourly_run_lines(self, result: dict[str, Any]) -> dict[str, Any]:
        """One line per table of an exporter run; every table must have exported or found nothing."""
        for t in result["tables"]:
            expect(t["status"] in {"exported", "empty"}, f"{t['table']}: {t['status']} {t.get('error', '')}")
            files = len(t.get("files", []))
            say(
                f"  exporter   {t['table']:<17} {t['status']:<9} {t.get('rows', 0):>4} rows, "
                f"{files} file{'s' if files != 1 else ''}, "
                f"window ({short(t.get('lower'))}, {short(t.get('upper'))}] UTC"
            )
        expect(not result.get("remaining"), f"windows left for a re-run: {result.get('remaining')}")
        return result

    def exported_ids(self, result: dict[str, Any], table: str) -> set[int]:
        from tests.support.pipeline import parse_pg_csv

        [t] = [t for t in result["tables"] if t["table"] == table]
        return {int(str(row["id"])) for key in t.get("files", []) for row in parse_pg_csv(self.p.read(key))}

    # -- Aurora, FINAL and the reconciler ------------------------------------------------------------
    def compare(self) -> None:
        heading("Aurora vs Snowflake FINAL")
        admin = self.p.admin()
        conn = self.p.snow.connect(self.p.snowflake_database, "FINAL")
        try:
            for table in TABLES:
                aurora = admin.run(f"SELECT count(*), max(updated_at) FROM {table}")[0]
                cur = conn.cursor()
                cur.execute(
                    f'SELECT COUNT(*), MAX("UPDATED_AT") FROM "FINAL"."{table.split(".")[1].upper()}"'
                )
                final = cur.fetchone()
                newest = _instant(aurora[1])
                expect(
                    aurora[0] == final[0] and newest == _instant(final[1]),
                    f"{table}: Aurora {aurora[0]} rows, newest {aurora[1]}; FINAL {final[0]}, {final[1]}",
                )
                say(f"  {table:<17} {aurora[0]:>4} rows in both; newest updated_at in both: {newest}")
        finally:
            conn.close()
            admin.close()

    def reconcile_silently(self) -> None:
        """A clean cycle: the reconciler finds every check ok (or off by config) and sends nothing."""
        result = self.p.reconcile()
        counts: dict[str, int] = {}
        for check in result["checks"]:
            counts[check["status"]] = counts.get(check["status"], 0) + 1
        sent = [(m["severity"], m["check"], m["table"]) for m in self.p.alerts()]
        list(self.p.pages())  # the pager's copies of the same messages, if any
        found = [(c["check"], c["table"], c["status"], c["summary"]) for c in result["checks"]]
        expect(
            result["status"] == "ok" and not sent,
            f"reconciler: {result['status']}, sent {sent}; "
            f"{[f for f in found if f[2] not in ('ok', 'skipped')]}",
        )
        tally = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        say(f"  reconciler: {result['status']} ({len(result['checks'])} checks: {tally}); nothing sent")


def _instant(value: Any) -> str:
    """Aurora's and FINAL's newest updated_at compared as the same UTC instant, to the microsecond."""
    from aurora_sync.timeutil import as_utc, iso

    return str(iso(as_utc(value)))


# -- the story --------------------------------------------------------------------------------------
def two_hourly_runs(d: Demo) -> None:
    """Seed Aurora, export twice around a late-committing transaction, load and merge, compare."""
    admin = d.p.admin()
    admin.run(
        "INSERT INTO public.orders (id, customer_id, status, amount, updated_at) "
        "SELECT g, g % 7, 'new', g * 2.5, now() - interval '2 hours' + g * interval '30 seconds' "
        "FROM generate_series(1, 200) g"
    )
    admin.run(
        "INSERT INTO public.customers (id, email, name, updated_at) "
        "SELECT g, 'c' || g || '@example.com', 'Customer ' || g, "
        "(now() AT TIME ZONE 'UTC') - interval '2 hours' + g * interval '1 minute' "
        "FROM generate_series(1, 50) g"
    )
    say("\nAurora: 200 orders and 50 customers, written over the last two hours")
    late = d.p.admin()
    late.run("BEGIN")
    late.run(f"INSERT INTO public.orders (id, status) VALUES ({LATE_ORDER}, 'committed late')")
    say(f"a write transaction is open: it inserted order {LATE_ORDER} and has not committed")

    run1 = d.hourly_run("hourly run 1 (FINAL is empty: each window starts at the epoch less the lookback)")
    expect(LATE_ORDER not in d.exported_ids(run1, ORDERS), f"run 1 exported uncommitted order {LATE_ORDER}")
    say(f"  the window ends just before the open transaction began: order {LATE_ORDER} waits for run 2")
    d.pipe_and_task()
    late.run("COMMIT")
    late.close()
    admin.run("UPDATE public.orders SET status = 'shipped', updated_at = now() WHERE id <= 25")
    admin.close()
    say("\nthe transaction commits; 25 orders ship (UPDATE ... updated_at = now())")

    run2 = d.hourly_run("hourly run 2 (each window starts at FINAL's newest row less the table's lookback)")
    expect(LATE_ORDER in d.exported_ids(run2, ORDERS), f"run 2 did not export order {LATE_ORDER}")
    overlap = d.table(ORDERS).lookback_seconds // 60
    say(f"  order {LATE_ORDER} and the 25 shipped orders are in it, with the {overlap}-minute overlap's rows")
    d.pipe_and_task()
    d.compare()
    heading("reconciler")
    d.reconcile_silently()


def rejected_file(d: Demo) -> str:
    """The next hourly run's orders file, rewritten before the pipe reads it; the pipe rejects it."""
    heading("incident: a file the pipe rejects")
    admin = d.p.admin()
    admin.run(
        "INSERT INTO public.orders (id, customer_id, status, amount) "
        f"SELECT g, g % 7, 'new', g FROM generate_series({NEW_ORDERS.start}, {NEW_ORDERS.stop - 1}) g"
    )
    admin.close()
    say(f"{len(NEW_ORDERS)} new orders (ids {NEW_ORDERS.start}-{NEW_ORDERS.stop - 1}); hourly run 3:")
    run3 = d.hourly_run_lines(d.p.run())
    [orders] = [t for t in run3["tables"] if t["table"] == ORDERS]
    expect(len(orders["files"]) == 1, f"run 3 wrote {len(orders['files'])} orders files, expected 1")
    key = str(orders["files"][0])
    good = d.p.read(key)
    old_form, count = CONTRACT_TIMESTAMP.subn(rb"\1 \2+00", good)
    sample = CONTRACT_TIMESTAMP.search(good)
    expect(
        sample is not None and count == orders["rows"],
        f"{count} timestamps rewritten in {key}, which has {orders['rows']} rows",
    )
    assert sample is not None  # for the type checker: expect() stopped the demo otherwise
    d.p.s3.put_object(Bucket=d.p.bucket, Key=key, Body=old_form)
    contract = sample.group(0).decode()
    postgres = CONTRACT_TIMESTAMP.sub(rb"\1 \2+00", sample.group(0)).decode()
    say("  STAGED by the demo, before the pipe read the orders file: its updated_at values rewritten")
    say(f"  from {contract} to {postgres}, PostgreSQL's own text, as an exporter")
    say("  older than the CSV contract (docs/architecture.md) wrote them")
    d.pipe_and_task(expect_failed=key)
    return key


def page(d: Demo, key: str) -> dict[str, Any]:
    """The reconciler's P2 for the rejected file, as the pager receives it; its `rerun` payload."""
    heading("the reconciler runs (its log: warnings and errors only)")
    d.p.reconcile()
    heading("the pager receives (SNS -> the pager's subscription: P1 and P2 only)")
    pages = list(d.p.pages())
    expect(
        len(pages) == 1, f"the pager received {[(m['severity'], m['check'], m['summary']) for m in pages]}"
    )
    [alert] = pages
    what = (alert["severity"], alert["check"], alert["table"], alert["status"])
    expect(what == ("P2", "loads", ORDERS, "open"), f"the page is {what}, not P2 loads {ORDERS} open")
    expect(alert["runbook"].endswith("#load-failed"), f"the page's runbook link is {alert['runbook']}")
    [problem] = alert["details"]["problems"]
    expect(problem["file"] == key and problem["problem"] == "load failed", f"the page's problem: {problem}")
    rerun = dict(problem["rerun"])
    expect(set(rerun) == {"tables", "start", "end"} and rerun["tables"] == [ORDERS], f"rerun: {rerun}")
    say(f"  {alert['severity']} {alert['check']} {alert['table']} ({alert['status']})")
    say(f"  {alert['summary']}")
    say(f"  file:    {problem['file']}")
    say(f"  runbook: {alert['runbook']}")
    say(f"  rerun:   {json.dumps(rerun, sort_keys=True)}")
    return rerun


def fix(d: Demo, rerun: dict[str, Any]) -> None:
    """On-call's backfill of the rerun window through the CLI, then the resolve the pager receives."""
    heading("on-call re-exports the window (runbook: load-failed, then re-export a window)")
    run_cli(d.cli, ["backfill", ORDERS, "--start", rerun["start"], "--end", rerun["end"]], want_exit=0)
    say("  while the execution waited for ingestion, the Snowpipe + task stand-in ran once:")
    d.report(d.merged_while_waiting)
    heading("the pager receives, after the execution's Reconcile step")
    messages = list(d.p.pages())
    expect(len(messages) == 1, f"the pager received {len(messages)} messages after the backfill, not 1")
    [message] = messages
    what = (message["status"], message["check"], message["table"])
    expect(what == ("resolved", "loads", ORDERS), f"the pager received {what}, not resolved loads {ORDERS}")
    say(f"  {message['severity']} {message['check']} {message['table']} ({message['status']})")
    say(f"  {message['summary']}")


def all_green(d: Demo) -> None:
    heading("is every table in sync?")
    run_cli(d.cli, ["status"], want_exit=0)


def run_cli(cli: CliStack, args: list[str], want_exit: int) -> Result:
    """The operator's command, printed as typed and run through the CLI (click's runner, in process:
    the state machine's Lambda invokes are answered by the real exporter and reconciler here)."""
    from tests.support.cli import FOLLOW_SEAMS

    say("$ " + shlex.join(["aurora-sync", "--outputs", str(cli.outputs_file), *args]))
    result = cli.invoke(*args, seams=FOLLOW_SEAMS)
    say("\n".join(line.rstrip() for line in result.output.rstrip("\n").split("\n")))
    say(f"(exit {result.exit_code})")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise StoryBroken(f"aurora-sync {args[0]} raised {result.exception!r}") from result.exception
    expect(result.exit_code == want_exit, f"aurora-sync {args[0]} exited {result.exit_code}, not {want_exit}")
    return result


def story(pg: Any, sfn: StepFunctionsStack, bao: Any, snow: Any, *, directory: Path) -> None:
    """The whole demo on started servers; StoryBroken as soon as a step does not happen as told."""
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    from tests.support.cli import CliStack
    from tests.support.pipeline import Pipeline
    from tests.support.sync_machine import deploy

    p = Pipeline(pg, sfn.moto, bao, snow)
    d = Demo(p, CliStack(p, directory), p.loader())
    deploy(sfn, p, before_reconcile=d.while_waiting_for_ingestion)
    if is_metrics_disabled():
        say("metrics: not printed (POWERTOOLS_METRICS_DISABLED); in Lambda each is a CloudWatch EMF line")
    say(f"the CLI's names: {d.cli.outputs_file}, this stack's `terraform output -json`")
    two_hourly_runs(d)
    key = rejected_file(d)
    fix(d, page(d, key))
    all_green(d)


@contextlib.contextmanager
def local_stack() -> Iterator[tuple[Any, StepFunctionsStack, Any, Any]]:
    """PostgreSQL, moto behind the scripted Lambda front (tests/support/stepfunctions.py), OpenBao and
    fakesnow, started and then stopped by PID; CannotRun before anything starts if the backfill's
    state machine cannot run here."""
    from tests.support.stack import FakeSnowServer, NeedsMotoError, OpenBaoServer, PostgresServer
    from tests.support.stepfunctions import StepFunctionsStack
    from tests.support.sync_machine import definition
    from tests.support.terraform import TerraformError

    try:
        definition()  # terraform renders the state machine (cached for deploy)
    except TerraformError as exc:
        raise CannotRun(f"the sync state machine is rendered with terraform: {exc}") from None
    try:
        sfn = StepFunctionsStack()
    except NeedsMotoError as exc:
        raise CannotRun(f"`aurora-sync backfill` runs the sync state machine: {exc}") from None
    pg, bao, snow = PostgresServer(), OpenBaoServer(), FakeSnowServer()
    say("starting PostgreSQL, moto (executing state machines), OpenBao and fakesnow on 127.0.0.1 …")
    with contextlib.ExitStack() as running:
        for service in (sfn, pg, bao, snow):
            running.enter_context(service)
        yield pg, sfn, bao, snow


def main() -> int:
    """Exit 0 when every step happened as told, 1 when one did not (named on stderr), 2 when the demo
    cannot run here (nothing started)."""
    # Set before anything imports aurora_sync (every such import is below, in functions): Powertools
    # reads the log level when its Logger is made, and the metrics switch at each flush
    # (aurora_sync.observability.put_metric checks it too). Either can be overridden from the shell,
    # e.g. POWERTOOLS_LOG_LEVEL=INFO make demo for the Lambdas' info lines.
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    try:
        with local_stack() as servers, tempfile.TemporaryDirectory(prefix="aurora-sync-demo-") as tmp:
            story(*servers, directory=Path(tmp))
    except CannotRun as exc:
        print(f"make demo cannot run here: {exc}", file=sys.stderr)
        return 2
    except StoryBroken as exc:
        print(f"\nDEMO FAILED: {exc}", file=sys.stderr)
        return 1
    say("\nthe incident is closed: every table in sync, no alert open")
    return 0


if __name__ == "__main__":
    sys.exit(main())
