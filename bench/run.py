"""`make bench`: the copy_stream exporter against `psql | boto3` and a psycopg 3 variant, same run.

Starts its own PostgreSQL, moto, OpenBao and fakesnow (tests/support/stack.py), provisions one
isolated pipeline (tests/support/pipeline.py), fills `public.orders` server-side and, for each size,
measures the three variants on the same query text, alternating their order between repetitions.
Prints a table and rewrites the generated section of docs/benchmarks.md.

    make bench                                  # 1M and 5M rows
    BENCH_SIZES=100000 make bench               # quick run
    python -m bench.run --profile 200000        # cProfile of the exporter and psycopg children

Environment: BENCH_SIZES (comma-separated row counts), BENCH_REPS (default 3), BENCH_LARGE_REPS
(repetitions for sizes above 2M; default BENCH_REPS), BENCH_WIDTHS (narrow, wide or both, the
default), BENCH_NO_DOCS=1 (print only).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import pstats
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import ROOT
from bench.data import RANGE_END, RANGE_START, SHAPES, Shape, fill, recreate
from bench.measure import (
    ChildFailed,
    Run,
    Sample,
    child_env,
    process_cpu_s,
    run_baseline,
    run_python_child,
)
from bench.report import (
    LABELS,
    VARIANTS,
    Width,
    goal_lines,
    markdown_section,
    replace_section,
    summarize,
    text_table,
)

DEFAULT_SIZES = (1_000_000, 5_000_000)
LARGE = 2_000_000
SETTLE_S = 0.3
BENCHMARKS_MD = ROOT / "docs" / "benchmarks.md"

BENCHMARKS_HEADER = """# Benchmarks: the copy_stream export path

`make bench` (`python -m bench.run`) measures how fast the exporter streams a table out of PostgreSQL
into S3 in `EXPORT_MODE=copy_stream`, and how much memory it needs, against a baseline measured in the
same run on the same machine. Absolute numbers on a shared 2-core box are noisy and mean little on
their own; the ratios to the same-run baseline are the figures to compare across runs.

How:

- The local stack of DESIGN.md section 7 (PostgreSQL from Debian, moto server for S3/SSM/SNS, OpenBao,
  fakesnow), one isolated pipeline provisioned by `tests/support/pipeline.py`, started and stopped by
  the bench itself.
- Two tables, generated server-side (`INSERT ... SELECT ... FROM generate_series`), each measured on
  its own (`BENCH_WIDTHS`): **wide**, `public.orders`, 11 columns (bigint, text, numeric(12,2),
  boolean, jsonb, timestamptz), about 280 bytes per CSV row, some NULLs, some fields that need CSV
  quoting; **narrow**, `public.events`, 7 columns (bigint, text, numeric(12,2), boolean,
  timestamptz), about 95 bytes per CSV row (issue 16's shape: the cost per row, one CopyData
  message each, weighs most there). The heap is vacuumed and analysed before measuring.
- All three variants run the same query text, built by `aurora_sync.exporter.query.build_export_query`
  for a manual window that covers every row, as `COPY (...) TO STDOUT WITH (FORMAT csv, HEADER)`:
  1. **exporter**: a child process (`python -m bench.export_once`) that sets the Lambda environment
     and calls `aurora_sync.exporter.run.run_exporter` with a manual time-range payload and a fake
     Lambda context: settings, SSM, Vault, pg8000 connect, schema check, COPY read in blocks
     (`aurora_sync.adapters.pg_copy`) and streamed into `MultipartWriter` (default part size),
     manifest. Timed around the `run_exporter` call.
  2. **baseline**: `psql -c "COPY (...) TO STDOUT ..." |
     python -c "boto3 ... upload_fileobj(sys.stdin.buffer, ...)"` (boto3's managed transfer: 8 MiB
     parts, up to 10 upload threads). Timed spawn-to-exit.
  3. **psycopg 3**: a child process (`python -m bench.psycopg_once`) that streams `cursor.copy(...)`
     blocks into the same `MultipartWriter` with the same part size. Timed from connect to the
     completed upload.
