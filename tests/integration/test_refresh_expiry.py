"""A full refresh whose objects the bucket's `expire-refresh` lifecycle rule removed (issue 15 §2),
against the real local PostgreSQL, moto (a versioned bucket, as Terraform makes it) and fakesnow.

What the rule leaves behind is modelled by its effect: a refresh folder without plan.json (on a
versioned bucket, expiration puts a delete marker on the current version, which a GET then answers
with 404, the same as a DELETE does). Nothing here waits for an age: S3's lifecycle clock cannot run
on moto, so the rule itself is checked in tests/infra (prefix, days, validation)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aurora_sync.adapters.s3 import ObjectStore
from aurora_sync_cli.status import unfinished_refresh
from tests.support.pipeline import Pipeline

TABLE = "public.orders"
OLD = "20261001T000000Z"  # a refresh planned two months before the test's clock, never finished
ROWS = 300


@pytest.fixture(scope="module")
def pipeline(pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any) -> Pipeline:
    """GIVEN orders with 300 rows, a versioned bucket, and the objects an expired refresh left: one
    range's checkpoint, no plan (it was written first, so it expired first)"""
    p = Pipeline(pg_server, moto, bao, fakesnow_server)
    p.s3.put_bucket_versioning(Bucket=p.bucket, VersioningConfiguration={"Status": "Enabled"})
    p.aurora(
        "INSERT INTO public.orders (id, status, updated_at) "
        f"SELECT g, 'new', now() - interval '1 day' FROM generate_series(1, {ROWS}) g",
        "ANALYZE",
    )
    p.s3.put_object(
        Bucket=p.bucket,
        Key=f"_refresh/{TABLE}/{OLD}/done/range-00000.json",
        Body=json.dumps({"manifest_key": "_manifests/x.json", "manifest": {}}).encode(),
    )
    return p


def store(p: Pipeline) -> ObjectStore:
    return ObjectStore(p.s3, p.bucket)


def plan_versions(p: Pipeline, refresh_id: str) -> int:
    key = f"_refresh/{TABLE}/{refresh_id}/plan.json"
    listed = p.s3.list_object_versions(Bucket=p.bucket, Prefix=key).get("Versions", [])
    return len([v for v in listed if v["Key"] == key])


def test_an_expired_refresh_is_reported_clearly_and_planning_starts_a_new_one(pipeline: Pipeline) -> None:
    p = pipeline
    # WHEN status looks for the table's unfinished refresh THEN there is none to resume (no crash)
    assert unfinished_refresh(store(p), TABLE) is None
    # WHEN a range item of the expired refresh runs (a Map retried after the plan expired)
    item = {"table": TABLE, "refresh": {"id": OLD, "index": 1, "of": 2}}
    with pytest.raises(Exception, match="has no plan at") as failed:
        p.run({"item": item, "attempt": {"retry": 0, "max_retries": 2}})
    # THEN the error names the plan's key and what to run
    assert f"_refresh/{TABLE}/{OLD}/plan.json" in str(failed.value)
    assert f"aurora-sync resync {TABLE}" in str(failed.value)
    # WHEN the table's refresh is planned
    planned = p.run({"action": "plan", "refresh": TABLE, "rows_per_range": 100})["refresh"]
    # THEN it is a new refresh, and the expired one is marked abandoned with the reason
    assert planned["id"] != OLD and planned["resumed"] is False and planned["done"] == 0
    marker = json.loads(p.read(f"_refresh/{TABLE}/{OLD}/abandoned.json"))
    assert marker["abandoned"] is True and marker["done"] == 1 and "plan is gone" in marker["why"]
    # WHEN it is planned again THEN the new refresh resumes (the expired one is never picked again),
    # and its plan was written again: a new version, whose age the lifecycle rule counts afresh
    assert plan_versions(p, planned["id"]) == 1
    again = p.run({"action": "plan", "refresh": TABLE})["refresh"]
    assert (again["id"], again["resumed"]) == (planned["id"], True)
    assert plan_versions(p, planned["id"]) == 2
    assert unfinished_refresh(store(p), TABLE) is not None
