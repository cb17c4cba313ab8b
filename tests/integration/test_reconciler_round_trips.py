"""How many Snowflake statements the reconciler runs per table (docs/deploy.md, "Hundreds of tables").

Every statement goes through `Snowflake.query`, one execute on the connection each: counted here,
by the action it names, on the local stack with every table exported, loaded and merged, for 2 and
for 6 tables. The difference is the cost of a table; what is left is the cost of a run.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from aurora_sync.adapters.postgres import Aurora
from aurora_sync.adapters.s3 import ObjectStore
from aurora_sync.adapters.snowflake import Snowflake
from tests.support.pipeline import DEV_TABLES, Pipeline

# What a table may cost, at most, after batching: COPY_HISTORY (TABLE_NAME is a required argument of
# the function), SYSTEM$PIPE_STATUS (one pipe per call), FINAL's MAX(watermark) and the sampled keys'
# lookup (one table each). TASK_HISTORY and MERGE_AUDIT are read once per run for every table.
PER_TABLE = {"COPY_HISTORY": 1, "SYSTEM$PIPE_STATUS": 1, "MAX": 1, "sampled keys": 1}


def kind(action: str) -> str:
    for name in (
        "COPY_HISTORY",
        "TASK_HISTORY",
        "MERGE_AUDIT",
        "SYSTEM$PIPE_STATUS",
        "PIPE_USAGE_HISTORY",
        "QUERY_ATTRIBUTION_HISTORY",
    ):
        if name in action:
            return name
    if action.startswith("read MAX("):
        return "MAX"
    if action.startswith("look up sampled keys"):
        return "sampled keys"
    return re.sub(r"\W+", " ", action)[:40]


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Snowflake statements by kind; also, for the arithmetic in docs/deploy.md, Aurora statements
    (`aurora`) and S3 requests (`s3`: every ObjectStore read, one request each for these sizes)."""
    counted: Counter[str] = Counter()
    real = Snowflake.query

    def counting(self: Snowflake, sql: str, action: str, params: tuple[Any, ...] | None = None) -> Any:
        counted[kind(action)] += 1
        return real(self, sql, action, params)

    monkeypatch.setattr(Snowflake, "query", counting)
    for cls, method, label in (
        (Aurora, "run", "aurora"),
        *((ObjectStore, m, "s3") for m in ("sizes", "read", "read_if_exists", "exists")),
    ):
        monkeypatch.setattr(cls, method, tallied(getattr(cls, method), label, counted))
    yield counted


def tallied(method: Any, label: str, counted: Counter[str]) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        counted[label] += 1
        return method(*args, **kwargs)

    return wrapper


def pipeline_of(n: int, pg: Any, moto: Any, bao: Any, snow: Any) -> Pipeline:
    """`n` tables shaped like dev's orders (public.orders, public.orders_2, ...), each with rows
    exported, loaded and merged once, so every check has evidence to read."""
    orders = next(t for t in DEV_TABLES if t["table_name"] == "public.orders")
    tables = [orders] + [
        {**orders, "table_name": f"public.orders_{i}", "target_table": f"ORDERS_{i}"} for i in range(2, n + 1)
    ]
    p = Pipeline(pg, moto, bao, snow, tables=tables)
    admin = p.admin()
    try:
        for t in tables:
            name = t["table_name"].split(".")[1]
            if name != "orders":
                admin.run(f"CREATE TABLE public.{name} (LIKE public.orders INCLUDING ALL)")
                admin.run(f"GRANT SELECT ON public.{name} TO {p.db_user}")
            admin.run(
                f"INSERT INTO public.{name} (id, status, updated_at) SELECT g, 'x', "
                "now() - interval '1 hour' + g * interval '2 minutes' FROM generate_series(1, 5) g"
            )
    finally:
        admin.close()
    p.run()
    p.loader().cycle()
    return p


def reconcile_counted(p: Pipeline, statements: Counter[str]) -> Counter[str]:
    statements.clear()
    result = p.reconcile()
    assert result["status"] == "ok", [c for c in result["checks"] if c["status"] != "ok"]
    return Counter(statements)


