"""The table list (tables.json; in Parameter Store one parameter per table under the index at
TABLES_PARAMETER, see aurora_sync.table_index) and the per-table operational override. Parsed once
per invocation, rejected whole on any error: exporting half a config would hide the broken entry
until someone notices a stale table.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from aurora_sync.column_types import Kind, column_type, comparable_key
from aurora_sync.errors import ConfigError
from aurora_sync.identifiers import validate_identifier
from aurora_sync.validation import describe, json_value

MAX_LOOKBACK_SECONDS = 7 * 24 * 3600
OVERRIDE_EXAMPLE = "/aurora-snowflake-sync/<env>/overrides/"
FULL_RELOAD_ANCHOR = "full-reload"  # docs/runbook.md: the override, step by step
# FINAL's column that marks a row deleted in Aurora when delete_detection is "soft".
DELETED_AT_COLUMN = "_DELETED_AT"
DEFAULT_MAX_DELETE_FRACTION = 0.01


class DeleteDetection(StrEnum):
    """`delete_detection` of a tables.json entry (aurora_sync.deletes): what happens in FINAL to a
    row whose key Aurora no longer has. The MERGE can only carry what an export saw, so without it
    a row hard-deleted in Aurora stays in FINAL for good."""

    OFF = "off"  # FINAL keeps the row as it was
    SOFT = "soft"  # FINAL keeps the row and sets _DELETED_AT
    HARD = "hard"  # the row is deleted from FINAL


class ColumnSpec(BaseModel):
    """A column of the table. `retired`: Aurora dropped it (or is about to): it is no longer exported,
    loaded or merged, but STAGING and FINAL keep it, and FINAL its values (runbook: schema-drop-column).
    A column is retired in place, never deleted from tables.json: Terraform drops a Snowflake column
    that leaves the list, and the place keeps the list in the tables' physical order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    type: str
    retired: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return validate_identifier(value, "column name")

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        """The export query renders each column from this type (aurora_sync.column_types), so a type
        it cannot render unambiguously is refused here, before any export."""
        return column_type(value).name


Identifier = Annotated[str, Field(min_length=1)]


