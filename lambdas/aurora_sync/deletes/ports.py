"""What a detection pass reads: each side's key digests and the keys of chosen buckets. The exporter's
AuroraSource and WatermarkSource extend these; adapters/postgres.Aurora and adapters/snowflake.Snowflake
satisfy them structurally."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from aurora_sync.deletes.compare import AuroraBucket, Digest, FinalHash, Key
from aurora_sync.tables import TableConfig


class AuroraKeys(Protocol):
    def key_digests(self, table: TableConfig, buckets: int) -> dict[int, Digest]: ...

    def bucket_keys(self, table: TableConfig, buckets: int, which: list[int]) -> list[Key]: ...

    def present_keys(self, table: TableConfig, keys: list[Key]) -> set[Key]:
        """Which of `keys` Aurora has, looked up by value: the stream's candidates are rechecked
        so that a key the two engines bucketed differently is never deleted."""
        ...

    def key_hash_stream(
        self, table: TableConfig, buckets: int, which: list[int] | None
    ) -> AbstractContextManager[Iterator[AuroraBucket]]:
        """Each bucket in `which` (None: all) with the MD5s of its keys, ordered by bucket, read as
        they are consumed; leaving the context ends the read even when not consumed to the end."""
        ...


class FinalKeys(Protocol):
    def final_row_count(self, table: TableConfig) -> int: ...

    def key_digests(self, table: TableConfig, buckets: int) -> dict[int, Digest]: ...

    def bucket_keys(
        self, table: TableConfig, buckets: int, which: list[int]
    ) -> list[tuple[Key, datetime | None]]: ...

    def key_hash_stream(
        self, table: TableConfig, buckets: int, which: list[int] | None
    ) -> AbstractContextManager[Iterator[FinalHash]]:
        """(bucket, MD5, key, watermark) of the rows in `which` (None: all), ordered by bucket."""
        ...
