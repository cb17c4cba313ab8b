"""Two plans of one table's full refresh at the same time make one refresh (issue 15 §2): the
table's pointer `_refresh/<table>/current.json` is claimed with S3 conditional writes, against
moto's server (which enforces If-None-Match and If-Match on PutObject as S3 does), with the real
local PostgreSQL sampling the keys.

The interleaving is arranged, not hoped for: planner B's bucket runs planner A to the end just
before B claims the pointer, the one order in which both have written a plan and both claim."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aurora_sync.adapters.s3 import ObjectStore
from aurora_sync.exporter.payloads import RefreshPayload
from aurora_sync.exporter.refresh import RefreshLedger
from aurora_sync.exporter.refresh_planner import PlannedRefresh, RefreshPlanner
from aurora_sync.runtime import Runtime
from aurora_sync.settings import load_exporter_settings
from aurora_sync.tables import parse_tables
from tests.support.pipeline import Pipeline

TABLE = "public.orders"
ROWS = 300
POINTER = f"_refresh/{TABLE}/current.json"


@pytest.fixture(scope="module")
def pipeline(pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any) -> Pipeline:
    """GIVEN orders with 300 rows and no refresh yet"""
    p = Pipeline(pg_server, moto, bao, fakesnow_server)
    p.aurora(
        "INSERT INTO public.orders (id, status, updated_at) "
        f"SELECT g, 'new', now() - interval '1 day' FROM generate_series(1, {ROWS}) g",
        "ANALYZE",
    )
    return p


class RunsFirst:
    """The bucket as one planner sees it, with one seam: just before its first conditional write of
    `key_suffix` (its new plan, or its claim of the pointer), `first` runs: the other planner,
    started at the same moment, finishing first."""

    def __init__(self, store: ObjectStore, key_suffix: str, first: Callable[[], None]) -> None:
        self._store = store
        self._suffix = key_suffix
        self._first: Callable[[], None] | None = first

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def put_json_if(self, key: str, body: str, *, etag: str | None) -> bool:
        if key.endswith(self._suffix) and self._first is not None:
            first, self._first = self._first, None
            first()
        return self._store.put_json_if(key, body, etag=etag)


@contextmanager
def planners(p: Pipeline) -> Iterator[Callable[[Any, datetime], RefreshPlanner]]:
    """Planners over the exporter's own adapters (TLS, Vault credentials), each with its clock."""
    saved = dict(os.environ)
    os.environ.update(p.env())
    runtime = Runtime(load_exporter_settings(), "exporter", lambda: 600_000)
    opened: list[Any] = []

    def aurora() -> Any:
        opened.append(runtime.open_aurora())
        return opened[-1]

    def make(store: Any, at: datetime) -> RefreshPlanner:
        settings = load_exporter_settings()
        return RefreshPlanner(settings=settings, ledger=RefreshLedger(store), aurora=aurora, clock=lambda: at)

    try:
        yield make
    finally:
        for connection in opened:
            connection.close()
        os.environ.clear()
        os.environ.update(saved)


def orders(p: Pipeline) -> Any:
    (table,) = [t for t in parse_tables(json.dumps(p.tables), "tables").tables if t.table_name == TABLE]
    return table


@pytest.mark.parametrize(
    "seam",
    ["/plan.json", "/current.json"],
    ids=["other-finishes-before-my-plan-is-written", "other-finishes-before-my-claim"],
)
def test_two_plans_at_the_same_time_make_one_refresh(pipeline: Pipeline, seam: str) -> None:
    p = pipeline
    store = ObjectStore(p.s3, p.bucket)
    p.s3.delete_object(Bucket=p.bucket, Key=POINTER)  # each case starts without a claimed refresh
    ended = {r.refresh_id for r in RefreshLedger(store).progress(TABLE) if r.ended}
    assert RefreshLedger(store).unfinished(TABLE) is None
    request = RefreshPayload(refresh=TABLE, rows_per_range=100)
    t0 = datetime(2026, 12, 2, 6, 0 if seam == "/plan.json" else 10, tzinfo=UTC)
    with planners(p) as make:
        first: list[PlannedRefresh] = []
        a = make(store, t0)
        # GIVEN planner B, which has listed the table (no refresh) and read no pointer, stopped
        # just before a conditional write while A, started at the same moment, plans to the end
        b = make(
            RunsFirst(store, seam, lambda: first.append(a.plan(orders(p), request))),
            t0 + timedelta(seconds=1),
        )
        # WHEN B finishes too
        second = b.plan(orders(p), request)
    (other,) = first
    # THEN both answer the same refresh, the one the pointer names, with its ranges
    refresh_id = other.plan.refresh_id
    assert second.plan.refresh_id == refresh_id and second.todo == other.todo
    assert json.loads(p.read(POINTER))["refresh_id"] == refresh_id
    # AND it is the table's only unfinished refresh: a plan written by the loser is marked
    # abandoned, naming the winner
    progress = RefreshLedger(store).progress(TABLE)
    assert [r.refresh_id for r in progress if r.ended is None] == [refresh_id]
    abandoned = [r.refresh_id for r in progress if r.ended == "abandoned" and r.refresh_id not in ended]
    for lost in abandoned:
        assert refresh_id in json.loads(p.read(f"_refresh/{TABLE}/{lost}/abandoned.json"))["why"]
    # AND the next plan request (the Lambda's plan action) resumes that refresh; a restart ends it
    again = p.run({"action": "plan", "refresh": TABLE})["refresh"]
    assert (again["id"], again["resumed"]) == (refresh_id, True)
    restarted = p.run({"action": "plan", "refresh": TABLE, "restart": True})["refresh"]
    assert restarted["id"] != refresh_id and restarted["resumed"] is False
    # (cleanup: the restarted refresh is removed, not only ended: its id is the wall clock's second,
    # which the next case's restart, a second later at most, may share)
    store.delete(list(store.sizes(f"_refresh/{TABLE}/{restarted['id']}/")))


def test_the_pointer_is_replaced_only_from_the_version_read(pipeline: Pipeline) -> None:
    p = pipeline
    store = ObjectStore(p.s3, p.bucket)
    key = f"_refresh/{TABLE}/claims-test.json"
    # GIVEN no object: a create-only write succeeds once, the second is refused (S3: 412)
    assert store.put_json_if(key, '{"n": 1}', etag=None) is True
    assert store.put_json_if(key, '{"n": 2}', etag=None) is False
    body, etag = store.read_with_etag(key) or (b"", "")
    assert json.loads(body) == {"n": 1}
    # WHEN one writer replaces it from the version it read THEN a second writer holding the same
    # version is refused, and the object is the first writer's
    assert store.put_json_if(key, '{"n": 3}', etag=etag) is True
    assert store.put_json_if(key, '{"n": 4}', etag=etag) is False
    assert json.loads(store.read(key)) == {"n": 3}
    # AND If-Match on an object deleted meanwhile is refused too (S3 answers 404), not an error
    store.delete([key])
    assert store.put_json_if(key, '{"n": 5}', etag=etag) is False
