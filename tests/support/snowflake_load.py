"""What the pipe's COPY would make of one CSV field, for the local Snowpipe stand-in.

fakesnow cannot run the pipe's COPY, and DuckDB parses far more leniently than the file format
pins, so the stand-in checks each field the way Snowflake's documentation says the load will:
- dates, times, timestamps: the file format's DATE/TIME/TIMESTAMP_FORMAT (tests/support/
  snowflake_format.py); a TIMESTAMP_NTZ keeps the wall-clock time and drops the offset
  ("Date & time data types": NTZ is wall-clock time, operations ignore time zones);
- NUMBER(p,s): a plain decimal with at most p-s digits left of the point ("Numeric data types");
- FLOAT: a decimal, or 'NaN' / 'inf' / '-inf' in any case, the special values documented there;
- VARIANT/OBJECT/ARRAY: JSON PARSE_JSON accepts by default, which refuses duplicate keys
  ("PARSE_JSON", https://docs.snowflake.com/en/sql-reference/functions/parse_json).
A field that fails raises Rejected with a message in the style of COPY_HISTORY's first error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from aurora_sync.column_types import ColumnType, Kind, column_type
from tests.support.snowflake_format import Parser, pinned_parsers

Converter = Callable[[str], str]
_DECIMAL = re.compile(r"[+-]?(\d+)(\.\d+)?")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_FLOAT_SPECIAL = frozenset({"nan", "inf", "-inf"})


class Rejected(ValueError):
    """The field cannot be loaded into its column; Snowpipe would skip the whole file."""


def converter(configured: str, parsers: dict[str, Parser] | None = None) -> Converter:
    """Check and normalize one non-NULL field for a column of the configured Snowflake type."""
    spec = column_type(configured)
    p = parsers or pinned_parsers()
    temporal: dict[Kind, tuple[str, Callable[[Any], str]]] = {
        Kind.TIMESTAMP_TZ: ("TIMESTAMP", lambda v: v.isoformat(sep=" ")),
        Kind.TIMESTAMP_NTZ: ("TIMESTAMP", lambda v: v.replace(tzinfo=None).isoformat(sep=" ")),
        Kind.DATE: ("DATE", lambda v: v.date().isoformat()),
        Kind.TIME: ("TIME", lambda v: v.time().isoformat()),
    }
    if spec.kind in temporal:
        name, render = temporal[spec.kind]
        return lambda text: render(_parse(p[name], name, text))
    checks: dict[Kind, Converter] = {
        Kind.NUMBER: lambda text: _number(spec, text),
        Kind.FLOAT: _float,
        Kind.JSON: _json,
    }
    return checks.get(spec.kind, lambda text: text)


def _parse(parser: Parser, name: str, text: str) -> Any:
    try:
        return parser(text)
    except ValueError:
        raise Rejected(f"{name.capitalize()} '{text}' is not recognized") from None


def _number(spec: ColumnType, text: str) -> str:
    match = _DECIMAL.fullmatch(text)
    if match is None:
        raise Rejected(f"Numeric value '{text}' is not recognized")
    if len(match.group(1).lstrip("0")) > spec.integer_digits:
        raise Rejected(f"Numeric value '{text}' is out of range for {spec.name}")
    return text


def _float(text: str) -> str:
    if text.lower() not in _FLOAT_SPECIAL and _FLOAT.fullmatch(text) is None:
        raise Rejected(f"Numeric value '{text}' is not recognized")
    return text


def _json(text: str) -> str:
    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            raise Rejected(f"Error parsing JSON: duplicate field key in {text[:80]!r}")
        return dict(pairs)

    try:
        json.loads(text, object_pairs_hook=unique)
    except Rejected:
        raise
    except ValueError:
        raise Rejected(f"Error parsing JSON: {text[:80]!r}") from None
    return text
