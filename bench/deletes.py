"""`make bench` (delete detection): one detection pass (aurora_sync.exporter.deletes) on a large table
with 0, 100 and 100,000 rows deleted in Aurora, against a baseline measured in the same run.

Starts its own PostgreSQL, moto, OpenBao and fakesnow (tests/support/stack.py) and one isolated
pipeline (tests/support/pipeline.py) with `public.orders` only, `delete_detection: hard`. Aurora's
table and FINAL are filled server-side with the same N keys (generate_series; Snowflake's GENERATOR,
which fakesnow runs), all stamped a month ago. Per case: delete the keys in Aurora, run the real
exporter in-process (`run_exporter` on a scheduled event: the incremental window, empty, then the
pass), read the pass's own timing and outcome from the result, count the statements the pass sent to
each side and the rows they returned (the adapters' `Aurora.run` / `Snowflake.query`, wrapped while
the pass runs), then put the keys back. Nothing is merged: FINAL stays as filled.

Baseline, measured before the first case and after the last (the ratio uses their mean): the naive
comparison the hashed buckets replace, every key of both sides fetched to the client (`SELECT id`
through pg8000, `SELECT "ID", "UPDATED_AT"` through the Snowflake connector) and compared as Python
sets.

    make bench-deletes                              # 10M rows: about 12 minutes on 2 shared cores
    BENCH_DELETE_ROWS=1000000 python -m bench.deletes
    BENCH_NO_DOCS=1 python -m bench.deletes         # print only

Environment: BENCH_DELETE_ROWS (default 10,000,000, the issue's size), BENCH_DELETES (comma-separated, default
0,100,100000), BENCH_NO_DOCS=1.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bench import ROOT
from bench.report import replace_section

BENCHMARKS_MD = ROOT / "docs" / "benchmarks.md"
MARKERS = ("<!-- deletes:start -->", "<!-- deletes:end -->")
STAMP = "2026-11-01T00:00:00+00:00"
SCHEDULED = {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
# The cases run with a guard of 20 % so every case's key reads are measured; a case over the default
# guard (1 %: 100,000 of 1M, not of 10M) runs once more with the default, which stops it from the
# per-bucket counts alone.
MEASURED_FRACTION = 0.2


@dataclass
class Side:
    statements: int = 0
    fetches: int = 0  # FETCH round trips of a server-side cursor (Aurora's stream)
    rows: int = 0
    seconds: float = 0.0


@dataclass
class Case:
    deletes: int
    fraction: float
    outcome: dict[str, Any] = field(default_factory=dict)
    aurora: Side = field(default_factory=Side)
    snowflake: Side = field(default_factory=Side)


class Counter:
    """Counts what the pass sends: the adapters' statement methods, wrapped while DeletePass.run runs."""

    def __init__(self) -> None:
        self.active = False
        self.sides = {"aurora": Side(), "snowflake": Side()}

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        from aurora_sync.adapters.postgres import Aurora
        from aurora_sync.adapters.snowflake import Snowflake
        from aurora_sync.exporter.deletes import DeletePass

        originals = (Aurora.run, Snowflake.query, DeletePass.run, Snowflake.stream)

        def counted(side: str, method: Any) -> Any:
            def wrapper(self: Any, sql: str, *args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                rows = method(self, sql, *args, **kwargs)
                if self_counter.active:
                    record = self_counter.sides[side]
                    verb = sql.split(None, 1)[0].upper()
                    if verb == "FETCH":  # a stream's round trip, not a statement of its own
                        record.fetches += 1
                    elif verb != "START":  # the stream's transaction (its ROLLBACK is not via run)
                        record.statements += 1
                    record.rows += len(rows)
                    record.seconds += time.perf_counter() - started
                return rows

            return wrapper

        @contextlib.contextmanager
        def streamed(self: Any, sql: str, action: str) -> Iterator[Iterator[tuple[Any, ...]]]:
            """Snowflake's stream: the statement and its rows; the seconds are its execution only,
            the fetches overlap the compare."""
            started = time.perf_counter()
            with originals[3](self, sql, action) as rows:
                record = self_counter.sides["snowflake"]
                record.statements += 1
                record.seconds += time.perf_counter() - started

                def counting() -> Iterator[tuple[Any, ...]]:
                    for row in rows:
                        record.rows += 1
                        yield row

                yield counting()

        def run_pass(self: Any, table: Any) -> Any:
            self_counter.active = True
            try:
                return originals[2](self, table)
            finally:
                self_counter.active = False

        self_counter = self
        Aurora.run = counted("aurora", originals[0])  # type: ignore[method-assign]
        Snowflake.query = counted("snowflake", originals[1])  # type: ignore[method-assign]
        DeletePass.run = run_pass  # type: ignore[method-assign]
        Snowflake.stream = streamed  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            Aurora.run, Snowflake.query, DeletePass.run, Snowflake.stream = originals  # type: ignore[method-assign]

    def take(self) -> dict[str, Side]:
        sides, self.sides = self.sides, {"aurora": Side(), "snowflake": Side()}
        return sides


def orders_entry(fraction: float) -> dict[str, Any]:
    from tests.support.pipeline import DEV_TABLES

    entry = json.loads(json.dumps(next(t for t in DEV_TABLES if t["table_name"] == "public.orders")))
    return {**entry, "lookback_seconds": 0, "delete_detection": "hard", "max_delete_fraction": fraction}


def admin_connection(pipeline: Any) -> Any:
    """The pipeline's admin connection without its 30 s read timeout: filling 10M rows (and reading
    them back for the baseline) outlasted it on a loaded box."""
    return pipeline.pg.connect(dbname=pipeline.db_name, timeout=3600)


def fill(pipeline: Any, rows: int) -> None:
    admin = admin_connection(pipeline)
    try:
        admin.run(
            "INSERT INTO public.orders (id, status, updated_at) "
            f"SELECT g, 'x', '{STAMP}'::timestamptz FROM generate_series(1, {int(rows)}) g"
        )
        admin.run("VACUUM ANALYZE public.orders")
    finally:
        admin.close()
    conn = pipeline.snow.connect(pipeline.snowflake_database, "FINAL")
    try:
        conn.cursor().execute(
            'INSERT INTO "FINAL"."ORDERS" ("ID", "STATUS", "UPDATED_AT") '
            f"SELECT SEQ8() + 1, 'x', '{STAMP}'::TIMESTAMP_TZ FROM TABLE(GENERATOR(ROWCOUNT => {int(rows)}))"
        )
    finally:
        conn.close()


def baseline(pipeline: Any) -> tuple[float, int]:
    """Every key of both sides to the client, compared as sets: what the buckets avoid."""
    started = time.perf_counter()
    admin = admin_connection(pipeline)
    try:
        aurora = {int(r[0]) for r in admin.run("SELECT id FROM public.orders")}
    finally:
        admin.close()
    conn = pipeline.snow.connect(pipeline.snowflake_database, "FINAL")
    try:
        final = {
            int(r[0]): r[1] for r in conn.cursor().execute('SELECT "ID", "UPDATED_AT" FROM "FINAL"."ORDERS"')
        }
    finally:
        conn.close()
    _gone = final.keys() - aurora
    return time.perf_counter() - started, len(aurora) + len(final)


def run_case(pipeline: Any, counter: Counter, rows: int, case: Case, rng: random.Random) -> None:
    pipeline.tables = [orders_entry(case.fraction)]
    pipeline.put_tables()
    ids = rng.sample(range(1, rows + 1), case.deletes)
    admin = admin_connection(pipeline)
    try:
        if ids:
            admin.run("DELETE FROM public.orders WHERE id = ANY(CAST(:ids AS bigint[]))", ids=ids)
        result = pipeline.run(SCHEDULED)
        if ids:
            admin.run(
                "INSERT INTO public.orders (id, status, updated_at) "
                f"SELECT unnest(CAST(:ids AS bigint[])), 'x', '{STAMP}'::timestamptz",
                ids=ids,
            )
    finally:
        admin.close()
    (orders,) = result["tables"]
    case.outcome = orders.get("deletes") or {}
    sides = counter.take()
    case.aurora, case.snowflake = sides["aurora"], sides["snowflake"]
    print(f"[bench.deletes] {case.deletes:,} deleted (guard {case.fraction}): {case.outcome}", flush=True)


def markdown(rows: int, cases: list[Case], baselines: list[float], machine: str, took: float) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    mean = sum(baselines) / len(baselines)
    lines = [
        MARKERS[0],
        "",
        f"Generated by `make bench` (`python -m bench.deletes`) on {when}; {rows:,} rows; {machine}; "
        f"total {took:.0f} s. Baseline (every key of both sides to the client, compared as sets): "
        f"{' s and '.join(f'{b:.2f}' for b in baselines)} s, mean {mean:.2f} s.",
        "",
        "| deleted in Aurora | guard | outcome | pass s | pass / baseline | buckets differing (key read) "
        "| Aurora statements + FETCHes (rows returned, s) | Snowflake statements (rows returned, s) |",
        "|---:|---:|---|---:|---:|---:|---|---|",
    ]
    for c in cases:
        o = c.outcome
        seconds = float(o.get("seconds", 0.0))
        lines.append(
            f"| {c.deletes:,} | {c.fraction:g} | {o.get('status')}: {o.get('deletes', 0):,} key(s), limit "
            f"{o.get('limit', 0):,} | {seconds:.2f} | **{seconds / mean:.2f}x** "
            f"| {o.get('differing', 0):,} of {o.get('buckets', 0):,} ({o.get('key_read') or '-'}) "
            f"| {c.aurora.statements} + {c.aurora.fetches} ({c.aurora.rows:,}, {c.aurora.seconds:.2f}) "
            f"| {c.snowflake.statements} ({c.snowflake.rows:,}, {c.snowflake.seconds:.2f}) |"
        )
    lines += ["", MARKERS[1]]
    return "\n".join(lines)


def main() -> int:
    from tests.support.pipeline import Pipeline
    from tests.support.stack import FakeSnowServer, LocalService, MotoServer, OpenBaoServer, PostgresServer

    rows = int(os.environ.get("BENCH_DELETE_ROWS", "10000000"))
    counts = [int(x) for x in os.environ.get("BENCH_DELETES", "0,100,100000").split(",")]
    servers: list[LocalService] = []
    started = time.perf_counter()
    try:
        for server_class in (PostgresServer, MotoServer, OpenBaoServer, FakeSnowServer):
            server = server_class()
            servers.append(server)
            server.start()
        pg, moto, bao, snow = servers
        pipeline = Pipeline(pg, moto, bao, snow, tables=[orders_entry(MEASURED_FRACTION)])
        fill(pipeline, rows)
        print(
            f"[bench.deletes] {rows:,} rows on both sides in {time.perf_counter() - started:.0f}s", flush=True
        )
        pipeline.run(SCHEDULED)  # the first run: connections, caches; not measured
        counter = Counter()
        rng = random.Random(15)
        cases = [Case(n, MEASURED_FRACTION) for n in counts]
        cases += [Case(n, 0.01) for n in counts if n > rows * 0.01]
        baselines = [baseline(pipeline)[0]]
        with counter.installed():
            counter.take()
            for case in cases:
                run_case(pipeline, counter, rows, case, rng)
        baselines.append(baseline(pipeline)[0])
        machine = f"nproc {os.cpu_count()}, load {os.getloadavg()[0]:.2f}, Python {platform.python_version()}"
        section = markdown(rows, cases, baselines, machine, time.perf_counter() - started)
        print(section)
        if not os.environ.get("BENCH_NO_DOCS"):
            replace_section(BENCHMARKS_MD, section, "", markers=MARKERS)
        return 0
    finally:
        for running in reversed(servers):
            with contextlib.suppress(Exception):
                running.stop()


if __name__ == "__main__":
    sys.exit(main())
