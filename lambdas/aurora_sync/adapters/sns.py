"""Alerts to the one SNS topic (DESIGN.md §6): severity, check and table as message attributes so
subscriptions can filter (pager takes P1/P2), the JSON body carries the evidence and the runbook link.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from aurora_sync.adapters.aws_errors import error_code, is_transient
from aurora_sync.alerts import Alert
from aurora_sync.commands import cli_prefix, with_commands
from aurora_sync.errors import TerminalError, TransientError

# SNS takes at most 256 KiB per message, attributes included (docs/deploy.md, "At scale"); the
# rest of this budget is headroom for the subject and attributes.
MAX_MESSAGE_BYTES = 250 * 1024


class SnsClient(Protocol):
    def publish(self, **kwargs: Any) -> Any: ...


class AlertPublisher:
    """Publishes alerts; a failure to page is itself an error the caller must not swallow. Each
    `rerun` in the details gets the `command` that runs it (`command_prefix`: aurora-sync --env …)."""

    def __init__(
        self, sns: SnsClient, topic_arn: str, runbook_url: str, command_prefix: str = cli_prefix(None)
    ) -> None:
        self._sns = sns
        self._topic_arn = topic_arn
        self._runbook_url = runbook_url
        self._command_prefix = command_prefix

    def publish(self, alert: Alert) -> str:
        subject = f"[{alert.severity}] {alert.check} {alert.table}: {alert.summary}"[:100]
        try:
            response = self._sns.publish(
                TopicArn=self._topic_arn,
                Subject=subject,
                Message=encode_message(
                    replace(alert, details=with_commands(alert.details, self._command_prefix)),
                    self._runbook_url,
                ),
                MessageAttributes={
                    "severity": {"DataType": "String", "StringValue": str(alert.severity)},
                    "check": {"DataType": "String", "StringValue": alert.check},
                    "table": {"DataType": "String", "StringValue": alert.table or "-"},
                },
            )
        except ClientError as exc:
            code = error_code(exc)
            if is_transient(exc):
                raise TransientError(f"SNS publish throttled/unavailable: {code}") from exc
            raise TerminalError(f"SNS publish to {self._topic_arn} failed: {code}") from exc
        except BotoCoreError as exc:
            raise TransientError(f"SNS publish failed: {exc}") from exc
        return str(response.get("MessageId", ""))


def encode_message(alert: Alert, runbook_url: str, limit: int = MAX_MESSAGE_BYTES) -> str:
    """The alert's JSON body, its `runbook` a link into `runbook_url`, at most `limit` bytes: a page
    must never fail for its size. Past the limit the details are replaced by their size and the first
    part of their JSON text."""
    body = alert.body(runbook_url)
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
