"""SQL identifiers: validated against one strict pattern, then always quoted.

Validation keeps injection out; quoting keeps reserved words and mixed case working. Snowflake
objects use the upper-cased name, quoted, which is what an unquoted name resolves to there, so
analysts can still type FINAL.ORDERS.updated_at without quotes.
"""

from __future__ import annotations

import re

IDENTIFIER_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
MAX_IDENTIFIER_LENGTH = 63  # PostgreSQL's NAMEDATALEN - 1; Snowflake allows 255.


def validate_identifier(value: str, what: str = "identifier") -> str:
    """Return `value` unchanged if it is a safe single identifier part, else raise ValueError."""
    if not isinstance(value, str) or not IDENTIFIER_PATTERN.fullmatch(value):
        raise ValueError(f"{what} {value!r} must match {IDENTIFIER_PATTERN.pattern}")
    if len(value) > MAX_IDENTIFIER_LENGTH:
        raise ValueError(f"{what} {value!r} is longer than {MAX_IDENTIFIER_LENGTH} characters")
    return value


def quote_pg(*parts: str) -> str:
    """Quote a (possibly qualified) PostgreSQL name: quote_pg("public", "orders") -> "public"."orders"."""
    return ".".join('"' + validate_identifier(p) + '"' for p in parts)


def quote_sf(*parts: str) -> str:
    """Quote a Snowflake name by its upper-cased parts: quote_sf("final", "orders") -> "FINAL"."ORDERS"."""
    return ".".join('"' + validate_identifier(p).upper() + '"' for p in parts)
