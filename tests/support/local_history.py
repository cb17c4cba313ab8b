"""Where the local pipe/task stand-in keeps its history, and the SQL the reconciler and the CLI use on it.

fakesnow has no INFORMATION_SCHEMA.COPY_HISTORY / TASK_HISTORY table functions and no
SYSTEM$PIPE_STATUS, so the stand-in writes rows shaped like theirs into plain tables of a
`LOCAL_HISTORY` schema, and the reconciler reads them with these queries instead of
PRODUCTION_QUERIES: same binds in the same order, same columns in the same order, same values
(COPY_HISTORY's mixed-case statuses, TASK_HISTORY's upper-case states, the pipe status JSON), and
the same documented reach: a range starting more than 7 (TASK_HISTORY) or 14 (COPY_HISTORY) days
ago fails the query, as it does in Snowflake, so a look-back that overreaches fails here too.

Credits: SNOWFLAKE.ACCOUNT_USAGE.PIPE_USAGE_HISTORY (joined with PIPES for the pipe's database and
schema) and QUERY_ATTRIBUTION_HISTORY are tables of the same names here, one row per load and per
MERGE run (tests/support/snowpipe_runner.py says how it prices them). The views keep a year, so no
range fails; they lag by hours in Snowflake and not here, which the reconciler does not rely on: it
only reads a day whose latency has passed (reconciler/cost.py).

The CLI's pause/resume and task state (aurora_sync_cli.snowflake_control) go through LOCAL_CONTROL
the same way: fakesnow has no ALTER PIPE, ALTER TASK or SHOW TASKS, so the statements set the
stand-in's pipe status (`executionState`, which its loader obeys) and a task state it keeps in
`TASK_STATE` (a suspended task's MERGE does not run in `cycle()`).
"""

from __future__ import annotations

from aurora_sync.adapters.snowflake_history import HistoryQueries
from aurora_sync_cli.snowflake_control import ControlStatements

SCHEMA = '"LOCAL_HISTORY"'

DDL = (
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}."COPY_HISTORY" (
        "FILE_NAME" VARCHAR, "STAGE_LOCATION" VARCHAR, "TABLE_NAME" VARCHAR,
        "LAST_LOAD_TIME" TIMESTAMP_TZ, "ROW_COUNT" NUMBER, "ROW_PARSED" NUMBER, "ERROR_COUNT" NUMBER,
        "FIRST_ERROR_MESSAGE" VARCHAR, "STATUS" VARCHAR)""",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}."TASK_HISTORY" (
        "NAME" VARCHAR, "DATABASE_NAME" VARCHAR, "SCHEMA_NAME" VARCHAR, "STATE" VARCHAR,
        "SCHEDULED_TIME" TIMESTAMP_TZ, "QUERY_START_TIME" TIMESTAMP_TZ, "COMPLETED_TIME" TIMESTAMP_TZ,
        "ERROR_CODE" VARCHAR, "ERROR_MESSAGE" VARCHAR, "QUERY_ID" VARCHAR)""",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}."PIPE_STATUS" ("PIPE_NAME" VARCHAR, "STATUS_JSON" VARCHAR)""",
    # PIPE_USAGE_HISTORY's columns, with PIPES' PIPE_CATALOG and PIPE_SCHEMA in place of the join.
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}."PIPE_USAGE_HISTORY" (
        "PIPE_CATALOG" VARCHAR, "PIPE_SCHEMA" VARCHAR, "PIPE_NAME" VARCHAR,
        "START_TIME" TIMESTAMP_TZ, "END_TIME" TIMESTAMP_TZ, "CREDITS_USED" DOUBLE,
        "BYTES_INSERTED" NUMBER, "FILES_INSERTED" NUMBER)""",
    # QUERY_ATTRIBUTION_HISTORY's columns the reconciler reads, and the warehouse's size (QUERY_HISTORY
    # has it; here it shows what the stand-in priced the run at).
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}."QUERY_ATTRIBUTION_HISTORY" (
        "QUERY_ID" VARCHAR, "QUERY_TAG" VARCHAR, "WAREHOUSE_NAME" VARCHAR, "WAREHOUSE_SIZE" VARCHAR,
        "START_TIME" TIMESTAMP_TZ, "END_TIME" TIMESTAMP_TZ, "CREDITS_ATTRIBUTED_COMPUTE" DOUBLE,
        "CREDITS_USED_QUERY_ACCELERATION" DOUBLE)""",
    # SHOW TASKS' name and state ('started' | 'suspended') of each quoted "DATABASE"."STAGING"."<T>_MERGE".
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}."TASK_STATE" ("TASK" VARCHAR, "NAME" VARCHAR, "STATE" VARCHAR)""",
)


