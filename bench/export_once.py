"""Child process: one real exporter invocation, in-process, with a manual time-range payload.

Spec (JSON file): {"env": {...}, "event": {...}, "result": path, "profile": path | null}. The
environment is applied before the exporter is imported, exactly as Lambda would provide it; the timed
section is the `run_exporter` call (settings, SSM, Vault, connect, schema check, COPY, upload, manifest).
"""

from __future__ import annotations

import os
import time
from typing import Any

from bench.child import load_spec, write_result


def main() -> None:
    spec = load_spec()
    os.environ.update(spec["env"])

    from aurora_sync.exporter.run import run_exporter
    from tests.support.lambda_context import LambdaContext

    context = LambdaContext(function_name="aurora-snowflake-sync-exporter")
    profile_path: str | None = spec.get("profile")
    started, cpu_started = time.perf_counter(), time.process_time()
    if profile_path:
        import cProfile

        profiler = cProfile.Profile()
        body: dict[str, Any] = profiler.runcall(run_exporter, spec["event"], context)
        profiler.dump_stats(profile_path)
    else:
        body = run_exporter(spec["event"], context)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    table = body["tables"][0]
    write_result(
        spec,
        {
            "seconds": seconds,
            "cpu_seconds": cpu_seconds,  # every thread of the process, the part uploader's included
            "rows": table.get("rows", 0),
            "keys": table.get("files", []),
            "manifest": table.get("manifest"),
            "status": table.get("status"),
        },
    )


if __name__ == "__main__":
    main()
