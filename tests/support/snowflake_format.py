"""Snowflake's date/time format strings, read from the rendered file format and turned into strict
Python parsers, so tests and the local Snowpipe stand-in refuse what the pinned format refuses.

Snowflake's elements (docs: "Date and time input and output formats",
https://docs.snowflake.com/en/sql-reference/date-time-input-output) handled here: YYYY, MM, DD,
HH24, MI, SS, FF0..FF6, TZH:TZM, TZHTZM, TZH, double-quoted literal text, and the separators
- : . / , and space. Anything else raises, so a format nobody translated cannot pass silently.
Each numeric element takes exactly its width: where Snowflake's input leniency is undocumented
(fewer digits, a missing fraction) this parser is the stricter one, which errs towards failing
locally rather than in Snowpipe.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

# Longest names first: TZH:TZM before TZH, HH24 before anything starting with H.
_ELEMENTS = [
    ("TZH:TZM", r"(?P<tzh>[+-]\d{2}):(?P<tzm>\d{2})"),
    ("TZHTZM", r"(?P<tzh>[+-]\d{2})(?P<tzm>\d{2})"),
    ("TZH", r"(?P<tzh>[+-]\d{2})"),
    ("YYYY", r"(?P<year>\d{4})"),
    ("HH24", r"(?P<hour>\d{2})"),
    ("MM", r"(?P<month>\d{2})"),
    ("DD", r"(?P<day>\d{2})"),
    ("MI", r"(?P<minute>\d{2})"),
    ("SS", r"(?P<second>\d{2})"),
]
_FRACTION = re.compile(r"FF([0-6])")
_SEPARATORS = "-:./, "

Parser = Callable[[str], datetime]


def to_regex(fmt: str) -> str:
    """The regular expression matching exactly the strings `fmt` describes."""
    out, i = [], 0
    while i < len(fmt):
        if fmt[i] == '"':
            end = fmt.index('"', i + 1)  # ValueError when unterminated
            out.append(re.escape(fmt[i + 1 : end]))
            i = end + 1
            continue
        if fmt[i] in _SEPARATORS:
            out.append(re.escape(fmt[i]))
            i += 1
            continue
        element = next(((name, rx) for name, rx in _ELEMENTS if fmt.startswith(name, i)), None)
        if element is not None:
            out.append(element[1])
            i += len(element[0])
            continue
        fraction = _FRACTION.match(fmt, i)
        if fraction is None:
            raise ValueError(f"format {fmt!r}: element at {fmt[i:]!r} is not translated")
        digits = int(fraction.group(1))
        out.append(rf"(?P<fraction>\d{{{digits}}})" if digits else "")
        i = fraction.end()
    return "".join(out)


def compile_format(fmt: str) -> Parser:
    """A parser for `fmt`: the datetime a matching string denotes (aware when the format has an
    offset; date parts default to 1970-01-01, time parts to 0), ValueError for anything else,
    including impossible values (month 13, hour 24, year 0)."""
    pattern = re.compile(to_regex(fmt))

    def parse(text: str) -> datetime:
        match = pattern.fullmatch(text)
        if match is None:
            raise ValueError(f"{text!r} is not recognized with format {fmt!r}")
        part = match.groupdict()
        fraction = (part.get("fraction") or "").ljust(6, "0")
        value = datetime(
            int(part.get("year") or 1970),
            int(part.get("month") or 1),
            int(part.get("day") or 1),
            int(part.get("hour") or 0),
            int(part.get("minute") or 0),
            int(part.get("second") or 0),
            int(fraction),
        )
        if part.get("tzh") is None:
            return value
        hours, minutes = int(part["tzh"]), int(part.get("tzm") or 0)
        offset = timedelta(hours=abs(hours), minutes=minutes) * (-1 if part["tzh"].startswith("-") else 1)
        return value.replace(tzinfo=timezone(offset))

    return parse


def file_format_options(sql: str) -> dict[str, str]:
    """`KEY = 'value'` options of a rendered CREATE FILE FORMAT (SQL quoting undone)."""
    options = {}
    for key, value in re.findall(r"^\s*([A-Z_]+) = '((?:[^']|'')*)'\s*$", sql, re.MULTILINE):
        options[key] = value.replace("''", "'")
    return options


@functools.cache
def pinned_parsers() -> dict[str, Parser]:
    """TIMESTAMP / DATE / TIME parsers from the file format the pipes use, rendered like production."""
    from aurora_sync.snowflake_sql import render

    options = file_format_options(render("file_format", {"file_format": '"STAGING"."AURORA_CSV"'}))
    return {kind: compile_format(options[f"{kind}_FORMAT"]) for kind in ("TIMESTAMP", "DATE", "TIME")}
