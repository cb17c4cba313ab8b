"""What the checks send: a failed check raises its alert, a passing one resolves it, an UNKNOWN one
leaves it as it is; one alert about the reconciler itself names the checks that could not run and
pages P1 when that keeps happening. Every check also counts in CheckProblem and CheckUnknown.

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
        blind = [c for c in checks if c.status == Status.UNKNOWN]
        if not blind:
            if self._router.resolve(SELF_CHECK, "", self._run_id, "every check could run"):
                sent["resolved"].append(f"{SELF_CHECK}:")
            return
        causes = sorted({str(c.details.get("error", c.summary)) for c in blind})
        alert = Alert(
            Severity.P3,
            SELF_CHECK,
            "",
            f"{len(blind)} check(s) could not run: {causes[0]}"[:300],
            details={"unknown": [f"{c.check}:{c.table}" for c in blind], "causes": causes[:10]},
            run_id=self._run_id,
            runbook_anchor="reconciler-blind",
        )
        decision = self._router.raise_alert(alert, escalate_after=self._self_alert_p1_after)
        sent[decision].append(f"{SELF_CHECK}:")


def _count(check: CheckResult) -> None:
    for metric_name, hit in (
        ("CheckProblem", check.status == Status.PROBLEM),
        ("CheckUnknown", check.status == Status.UNKNOWN),
    ):
        put_metric(metric_name, MetricUnit.Count, 1 if hit else 0, table=check.table, check=check.check)
