"""The manifest: written after the data, it is the exporter's claim the reconciler checks.

Written here by the exporter (Manifest) and read back here (parse_manifest) by the reconciler, and
by the exporter when it decides which publish pins a manifested window covers.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aurora_sync.layout import hour_path, is_tombstone_manifest, manifest_hour, manifest_listing
from aurora_sync.timeutil import iso, parse_instant
from aurora_sync.validation import describe

if TYPE_CHECKING:
    from aurora_sync.ports import ObjectReader

# `mode` of a tombstone manifest (aurora_sync.deletes): it proves a tombstone file was written, not
# that a window was exported, so nothing that reasons about export windows may count it.
TOMBSTONE_MODE = "deletes"


@dataclass(frozen=True)
class ManifestFile:
    key: str
    rows: int | None  # None for a part of a split aurora_s3 export: Aurora reports only the total
    bytes: int


@dataclass(frozen=True)
class Manifest:
    run_id: str
    export_id: str
    table: str
    files: list[ManifestFile]
    rows: int
    lower: str | None
    upper: str
    mode: str
    started_at: str
    finished_at: str
    query_sha256: str
    full_refresh: bool = False
    # One key range of a full refresh (exporter/refresh.py): {"id", "index", "of"}. Its rows are all
    # of that range up to `upper`, not a watermark window of the whole table.
    refresh: dict[str, object] | None = None
    schema_version: int = 1
    extra: dict[str, object] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, indent=1)


class ManifestFileDoc(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key: str = Field(min_length=1)
    rows: int | None = Field(ge=0)
    bytes: int = Field(ge=0)


class RefreshRangeDoc(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    index: int = Field(ge=0)
    of: int = Field(ge=1)


class ManifestDoc(BaseModel):
    """The fields the reconciler relies on; a manifest without them is reported, not guessed at."""

    model_config = ConfigDict(extra="ignore")

    run_id: str
    table: str
    files: list[ManifestFileDoc]
    rows: int = Field(ge=0)
    lower: str | None
    upper: str
    finished_at: str
    full_refresh: bool = False
    mode: str | None = None
    refresh: RefreshRangeDoc | None = None

    @property
    def is_tombstones(self) -> bool:
        return self.mode == TOMBSTONE_MODE

    @property
    def covers_window(self) -> bool:
        """Whether every row of the table in window() was exported: not so for one key range of a
        full refresh, which proves only its own keys (pins, later loads and volumes ignore it), nor
        for tombstones, which export no row."""
        return self.refresh is None and not self.is_tombstones

    def finished(self) -> datetime:
        return parse_instant(self.finished_at, "finished_at")

    def window(self) -> tuple[datetime | None, datetime]:
        """(lower, upper] this manifest proves exported; lower None: a full refresh."""
        return (
            None if self.lower is None else parse_instant(self.lower, "lower"),
            parse_instant(self.upper, "upper"),
        )

    def rerun(self, overrides_path: str) -> dict[str, Any]:
        """What on-call runs to export this manifest's window again (a refresh range: its item)."""
        if self.refresh is not None:
            ref = {"id": self.refresh.id, "index": self.refresh.index, "of": self.refresh.of}
            return {"table": self.table, "refresh": ref}
        return rerun_payload(self.table, *self.window(), overrides_path=overrides_path)


@dataclass(frozen=True)
class ReadManifest:
    key: str
    doc: ManifestDoc


def parse_manifest(key: str, body: bytes, table: str) -> ReadManifest:
    """Raise ValueError naming the key and the field when the manifest cannot be trusted."""
    try:
        doc = ManifestDoc.model_validate_json(body)
        doc.finished()
        parse_instant(doc.upper, "upper")
        if doc.lower is not None:
            parse_instant(doc.lower, "lower")
    except ValidationError as exc:
        field_name, problem = describe(exc)
        raise ValueError(f"{key}: {problem or field_name}") from None
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None
    if doc.table != table:
        raise ValueError(f"{key}: table is {doc.table!r}, expected {table!r}")
    if doc.is_tombstones != is_tombstone_manifest(key):
        raise ValueError(f"{key}: mode {doc.mode!r} does not match the key's kind")
    return ReadManifest(key, doc)


def rerun_payload(
    table: str, lower: datetime | None, upper: datetime, *, overrides_path: str
) -> dict[str, Any]:
    """What on-call runs to export (lower, upper] again: a manual window, or for no lower bound
    (rows with a NULL watermark included) the full_refresh override no window can replace, named in
    this environment's OVERRIDES_PATH."""
    if lower is None:
        return {"override": f"{overrides_path}{table}", "value": {"full_refresh": True}}
    return {"tables": [table], "start": iso(lower), "end": iso(upper)}


def read_manifests(
    store: ObjectReader, table: str, since: datetime, until: datetime, *, tombstones: bool = False
) -> tuple[list[ReadManifest], list[str]]:
    """Every export manifest of `table` under the hours since..until, and the errors of those that
    cannot be trusted (each naming its key). One gone between the listing and its read is skipped.
    `tombstones`: the tombstone manifests too (only the reconciler's loads check wants them)."""
    prefix, start_after = manifest_listing(table, since)
    last_hour = hour_path(until)
    listed = store.sizes(prefix, start_after)
    keys = [k for k in listed if manifest_hour(k, prefix) <= last_hour]
    return _read(store, table, keys if tombstones else [k for k in keys if not is_tombstone_manifest(k)])


def read_manifests_of_hours(
    store: ObjectReader, table: str, hours: Collection[datetime]
) -> tuple[list[ReadManifest], list[str]]:
    """The manifests of `table` written in the given run hours only, as read_manifests returns them:
    one listing from the earliest hour (a request per 1,000 keys), then one GET per manifest of
    those hours and none for the hours between (the volume check reads a few hours of each past
    week, not the weeks)."""
    if not hours:
        return [], []
    wanted = {hour_path(h) for h in hours}
    prefix, start_after = manifest_listing(table, min(hours))
    listed = [k for k in store.sizes(prefix, start_after) if not is_tombstone_manifest(k)]
    return _read(store, table, [k for k in listed if manifest_hour(k, prefix) in wanted])


def _read(store: ObjectReader, table: str, keys: list[str]) -> tuple[list[ReadManifest], list[str]]:
    manifests: list[ReadManifest] = []
    invalid: list[str] = []
    for key in sorted(keys):
        body = store.read_if_exists(key) if key.endswith(".json") else None
        if body is None:
            continue
        try:
            manifests.append(parse_manifest(key, body, table))
        except ValueError as exc:
            invalid.append(str(exc))
    return manifests, invalid
