"""A full refresh in key ranges on fakes (exporter/refresh.py): boundaries from a key sample, the plan
persisted before any range runs, each range's manifest and checkpoint, the resume that exports only
what is left, and the completion a last range writes."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from aurora_sync.errors import PayloadError, StatementTimeoutError, TerminalError
from aurora_sync.exporter.payloads import (
    MAX_PLAN_ITEMS,
    ExportWindow,
    RangeRef,
    RefreshPayload,
    parse_event,
    parse_request,
)
from aurora_sync.exporter.refresh import (
    FULL_SAMPLE_ROWS,
    MAX_ITEMS_BYTES,
    SAMPLES_PER_RANGE,
    RefreshPlan,
    choose_boundaries,
    max_ranges,
    sizing,
)
from aurora_sync.exporter.results import TableStatus
from aurora_sync.layout import MANIFEST_ROOT, refresh_prefix
from aurora_sync.manifest import parse_manifest
from aurora_sync.pins import PublishPin, PublishPins
from aurora_sync.tables import Override, parse_tables
from aurora_sync.timeutil import iso
from tests.unit.exporter.fakes import HEADER, T0, TABLE, Exporter, table_config, tables

KEYS = [(str(k),) for k in range(1, 101)]  # the table's keys 1..100, as PostgreSQL text


def refresh_exporter(rows: int = 100) -> Exporter:
    exporter = Exporter()
    exporter.aurora.estimate = rows
    exporter.aurora.sample_keys = KEYS[:rows]
    exporter.aurora.rows = 1
    exporter.aurora.parts = [HEADER + b"1,a,2026-11-20T05:00:00.000000+00:00\n"]
    return exporter


def plan(exporter: Exporter, **request: object) -> tuple[RefreshPlan, list[int], bool]:
    payload = RefreshPayload.model_validate({"refresh": TABLE, "rows_per_range": 1000, **request})
    planned = exporter.windows.refreshes.plan(table_config(), payload)
    return planned.plan, planned.todo, planned.resumed


def owner(boundaries: list[tuple[str, ...]], key: int) -> int:
    """The range a key falls in, by the ranges' definition (after < key <= upto)."""
    return sum(1 for b in boundaries if key > int(b[0]))


# -- boundaries (pure) --------------------------------------------------------------------------------


@pytest.mark.parametrize(("keys", "ranges"), [(100, 4), (100, 7), (1000, 1000), (5, 10), (100, 1)])
def test_boundaries_cut_the_sample_into_ranges_of_about_equal_size_covering_every_key_once(
    keys: int, ranges: int
) -> None:
    # GIVEN a sorted sample of every key WHEN cut into `ranges`
    sample = [(str(k),) for k in range(1, keys + 1)]
    boundaries = choose_boundaries(sample, ranges)
    # THEN there are at most ranges - 1 boundaries, strictly increasing
    assert len(boundaries) == min(ranges, keys) - 1
    assert [int(b[0]) for b in boundaries] == sorted({int(b[0]) for b in boundaries})
    # AND every key lies in exactly one range, the ranges differing by at most one key
    sizes = [0] * (len(boundaries) + 1)
    for key in range(1, keys + 1):
        sizes[owner(boundaries, key)] += 1
    assert sum(sizes) == keys
    assert max(sizes) - min(sizes) <= 1


def test_an_empty_sample_is_one_range_and_composite_keys_are_kept_whole() -> None:
    assert choose_boundaries([], 10) == []
    sample = [("a", "1"), ("a", "2"), ("b", "1"), ("b", "2")]
    assert choose_boundaries(sample, 2) == [("a", "2")]


