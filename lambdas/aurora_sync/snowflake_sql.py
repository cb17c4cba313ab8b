"""Per-table Snowflake SQL, rendered from the templates Terraform renders too.

The templates (terraform/modules/snowflake_table/sql/*.sql) hold the SQL once; their only
placeholders are `${name}`, which Terraform's templatefile() and the renderer below both
substitute, so the two cannot drift. Every value put into a template is produced here by typed
code: identifiers validated and quoted, lists joined in config order.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict, Unpack

from aurora_sync.identifiers import quote_sf, validate_identifier
from aurora_sync.layout import TOMBSTONE_SUFFIX
from aurora_sync.tables import DELETED_AT_COLUMN, DeleteDetection, TableConfig

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "terraform" / "modules" / "snowflake_table" / "sql"
JSON_TYPES = frozenset({"VARIANT", "OBJECT", "ARRAY"})
METADATA_COLUMNS = ("_SOURCE_FILE", "_SOURCE_ROW", "_LOADED_AT")
SCHEDULE_PATTERN = re.compile(r"^(\d+ (MINUTE|MINUTES)|USING CRON [0-9*/,\- ]+ [A-Za-z_/]+)$")
S3_URL_PATTERN = re.compile(r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/[A-Za-z0-9_.\-/]*$")
# Staged rows older than this are deleted by the task in its MERGE's transaction (per table: no
# lock shared across tables). At least 7 days: a week of staged rows is what on-call needs to
# diagnose a row-count mismatch within the reconciler's look-back (168 hours at most); FINAL never
# depends on them. MERGE_AUDIT is not purged: about one row per load per table, and a DELETE on it
# in every table's task would serialize all their transactions on that one table.
STAGING_RETENTION_DAYS = 14
STAGING_RETENTION_RANGE = range(7, 366)
# Every MERGE task runs with QUERY_TAG = this + "<DATABASE>:<schema.table>" (task.sql), so Snowflake's
# query history attributes each query to its table: the reconciler's cost check sums them by tag.
# The database keeps dev's and prod's tasks apart in an account they share; the Lambdas' own
# sessions are tagged "aurora-snowflake-sync:<component>:<run_id>" (aurora_sync.runtime).
MERGE_QUERY_TAG = "aurora-snowflake-sync:merge:"
# The task's Snowflake Scripting variable holding a soft-mode MERGE's marks (task.sql, mark_count.sql).
MARKED_ROWS_VARIABLE = "marked_rows"


class RenderOptions(TypedDict, total=False):
    """The deployment values of SnowflakeTable.values() (Terraform's module variables)."""

    source: str | None
    stage_url: str
    storage_integration: str
    warehouse: str
    schedule: str
    staging_retention_days: int


class BracedTemplate(string.Template):
    """Only `${name}` is a placeholder: `METADATA$FILENAME` and `SYSTEM$...` stay literal, as in
    Terraform's templatefile()."""

    pattern = r"""
    \$\{(?P<braced>[a-z_][a-z0-9_]*)\}
    | (?P<escaped>(?!))
    | (?P<named>(?!))
    | (?P<invalid>(?!))
    """  # type: ignore[assignment]


def render(name: str, values: dict[str, str], templates: Path = TEMPLATES_DIR) -> str:
    """Render one template; a placeholder without a value is an error, never an empty string."""
    text = (templates / f"{name}.sql").read_text()
    return BracedTemplate(text).substitute(values).strip()


@dataclass(frozen=True)
class SnowflakeTable:
    """The Snowflake objects of one configured table, and the values their templates need.

    Every name is database-qualified: a pipe's and a task's SQL is resolved when the object is
    created, in a Terraform session that has no current database (or the deploy user's default
    one), and later by sessions that may have another. `database` is SNOWFLAKE_DATABASE on the
    Python side and the module's `database` variable on Terraform's; both come from the
    snowflake_account module's database.
    """

    table: TableConfig
    database: str
    staging_schema: str = "STAGING"
    final_schema: str = "FINAL"

    def __post_init__(self) -> None:
        validate_identifier(self.database, "database")

    def name(self, schema: str, suffix: str = "") -> str:
        return quote_sf(self.database, schema, validate_identifier(self.table.snowflake_table + suffix))

    def bare(self, schema: str, suffix: str = "") -> str:
        """Unquoted upper-case DATABASE.SCHEMA.NAME, for history functions that take names as strings."""
        name = validate_identifier(self.table.snowflake_table + suffix)
        return ".".join(p.upper() for p in (self.database, validate_identifier(schema), name))

    @property
    def bare_database(self) -> str:
        """The database as TASK_HISTORY's DATABASE_NAME column reports it (upper-case, unquoted)."""
        return self.database.upper()

    @property
    def merge_query_tag_prefix(self) -> str:
        """What every MERGE task's QUERY_TAG of this database starts with."""
        return f"{MERGE_QUERY_TAG}{self.bare_database}:"

    @property
    def merge_query_tag(self) -> str:
        """The QUERY_TAG the table's MERGE task sets (a single-quoted literal in task.sql: validated
        identifiers hold no quote or backslash)."""
        parts = [validate_identifier(p) for p in self.table.table_name.split(".")]
        return self.merge_query_tag_prefix + ".".join(parts)

    @property
    def task_name(self) -> str:
        """The task's name alone: TASK_HISTORY(TASK_NAME => ...) takes no qualified names."""
        return validate_identifier(self.table.snowflake_table + "_MERGE").upper()

    @property
    def pipe_name(self) -> str:
        """The pipe's name alone, as ACCOUNT_USAGE's PIPE_USAGE_HISTORY and PIPES report it."""
        return validate_identifier(self.table.snowflake_table + "_PIPE").upper()

    @property
    def staging(self) -> str:
        return self.name(self.staging_schema)

    @property
    def final(self) -> str:
        return self.name(self.final_schema)

    @property
    def stream(self) -> str:
        return self.name(self.staging_schema, "_STREAM")

    @property
    def pipe(self) -> str:
        return self.name(self.staging_schema, "_PIPE")

    @property
    def stage(self) -> str:
        return self.name(self.staging_schema, "_STAGE")

    @property
    def task(self) -> str:
        return self.name(self.staging_schema, "_MERGE")

    @property
    def file_format(self) -> str:
        return quote_sf(self.database, self.staging_schema, "AURORA_CSV")

    @property
    def audit_table(self) -> str:
        return quote_sf(self.database, self.staging_schema, "MERGE_AUDIT")

    def values(
        self,
        *,
        source: str | None = None,
        stage_url: str = "",
        storage_integration: str = "AURORA_EXPORTS",
        warehouse: str = "SYNC_WH",
        schedule: str = "5 MINUTE",
        staging_retention_days: int = STAGING_RETENTION_DAYS,
    ) -> dict[str, str]:
        """Every placeholder's value. `source` is what the MERGE reads: the stream in production,
        the STAGING table where streams do not exist (fakesnow)."""
        if not SCHEDULE_PATTERN.fullmatch(schedule):
            raise ValueError(f"schedule {schedule!r} must be 'N MINUTE' or 'USING CRON ...'")
        if stage_url and not S3_URL_PATTERN.fullmatch(stage_url):
            raise ValueError(f"stage_url {stage_url!r} must be s3://bucket/prefix/")
        if type(staging_retention_days) is not int or staging_retention_days not in STAGING_RETENTION_RANGE:
            raise ValueError(
                f"staging_retention_days {staging_retention_days!r} must be a whole number of days, 7..365"
            )
        # Loaded and merged: the active columns. Defined in STAGING and FINAL: every column, retired
        # ones too, in tables.json's order, so that retiring one changes neither table.
        cols = [quote_sf(c.name) for c in self.table.active_columns]
        keys = [quote_sf(k) for k in self.table.primary_keys]
        non_keys = [c for c in cols if c not in keys]
        values = {
            "staging": self.staging,
            "final": self.final,
            "stream": self.stream,
            "stream_name": self.stream,
            "pipe": self.pipe,
            "stage": self.stage,
            "task": self.task,
            "file_format": self.file_format,
            "stage_url": stage_url,
            "storage_integration": quote_sf(validate_identifier(storage_integration)),
            "warehouse": quote_sf(validate_identifier(warehouse)),
            "schedule": schedule,
            "staging_retention_days": str(staging_retention_days),
            "source": source or self.stream,
            "columns": ", ".join(cols),
            "column_definitions": ",\n  ".join(f"{quote_sf(c.name)} {c.type}" for c in self.table.columns),
            "key_columns": ", ".join(keys),
            "key_join": " AND ".join(f"t.{k} = s.{k}" for k in keys),
            "watermark": quote_sf(self.table.watermark_col),
            "update_set": ",\n  ".join(
                [f"{c} = s.{c}" for c in non_keys]
                + (
                    [f"{quote_sf(DELETED_AT_COLUMN)} = NULL"]
                    if self.table.delete_detection is DeleteDetection.SOFT
                    else []
                )
            ),
            "insert_values": ", ".join(f"s.{c}" for c in cols),
            "audit_table": self.audit_table,
            "query_tag": self.merge_query_tag,
            # A single-quoted literal: validated identifiers contain no quote or backslash.
            "table_name": ".".join(validate_identifier(p) for p in self.table.table_name.split(".")),
            "copy_expressions": ", ".join(
                f"PARSE_JSON(${i})" if c.type.split("(")[0] in JSON_TYPES else f"${i}"
                for i, c in enumerate(self.table.active_columns, start=1)
            ),
        }
        values |= self._delete_values(values["watermark"])
        values["copy"] = render("copy", values)
        values["merge_source"] = render("merge_source", values)
        values["merge"] = render("merge", values)
        values["mark_count"] = render("mark_count", values) if values["tombstone_acts"] else ""
        values["mark_step"] = (
            f"LET {MARKED_ROWS_VARIABLE} NUMBER(38,0) := 0;\n  {values['mark_count']};\n  "
            if values["mark_count"]
            else ""
        )
        values["audit_insert"] = render("audit_insert", values)
        values["purge_staging"] = render("purge_staging", values)
        return values

    def _delete_values(self, watermark: str) -> dict[str, str]:
        """The MERGE's tombstone branch and FINAL's soft-delete column (aurora_sync.deletes). Empty
        strings without delete detection, so such a table's statements render as they always did.

        A staged row is a tombstone when it came from a tombstone file (`_SOURCE_FILE`; the file's
        name is the only mark: real rows may have NULLs too). The dedup keeps the latest watermark
        per key, so a key re-inserted after the detection pass (watermark above the tombstone's)
        wins and comes back; at an equal watermark the data row ranks first (`tombstone_order`). A
        tombstone acts only when it is strictly newer than FINAL's row (a row updated since the
        pass is kept). Both tie rules keep the row: if a row stamped exactly at the pass's bound is
        really gone, the next pass (a later bound) removes it, whereas a tombstone winning a tie
        against a row that exists would lose it for good (its watermark is below every later
        export's lower bound). A tombstone never inserts; in soft mode it sets `_DELETED_AT` and
        leaves FINAL's watermark alone (the exporter's lower bound reads MAX of it), and any later
        version of the row sets `_DELETED_AT` back to NULL."""
        mode = self.table.delete_detection
        if mode is DeleteDetection.OFF:
            return dict.fromkeys(
                (
                    "tombstone_column",
                    "tombstone_order",
                    "tombstone_clause",
                    "tombstone_acts",
                    "not_tombstone",
                    "final_extra_columns",
                    "mark_into",
                ),
                "",
            ) | {"audit_updated": "$2", "audit_deleted": "0", "audit_marked": "0"}
        deleted_at = quote_sf(DELETED_AT_COLUMN)
        newer = f"(t.{watermark} IS NULL OR s.{watermark} > t.{watermark})"
        # A single-quoted literal: the suffix is a constant without quotes or wildcards.
        is_tombstone = f"\"_SOURCE_FILE\" LIKE '%{TOMBSTONE_SUFFIX}.csv'"
        acts = f's."_TOMBSTONE" AND {newer}'
        values = {
            "tombstone_column": f', {is_tombstone} AS "_TOMBSTONE"',
            "tombstone_order": f", CASE WHEN {is_tombstone} THEN 1 ELSE 0 END",
            "not_tombstone": ' AND NOT s."_TOMBSTONE"',
            "final_extra_columns": "",
            "tombstone_clause": f"\nWHEN MATCHED AND {acts} THEN DELETE",
            "tombstone_acts": "",
            "mark_into": "",
            # The MERGE's result has a third column, rows deleted, only with a DELETE clause.
            "audit_updated": "$2",
            "audit_deleted": "$3",
            "audit_marked": "0",
        }
        if mode is DeleteDetection.SOFT:
            wm_type = next(
                c.type for c in self.table.columns if c.name.lower() == self.table.watermark_col.lower()
            )
            values["final_extra_columns"] = f",\n  {deleted_at} {wm_type}"
            values["tombstone_clause"] = (
                f"\nWHEN MATCHED AND {acts} THEN UPDATE SET\n"
                f"  {deleted_at} = COALESCE(t.{deleted_at}, s.{watermark})"
            )
            # A mark is an update in the MERGE's result: counted before the MERGE (mark_count.sql,
            # the same source and condition, in the same transaction) and moved out of ROWS_UPDATED.
            marked = f":{MARKED_ROWS_VARIABLE}"
            values |= {
                "tombstone_acts": acts,
                "mark_into": f" INTO {marked}",
                "audit_updated": f"$2 - {marked}",
                "audit_deleted": "0",
                "audit_marked": marked,
            }
        return values

    def statements(self, **kwargs: Unpack[RenderOptions]) -> dict[str, str]:
        """Every object's SQL, in creation order."""
        values = self.values(**kwargs)
        order = (
            "file_format",
            "staging_table",
            "final_table",
            "merge_audit_table",
            "stage",
            "pipe",
            "stream",
            "task",
        )
        return {name: render(name, values) for name in order}