def _within(days: int, function: str, argument: str) -> str:
    """A CASE that fails the query, as Snowflake fails the history function, when the range starts
    more than `days` ago; evaluated once per query (the one-row "ARGS" CTE drives the join), so an
    empty history fails as well. The failure is a value that cannot be cast, which fakesnow reports
    as a SQL error (a bare ERROR() would be an HTTP 500 the connector retries for minutes)."""
    return (
        f'CASE WHEN "START" < DATEADD(DAY, -{days}, CURRENT_TIMESTAMP()) THEN CAST(\'{function}: '
        f"{argument} must be within the last {days} days (local stand-in of the Snowflake limit), got '"
        ' || "START"::VARCHAR AS TIMESTAMP_TZ) ELSE "START" END'
    )


def local_queries(task_history_limit: int = 10000) -> HistoryQueries:
    """The stand-in's queries. TASK_HISTORY returns, like Snowflake's RESULT_LIMIT, only the
    `task_history_limit` most recent runs of the range (every database's), with the page's row count
    and oldest SCHEDULED_TIME, and its oldest row whatever it is; a test passes a small limit to see
    the reconciler page back."""
    return HistoryQueries(
        copy_history=(
            'WITH "ARGS" AS (SELECT %s AS "TABLE_NAME", %s::TIMESTAMP_TZ AS "START"),'
            f' "RANGE" AS (SELECT "TABLE_NAME", {_within(14, "COPY_HISTORY", "START_TIME")} AS "START"'
            ' FROM "ARGS")'
            ' SELECT h."FILE_NAME", h."STAGE_LOCATION", h."LAST_LOAD_TIME", h."ROW_COUNT", h."ROW_PARSED",'
            ' h."ERROR_COUNT", h."FIRST_ERROR_MESSAGE", h."STATUS"'
            f' FROM "RANGE" r LEFT JOIN {SCHEMA}."COPY_HISTORY" h'
            ' ON h."TABLE_NAME" = r."TABLE_NAME" AND h."LAST_LOAD_TIME" >= r."START"'
            ' WHERE h."FILE_NAME" IS NOT NULL ORDER BY h."LAST_LOAD_TIME"'
        ),
        task_history=(
            'WITH "ARGS" AS (SELECT %s::TIMESTAMP_TZ AS "START", %s::TIMESTAMP_TZ AS "END",'
            ' %s AS "DATABASE_NAME", %s AS "SCHEMA_NAME"),'
            ' "RANGE" AS (SELECT "END", "DATABASE_NAME", "SCHEMA_NAME",'
            f' {_within(7, "TASK_HISTORY", "SCHEDULED_TIME_RANGE_START")} AS "START" FROM "ARGS"),'
            ' "PAGE" AS (SELECT h.* FROM "RANGE" r'
            f' JOIN {SCHEMA}."TASK_HISTORY" h'
            ' ON h."SCHEDULED_TIME" >= r."START" AND h."SCHEDULED_TIME" <= r."END"'
            f' ORDER BY h."SCHEDULED_TIME" DESC LIMIT {int(task_history_limit)}),'
            ' "ROWS" AS (SELECT *, COUNT(*) OVER () AS "PAGE_ROWS",'
            ' MIN("SCHEDULED_TIME") OVER () AS "PAGE_START",'
            ' ROW_NUMBER() OVER (ORDER BY "SCHEDULED_TIME") AS "PAGE_ROW" FROM "PAGE")'
            ' SELECT p."NAME", p."STATE", p."SCHEDULED_TIME", p."QUERY_START_TIME", p."COMPLETED_TIME",'
            ' p."ERROR_CODE", p."ERROR_MESSAGE", p."QUERY_ID", p."DATABASE_NAME", p."SCHEMA_NAME",'
            ' p."PAGE_ROWS", p."PAGE_START"'
            ' FROM "RANGE" r LEFT JOIN "ROWS" p ON (p."DATABASE_NAME" = r."DATABASE_NAME"'
            ' AND p."SCHEMA_NAME" = r."SCHEMA_NAME" AND p."QUERY_ID" IS NOT NULL) OR p."PAGE_ROW" = 1'
            ' ORDER BY p."SCHEDULED_TIME"'
        ),
        pipe_status=f'SELECT "STATUS_JSON" FROM {SCHEMA}."PIPE_STATUS" WHERE "PIPE_NAME" = %s',
        merge_audit=(
            'SELECT "TABLE_NAME", "QUERY_ID", "ROWS_INSERTED", "ROWS_UPDATED", "ROWS_DELETED", "ROWS_MARKED",'
            ' "MERGED_AT" FROM {audit_table}'
            ' WHERE "MERGED_AT" >= %s::TIMESTAMP_TZ ORDER BY "MERGED_AT"'
        ),
        pipe_credits=(
            'SELECT h."PIPE_NAME", SUM(h."CREDITS_USED") AS "CREDITS", SUM(h."BYTES_INSERTED") AS "BYTES"'
            f' FROM {SCHEMA}."PIPE_USAGE_HISTORY" h'
            ' WHERE h."START_TIME" >= %s::TIMESTAMP_TZ AND h."START_TIME" < %s::TIMESTAMP_TZ'
            ' AND h."PIPE_CATALOG" = %s AND h."PIPE_SCHEMA" = %s'
            ' GROUP BY h."PIPE_NAME" ORDER BY h."PIPE_NAME"'
        ),
        merge_credits=(
            'SELECT "QUERY_TAG", SUM("CREDITS_ATTRIBUTED_COMPUTE"'
            ' + COALESCE("CREDITS_USED_QUERY_ACCELERATION", 0)) AS "CREDITS", COUNT(*) AS "QUERIES"'
            f' FROM {SCHEMA}."QUERY_ATTRIBUTION_HISTORY"'
            ' WHERE "START_TIME" >= %s::TIMESTAMP_TZ AND "START_TIME" < %s::TIMESTAMP_TZ'
            ' AND STARTSWITH("QUERY_TAG", %s)'
            ' GROUP BY "QUERY_TAG" ORDER BY "QUERY_TAG"'
        ),
        task_history_limit=task_history_limit,
    )


LOCAL_QUERIES = local_queries()


def _pipe_state(state: str, other: str) -> str:
    """The stand-in's status JSON (json.dumps, default separators) with executionState changed."""
    return (
        f'UPDATE {SCHEMA}."PIPE_STATUS" SET "STATUS_JSON" = REPLACE("STATUS_JSON",'
        f' \'"executionState": "{other}"\', \'"executionState": "{state}"\')'
        " WHERE \"PIPE_NAME\" = '{pipe}'"
    )


LOCAL_CONTROL = ControlStatements(
    pause_pipe=_pipe_state("PAUSED", "RUNNING"),
    resume_pipe=_pipe_state("RUNNING", "PAUSED"),
    suspend_task=f"""UPDATE {SCHEMA}."TASK_STATE" SET "STATE" = 'suspended' WHERE "TASK" = '{{task}}'""",
    resume_task=f"""UPDATE {SCHEMA}."TASK_STATE" SET "STATE" = 'started' WHERE "TASK" = '{{task}}'""",
    task_state=(f"""SELECT "NAME", "STATE" FROM {SCHEMA}."TASK_STATE" WHERE "TASK" = '{{task}}'""",),
)
