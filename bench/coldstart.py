"""`make bench` (cold-start step): import time of each handler from the built artifacts, fresh interpreter.

    python -m bench.coldstart          # also `make bench-coldstart`; BENCH_COLDSTART_REPS (default 9)

For every lambdas/<name>/handler.py: builds the layer and the function zips into a scratch directory
(layers/build.py, wheel cache warm after the first run), unpacks them like Lambda does (layers/probe.py)
and times `import handler` in a fresh `python -I -S -B` with Lambda's variables set, against a same-run
baseline: the same interpreter running `pass`. Two variants, interleaved repetition by repetition:
the artifacts as built (byte-compiled .pyc shipped) and the same files with every __pycache__ removed,
which is what Lambda would pay if the build did not ship .pyc (it cannot write them: /opt and /var/task
are read-only). One extra run with `-X importtime` names the top-level imports that cost the most.
Writes its own section of docs/benchmarks.md (between the coldstart markers) unless BENCH_NO_DOCS=1.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import ROOT
from bench.report import replace_section
from layers import build as layer_build
from layers import probe as layer_probe

BENCHMARKS_MD = ROOT / "docs" / "benchmarks.md"
MARKERS = ("<!-- coldstart:start -->", "<!-- coldstart:end -->")
HOST_ARCH = {"x86_64": "x86_64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
IMPORTTIME = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|\s*(\S+)$")
TOP_IMPORTS = 8


@dataclass
class Figures:
    """Per function: milliseconds of each repetition."""

    function: str
    baseline_ms: list[float] = field(default_factory=list)
    import_ms: list[float] = field(default_factory=list)
    process_ms: list[float] = field(default_factory=list)
    no_pyc_import_ms: list[float] = field(default_factory=list)
    no_pyc_process_ms: list[float] = field(default_factory=list)
    top_imports: list[tuple[str, float]] = field(default_factory=list)
    modules: int = 0


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _range(values: list[float]) -> str:
    return f"{_median(values):.0f} ({min(values):.0f}-{max(values):.0f})"


def strip_pyc(deployment: layer_probe.Deployment) -> None:
    for root in (deployment.task, deployment.layer):
        for cache in sorted(root.rglob("__pycache__"), reverse=True):
            shutil.rmtree(cache)


def top_imports(deployment: layer_probe.Deployment, target: layer_build.Target) -> list[tuple[str, float]]:
    """`import handler` time per top-level package (self ms summed, -X importtime), costliest first.

    Self times add up to the whole import without double counting, so the list reads as "where the
    cold start goes": which distribution a lazy import would save.
    """
    code = f"import sys; sys.path[:0] = {json.dumps(deployment.path)}; import handler"
    done = subprocess.run(
        [str(layer_probe.target_python(target)), "-I", "-S", "-B", "-X", "importtime", "-c", code],
        env=layer_probe.lambda_env(deployment, target),
        cwd=deployment.task,
        capture_output=True,
        text=True,
        check=True,
    )
    totals: dict[str, float] = {}
    for line in done.stderr.splitlines():
        match = IMPORTTIME.match(line)
        if match:
            package = match.group(3).split(".")[0]
            totals[package] = totals.get(package, 0.0) + int(match.group(1)) / 1000
    return sorted(totals.items(), key=lambda item: -item[1])[:TOP_IMPORTS]


def measure_function(
    function: str, artifacts: Path, workdir: Path, standin: Path, *, target: layer_build.Target, reps: int
) -> Figures:
    shipped = layer_probe.unpack(function, artifacts, workdir / "shipped", standin)
    bare = layer_probe.unpack(function, artifacts, workdir / "no-pyc", standin)
    strip_pyc(bare)
    figures = Figures(function)
    layer_probe.probe(shipped, target, [], check=False)  # one warm-up: the page cache, not the interpreter
    for _ in range(reps):
        figures.baseline_ms.append(layer_probe.baseline_wall(shipped, target) * 1000)
        result = layer_probe.probe(shipped, target, [], check=False)
        figures.import_ms.append(result["import_s"] * 1000)
        figures.process_ms.append(result["wall_s"] * 1000)
        figures.modules = result["modules"]
        result = layer_probe.probe(bare, target, [], check=False)
        figures.no_pyc_import_ms.append(result["import_s"] * 1000)
        figures.no_pyc_process_ms.append(result["wall_s"] * 1000)
    figures.top_imports = top_imports(shipped, target)
    return figures


def markdown(
    figures: list[Figures], manifest: dict[str, object], target: layer_build.Target, reps: int
) -> str:
    layer = manifest["layer"]
    functions = manifest["functions"]
    assert isinstance(layer, dict) and isinstance(functions, dict)
    mib = layer_build.MIB
    out = [
        MARKERS[0],
        "",
        "## Cold start: importing each handler from the built artifacts",
        "",
        f"Generated by `make bench` (`python -m bench.coldstart`) on {datetime.now(UTC):%Y-%m-%d %H:%M UTC}; "
        f"{target.runtime} {target.architecture}, Python {platform.python_version()}, "
        f"nproc {len(os.sched_getaffinity(0))}, load average {os.getloadavg()[0]:.2f}. Median of {reps} "
        "repetitions (min-max), variants interleaved. How: bench/coldstart.py docstring.",
        "",
        "| function | baseline `pass` ms | `import handler` ms | process ms | process / baseline "
        "| without shipped .pyc: import ms | .pyc speed-up |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for f in figures:
        out.append(
            f"| {f.function} | {_range(f.baseline_ms)} | **{_range(f.import_ms)}** | {_range(f.process_ms)} "
            f"| {_median(f.process_ms) / _median(f.baseline_ms):.0f}x | {_range(f.no_pyc_import_ms)} "
            f"| {_median(f.no_pyc_import_ms) / _median(f.import_ms):.1f}x |"
        )
    out += [
        "",
        "Where `import handler` spends its time, by top-level package "
        "(self ms summed, one `-X importtime` run):",
        "",
    ]
    for f in figures:
        tops = ", ".join(f"`{name}` {ms:.0f}" for name, ms in f.top_imports)
        out.append(f"- {f.function} ({f.modules} modules loaded): {tops}")
    sizes = [
        f"layer.zip {layer['zipped_bytes'] / mib:.1f} MiB zipped, {layer['unzipped_bytes'] / mib:.1f} MiB"
    ]
    for name, item in functions.items():
        sizes.append(
            f"{name}.zip {item['zipped_bytes'] / mib:.2f} MiB zipped, {item['unzipped_bytes'] / mib:.2f} MiB"
        )
    worst = manifest["largest_deployment_unzipped_bytes"]
    assert isinstance(worst, int)
    out += [
        "",
        f"Artifact sizes (unzipped unless said): {'; '.join(sizes)}. Layer + largest function unzipped: "
        f"**{worst / mib:.1f} MiB** (budget {target.size_budget_mib} MiB in layers/target.json; Lambda's "
        "limit 250 MiB).",
        "",
        MARKERS[1],
    ]
    return "\n".join(out)


def main() -> int:
    reps = int(os.environ.get("BENCH_COLDSTART_REPS", "9"))
    target = layer_build.Target.load(architecture=HOST_ARCH)
    try:
        layer_probe.target_python(target)
    except layer_build.BuildError as exc:
        # Import times of another interpreter would not be the runtime's: measure nothing, say so,
        # leave the last figures in docs/benchmarks.md, and let `make bench` go on to throughput.
        print(f"[coldstart] not measured: {exc}", file=sys.stderr, flush=True)
        return 0
    with tempfile.TemporaryDirectory(prefix="aurora-sync-coldstart-") as scratch:
        artifacts = Path(scratch) / "build"
        manifest = layer_build.build(artifacts, target)
        print(layer_build.summary(manifest), flush=True)
        standin = layer_probe.runtime_standin(target)
        figures = []
        for function in manifest["functions"]:
            workdir = Path(scratch) / "unpacked" / function
            figures.append(measure_function(function, artifacts, workdir, standin, target=target, reps=reps))
            f = figures[-1]
            print(
                f"[coldstart] {function}: import handler {_range(f.import_ms)} ms, process "
                f"{_range(f.process_ms)} ms vs baseline {_range(f.baseline_ms)} ms; without .pyc "
                f"{_range(f.no_pyc_import_ms)} ms; top: {f.top_imports[:4]}",
                flush=True,
            )
    section = markdown(figures, manifest, target, reps)
    if os.environ.get("BENCH_NO_DOCS") == "1":
        print(section)
        return 0
    replace_section(BENCHMARKS_MD, section, "# Benchmarks", markers=MARKERS)
    print(f"[coldstart] wrote {BENCHMARKS_MD.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
