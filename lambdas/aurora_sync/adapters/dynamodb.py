"""DynamoDB conditional writes: alert state, and the exporter's per-table leases.

Alert state: one item per open-or-recently-resolved problem, keyed by dedup_key. Writes are
conditional on the version read, so two reconcilers (the hourly schedule and the state machine's)
cannot both decide to page for the same problem.

Leases (aurora_sync.exporter.lease): one item per table while an incremental export of it runs, written only
if absent, expired or already the writer's, deleted only by its holder.
"""

from __future__ import annotations

from collections.abc import Callable
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
        return _item(response.get("Item"))

    def open_items(self) -> list[dict[str, Any]]:
        """Every open problem (the operator CLI's `status`; the Lambdas read items by key only). A
        Scan: the table holds one item per problem seen in the last 30 days (TTL), a few pages at most."""
        items: list[dict[str, Any]] = []
        try:
            pages = self._db.get_paginator("scan").paginate(
                TableName=self.table_name,
                ConsistentRead=True,
                FilterExpression="#s = :open",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":open": {"S": "open"}},
            )
            for page in pages:
                items.extend(item for raw in page.get("Items", []) if (item := _item(raw)) is not None)
        except (ClientError, BotoCoreError) as exc:
            raise classify(exc, f"dynamodb:Scan {self.table_name}") from exc
        return items

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


LEASE_KEY = "lease_key"
# Expiry is compared in the condition itself: TTL deletes expired items only eventually.
_FREE_OR_MINE = "attribute_not_exists(#key) OR #expires <= :now OR #holder = :holder"


class LeaseTable:
    """The export lease table (hash key `lease_key`); every write is conditional and atomic."""

    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._db = dynamodb
        self.table_name = table_name

    def put_if_free(self, item: dict[str, Any], now_epoch: int) -> tuple[bool, dict[str, Any] | None]:
        """Write `item` unless another holder's unexpired lease is there.

        Returns (True, the item replaced or None) or (False, the item in the way). The holder's own
        item counts as free, so botocore retrying a put whose answer was lost does not lock its
        writer out. ALL_OLD on either outcome is read atomically with the write: no second read.
        """
        return _conditional_write(
            f"dynamodb:PutItem {self.table_name} {item[LEASE_KEY]}",
            self._db.put_item,
            TableName=self.table_name,
            Item={k: _to_dynamo(v) for k, v in item.items() if v is not None},
            ConditionExpression=_FREE_OR_MINE,
            ExpressionAttributeNames={"#key": LEASE_KEY, "#expires": "expires_at", "#holder": "holder"},
            ExpressionAttributeValues={":now": _to_dynamo(now_epoch), ":holder": {"S": item["holder"]}},
            ReturnValues="ALL_OLD",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    def delete_if_holder(self, key: str, holder: str) -> tuple[bool, dict[str, Any] | None]:
        """Delete the lease if `holder` holds it: (True, None), or (False, the item there or None)."""
        return _conditional_write(
            f"dynamodb:DeleteItem {self.table_name} {key}",
            self._db.delete_item,
            TableName=self.table_name,
            Key={LEASE_KEY: {"S": key}},
            ConditionExpression="#holder = :holder",
            ExpressionAttributeNames={"#holder": "holder"},
            ExpressionAttributeValues={":holder": {"S": holder}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )


def _conditional_write(
    action: str, write: Callable[..., dict[str, Any]], **request: Any
) -> tuple[bool, dict[str, Any] | None]:
    """One conditional write: (True, the old item it returned, if asked for with ReturnValues) or
    (False, the item that failed the condition). Any other error is classified for `action`."""
    try:
        response = write(**request)
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return False, _item_in_the_way(exc)
        raise classify(exc, action) from exc
    except BotoCoreError as exc:
        raise classify(exc, action) from exc
    return True, _item(response.get("Attributes"))


def _item_in_the_way(exc: ClientError) -> dict[str, Any] | None:
    """The item that failed the condition (ReturnValuesOnConditionCheckFailure=ALL_OLD); None when
    no item is there (a delete whose item is already gone)."""
    raw = exc.response.get("Item")
    return _item(raw if isinstance(raw, dict) else None)


def _item(raw: dict[str, dict[str, str]] | None) -> dict[str, Any] | None:
    return None if not raw else {k: _from_dynamo(v) for k, v in raw.items()}


def _to_dynamo(value: Any) -> dict[str, str]:
    if isinstance(value, bool):
        raise TypeError("alert state and lease items have no boolean attributes")
    if isinstance(value, int):
        return {"N": str(value)}
    return {"S": str(value)}


def _from_dynamo(value: dict[str, str]) -> Any:
    if "N" in value:
        return int(value["N"])
    return value.get("S")
