"""`make demo` stops instead of telling a step that did not happen (scripts/demo.py).

The whole demo runs in tests/e2e/test_demo.py; here, the check it makes after each pass of the
Snowpipe + MERGE stand-in, against a stand-in whose history says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from scripts.demo import ORDERS, Demo, StoryBroken
from tests.support.snowpipe_runner import LoadRecord, TaskOutcome

KEY = "public.orders/2026/12/02/02/run-1.csv"


@dataclass
class Table:
    table_name: str


@dataclass
class History:
    """The part of LocalLoadRunner the demo reads: the tables and their COPY_HISTORY."""

    loads: dict[str, list[LoadRecord]] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=lambda: [Table("public.orders"), Table("public.customers")])

    def copy_history(self, table: Table) -> list[LoadRecord]:
        return self.loads.get(table.table_name, [])


def demo(loads: list[LoadRecord]) -> Demo:
    stub: Any = History({ORDERS: loads})
    return Demo(p=None, cli=None, loader=stub)  # type: ignore[arg-type]


LOADED = LoadRecord(KEY, "Loaded", 40, None)
FAILED = LoadRecord(KEY, "Load failed", 0, "Timestamp '2026-12-02 02:32:24+00' is not recognized")
MERGED = {ORDERS: TaskOutcome("SUCCEEDED", None, 40, 0)}


def test_a_pass_that_happened_as_told_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    # WHEN the file loaded and the MERGE succeeded THEN both are printed
    demo([LOADED]).report(MERGED)
    out = capsys.readouterr().out
    assert f"Snowpipe   {KEY}: Loaded, 40 rows" in out and "SUCCEEDED, 40 inserted" in out
    # AND a rejected file the story expects is printed with Snowflake's first error
    demo([FAILED]).report({}, expect_failed=KEY)
    assert "Load failed, Timestamp" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("loads", "merged", "expect_failed", "claim"),
    [
        ([FAILED], {}, None, "expected Loaded"),
        ([LOADED], MERGED, KEY, "expected Load failed"),
        ([], {}, None, "Snowpipe found no new file"),
        ([LOADED], {ORDERS: TaskOutcome("FAILED", "division by zero", 0, 0)}, None, "MERGE of public.orders"),
    ],
    ids=["file-failed", "file-loaded-though-rejected", "nothing-loaded", "merge-failed"],
)
def test_a_pass_that_did_not_happen_as_told_stops_the_demo(
    loads: list[LoadRecord], merged: dict[str, TaskOutcome], expect_failed: str | None, claim: str
) -> None:
    # WHEN the stand-in's history contradicts the story THEN StoryBroken names what happened instead
    with pytest.raises(StoryBroken, match=claim):
        demo(loads).report(merged, expect_failed=expect_failed)