- Each variant runs N times per size (N in the table), the order rotated between repetitions; the
  figures are medians. The headline ratio is the exporter's rows/s over its `run_exporter` call
  (what a warm Lambda pays) against the baseline's spawn-to-exit rows/s (psql and the uploader start
  in parallel, so the baseline has no separate start-up to leave out). The "spawn-to-exit" ratios
  time every variant from process spawn to exit, interpreter start-up and imports included (a cold
  start's extra ~0.8 s for the exporter).
- Peak RSS is `VmHWM` from `/proc/<pid>/status`: read by each Python process (exporter child, psycopg
  child, baseline uploader) as its last act, and for psql polled by the runner while psql streams.
  `ru_maxrss` (`os.wait4()` / `getrusage(RUSAGE_CHILDREN)`) is not used: Linux folds the high-water
  mark of the pre-exec address space into it, so a child forked from the ~150 MiB runner reports at
  least the runner's peak (every variant, and `/bin/true`, read 154 MiB). The goal compares the
  exporter's peak with 128 MiB; a Lambda's own runtime adds a few MiB on top.
- CPU seconds per variant: the client's from `wait4()` (exact per child, psql + uploader for the
  baseline), PostgreSQL's as the growth of the postmaster's reaped-children CPU (the backend that ran
  the COPY), moto's as the growth of its process CPU. On two cores wall time cannot drop below half
  their sum, which is why a client's own CPU matters here even though PostgreSQL bounds the read side.
  Reported per million rows: the exporter's whole process (start-up and imports included, ~0.8 s
  whatever the size) and, in brackets, its `run_exporter` call alone (`time.process_time()` in the
  child: every thread, the part uploader's included), which is what a warm Lambda pays.
- The first repetition of each size is checked: every variant's object has the same size and the
  same lines (a multiset digest: the sum of each line's SHA-256 modulo 2^256; since the export query
  renders its temporal columns with `to_char`, PostgreSQL runs it with parallel workers and a Gather
  interleaves their rows differently on every run, psql's own included) and holds N rows (line
  count minus the header; no generated field contains a newline), and the exporter's manifest names
  N rows and the same query SHA-256.
- S3 is moto on loopback, a Python server on the same two cores as PostgreSQL and the client. Alone
  it spends 2.0-2.9 CPU-s per 267 MB whatever the upload pattern (part size, threads), and its
  `CompleteMultipartUpload` copies the whole object, which every variant pays; under contention its
  CPU per run varies (see the CPU column). It caps all three variants, so the ratios understate
  differences between the clients.
"""


# --------------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------------


class Bench:
    """One table shape (narrow or wide) on the shared stack: its query, event and loaded rows."""

    def __init__(self, pg: Any, pipeline: Any, workdir: Path, shape: Shape) -> None:
        from aurora_sync.adapters.s3 import MIB
        from aurora_sync.exporter.query import build_export_query
        from aurora_sync.settings import load_exporter_settings
        from aurora_sync.tables import TableConfig

        self.pg = pg
        self.shape = shape
        self.tag = shape.width  # prefixes every problem this shape reports
        self.pipeline = pipeline
        self.workdir = workdir
        self.s3 = pipeline.s3
        self.bucket: str = pipeline.bucket
        settings = load_exporter_settings(pipeline.env())
        self.part_bytes = settings.multipart_chunk_mib * MIB
        self.part_mib = settings.multipart_chunk_mib
        self.query = build_export_query(TableConfig.model_validate(shape.config), RANGE_START, RANGE_END)
        self.env = child_env(workdir, pipeline.moto.env)
        self.event = {
            "tables": [shape.table],
            "start": RANGE_START.isoformat().replace("+00:00", "Z"),
            "end": RANGE_END.isoformat().replace("+00:00", "Z"),
        }
        self.rows_loaded = 0
        self.checks: dict[int, dict[str, tuple[int, str, int]]] = {}
        self.problems: list[str] = []

    # -- data --------------------------------------------------------------------------------------
    def load(self, size: int) -> float:
        started = time.perf_counter()
        # Filling and vacuuming millions of rows on a loaded box outlasts the default 30 s read timeout.
        admin = self.pg.connect(dbname=self.pipeline.db_name, timeout=3600)
        try:
            if self.rows_loaded == 0:
                recreate(admin, self.pipeline.db_user, self.shape)
            elif size < self.rows_loaded:
                admin.run(f"TRUNCATE {self.shape.table}")
                self.rows_loaded = 0
            fill(admin, self.rows_loaded, size, shape=self.shape)
        finally:
            admin.close()
        self.rows_loaded = size
        return time.perf_counter() - started

    # -- the three variants ------------------------------------------------------------------------
    def _servers_cpu(self) -> dict[str, float]:
        # A backend exits (and is reaped into the postmaster's CPU) a moment after its client leaves.
        time.sleep(SETTLE_S)
        return {"postgres": process_cpu_s(self.pg.pid), "moto": process_cpu_s(self.pipeline.moto.pid)}

    def _sample(
        self, variant: str, size: int, rep: int, run: Run, *, key: str, before: dict[str, float]
    ) -> Sample:
        after = self._servers_cpu()
        return Sample(
            variant,
            size,
            rep,
            run.seconds,
            int(run.result.get("rows", -1)),
            key,
            run.peak_rss_kib,
            in_call_s=float(run.result["seconds"]) if "seconds" in run.result else None,
            bytes=self._size(key),
            cpu_s={
                "client": run.cpu_s,
                **{k: after[k] - before[k] for k in after},
                **(
                    {"client_in_call": float(run.result["cpu_seconds"])}
                    if "cpu_seconds" in run.result
                    else {}
                ),
            },
        )

    def exporter(
        self,
        size: int,
        rep: int,
        profile: str | None = None,
        module: str = "bench.export_once",
        env: dict[str, str] | None = None,
    ) -> Sample:
        """`module` and `env` let a scratch experiment run a patched child the same way."""
        spec = {"env": self.pipeline.env(**(env or {})), "event": self.event, "profile": profile}
        before = self._servers_cpu()
        run = run_python_child(module, spec, self.workdir, f"exporter-{size}-{rep}", self.env)
        result = run.result
        if result["status"] != "exported" or len(result["keys"]) != 1:
            raise ChildFailed(f"exporter did not export one file: {result}")
        sample = self._sample("exporter", size, rep, run, key=result["keys"][0], before=before)
        body = json.loads(self.pipeline.read(result["manifest"]))
        if body["query_sha256"] != self.query.sha256:
            self.problems.append(
                f"{self.tag} {size:,} rows: the exporter ran a different query "
                f"(sha256 {body['query_sha256']} vs {self.query.sha256})"
            )
        sample.extra = {"manifest": result["manifest"], "manifest_rows": body.get("rows")}
        return sample

    def baseline(self, size: int, rep: int) -> Sample:
        key = f"bench/baseline/{self.shape.width}/{size}/{rep}.csv"
        pg = self.pg
        before = self._servers_cpu()
        run = run_baseline(
            pg.bin_dir / "psql",
            ["-h", pg.host, "-p", str(pg.port), "-U", pg.user, "-d", self.pipeline.db_name],
            password=pg.password,
            query=self.query.text,
            bucket=self.bucket,
            key=key,
            workdir=self.workdir,
            name=f"baseline-{size}-{rep}",
            env=self.env,
        )
        sample = self._sample("baseline", size, rep, run, key=key, before=before)
        sample.extra["psql_peak_rss_kib"] = run.extra_rss_kib
        return sample

    def psycopg(self, size: int, rep: int, profile: str | None = None) -> Sample:
        key = f"bench/psycopg/{self.shape.width}/{size}/{rep}.csv"
        pg = self.pg
        spec = {
            "conninfo": {
                "host": pg.host,
                "port": pg.port,
                "user": pg.user,
                "password": pg.password,
                "dbname": self.pipeline.db_name,
            },
            "query": self.query.text,
            "bucket": self.bucket,
            "key": key,
            "part_bytes": self.part_bytes,
            "profile": profile,
        }
        before = self._servers_cpu()
        run = run_python_child("bench.psycopg_once", spec, self.workdir, f"psycopg-{size}-{rep}", self.env)
        return self._sample("psycopg", size, rep, run, key=key, before=before)

    def measure(self, variant: str, size: int, rep: int) -> Sample:
        if variant == "exporter":
            return self.exporter(size, rep)
        if variant == "baseline":
            return self.baseline(size, rep)
        return self.psycopg(size, rep)

    # -- checks and cleanup ------------------------------------------------------------------------
    def _size(self, key: str) -> int:
        return int(self.s3.head_object(Bucket=self.bucket, Key=key)["ContentLength"])

    def verify(self, sample: Sample) -> None:
        """Hash and count the object once per size and variant; later repetitions compare sizes."""
        seen = self.checks.setdefault(sample.size, {})
        if sample.variant in seen:
            if sample.bytes != seen[sample.variant][0]:
                self.problems.append(
                    f"{self.tag} {sample.size:,} rows, {sample.variant} rep {sample.rep}: "
                    f"{sample.bytes} bytes, first repetition had {seen[sample.variant][0]}"
                )
            return
        body = self.s3.get_object(Bucket=self.bucket, Key=sample.key)["Body"]
        digest, lines = rows_digest(body.iter_chunks(4 * 1024 * 1024))
        rows = lines - 1
        seen[sample.variant] = (sample.bytes, digest, rows)
        if rows != sample.size:
            self.problems.append(
                f"{self.tag} {sample.size:,} rows: {sample.variant} object holds {rows} rows"
            )
        if sample.variant != "baseline" and sample.rows != sample.size:
            self.problems.append(
                f"{self.tag} {sample.size:,} rows: {sample.variant} reported {sample.rows} rows"
            )
        if sample.variant == "exporter" and sample.extra.get("manifest_rows") != sample.size:
            self.problems.append(
                f"{self.tag} {sample.size:,} rows: manifest says {sample.extra.get('manifest_rows')} rows"
            )

    def verification_lines(self, sizes: list[int]) -> list[str]:
        lines = []
        for size in sizes:
            seen = self.checks.get(size, {})
            if set(seen) != set(VARIANTS):
                lines.append(f"{size:,} rows: not every variant was checked")
                continue
            sizes_set = {v[0] for v in seen.values()}
            hashes = {v[1] for v in seen.values()}
            counts = {v[2] for v in seen.values()}
            same = len(sizes_set) == 1 and len(hashes) == 1
            lines.append(
                f"{size:,} rows: objects {'hold the same lines' if same else 'DIFFER'} across the three "
                f"variants ({', '.join(f'{v} {seen[v][0]:,} B' for v in VARIANTS)}; line-multiset sha256 "
                f"{'/'.join(sorted(h[:12] for h in hashes))}); rows {sorted(counts)}"
                f"{'' if counts == {size} else ' MISMATCH'}"
            )
            if not same:
                self.problems.append(f"{self.tag} {size:,} rows: the three objects differ")
        return lines

    def discard(self, sample: Sample) -> None:
        """Free moto's memory: each object is up to ~1.4 GB."""
        keys = [sample.key]
        if "manifest" in sample.extra:
            keys.append(sample.extra["manifest"])
        self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys]})


