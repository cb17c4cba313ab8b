"""TLS to Aurora: the local PostgreSQL only takes TLS from a CA of its own, as Aurora with
rds.force_ssl takes it only from the RDS CAs; the exporter and reconciler verify chain and host name.

Every other test on the local stack already connects this way (DB_SSL=true, the CA in Parameter
Store); these show what happens when the bundle or the host name is wrong: the run fails at once, as
a terminal error naming the certificate problem, without retrying and without touching the
credential fallback.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from aurora_sync.exporter.run import ExportRunFailed
from tests.support.local_ca import LocalCA
from tests.support.pipeline import Pipeline


@pytest.fixture
def pipeline(pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any) -> Pipeline:
    p = Pipeline(pg_server, moto, bao, fakesnow_server)
    admin = p.admin()
    admin.run("INSERT INTO public.orders (id, status, amount, updated_at) VALUES (1, 'new', 1, now())")
    admin.close()
    return p


def failed_export(p: Pipeline, **env: str) -> dict[str, Any]:
    with pytest.raises(ExportRunFailed) as caught:
        p.run({"tables": ["public.orders"]}, **env)
    [table] = json.loads(str(caught.value))["tables"]
    assert table["status"] == "failed"
    return dict(table)


def assert_no_fallback_and_nothing_published(p: Pipeline) -> None:
    checks = [m["check"] for m in p.alerts()]
    assert "credentials_fallback" not in checks, checks
    assert p.object_keys("public.orders/") == []


def test_the_exporter_connects_over_verified_tls(pipeline: Pipeline) -> None:
    # GIVEN the server's CA in the bundle parameter and DB_HOST naming the certificate's host
    # WHEN the exporter runs
    [table] = pipeline.run({"tables": ["public.orders"]})["tables"]
    # THEN it exported, and its session was encrypted
    assert table["status"] == "exported", table
    admin = pipeline.admin()
    try:
        rows = admin.run(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.usename = :u",
            u=pipeline.db_user,
        )
    finally:
        admin.close()
    assert all(row[0] for row in rows)


def test_a_bundle_from_another_ca_fails_at_once_naming_the_certificate(pipeline: Pipeline) -> None:
    # GIVEN the bundle parameter holds a different CA (a bundle for the wrong region, say)
    pipeline.ssm.put_parameter(
        Name=pipeline.ca_bundle_parameter, Value=LocalCA("another CA").pem, Type="String", Overwrite=True
    )
    # WHEN the exporter runs
    table = failed_export(pipeline)
    # THEN the table fails terminally (no retry) naming the certificate problem and the fix
    assert table["retryable"] is False
    assert "certificate did not verify" in table["error"]
    assert "DB_SSL_CA_BUNDLE_PARAMETER" in table["error"]
    assert_no_fallback_and_nothing_published(pipeline)


def test_connecting_by_another_name_than_the_certificate_fails_host_name_verification(
    pipeline: Pipeline,
) -> None:
    # GIVEN DB_HOST is the server's IP address, which its certificate does not name (as an Aurora
    # instance IP or a CNAME would not be on the RDS certificate)
    # WHEN the exporter runs
    table = failed_export(pipeline, DB_HOST=pipeline.pg.host)
    # THEN it fails terminally naming the mismatch
    assert table["retryable"] is False
    assert "mismatch" in table["error"] and "DB_HOST" in table["error"]
    assert_no_fallback_and_nothing_published(pipeline)


def test_a_parameter_without_a_certificate_fails_naming_it(pipeline: Pipeline) -> None:
    # GIVEN the bundle parameter holds something that is not PEM
    pipeline.ssm.put_parameter(
        Name=pipeline.ca_bundle_parameter, Value="not a certificate", Type="String", Overwrite=True
    )
    # WHEN the exporter runs
    table = failed_export(pipeline)
    # THEN the error names the parameter
    assert pipeline.ca_bundle_parameter in table["error"]
    assert "PEM" in table["error"]


def test_plain_tcp_is_refused_like_rds_force_ssl(pipeline: Pipeline) -> None:
    # GIVEN an exporter configured without TLS
    # WHEN it runs
    table = failed_export(pipeline, DB_SSL="false")
    # THEN the server refuses the unencrypted session, terminally
    assert table["retryable"] is False
    assert "no encryption" in table["error"]


def test_the_reconciler_reports_a_wrong_bundle_as_unknown_naming_the_certificate(pipeline: Pipeline) -> None:
    # GIVEN the bundle parameter holds a different CA
    pipeline.ssm.put_parameter(
        Name=pipeline.ca_bundle_parameter, Value=LocalCA("another CA").pem, Type="String", Overwrite=True
    )
    # WHEN the reconciler runs
    result = pipeline.reconcile({"tables": ["public.orders"]})
    # THEN the Aurora check is unknown, with the certificate problem as its evidence
    [check] = [c for c in result["checks"] if c["check"] == "freshness"]
    assert check["status"] == "unknown"
    assert "certificate did not verify" in json.dumps(check)
