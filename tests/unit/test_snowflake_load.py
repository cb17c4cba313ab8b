"""The local Snowpipe stand-in's field checks: what the pipe's COPY would refuse, refused here too."""

from __future__ import annotations

import pytest

from tests.support.snowflake_load import Rejected, converter


@pytest.mark.parametrize(
    ("configured", "field", "loaded"),
    [
        ("TIMESTAMP_TZ(6)", "2026-11-20T10:00:00.123456+00:00", "2026-11-20 10:00:00.123456+00:00"),
        # NTZ keeps the wall-clock time; the offset is not applied
        ("TIMESTAMP_NTZ(6)", "2026-11-20T10:00:00.000001+00:00", "2026-11-20 10:00:00.000001"),
        ("DATE", "0001-01-01", "0001-01-01"),
        ("TIME(6)", "23:59:59.999999", "23:59:59.999999"),
        ("NUMBER(12,2)", "-9999999999.99", "-9999999999.99"),
        ("FLOAT", "-inf", "-inf"),
        ("FLOAT", "NaN", "NaN"),
        ("FLOAT", "1.0000000000000002", "1.0000000000000002"),
        ("VARIANT", '{"k": 2}', '{"k": 2}'),
        ("VARCHAR", "2026-11-20 10:00:00+00", "2026-11-20 10:00:00+00"),
    ],
)
def test_fields_snowflake_loads_pass(configured: str, field: str, loaded: str) -> None:
    assert converter(configured)(field) == loaded


@pytest.mark.parametrize(
    ("configured", "field"),
    [
        ("TIMESTAMP_TZ(6)", "2026-11-20 10:00:00.123456+00"),  # PostgreSQL's own output
        ("TIMESTAMP_NTZ(6)", "2026-11-20 10:00:00"),
        ("DATE", "infinity"),
        ("DATE", "0044-03-15 BC"),
        ("TIME(6)", "24:00:00.000000"),
        ("NUMBER(12,2)", "NaN"),
        ("NUMBER(12,2)", "12345678901.00"),  # 11 digits left of the point, 10 allowed
        ("FLOAT", "Infinity"),  # not one of the documented spellings
        ("VARIANT", '{"k": 1, "k": 2}'),  # PARSE_JSON refuses duplicate keys by default
        ("VARIANT", "{not json"),
    ],
)
def test_fields_snowflake_refuses_are_refused(configured: str, field: str) -> None:
    with pytest.raises(Rejected):
        converter(configured)(field)