# --------------------------------------------------------------------------------------------------
# Machine description
# --------------------------------------------------------------------------------------------------


def rows_digest(chunks: Iterable[bytes]) -> tuple[str, int]:
    """(digest of the object's lines as a multiset, line count). PostgreSQL may run the export query
    with parallel workers (the explicit temporal rendering makes it costly enough), and a Gather
    interleaves their rows differently on every run, psql's included; the rows, not their order,
    must be the same. The digest is the sum of each line's SHA-256 modulo 2**256 (no field of the
    generated data holds a newline)."""
    total, lines, rest = 0, 0, b""
    for chunk in chunks:
        parts = (rest + chunk).split(b"\n")
        rest = parts.pop()
        for line in parts:
            total = (total + int.from_bytes(hashlib.sha256(line).digest(), "big")) % (1 << 256)
        lines += len(parts)
    if rest:
        total = (total + int.from_bytes(hashlib.sha256(rest).digest(), "big")) % (1 << 256)
        lines += 1
    return f"{total:064x}", lines


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info(pg: Any) -> dict[str, str]:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    admin = pg.connect()
    try:
        pg_version = str(admin.run("SHOW server_version")[0][0])
    finally:
        admin.close()
    import psycopg

    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(len(os.sched_getaffinity(0))),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "CPU": cpu,
        "RAM": mem,
        "Python": platform.python_version(),
        "PostgreSQL": pg_version,
        "pg8000": _version("pg8000"),
        "psycopg": f"{_version('psycopg')} ({psycopg.pq.__impl__} libpq wrapper)",
        "boto3": _version("boto3"),
        "moto": _version("moto"),
    }


