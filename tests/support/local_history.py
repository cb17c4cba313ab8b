"""Where the local pipe/task stand-in keeps its history, and the reconciler's SQL to read it.

fakesnow has no INFORMATION_SCHEMA.COPY_HISTORY / TASK_HISTORY table functions and no
SYSTEM$PIPE_STATUS, so the stand-in writes rows shaped like theirs into plain tables of a
`LOCAL_HISTORY` schema, and the reconciler reads them with these queries instead of
PRODUCTION_QUERIES: same binds in the same order, same columns in the same order, same values
(COPY_HISTORY's mixed-case statuses, TASK_HISTORY's upper-case states, the pipe status JSON).
"""

from __future__ import annotations

from aurora_sync.adapters.snowflake_history import HistoryQueries

SCHEMA = '"LOCAL_HISTORY"'

DDL = (
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}."COPY_HISTORY" (
        "FILE_NAME" VARCHAR, "STAGE_LOCATION" VARCHAR, "TABLE_NAME" VARCHAR,
        "LAST_LOAD_TIME" TIMESTAMP_TZ, "ROW_COUNT" NUMBER, "ROW_PARSED" NUMBER, "ERROR_COUNT" NUMBER,
        "FIRST_ERROR_MESSAGE" VARCHAR, "STATUS" VARCHAR)""",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}."TASK_HISTORY" (
        "NAME" VARCHAR, "DATABASE_NAME" VARCHAR, "SCHEMA_NAME" VARCHAR, "STATE" VARCHAR,
        "SCHEDULED_TIME" TIMESTAMP_TZ, "COMPLETED_TIME" TIMESTAMP_TZ, "ERROR_CODE" VARCHAR,
        "ERROR_MESSAGE" VARCHAR, "QUERY_ID" VARCHAR)""",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}."PIPE_STATUS" ("PIPE_NAME" VARCHAR, "STATUS_JSON" VARCHAR)""",
)

LOCAL_QUERIES = HistoryQueries(
    copy_history=(
        'SELECT "FILE_NAME", "STAGE_LOCATION", "LAST_LOAD_TIME", "ROW_COUNT", "ROW_PARSED", "ERROR_COUNT",'
        ' "FIRST_ERROR_MESSAGE", "STATUS"'
        f' FROM {SCHEMA}."COPY_HISTORY" WHERE "TABLE_NAME" = %s AND "LAST_LOAD_TIME" >= %s::TIMESTAMP_TZ'
        ' ORDER BY "LAST_LOAD_TIME"'
    ),
    task_history=(
        'SELECT "NAME", "STATE", "SCHEDULED_TIME", "COMPLETED_TIME", "ERROR_CODE", "ERROR_MESSAGE",'
        ' "QUERY_ID"'
        f' FROM {SCHEMA}."TASK_HISTORY"'
        ' WHERE "NAME" = %s AND "SCHEDULED_TIME" >= %s::TIMESTAMP_TZ AND "DATABASE_NAME" = %s'
        ' AND "SCHEMA_NAME" = %s'
        ' ORDER BY "SCHEDULED_TIME"'
    ),
    pipe_status=f'SELECT "STATUS_JSON" FROM {SCHEMA}."PIPE_STATUS" WHERE "PIPE_NAME" = %s',
    merge_audit=(
        'SELECT "QUERY_ID", "ROWS_INSERTED", "ROWS_UPDATED", "MERGED_AT" FROM {audit_table}'
        ' WHERE "TABLE_NAME" = %s AND "MERGED_AT" >= %s::TIMESTAMP_TZ ORDER BY "MERGED_AT"'
    ),
)
