"""What a detection pass reads: each side's key digests and the keys of chosen buckets. The exporter's
AuroraSource and WatermarkSource extend these; adapters/postgres.Aurora and adapters/snowflake.Snowflake
satisfy them structurally."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from aurora_sync.deletes.compare import Digest, Key
from aurora_sync.tables import TableConfig


class AuroraKeys(Protocol):
    def key_digests(self, table: TableConfig, buckets: int) -> dict[int, Digest]: ...

    def bucket_keys(self, table: TableConfig, buckets: int, which: list[int]) -> list[Key]: ...


class FinalKeys(Protocol):
    def final_row_count(self, table: TableConfig) -> int: ...

    def key_digests(self, table: TableConfig, buckets: int) -> dict[int, Digest]: ...

    def bucket_keys(
        self, table: TableConfig, buckets: int, which: list[int]
    ) -> list[tuple[Key, datetime | None]]: ...