@pytest.mark.parametrize(
    ("estimate", "per_range", "ranges"),
    [(0, 1000, 1), (-1, 1000, 1), (999, 1000, 1), (1001, 1000, 2), (20_000_000, 500_000, 40)],
)
def test_sizing_targets_rows_per_range(estimate: int, per_range: int, ranges: int) -> None:
    size = sizing(estimate, per_range)
    assert size.ranges == ranges
    if ranges == 1:
        assert size.percent == 0.0  # one range: nothing to sample
    elif estimate <= FULL_SAMPLE_ROWS:
        assert size.percent == 100.0  # a few pages: every key, never a page lottery
    else:
        assert size.percent == pytest.approx(100 * ranges * SAMPLES_PER_RANGE / estimate)


@pytest.mark.parametrize("estimate", [400, 5_000, FULL_SAMPLE_ROWS])
def test_a_table_of_few_pages_is_sampled_whole(estimate: int) -> None:
    # GIVEN a table small enough that a page sample may hold no page at all (it made one range of a
    # 400-row table in CI) WHEN it is sized in ranges of 100 rows THEN every key is read
    size = sizing(estimate, 100)
    assert size.ranges > 1 and size.percent == 100.0


def test_sizing_never_plans_more_ranges_than_one_execution_carries() -> None:
    size = sizing(10_000_000_000, 1000)
    assert size.ranges == MAX_PLAN_ITEMS
    assert size.percent == pytest.approx(100 * MAX_PLAN_ITEMS * SAMPLES_PER_RANGE / 10_000_000_000)


def test_a_long_table_name_gets_fewer_ranges_so_one_plans_items_stay_inside_half_the_state_limit() -> None:
    # GIVEN public.orders and a schema.table of 127 characters (two 63-character identifiers)
    long_name = "s" * 63 + "." + "t" * 63
    # THEN the short name keeps 1,000 ranges; the long one fewer, all its items within 128 KiB
    assert max_ranges(TABLE) == MAX_PLAN_ITEMS
    limit = max_ranges(long_name)
    items = [
        ExportWindow(long_name, refresh=RangeRef(id="20261202T030000Z", index=i, of=limit)).item()
        for i in range(limit)
    ]
    assert 500 < limit < MAX_PLAN_ITEMS and len(json.dumps(items)) <= MAX_ITEMS_BYTES
    assert sizing(10**12, 1000, limit).ranges == limit


# -- payloads -----------------------------------------------------------------------------------------


def test_a_range_item_round_trips_to_the_same_window() -> None:
    window = ExportWindow(TABLE, refresh=RangeRef(id="20261120T060000Z", index=3, of=7))
    assert (
        window.payload()
        == window.item()
        == {
            "table": TABLE,
            "refresh": {"id": "20261120T060000Z", "index": 3, "of": 7},
        }
    )
    assert parse_event(window.item(), tables(), timedelta(hours=1)) == [window]
    assert not window.leased


# -- plan, export, resume -----------------------------------------------------------------------------


def test_a_new_refresh_is_planned_from_the_key_sample_and_persisted_before_any_range_runs() -> None:
    # GIVEN a table of 100 rows (estimate) AND ranges of 25 rows asked for... by 1,000 minimum: 1 range
    exporter = refresh_exporter()
    exporter.settings = exporter.settings.model_copy(update={"refresh_rows_per_range": 1000})
    exporter.aurora.estimate = 4000  # WHEN the planner believes 4,000 rows
    refresh, todo, resumed = plan(exporter)
    # THEN 4 ranges, all to do, boundaries from the sample (quantiles of the keys)
    assert (refresh.ranges, todo, resumed) == (4, [0, 1, 2, 3], False)
    assert refresh.boundaries == [["25"], ["50"], ["75"]]
    assert refresh.upper == iso(T0) and refresh.refresh_id == "20261120T060000Z"
    # AND the plan is in S3 under the refresh, every statement bounded by REFRESH_STATEMENT_SECONDS
    saved = exporter.store.objects[f"{refresh_prefix(TABLE, refresh.refresh_id)}plan.json"]
    assert json.loads(saved)["boundaries"] == refresh.boundaries
    assert exporter.aurora.statement_cap_ms == exporter.settings.refresh_statement_seconds * 1000