class LowVolume(BaseModel):
    """`low_volume` of a tables.json entry: the reconciler's volume check (reconciler/volume.py), off
    when absent. It compares the rows exported for the last `hours` hours of watermark time with the
    same hours of the week in each of the past `weeks` weeks: a table's traffic repeats weekly
    (business hours, nights, weekends), so only a drop against the same time of week means anything.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    hours: int = Field(default=6, ge=1, le=24)  # the span summed: N hourly runs smooth out one slow hour
    below_fraction: float = Field(default=0.2, gt=0, lt=1)  # a problem below this share of the median
    weeks: int = Field(default=3, ge=1, le=4)  # manifests are kept 30 days (manifest_retention_days)
    min_weeks: int = Field(default=2, ge=1, le=4)  # fewer weeks with history: off (pending)
    # A median of a handful of rows drops to zero by chance (Poisson noise), which is no signal.
    min_rows: int = Field(default=100, ge=1)

    @model_validator(mode="after")
    def _enough_weeks(self) -> LowVolume:
        if self.min_weeks > self.weeks:
            raise ValueError(f"min_weeks: {self.min_weeks} is more than weeks ({self.weeks})")
        return self


class TableConfig(BaseModel):
    """One entry of tables.json (DESIGN.md §3)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table_name: str
    watermark_col: Identifier
    primary_keys: list[Identifier] = Field(min_length=1)
    columns: list[ColumnSpec] = Field(min_length=1)
    soft_delete_col: str | None = None
    lookback_seconds: int = Field(default=0, ge=0, le=MAX_LOOKBACK_SECONDS)
    freshness_sla_minutes: int = Field(default=120, gt=0)
    target_table: str | None = None
    low_volume: LowVolume | None = None
    # Snowflake credits a UTC day may cost this table (Snowpipe + its MERGE task), the reconciler's
    # `cost` check (reconciler/cost.py): a P4 above it; without it the credits are reported, never
    # alerted on. Strict: a JSON string or true is refused, not read as a number.
    daily_credit_budget: float | None = Field(default=None, gt=0, allow_inf_nan=False, strict=True)
    delete_detection: DeleteDetection = DeleteDetection.OFF
    # A pass that would delete more than this share of FINAL (and more than one row) applies nothing
    # and pages: a key read that lost rows, a wrong table or a bulk purge must not empty FINAL.
    # None: DEFAULT_MAX_DELETE_FRACTION (`delete_limit_fraction`); only with delete_detection on.
    max_delete_fraction: float | None = Field(default=None, gt=0, le=1)
    # No longer a setting: it made every hourly run a full export until the next apply. Declared only
    # so that a tables.json entry or an SSM parameter still holding it fails naming the field and the
    # fix, instead of as an unknown key; never set on a valid config.
    full_refresh: None = Field(default=None, exclude=True)

    @field_validator("full_refresh", mode="before")
    @classmethod
    def _full_refresh(cls, value: object, info: ValidationInfo) -> None:
        table = info.data.get("table_name", "<schema.table>")
        raise ValueError(
            "no longer a tables.json key (it made every hourly run a full export until the next apply); "
            f"remove it, and for one full export set the override {OVERRIDE_EXAMPLE}{table} to "
            '{"full_refresh": true} (the exporter deletes it after that export; '
            f"runbook: {FULL_RELOAD_ANCHOR}), "
            f"or run `aurora-sync resync {table}`"
        )

    @field_validator("table_name")
    @classmethod
    def _table_name(cls, value: str) -> str:
        parts = value.split(".")
        if len(parts) != 2:
            raise ValueError(f"{value!r} must be schema.table")
        for part in parts:
            validate_identifier(part, "table_name part")
        return value

    @field_validator("watermark_col", "soft_delete_col", "target_table")
    @classmethod
    def _identifier(cls, value: str | None) -> str | None:
        return None if value is None else validate_identifier(value)

    @field_validator("primary_keys")
    @classmethod
    def _keys(cls, value: list[str]) -> list[str]:
        for key in value:
            validate_identifier(key, "primary key")
        if len({k.lower() for k in value}) != len(value):
            raise ValueError("primary key listed twice")
        return value

    @model_validator(mode="after")
    def _columns_cover_references(self) -> TableConfig:
        names = [c.name.lower() for c in self.columns]
        if len(set(names)) != len(names):
            # Snowflake folds to upper case: id and ID would be the same column there.
            raise ValueError("columns: two columns share a name (case-insensitively)")
        referenced = [
            ("watermark_col", self.watermark_col),
            *(("primary_keys", k) for k in self.primary_keys),
        ]
        if self.soft_delete_col:
            referenced.append(("soft_delete_col", self.soft_delete_col))
        active = [c.name.lower() for c in self.active_columns]
        for field, name in referenced:
            if name.lower() not in names:
                raise ValueError(f"{field}: {name!r} is not in columns")
            if name.lower() not in active:
                raise ValueError(
                    f"{field}: {name!r} is retired; keys, the watermark and the soft-delete column "
                    "stay active"
                )
        return self

    @model_validator(mode="after")
    def _delete_detection(self) -> TableConfig:
        if self.delete_detection is DeleteDetection.OFF:
            if self.max_delete_fraction is not None:
                raise ValueError("max_delete_fraction: set, but delete_detection is off (the default)")
            return self
        types = {c.name.lower(): c.type for c in self.columns}
        if column_type(types[self.watermark_col.lower()]).kind not in (Kind.TIMESTAMP_TZ, Kind.TIMESTAMP_NTZ):
            # Tombstones carry the pass's bound as a timestamp in the watermark column.
            raise ValueError("delete_detection: the watermark column must be a TIMESTAMP_TZ/LTZ/NTZ")
        for key in self.primary_keys:
            problem = comparable_key(types[key.lower()])
            if problem is not None:
                raise ValueError(f"delete_detection: primary key {key!r} is {problem}")
        if self.delete_detection is DeleteDetection.SOFT and DELETED_AT_COLUMN.lower() in types:
            raise ValueError(
                f"delete_detection: soft adds the FINAL column {DELETED_AT_COLUMN}, which columns already has"
            )
        return self

    @property
    def detects_deletes(self) -> bool:
        return self.delete_detection is not DeleteDetection.OFF

    @property
    def delete_limit_fraction(self) -> float:
        """The share of FINAL one detection pass may delete (max_delete_fraction or its default)."""
        return DEFAULT_MAX_DELETE_FRACTION if self.max_delete_fraction is None else self.max_delete_fraction

    @property
    def schema_name(self) -> str:
        return self.table_name.split(".")[0]

    @property
    def relation(self) -> str:
        return self.table_name.split(".")[1]

    @property
    def snowflake_table(self) -> str:
        return (self.target_table or self.relation).upper()

    @property
    def active_columns(self) -> list[ColumnSpec]:
        """The columns exported, loaded and merged, in tables.json's order (the CSV's order)."""
        return [c for c in self.columns if not c.retired]

    @property
    def column_names(self) -> list[str]:
        """Names of the active columns: the export's select list and the CSV header."""
        return [c.name for c in self.active_columns]

    @property
    def retired_column_names(self) -> list[str]:
        return [c.name for c in self.columns if c.retired]


class TablesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tables: list[TableConfig]

    @model_validator(mode="after")
    def _unique(self) -> TablesConfig:
        seen: set[str] = set()
        targets: set[str] = set()
        for i, table in enumerate(self.tables):
            if table.table_name in seen:
                raise ValueError(f"tables[{i}].table_name: {table.table_name!r} is listed twice")
            if table.snowflake_table in targets:
                raise ValueError(f"tables[{i}]: Snowflake table {table.snowflake_table!r} is used twice")
            seen.add(table.table_name)
            targets.add(table.snowflake_table)
        return self

    def get(self, table_name: str) -> TableConfig | None:
        return next((t for t in self.tables if t.table_name == table_name), None)

    @property
    def names(self) -> list[str]:
        return [t.table_name for t in self.tables]


class Override(BaseModel):
    """`/aurora-snowflake-sync/overrides/<schema.table>`: set by on-call, deleted by the exporter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    full_refresh: bool = False


def parse_tables(raw: str, source: str) -> TablesConfig:
    """Parse the SSM parameter value (a JSON array of TableConfig entries)."""
    data = json_value(raw, source)
    if not isinstance(data, list):
        raise ConfigError(source, "(value)", f"expected a JSON array of tables, got {type(data).__name__}")
    try:
        return TablesConfig.model_validate({"tables": data})
    except ValidationError as exc:
        field, problems = describe(exc)
        raise ConfigError(source, field, problems) from None


def parse_entry(raw: str, source: str, table_name: str) -> TableConfig:
    """One table's parameter (a tables.json entry), which must be the entry of `table_name`."""
    data = json_value(raw, source)
    if not isinstance(data, dict):
        raise ConfigError(source, "(value)", f"expected a JSON object (one table), got {type(data).__name__}")
    try:
        table = TableConfig.model_validate(data)
    except ValidationError as exc:
        field, problems = describe(exc)
        raise ConfigError(source, field, problems) from None
    if table.table_name != table_name:
        raise ConfigError(
            source, "table_name", f"is {table.table_name!r}; this parameter holds {table_name!r}"
        )
    return table


def combine_tables(tables: list[TableConfig], source: str) -> TablesConfig:
    """Entries checked one by one, then together (no Snowflake table used twice)."""
    try:
        return TablesConfig(tables=tables)
    except ValidationError as exc:
        field, problems = describe(exc)
        raise ConfigError(source, field, problems) from None


def parse_override(raw: str, source: str) -> Override:
    try:
        return Override.model_validate_json(raw)
    except ValidationError as exc:
        field, problems = describe(exc)
        raise ConfigError(source, field, problems) from None
