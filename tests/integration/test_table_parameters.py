"""The table list in Parameter Store (moto): an index at TABLES_PARAMETER, one parameter per table
under it (aurora_sync.table_index, terraform/modules/tables), checked against each other.

Written here exactly as Terraform writes them (render_parameters; tests/infra compares the two
character for character), read by the adapter the Lambdas use, every SSM request counted.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aurora_sync.adapters.ssm import ParameterStore
from aurora_sync.errors import ConfigError
from aurora_sync.table_index import entries_digest, entry_parameter, render_parameters
from aurora_sync.tables import parse_tables

ROOT = Path(__file__).resolve().parents[2]
DEV_TABLES: list[dict[str, Any]] = json.loads((ROOT / "terraform/envs/dev/tables.json").read_text())


class Counted:
    """The SSM client with every HTTP request it sends counted, by operation."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[str] = []
        client.meta.events.register("before-send.ssm.*", self._count)

    def _count(self, request: Any, **_: Any) -> None:
        self.calls.append(request.headers["X-Amz-Target"].decode().rsplit(".", 1)[-1])

    def reset(self) -> None:
        self.calls.clear()


@pytest.fixture
def ssm(moto: Any) -> Iterator[Counted]:
    counted = Counted(moto.client("ssm"))
    yield counted
    counted.client.meta.events.unregister("before-send.ssm.*", counted._count)


@pytest.fixture
def name() -> str:
    return f"/t{uuid.uuid4().hex[:10]}/tables"


def put(ssm: Counted, rendered: dict[str, str]) -> None:
    """As an apply writes them: every table's parameter, then the index (the shortest name)."""
    index = min(rendered, key=len)
    for key in [*sorted(k for k in rendered if k != index), index]:
        ssm.client.put_parameter(Name=key, Value=rendered[key], Type="String", Overwrite=True)
    ssm.reset()


def store(ssm: Counted, name: str, sleep: Callable[[float], None] = lambda _: None) -> ParameterStore:
    return ParameterStore(ssm.client, name, "/unused/", settle_seconds=0.01, sleep=sleep)


def test_load_reads_the_index_and_every_table_parameter(ssm: Counted, name: str) -> None:
    # GIVEN the dev tables.json written as Terraform writes it
    put(ssm, render_parameters(DEV_TABLES, name))
    # WHEN the Lambdas load the table list
    tables = store(ssm, name).load_tables()
    # THEN it is the file's list, read with one GetParameter and one page of GetParametersByPath
    assert sorted(tables.names) == sorted(e["table_name"] for e in DEV_TABLES)
    assert {t.table_name: t for t in tables.tables} == {
        t.table_name: t for t in parse_tables(json.dumps(DEV_TABLES), "file").tables
    }
    assert ssm.calls == ["GetParameter", "GetParametersByPath"]


def test_one_item_reads_only_its_table(ssm: Counted, name: str) -> None:
    # GIVEN the list WHEN a Step Functions item loads its one table THEN two requests, one table
    put(ssm, render_parameters(DEV_TABLES, name))
    tables = store(ssm, name).load_tables(only="public.orders")
    assert tables.names == ["public.orders"]
    assert ssm.calls == ["GetParameter", "GetParameter"]
    # AND a table the index does not list loads the whole list (the payload error names what exists)
    ssm.reset()
    assert len(store(ssm, name).load_tables(only="public.nope").tables) == len(DEV_TABLES)


def test_a_missing_table_parameter_is_named(ssm: Counted, name: str) -> None:
    # GIVEN an index listing a table whose parameter is gone (an apply that stopped, a hand delete)
    put(ssm, render_parameters(DEV_TABLES, name))
    ssm.client.delete_parameter(Name=entry_parameter(name, "public.customers"))
    pauses: list[float] = []
    # WHEN the list is loaded THEN, after one pause and a second look, the error names that parameter
    with pytest.raises(ConfigError) as caught:
        store(ssm, name, pauses.append).load_tables()
    assert str(caught.value).startswith(f"{name}/public.customers: (parameter): does not exist")
    assert f"the index {name} lists public.customers" in str(caught.value)
    assert pauses == [0.01]