def test_snowflake_statements_per_table_and_per_run(
    pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any, statements: Counter[str]
) -> None:
    """GIVEN 2, then 6, healthy tables WHEN the reconciler checks them THEN each table costs at most
    COPY_HISTORY, SYSTEM$PIPE_STATUS, MAX(watermark) and the sample lookup (4 statements; it was 6),
    and TASK_HISTORY, MERGE_AUDIT and the two credit views (the cost check) are read once per run,
    whatever the number of tables."""
    two = reconcile_counted(pipeline_of(2, pg_server, moto, bao, fakesnow_server), statements)
    six = reconcile_counted(pipeline_of(6, pg_server, moto, bao, fakesnow_server), statements)

    per_table = {k: (six[k] - two[k]) / 4 for k in six.keys() | two.keys()}
    per_run = {k: two[k] - 2 * per_table[k] for k in per_table}
    print(f"\nper table: {per_table}\nper run: {per_run}")
    snowflake = {k for k in per_table if k not in {"aurora", "s3"}}
    assert {k: per_table[k] for k in snowflake if per_table[k]} == PER_TABLE
    assert {k: per_run[k] for k in snowflake} == {
        **dict.fromkeys(PER_TABLE, 0),
        "TASK_HISTORY": 1,
        "MERGE_AUDIT": 1,
        "PIPE_USAGE_HISTORY": 1,
        "QUERY_ATTRIBUTION_HISTORY": 1,
    }
    # AND S3: one listing of the table's manifests (not one per hour of the look-back), the one
    # manifest it finds, one listing of its publish pins
    assert per_table["s3"] == 3


def test_task_history_pages_back_through_other_databases_runs(
    pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any
) -> None:
    """GIVEN two tables whose tasks ran, then 25 runs of another database's tasks (TASK_HISTORY shows
    the whole account) WHEN the runs are read with pages of 10 rows (the stand-in's RESULT_LIMIT)
    THEN the adapter pages back past the other runs and finds each task's run, complete from `since`."""
    from datetime import UTC, datetime, timedelta

    from aurora_sync.adapters.snowflake_history import SnowflakeHistory
    from tests.support.local_history import SCHEMA, local_queries

    p = pipeline_of(2, pg_server, moto, bao, fakesnow_server)
    runner = p.loader()
    objects = [runner.objects(t) for t in runner.tables]
    now = datetime.now(UTC)
    conn = p.snow.connect(p.snowflake_database, "FINAL")
    try:
        with conn.cursor() as cur:
            for i in range(25):
                at = (now - timedelta(seconds=i)).isoformat()
                cur.execute(
                    f'INSERT INTO {SCHEMA}."TASK_HISTORY" VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)',
                    ("X_MERGE", "ELSEWHERE", "STAGING", "SUCCEEDED", at, at, at, None, None, f"other-{i}"),
                )
    finally:
        conn.close()
    adapter = Snowflake({**p.snow.connect_kwargs, "database": p.snowflake_database})
    try:
        since = now - timedelta(hours=2)
        tasks = {o.task_name for o in objects}
        runs = SnowflakeHistory(adapter, local_queries(10)).task_runs(
            objects[0].bare_database, "STAGING", tasks, since, now + timedelta(seconds=1)
        )
    finally:
        adapter.close()
    assert runs.pages >= 3 and runs.since == since
    assert {task: [r.state for r in found] for task, found in runs.by_task.items()} == {
        task: ["SUCCEEDED"] for task in tasks
    }


def test_a_reconciler_short_of_time_reports_the_tables_it_could_not_reach(
    pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any
) -> None:
    """GIVEN 2 tables and a Lambda with 70 s left, then (after the first table) 50 s
    WHEN the reconciler runs THEN it checks the first table, does not start the second (less than a
    minute left), reports the second's checks as unknown saying to give it more time, and returns
    instead of being killed at its timeout; the self-alert names the cause."""
    from tests.support.lambda_context import LambdaContext

    p = pipeline_of(2, pg_server, moto, bao, fakesnow_server)
    list(p.alerts())
    context = LambdaContext()
    left = iter([70_000, 50_000])
    context.get_remaining_time_in_millis = lambda: next(left, 50_000)  # type: ignore[method-assign]

    result = p.reconcile(context=context)

    by_table = {t: {c["status"] for c in result["checks"] if c["table"] == t} for t in result["tables"]}
    assert by_table == {"public.orders": {"ok", "skipped"}, "public.orders_2": {"unknown"}}
    [alert] = [a for a in p.alerts() if a["check"] == "reconciler"]
    assert "stopped 60 s before its timeout" in alert["summary"] and alert["severity"] == "P3"
