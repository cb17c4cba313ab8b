"""S3: bounded-memory multipart uploads, server-side copies, manifests.

Data never becomes visible under a table prefix until it is complete: a streamed upload is one
multipart upload completed only after the last byte (aborted on any failure), and an Aurora export
is copied in from a prefix no pipe watches.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from aurora_sync.adapters.aws_errors import classify, error_code, http_status
from aurora_sync.errors import TerminalError, TransientError
from aurora_sync.observability import logger

MIB = 1024 * 1024
MIN_PART_BYTES = 5 * MIB  # S3's minimum for every part but the last
MAX_PARTS = 10_000  # S3's limit per multipart upload
MAX_COPY_PART_BYTES = 1024 * MIB  # ranged UploadPartCopy; a single CopyObject stops at 5 GiB


class MultipartWriter:
    """A write-only file object streaming into one S3 multipart upload.

    Part N uploads on one background thread while part N+1 fills, so reading the source never
    waits for S3 (the benchmark showed a synchronous writer costs a third of the throughput).
    At most two part buffers exist, one filling and one uploading, each exactly `part_bytes` and
    reused for every later part: peak memory is two parts whatever the export's size. A filled
    buffer is handed to the upload as it is, not copied, and refilled only after that upload
    returned. Fixed, reused buffers rather than a bytearray grown per part: growing over-allocates
    (an eighth) and freeing multi-MiB buffers raises glibc's mmap threshold, after which the
    allocations churn the heap; the exporter peaked 10-15 MiB higher that way (docs/benchmarks.md).
    Small results go up as one PutObject on commit.
    """

    def __init__(
        self, s3: Any, bucket: str, key: str, part_bytes: int, content_type: str = "text/csv"
    ) -> None:
        if part_bytes < MIN_PART_BYTES:
            raise ValueError(f"part size {part_bytes} is below S3's minimum of {MIN_PART_BYTES}")
        self._s3, self.bucket, self.key = s3, bucket, key
        self._part_bytes = part_bytes
        self._content_type = content_type
        self._buffer: bytearray | None = None  # the part filling, len == part_bytes once allocated
        self._fill = 0  # bytes of it in use
        self._spare: bytearray | None = None  # the last uploaded part's buffer, free for reuse
        self._in_flight_body: bytearray | None = None
        self._parts: list[dict[str, Any]] = []
        self._upload_id: str | None = None
        self._uploader: ThreadPoolExecutor | None = None
        self._in_flight: Future[dict[str, Any]] | None = None
        self.bytes_written = 0
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        size = len(data)
        self.bytes_written += size
        end = self._fill + size
        if self._buffer is not None and end < self._part_bytes:
            self._buffer[self._fill : end] = data  # same length: copied in place, no resize
            self._fill = end
        else:
            self._write_across(memoryview(data).cast("B"))
        return size

    def _write_across(self, data: memoryview) -> None:
        """A write that allocates the first buffer or fills a part: split at the part boundary."""
        offset = 0
        while offset < len(data):
            if self._buffer is None:
                self._buffer, self._spare = self._spare or bytearray(self._part_bytes), None
            take = min(self._part_bytes - self._fill, len(data) - offset)
            self._buffer[self._fill : self._fill + take] = data[offset : offset + take]
            self._fill += take
            offset += take
            if self._fill == self._part_bytes:
                self._flush_part()

    def _take_buffer(self) -> bytearray:
        """The filled part, cut to its bytes in use (only the last part is short), for the upload."""
        body, self._buffer = self._buffer if self._buffer is not None else bytearray(), None
        del body[self._fill :]
        self._fill = 0
        return body

    def _call(self, action: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._s3, action)(Bucket=self.bucket, Key=self.key, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise classify(exc, f"s3:{action} s3://{self.bucket}/{self.key}") from exc

    def _next_part_number(self) -> int:
        number = len(self._parts) + 1 + (self._in_flight is not None)
        if number > MAX_PARTS:
            raise TerminalError(
                f"s3://{self.bucket}/{self.key} would need more than {MAX_PARTS} parts; "
                "export a smaller window (chunk_minutes) or use EXPORT_MODE=aurora_s3"
            )
        return number

    def _start_upload(self) -> str:
        if self._upload_id is None:
            response = self._call("create_multipart_upload", ContentType=self._content_type)
            self._upload_id = str(response["UploadId"])
        return self._upload_id

    def _settle(self) -> None:
        """Wait for the part in flight; its error (if any) surfaces here, in the caller's thread."""
        if self._in_flight is not None:
            future, self._in_flight = self._in_flight, None
            body, self._in_flight_body = self._in_flight_body, None
            self._parts.append(future.result())
            if body is not None and len(body) == self._part_bytes:
                self._spare = body  # uploaded: its bytes may be overwritten now

    def _upload_part(self, upload_id: str, number: int, body: bytearray) -> dict[str, Any]:
        response = self._call("upload_part", UploadId=upload_id, PartNumber=number, Body=body)
        return {"PartNumber": number, "ETag": response["ETag"]}

    def _flush_part(self) -> None:
        upload_id = self._start_upload()
        number = self._next_part_number()
        body = self._take_buffer()
        self._settle()  # bound memory: never more than one part uploading
        if self._uploader is None:
            self._uploader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="s3-part")
        self._in_flight = self._uploader.submit(self._upload_part, upload_id, number, body)
        self._in_flight_body = body

    def copy_range(self, source_key: str, start: int, end: int) -> None:
        """Append bytes [start, end] of another object in the bucket as the next part, server-side."""
        if self._fill:
            if self._fill < MIN_PART_BYTES:
                raise ValueError("buffered data is below S3's part minimum; write more before copying")
            self._flush_part()
        upload_id = self._start_upload()
        self._settle()
        number = self._next_part_number()
        response = self._call(
            "upload_part_copy",
            UploadId=upload_id,
            PartNumber=number,
            CopySource={"Bucket": self.bucket, "Key": source_key},
            CopySourceRange=f"bytes={start}-{end}",
        )
        self._parts.append({"PartNumber": number, "ETag": response["CopyPartResult"]["ETag"]})

    def commit(self) -> None:
        """Make the object visible: the only step after which readers can see any of it."""
        try:
            if self._upload_id is None:
                self._call("put_object", Body=self._take_buffer(), ContentType=self._content_type)
            else:
                if self._fill:
                    self._flush_part()
                self._settle()
                self._call(
                    "complete_multipart_upload",
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )
        finally:
            self._shutdown()
        self._release()
        self.closed = True

    def abort(self) -> None:
        """Discard everything written; nothing becomes visible. Safe to call more than once."""
        self._release()
        self.closed = True
        if self._in_flight is not None:
            self._in_flight.cancel()
            try:
                self._settle()
            except Exception:  # the upload is being abandoned anyway
                self._in_flight = None
        self._shutdown()
        if self._upload_id is not None:
            upload_id, self._upload_id = self._upload_id, None
            try:
                self._s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=upload_id)
            except (ClientError, BotoCoreError):
                # The bucket's lifecycle rule aborts incomplete uploads; the object never existed.
                logger.warning("abort of multipart upload failed", extra={"key": self.key})

    def _release(self) -> None:
        self._buffer, self._spare, self._fill = None, None, 0

    def _shutdown(self) -> None:
        if self._uploader is not None:
            self._uploader.shutdown(wait=True)
            self._uploader = None


