"""Environment contract: every missing or bad variable named at once, secrets never echoed."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from aurora_sync.adapters.sns import encode_message
from aurora_sync.alerts import Alert, Severity
from aurora_sync.errors import ConfigError
from aurora_sync.exporter.lease import LAMBDA_MAX_TIMEOUT, LEASE_MARGIN
from aurora_sync.settings import ExportMode, load_exporter_settings

MINIMAL = {
    "EXPORT_BUCKET": "b",
    "EXPORT_LEASE_TABLE": "export-lease",
    "ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts",
    "RUNBOOK_URL": "https://git.example/aurora-snowflake-sync/blob/main/docs/runbook.md",
    "DB_HOST": "aurora.example",
    "DB_NAME": "app",
    "DB_SSL_CA_BUNDLE_PARAMETER": "/aurora-snowflake-sync/db-ca-bundle",
    "VAULT_ADDR": "https://vault.example:8200",
    "SNOWFLAKE_ACCOUNT": "acme-xy12345",
    "SNOWFLAKE_DATABASE": "ANALYTICS",
    "AWS_REGION": "eu-west-1",
}


def test_minimal_environment_gets_documented_defaults() -> None:
    settings = load_exporter_settings(MINIMAL)
    assert settings.tables_parameter == "/aurora-snowflake-sync/tables"
    assert settings.overrides_path == "/aurora-snowflake-sync/overrides/"
    assert settings.export_mode is ExportMode.AURORA_S3
    assert settings.database.port == 5432
    assert settings.vault.auth_method == "aws"


def test_missing_variables_are_all_named() -> None:
    with pytest.raises(ConfigError) as caught:
        load_exporter_settings({"DB_PORT": "x"})
    message = str(caught.value)
    for name in (
        "EXPORT_BUCKET",
        "EXPORT_LEASE_TABLE",
        "ALERT_TOPIC_ARN",
        "RUNBOOK_URL",
        "DB_HOST",
        "DB_PORT",
        "DB_NAME",
        "VAULT_ADDR",
        "SNOWFLAKE_ACCOUNT",
        "SNOWFLAKE_DATABASE",
        "AWS_REGION",
    ):
        assert name in message


def test_the_region_is_the_one_lambda_sets_never_a_default() -> None:
    # GIVEN the environment Lambda gives the function THEN its region is used as given
    assert load_exporter_settings(MINIMAL).aws_region == "eu-west-1"

    # GIVEN a local run without AWS_REGION THEN it stops, naming it, instead of picking a region
    without = {k: v for k, v in MINIMAL.items() if k != "AWS_REGION"}
    with pytest.raises(ConfigError) as caught:
        load_exporter_settings(without)
    assert caught.value.field == "AWS_REGION"


def test_bad_export_mode_is_named() -> None:
    with pytest.raises(ConfigError) as caught:
        load_exporter_settings({**MINIMAL, "EXPORT_MODE": "fast"})
    assert caught.value.field == "EXPORT_MODE"


def test_snowflake_database_must_be_an_identifier() -> None:
    # GIVEN a SNOWFLAKE_DATABASE that would break out of a quoted name
    # WHEN the settings are loaded
    # THEN the variable is named and nothing runs
    with pytest.raises(ConfigError) as caught:
        load_exporter_settings({**MINIMAL, "SNOWFLAKE_DATABASE": 'ANALYTICS"."PUBLIC'})
    assert caught.value.field == "SNOWFLAKE_DATABASE"


def test_secret_values_never_appear_in_errors() -> None:
    env = {**MINIMAL, "VAULT_TOKEN": "s.super-secret-token", "DB_PORT": "nope"}
    with pytest.raises(ConfigError) as caught:
        load_exporter_settings(env)
    assert "super-secret" not in str(caught.value)
    settings = load_exporter_settings({**MINIMAL, "VAULT_TOKEN": "s.super-secret-token"})
    assert "super-secret" not in repr(settings)


def test_tls_needs_the_ca_bundle_parameter() -> None:
    # GIVEN DB_SSL on (the default) and no CA bundle
    env = {k: v for k, v in MINIMAL.items() if k != "DB_SSL_CA_BUNDLE_PARAMETER"}
    # THEN the variable is named: without it the certificate cannot be verified
    with pytest.raises(ConfigError) as caught:
        load_exporter_settings(env)
    assert caught.value.field == "DB_SSL_CA_BUNDLE_PARAMETER"
    # AND without TLS (local tools only) it is not needed
    assert load_exporter_settings({**env, "DB_SSL": "false"}).database.ssl_ca_bundle_parameter is None


def test_the_export_lease_table_is_required() -> None:
    # GIVEN no EXPORT_LEASE_TABLE: nothing would stop two runs exporting one table at once
    env = {k: v for k, v in MINIMAL.items() if k != "EXPORT_LEASE_TABLE"}
    # THEN the exporter refuses to start, naming it
    with pytest.raises(ConfigError) as caught:
        load_exporter_settings(env)
    assert caught.value.field == "EXPORT_LEASE_TABLE"


def test_lease_alert_limit_defaults_above_the_longest_healthy_hold_and_refuses_less() -> None:
    # GIVEN the default WHEN compared with the longest a working run holds a lease THEN it is above
    longest_hold = LAMBDA_MAX_TIMEOUT + LEASE_MARGIN
    limit = timedelta(minutes=load_exporter_settings(MINIMAL).lease_alert_after_minutes)
    assert limit > longest_hold
    # AND the smallest accepted value is above it too; one below is refused, naming the variable
    lowest = load_exporter_settings({**MINIMAL, "LEASE_ALERT_AFTER_MINUTES": "17"})
    assert timedelta(minutes=lowest.lease_alert_after_minutes) > longest_hold
    with pytest.raises(ConfigError) as caught:
        load_exporter_settings({**MINIMAL, "LEASE_ALERT_AFTER_MINUTES": "16"})
    assert caught.value.field == "LEASE_ALERT_AFTER_MINUTES"


@pytest.mark.parametrize(
    "url",
    [
        "docs/runbook.md",  # the relative path alerts linked before: opens nothing from a pager
        "http://git.example/runbook.md",
        "https:///runbook.md",
        "https://git.example/runbook.md#top",  # each alert appends its own #section
        "https://git.example/runbook.md?plain=1",
    ],
)
def test_runbook_url_is_an_https_url_each_alert_can_append_its_section_to(url: str) -> None:
    # GIVEN a RUNBOOK_URL a page's link could not open as a section WHEN the settings are loaded
    # THEN the variable is named and nothing runs
    with pytest.raises(ConfigError) as caught:
        load_exporter_settings({**MINIMAL, "RUNBOOK_URL": url})
    assert caught.value.field == "RUNBOOK_URL"


def test_every_alert_links_the_configured_runbook() -> None:
    # GIVEN the deployed runbook's URL and an alert of a runbook section
    settings = load_exporter_settings(MINIMAL)
    alert = Alert(Severity.P2, "export", "public.orders", "failed", runbook_anchor="export-failed")
    # WHEN encoded for SNS THEN its link is that URL at the section; an alert without one links the page
    body = json.loads(encode_message(alert, settings.runbook_url))
    assert body["runbook"] == f"{MINIMAL['RUNBOOK_URL']}#export-failed"
    assert Alert(Severity.P4, "c", "t", "s").runbook(settings.runbook_url) == MINIMAL["RUNBOOK_URL"]


def test_the_environment_name_for_alert_commands_is_terraforms_form_or_absent() -> None:
    # GIVEN Terraform's environment name THEN it is the --env of alert commands; absent: none
    assert load_exporter_settings({**MINIMAL, "SYNC_ENVIRONMENT": "prod"}).sync_environment == "prod"
    assert load_exporter_settings(MINIMAL).sync_environment is None
    # WHEN it is not a name Terraform accepts THEN the variable is named (a command would be wrong)
    with pytest.raises(ConfigError) as caught:
        load_exporter_settings({**MINIMAL, "SYNC_ENVIRONMENT": "prod; rm -rf /"})
    assert caught.value.field == "SYNC_ENVIRONMENT"
