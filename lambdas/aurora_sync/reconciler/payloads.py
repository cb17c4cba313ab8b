"""The reconciler's invocations: the hourly schedule, the state machine after a sync, or on-call.

- scheduled event or `{}`: every configured table;
- `{"source": "sync", "exports": [<exporter result>, ...]}`: the tables those runs exported
  (every table when none is named), with their run ids kept as evidence. The state machine sends
  each result trimmed to `{"run_id", "tables": ["schema.table", ...]}` (table names only, so a
  1,000-chunk backfill fits in its state); whole results, with `{"table", ...}` objects, are accepted too;
- `{"tables": ["public.orders"]}`: those tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aurora_sync.errors import PayloadError
from aurora_sync.tables import TablesConfig
from aurora_sync.validation import describe


class _ExportedTable(BaseModel):
    model_config = ConfigDict(extra="ignore")

    table: str


class _ExportResult(BaseModel):
    model_config = ConfigDict(extra="ignore")

    run_id: str | None = None
    tables: list[_ExportedTable | str] = Field(default_factory=list)

    def names(self) -> list[str]:
        return [t if isinstance(t, str) else t.table for t in self.tables]


class _SyncPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: Literal["sync"]
    exports: list[_ExportResult]


class _TablesPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tables: list[str] = Field(min_length=1)


@dataclass(frozen=True)
class ReconcileRequest:
    tables: list[str]
    export_run_ids: list[str]


def _is_scheduled(event: dict[str, Any]) -> bool:
    return (
        event == {}
        or event.get("source") in {"aws.events", "aws.scheduler"}
        or (event.get("detail-type") == "Scheduled Event")
    )


def parse_reconcile_event(event: object, tables: TablesConfig) -> ReconcileRequest:
    if not isinstance(event, dict):
        raise PayloadError("(event)", f"expected a JSON object, got {type(event).__name__}")
    if _is_scheduled(event):
        return ReconcileRequest(list(tables.names), [])
    try:
        if "source" in event or "exports" in event:
            sync = _SyncPayload.model_validate(event)
            named = list(dict.fromkeys(name for run in sync.exports for name in run.names()))
            run_ids = [run.run_id for run in sync.exports if run.run_id]
            names, where = (named or list(tables.names)), "exports[].tables[].table"
        else:
            names, run_ids, where = _TablesPayload.model_validate(event).tables, [], "tables"
    except ValidationError as exc:
        field, problems = describe(exc)
        raise PayloadError(field, problems) from None
    for name in names:
        if tables.get(name) is None:
            raise PayloadError(where, f"unknown table {name!r}; configured: {', '.join(tables.names)}")
    return ReconcileRequest(names, run_ids)
