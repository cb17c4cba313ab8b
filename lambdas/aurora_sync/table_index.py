"""How the table list is laid out in Parameter Store: an index at TABLES_PARAMETER, one parameter per
table under it.

One SSM parameter holds at most 8 KB (Advanced tier; Standard 4 KB), and a table entry with its
columns takes 350-900 bytes, so a single JSON array stops fitting at about ten tables. Terraform
(terraform/modules/tables) therefore writes, all under one path so one paginated
GetParametersByPath returns them:

- `<TABLES_PARAMETER>/<schema.table>`: that table's tables.json entry, minified (a `$`, valid in an
  identifier but not in a parameter name, becomes `-`, which is in neither);
- `<TABLES_PARAMETER>/index-<k>` (k = 2, 3, ...): `{"part": k, "tables": [...]}`, the index's names
  beyond its first INDEX_PART_SIZE (no dot in the name, so never a table's);
- `<TABLES_PARAMETER>`, written after all of them: the index `{"entries": "<TABLES_PARAMETER>/",
  "count": N, "parts": K, "sha256": <digest of every entry>, "tables": [the first names]}`.

Names are `schema.table` strings in tables.json's order, INDEX_PART_SIZE to a parameter: at most 127
characters each (two identifiers of 63), so every index parameter fits 8 KB whatever the names. The digest
(`entries_digest`) covers each entry's name and value, so a reader can tell a complete apply from
one that stopped between writing the entries and the index. Terraform computes the same strings
(tests compare them character for character); `render_parameters` is the writer for the local stack.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from aurora_sync.errors import ConfigError
from aurora_sync.validation import describe, json_value

# Parameter Store limits (PutParameter API reference): value size per tier.
STANDARD_TIER_LIMIT = 4096
ADVANCED_TIER_LIMIT = 8192
# 60 names of at most 127 characters (+3 for quotes and comma) and the index's other fields < 8 KB.
INDEX_PART_SIZE = 60
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def entry_parameter(tables_parameter: str, table_name: str) -> str:
    """Name of one table's parameter (parameter names allow a-zA-Z0-9_.- and `/` only)."""
    return f"{tables_parameter}/{table_name.replace('$', '-')}"


def index_part_parameter(tables_parameter: str, part: int) -> str:
    return f"{tables_parameter}/index-{part}"


def entries_digest(values: Mapping[str, str]) -> str:
    """sha256 over `<schema.table>=<value>\\n` for every table, in table-name order (Terraform: the
    same join over `keys()`, which sorts)."""
    text = "".join(f"{name}={values[name]}\n" for name in sorted(values))
    return hashlib.sha256(text.encode()).hexdigest()


class TableIndex(BaseModel):
    """The index parameter: the first names, and how many there are in how many parts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entries: str = Field(min_length=2)
    count: int = Field(ge=0)
    parts: int = Field(ge=1)
    sha256: str
    tables: list[str] = Field(max_length=INDEX_PART_SIZE)

    @field_validator("sha256")
    @classmethod
    def _hex(cls, value: str) -> str:
        if not _SHA256.fullmatch(value):
            raise ValueError("must be 64 lower-case hex digits")
        return value


class IndexPart(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    part: int = Field(ge=2)
    tables: list[str] = Field(min_length=1, max_length=INDEX_PART_SIZE)


def parse_index(raw: str, source: str) -> TableIndex:
    """The index parameter's value; errors name the parameter and the field."""
    data = json_value(raw, source)
    if isinstance(data, list):
        raise ConfigError(
            source,
            "(value)",
            "holds a JSON array, the table list before it was split into one parameter per table; "
            "expected the index {entries, count, parts, sha256, tables}: apply this release's Terraform",
        )
    if not isinstance(data, dict):
        raise ConfigError(source, "(value)", f"expected the table index object, got {type(data).__name__}")
    try:
        index = TableIndex.model_validate(data)
    except ValidationError as exc:
        field, problems = describe(exc)
        raise ConfigError(source, field, problems) from None
    if index.entries != source + "/":
        raise ConfigError(
            source, "entries", f"is {index.entries!r}; the entries of {source} live under {source}/"
        )
    return index


def parse_index_part(raw: str, source: str, part: int) -> list[str]:
    data = json_value(raw, source)
    try:
        parsed = IndexPart.model_validate(data)
    except ValidationError as exc:
        field, problems = describe(exc)
        raise ConfigError(source, field, problems) from None
    if parsed.part != part:
        raise ConfigError(source, "part", f"is {parsed.part}; this parameter is part {part}")
    return parsed.tables


def render_parameters(entries: list[dict[str, Any]], tables_parameter: str) -> dict[str, str]:
    """Every parameter Terraform writes for `entries` (tables.json as parsed JSON): name -> value."""
    values = {e["table_name"]: _minified(e) for e in entries}
    names = list(values)  # tables.json's order, kept: it is the order every run takes
    chunks = [names[i : i + INDEX_PART_SIZE] for i in range(0, len(names), INDEX_PART_SIZE)] or [[]]
    rendered = {entry_parameter(tables_parameter, name): value for name, value in values.items()}
    for k, chunk in enumerate(chunks[1:], start=2):
        rendered[index_part_parameter(tables_parameter, k)] = _minified({"part": k, "tables": chunk})
    rendered[tables_parameter] = _minified(
        {
            "entries": tables_parameter + "/",
            "count": len(names),
            "parts": len(chunks),
            "sha256": entries_digest(values),
            "tables": chunks[0],
        }
    )
    return rendered


def _minified(value: Any) -> str:
    """Terraform's jsonencode: keys sorted, no spaces (the names and types here are plain ASCII)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
