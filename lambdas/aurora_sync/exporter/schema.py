"""Aurora's columns against tables.json, before a table's export query runs.

What would make the export wrong stops the table: a configured column that is gone, a watermark that
is not a timestamp, a column whose PostgreSQL type the query does not render for its configured
Snowflake type (it would fail mid-export or, worse, write text Snowpipe skips). Columns Aurora has
and the config lacks are only reported: they are not exported, and on-call decides.
"""

from __future__ import annotations

from aurora_sync.alerts import Alert, Severity
from aurora_sync.column_types import mismatch
from aurora_sync.errors import SchemaDriftError, TerminalError
from aurora_sync.tables import TableConfig

WATERMARK_TYPES = frozenset({"timestamp", "timestamptz"})


def unexported_columns(table: TableConfig, actual: dict[str, str]) -> list[str]:
    """Aurora's columns that tables.json lacks, in table order; raises when the export cannot run.
    `actual` is Aurora's column name -> PostgreSQL type."""
    if not actual:
        raise TerminalError(f"table {table.table_name} does not exist in Aurora (or is not visible)")
    missing = [c for c in table.column_names if c not in actual]
    if missing:
        raise SchemaDriftError(
            f"{table.table_name}: configured column(s) {', '.join(missing)} no longer exist in Aurora; "
            "update tables.json (and the Snowflake tables) before exporting"
        )
    wm_type = actual[table.watermark_col]
    if wm_type not in WATERMARK_TYPES:
        raise TerminalError(
            f"{table.table_name}.{table.watermark_col} is {wm_type}, not timestamp/timestamptz"
        )
    wrong = [m for c in table.columns if (m := mismatch(c.name, c.type, actual[c.name]))]
    if wrong:
        raise SchemaDriftError(
            f"{table.table_name}: {'; '.join(wrong)}; correct tables.json (`aurora-sync onboard "
            f"{table.table_name}` prints the mapping) or the Aurora column before exporting"
        )
    return [c for c in actual if c not in set(table.column_names)]


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
