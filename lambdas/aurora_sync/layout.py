"""S3 key layout (DESIGN.md §4): one place that knows where data, manifests and temp files go."""

from __future__ import annotations

from datetime import datetime

from aurora_sync.timeutil import as_utc

MANIFEST_ROOT = "_manifests/"
PENDING_ROOT = "_pending/"  # publish pins (aurora_sync.pins); no pipe or lifecycle expiry sees it
REFRESH_ROOT = "_refresh/"  # full refreshes' plans and checkpoints (exporter/refresh.py); no pipe sees it


def hour_path(at: datetime) -> str:
    return as_utc(at).strftime("%Y/%m/%d/%H")


def data_key(table: str, run_hour: datetime, export_id: str, part: int = 1) -> str:
    """`<schema.table>/YYYY/MM/DD/HH/run-<uuid>.csv`; split exports add `_partN` before `.csv`
    (not after, as Aurora names them) so pipes and S3 filters on the `.csv` suffix see every part."""
    suffix = "" if part == 1 else f"_part{part}"
    return f"{table}/{hour_path(run_hour)}/run-{export_id}{suffix}.csv"


def manifest_key(table: str, run_hour: datetime, export_id: str) -> str:
    return f"{MANIFEST_ROOT}{table}/{hour_path(run_hour)}/run-{export_id}.json"


# Tombstones (aurora_sync.deletes): keys deleted in Aurora, under the table's data prefix so the
# table's pipe loads them (its PATTERN is '.*[.]csv'), told apart from data by this suffix, which no
# data file has (`run-<uuid>.csv`, `run-<uuid>_partN.csv`). The MERGE recognises them by it.
TOMBSTONE_SUFFIX = ".deletes"


def tombstone_key(table: str, run_hour: datetime, export_id: str) -> str:
    """`<schema.table>/YYYY/MM/DD/HH/run-<uuid>.deletes.csv`."""
    return f"{table}/{hour_path(run_hour)}/run-{export_id}{TOMBSTONE_SUFFIX}.csv"


def tombstone_manifest_key(table: str, run_hour: datetime, export_id: str) -> str:
    """Beside the export manifests (the reconciler's loads check reads it), with the same suffix, so
    readers of export windows skip it by its key, before reading it."""
    return f"{MANIFEST_ROOT}{table}/{hour_path(run_hour)}/run-{export_id}{TOMBSTONE_SUFFIX}.json"


def is_tombstone_manifest(key: str) -> bool:
    return key.endswith(f"{TOMBSTONE_SUFFIX}.json")


def manifest_listing(table: str, since: datetime) -> tuple[str, str]:
    """(prefix, start_after) that list a table's manifests from since's hour on in one request per
    1,000 keys (ListObjectsV2 returns keys in order; StartAfter is exclusive, and every key of that
    hour sorts after `<prefix>YYYY/MM/DD/HH`), instead of one request per hour."""
    prefix = f"{MANIFEST_ROOT}{table}/"
    return prefix, prefix + hour_path(since)


def manifest_hour(key: str, prefix: str) -> str:
    """The `YYYY/MM/DD/HH` part of a manifest key listed under `prefix`."""
    return key[len(prefix) : len(prefix) + 13]


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


def refresh_prefix(table: str, refresh_id: str | None = None) -> str:
    """`_refresh/<schema.table>/` (every refresh of the table), or one refresh's folder."""
    base = f"{REFRESH_ROOT}{table}/"
    return base if refresh_id is None else f"{base}{refresh_id}/"


def refresh_pointer_key(table: str) -> str:
    """`_refresh/<schema.table>/current.json`: the table's latest refresh, claimed by a conditional
    write so that two planners at once make one refresh (exporter/refresh.py)."""
    return f"{refresh_prefix(table)}current.json"


def refresh_plan_key(table: str, refresh_id: str) -> str:
    return f"{refresh_prefix(table, refresh_id)}plan.json"


def refresh_done_key(table: str, refresh_id: str, index: int) -> str:
    """A range's checkpoint: its manifest, copied here once the manifest itself is written."""
    return f"{refresh_prefix(table, refresh_id)}done/range-{index:05d}.json"


def refresh_end_key(table: str, refresh_id: str, how: str) -> str:
    """`complete.json` once every range is exported; `abandoned.json` when a restart replaced it."""
    return f"{refresh_prefix(table, refresh_id)}{how}.json"
