"""The key hash both databases compute, and the statements that read it.

Each primary key is turned into one canonical text, the same string on both sides:
`<length of k1>:<k1><length of k2>:<k2>...` where each `k` is the key column's text form
(PostgreSQL `::text`, Snowflake `TO_VARCHAR`; config allows only key types whose forms agree:
column_types.comparable_key). The length prefix keeps composite keys apart ('1','23' vs '12','3').
Its MD5 (32 lower-case hex digits on both sides: PostgreSQL md5(), Snowflake MD5) gives:
- the bucket: hex digits 1..6 as an integer, modulo the bucket count (the same count both sides);
- the checksum: hex digits 7..21, a 60-bit integer, summed per bucket.
A bucket whose row count and checksum sum agree holds the same keys on both sides (a collision
needs two different key sets with equal counts and equal 60-bit sums); only the others are read
key by key, so a pass reads keys in proportion to what changed, not to the table.

When more buckets differ than one key read names (MAX_BUCKETS_PER_READ), the pass instead streams
the differing buckets' rows in one statement per side, ordered by bucket (`stream`), and compares
them bucket by bucket as they arrive (compare.stream_candidates): one scan per side, one bucket's
keys in memory. Aurora sends only (bucket, MD5) for membership; FINAL adds the key and watermark a
tombstone needs. Aurora's MD5s come one row per bucket (string_agg), which pg8000, a pure-Python
driver, reads about twice as fast as a row per key (measured on 1M keys). Only the bucket order is
shared between the engines (integers); within a bucket the keys are matched by MD5 as a set, so no
text collation has to agree.

The two sides need not share SQL text, only the numbers: PostgreSQL reads hex through its bit-string
cast (`('x' || hex)::bit(n)::bigint`, "Bit String Functions and Operators"), Snowflake through
digit positions (POSITION of each hex digit in '0123456789abcdef', times its power of 16), which
fakesnow also runs: TO_NUMBER's hex format model and MD5_NUMBER_UPPER64 are documented Snowflake
but not in fakesnow 0.12.1, and a fakesnow-only variant would leave the production form untested.
tests/integration/test_key_hash.py hashes the same keys on real PostgreSQL and fakesnow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aurora_sync.identifiers import quote_pg, quote_sf
from aurora_sync.tables import TableConfig

BUCKET_DIGITS = 6  # hex digits 1..6: up to 16,777,216 values, taken modulo the bucket count
CHECKSUM_START = BUCKET_DIGITS + 1
CHECKSUM_DIGITS = 15  # hex digits 7..21: 60 bits, so a bigint in PostgreSQL before the sum
KEYS_PER_BUCKET = 1000  # a differing bucket costs about this many keys read on each side
MAX_BUCKETS = 65_536  # the digest read returns one row per bucket; past 65M rows, buckets grow
MAX_BUCKETS_PER_READ = 1000  # a key read names at most this many buckets (IN list)
# A stream names its buckets only while they are at most this share of the table's: past it, reading
# every bucket and skipping the equal ones client-side costs less than a filter that keeps most rows.
STREAM_FILTER_SHARE = 0.5
HEX = "0123456789abcdef"
# The pass's own column names in its SQL, prefixed so that no table's key column (which the same
# subqueries select) can be named like one: a key column `h` or `bucket` made them ambiguous.
MD5 = "_sync_key_md5"
BUCKET = "_sync_bucket"
CHECKSUM = "_sync_checksum"
# Sums are taken modulo 2**60 on both sides, so every number either side returns fits 64 bits
# (drivers differ on decimals wider than that); a sum modulo 2**60 is as good a checksum as the sum
# (one chance in 2**60 that two key sets of equal size collide).
CHECKSUM_MODULUS = 2 ** (4 * CHECKSUM_DIGITS)


def bucket_count(final_rows: int) -> int:
    """How many buckets a table of `final_rows` rows is split into: about KEYS_PER_BUCKET keys each.
    Both sides must use the same count, so the caller computes it once per pass."""
    if final_rows < 0:
        raise ValueError(f"final_rows {final_rows} is negative")
    return max(1, min(MAX_BUCKETS, -(-final_rows // KEYS_PER_BUCKET)))


def int_literal(value: int, low: int = 0, high: int = MAX_BUCKETS) -> str:
    """The typed literal renderer for the bucket count and bucket numbers (our own integers, never
    input): a bool or anything else is refused, as is a value outside [low, high]."""
    if type(value) is not int or not low <= value <= high:
        raise ValueError(f"{value!r} is not an integer in {low}..{high}")
    return str(value)


def _bucket_list(buckets: Sequence[int], count: int) -> str:
    if not 0 < len(buckets) <= MAX_BUCKETS_PER_READ:
        raise ValueError(f"a key read names 1..{MAX_BUCKETS_PER_READ} buckets, not {len(buckets)}")
    return ", ".join(int_literal(b, 0, count - 1) for b in buckets)


@dataclass(frozen=True)
class AuroraKeyHash:
    """The PostgreSQL side: statements over `schema.table` in Aurora."""

    table: TableConfig

    @property
    def _relation(self) -> str:
        return quote_pg(self.table.schema_name, self.table.relation)

    @property
    def _keys(self) -> list[str]:
        return [quote_pg(k) for k in self.table.primary_keys]

    def key_text(self) -> str:
        return " || ".join(f"length({k}::text)::text || ':' || {k}::text" for k in self._keys)

    def _hashed(self, count: int) -> str:
        """Bucket, checksum, MD5 and the key columns of every row."""
        bucket = _pg_hex_number(1, BUCKET_DIGITS)
        checksum = _pg_hex_number(CHECKSUM_START, CHECKSUM_DIGITS)
        keys = ", ".join(self._keys)
        return (
            f"SELECT {bucket} % {int_literal(count, 1)} AS {BUCKET}, {checksum} AS {CHECKSUM}, {MD5}, {keys} "
            f"FROM (SELECT md5({self.key_text()}) AS {MD5}, {keys} FROM {self._relation}) AS hashed"
        )

    def digests(self, count: int) -> str:
        """Per bucket: (bucket, rows, sum of checksums); buckets without rows are absent."""
        return (
            f"SELECT {BUCKET}, count(*) AS key_count, sum({CHECKSUM}) % {CHECKSUM_MODULUS} AS checksum_sum "
            f"FROM ({self._hashed(count)}) AS buckets GROUP BY {BUCKET}"
        )

    def keys(self, count: int, buckets: Sequence[int]) -> str:
        """The key columns of every row in `buckets`."""
        return (
            f"SELECT {', '.join(self._keys)} FROM ({self._hashed(count)}) AS buckets "
            f"WHERE {BUCKET} IN ({_bucket_list(buckets, count)})"
        )

    def stream(self, count: int, filtered: bool) -> str:
        """One row per bucket, ordered by bucket: the bucket and its keys' MD5s concatenated (32 hex
        digits each), for a server-side cursor. `filtered`: only the buckets bound as `:which` (an
        integer array), joined as a set (a hash join) rather than tested one by one against a list."""
        wanted = (
            f" JOIN unnest(CAST(:which AS integer[])) AS wanted ({BUCKET}) USING ({BUCKET})"
            if filtered
            else ""
        )
        return (
            f"SELECT {BUCKET}, string_agg({MD5}, '') AS hashes "
            f"FROM ({self._hashed(count)}) AS buckets{wanted} GROUP BY {BUCKET} ORDER BY {BUCKET}"
        )


def _pg_hex_number(start: int, digits: int) -> str:
    """PostgreSQL: the integer the hex digits start..start+digits-1 of the key's MD5 spell (at most 60 bits:
    a non-negative bigint)."""
    return f"('x' || substr({MD5}, {start}, {digits}))::bit({4 * digits})::bigint"


def _hex_number(column: str, start: int, digits: int) -> str:
    """Snowflake: the integer the hex digits start..start+digits-1 of `column` spell."""
    return " + ".join(
        f"(POSITION(SUBSTR({column}, {start + i}, 1), '{HEX}') - 1) * {16 ** (digits - 1 - i)}"
        for i in range(digits)
    )


@dataclass(frozen=True)
class FinalKeyHash:
    """The Snowflake side: statements over FINAL (`final` is SnowflakeTable.final, quoted and
    database-qualified). `live` restricts them to rows not already marked deleted."""

    table: TableConfig
    final: str
    live: str | None = None

    @property
    def _keys(self) -> list[str]:
        return [quote_sf(k) for k in self.table.primary_keys]

    def key_text(self) -> str:
        return " || ".join(
            f"TO_VARCHAR(LENGTH(TO_VARCHAR({k}))) || ':' || TO_VARCHAR({k})" for k in self._keys
        )

    def _hashed(self, count: int, extra: str = "") -> str:
        bucket = f"MOD({_hex_number(MD5, 1, BUCKET_DIGITS)}, {int_literal(count, 1)})"
        checksum = _hex_number(MD5, CHECKSUM_START, CHECKSUM_DIGITS)
        where = "" if self.live is None else f" WHERE {self.live}"
        return (
            f"SELECT {bucket} AS {BUCKET}, {checksum} AS {CHECKSUM}, {MD5}, {', '.join(self._keys)}{extra} "
            f"FROM (SELECT MD5({self.key_text()}) AS {MD5}, {', '.join(self._keys)}{extra} "
            f"FROM {self.final}{where}) AS hashed"
        )

    def digests(self, count: int) -> str:
        return (
            # The CAST is a no-op in Snowflake (the checksum is an integer NUMBER already); fakesnow
            # sums any other argument as DOUBLE (its numeric_agg_implicit_cast), losing the low bits.
            f"SELECT {BUCKET}, COUNT(*) AS key_count, "
            f"MOD(SUM(CAST({CHECKSUM} AS NUMBER(38,0))), {CHECKSUM_MODULUS}) AS checksum_sum "
            f"FROM ({self._hashed(count)}) AS buckets GROUP BY {BUCKET}"
        )

    def keys(self, count: int, buckets: Sequence[int]) -> str:
        """The key columns and the watermark of every row in `buckets`: a key whose row changed
        recently is not a delete yet (compare.candidates)."""
        watermark = quote_sf(self.table.watermark_col)
        return (
            f"SELECT {', '.join(self._keys)}, {watermark} "
            f"FROM ({self._hashed(count, f', {watermark}')}) AS buckets "
            f"WHERE {BUCKET} IN ({_bucket_list(buckets, count)})"
        )

    def stream(self, count: int, buckets: Sequence[int] | None) -> str:
        """(bucket, MD5, key columns, watermark) of every row in `buckets` (None: every bucket),
        ordered by bucket. The bucket numbers are our own integers, rendered through int_literal."""
        watermark = quote_sf(self.table.watermark_col)
        where = ""
        if buckets is not None:
            if not buckets:
                raise ValueError("a filtered stream names at least one bucket")
            where = f" WHERE {BUCKET} IN ({', '.join(int_literal(b, 0, count - 1) for b in buckets)})"
        return (
            f"SELECT {BUCKET}, {MD5}, {', '.join(self._keys)}, {watermark} "
            f"FROM ({self._hashed(count, f', {watermark}')}) AS buckets{where} ORDER BY {BUCKET}"
        )
