"""Aurora's columns against tables.json, before a table's export query runs.

What would make the export wrong stops the table: a configured column that is gone, a watermark that
is not a timestamp, a column whose PostgreSQL type the query does not render for its configured
Snowflake type (it would fail mid-export or, worse, write text Snowpipe skips). Columns Aurora has
and the config lacks are only reported: they are not exported, and on-call decides. A retired column
(tables.json `"retired": true`) is neither exported nor checked: Aurora may have it or not.
Each error names the runbook procedure that resolves it (docs/runbook.md, "Schema changes").
"""

from __future__ import annotations

from aurora_sync.alerts import Alert, Severity
from aurora_sync.column_types import mismatch
from aurora_sync.errors import SchemaDriftError, TerminalError
from aurora_sync.tables import TableConfig

WATERMARK_TYPES = frozenset({"timestamp", "timestamptz"})
# docs/runbook.md sections of the two procedures (tests/unit/test_runbook_anchors.py checks they exist).
DROP_COLUMN_ANCHOR = "schema-drop-column"
RETYPE_COLUMN_ANCHOR = "schema-retype-column"


def unexported_columns(table: TableConfig, actual: dict[str, str]) -> list[str]:
    """Aurora's columns that tables.json lacks, in table order; raises when the export cannot run.
    `actual` is Aurora's column name -> PostgreSQL type."""
    if not actual:
        raise TerminalError(f"table {table.table_name} does not exist in Aurora (or is not visible)")
    missing = [c for c in table.column_names if c not in actual]
    if missing:
        raise SchemaDriftError(
            f"{table.table_name}: configured column(s) {', '.join(missing)} no longer exist in Aurora; "
            'mark each "retired": true in tables.json (never delete it: FINAL keeps the column and its '
            f"values) and apply (runbook: {DROP_COLUMN_ANCHOR})"
        )
    wm_type = actual[table.watermark_col]
    if wm_type not in WATERMARK_TYPES:
        raise TerminalError(
            f"{table.table_name}.{table.watermark_col} is {wm_type}, not timestamp/timestamptz"
        )
    wrong = [m for c in table.active_columns if (m := mismatch(c.name, c.type, actual[c.name]))]
    if wrong:
        raise SchemaDriftError(
            f"{table.table_name}: {'; '.join(wrong)}; a retyped column is migrated by procedure "
            f"(runbook: {RETYPE_COLUMN_ANCHOR}), a wrong entry corrected in tables.json "
            f"(`aurora-sync onboard {table.table_name}` prints the mapping)"
        )
    known = {c.name for c in table.columns}
    return [c for c in actual if c not in known]


def drift_alert(table: str, unexported: list[str], run_id: str) -> Alert:
    return Alert(
        severity=Severity.P3,
        check="schema_drift",
        table=table,
        summary=f"Aurora has {len(unexported)} column(s) not in tables.json; they are not exported",
        details={"unexported_columns": unexported},
        run_id=run_id,
        runbook_anchor="schema-mismatch",
    )
