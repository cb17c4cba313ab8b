"""The manifest: written after the data, it is the exporter's claim the reconciler checks."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


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
    schema_version: int = 1
    extra: dict[str, object] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, indent=1)