# --------------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------------


def _sizes(arg: str | None) -> list[int]:
    raw = arg or os.environ.get("BENCH_SIZES")
    if not raw:
        return list(DEFAULT_SIZES)
    return sorted({int(s.strip().replace("_", "")) for s in raw.split(",") if s.strip()})


def _widths(arg: str | None) -> list[str]:
    raw = arg or os.environ.get("BENCH_WIDTHS") or ",".join(SHAPES)
    widths = [w.strip() for w in raw.split(",") if w.strip()]
    unknown = sorted(set(widths) - set(SHAPES))
    if unknown:
        raise SystemExit(
            f"BENCH_WIDTHS/--widths: unknown width(s) {', '.join(unknown)}; known: {', '.join(SHAPES)}"
        )
    return widths


def _reps(size: int, reps: int, large_reps: int) -> int:
    return large_reps if size > LARGE else reps


def run_sizes(bench: Bench, sizes: list[int], reps: int, large_reps: int) -> list[Sample]:
    samples: list[Sample] = []
    for size in sizes:
        took = bench.load(size)
        print(f"[bench] {bench.shape.width} {size:,} rows loaded in {took:.1f}s", flush=True)
        for rep in range(_reps(size, reps, large_reps)):
            order = VARIANTS[rep % 3 :] + VARIANTS[: rep % 3]
            for variant in order:
                sample = bench.measure(variant, size, rep)
                bench.verify(sample)
                bench.discard(sample)
                samples.append(sample)
                cpu = ", ".join(f"{k} {v:.1f}" for k, v in sample.cpu_s.items())
                print(
                    f"[bench] {bench.tag} {size:,} rows rep {rep + 1} {LABELS[variant]}: "
                    f"{sample.seconds:.2f}s (spawn-to-exit {sample.process_s:.2f}s), "
                    f"peak RSS {sample.peak_rss_kib / 1024:.0f} MiB, CPU s: {cpu}",
                    flush=True,
                )
    return samples


