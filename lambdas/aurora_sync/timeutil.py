"""Instants: parsed strictly, kept timezone-aware in UTC, rendered for SQL by typed code only.

The export query cannot bind parameters (COPY and aws_s3.query_export_to_s3 both take query
text), so bounds are rendered here as literals; only a datetime can reach the renderer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def parse_instant(value: object, field: str) -> datetime:
    """Parse an ISO-8601 instant that carries an offset ('Z' or +hh:mm); naive times are ambiguous."""
    if not isinstance(value, str):
        raise ValueError(f"{field}: expected an ISO-8601 string with a timezone, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{field}: {value!r} is not an ISO-8601 time") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(f"{field}: {value!r} has no timezone; add 'Z' or an offset")
    return parsed.astimezone(UTC)


def as_utc(value: datetime) -> datetime:
    """Naive datetimes from a TIMESTAMP_NTZ/`timestamp` column are UTC by this system's convention."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def iso(value: datetime) -> str:
    """Render an instant for logs, manifests and results: ISO-8601, UTC, microseconds, 'Z'."""
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def pg_timestamptz_literal(value: datetime) -> str:
    """A PostgreSQL timestamptz literal for `value`; the only way a time enters export SQL text."""
    if not isinstance(value, datetime):
        raise TypeError("pg_timestamptz_literal needs a datetime")
    return "'" + as_utc(value).strftime("%Y-%m-%d %H:%M:%S.%f") + "+00'::timestamptz"
