"""ObjectStore.read_if_exists on a real bucket's answers: S3 says 404 for a missing key only to a
caller with s3:ListBucket, 403 AccessDenied otherwise (GetObject, "Permissions", S3 API Reference).
The Lambdas' ListBucket carries an `s3:prefix` condition, so a missing pin, plan or manifest may well
come back as 403 in AWS, which moto never does; this stand-in answers as S3 documents it."""

from __future__ import annotations

import io
from typing import Any

import pytest
from botocore.exceptions import ClientError

from aurora_sync.adapters.s3 import ObjectStore
from aurora_sync.errors import SyncError


def client_error(code: str, status: int, operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


class DocumentedS3:
    """GetObject as S3 answers a caller without bucket-wide ListBucket; `denied` keys exist but
    the caller may not read them; `list_denied` makes the listing itself refused."""

    def __init__(self, objects: dict[str, bytes], denied: set[str], list_denied: bool = False) -> None:
        self.objects, self.denied, self.list_denied = objects, denied, list_denied
        self.calls: list[str] = []

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        self.calls.append("GetObject")
        if Key in self.objects and Key not in self.denied:
            return {"Body": io.BytesIO(self.objects[Key]), "ETag": '"e1"'}
        raise client_error("AccessDenied", 403, "GetObject")  # missing or denied: S3 will not say

    def list_objects_v2(self, Bucket: str, Prefix: str, MaxKeys: int) -> dict[str, Any]:
        self.calls.append("ListObjectsV2")
        if self.list_denied:
            raise client_error("AccessDenied", 403, "ListObjectsV2")
        keys = sorted(k for k in self.objects if k.startswith(Prefix))[:MaxKeys]
        return {"Contents": [{"Key": k} for k in keys]} if keys else {}


def test_a_missing_key_answered_403_reads_as_missing() -> None:
    # GIVEN a bucket without the pin, and a caller S3 answers 403 for missing keys
    s3 = DocumentedS3({"_pins/public.orders.json.bak": b"{}"}, denied=set())
    # WHEN the pin is read THEN it does not exist (one listing of the key told it apart)
    assert ObjectStore(s3, "b").read_if_exists("_pins/public.orders.json") is None
    assert s3.calls == ["GetObject", "ListObjectsV2"]


def test_an_object_that_exists_but_is_denied_is_an_error_naming_it() -> None:
    # GIVEN a pin the caller may list but not read
    s3 = DocumentedS3({"_pins/public.orders.json": b"{}"}, denied={"_pins/public.orders.json"})
    # WHEN it is read THEN the denial is raised, never taken for "no pin"
    with pytest.raises(SyncError, match=r"s3:GetObject s3://b/_pins/public.orders.json"):
        ObjectStore(s3, "b").read_if_exists("_pins/public.orders.json")


def test_when_the_listing_is_denied_too_the_read_fails_saying_both() -> None:
    s3 = DocumentedS3({}, denied=set(), list_denied=True)
    with pytest.raises(SyncError, match=r"ListObjectsV2 of the key.*failed too: AccessDenied"):
        ObjectStore(s3, "b").read_if_exists("_refresh/public.orders/current.json")


def test_a_readable_object_is_read_with_one_request() -> None:
    s3 = DocumentedS3({"k.json": b'{"a": 1}'}, denied=set())
    assert ObjectStore(s3, "b").read_if_exists("k.json") == b'{"a": 1}'
    assert s3.calls == ["GetObject"]


def test_a_missing_refresh_pointer_answered_403_reads_as_missing_for_a_conditional_write() -> None:
    # GIVEN no refresh pointer yet (every table's first refresh), answered 403
    s3 = DocumentedS3({}, denied=set())
    store = ObjectStore(s3, "b")
    # WHEN the planner reads it with its ETag THEN it is absent, so the planner claims it
    assert store.read_with_etag("_refresh/public.orders/current.json") is None
    # AND a pointer that exists is read with the ETag a conditional replace compares
    s3.objects["_refresh/public.orders/current.json"] = b"{}"
    assert store.read_with_etag("_refresh/public.orders/current.json") == (b"{}", '"e1"')