def write_docs(
    benches: list[Bench], samples: dict[str, list[Sample]], sizes: list[int], machine: dict[str, str]
) -> None:
    groups = [
        Width(
            b.shape.width,
            b.shape.table,
            summarize(samples[b.shape.width]),
            sizes,
            b.verification_lines(sizes),
        )
        for b in benches
    ]
    problems = [p for b in benches for p in b.problems]
    fewer = any(
        g.summaries[(s, "exporter")].reps < g.summaries[(sizes[0], "exporter")].reps
        for g in groups
        for s in sizes
    )
    notes = [
        f"part size {benches[0].part_mib} MiB (ExporterSettings.multipart_chunk_mib default); "
        "repetitions per size as in the table"
        + (" (fewer for the largest size to keep `make bench` short)" if fewer else ""),
        *problems,
    ]
    for group in groups:
        print()
        print(text_table(group))
    print()
    for group in groups:
        for line in group.verification:
            print(f"[check] {group.width} {line}")
    for problem in problems:
        print(f"[problem] {problem}")
    for group in groups:
        for line in goal_lines(group):
            print(f"[goal] {line}")
    if os.environ.get("BENCH_NO_DOCS") == "1":
        return
    section = markdown_section(groups, machine, notes)
    replace_section(BENCHMARKS_MD, section, BENCHMARKS_HEADER)
    print(f"[bench] wrote {BENCHMARKS_MD.relative_to(ROOT)}")


