"""What the checks send: a failed check raises its alert, a passing one resolves it, an UNKNOWN one
leaves it as it is; one alert about the reconciler itself names the checks that could not run and
pages P1 when that keeps happening. A check whose problems are P4 at most (cost) is no reason to
page: when only such checks could not run, a P4 notice (`reconciler_cost`) says so instead, and
never escalates. Every check that ran (not skipped) counts in CheckProblem and CheckUnknown.

`sent` is the result's record of the router's decisions: "notified", "escalated", "suppressed" and
"resolved", each a list of "check:table".
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from aurora_sync.alerts import Alert, Severity
from aurora_sync.observability import put_metric
from aurora_sync.ports import Alerts
from aurora_sync.reconciler.checks import CheckResult, Status

SELF_CHECK = "reconciler"
# Checks whose problems are P4 (cost, chat only): being blind to them pages no one.
NOTIFY_ONLY_CHECKS = frozenset({"cost"})
NOTIFY_ONLY_SELF_CHECK = "reconciler_cost"


class Routing:
    def __init__(self, router: Alerts, run_id: str, self_alert_p1_after: int) -> None:
        self._router = router
        self._run_id = run_id
        self._self_alert_p1_after = self_alert_p1_after

    def report(self, check: CheckResult, sent: dict[str, list[str]]) -> None:
        self._route(check, sent)
        _count(check)

    def _route(self, check: CheckResult, sent: dict[str, list[str]]) -> None:
        if check.status == Status.PROBLEM:
            decision = self._router.raise_alert(check.alert(self._run_id))
            sent[decision].append(f"{check.check}:{check.table}")
        # UNKNOWN: an open alert stays open; the self-alert says why nothing is known
        elif check.status != Status.UNKNOWN and self._router.resolve(
            check.check, check.table, self._run_id, check.summary
        ):
            sent["resolved"].append(f"{check.check}:{check.table}")

    def self_alert(self, checks: list[CheckResult], sent: dict[str, list[str]]) -> None:
        """P3, P1 when it keeps happening, while a check that matters could not run (naming every
        check that could not, cost ones too); otherwise the P4 notice while cost checks alone could
        not run. Whichever is not raised is resolved, except the notice while the P3 is open (the
        cost checks are still blind then, and named in it)."""
        blind = [c for c in checks if c.status == Status.UNKNOWN]
        if any(c.check not in NOTIFY_ONLY_CHECKS for c in blind):
            self._raise_blind(blind, sent, SELF_CHECK, Severity.P3, "reconciler-blind")
            return
        if self._router.resolve(SELF_CHECK, "", self._run_id, "every check that pages could run"):
            sent["resolved"].append(f"{SELF_CHECK}:")
        if blind:
            self._raise_blind(blind, sent, NOTIFY_ONLY_SELF_CHECK, Severity.P4, "table-over-budget")
        elif self._router.resolve(NOTIFY_ONLY_SELF_CHECK, "", self._run_id, "every check could run"):
            sent["resolved"].append(f"{NOTIFY_ONLY_SELF_CHECK}:")

    def _raise_blind(
        self,
        blind: list[CheckResult],
        sent: dict[str, list[str]],
        check: str,
        severity: Severity,
        anchor: str,
    ) -> None:
        causes = sorted({str(c.details.get("error", c.summary)) for c in blind})
        alert = Alert(
            severity,
            check,
            "",
            f"{len(blind)} check(s) could not run: {causes[0]}"[:300],
            details={"unknown": [f"{c.check}:{c.table}" for c in blind], "causes": causes[:10]},
            run_id=self._run_id,
            runbook_anchor=anchor,
        )
        escalate_after = self._self_alert_p1_after if severity != Severity.P4 else None
        decision = self._router.raise_alert(alert, escalate_after=escalate_after)
        sent[decision].append(f"{check}:")


def _count(check: CheckResult) -> None:
    """CheckProblem and CheckUnknown (0/1) of a check that ran. A skipped check (not configured for
    the table: volume without low_volume, cost without daily_credit_budget) puts neither: no alarm
    reads them, and each table x check x metric is a custom metric at $0.30 a month."""
    if check.status == Status.SKIPPED:
        return
    for metric_name, hit in (
        ("CheckProblem", check.status == Status.PROBLEM),
        ("CheckUnknown", check.status == Status.UNKNOWN),
    ):
        put_metric(metric_name, MetricUnit.Count, 1 if hit else 0, table=check.table, check=check.check)
