"""MultipartWriter: bounded memory, nothing visible until commit, nothing left after abort."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from aurora_sync.adapters.s3 import MIN_PART_BYTES, MultipartWriter
from aurora_sync.errors import TransientError


class FakeS3:
    """In-memory S3 that keeps uploads apart from visible objects, as S3 does."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.uploads: dict[str, dict[int, bytes]] = {}
        self.aborted: list[str] = []

    def create_multipart_upload(self, Bucket: str, Key: str, **_: Any) -> dict[str, str]:
        upload_id = f"u{len(self.uploads)}"
        self.uploads[upload_id] = {}
        return {"UploadId": upload_id}

    def upload_part(
        self, Bucket: str, Key: str, UploadId: str, PartNumber: int, Body: bytes
    ) -> dict[str, str]:
        self.uploads[UploadId][PartNumber] = bytes(Body)  # S3 keeps its own copy; the writer reuses Body
        return {"ETag": f"e{PartNumber}"}

    def complete_multipart_upload(self, Bucket: str, Key: str, UploadId: str, MultipartUpload: Any) -> None:
        parts = self.uploads.pop(UploadId)
        self.objects[Key] = b"".join(parts[p["PartNumber"]] for p in MultipartUpload["Parts"])

    def put_object(self, Bucket: str, Key: str, Body: bytes, **_: Any) -> None:
        self.objects[Key] = bytes(Body)

    def abort_multipart_upload(self, Bucket: str, Key: str, UploadId: str) -> None:
        self.uploads.pop(UploadId)
        self.aborted.append(UploadId)


def test_large_stream_is_uploaded_in_parts_and_visible_only_after_commit() -> None:
    s3 = FakeS3()
    writer = MultipartWriter(s3, "b", "k.csv", MIN_PART_BYTES)
    row = b"x" * 999 + b"\n"
    for _ in range(12_000):  # ~12 MB: two full parts and a tail
        writer.write(row)
        assert writer._fill < MIN_PART_BYTES  # memory stays bounded by one part
    assert "k.csv" not in s3.objects
    writer.commit()
    assert s3.objects["k.csv"] == row * 12_000 and writer.bytes_written == 12_000_000


def test_small_result_is_one_put() -> None:
    s3 = FakeS3()
    writer = MultipartWriter(s3, "b", "k.csv", MIN_PART_BYTES)
    writer.write(b"id\n1\n")
    writer.commit()
    assert s3.objects == {"k.csv": b"id\n1\n"} and s3.uploads == {}


def test_abort_after_parts_leaves_no_object_and_no_upload() -> None:
    s3 = FakeS3()
    writer = MultipartWriter(s3, "b", "k.csv", MIN_PART_BYTES)
    writer.write(b"y" * (MIN_PART_BYTES + 10))
    writer.abort()
    writer.abort()  # idempotent
    assert s3.objects == {} and s3.uploads == {} and s3.aborted == ["u0"]


def test_part_size_below_s3_minimum_is_refused() -> None:
    with pytest.raises(ValueError, match="minimum"):
        MultipartWriter(FakeS3(), "b", "k", MIN_PART_BYTES - 1)


class FailingS3(FakeS3):
    def upload_part(
        self, Bucket: str, Key: str, UploadId: str, PartNumber: int, Body: bytes
    ) -> dict[str, str]:
        from botocore.exceptions import ClientError

        raise ClientError(
            {"Error": {"Code": "SlowDown", "Message": "reduce your request rate"}}, "UploadPart"
        )


def test_background_upload_failure_surfaces_in_the_caller_and_abort_cleans_up() -> None:
    # GIVEN S3 rejects every part upload (which runs on the background thread)
    s3 = FailingS3()
    writer = MultipartWriter(s3, "b", "k.csv", MIN_PART_BYTES)
    writer.write(b"z" * (MIN_PART_BYTES + 1))
    # WHEN the stream is committed THEN the error is raised here, typed as transient
    with pytest.raises(TransientError, match="SlowDown"):
        writer.commit()
    writer.abort()
    assert s3.objects == {} and s3.uploads == {} and s3.aborted == ["u0"]


class WatchingS3(FakeS3):
    """Part 1's upload holds its body until the test says the writer has filled half of part 2,
    then checks the body was not touched meanwhile (the writer reuses part buffers)."""

    def __init__(self) -> None:
        super().__init__()
        self.half_of_part_2_written = threading.Event()
        self.part_1_intact: bool | None = None

    def upload_part(
        self, Bucket: str, Key: str, UploadId: str, PartNumber: int, Body: bytes
    ) -> dict[str, str]:
        before = bytes(Body)
        if PartNumber == 1:
            self.half_of_part_2_written.wait(timeout=30)
            self.part_1_intact = bytes(Body) == before
        return super().upload_part(Bucket, Key, UploadId, PartNumber, before)


def test_part_buffers_are_reused_only_after_their_upload_returned() -> None:
    # GIVEN parts of distinct bytes, and part 1's upload still running while part 2 fills
    s3 = WatchingS3()
    writer = MultipartWriter(s3, "b", "k.csv", MIN_PART_BYTES)
    parts = [bytes([65 + n]) * MIN_PART_BYTES for n in range(4)]
    writer.write(parts[0])
    writer.write(parts[1][: MIN_PART_BYTES // 2])
    s3.half_of_part_2_written.set()
    # WHEN the rest is written and committed (parts 3 and 4 reuse the buffers of parts 1 and 2)
    writer.write(parts[1][MIN_PART_BYTES // 2 :])
    writer.write(parts[2])
    writer.write(parts[3] + b"tail")
    writer.commit()
    # THEN part 1 was untouched during its upload and the object is every byte, in order
    assert s3.part_1_intact is True
    assert s3.objects["k.csv"] == b"".join(parts) + b"tail"
