"""`aurora-sync pause` / `resume` on the local stack: the schedule (EventBridge Scheduler in moto),
pipes and tasks (the stand-in's state, through LOCAL_CONTROL: fakesnow has no ALTER PIPE/TASK), each
step printed, confirmation, and files exported meanwhile loaded once resumed."""

from __future__ import annotations

import json
from dataclasses import replace

from tests.integration.cli_fixtures import synced
from tests.support.cli import LOCAL_SEAMS, CliStack

__all__ = ["synced"]


def states(stack: CliStack) -> dict[str, tuple[str, str]]:
    runner = stack.pipeline.loader()
    return {t.table_name: (runner.pipe_state(t), runner.task_state(t)) for t in runner.tables}


def add_orders(stack: CliStack, first: int) -> None:
    admin = stack.pipeline.admin()
    admin.run(
        "INSERT INTO public.orders (id, status, amount, updated_at) "
        f"SELECT g, 'new', 1, now() - interval '1 minute' FROM generate_series({first}, {first + 4}) g"
    )
    admin.close()


def final_orders(stack: CliStack) -> int:
    p = stack.pipeline
    with p.snow.connect(p.snowflake_database, "FINAL") as conn:
        return int(conn.cursor().execute('SELECT COUNT(*) FROM "FINAL"."ORDERS"').fetchone()[0])


def test_pausing_one_table_holds_its_files_until_resumed(synced: CliStack) -> None:
    # WHEN on-call pauses one table
    paused = synced.invoke("pause", "public.orders", "--for", "2h", "--reason", "add a column", "--yes")
    # THEN the pause is recorded first, then its pipe and task stop, each step printed; the shared
    # schedule and the other table run on
    assert paused.exit_code == 0, paused.output
    assert "the hourly schedule runs every table: left as it is" in paused.stdout
    assert "[1/3] record the pause of public.orders until " in paused.stdout
    assert '[2/3] pause pipe "' in paused.stdout and '_PIPE" ... done' in paused.stdout
    assert '[3/3] suspend task "' in paused.stdout and "terraform apply" in paused.stdout
    assert states(synced) == {
        "public.orders": ("PAUSED", "suspended"),
        "public.customers": ("RUNNING", "started"),
    }
    assert synced.schedule_state() == "ENABLED"
    # AND an export made meanwhile waits: pending in the pipe, not in FINAL; status says so (exit 1)
    add_orders(synced, 100)
    synced.pipeline.run()
    synced.pipeline.loader().cycle()
    assert final_orders(synced) == 30
    status = json.loads(synced.invoke("status", "public.orders", "--json").stdout)
    orders = status["tables"][0]
    assert status["exit_code"] == 1
    assert orders["pipe"]["value"] == {"execution_state": "PAUSED", "pending_file_count": 1}
    assert orders["task_state"] == {"value": "suspended"}
    assert orders["pause"]["value"]["reason"] == "add a column"
    assert orders["findings"][0]["what"] == "pause"
    # AND the reconciler sends the paused pipe to chat as P3, naming the pause; the pager hears nothing
    synced.pipeline.reconcile(LOAD_GRACE_MINUTES="0.01")
    chat = [m for m in synced.pipeline.alerts() if m["table"] == "public.orders"]
    assert [m for m in synced.pipeline.pages() if m["table"] == "public.orders"] == []
    pipe = next(m for m in chat if m["check"] == "pipe")
    assert pipe["severity"] == "P3" and "(add a column); would be P2]" in pipe["summary"]
    # WHEN resumed: task first, then the pipe
    resumed = synced.invoke("resume", "public.orders", "--yes")
    assert resumed.exit_code == 0, resumed.output
    assert resumed.stdout.index("resume task") < resumed.stdout.index("resume pipe")
    assert "[3/3] remove the pause record of public.orders ... done" in resumed.stdout
    # THEN the waiting file loads and merges, and status is ok again
    synced.pipeline.loader().cycle()
    assert final_orders(synced) == 35
    # AND the next reconciler run resolves what the pause caused, in chat only, and status is ok again
    synced.pipeline.reconcile(LOAD_GRACE_MINUTES="0.01")
    resolved = [m for m in synced.pipeline.alerts() if m["table"] == "public.orders"]
    assert {(m["check"], m["status"], m["severity"]) for m in resolved} >= {("pipe", "resolved", "P3")}
    assert [m for m in synced.pipeline.pages() if m["table"] == "public.orders"] == []
    assert synced.invoke("status").exit_code == 0


