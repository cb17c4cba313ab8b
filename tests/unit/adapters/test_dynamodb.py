"""LeaseTable's two conditional writes share one outcome mechanism: the item in the way when the
condition fails, every other error classified (transient or terminal) naming the call. A real botocore
DynamoDB client with botocore's Stubber (requests checked against the service model, no socket)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from aurora_sync.adapters.dynamodb import LeaseTable
from aurora_sync.errors import TerminalError, TransientError

HOLDER = "run-1"
OTHER = {"lease_key": {"S": "public.orders"}, "holder": {"S": "run-0"}, "expires_at": {"N": "1900"}}


@pytest.fixture
def stubbed() -> Iterator[tuple[LeaseTable, Stubber]]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield LeaseTable(client, "export-lease"), stubber
        stubber.assert_no_pending_responses()


def put(table: LeaseTable) -> tuple[bool, dict[str, Any] | None]:
    return table.put_if_free({"lease_key": "public.orders", "holder": HOLDER, "expires_at": 2000}, 1000)


def delete(table: LeaseTable) -> tuple[bool, dict[str, Any] | None]:
    return table.delete_if_holder("public.orders", HOLDER)


WRITES: dict[str, tuple[str, Callable[[LeaseTable], tuple[bool, dict[str, Any] | None]]]] = {
    "put_if_free": ("put_item", put),
    "delete_if_holder": ("delete_item", delete),
}


def test_a_free_lease_is_written_and_the_replaced_item_returned(stubbed: tuple[LeaseTable, Stubber]) -> None:
    table, stubber = stubbed
    stubber.add_response("put_item", {"Attributes": OTHER})
    assert put(table) == (True, {"lease_key": "public.orders", "holder": "run-0", "expires_at": 1900})


def test_the_holder_deletes_its_lease(stubbed: tuple[LeaseTable, Stubber]) -> None:
    table, stubber = stubbed
    stubber.add_response("delete_item", {})
    assert delete(table) == (True, None)


@pytest.mark.parametrize("write", WRITES)
def test_a_failed_condition_returns_the_item_in_the_way(
    write: str, stubbed: tuple[LeaseTable, Stubber]
) -> None:
    table, stubber = stubbed
    operation, call = WRITES[write]
    stubber.add_client_error(operation, "ConditionalCheckFailedException", modeled_fields={"Item": OTHER})
    assert call(table) == (False, {"lease_key": "public.orders", "holder": "run-0", "expires_at": 1900})


def test_a_failed_delete_of_a_lease_already_gone_returns_no_item(stubbed: tuple[LeaseTable, Stubber]) -> None:
    table, stubber = stubbed
    stubber.add_client_error("delete_item", "ConditionalCheckFailedException")
    assert delete(table) == (False, None)


@pytest.mark.parametrize("write", WRITES)
@pytest.mark.parametrize(
    ("code", "status", "error"),
    [("ThrottlingException", 400, TransientError), ("ValidationException", 400, TerminalError)],
)
def test_other_errors_are_classified_naming_the_call(
    write: str, code: str, status: int, error: type[Exception], stubbed: tuple[LeaseTable, Stubber]
) -> None:
    table, stubber = stubbed
    operation, call = WRITES[write]
    stubber.add_client_error(operation, code, http_status_code=status)
    action = "dynamodb:PutItem" if operation == "put_item" else "dynamodb:DeleteItem"
    with pytest.raises(error, match=f"{action} export-lease public.orders"):
        call(table)