def profile(bench: Bench, rows: int, outdir: Path) -> None:
    """cProfile the exporter and the psycopg child on `rows` rows; print where the time goes."""
    bench.load(rows)
    for variant in ("exporter", "psycopg"):
        path = outdir / f"{variant}-{rows}.prof"
        sample = (
            bench.exporter(rows, 0, profile=str(path))
            if variant == "exporter"
            else bench.psycopg(rows, 0, profile=str(path))
        )
        bench.discard(sample)
        print(f"\n===== {LABELS[variant]}: {rows:,} rows in {sample.seconds:.2f}s under cProfile ({path})")
        stats = pstats.Stats(str(path))
        stats.sort_stats("tottime").print_stats(18)
        stats.sort_stats("cumulative").print_stats(25)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", help="comma-separated row counts (default: BENCH_SIZES or 1M,5M)")
    parser.add_argument("--widths", help="comma-separated table widths: narrow, wide (default: both)")
    parser.add_argument("--reps", type=int, default=int(os.environ.get("BENCH_REPS", "3")))
    parser.add_argument("--large-reps", type=int, default=None, help=f"repetitions for sizes > {LARGE:,}")
    parser.add_argument("--profile", type=int, metavar="ROWS", help="profile the exporter on ROWS rows")
    args = parser.parse_args(argv)
    sizes = _sizes(args.sizes)
    widths = _widths(args.widths)
    large_reps = args.large_reps or int(os.environ.get("BENCH_LARGE_REPS", str(args.reps)))

    from tests.support.pipeline import Pipeline
    from tests.support.stack import (
        FakeSnowServer,
        LocalService,
        MotoServer,
        OpenBaoServer,
        PostgresServer,
        moto_only,
    )

    def moto() -> MotoServer:  # the figures include moto's own CPU, read from its process
        return moto_only("the bench (it measures the moto server's CPU)", MotoServer)

    workdir = Path(tempfile.mkdtemp(prefix="aurora-sync-bench-"))
    servers: list[LocalService] = []
    ok = False
    try:
        started = time.perf_counter()
        for server_class in (PostgresServer, moto, OpenBaoServer, FakeSnowServer):
            server = server_class()
            servers.append(server)
            server.start()
        pg, moto, bao, snow = servers
        tables = [shape.config for shape in SHAPES.values()]
        pipeline = Pipeline(pg, moto, bao, snow, tables=tables, export_mode="copy_stream")
        benches = [Bench(pg, pipeline, workdir, SHAPES[width]) for width in widths]
        print(f"[bench] stack up in {time.perf_counter() - started:.1f}s; work dir {workdir}", flush=True)
        if args.profile:
            for bench in benches:
                profile(bench, args.profile, workdir)
            ok = True
            print(f"[bench] profiles kept in {workdir}")
            return 0
        machine = machine_info(pg)
        samples = {b.shape.width: run_sizes(b, sizes, args.reps, large_reps) for b in benches}
        write_docs(benches, samples, sizes, machine)
        print(f"[bench] total {time.perf_counter() - started:.0f}s")
        ok = not any(b.problems for b in benches)
        return 0 if ok else 1
    finally:
        for running in reversed(servers):
            with contextlib.suppress(Exception):
                running.stop()
        if ok and not args.profile:
            shutil.rmtree(workdir, ignore_errors=True)
        elif not ok:
            print(f"[bench] logs kept in {workdir}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