def test_pausing_everything_asks_first_and_stops_the_schedule(synced: CliStack) -> None:
    # WHEN on-call declines the confirmation THEN nothing changed, exit 1
    declined = synced.invoke("pause", input="n\n")
    assert declined.exit_code == 1, declined.output
    assert "set schedule" in declined.stdout and "nothing changed" in declined.output
    assert synced.schedule_state() == "ENABLED"
    assert set(states(synced).values()) == {("RUNNING", "started")}
    # WHEN confirmed THEN the schedule first, then every pipe and task
    confirmed = synced.invoke("pause", input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert "[1/6] record the pause of 2 tables" in confirmed.stdout
    assert "[2/6] set schedule" in confirmed.stdout and "DISABLED ... done" in confirmed.stdout
    assert synced.schedule_state() == "DISABLED"
    assert set(states(synced).values()) == {("PAUSED", "suspended")}
    # AND status counts the disabled schedule as a problem
    assert synced.invoke("status").exit_code == 1
    # WHEN resumed THEN tasks and pipes first, the schedule last, and everything runs again
    resumed = synced.invoke("resume", "--yes")
    assert resumed.exit_code == 0, resumed.output
    assert "[5/6] set schedule" in resumed.stdout and "[6/6] remove the pause record" in resumed.stdout
    assert synced.schedule_state() == "ENABLED"
    assert set(states(synced).values()) == {("RUNNING", "started")}
    assert synced.invoke("status").exit_code == 0


def test_bad_input_changes_nothing_and_exits_2(synced: CliStack) -> None:
    # a pause too long for a pipe (14 days makes it stale) or not a duration
    for duration in ("8d", "0h", "soon"):
        refused = synced.invoke("pause", "public.orders", "--for", duration, "--yes")
        assert refused.exit_code == 2 and "--for" in refused.output, refused.output
    # an unknown table
    unknown = synced.invoke("pause", "public.nope", "--yes")
    assert unknown.exit_code == 2 and "public.nope" in unknown.output
    # the schedule's name missing (outputs without it, nothing in the shell)
    synced.write_outputs(drop=("sync_schedule",))
    no_schedule = synced.invoke("pause", "--yes")
    assert no_schedule.exit_code == 2 and "SYNC_SCHEDULE_NAME" in no_schedule.output
    assert "[1/" not in no_schedule.stdout
    assert set(states(synced).values()) == {("RUNNING", "started")}
    status = json.loads(synced.invoke("status", "--json").stdout)
    assert [t["pause"] for t in status["tables"]] == [{"value": None}, {"value": None}]


def test_a_failed_step_stops_and_says_what_ran(synced: CliStack) -> None:
    # GIVEN the task cannot be suspended (here: the production statement, which fakesnow refuses)
    seams = replace(
        LOCAL_SEAMS, control=replace(LOCAL_SEAMS.control, suspend_task="ALTER TASK {task} SUSPEND")
    )
    result = synced.invoke("pause", "public.orders", "--yes", seams=seams)
    # THEN exit 1, the failing step named, what ran and what did not
    assert result.exit_code == 1, result.output
    assert "suspend task" in result.output and "FAILED" in result.stdout
    assert "done: 2 of 3 steps; not run: none" in result.output
    assert states(synced)["public.orders"] == ("PAUSED", "started")
