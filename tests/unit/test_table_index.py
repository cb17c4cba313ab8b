"""The table list's layout in Parameter Store (aurora_sync.table_index), without Parameter Store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aurora_sync.errors import ConfigError
from aurora_sync.exporter.payloads import item_table
from aurora_sync.table_index import (
    INDEX_PART_SIZE,
    entries_digest,
    entry_parameter,
    parse_index,
    parse_index_part,
    render_parameters,
)

ROOT = Path(__file__).resolve().parents[2]
DEV = json.loads((ROOT / "terraform/envs/dev/tables.json").read_text())
NAME = "/aurora-snowflake-sync/dev/tables"


def test_a_dollar_in_a_table_name_becomes_a_dash_in_its_parameter() -> None:
    # GIVEN an identifier with `$` (allowed there, not in parameter names) THEN `-`, allowed in neither
    assert entry_parameter(NAME, "public.order$lines") == f"{NAME}/public.order-lines"


def test_render_keeps_tables_json_order_and_digests_every_entry() -> None:
    # GIVEN dev's tables.json WHEN rendered THEN one parameter per table plus the index, in file order
    rendered = render_parameters(DEV, NAME)
    index = parse_index(rendered[NAME], NAME)
    assert index.tables == [e["table_name"] for e in DEV] and index.count == 2 and index.parts == 1
    values = {e["table_name"]: rendered[entry_parameter(NAME, e["table_name"])] for e in DEV}
    assert index.sha256 == entries_digest(values)
    assert [json.loads(v) for v in values.values()] == DEV


def test_more_than_one_part_of_names_goes_to_index_parameters() -> None:
    # GIVEN 130 tables WHEN rendered THEN the index holds 60 names and index-2, index-3 the rest
    many = [{**DEV[0], "table_name": f"public.t{i:03d}"} for i in range(130)]
    rendered = render_parameters(many, NAME)
    index = parse_index(rendered[NAME], NAME)
    rest = [parse_index_part(rendered[f"{NAME}/index-{k}"], "p", k) for k in (2, 3)]
    assert (index.parts, index.count, len(index.tables)) == (3, 130, INDEX_PART_SIZE)
    assert index.tables + rest[0] + rest[1] == [e["table_name"] for e in many]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("nope", "(value)"),
        ("[]", "(value)"),
        ('{"count": 0, "entries": "/x/", "parts": 1, "sha256": "' + "0" * 64 + '", "tables": []}', "entries"),
        ('{"count": 0, "entries": "' + NAME + '/", "parts": 1, "sha256": "zz", "tables": []}', "sha256"),
        (
            '{"count": 0, "entries": "'
            + NAME
            + '/", "parts": 0, "sha256": "'
            + "0" * 64
            + '", "tables": []}',
            "parts",
        ),
    ],
)
def test_a_malformed_index_is_named_with_its_field(raw: str, field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_index(raw, NAME)
    assert str(caught.value).startswith(f"{NAME}: {field}")


def test_only_step_functions_items_name_one_table() -> None:
    assert item_table({"table": "public.orders", "start": "x"}) == "public.orders"
    assert item_table({"action": "split", "table": "public.orders", "parts": 2}) == "public.orders"
    assert item_table({"tables": ["public.orders"]}) is None
    assert item_table({}) is None and item_table([]) is None
