"""Alerts to the one SNS topic (DESIGN.md §6): severity, check and table as message attributes so
subscriptions can filter (pager takes P1/P2), the JSON body carries the evidence and the runbook link.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from aurora_sync.errors import TerminalError, TransientError

RUNBOOK_URL = "docs/runbook.md"
# SNS takes at most 256 KiB per message, attributes included (docs/deploy.md, "At scale"); the
# rest of this budget is headroom for the subject and attributes.
MAX_MESSAGE_BYTES = 250 * 1024


class Severity(StrEnum):
    P1 = "P1"  # pipeline down
    P2 = "P2"  # data quality
    P3 = "P3"  # SLA breach / degraded (fallback credentials, schema drift)
    P4 = "P4"  # cost / info


@dataclass(frozen=True)
class Alert:
    severity: Severity
    check: str
    table: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    run_id: str = ""
    runbook_anchor: str = ""
    status: str = "open"  # "open" or "resolved"

    @property
    def dedup_key(self) -> str:
        return f"{self.check}:{self.table}"

    @property
    def runbook(self) -> str:
        return f"{RUNBOOK_URL}#{self.runbook_anchor}" if self.runbook_anchor else RUNBOOK_URL

    def body(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("runbook_anchor")
        data["severity"] = str(self.severity)
        data["dedup_key"] = self.dedup_key
        data["runbook"] = self.runbook
        return data


class SnsClient(Protocol):
    def publish(self, **kwargs: Any) -> Any: ...


class AlertPublisher:
    """Publishes alerts; a failure to page is itself an error the caller must not swallow."""

    def __init__(self, sns: SnsClient, topic_arn: str) -> None:
        self._sns = sns
        self._topic_arn = topic_arn

    def publish(self, alert: Alert) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        subject = f"[{alert.severity}] {alert.check} {alert.table}: {alert.summary}"[:100]
        try:
            response = self._sns.publish(
                TopicArn=self._topic_arn,
                Subject=subject,
                Message=encode_message(alert),
                MessageAttributes={
                    "severity": {"DataType": "String", "StringValue": str(alert.severity)},
                    "check": {"DataType": "String", "StringValue": alert.check},
                    "table": {"DataType": "String", "StringValue": alert.table or "-"},
                },
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in {"Throttling", "ThrottledException", "InternalError", "ServiceUnavailable"}:
                raise TransientError(f"SNS publish throttled/unavailable: {code}") from exc
            raise TerminalError(f"SNS publish to {self._topic_arn} failed: {code}") from exc
        except BotoCoreError as exc:
            raise TransientError(f"SNS publish failed: {exc}") from exc
        return str(response.get("MessageId", ""))


def encode_message(alert: Alert, limit: int = MAX_MESSAGE_BYTES) -> str:
    """The alert's JSON body, at most `limit` bytes: a page must never fail for its size. Past the
    limit the details are replaced by their size and the first part of their JSON text."""
    body = alert.body()
    message = json.dumps(body, default=str, sort_keys=True)
    if len(message.encode()) <= limit:
        return message
    details = json.dumps(alert.details, default=str, sort_keys=True).encode()
    keep = limit // 2
    while True:
        body["details"] = {
            "truncated": True,
            "details_bytes": len(details),
            "head": details[:keep].decode(errors="ignore"),
        }
        message = json.dumps(body, default=str, sort_keys=True)
        if len(message.encode()) <= limit or keep == 0:
            return message
        keep //= 2
