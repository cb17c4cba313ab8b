"""`make bench` (part): a full refresh in key ranges against the one-window full export, same run.

Starts its own local stack (PostgreSQL, moto, OpenBao, fakesnow), fills the benchmark's `public.orders`
(bench/data.py) server-side, then exports every row twice, in process and in `copy_stream` mode:

1. **baseline**: the one-window full refresh (the `full_refresh` override and an incremental run):
   one COPY of the whole table, as before issue 15 §2.
2. **ranges**: the refresh in key ranges: the Plan action (`{"refresh": ...}`: estimate, key sample),
   then each range item in turn (the state machine's Map at MaxConcurrency 1).

Every Aurora statement's wall time is recorded around `aurora_sync.adapters.postgres.Aurora.run`
(the adapter every statement goes through), so "longest statement" is what statement_timeout would
have to allow. Reported: rows/s of each and the ratio ranges / baseline, the longest statement of each
and their ratio, rows exported by each (they must equal the table's rows). Rewrites the "Full refresh
in key ranges" section of docs/benchmarks.md.

    BENCH_REFRESH_ROWS=2000000 BENCH_REFRESH_RANGES=20 python -m bench.refresh
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import ROOT
from bench.data import TABLE, TABLE_CONFIG, fill, recreate

BENCHMARKS_MD = ROOT / "docs" / "benchmarks.md"
SECTION = "## Full refresh in key ranges (issue 15 §2)"


@dataclass
class Statements:
    """Wall time of every Aurora statement run while `recording`."""

    seconds: list[tuple[float, str]] = field(default_factory=list)

    @contextlib.contextmanager
    def recording(self) -> Any:
        from aurora_sync.adapters import postgres

        original = postgres.Aurora.run
        found = self.seconds

        def timed(self: Any, sql: str, action: str, stream: Any = None, **params: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(self, sql, action, stream, **params)
            finally:
                found.append((time.perf_counter() - started, action))

        postgres.Aurora.run = timed  # type: ignore[method-assign]
        try:
            yield self
        finally:
            postgres.Aurora.run = original  # type: ignore[method-assign]

    def longest(self) -> tuple[float, str]:
        return max(self.seconds, default=(0.0, "-"))


@dataclass
class Result:
    label: str
    seconds: float
    rows: int
    statements: int
    longest: tuple[float, str]
    ranges: int = 1

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def baseline(pipeline: Any) -> Result:
    """The override's full refresh: one incremental run exporting the whole table in one COPY."""
    override = f"{pipeline.overrides_path}{TABLE}"
    pipeline.ssm.put_parameter(Name=override, Value='{"full_refresh": true}', Type="String", Overwrite=True)
    statements = Statements()
    with statements.recording():
        started = time.perf_counter()
        result = pipeline.run({"tables": [TABLE]})
        seconds = time.perf_counter() - started
    [table] = result["tables"]
    assert table["status"] == "exported", table
    rows, count = int(table["rows"]), len(statements.seconds)
    return Result("one window (override)", seconds, rows, count, statements.longest())


def ranges(pipeline: Any, rows_per_range: int) -> Result:
    """Plan, then every range in turn, as the Map runs them one at a time."""
    statements = Statements()
    rows = 0
    with statements.recording():
        started = time.perf_counter()
        planned = pipeline.run({"action": "plan", "refresh": TABLE, "rows_per_range": rows_per_range})
        for item in planned["items"]:
            [table] = pipeline.run(item)["tables"]
            assert table["status"] in {"exported", "empty"}, table
            rows += int(table["rows"])
        seconds = time.perf_counter() - started
    count = len(planned["items"])
    return Result(f"{count} key ranges", seconds, rows, len(statements.seconds), statements.longest(), count)


ISSUE_ROWS = 20_000_000


