"""Pipes and tasks: read a task's state, pause/resume a pipe, suspend/resume a task.

The statements are a seam like the reconciler's HistoryQueries: fakesnow has no pipes or tasks (no
ALTER PIPE, ALTER TASK, SHOW TASKS, SYSTEM$PIPE_STATUS), so the local stack passes its own statements
(tests/support/local_history.py, LOCAL_CONTROL) over the stand-in's tables; what the CLI decides and
prints runs unchanged. Placeholders, all from validated identifiers (aurora_sync.snowflake_sql):
`{pipe}` and `{task}` the quoted "DATABASE"."STAGING"."<TABLE>_PIPE" / "..._MERGE", `{task_name}` the
bare upper-case task name, `{schema}` the quoted "DATABASE"."STAGING".

Snowflake semantics relied on (docs.snowflake.com, sql-reference):
- ALTER PIPE ... SET PIPE_EXECUTION_PAUSED = TRUE: SYSTEM$PIPE_STATUS reports executionState PAUSED;
  files still arrive (S3 events are queued) and are loaded once the pipe is set back to FALSE (RUNNING).
- ALTER TASK ... SUSPEND / RESUME: RESUME puts a suspended task in the 'started' state; for a task graph
  the children must be resumed before the root (SYSTEM$TASK_DEPENDENTS_ENABLE does it recursively).
  Each table's MERGE task here is a standalone root (its own SCHEDULE, no AFTER), so one ALTER each.
- SHOW TASKS LIKE '<pattern>' IN SCHEMA <db>.<schema>: `name`, `state` ('started' | 'suspended'); the
  pattern is case-insensitive with SQL wildcards, so the exact name is matched here again.
"""

from __future__ import annotations

from dataclasses import dataclass

from aurora_sync.adapters.snowflake import Snowflake
from aurora_sync.errors import TerminalError
from aurora_sync.identifiers import quote_sf
from aurora_sync.snowflake_sql import SnowflakeTable


@dataclass(frozen=True)
class ControlStatements:
    pause_pipe: str
    resume_pipe: str
    suspend_task: str
    resume_task: str
    # Statements run in order on one session; the last returns (name, state) rows.
    task_state: tuple[str, ...]


PRODUCTION_CONTROL = ControlStatements(
    pause_pipe="ALTER PIPE {pipe} SET PIPE_EXECUTION_PAUSED = TRUE",
    resume_pipe="ALTER PIPE {pipe} SET PIPE_EXECUTION_PAUSED = FALSE",
    suspend_task="ALTER TASK {task} SUSPEND",
    resume_task="ALTER TASK {task} RESUME",
    task_state=(
        "SHOW TASKS LIKE '{task_name}' IN SCHEMA {schema}",
        'SELECT "name", "state" FROM TABLE(RESULT_SCAN(LAST_QUERY_ID()))',
    ),
)


class SnowflakeControl:
    def __init__(self, snowflake: Snowflake, statements: ControlStatements = PRODUCTION_CONTROL) -> None:
        self._sf = snowflake
        self._s = statements

    def _names(self, objects: SnowflakeTable) -> dict[str, str]:
        return {
            "pipe": objects.pipe,
            "task": objects.task,
            "task_name": objects.task_name,
            "schema": quote_sf(objects.database, objects.staging_schema),
        }

    def _run(self, template: str, objects: SnowflakeTable, action: str) -> list[tuple[object, ...]]:
        return self._sf.query(template.format(**self._names(objects)), action)

    def pause_pipe(self, objects: SnowflakeTable) -> None:
        self._run(self._s.pause_pipe, objects, f"pause pipe {objects.pipe}")

    def resume_pipe(self, objects: SnowflakeTable) -> None:
        self._run(self._s.resume_pipe, objects, f"resume pipe {objects.pipe}")

    def suspend_task(self, objects: SnowflakeTable) -> None:
        self._run(self._s.suspend_task, objects, f"suspend task {objects.task}")

    def resume_task(self, objects: SnowflakeTable) -> None:
        self._run(self._s.resume_task, objects, f"resume task {objects.task}")

    def task_state(self, objects: SnowflakeTable) -> str:
        """'started' or 'suspended'; a task Snowflake does not show (missing, no MONITOR) is an error."""
        rows: list[tuple[object, ...]] = []
        for template in self._s.task_state:
            rows = self._run(template, objects, f"read the state of task {objects.task}")
        states = [str(state).lower() for name, state in rows if str(name).upper() == objects.task_name]
        if not states:
            raise TerminalError(
                f"task {objects.task} is not shown: it does not exist, or the role lacks MONITOR on it"
            )
        return states[0]
