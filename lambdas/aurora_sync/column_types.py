"""What a configured Snowflake column type means for the CSV: how the export query renders the
column, which values it must refuse (and how a refusal is read back from PostgreSQL's error), and
which Aurora (PostgreSQL) types can feed it.

The config (tables.json) carries Snowflake types only; the export query is built from them. The
rendering is only right for the PostgreSQL type it expects (`to_char` of a timestamptz is not
`to_char` of a timestamp), so the exporter checks Aurora's actual type against FITS before it runs
the query, and a mismatch fails that table instead of writing a file Snowpipe would skip.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum

from aurora_sync.errors import RejectedValueError


class Kind(StrEnum):
    TIMESTAMP_TZ = "timestamp_tz"  # TIMESTAMP_TZ and TIMESTAMP_LTZ: an instant
    TIMESTAMP_NTZ = "timestamp_ntz"  # wall-clock time, UTC by this system's convention
    DATE = "date"
    TIME = "time"
    NUMBER = "number"
    FLOAT = "float"
    JSON = "json"  # VARIANT / OBJECT / ARRAY, loaded through PARSE_JSON
    TEXT = "text"  # everything else: PostgreSQL's text output, loaded as written


KINDS = {
    **dict.fromkeys(("TIMESTAMP_TZ", "TIMESTAMPTZ", "TIMESTAMP_LTZ", "TIMESTAMPLTZ"), Kind.TIMESTAMP_TZ),
    **dict.fromkeys(("TIMESTAMP_NTZ", "TIMESTAMPNTZ", "DATETIME"), Kind.TIMESTAMP_NTZ),
    "DATE": Kind.DATE,
    "TIME": Kind.TIME,
    **dict.fromkeys(("NUMBER", "DECIMAL", "DEC", "NUMERIC"), Kind.NUMBER),
    **dict.fromkeys(("INT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "BYTEINT"), Kind.NUMBER),
    **dict.fromkeys(("FLOAT", "FLOAT4", "FLOAT8", "DOUBLE", "REAL"), Kind.FLOAT),
    **dict.fromkeys(("VARIANT", "OBJECT", "ARRAY"), Kind.JSON),
}

# PostgreSQL types (pg_type.typname) each kind's rendering is written for. TEXT takes anything.
FITS: dict[Kind, frozenset[str]] = {
    Kind.TIMESTAMP_TZ: frozenset({"timestamptz"}),
    Kind.TIMESTAMP_NTZ: frozenset({"timestamp"}),
    Kind.DATE: frozenset({"date"}),
    Kind.TIME: frozenset({"time"}),
    Kind.NUMBER: frozenset({"int2", "int4", "int8", "numeric"}),
    Kind.FLOAT: frozenset({"int2", "int4", "int8", "numeric", "float4", "float8"}),
    Kind.JSON: frozenset({"json", "jsonb"}),
}

# What Snowflake cannot hold, per kind: the reason an export stops on such a value.
_YEARS = "holds the years 0001..9999 only (no infinity, BC or 5-digit year)"
LIMITS = {
    Kind.TIMESTAMP_TZ: _YEARS,
    Kind.TIMESTAMP_NTZ: _YEARS,
    Kind.DATE: _YEARS,
    Kind.TIME: "ends at 23:59:59.999999999 (PostgreSQL allows 24:00:00)",
}

# Starts the error text of a value the export query refuses (exporter/query.py builds the refusal;
# the Aurora adapter reads it back with `rejected_value`).
REJECT_MARKER = "aurora-snowflake-sync rejects "

# As written in tables.json: NUMBER(38,0), VARCHAR, TIMESTAMP_TZ(6), ... (upper-cased first).
SNOWFLAKE_TYPE_PATTERN = re.compile(r"^([A-Z][A-Z0-9_]*)(?: ?\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?$")
MAX_PRECISION = 38


@dataclass(frozen=True)
class ColumnType:
    kind: Kind
    name: str  # the type as configured, e.g. NUMBER(12,2)
    precision: int = MAX_PRECISION  # NUMBER only
    scale: int = 0

    @property
    def integer_digits(self) -> int:
        """Digits allowed left of the point: Snowflake refuses to load a NUMBER value with more."""
        return self.precision - self.scale

    def limit(self) -> str:
        """What Snowflake's type cannot hold, for the error on-call reads."""
        if self.kind is Kind.NUMBER:
            what = f"has no NaN or Infinity and at most {self.integer_digits} digit(s) left of the point"
        else:
            what = LIMITS.get(self.kind, "cannot hold it")
        return f"Snowflake {self.name} {what}"


