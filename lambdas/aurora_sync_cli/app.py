"""What every subcommand shares: the global options, the seams, errors and exit codes.

Only click is imported at module level, so `aurora-sync --help` loads no SDK (docs/decisions.md):
sessions, boto3, Snowflake and rich are imported by the command that uses them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from aurora_sync_cli.session import Seams, Session


class UsageFailure(click.ClickException):
    """Bad input or configuration, found before any side effect (exit 2, like click's usage errors)."""

    exit_code = 2


class ActionFailure(click.ClickException):
    """Something the command tried failed (exit 1); the message says what ran and what did not."""

    exit_code = 1


class Unreadable(click.ClickException):
    """status could not read what it needs to judge anything (exit 3: unknown, never ok)."""

    exit_code = 3


@dataclass
class App:
    seams: Seams | None
    env: str | None
    outputs: Path | None
    verbose: bool

    def command(self) -> str:
        """How this invocation was called, for the commands it prints (follow again, re-run)."""
        if self.env is not None:
            return f"aurora-sync --env {self.env}"
        if self.outputs is not None:
            return f"aurora-sync --outputs {self.outputs}"
        return "aurora-sync"

    def warn(self, message: str) -> None:
        click.secho(f"warning: {message}", err=True, fg="yellow")

    def session(self) -> Session:
        """Settings from outputs, shell and the reconciler's environment, validated before anything
        else runs; every missing or bad variable is named in one error."""
        from aurora_sync.errors import ConfigError
        from aurora_sync_cli.config import (
            FUNCTION_NAME_VARIABLE,
            load_cli_settings,
            read_outputs,
            resolve_environment,
        )
        from aurora_sync_cli.session import Seams, Session, quiet_logs

        quiet_logs(self.verbose)
        seams = self.seams or Seams()
        try:
            outputs = read_outputs(self.env, self.outputs)
            environ = resolve_environment(outputs, os.environ, seams.function_environment)
            settings = load_cli_settings(environ)
        except ConfigError as exc:
            raise UsageFailure(str(exc)) from None
        if FUNCTION_NAME_VARIABLE in environ:
            # The KMS fallback's encryption context is read from the process environment (adapters/kms.py).
            os.environ.setdefault(FUNCTION_NAME_VARIABLE, environ[FUNCTION_NAME_VARIABLE])
        return Session(settings, seams, self.warn)


pass_app = click.make_pass_decorator(App)
