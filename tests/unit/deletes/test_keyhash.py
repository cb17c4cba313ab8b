"""The key hash statements (aurora_sync.deletes.keyhash): identifiers quoted, numbers through the
integer literal renderer, the same formula on both sides (their equality:
tests/integration/test_key_hash.py)."""

from __future__ import annotations

import pytest

from aurora_sync.deletes.keyhash import (
    MAX_BUCKETS,
    MAX_BUCKETS_PER_READ,
    AuroraKeyHash,
    FinalKeyHash,
    bucket_count,
    int_literal,
)
from aurora_sync.tables import TableConfig

TABLE = TableConfig.model_validate(
    {
        "table_name": "sales.Order_Lines",
        "watermark_col": "updated_at",
        "primary_keys": ["order_id", "line"],
        "columns": [
            {"name": "order_id", "type": "NUMBER(38,0)"},
            {"name": "line", "type": "VARCHAR(20)"},
            {"name": "updated_at", "type": "TIMESTAMP_TZ"},
        ],
        "delete_detection": "hard",
    }
)
FINAL = '"DB"."FINAL"."ORDER_LINES"'


@pytest.mark.parametrize(
    ("rows", "buckets"), [(0, 1), (1, 1), (1000, 1), (1001, 2), (10_000_000, 10_000), (10**12, MAX_BUCKETS)]
)
def test_about_a_thousand_keys_per_bucket(rows: int, buckets: int) -> None:
    assert bucket_count(rows) == buckets


@pytest.mark.parametrize("value", [True, -1, MAX_BUCKETS + 1, 1.0, "3", None])
def test_only_integers_in_range_are_rendered_into_sql(value: object) -> None:
    with pytest.raises(ValueError, match="is not an integer"):
        int_literal(value)  # type: ignore[arg-type]


def test_aurora_statements_quote_every_name_and_length_prefix_each_key() -> None:
    sql = AuroraKeyHash(TABLE)
    assert sql.key_text() == (
        """length("order_id"::text)::text || ':' || "order_id"::text || """
        """length("line"::text)::text || ':' || "line"::text"""
    )
    digests = sql.digests(16)
    assert 'FROM "sales"."Order_Lines"' in digests and "% 16 AS _sync_bucket" in digests
    assert "('x' || substr(_sync_key_md5, 1, 6))::bit(24)::bigint" in digests
    assert "('x' || substr(_sync_key_md5, 7, 15))::bit(60)::bigint" in digests
    assert digests.endswith("GROUP BY _sync_bucket")
    assert sql.keys(16, [3, 9]).endswith("WHERE _sync_bucket IN (3, 9)")


def test_final_statements_read_the_watermark_and_may_skip_rows_marked_deleted() -> None:
    sql = FinalKeyHash(TABLE, FINAL, live='"_DELETED_AT" IS NULL')
    assert sql.key_text().startswith(
        """TO_VARCHAR(LENGTH(TO_VARCHAR("ORDER_ID"))) || ':' || TO_VARCHAR("ORDER_ID")"""
    )
    digests = sql.digests(16)
    assert f'FROM {FINAL} WHERE "_DELETED_AT" IS NULL' in digests and ", 16) AS _sync_bucket" in digests
    keys = sql.keys(16, [0, 15])
    assert keys.startswith('SELECT "ORDER_ID", "LINE", "UPDATED_AT" FROM') and keys.endswith("IN (0, 15)")


@pytest.mark.parametrize("buckets", [[], [16], [-1], list(range(MAX_BUCKETS_PER_READ + 1))])
def test_a_key_read_names_existing_buckets_and_not_too_many(buckets: list[int]) -> None:
    with pytest.raises(ValueError):
        AuroraKeyHash(TABLE).keys(16, buckets)
    with pytest.raises(ValueError):
        FinalKeyHash(TABLE, FINAL).keys(16, buckets)
