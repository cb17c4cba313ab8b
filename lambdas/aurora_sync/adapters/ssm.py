"""SSM Parameter Store: the Terraform-owned table list and CA bundle, and on-call's per-table overrides."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from aurora_sync.adapters.aws_errors import classify, error_code
from aurora_sync.errors import ConfigError
from aurora_sync.table_index import (
    TableIndex,
    entries_digest,
    entry_parameter,
    index_part_parameter,
    parse_index,
    parse_index_part,
)
from aurora_sync.tables import (
    Override,
    TablesConfig,
    combine_tables,
    parse_entry,
    parse_override,
)

# GetParametersByPath returns at most 10 parameters a call (API reference: MaxResults 1..10).
PAGE_SIZE = 10
# An apply writes the table parameters, then the index, a moment apart: a reader that finds them
# disagreeing looks once more after this pause before it calls the list broken.
SETTLE_SECONDS = 5.0


class ParameterStore:
    def __init__(
        self,
        ssm: Any,
        tables_parameter: str,
        overrides_path: str,
        *,
        settle_seconds: float = SETTLE_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._ssm = ssm
        self._tables_parameter = tables_parameter
        self._overrides_path = overrides_path
        self._settle_seconds = settle_seconds
        self._sleep = sleep

    def override_name(self, table: str) -> str:
        return f"{self._overrides_path}{table}"

    def load_tables(self, only: str | None = None) -> TablesConfig:
        """The table list: the index at TABLES_PARAMETER and every parameter under it (the tables'
        entries and the index's further parts, aurora_sync.table_index), checked against each other:
        1 + ceil(parameters / 10) requests.

        `only` (one Step Functions item's table) reads the index and that table's parameter alone:
        two requests whatever the number of tables, so a Map of many items does not read the whole
        list once per item (the Plan before it did). A table without a parameter falls back to the
        whole list, whose checks name what is wrong (or the payload error what is configured)."""
        index = self._index()
        if only is not None:
            name = entry_parameter(self._tables_parameter, only)
            raw = self._get(name)
            if raw is not None:
                return combine_tables([parse_entry(raw, name, only)], name)
        found = self._under_index()
        try:
            listed = self._agreeing(index, found)
        except ConfigError:  # perhaps an apply in progress: one second look, then it stands
            self._sleep(self._settle_seconds)
            index, found = self._index(), self._under_index()
            listed = self._agreeing(index, found)
        return self._parse(listed, found)

    def read_text(self, name: str) -> str | None:
        """Any other parameter's value (None when it does not exist), e.g. the Aurora CA bundle."""
        return self._get(name)

    def load_override(self, table: str) -> Override | None:
        name = self.override_name(table)
        raw = self._get(name)
        return None if raw is None else parse_override(raw, name)

    def delete_override(self, table: str) -> None:
        name = self.override_name(table)
        try:
            self._ssm.delete_parameter(Name=name)
        except ClientError as exc:
            if error_code(exc) == "ParameterNotFound":
                return
            raise classify(exc, f"ssm:DeleteParameter {name}") from exc
        except BotoCoreError as exc:
            raise classify(exc, f"ssm:DeleteParameter {name}") from exc

    # -- the table list ----------------------------------------------------------------------------
    def _index(self) -> TableIndex:
        raw = self._get(self._tables_parameter)
        if raw is None:
            raise ConfigError(
                self._tables_parameter, "(parameter)", "does not exist; terraform apply writes it"
            )
        return parse_index(raw, self._tables_parameter)

    def _under_index(self) -> dict[str, str]:
        """Every parameter directly under the index's name: name -> value."""
        found: dict[str, str] = {}
        kwargs: dict[str, Any] = {
            "Path": self._tables_parameter,
            "Recursive": False,
            "WithDecryption": True,
            "MaxResults": PAGE_SIZE,
        }
        action = f"ssm:GetParametersByPath {self._tables_parameter}"
        while True:
            try:
                page = self._ssm.get_parameters_by_path(**kwargs)
            except (ClientError, BotoCoreError) as exc:
                raise classify(exc, action) from exc
            found.update({p["Name"]: str(p["Value"]) for p in page.get("Parameters", [])})
            if not page.get("NextToken"):
                return found
            kwargs["NextToken"] = page["NextToken"]

    def _listed(self, index: TableIndex, found: dict[str, str]) -> list[str]:
        """Every table the index lists: its own names, then those of its parts 2..parts."""
        names = list(index.tables)
        for part in range(2, index.parts + 1):
            name = index_part_parameter(self._tables_parameter, part)
            if name not in found:
                raise ConfigError(
                    name,
                    "(parameter)",
                    f"does not exist, but the index {self._tables_parameter} has {index.parts} parts: a "
                    "terraform apply is running or stopped before writing it; re-run the apply",
                )
            names += parse_index_part(found[name], name, part)
        if len(names) != index.count or len(set(names)) != len(names):
            raise ConfigError(
                self._tables_parameter,
                "count",
                f"is {index.count}, but its {index.parts} part(s) list {len(set(names))} different tables",
            )
        return names

    def _agreeing(self, index: TableIndex, found: dict[str, str]) -> list[str]:
        """The tables the index lists, when the index and the parameters under it are one apply's
        output; otherwise a ConfigError naming the parameter that disagrees."""
        listed = self._listed(index, found)
        parts = {index_part_parameter(self._tables_parameter, k) for k in range(2, index.parts + 1)}
        expected = {entry_parameter(self._tables_parameter, t): t for t in listed}
        missing = sorted(expected.keys() - found.keys())
        if missing:
            raise self._missing(missing[0], expected[missing[0]], len(missing))
        extra = sorted(found.keys() - expected.keys() - parts)
        if extra:
            others = f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""
            raise ConfigError(
                extra[0],
                "(parameter)",
                f"is not listed in the index {self._tables_parameter}{others}: a terraform apply is "
                "running or stopped before updating the index, or it was written by hand; re-run the "
                "apply (it deletes a parameter no tables.json entry names)",
            )
        digest = entries_digest({table: found[name] for name, table in expected.items()})
        if digest != index.sha256:
            raise ConfigError(
                self._tables_parameter,
                "sha256",
                f"does not match the {len(expected)} table parameters under {self._tables_parameter}/: "
                "one changed after the index was written (a terraform apply running or stopped half-way, "
                "or an edit by hand); re-run the apply",
            )
        return listed

    def _missing(self, name: str, table: str, count: int) -> ConfigError:
        others = f" (and {count - 1} more)" if count > 1 else ""
        return ConfigError(
            name,
            "(parameter)",
            f"does not exist, but the index {self._tables_parameter} lists {table}{others}: a terraform "
            "apply is running or stopped before writing it; re-run the apply",
        )

    def _parse(self, listed: list[str], found: dict[str, str]) -> TablesConfig:
        tables = []
        for table in listed:
            name = entry_parameter(self._tables_parameter, table)
            tables.append(parse_entry(found[name], name, table))
        return combine_tables(tables, self._tables_parameter)

    def _get(self, name: str) -> str | None:
        try:
            response = self._ssm.get_parameter(Name=name, WithDecryption=True)
        except ClientError as exc:
            if error_code(exc) == "ParameterNotFound":
                return None
            raise classify(exc, f"ssm:GetParameter {name}") from exc
        except BotoCoreError as exc:
            raise classify(exc, f"ssm:GetParameter {name}") from exc
        return str(response["Parameter"]["Value"])
