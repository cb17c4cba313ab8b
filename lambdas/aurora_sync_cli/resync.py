"""The full-refresh procedure's reads and writes (runbook "full-reload"), each one step of
`aurora-sync resync`: the table's export lease, the full_refresh override, the manifest that proves
the refresh, and the row counts beside it.

Why an override and an incremental execution, not a manual range: the exporter honours the override
only for incremental windows (exporter/window.py `_plan`: a manual window never reads it), takes
every row then (NULL watermarks included), writes the manifest with `full_refresh: true`, and deletes
the override only after the manifest (so a failed refresh is retried by the next run, never lost).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from aurora_sync import aws
from aurora_sync.adapters.aws_errors import classify
from aurora_sync.exporter.lease import Lease
from aurora_sync.manifest import ReadManifest, read_manifests
from aurora_sync.tables import TableConfig

if TYPE_CHECKING:
    from aurora_sync_cli.session import Session

OVERRIDE_VALUE = {"full_refresh": True}
WHAT_IT_FIXES = (
    "A full refresh exports every row of the table (NULL watermarks included) and the MERGE updates or "
    "inserts each by primary key: rows FINAL lacks, or holds with older values, are fixed. It removes "
    "nothing: rows deleted from Aurora stay in FINAL unless the table has delete_detection (its hourly "
    "pass deletes or marks them) or a soft_delete_col. A full refresh is one window the state machine "
    "cannot split: it must finish within one exporter timeout. It reads the whole table: watch Aurora's CPU."
)


@dataclass(frozen=True)
class Counts:
    exported: int
    aurora_estimate: str
    final: str


class FullRefresh:
    def __init__(self, session: Session, table: TableConfig) -> None:
        self._session = session
        self.table = table
        self.override_name = session.runtime.parameters.override_name(table.table_name)

    # -- 1. no export of the table running --------------------------------------------------------
    def running_export(self, now: datetime) -> Lease | None:
        """The lease of an export of this table still running (held and not expired), or None."""
        name = self._session.settings.export_lease_table
        assert name, "checked by the command"
        client = aws.client("dynamodb", self._session.settings.aws_region)
        try:
            item = client.get_item(
                TableName=name, Key={"lease_key": {"S": self.table.table_name}}, ConsistentRead=True
            ).get("Item")
        except (ClientError, BotoCoreError) as exc:
            raise classify(exc, f"dynamodb:GetItem {name} {self.table.table_name}") from exc
        if not item:
            return None
        plain = {k: (int(v["N"]) if "N" in v else v.get("S")) for k, v in item.items()}
        lease = Lease.from_item(self.table.table_name, plain)
        if lease is None or (lease.expires_at is not None and lease.expires_at <= now):
            return None
        return lease

    # -- 2. the override ------------------------------------------------------------------------
    def override_set(self) -> bool:
        return self._session.runtime.parameters.read_text(self.override_name) is not None

    def set_override(self) -> None:
        ssm = aws.client("ssm", self._session.settings.aws_region)
        try:
            ssm.put_parameter(
                Name=self.override_name, Value=json.dumps(OVERRIDE_VALUE), Type="String", Overwrite=True
            )
        except (ClientError, BotoCoreError) as exc:
            raise classify(exc, f"ssm:PutParameter {self.override_name}") from exc

    # -- 5. the proof -----------------------------------------------------------------------------
    def refresh_manifest(self, since: datetime) -> ReadManifest | None:
        """The newest full-refresh manifest of the table written since `since` (ours, or that of a run
        that held the lease and consumed the override first)."""
        store = self._session.runtime.store()
        now = datetime.now(UTC)
        found, _invalid = read_manifests(store, self.table.table_name, since - timedelta(hours=1), now)
        refreshes = [m for m in found if m.doc.full_refresh and m.doc.finished() >= since]
        return max(refreshes, key=lambda m: m.doc.finished(), default=None)

    # -- 6. counts, each cheap: the planner's estimate, Snowflake's metadata count -----------------
    def counts(self, manifest: ReadManifest) -> Counts:
        return Counts(manifest.doc.rows, self._aurora_estimate(), self._final_count())

    def _aurora_estimate(self) -> str:
        aurora = None
        try:
            aurora = self._session.runtime.open_aurora()
            rows = aurora.run(
                "SELECT c.reltuples::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :schema AND c.relname = :relation",
                "estimate the table's rows",
                schema=self.table.schema_name,
                relation=self.table.relation,
            )
        except Exception as exc:  # a count is information, never a reason to fail the refresh
            return f"unknown ({exc})"
        finally:
            if aurora is not None:
                aurora.close()
        estimate = int(rows[0][0]) if rows and rows[0][0] is not None else -1
        return "unknown (not analyzed yet)" if estimate < 0 else f"about {estimate:,} (pg_class.reltuples)"

    def _final_count(self) -> str:
        objects = self._session.objects(self.table)
        try:
            rows: list[Any] = self._session.snowflake.query(
                f"SELECT COUNT(*) FROM {objects.final}", f"count {objects.final}"
            )
        except Exception as exc:  # as above
            return f"unknown ({exc})"
        return f"{int(rows[0][0]):,}"
