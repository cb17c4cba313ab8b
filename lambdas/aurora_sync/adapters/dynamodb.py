"""Alert state in DynamoDB: one item per open-or-recently-resolved problem, keyed by dedup_key.

Writes are conditional on the version read, so two reconcilers (the hourly schedule and the state
machine's) cannot both decide to page for the same problem.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from aurora_sync.adapters.aws_errors import classify, error_code
from aurora_sync.errors import StateConflict


class AlertStateTable:
    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._db = dynamodb
        self.table_name = table_name

    def get(self, dedup_key: str) -> dict[str, Any] | None:
        try:
            response = self._db.get_item(
                TableName=self.table_name, Key={"dedup_key": {"S": dedup_key}}, ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as exc:
            raise classify(exc, f"dynamodb:GetItem {self.table_name} {dedup_key}") from exc
        item = response.get("Item")
        return None if item is None else {k: _from_dynamo(v) for k, v in item.items()}

    def put(self, item: dict[str, Any], expected_version: int | None) -> None:
        """Write `item` if the stored version is still `expected_version` (None: must not exist)."""
        if expected_version is None:
            condition, values = "attribute_not_exists(dedup_key)", {}
        else:
            condition, values = "version = :v", {":v": {"N": str(expected_version)}}
        try:
            self._db.put_item(
                TableName=self.table_name,
                Item={k: _to_dynamo(v) for k, v in item.items() if v is not None},
                ConditionExpression=condition,
                **({"ExpressionAttributeValues": values} if values else {}),
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise StateConflict(f"alert state {item['dedup_key']} changed concurrently") from exc
            raise classify(exc, f"dynamodb:PutItem {self.table_name}") from exc
        except BotoCoreError as exc:
            raise classify(exc, f"dynamodb:PutItem {self.table_name}") from exc


def _to_dynamo(value: Any) -> dict[str, str]:
    if isinstance(value, bool):
        raise TypeError("alert state has no boolean attributes")
    if isinstance(value, int):
        return {"N": str(value)}
    return {"S": str(value)}


def _from_dynamo(value: dict[str, str]) -> Any:
    if "N" in value:
        return int(value["N"])
    return value.get("S")