def test_a_range_exports_its_keys_then_its_manifest_then_its_checkpoint_without_lease_or_override() -> None:
    exporter = refresh_exporter()
    exporter.aurora.estimate = 3000
    exporter.overrides.overrides[TABLE] = Override(full_refresh=True)
    refresh, _, _ = plan(exporter)
    # WHEN range 1 (of 3) is exported through the service, as the Map's item
    result = exporter.service.run([refresh.window(1)]).tables[0]
    # THEN its query selects (b0, b1] and every watermark up to the plan's bound, NULLs included
    (query,) = exporter.aurora.queries
    assert "(\"id\") > (E'34')" in query and "(\"id\") <= (E'67')" in query
    assert 'OR "updated_at" IS NULL' in query
    # AND its manifest names the range; the checkpoint holds that manifest
    assert result.status is TableStatus.EXPORTED and result.refresh == {
        "id": refresh.refresh_id,
        "index": 1,
        "of": 3,
        "done": 1,
    }
    assert result.manifest is not None
    doc = parse_manifest(result.manifest, exporter.store.objects[result.manifest], TABLE).doc
    assert doc.refresh is not None and (doc.refresh.index, doc.refresh.of) == (1, 3)
    assert not doc.covers_window and doc.lower is None and not doc.full_refresh
    checkpoint = f"{refresh_prefix(TABLE, refresh.refresh_id)}done/range-00001.json"
    done = json.loads(exporter.store.objects[checkpoint])
    assert done["manifest_key"] == result.manifest
    # AND no lease was taken, and the override was neither read nor consumed
    assert exporter.leases.acquired == [] and exporter.overrides.deleted == []


def test_a_killed_refresh_resumes_from_the_ranges_without_a_checkpoint_and_completes_with_the_last() -> None:
    # GIVEN a refresh of 4 ranges of which 0 and 2 were exported before the execution was killed
    exporter = refresh_exporter()
    exporter.aurora.estimate = 4000
    refresh, _, _ = plan(exporter)
    exporter.service.run([refresh.window(0), refresh.window(2)])
    # AND the table's keys changed meanwhile (a resume must not re-cut the ranges)
    exporter.aurora.sample_keys = [(str(k),) for k in range(500, 900)]
    # WHEN the same refresh request is planned again
    again, todo, resumed = plan(Exporter(store=exporter.store))
    # THEN it is the same plan, and only ranges 1 and 3 are left
    assert (again, todo, resumed) == (refresh, [1, 3], True)
    complete = f"{refresh_prefix(TABLE, refresh.refresh_id)}complete.json"
    assert complete not in exporter.store.objects
    # WHEN they are exported THEN the last checkpoint completes the refresh
    outcome = exporter.service.run([refresh.window(1), refresh.window(3)])
    assert [t.refresh["done"] for t in outcome.tables if t.refresh] == [3, 4]
    assert json.loads(exporter.store.objects[complete])["complete"] is True
    # AND a plan request after it starts a new refresh
    exporter.now = T0 + timedelta(hours=1)
    newer, todo, resumed = plan(exporter)
    assert newer.refresh_id != refresh.refresh_id and not resumed and len(todo) == newer.ranges


def test_a_resume_asking_for_other_ranges_is_refused_naming_the_field_and_restart_abandons_it() -> None:
    exporter = refresh_exporter()
    exporter.aurora.estimate = 4000
    refresh, _, _ = plan(exporter)
    with pytest.raises(PayloadError) as caught:
        plan(exporter, rows_per_range=2000)
    assert caught.value.field == "rows_per_range"
    exporter.now = T0 + timedelta(minutes=1)
    newer, _, resumed = plan(exporter, rows_per_range=2000, restart=True)
    assert not resumed and newer.ranges == 2
    assert f"{refresh_prefix(TABLE, refresh.refresh_id)}abandoned.json" in exporter.store.objects


