"""Medians, ratios against the same-run baseline, and the text/markdown that presents them."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from bench.measure import Sample

VARIANTS = ("exporter", "baseline", "psycopg")
LABELS = {
    "exporter": "exporter (pg8000 -> MultipartWriter)",
    "baseline": "baseline (psql | boto3 upload_fileobj)",
    "psycopg": "psycopg 3 -> MultipartWriter",
}
MD_LABELS = {k: v.replace("|", "\\|") for k, v in LABELS.items()}
THROUGHPUT_GOAL = 0.7
RSS_GOAL_MIB = 128
START_MARKER = "<!-- bench:start -->"
END_MARKER = "<!-- bench:end -->"
MIB_KIB = 1024


@dataclass(frozen=True)
class Summary:
    variant: str
    size: int
    reps: int
    seconds: float  # median of the figure rows/s is based on (in-call, or process for the baseline)
    process_s: float  # median spawn-to-exit
    seconds_range: tuple[float, float]
    peak_rss_mib: float  # median VmHWM of the measured process
    peak_rss_max_mib: float  # highest over the repetitions
    bytes: int
    extra_rss_mib: float | None  # baseline: psql's own peak RSS
    cpu_s: dict[str, float]  # median CPU seconds: client (psql + uploader for the baseline), postgres, moto

    @property
    def rows_per_s(self) -> float:
        return self.size / self.seconds

    @property
    def process_rows_per_s(self) -> float:
        return self.size / self.process_s


def summarize(samples: list[Sample]) -> dict[tuple[int, str], Summary]:
    groups: dict[tuple[int, str], list[Sample]] = {}
    for sample in samples:
        groups.setdefault((sample.size, sample.variant), []).append(sample)
    out: dict[tuple[int, str], Summary] = {}
    for (size, variant), group in groups.items():
        seconds = [s.seconds for s in group]
        psql = [s.extra["psql_peak_rss_kib"] for s in group if "psql_peak_rss_kib" in s.extra]
        out[(size, variant)] = Summary(
            variant=variant,
            size=size,
            reps=len(group),
            seconds=statistics.median(seconds),
            process_s=statistics.median(s.process_s for s in group),
            seconds_range=(min(seconds), max(seconds)),
            peak_rss_mib=statistics.median(s.peak_rss_kib for s in group) / MIB_KIB,
            peak_rss_max_mib=max(s.peak_rss_kib for s in group) / MIB_KIB,
            bytes=group[0].bytes,
            extra_rss_mib=statistics.median(psql) / MIB_KIB if psql else None,
            cpu_s={k: statistics.median(s.cpu_s.get(k, 0.0) for s in group) for k in group[0].cpu_s},
        )
    return out


@dataclass(frozen=True)
class Ratios:
    size: int
    exporter: float  # exporter rows/s (in-call) / baseline rows/s (process)
    exporter_process: float  # both spawn-to-exit
    psycopg: float
    psycopg_process: float
    exporter_rss_mib: float
    psycopg_rss_mib: float

    @property
    def meets_throughput(self) -> bool:
        return self.exporter >= THROUGHPUT_GOAL

    @property
    def meets_rss(self) -> bool:
        return self.exporter_rss_mib < RSS_GOAL_MIB


def ratios(summaries: dict[tuple[int, str], Summary], size: int) -> Ratios:
    base = summaries[(size, "baseline")]
    exp = summaries[(size, "exporter")]
    psy = summaries[(size, "psycopg")]
    return Ratios(
        size=size,
        exporter=exp.rows_per_s / base.rows_per_s,
        exporter_process=exp.process_rows_per_s / base.process_rows_per_s,
        psycopg=psy.rows_per_s / base.rows_per_s,
        psycopg_process=psy.process_rows_per_s / base.process_rows_per_s,
        exporter_rss_mib=exp.peak_rss_max_mib,
        psycopg_rss_mib=psy.peak_rss_max_mib,
    )


def _cpu(s: Summary) -> str:
    return " / ".join(f"{s.cpu_s.get(k, 0.0):.1f}" for k in ("client", "postgres", "moto"))


def _fmt_size(size: int) -> str:
    return f"{size / 1_000_000:g}M" if size >= 1_000_000 else f"{size / 1000:g}k"


def text_table(summaries: dict[tuple[int, str], Summary], sizes: list[int]) -> str:
    head = (
        f"{'rows':>6} {'variant':<40} {'reps':>4} {'median s':>9} {'(min-max)':>15} {'process s':>9} "
        f"{'rows/s':>10} {'vs base':>7} {'peak RSS MiB':>16} {'CPU s cli/pg/moto':>18}"
    )
    lines = [head, "-" * len(head)]
    for size in sizes:
        base = summaries[(size, "baseline")]
        for variant in VARIANTS:
            s = summaries[(size, variant)]
            rss = f"{s.peak_rss_max_mib:.0f}"
            if s.extra_rss_mib is not None:
                rss += f" (+psql {s.extra_rss_mib:.0f})"
            lines.append(
                f"{_fmt_size(size):>6} {LABELS[variant]:<40} {s.reps:>4} {s.seconds:>9.2f} "
                f"{f'({s.seconds_range[0]:.2f}-{s.seconds_range[1]:.2f})':>15} {s.process_s:>9.2f} "
                f"{s.rows_per_s:>10,.0f} {s.rows_per_s / base.rows_per_s:>6.2f}x {rss:>16} {_cpu(s):>18}"
            )
    return "\n".join(lines)


def markdown_section(
    summaries: dict[tuple[int, str], Summary],
    sizes: list[int],
    machine: dict[str, str],
    verification: list[str],
    notes: list[str],
) -> str:
    out = [START_MARKER, "", f"Generated by `make bench` on {machine['date']}.", ""]
    out += ["**Machine.** " + "; ".join(f"{k}: {v}" for k, v in machine.items() if k != "date") + ".", ""]
    out += [
        "**Against the same-run baseline** (goal: exporter >= "
        f"{THROUGHPUT_GOAL}x baseline rows/s, exporter peak RSS < {RSS_GOAL_MIB} MiB):",
        "",
        "| rows | exporter / baseline | (spawn-to-exit) | psycopg 3 / baseline | (spawn-to-exit) "
        "| exporter peak RSS | psycopg 3 peak RSS | goals |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for size in sizes:
        r = ratios(summaries, size)
        throughput = "met" if r.meets_throughput else "MISSED"
        goals = f"throughput {throughput}, RSS {'met' if r.meets_rss else 'MISSED'}"
        out.append(
            f"| {size:,} | **{r.exporter:.2f}x** | {r.exporter_process:.2f}x | {r.psycopg:.2f}x "
            f"| {r.psycopg_process:.2f}x | {r.exporter_rss_mib:.0f} MiB | {r.psycopg_rss_mib:.0f} MiB "
            f"| {goals} |"
        )
    out += [
        "",
        "**Absolute figures** (median of the repetitions; rows/s and MB/s from the median time; peak RSS "
        "is the highest VmHWM over the repetitions, median in brackets):",
        "",
        "| rows | variant | reps | median s (min-max) | spawn-to-exit s | rows/s | MB/s | peak RSS MiB "
        "| CPU s client / postgres / moto |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sizes:
        for variant in VARIANTS:
            s = summaries[(size, variant)]
            rss = f"{s.peak_rss_max_mib:.0f} ({s.peak_rss_mib:.0f})"
            if s.extra_rss_mib is not None:
                rss += f"; psql {s.extra_rss_mib:.0f}"
            out.append(
                f"| {size:,} | {MD_LABELS[variant]} | {s.reps} "
                f"| {s.seconds:.2f} ({s.seconds_range[0]:.2f}-{s.seconds_range[1]:.2f}) "
                f"| {s.process_s:.2f} | {s.rows_per_s:,.0f} | {s.bytes / s.seconds / 1e6:.0f} | {rss} "
                f"| {_cpu(s)} |"
            )
    out += ["", "**Output check** (first repetition of each size):", ""]
    out += [f"- {line}" for line in verification]
    if notes:
        out += ["", "**Notes on this run:**", ""]
        out += [f"- {note}" for note in notes]
    out += ["", END_MARKER]
    return "\n".join(out)


def replace_section(
    path: Path, section: str, header: str, markers: tuple[str, str] = (START_MARKER, END_MARKER)
) -> None:
    """Swap the text between the markers (inclusive) for `section`; create the file if missing.

    `markers` lets another generated section (bench/coldstart.py) share the page with this one.
    """
    start_marker, end_marker = markers
    if path.exists():
        text = path.read_text()
        start, end = text.find(start_marker), text.find(end_marker)
        if start != -1 and end > start:
            text = text[:start] + section + text[end + len(end_marker) :]
        else:
            text = text.rstrip("\n") + "\n\n" + section + "\n"
    else:
        text = header.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)
