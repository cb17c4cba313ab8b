"""The translation of Snowflake date/time formats into Python parsers, which the fidelity tests and
the local Snowpipe stand-in use to refuse what the pinned file format refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.support.snowflake_format import compile_format, file_format_options, pinned_parsers, to_regex

ISO = 'YYYY-MM-DD"T"HH24:MI:SS.FF6TZH:TZM'


def test_iso_format_parses_its_own_shape_to_an_aware_instant() -> None:
    # GIVEN the ISO format with a six-digit fraction and an hour:minute offset
    parse = compile_format(ISO)
    # WHEN values of that exact shape are parsed THEN each is the instant it denotes
    assert parse("2026-11-20T10:00:00.123456+00:00") == datetime(2026, 11, 20, 10, 0, 0, 123456, tzinfo=UTC)
    assert parse("0001-01-01T00:00:00.000000-05:30") == datetime(
        1, 1, 1, tzinfo=timezone(-timedelta(hours=5, minutes=30))
    )


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-20 10:00:00.123456+00",  # PostgreSQL's default output: space, hour-only offset
        "2026-11-20T10:00:00.123456+00",  # hour-only offset
        "2026-11-20T10:00:00.1+00:00",  # variable fraction
        "2026-11-20T10:00:00+00:00",  # no fraction
        "2026-11-20T10:00:00.123456",  # no offset
        "10000-01-01T00:00:00.000000+00:00",  # five-digit year
        "0044-03-15T00:00:00.000000+00:00 BC",  # era suffix
        "infinity",
        "2026-13-01T00:00:00.000000+00:00",  # month 13
        "0000-01-01T00:00:00.000000+00:00",  # year 0 does not exist
    ],
)
def test_iso_format_refuses_every_other_shape(text: str) -> None:
    with pytest.raises(ValueError):
        compile_format(ISO)(text)


def test_date_and_time_formats() -> None:
    assert compile_format("YYYY-MM-DD")("2026-02-28").date().isoformat() == "2026-02-28"
    assert compile_format("HH24:MI:SS.FF6")("23:59:59.999999").time().isoformat() == "23:59:59.999999"
    for bad_time in ("24:00:00.000000", "10:00:00", "10:00:00.5"):
        with pytest.raises(ValueError):
            compile_format("HH24:MI:SS.FF6")(bad_time)
    with pytest.raises(ValueError):
        compile_format("YYYY-MM-DD")("2026-02-30")


def test_literals_are_matched_literally_and_untranslated_elements_are_refused() -> None:
    assert to_regex('YYYY"T."MM') == r"(?P<year>\d{4})T\.(?P<month>\d{2})"
    for untranslated in ("DD-MON-YYYY", "YYYY-MM-DD HH12:MI AM", "HH24:MI:SS.FF9", 'YYYY"T'):
        with pytest.raises(ValueError):
            compile_format(untranslated)


def test_options_are_read_from_sql_with_quotes_undone() -> None:
    sql = "CREATE FILE FORMAT x\n  TYPE = CSV\n  DATE_FORMAT = 'YYYY-MM-DD'\n  NAME = 'it''s'\n"
    assert file_format_options(sql) == {"DATE_FORMAT": "YYYY-MM-DD", "NAME": "it's"}


def test_the_pinned_file_format_pins_all_three_formats() -> None:
    # GIVEN the file format the pipes use, rendered like production WHEN its formats are compiled
    parsers = pinned_parsers()
    # THEN the exporter's shapes parse, and PostgreSQL's default timestamp output does not
    assert parsers["TIMESTAMP"]("2026-11-20T10:00:00.000000+00:00").tzinfo is not None
    assert parsers["DATE"]("2026-11-20").day == 20
    assert parsers["TIME"]("10:00:00.000000").hour == 10
    with pytest.raises(ValueError):
        parsers["TIMESTAMP"]("2026-11-20 10:00:00.123456+00")
