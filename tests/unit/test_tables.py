"""Table configuration: the SSM parameter is validated whole, errors name the field."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from aurora_sync.errors import ConfigError
from aurora_sync.tables import parse_entry, parse_override, parse_tables

GOOD: dict[str, Any] = {
    "table_name": "public.orders",
    "watermark_col": "updated_at",
    "primary_keys": ["id"],
    "columns": [{"name": "id", "type": "NUMBER(38,0)"}, {"name": "updated_at", "type": "TIMESTAMP_TZ"}],
}


def with_(**changes: Any) -> str:
    entry = copy.deepcopy(GOOD)
    entry.update(changes)
    return json.dumps([entry])


def test_minimal_entry_gets_documented_defaults() -> None:
    table = parse_tables(with_(), "p").tables[0]
    assert (table.lookback_seconds, table.freshness_sla_minutes) == (0, 120)
    assert table.retired_column_names == [] and table.column_names == ["id", "updated_at"]
    assert table.snowflake_table == "ORDERS"


def test_target_table_overrides_snowflake_name() -> None:
    assert parse_tables(with_(target_table="orders_v2"), "p").tables[0].snowflake_table == "ORDERS_V2"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("{not json", "(value)"),
        ('{"table_name": "x"}', "(value)"),
        (with_(table_name="orders"), "[0].table_name"),
        (with_(table_name="public.orders; drop table x"), "[0].table_name"),
        (with_(table_name='public."orders"'), "[0].table_name"),
        (with_(watermark_col="updated_at--"), "[0].watermark_col"),
        (with_(watermark_col="created_at"), "[0]"),
        (with_(primary_keys=[]), "[0].primary_keys"),
        (with_(primary_keys=["nope"]), "[0]"),
        (with_(columns=[{"name": "id", "type": "NUMBER; drop"}]), "[0].columns[0].type"),
        (with_(columns=[{"name": "a b", "type": "VARCHAR"}]), "[0].columns[0].name"),
        # the export renders a column by its type: an alias of unknown meaning or an impossible
        # NUMBER is refused before any export
        (
            with_(columns=[*GOOD["columns"][:1], {"name": "updated_at", "type": "TIMESTAMP"}]),
            "[0].columns[1].type",
        ),
        (with_(columns=[{"name": "id", "type": "NUMBER(40,2)"}, GOOD["columns"][1]]), "[0].columns[0].type"),
        (with_(columns=[{"name": "id", "type": "INT(10)"}, GOOD["columns"][1]]), "[0].columns[0].type"),
        (with_(lookback_seconds=-1), "[0].lookback_seconds"),
        (with_(watermark_column="updated_at"), "[0].watermark_column"),
        # low_volume: each value in range, no unknown key, no more weeks required than looked at
        (with_(low_volume={"below_fraction": 1.5}), "[0].low_volume.below_fraction"),
        (with_(low_volume={"weeks": 5}), "[0].low_volume.weeks"),
        (with_(low_volume={"hours": 0}), "[0].low_volume.hours"),
        (with_(low_volume={"runs": 6}), "[0].low_volume.runs"),
        (with_(low_volume={"weeks": 2, "min_weeks": 3}), "min_weeks: 3 is more than weeks (2)"),
        # daily_credit_budget: a positive, finite JSON number (not a string, not true)
        (with_(daily_credit_budget=0), "[0].daily_credit_budget"),
        (with_(daily_credit_budget=-1.5), "[0].daily_credit_budget"),
        (with_(daily_credit_budget="5"), "[0].daily_credit_budget"),
        (with_(daily_credit_budget=True), "[0].daily_credit_budget"),
        (with_(daily_credit_budget=[5]), "[0].daily_credit_budget"),
        (with_(daily_credit_budgets=5), "[0].daily_credit_budgets"),
        (json.dumps([GOOD, GOOD]), "tables[1].table_name"),
        # delete detection: a known mode, a fraction in (0, 1] and only with detection on, keys whose
        # text form both databases print alike, no clash with the soft mode's column
        (with_(delete_detection="on"), "[0].delete_detection"),
        (with_(delete_detection="hard", max_delete_fraction=0), "[0].max_delete_fraction"),
        (with_(delete_detection="hard", max_delete_fraction=1.5), "[0].max_delete_fraction"),
        (with_(max_delete_fraction=0.1), "max_delete_fraction: set, but delete_detection is off"),
        (
            with_(delete_detection="hard", primary_keys=["updated_at"]),
            "delete_detection: primary key 'updated_at' is TIMESTAMP_TZ, which prints differently",
        ),
        (
            with_(
                delete_detection="soft", columns=[{"name": "id", "type": "NUMBER(12,2)"}, GOOD["columns"][1]]
            ),
            "delete_detection: primary key 'id' is NUMBER(12,2)",
        ),
        (
            with_(delete_detection="hard", columns=[{"name": "id", "type": "CHAR(8)"}, GOOD["columns"][1]]),
            "delete_detection: primary key 'id' is CHAR(8)",
        ),
        (
            with_(
                delete_detection="soft",
                columns=[*GOOD["columns"], {"name": "_deleted_at", "type": "VARCHAR"}],
            ),
            "delete_detection: soft adds the FINAL column _DELETED_AT",
        ),
    ],
)
def test_bad_entry_is_rejected_naming_the_field(raw: str, field: str) -> None:
    # GIVEN a malformed parameter WHEN parsed THEN ConfigError names the parameter and the field
    with pytest.raises(ConfigError) as caught:
        parse_tables(raw, "/aurora-snowflake-sync/tables")
    assert str(caught.value).startswith("/aurora-snowflake-sync/tables: ")
    assert field in caught.value.field or field in str(caught.value), str(caught.value)


def test_override_accepts_full_refresh_and_rejects_typos() -> None:
    assert parse_override('{"full_refresh": true}', "o").full_refresh is True
    with pytest.raises(ConfigError) as caught:
        parse_override('{"full_refesh": true}', "o")
    assert "full_refesh" in str(caught.value)


@pytest.mark.parametrize("value", [True, False])
def test_full_refresh_in_an_entry_is_refused_pointing_to_the_override(value: bool) -> None:
    # GIVEN a table's SSM parameter that still holds full_refresh (tables.json of an older release)
    name = "/aurora-snowflake-sync/prod/tables/public.orders"
    raw = json.dumps({**GOOD, "full_refresh": value})
    # WHEN the Lambdas parse it THEN it fails naming the parameter, the field and both ways to a
    # full export, instead of ignoring the key (a full export every hour) or calling it unknown
    with pytest.raises(ConfigError) as caught:
        parse_entry(raw, name, "public.orders")
    message = str(caught.value)
    assert caught.value.field == "full_refresh"
    assert message.startswith(f"{name}: full_refresh: no longer a tables.json key")
    assert '/aurora-snowflake-sync/<env>/overrides/public.orders to {"full_refresh": true}' in message
    assert "runbook: full-reload" in message and "aurora-sync resync public.orders" in message
    # AND in the list form too (tables.json itself, checked by tests and onboarding)
    with pytest.raises(ConfigError, match=r"\[0\]\.full_refresh: no longer a tables.json key"):
        parse_tables(with_(full_refresh=True), "tables.json")


def test_a_retired_column_is_kept_in_the_config_but_not_exported() -> None:
    # GIVEN a column Aurora dropped, marked retired in place
    columns = [*GOOD["columns"], {"name": "note", "type": "VARCHAR", "retired": True}]
    table = parse_tables(with_(columns=columns), "p").tables[0]
    # THEN it is a column of the table, not one of those exported
    assert [c.name for c in table.columns] == ["id", "updated_at", "note"]
    assert table.column_names == ["id", "updated_at"] and table.retired_column_names == ["note"]


@pytest.mark.parametrize("field", ["watermark_col", "primary_keys", "soft_delete_col"])
def test_a_key_watermark_or_soft_delete_column_cannot_be_retired(field: str) -> None:
    columns = [
        {"name": "id", "type": "NUMBER(38,0)", "retired": field == "primary_keys"},
        {"name": "updated_at", "type": "TIMESTAMP_TZ", "retired": field == "watermark_col"},
        {"name": "deleted", "type": "BOOLEAN", "retired": field == "soft_delete_col"},
    ]
    with pytest.raises(ConfigError, match=f"{field}: .* is retired"):
        parse_tables(with_(columns=columns, soft_delete_col="deleted"), "p")


def test_a_misspelt_column_key_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"columns\[1\]\.retire"):
        parse_tables(with_(columns=[GOOD["columns"][0], {**GOOD["columns"][1], "retire": True}]), "p")


def test_low_volume_is_off_when_absent_and_takes_documented_defaults() -> None:
    # GIVEN an entry without low_volume, and one with `"low_volume": {}`
    # WHEN parsed THEN the first has it off, the second the defaults of docs/architecture.md
    assert parse_tables(with_(), "p").tables[0].low_volume is None
    config = parse_tables(with_(low_volume={}), "p").tables[0].low_volume
    assert config is not None
    assert (config.hours, config.below_fraction, config.weeks, config.min_weeks, config.min_rows) == (
        6,
        0.2,
        3,
        2,
        100,
    )


@pytest.mark.parametrize(("value", "parsed"), [(None, None), (2, 2.0), (0.25, 0.25)])
def test_daily_credit_budget_is_optional_and_takes_any_positive_number(
    value: float | None, parsed: float | None
) -> None:
    # GIVEN an entry without daily_credit_budget, with a whole number, with a fraction
    raw = with_() if value is None else with_(daily_credit_budget=value)
    # WHEN parsed THEN it is off (None: the cost check reports, never alerts) or that many credits
    assert parse_tables(raw, "p").tables[0].daily_credit_budget == parsed


def test_delete_detection_is_off_by_default_and_takes_integer_text_and_uuid_keys() -> None:
    # GIVEN an entry without delete_detection, and entries with it on over the key types it compares
    table = parse_tables(with_(), "p").tables[0]
    assert (table.delete_detection, table.detects_deletes, table.delete_limit_fraction) == (
        "off",
        False,
        0.01,
    )
    for key_type in ("NUMBER(38,0)", "INT", "NUMBER(10)", "VARCHAR", "VARCHAR(36)", "STRING", "TEXT"):
        columns = [{"name": "id", "type": key_type}, GOOD["columns"][1]]
        # WHEN parsed THEN it is on, with the documented guard or the configured one
        on = parse_tables(with_(delete_detection="hard", columns=columns), "p").tables[0]
        assert (on.detects_deletes, on.delete_limit_fraction) == (True, 0.01)
    soft = parse_tables(with_(delete_detection="soft", max_delete_fraction=0.2), "p").tables[0]
    assert (soft.delete_detection, soft.delete_limit_fraction) == ("soft", 0.2)
