"""What an export run returns: one TableResult per window it started, and the windows it left.

The dicts are the Lambda's result (and, for a failed run, the error message Step Functions sees):
`status` is serialized as its plain string value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class TableStatus(StrEnum):
    EXPORTED = "exported"
    EMPTY = "empty"  # nothing in the window, or the window itself is empty
    FAILED = "failed"
    SKIPPED = "skipped"  # another run holds the table's lease


@dataclass
class TableResult:
    table: str
    status: TableStatus
    rows: int = 0
    files: list[str] = field(default_factory=list)
    lower: str | None = None
    upper: str | None = None
    error: str | None = None
    retryable: bool | None = None
    timed_out: bool | None = None  # the statement timeout: a smaller window succeeds
    export_id: str | None = None
    manifest: str | None = None
    rerun: dict[str, Any] | None = None
    message: str | None = None  # why a table was skipped
    deletes: dict[str, Any] | None = None  # the delete detection pass (exporter/deletes.py), if it ran
    refresh: dict[str, Any] | None = None  # a refresh range: {id, index, of, done (ranges checkpointed)}

    def as_dict(self) -> dict[str, Any]:
        body = {k: v for k, v in self.__dict__.items() if v is not None}
        body["status"] = self.status.value
        return body


@dataclass
class RunResult:
    run_id: str
    tables: list[TableResult] = field(default_factory=list)
    remaining: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> list[TableResult]:
        return [t for t in self.tables if t.status is TableStatus.FAILED]

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"run_id": self.run_id, "tables": [t.as_dict() for t in self.tables]}
        if self.remaining:
            result["remaining"] = self.remaining
        return result