class ObjectStore:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self.bucket = bucket

    def writer(self, key: str, part_bytes: int) -> MultipartWriter:
        return MultipartWriter(self._s3, self.bucket, key, part_bytes)

    def put_json(self, key: str, body: str) -> None:
        try:
            self._s3.put_object(
                Bucket=self.bucket, Key=key, Body=body.encode(), ContentType="application/json"
            )
        except (ClientError, BotoCoreError) as exc:
            raise classify(exc, f"s3:PutObject s3://{self.bucket}/{key}") from exc

    def put_json_if(self, key: str, body: str, *, etag: str | None) -> bool:
        """A conditional write: only while the object is absent (`etag` None: If-None-Match "*") or
        still the version read (If-Match `etag`). False when the condition failed (412, or 404 for
        If-Match on an object deleted since): someone else wrote first. A 409 (another conditional
        write to the key in flight, "Conditional writes" in the S3 User Guide) is transient."""
        condition = {"IfNoneMatch": "*"} if etag is None else {"IfMatch": etag}
        try:
            self._s3.put_object(
                Bucket=self.bucket, Key=key, Body=body.encode(), ContentType="application/json", **condition
            )
        except ClientError as exc:
            if error_code(exc) in {"PreconditionFailed", "412"} or http_status(exc) == 412:
                return False
            if etag is not None and (error_code(exc) in {"NoSuchKey", "404"} or http_status(exc) == 404):
                return False
            if http_status(exc) == 409:
                raise TransientError(
                    f"s3:PutObject s3://{self.bucket}/{key}: a concurrent conditional write"
                ) from exc
            raise classify(exc, f"s3:PutObject s3://{self.bucket}/{key}") from exc
        except BotoCoreError as exc:
            raise classify(exc, f"s3:PutObject s3://{self.bucket}/{key}") from exc
        return True

    def read_with_etag(self, key: str) -> tuple[bytes, str] | None:
        """(body, ETag) of the current version, None when absent: what a conditional write compares.
        A missing key may be answered 403, as in `read_if_exists`."""
        response = self._get_if_exists(key)
        return None if response is None else (bytes(response["Body"].read()), str(response["ETag"]))

    def sizes(self, prefix: str, start_after: str | None = None) -> dict[str, int]:
        """Keys under prefix (after `start_after`, in key order) with their sizes."""
        found: dict[str, int] = {}
        kwargs = {"Bucket": self.bucket, "Prefix": prefix}
        if start_after is not None:
            kwargs["StartAfter"] = start_after
        try:
            for page in self._s3.get_paginator("list_objects_v2").paginate(**kwargs):
                for item in page.get("Contents", []):
                    found[item["Key"]] = int(item["Size"])
        except (ClientError, BotoCoreError) as exc:
            raise classify(exc, f"s3:ListObjectsV2 s3://{self.bucket}/{prefix}") from exc
        return found

    def read(self, key: str) -> bytes:
        try:
            return bytes(self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except (ClientError, BotoCoreError) as exc:
            raise classify(exc, f"s3:GetObject s3://{self.bucket}/{key}") from exc

    def read_if_exists(self, key: str) -> bytes | None:
        """None when the object does not exist (never written, or deleted since a listing).

        S3 answers a missing key with 404 only to a caller it grants s3:ListBucket on the bucket,
        and with 403 AccessDenied otherwise (GetObject, "Permissions", S3 API Reference). The
        Lambdas' ListBucket is limited by an `s3:prefix` condition, which a GetObject request does
        not carry, so a 403 is told apart by listing the key itself: absent from the listing, the
        object does not exist; listed, the 403 is a real denial and is raised."""
        response = self._get_if_exists(key)
        return None if response is None else bytes(response["Body"].read())

    def _get_if_exists(self, key: str) -> dict[str, Any] | None:
        action = f"s3:GetObject s3://{self.bucket}/{key}"
        try:
            return dict(self._s3.get_object(Bucket=self.bucket, Key=key))
        except ClientError as exc:
            code = error_code(exc)
            if code in {"NoSuchKey", "404"}:
                return None
            if code in {"AccessDenied", "403"} and not self._listed(key, exc, action):
                return None
            raise classify(exc, action) from exc
        except BotoCoreError as exc:
            raise classify(exc, action) from exc

    def _listed(self, key: str, denied: ClientError, action: str) -> bool:
        try:
            response = self._s3.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1)
        except ClientError as exc:
            raise classify(
                denied,
                f"{action} (and s3:ListObjectsV2 of the key, to tell a missing object from a "
                f"denied one, failed too: {error_code(exc)})",
            ) from denied
        except BotoCoreError as exc:
            raise classify(exc, f"s3:ListObjectsV2 s3://{self.bucket}/{key}") from exc
        return any(item["Key"] == key for item in response.get("Contents", []))

    def exists(self, key: str) -> bool:
        """Listed rather than HEAD-ed: s3:ListBucket suffices, no read access to the data needed."""
        try:
            response = self._s3.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1)
        except (ClientError, BotoCoreError) as exc:
            raise classify(exc, f"s3:ListObjectsV2 s3://{self.bucket}/{key}") from exc
        return any(item["Key"] == key for item in response.get("Contents", []))

    def read_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes [start, end] inclusive."""
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end}")["Body"]
            return bytes(body.read())
        except (ClientError, BotoCoreError) as exc:
            raise classify(exc, f"s3:GetObject s3://{self.bucket}/{key}") from exc

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            try:
                response = self._s3.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
                )
            except (ClientError, BotoCoreError) as exc:
                raise classify(exc, f"s3:DeleteObjects in s3://{self.bucket}") from exc
            if response.get("Errors"):
                failed = ", ".join(e["Key"] for e in response["Errors"])
                raise TerminalError(f"s3:DeleteObjects in s3://{self.bucket} could not delete {failed}")

    def copy(self, source_key: str, target_key: str, size: int, prefix: bytes = b"") -> int:
        """Server-side copy of source to target, optionally starting with `prefix` bytes (a CSV header
        an Aurora `_partN` file lacks). Returns the target's size. Data passes through Lambda only for
        the prefix's first part (at most MIN_PART_BYTES)."""
        if not prefix and size <= MAX_COPY_PART_BYTES:
            try:
                self._s3.copy_object(
                    Bucket=self.bucket,
                    Key=target_key,
                    CopySource={"Bucket": self.bucket, "Key": source_key},
                    ContentType="text/csv",
                    MetadataDirective="REPLACE",
                )
            except (ClientError, BotoCoreError) as exc:
                raise classify(exc, f"s3:CopyObject {source_key} -> {target_key}") from exc
            return size
        if prefix and len(prefix) + size < MIN_PART_BYTES:
            data = prefix + (self.read_range(source_key, 0, size - 1) if size else b"")
            writer = self.writer(target_key, MIN_PART_BYTES)
            writer.write(data)
            writer.commit()
            return len(data)
        return self._multipart_copy(source_key, target_key, size, prefix)

    def _multipart_copy(self, source_key: str, target_key: str, size: int, prefix: bytes) -> int:
        writer = self.writer(target_key, MIN_PART_BYTES)
        try:
            offset = 0
            if prefix:
                # First part: the prefix plus enough source bytes to reach S3's part minimum.
                offset = MIN_PART_BYTES - len(prefix)
                writer.write(prefix + self.read_range(source_key, 0, offset - 1))
            while offset < size:
                end = min(offset + MAX_COPY_PART_BYTES, size) - 1
                writer.copy_range(source_key, offset, end)
                offset = end + 1
            writer.commit()
        except BaseException:
            writer.abort()
            raise
        return len(prefix) + size
