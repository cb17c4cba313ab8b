"""Configured Snowflake types: how the export renders them and which Aurora types may feed them."""

from __future__ import annotations

import pytest

from aurora_sync.column_types import Kind, column_type, mismatch


@pytest.mark.parametrize(
    ("configured", "kind"),
    [
        ("TIMESTAMP_TZ(6)", Kind.TIMESTAMP_TZ),
        ("timestamp_ltz", Kind.TIMESTAMP_TZ),
        ("TIMESTAMP_NTZ(6)", Kind.TIMESTAMP_NTZ),
        ("DATETIME", Kind.TIMESTAMP_NTZ),
        ("DATE", Kind.DATE),
        ("TIME(6)", Kind.TIME),
        ("NUMBER(12,2)", Kind.NUMBER),
        ("BIGINT", Kind.NUMBER),
        ("FLOAT", Kind.FLOAT),
        ("VARIANT", Kind.JSON),
        ("VARCHAR(20)", Kind.TEXT),
        ("BOOLEAN", Kind.TEXT),
    ],
)
def test_types_are_classified_by_how_the_csv_renders_them(configured: str, kind: Kind) -> None:
    assert column_type(configured).kind is kind


def test_number_precision_gives_the_digits_left_of_the_point() -> None:
    assert column_type("NUMBER(12,2)").integer_digits == 10
    assert column_type("NUMBER").integer_digits == 38
    assert column_type("NUMBER (5)").integer_digits == 5
    assert column_type("INTEGER").integer_digits == 38


@pytest.mark.parametrize(
    ("configured", "problem"),
    [
        ("TIMESTAMP", "TIMESTAMP_TYPE_MAPPING"),
        ("TIMESTAMP(6)", "TIMESTAMP_TYPE_MAPPING"),
        ("NUMBER(39,0)", "precision"),
        ("NUMBER(5,6)", "scale"),
        ("INT(10)", "no precision"),
        ("NUMBER; DROP", "not a Snowflake type"),
    ],
)
def test_types_the_export_cannot_render_are_refused(configured: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        column_type(configured)


@pytest.mark.parametrize(
    ("configured", "pg_type", "fits"),
    [
        ("TIMESTAMP_TZ(6)", "timestamptz", True),
        ("TIMESTAMP_TZ(6)", "timestamp", False),  # would claim UTC offsets for wall-clock times
        ("TIMESTAMP_NTZ(6)", "timestamptz", False),
        ("DATE", "timestamp", False),
        ("TIME(6)", "timetz", False),
        ("NUMBER(38,0)", "int8", True),
        ("NUMBER(12,2)", "float8", False),
        ("FLOAT", "numeric", True),
        ("VARIANT", "json", True),
        ("VARIANT", "text", False),
        ("VARCHAR", "timestamptz", True),  # text takes PostgreSQL's own output of anything
    ],
)
def test_aurora_type_must_fit_the_configured_type(configured: str, pg_type: str, fits: bool) -> None:
    problem = mismatch("c", configured, pg_type)
    assert (problem is None) is fits
    if problem:
        assert "column c is" in problem and pg_type in problem and configured in problem
