"""Helpers for the measured child processes: read a JSON spec, report a JSON result with peak RSS."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def peak_rss_kib() -> int:
    """This process's peak resident set size (VmHWM from /proc/self/status), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("VmHWM not found in /proc/self/status")


def load_spec(argv: list[str] | None = None) -> dict[str, Any]:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python -m bench.<child> SPEC.json")
    spec: dict[str, Any] = json.loads(Path(args[0]).read_text())
    return spec


def write_result(spec: dict[str, Any], result: dict[str, Any]) -> None:
    """The child's own figures; VmHWM is read last so it covers the whole run."""
    result["vmhwm_kib"] = peak_rss_kib()
    Path(spec["result"]).write_text(json.dumps(result, default=str))
