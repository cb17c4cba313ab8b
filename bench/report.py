"""Medians, ratios against the same-run baseline, and the text/markdown that presents them."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from bench.measure import Sample

VARIANTS = ("exporter", "baseline", "psycopg")
LABELS = {
    "exporter": "exporter (block COPY reader -> MultipartWriter)",
    "baseline": "baseline (psql | boto3 upload_fileobj)",
    "psycopg": "psycopg 3 -> MultipartWriter",
}
MD_LABELS = {k: v.replace("|", "\\|") for k, v in LABELS.items()}
THROUGHPUT_GOAL = 0.8
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

    @property
    def client_cpu_per_m(self) -> float:
        """Client CPU seconds per million rows, the whole child (start-up and imports included)."""
        return self.cpu_s.get("client", 0.0) / self.size * 1_000_000

    @property
    def in_call_cpu_per_m(self) -> float | None:
        """The same over the export call alone (what a warm Lambda pays); None for the baseline."""
        cpu = self.cpu_s.get("client_in_call")
        return None if cpu is None else cpu / self.size * 1_000_000

    @property
    def bytes_per_row(self) -> float:
        return self.bytes / self.size


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
    exporter_cpu_per_m: float
    exporter_call_cpu_per_m: float
    baseline_cpu_per_m: float

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
        exporter_cpu_per_m=exp.client_cpu_per_m,
        exporter_call_cpu_per_m=exp.in_call_cpu_per_m or 0.0,
        baseline_cpu_per_m=base.client_cpu_per_m,
    )


def _cpu(s: Summary) -> str:
    return " / ".join(f"{s.cpu_s.get(k, 0.0):.1f}" for k in ("client", "postgres", "moto"))


def _call_cpu(s: Summary) -> str:
    return "" if s.in_call_cpu_per_m is None else f"({s.in_call_cpu_per_m:.2f})"


def _fmt_size(size: int) -> str:
    return f"{size / 1_000_000:g}M" if size >= 1_000_000 else f"{size / 1000:g}k"


@dataclass(frozen=True)
class Width:
    """One table shape's results: its summaries, sizes and output checks."""

    width: str
    table: str
    summaries: dict[tuple[int, str], Summary]
    sizes: list[int]
    verification: list[str]


def text_table(group: Width) -> str:
    head = (
        f"{'width':>6} {'rows':>5} {'variant':<40} {'reps':>4} {'median s':>9} {'(min-max)':>15} "
        f"{'process s':>9} {'rows/s':>10} {'vs base':>7} {'peak RSS MiB':>16} {'CPU s cli/pg/moto':>18} "
        f"{'cli CPU s/1M (call)':>20}"
    )
    lines = [head, "-" * len(head)]
    for size in group.sizes:
        base = group.summaries[(size, "baseline")]
        for variant in VARIANTS:
            s = group.summaries[(size, variant)]
            rss = f"{s.peak_rss_max_mib:.0f}"
            if s.extra_rss_mib is not None:
                rss += f" (+psql {s.extra_rss_mib:.0f})"
            lines.append(
                f"{group.width:>6} {_fmt_size(size):>5} {LABELS[variant]:<40} {s.reps:>4} {s.seconds:>9.2f} "
                f"{f'({s.seconds_range[0]:.2f}-{s.seconds_range[1]:.2f})':>15} {s.process_s:>9.2f} "
                f"{s.rows_per_s:>10,.0f} {s.rows_per_s / base.rows_per_s:>6.2f}x {rss:>16} {_cpu(s):>18} "
                f"{s.client_cpu_per_m:>12.2f} {_call_cpu(s):>7}"
            )
    return "\n".join(lines)


def goal_lines(group: Width) -> list[str]:
    out = []
    for size in group.sizes:
        r = ratios(group.summaries, size)
        out.append(
            f"{group.width} {size:,} rows: exporter {r.exporter:.3f}x baseline (goal >= {THROUGHPUT_GOAL}x) "
            f"{'met' if r.meets_throughput else 'MISSED'}; peak RSS {r.exporter_rss_mib:.0f} MiB "
            f"(goal < {RSS_GOAL_MIB}) {'met' if r.meets_rss else 'MISSED'}; client CPU "
            f"{r.exporter_cpu_per_m:.2f} s per 1M rows, {r.exporter_call_cpu_per_m:.2f} in the export call "
            f"(baseline {r.baseline_cpu_per_m:.2f})"
        )
    return out


def markdown_section(groups: list[Width], machine: dict[str, str], notes: list[str]) -> str:
    out = [START_MARKER, "", f"Generated by `make bench` on {machine['date']}.", ""]
    out += ["**Machine.** " + "; ".join(f"{k}: {v}" for k, v in machine.items() if k != "date") + ".", ""]
    out += [
        "**Against the same-run baseline** (goal: exporter >= "
        f"{THROUGHPUT_GOAL}x baseline rows/s, exporter peak RSS < {RSS_GOAL_MIB} MiB; client CPU seconds "
        "per million rows: the exporter's whole process, start-up and imports included, then its "
        "`run_exporter` call alone in brackets, then psql + uploader):",
        "",
        "| table | rows | exporter / baseline | (spawn-to-exit) | psycopg 3 / baseline | (spawn-to-exit) "
        "| exporter peak RSS | psycopg 3 peak RSS | client CPU s / 1M rows: exporter (call), baseline "
        "| goals |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for group in groups:
        for size in group.sizes:
            r = ratios(group.summaries, size)
            width = f"{group.width} ({group.summaries[(size, 'baseline')].bytes_per_row:.0f} B/row)"
            throughput = "met" if r.meets_throughput else "MISSED"
            goals = f"throughput {throughput}, RSS {'met' if r.meets_rss else 'MISSED'}"
            out.append(
                f"| {width} | {size:,} | **{r.exporter:.2f}x** | {r.exporter_process:.2f}x "
                f"| {r.psycopg:.2f}x | {r.psycopg_process:.2f}x | {r.exporter_rss_mib:.0f} MiB "
                f"| {r.psycopg_rss_mib:.0f} MiB "
                f"| {r.exporter_cpu_per_m:.2f} ({r.exporter_call_cpu_per_m:.2f}), {r.baseline_cpu_per_m:.2f} "
                f"| {goals} |"
            )
    out += [
        "",
        "**Absolute figures** (median of the repetitions; rows/s and MB/s from the median time; peak RSS "
        "is the highest VmHWM over the repetitions, median in brackets):",
        "",
        "| table | rows | variant | reps | median s (min-max) | spawn-to-exit s | rows/s | MB/s "
        "| peak RSS MiB | CPU s client / postgres / moto |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for group in groups:
        for size in group.sizes:
            for variant in VARIANTS:
                s = group.summaries[(size, variant)]
                rss = f"{s.peak_rss_max_mib:.0f} ({s.peak_rss_mib:.0f})"
                if s.extra_rss_mib is not None:
                    rss += f"; psql {s.extra_rss_mib:.0f}"
                out.append(
                    f"| {group.width} | {size:,} | {MD_LABELS[variant]} | {s.reps} "
                    f"| {s.seconds:.2f} ({s.seconds_range[0]:.2f}-{s.seconds_range[1]:.2f}) "
                    f"| {s.process_s:.2f} | {s.rows_per_s:,.0f} | {s.bytes / s.seconds / 1e6:.0f} | {rss} "
                    f"| {_cpu(s)} |"
                )
    out += ["", "**Output check** (first repetition of each size):", ""]
    out += [f"- {group.width} (`{group.table}`) {line}" for group in groups for line in group.verification]
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