def column_type(configured: str) -> ColumnType:
    """Classify a tables.json type. ValueError for what the export could not render safely."""
    name = configured.strip().upper()
    match = SNOWFLAKE_TYPE_PATTERN.fullmatch(name)
    if match is None:
        raise ValueError(f"{configured!r} is not a Snowflake type such as NUMBER(38,0) or TIMESTAMP_TZ")
    base, first, second = match.groups()
    if base == "TIMESTAMP":
        # Its meaning is the account's TIMESTAMP_TYPE_MAPPING; the exporter must know which it is.
        raise ValueError(
            "TIMESTAMP depends on the account's TIMESTAMP_TYPE_MAPPING; write TIMESTAMP_TZ or TIMESTAMP_NTZ"
        )
    kind = KINDS.get(base, Kind.TEXT)
    if kind is not Kind.NUMBER:
        return ColumnType(kind, name)
    if base not in ("NUMBER", "DECIMAL", "DEC", "NUMERIC") and first is not None:
        raise ValueError(f"{base} takes no precision (it is NUMBER(38,0))")
    precision = MAX_PRECISION if first is None else int(first)
    scale = 0 if second is None else int(second)
    if not 1 <= precision <= MAX_PRECISION or not 0 <= scale <= min(precision, 37):
        raise ValueError(f"{name}: precision must be 1..38 and scale 0..37, at most the precision")
    return ColumnType(kind, name, precision, scale)


def mismatch(column: str, configured: str, pg_type: str) -> str | None:
    """Why Aurora's `pg_type` cannot feed the configured Snowflake type, or None when it fits."""
    kind = column_type(configured).kind
    allowed = FITS.get(kind)
    if allowed is None or pg_type in allowed:
        return None
    return (
        f"column {column} is {pg_type} in Aurora but {configured} in tables.json, which takes "
        f"{' or '.join(sorted(allowed))}"
    )


# Key columns hard-delete detection can compare (aurora_sync.deletes): types whose text form is the
# same in PostgreSQL (`::text`) and Snowflake (`TO_VARCHAR`), so both sides hash the same string.
# NUMBER with scale 0 (PostgreSQL's integer text, Snowflake's TO_VARCHAR of a scale-0 NUMBER: digits
# and a leading minus), and the VARCHAR family (the export writes PostgreSQL's text, which the pipe
# loads as written; a uuid is its canonical lower-case form). CHAR pads with blanks in PostgreSQL
# (bpchar) and not in Snowflake; a fraction, a float or a timestamp prints differently on each side.
KEY_TEXT_TYPES = frozenset({"VARCHAR", "STRING", "TEXT", "NVARCHAR", "NVARCHAR2"})


def comparable_key(configured: str) -> str | None:
    """Why a primary-key column of this configured type cannot be compared across the two databases
    by its text form, or None when it can."""
    ctype = column_type(configured)
    base = ctype.name.split("(")[0]
    if ctype.kind is Kind.NUMBER and ctype.scale == 0:
        return None
    if ctype.kind is Kind.TEXT and base in KEY_TEXT_TYPES:
        return None
    return (
        f"{ctype.name}, which prints differently in PostgreSQL and Snowflake; delete detection compares keys "
        "of NUMBER with scale 0 (integers) or VARCHAR/STRING/TEXT (text, uuid) only"
    )


def rejected_value(message: str, action: str) -> RejectedValueError | None:
    """The value a failed export query refused, read from PostgreSQL's error message; None when the
    error is not one of ours."""
    start = message.find(REJECT_MARKER)
    if start < 0:
        return None
    try:
        doc, _ = json.JSONDecoder().raw_decode(message, start + len(REJECT_MARKER))
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    column, value, key = doc.get("column"), doc.get("value"), doc.get("key")
    if not isinstance(column, str) or not isinstance(key, dict):
        return None
    return RejectedValueError(column, str(value), key, action)
