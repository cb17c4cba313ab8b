"""The two export modes: how an export query's rows reach the table prefix, visible only when complete.

- copy_stream: COPY ... TO STDOUT streamed into one object under the table prefix (a multipart
  upload, or one PutObject when small); it becomes visible only on commit, so a failure leaves
  nothing visible.
- aurora_s3: aws_s3.query_export_to_s3 writes parts under the temp prefix (no pipe watches it);
  once Aurora has finished, each part is copied server-side into the table prefix, each starting
  with the CSV header. One part is one atomic copy. Several parts become visible one copy at a
  time, so an incremental window's pin (aurora_sync.pins) is written before the first copy; a copy
  that fails midway removes the parts already published and says what to re-run.

The temp prefix is emptied however the export ends (best effort: a lifecycle rule expires it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aurora_sync.adapters.s3 import MIB
from aurora_sync.errors import SyncError, TerminalError
from aurora_sync.exporter.payloads import ExportWindow
from aurora_sync.exporter.ports import AuroraSource, ExportStore
from aurora_sync.exporter.query import ExportQuery, csv_header
from aurora_sync.layout import data_key, temp_key, temp_part_number
from aurora_sync.manifest import ManifestFile
from aurora_sync.observability import logger
from aurora_sync.pins import PublishPin, PublishPins, Window
from aurora_sync.settings import ExporterSettings, ExportMode
from aurora_sync.tables import TableConfig
from aurora_sync.timeutil import EPOCH


@dataclass(frozen=True)
class Published:
    files: list[ManifestFile]
    rows: int
    pin: PublishPin | None = None  # written before an incremental split publish's first copy


class Publisher:
    def __init__(
        self,
        *,
        store: ExportStore,
        settings: ExporterSettings,
        started: datetime,
        aurora: Callable[[], AuroraSource],
        pins: PublishPins,
    ) -> None:
        self._store = store
        self._settings = settings
        self._started = started  # data keys lie under the invocation's start hour
        self._aurora = aurora
        self._pins = pins

    def export(
        self, table: TableConfig, query: ExportQuery, export_id: str, bounds: Window, pin: PublishPin | None
    ) -> Published:
        """`pin` is written only if the export must be published in pieces (several aurora_s3 parts)."""
        if self._settings.export_mode is ExportMode.COPY_STREAM:
            return self._copy_stream(table, query, export_id)
        return self._aurora_s3(table, query, export_id, bounds, pin)

    def _copy_stream(self, table: TableConfig, query: ExportQuery, export_id: str) -> Published:
        key = data_key(table.table_name, self._started, export_id)
        writer = self._store.writer(key, self._settings.multipart_chunk_mib * MIB)
        try:
            rows = self._aurora().copy_out(query.text, writer)
            if rows == 0:
                writer.abort()
                return Published([], 0)
            writer.commit()
        except BaseException:
            writer.abort()
            raise
        return Published([ManifestFile(key, rows, writer.bytes_written)], rows)

    def _aurora_s3(
        self, table: TableConfig, query: ExportQuery, export_id: str, bounds: Window, pin: PublishPin | None
    ) -> Published:
        temp = temp_key(self._settings.temp_prefix, table.table_name, export_id)
        try:
            result = self._aurora().export_to_s3(
                query.text, self._store.bucket, temp, self._settings.aws_region
            )
            if result.rows == 0:
                return Published([], 0)
            parts = self._temp_parts(temp, result.files, result.bytes)
            if len(parts) == 1:  # one copy is atomic; several make the rows visible in pieces
                pin = None
            if pin is not None:
                self._pins.write(pin)
            lower, upper = bounds
            replay = ExportWindow(table.table_name, lower or EPOCH, upper).payload()
            files = self._publish(table, export_id, parts, result.rows, replay, pinned=pin is not None)
            return Published(files, result.rows, pin)
        finally:
            self._discard_temp(temp)

    def _temp_parts(self, temp: str, files: int, size: int) -> list[tuple[int, str, int]]:
        found = sorted(
            (number, key, object_size)
            for key, object_size in self._store.sizes(temp).items()
            if (number := temp_part_number(temp, key)) is not None
        )
        if [n for n, _, _ in found] != list(range(1, files + 1)) or sum(s for _, _, s in found) != size:
            raise TerminalError(
                f"Aurora reported {files} file(s) / {size} bytes under s3://{self._store.bucket}/{temp} but "
                f"found {[(k, s) for _, k, s in found]}; nothing was published"
            )
        return found

    def _publish(
        self,
        table: TableConfig,
        export_id: str,
        parts: list[tuple[int, str, int]],
        rows: int,
        replay: dict[str, Any],
        *,
        pinned: bool,
    ) -> list[ManifestFile]:
        """Copy complete temp parts into the table prefix, each starting with the CSV header."""
        header = csv_header(table)
        published: list[ManifestFile] = []
        try:
            for number, key, size in parts:
                target = data_key(table.table_name, self._started, export_id, number)
                starts_with_header = (
                    size >= len(header) and self._store.read_range(key, 0, len(header) - 1) == header
                )
                written = self._store.copy(key, target, size, prefix=b"" if starts_with_header else header)
                published.append(ManifestFile(target, rows if len(parts) == 1 else None, written))
        except SyncError as exc:
            keys = [f.key for f in published]
            if not keys:
                raise
            # Snowpipe may have loaded those parts already, and FINAL's watermark with them. An
            # incremental window's pin stays, so the next run re-exports it; say what to run now.
            logger.error(
                "publishing a split export failed midway; removing the parts already published",
                extra={"table": table.table_name, "published": keys, "replay": replay},
            )
            self._store.delete(keys)
            then = (
                "the window stays pinned, so the next scheduled run re-exports it; to do it now, "
                if pinned
                else ""
            )
            raise TerminalError(
                f"{exc}; parts {keys} were published then removed; {then}re-export this window by invoking "
                f"the exporter with {json.dumps(replay)}"
            ) from exc
        return published

    def _discard_temp(self, temp: str) -> None:
        try:
            leftovers = list(self._store.sizes(temp))
            if leftovers:
                self._store.delete(leftovers)
        except SyncError as exc:
            # Only the temp prefix: no pipe watches it and a lifecycle rule expires it.
            logger.warning(
                "could not delete temporary export objects", extra={"prefix": temp, "error": str(exc)}
            )