def test_a_table_whose_key_may_be_null_is_refused_before_anything_is_written() -> None:
    exporter = refresh_exporter()
    exporter.aurora.nullable_keys = ["id"]
    with pytest.raises(TerminalError, match="may be NULL"):
        plan(exporter)
    assert exporter.store.keys(refresh_prefix(TABLE)) == []


def test_a_range_that_hits_the_statement_bound_fails_alone_with_its_item_to_rerun_and_no_checkpoint() -> None:
    exporter = refresh_exporter()
    exporter.aurora.estimate = 2000
    refresh, _, _ = plan(exporter)
    exporter.aurora.fail_on["export_to_s3"] = StatementTimeoutError("COPY hit the statement timeout", 600_000)
    result = exporter.service.run([refresh.window(0)]).tables[0]
    assert result.status is TableStatus.FAILED and result.timed_out
    assert "REFRESH_STATEMENT_SECONDS" in (result.error or "")
    assert result.rerun == refresh.window(0).item()
    assert exporter.store.keys(f"{refresh_prefix(TABLE, refresh.refresh_id)}done/") == []
    assert exporter.store.keys(MANIFEST_ROOT) == []
    with pytest.raises(TerminalError, match="is not split"):
        exporter.windows.split_bounds(refresh.window(0))


def test_an_item_of_a_refresh_without_a_plan_fails_terminally() -> None:
    exporter = refresh_exporter()
    window = ExportWindow(TABLE, refresh=RangeRef(id="20261120T060000Z", index=0, of=2))
    result = exporter.service.run([window]).tables[0]
    assert result.status is TableStatus.FAILED and "has no plan" in (result.error or "")


def test_a_range_manifest_is_no_evidence_for_a_publish_pins_window() -> None:
    # GIVEN a pinned gap (T0-5h, T0-3h] of an interrupted incremental publish
    exporter = refresh_exporter()
    exporter.aurora.estimate = 2000
    hour = timedelta(hours=1)
    pinned = PublishPin(TABLE, "e0", "run-0", T0 - 5 * hour, T0 - 3 * hour, T0 - 2 * hour)
    exporter.store.put_json(pinned.key, pinned.to_json())
    # WHEN a refresh range is exported (its manifest: lower null, upper T0, one key range only)
    refresh, _, _ = plan(exporter)
    exporter.service.run([refresh.window(0)])
    # THEN the gap stays open: the range did not export the other keys' rows of that window
    assert PublishPins(exporter.store, "run-2").open_gaps(TABLE) == [(T0 - 5 * hour, T0 - 3 * hour)]


@pytest.mark.parametrize("name", ["stepfunctions-refresh-plan.json", "stepfunctions-refresh-range.json"])
def test_the_refresh_samples_in_events_are_accepted(name: str) -> None:
    sample = json.loads((Path(__file__).resolve().parents[3] / "events" / "exporter" / name).read_text())
    request = parse_request(sample, tables(), timedelta(hours=1))
    assert request.refresh is not None or request.windows[0].refresh is not None


def test_a_range_of_a_plan_made_on_another_key_is_refused_saying_to_plan_anew() -> None:
    # GIVEN a refresh planned on the key ["id"], then tables.json's key changed to ["id", "note"]
    exporter = refresh_exporter()
    exporter.aurora.estimate = 2000
    refresh, _, _ = plan(exporter)
    entry = json.loads(table_config().model_dump_json(by_alias=True, exclude_none=True))
    other = Exporter(
        store=exporter.store,
        tables=parse_tables(json.dumps([{**entry, "primary_keys": ["id", "note"]}]), "t"),
    )
    # WHEN a range of it is exported THEN it fails before any query, saying to plan anew
    result = other.service.run([refresh.window(0)]).tables[0]
    assert result.status is TableStatus.FAILED and "restart" in (result.error or ""), result.error
    assert other.aurora.queries == []
