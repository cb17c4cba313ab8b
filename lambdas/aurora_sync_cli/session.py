"""One CLI invocation's connections, composed like the Lambdas' (aurora_sync.runtime.Runtime).

Differences from a Lambda run, each on purpose:
- Running on fallback credentials (Vault unreachable, KMS ciphertext from the function's environment)
  prints a warning instead of paging P3: the Lambdas' own runs page for it.
- Powertools' logger writes only warnings, to stderr, so `--json` on stdout stays parseable.
- Statements get the same timeout machinery with a fixed budget instead of a Lambda's remaining time.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from aurora_sync import aws
from aurora_sync.adapters.dynamodb import AlertStateTable
from aurora_sync.adapters.snowflake import Snowflake
from aurora_sync.adapters.snowflake_history import PRODUCTION_QUERIES, HistoryQueries, SnowflakeHistory
from aurora_sync.credentials import CredentialProvider
from aurora_sync.observability import logger
from aurora_sync.pauses import PauseStore
from aurora_sync.runtime import Runtime
from aurora_sync.snowflake_sql import SnowflakeTable
from aurora_sync.tables import TableConfig
from aurora_sync_cli.config import CliSettings, lambda_environment
from aurora_sync_cli.executions import SyncMachine
from aurora_sync_cli.schedule import SyncSchedule
from aurora_sync_cli.snowflake_control import PRODUCTION_CONTROL, ControlStatements, SnowflakeControl

STATEMENT_BUDGET_MS = 5 * 60 * 1000


class UsageProblem(Exception):
    """Bad input found before any side effect; the message names the argument or variable."""


@dataclass(frozen=True)
class Seams:
    """What the local stack replaces, each at the narrowest point: the history and control SQL
    (fakesnow has no INFORMATION_SCHEMA history functions, pipes or tasks), how a function's
    environment is read, and how often a followed execution is polled."""

    history: HistoryQueries = PRODUCTION_QUERIES
    control: ControlStatements = PRODUCTION_CONTROL
    function_environment: Callable[[str, str], dict[str, str]] = field(default=lambda_environment)
    poll_seconds: float = 5.0


def quiet_logs(verbose: bool) -> None:
    logger.setLevel(logging.INFO if verbose else logging.WARNING)
    for handler in logger.handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sys.stderr)


class CliRuntime(Runtime):
    def __init__(self, settings: CliSettings, warn: Callable[[str], None]) -> None:
        super().__init__(settings, "cli", lambda: STATEMENT_BUDGET_MS)
        self.cli_settings = settings
        self._warn = warn

    @cached_property
    def credentials(self) -> CredentialProvider:
        def on_fallback(kind: str, reason: str) -> None:
            self._warn(f"{kind} credentials from the KMS fallback: Vault is unreachable ({reason})")

        return CredentialProvider(self.settings, on_fallback=on_fallback)


class Session:
    def __init__(self, settings: CliSettings, seams: Seams, warn: Callable[[str], None]) -> None:
        self.settings = settings
        self.seams = seams
        self.runtime = CliRuntime(settings, warn)

    def tables(self, wanted: tuple[str, ...]) -> list[TableConfig]:
        """The configured tables (all, or those named, in the order given); an unknown name is a
        usage error naming it and the configured ones."""
        config = self.runtime.parameters.load_tables()
        if not wanted:
            return list(config.tables)
        unknown = [name for name in wanted if config.get(name) is None]
        if unknown:
            raise UsageProblem(
                f"TABLE: {', '.join(unknown)} not in {self.settings.tables_parameter} "
                f"(configured: {', '.join(config.names)})"
            )
        return [t for name in wanted if (t := config.get(name)) is not None]

    def objects(self, table: TableConfig) -> SnowflakeTable:
        return SnowflakeTable(table, self.settings.snowflake.database)

    @cached_property
    def snowflake(self) -> Snowflake:
        return self.runtime.open_snowflake()

    def history(self) -> SnowflakeHistory:
        return SnowflakeHistory(self.snowflake, self.seams.history)

    def control(self) -> SnowflakeControl:
        return SnowflakeControl(self.snowflake, self.seams.control)

    def alert_state(self) -> AlertStateTable:
        return AlertStateTable(
            aws.client("dynamodb", self.settings.aws_region), self.settings.alert_state_table
        )

    def pauses(self) -> PauseStore:
        return PauseStore(self.alert_state())

    def operator(self) -> str:
        """Who is running this, for the pause record: the AWS identity's ARN (what CloudTrail shows)."""
        sts = aws.client("sts", self.settings.aws_region)
        return str(sts.get_caller_identity()["Arn"])

    def schedule(self) -> SyncSchedule | None:
        name = self.settings.sync_schedule_name
        if name is None:
            return None
        return SyncSchedule(
            aws.client("scheduler", self.settings.aws_region), name, self.settings.sync_schedule_group
        )

    def machine(self) -> SyncMachine:
        """The sync state machine; its ARN is required (a usage error naming it before anything runs)."""
        arn = self.settings.state_machine_arn
        if not arn:
            raise UsageProblem(
                "STATE_MACHINE_ARN: not set (Terraform output state_machine_arn, or the variable)"
            )
        return SyncMachine(aws.client("stepfunctions", self.settings.aws_region), arn)

    def close(self) -> None:
        if "snowflake" in self.__dict__:
            self.snowflake.close()
