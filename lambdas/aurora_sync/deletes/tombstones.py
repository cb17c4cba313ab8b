"""The tombstone file: one CSV row per deleted key, in the table's own CSV contract, so the table's
pipe loads it into STAGING like any export and neither STAGING nor the pipe changes.

Each row has the key columns, the watermark column set to the pass's commit-safe bound, and every
other column NULL (an empty unquoted field). The MERGE recognises the rows by the file's name
(layout.TOMBSTONE_SUFFIX in `_SOURCE_FILE`), never by the NULLs, which real rows may have.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from aurora_sync.deletes.compare import Key
from aurora_sync.tables import TableConfig
from aurora_sync.timeutil import as_utc

_NEEDS_QUOTES = (",", '"', "\n", "\r")


def csv_field(value: object) -> str:
    """A field as PostgreSQL's COPY ... CSV writes it (the CSV contract): NULL is an empty unquoted
    field; a value that is empty or holds the delimiter, a quote or a line break is quoted, quotes
    doubled."""
    if value is None:
        return ""
    text = str(value)
    if text == "" or any(c in text for c in _NEEDS_QUOTES) or text == "\\.":
        return '"' + text.replace('"', '""') + '"'
    return text


def watermark_text(at: datetime) -> str:
    """The watermark as the export renders a TIMESTAMP_TZ / TIMESTAMP_NTZ column (the file format's
    pinned TIMESTAMP_FORMAT, 'YYYY-MM-DD"T"HH24:MI:SS.FF6TZH:TZM'), in UTC."""
    return as_utc(at).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def render(table: TableConfig, keys: Sequence[Key], watermark: datetime) -> bytes:
    """The file: a header with the active columns in order, then one row per key."""
    columns = table.column_names
    positions = {k.lower(): i for i, k in enumerate(table.primary_keys)}
    mark = watermark_text(watermark)
    lines = [",".join(columns)]
    for key in keys:
        fields = []
        for column in columns:
            name = column.lower()
            if name in positions:
                fields.append(csv_field(key[positions[name]]))
            elif name == table.watermark_col.lower():
                fields.append(mark)
            else:
                fields.append("")
        lines.append(",".join(fields))
    return ("\n".join(lines) + "\n").encode()
