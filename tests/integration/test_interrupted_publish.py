"""A split aurora_s3 export whose publish stops after part 1 (a failed copy, or the Lambda killed at
its timeout) while Snowpipe and the task already took part 1 into FINAL: the publish pin keeps the
next run's lower bound at the window's, so no row is lost.

The interruption is injected at the narrowest seam, ObjectStore.copy (the server-side copy of one
part); Aurora, the aws_s3 stand-in, moto, Vault and fakesnow are the real local services.
"""

from __future__ import annotations

from typing import Any

import pytest

from aurora_sync.adapters.s3 import ObjectStore
from aurora_sync.errors import TransientError
from aurora_sync.timeutil import EPOCH, as_utc, iso
from tests.support.aws_s3_fake import grant_export, install_aws_s3_fake
from tests.support.pipeline import Pipeline

ROWS = 3000


class LambdaKilled(BaseException):
    """The runtime ending the invocation at its timeout: no except or finally of ours decides."""


@pytest.fixture
def pipeline(pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any) -> Pipeline:
    p = Pipeline(pg_server, moto, bao, fakesnow_server)
    for table in p.tables:
        table["lookback_seconds"] = 0  # no overlap to hide the hole behind
    p.put_tables()
    admin = p.admin()
    # Heap order is the reverse of watermark order, so Aurora's part 1 holds the newest rows.
    admin.run(
        "INSERT INTO public.orders (id, status, amount, updated_at) "
        "SELECT g, 'new', g, now() - g * interval '1 second' FROM generate_series(1, :n) g",
        n=ROWS,
    )
    install_aws_s3_fake(admin, endpoint_url=p.moto.endpoint_url, max_file_bytes=20_000)
    grant_export(admin, p.db_user)
    admin.close()
    p.export_mode = "aurora_s3"
    return p


def final_state(p: Pipeline) -> tuple[int, Any]:
    conn = p.snow.connect(p.snowflake_database, "FINAL")
    try:
        cur = conn.cursor()
        cur.execute('SELECT COUNT(*), MAX("UPDATED_AT") FROM "FINAL"."ORDERS"')
        count, newest = cur.fetchone()
    finally:
        conn.close()
    return int(count), newest


def aurora_newest(p: Pipeline) -> Any:
    admin = p.admin()
    try:
        return admin.run("SELECT max(updated_at) FROM public.orders")[0][0]
    finally:
        admin.close()


@pytest.mark.parametrize(
    "failure",
    [TransientError("s3:CopyObject: connection reset by peer"), LambdaKilled()],
    ids=["copy-fails", "lambda-killed"],
)
def test_interrupted_split_publish_is_reexported_by_the_next_run(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    # GIVEN a split export whose publish stops at part 2, after Snowpipe loaded part 1 and the task
    # merged it
    real_copy = ObjectStore.copy
    copied: list[str] = []

    def copy(self: ObjectStore, source_key: str, target_key: str, size: int, prefix: bytes = b"") -> int:
        if copied:
            pipeline.merge_into_final("public.orders")
            raise failure
        copied.append(target_key)
        return real_copy(self, source_key, target_key, size, prefix)

    monkeypatch.setattr(ObjectStore, "copy", copy)
    with pytest.raises(BaseException) as raised:
        pipeline.run({"tables": ["public.orders"]})
    assert isinstance(raised.value, LambdaKilled) or "stays pinned" in str(raised.value)
    monkeypatch.undo()

    # THEN this is the hole: FINAL already holds the newest watermark but only part 1's rows,
    # so a lower bound from FINAL alone would skip the rest; the window's pin is in S3
    loaded, newest = final_state(pipeline)
    assert 0 < loaded < ROWS
    assert as_utc(newest) == as_utc(aurora_newest(pipeline))
    assert len(pipeline.object_keys("_pending/public.orders/")) == 1
    assert pipeline.manifests("public.orders") == []

    # WHEN the next scheduled run exports and the pipe and task take its files
    result = pipeline.run({})
    pipeline.merge_into_final("public.orders")

    # THEN it started at the pinned lower bound (the epoch: FINAL was empty then), FINAL has every
    # row, and the pin is gone, so the run after it starts from FINAL again and finds nothing new
    [orders] = [t for t in result["tables"] if t["table"] == "public.orders"]
    assert orders["lower"] == iso(EPOCH) and orders["rows"] == ROWS
    assert final_state(pipeline)[0] == ROWS
    assert pipeline.object_keys("_pending/") == []
    [again] = [t for t in pipeline.run({"tables": ["public.orders"]})["tables"]]
    assert again["status"] == "empty"


def test_unreadable_pin_fails_the_table_naming_the_object_before_any_export(pipeline: Pipeline) -> None:
    # GIVEN a truncated pin for orders
    key = "_pending/public.orders/run-broken.json"
    pipeline.s3.put_object(Bucket=pipeline.bucket, Key=key, Body=b'{"table": "public.orders", "lower"')
    # WHEN the exporter runs
    with pytest.raises(Exception, match=key):
        pipeline.run({})
    # THEN orders exported nothing (its window is unknown), customers still did
    assert pipeline.manifests("public.orders") == []
    assert pipeline.manifests("public.customers") != []
