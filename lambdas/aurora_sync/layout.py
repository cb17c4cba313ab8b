"""S3 key layout (DESIGN.md §4): one place that knows where data, manifests and temp files go."""

from __future__ import annotations

from datetime import datetime, timedelta

from aurora_sync.timeutil import as_utc

MANIFEST_ROOT = "_manifests/"
PENDING_ROOT = "_pending/"  # publish pins (aurora_sync.pending); no pipe or lifecycle expiry sees it


def hour_path(at: datetime) -> str:
    return as_utc(at).strftime("%Y/%m/%d/%H")


def data_key(table: str, run_hour: datetime, export_id: str, part: int = 1) -> str:
    """`<schema.table>/YYYY/MM/DD/HH/run-<uuid>.csv`; split exports add `_partN` before `.csv`
    (not after, as Aurora names them) so pipes and S3 filters on the `.csv` suffix see every part."""
    suffix = "" if part == 1 else f"_part{part}"
    return f"{table}/{hour_path(run_hour)}/run-{export_id}{suffix}.csv"


def manifest_key(table: str, run_hour: datetime, export_id: str) -> str:
    return f"{MANIFEST_ROOT}{table}/{hour_path(run_hour)}/run-{export_id}.json"


def manifest_prefixes(table: str, since: datetime, until: datetime) -> list[str]:
    """One prefix per UTC hour from since's hour to until's hour: listing them finds every manifest
    of the window without listing the table's whole history."""
    hour = as_utc(since).replace(minute=0, second=0, microsecond=0)
    prefixes = []
    while hour <= as_utc(until):
        prefixes.append(f"{MANIFEST_ROOT}{table}/{hour_path(hour)}/")
        hour += timedelta(hours=1)
    return prefixes


def temp_key(temp_prefix: str, table: str, export_id: str) -> str:
    return f"{temp_prefix}{table}/run-{export_id}.csv"


def temp_part_number(base_key: str, key: str) -> int | None:
    """Part number of an object Aurora wrote for `base_key` (`base`, `base_part2`, ...), else None."""
    if key == base_key:
        return 1
    rest = key.removeprefix(base_key + "_part")
    if rest == key or not rest.isdigit() or int(rest) < 2:
        return None
    return int(rest)


def pending_prefix(table: str) -> str:
    return f"{PENDING_ROOT}{table}/"


def pending_key(table: str, export_id: str) -> str:
    return f"{pending_prefix(table)}run-{export_id}.json"