def test_a_table_parameter_the_index_does_not_list_is_named(ssm: Counted, name: str) -> None:
    # GIVEN a parameter under the index's name that the index does not list
    put(ssm, render_parameters(DEV_TABLES, name))
    ssm.client.put_parameter(Name=f"{name}/public.stray", Value="{}", Type="String")
    # WHEN loaded THEN the error names it
    with pytest.raises(ConfigError) as caught:
        store(ssm, name).load_tables()
    assert str(caught.value).startswith(f"{name}/public.stray: (parameter): is not listed in the index")


def test_a_table_parameter_changed_after_the_index_is_refused(ssm: Counted, name: str) -> None:
    # GIVEN a table's parameter rewritten (a valid entry) after the index was written
    put(ssm, render_parameters(DEV_TABLES, name))
    changed = [
        {**e, "freshness_sla_minutes": 999} if e["table_name"] == "public.orders" else e for e in DEV_TABLES
    ]
    entry = entry_parameter(name, "public.orders")
    ssm.client.put_parameter(
        Name=entry, Value=render_parameters(changed, name)[entry], Type="String", Overwrite=True
    )
    # WHEN loaded THEN the index's digest no longer matches: refused, naming the index and sha256
    with pytest.raises(ConfigError) as caught:
        store(ssm, name).load_tables()
    assert str(caught.value).startswith(f"{name}: sha256: does not match the 2 table parameters")


def test_an_apply_finishing_during_the_pause_is_read_whole(ssm: Counted, name: str) -> None:
    # GIVEN an apply caught between writing a new table's parameter and the index
    before = render_parameters(DEV_TABLES, name)
    put(ssm, before)
    added = [*DEV_TABLES, {**DEV_TABLES[1], "table_name": "public.customers_v2", "target_table": "C2"}]
    after = render_parameters(added, name)
    new_entry = entry_parameter(name, "public.customers_v2")
    ssm.client.put_parameter(Name=new_entry, Value=after[new_entry], Type="String")

    def apply_finishes(_: float) -> None:
        ssm.client.put_parameter(Name=name, Value=after[name], Type="String", Overwrite=True)

    # WHEN loaded, and the apply writes the index during the reader's pause
    tables = store(ssm, name, apply_finishes).load_tables()
    # THEN the second look sees one consistent list, the new table included
    assert "public.customers_v2" in tables.names and len(tables.tables) == 3


def test_an_entry_under_another_tables_name_is_refused(ssm: Counted, name: str) -> None:
    # GIVEN a parameter whose entry is another table's (consistent digest: written that way)
    rendered = render_parameters(DEV_TABLES, name)
    orders, customers = entry_parameter(name, "public.orders"), entry_parameter(name, "public.customers")
    rendered[orders], rendered[customers] = rendered[customers], rendered[orders]
    swapped = {n: rendered[entry_parameter(name, n)] for n in ("public.orders", "public.customers")}
    index = json.loads(rendered[name])
    index["sha256"] = entries_digest(swapped)
    rendered[name] = json.dumps(index)
    put(ssm, rendered)
    # WHEN loaded THEN the parameter and its table_name are named
    with pytest.raises(ConfigError) as caught:
        store(ssm, name).load_tables()
    assert str(caught.value).startswith(f"{name}/public.orders: table_name: is 'public.customers'")


def test_no_index_is_named(ssm: Counted, name: str) -> None:
    # GIVEN nothing written WHEN loaded THEN the index parameter is named
    with pytest.raises(ConfigError) as caught:
        store(ssm, name).load_tables()
    assert str(caught.value) == f"{name}: (parameter): does not exist; terraform apply writes it"


def test_a_missing_part_of_the_index_is_named(ssm: Counted, name: str) -> None:
    # GIVEN 61 tables, so the index has a second part, and that part gone
    many = [
        {**DEV_TABLES[1], "table_name": f"public.customers_{i:02d}", "target_table": f"C{i:02d}"}
        for i in range(61)
    ]
    put(ssm, render_parameters(many, name))
    assert json.loads(ssm.client.get_parameter(Name=name)["Parameter"]["Value"])["parts"] == 2
    ssm.client.delete_parameter(Name=f"{name}/index-2")
    # WHEN loaded THEN the error names the missing part
    with pytest.raises(ConfigError) as caught:
        store(ssm, name).load_tables()
    assert str(caught.value).startswith(f"{name}/index-2: (parameter): does not exist, but the index")
    # AND with it back, all 61 load, in 1 + ceil(62 / 10) requests
    put(ssm, render_parameters(many, name))
    assert len(store(ssm, name).load_tables().tables) == 61 and len(ssm.calls) == 1 + 7
