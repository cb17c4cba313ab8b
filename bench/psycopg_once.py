"""Child process: the streaming path on psycopg 3 instead of pg8000, same writer, same part size.

`cursor.copy()` yields the COPY stream in blocks as libpq hands them over; every block goes into
aurora_sync.adapters.s3.MultipartWriter exactly as the exporter feeds it from pg8000. The timed
section runs from connect to the completed multipart upload.

Spec (JSON file): {"conninfo": {...}, "query": str, "bucket": str, "key": str, "part_bytes": int,
"result": path, "profile": path | null}.
"""

from __future__ import annotations

import time
from typing import Any

from bench.child import load_spec, write_result


def export(spec: dict[str, Any]) -> tuple[int, int]:
    import boto3
    import psycopg

    from aurora_sync.adapters.s3 import MultipartWriter

    s3 = boto3.client("s3")  # AWS_ENDPOINT_URL (moto) comes from the environment
    writer = MultipartWriter(s3, spec["bucket"], spec["key"], int(spec["part_bytes"]))
    sql = f"COPY ({spec['query']}) TO STDOUT WITH (FORMAT csv, HEADER)"
    try:
        with psycopg.connect(**spec["conninfo"]) as conn:
            conn.execute("SET TimeZone = 'UTC'")
            with conn.cursor() as cur:
                with cur.copy(sql) as copy:
                    for block in copy:
                        writer.write(block)
                rows = cur.rowcount
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return rows, writer.bytes_written


def main() -> None:
    spec = load_spec()
    profile_path: str | None = spec.get("profile")
    started, cpu_started = time.perf_counter(), time.process_time()
    if profile_path:
        import cProfile

        profiler = cProfile.Profile()
        rows, size = profiler.runcall(export, spec)
        profiler.dump_stats(profile_path)
    else:
        rows, size = export(spec)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    write_result(
        spec,
        {"seconds": seconds, "cpu_seconds": cpu_seconds, "rows": rows, "bytes": size, "keys": [spec["key"]]},
    )


if __name__ == "__main__":
    main()
