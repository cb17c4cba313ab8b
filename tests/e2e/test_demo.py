"""`make demo` tells what happened, and only that (issue 14 §7).

The demo runs once, as `make demo` runs it (`python -m scripts.demo` from the checkout, its own local
stack), and each test reads that one output: no metric JSON, the rejected file's P2 with its runbook
link, the backfill command built from the page's `rerun` and its success, the `resolved` message and
`aurora-sync status` all green. The demo checks each step itself and exits 1 when one did not happen
(tests/unit/test_demo_checks.py); exit 0 here means every step it printed happened.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import AWS_ACCOUNT_ENV
from tests.support.stack import LOCALSTACK_HOST, NeedsMotoError
from tests.support.terraform import terraform_bin

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(terraform_bin() is None, reason="terraform is not installed here")
# What the demo decides for itself: its output must not depend on the caller's shell setting them.
DEMO_DEFAULTS = ("POWERTOOLS_METRICS_DISABLED", "POWERTOOLS_LOG_LEVEL", "POWERTOOLS_DEV")


@dataclass(frozen=True)
class DemoRun:
    returncode: int
    stdout: str
    stderr: str

    def section(self, title_start: str) -> str:
        """The text under the first `== <title...>` heading that starts with `title_start`."""
        for part in self.stdout.split("\n== ")[1:]:
            if part.startswith(title_start):
                return part
        raise AssertionError(f"no section {title_start!r} in the demo's output:\n{self.stdout}")


@pytest.fixture(scope="module")
def demo() -> DemoRun:
    """GIVEN `make demo` run once from the checkout, with no AWS account or Powertools setting of the
    caller's shell."""
    host = os.environ.get(LOCALSTACK_HOST, "").strip()
    if host:
        raise NeedsMotoError("make demo (its backfill runs the state machine on moto)", host)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in AWS_ACCOUNT_ENV and k not in DEMO_DEFAULTS and k != "AWS_ENDPOINT_URL"
    }
    env["PYTHONPATH"] = "lambdas:."
    done = subprocess.run(
        [sys.executable, "-m", "scripts.demo"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return DemoRun(done.returncode, done.stdout, done.stderr)


def test_the_demo_succeeds_and_prints_no_metric_json(demo: DemoRun) -> None:
    # THEN it exits 0 with nothing on stderr, and no line of its output is Powertools EMF
    assert demo.returncode == 0, f"{demo.stdout}\n--- stderr ---\n{demo.stderr}"
    assert demo.stderr == ""
    lines = demo.stdout.splitlines()
    assert not [line for line in lines if '"_aws"' in line]
    assert "metrics: not printed (POWERTOOLS_METRICS_DISABLED)" in demo.stdout
    # AND the two hourly runs and the comparison are told before the incident
    compared = demo.section("Aurora vs Snowflake FINAL")
    assert re.search(r"public\.orders +201 rows in both", compared)
    assert "reconciler: ok" in demo.section("reconciler") and "nothing sent" in demo.section("reconciler")


def test_the_rejected_file_pages_p2_with_its_runbook_link(demo: DemoRun) -> None:
    # THEN the demo says what it staged, the pipe's rejection is Snowflake's first error, and the
    # pager's message is a P2 `loads` page for public.orders linking the runbook's load-failed section
    incident = demo.section("incident: a file the pipe rejects")
    assert "STAGED by the demo" in incident
    assert re.search(
        r"Snowpipe +public\.orders/\S+\.csv: Load failed, Timestamp '.+\+00' is not recognized", incident
    )
    page = demo.section("the pager receives (SNS")
    assert "  P2 loads public.orders (open)" in page
    assert re.search(r"runbook: https://\S+/docs/runbook\.md#load-failed\n", page)


def test_the_backfill_is_the_pages_rerun_and_succeeds(demo: DemoRun) -> None:
    # GIVEN the rerun payload the page carried
    page = demo.section("the pager receives (SNS")
    rerun = json.loads(page.split("rerun:", 1)[1].strip().splitlines()[0])
    # THEN the command on-call types is that window, through the CLI, and it succeeded
    fix = demo.section("on-call re-exports the window")
    command = (
        f"backfill public.orders --start {rerun['start']} --end {rerun['end']}\n"  # the command line's end
    )
    assert re.search(r"^\$ aurora-sync --outputs \S+/outputs\.json " + re.escape(command), fix, re.M)
    assert ": SUCCEEDED\n" in fix and "1 of 1 exported, 0 failed" in fix and "reconciler: ok" in fix
    assert "(exit 0)" in fix
    assert re.search(r"Snowpipe +public\.orders/\S+\.csv: Loaded, \d+ rows", fix)


def test_the_pager_receives_resolved_and_status_is_all_green(demo: DemoRun) -> None:
    # THEN the pager's next message resolves the page, and status says OK for both tables, exit 0
    resolved = demo.section("the pager receives, after the execution's Reconcile step")
    assert resolved.splitlines()[1] == "  P2 loads public.orders (resolved)"
    status = demo.section("is every table in sync?")
    assert re.search(r"^\$ aurora-sync --outputs \S+ status$", status, re.M)
    assert ": OK " in status and "(exit 0)" in status
    assert re.search(r"^public\.orders +ok ", status, re.M) and re.search(
        r"^public\.customers +ok ", status, re.M
    )
    assert demo.stdout.rstrip().endswith("every table in sync, no alert open")