def markdown(size: int, base: Result, ranged: Result, load_s: float) -> str:
    def row(r: Result) -> str:
        longest, action = r.longest
        return (
            f"| {r.label} | {r.seconds:.1f} | {r.rows:,} | {r.rows_per_s:,.0f} | {r.statements} | "
            f"{longest:.2f} ({action}) |"
        )

    speed = ranged.rows_per_s / base.rows_per_s if base.rows_per_s else 0.0
    bound = ranged.longest[0] / base.longest[0] if base.longest[0] else 0.0
    return f"""{SECTION}

`python -m bench.refresh` (part of `make bench`): {size:,} rows of the benchmark's `public.orders`
(filled in {load_s:.0f} s), exported in `copy_stream` mode in process, first as the override's one
window (the baseline, same run), then as a refresh in key ranges (the Plan action, then each range in
turn: the Map at MaxConcurrency 1). "Longest statement" is the longest Aurora statement's wall time,
timed around the Aurora adapter's `run`: what `statement_timeout` (`REFRESH_STATEMENT_SECONDS`) must
allow.

| export | seconds | rows | rows/s | Aurora statements | longest statement, s |
|---|---|---|---|---|---|
{row(base)}
{row(ranged)}

Ranges against the same-run baseline: **{speed:.2f}x** the rows/s, the longest statement **{bound:.2f}x**
as long. Both exported every row once ({base.rows:,} and {ranged.rows:,}). The ranges pay a plan (the
estimate, the key sample) and, per range, the Lambda's per-invocation work (settings, credentials,
schema check, a manifest and a checkpoint); in the state machine they run `max_concurrency` at a time,
which this in-process run does not show.{_size_note(size)}
"""


def _size_note(size: int) -> str:
    """The default run is 2M rows (a few minutes inside `make bench`); the issue's 20M is
    `BENCH_REFRESH_ROWS=20000000 python -m bench.refresh` (about 7 minutes alone on 2 cores)."""
    if size >= ISSUE_ROWS:
        return ""
    return (
        f" This is the default {size:,} rows; the issue's {ISSUE_ROWS:,} run with "
        f"`BENCH_REFRESH_ROWS={ISSUE_ROWS} python -m bench.refresh`."
    )


def write_docs(text: str) -> None:
    doc = BENCHMARKS_MD.read_text()
    start = doc.find(SECTION)
    if start < 0:
        doc = doc.rstrip("\n") + "\n\n" + text
    else:
        following = doc.find("\n## ", start + len(SECTION))
        doc = doc[:start] + text + ("" if following < 0 else doc[following:])
    BENCHMARKS_MD.write_text(doc)


def main() -> int:
    size = int(os.environ.get("BENCH_REFRESH_ROWS", "2000000"))
    count = int(os.environ.get("BENCH_REFRESH_RANGES", "20"))

    from tests.support.pipeline import Pipeline
    from tests.support.stack import FakeSnowServer, LocalService, MotoServer, OpenBaoServer, PostgresServer

    servers: list[LocalService] = []
    try:
        for server_class in (PostgresServer, MotoServer, OpenBaoServer, FakeSnowServer):
            server = server_class()
            servers.append(server)
            server.start()
        pg, moto, bao, snow = servers
        pipeline = Pipeline(pg, moto, bao, snow, tables=[dict(TABLE_CONFIG)], export_mode="copy_stream")
        # Filling, indexing and vacuuming tens of millions of rows: no 30 s socket timeout.
        admin = pg.connect(dbname=pipeline.db_name, timeout=3600)
        started = time.perf_counter()
        try:
            recreate(admin, pipeline.db_user)
            fill(admin, 0, size, in_window=False)
        finally:
            admin.close()
        load_s = time.perf_counter() - started
        print(f"[bench.refresh] {size:,} rows in {load_s:.0f}s", flush=True)
        base = baseline(pipeline)
        print(f"[bench.refresh] baseline {base}", flush=True)
        ranged = ranges(pipeline, max(10, -(-size // count)))
        print(f"[bench.refresh] ranges {ranged}", flush=True)
        ok = base.rows == ranged.rows == size
        text = markdown(size, base, ranged, load_s)
        print(text)
        if os.environ.get("BENCH_NO_DOCS") != "1":
            write_docs(text)
        return 0 if ok else 1
    finally:
        for running in reversed(servers):
            with contextlib.suppress(Exception):
                running.stop()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
