"""Credentials: Vault first, the KMS fallback only when Vault is unreachable, caching with a fake
clock, and secrets kept out of repr/str, errors and logs. In-memory fakes only (no sockets)."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import hvac.exceptions
import pytest
import requests
from botocore.exceptions import ClientError, EndpointConnectionError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from aurora_sync.adapters.kms import KmsDecryptor
from aurora_sync.adapters.vault import DatabaseLease, KvSecret, VaultAdapter, map_vault_error
from aurora_sync.alerts import Severity
from aurora_sync.credentials import (
    CredentialCache,
    CredentialProvider,
    CredentialSource,
    DbCredentials,
    SnowflakeCredentials,
    fallback_alert,
)
from aurora_sync.errors import CredentialsError, TransientError, VaultUnreachableError
from aurora_sync.observability import SERVICE
from aurora_sync.settings import ExporterSettings, VaultSettings, load_exporter_settings

FUNCTION = "aurora-sync-exporter"
KV_PASSWORD = "kv-Pa55-zebra"
LEASE_PASSWORD = "lease-Pa55-yak"
FALLBACK_PASSWORD = "kms-Pa55-walrus"
SF_PASSWORD = "sf-Pa55-otter"
PASSPHRASE = "key-Pass-heron"
SECRETS = (KV_PASSWORD, LEASE_PASSWORD, FALLBACK_PASSWORD, SF_PASSWORD, PASSPHRASE)

BASE_ENV = {
    "EXPORT_BUCKET": "exports",
    "EXPORT_LEASE_TABLE": "export-lease",
    "ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts",
    "RUNBOOK_URL": "https://git.example/aurora-snowflake-sync/blob/main/docs/runbook.md",
    "DB_HOST": "aurora.example",
    "DB_NAME": "app",
    "DB_SSL_CA_BUNDLE_PARAMETER": "/aurora-snowflake-sync/db-ca-bundle",
    "VAULT_ADDR": "https://vault.example:8200",
    "VAULT_AUTH_METHOD": "token",
    "VAULT_TOKEN": "hvs.fake-root",
    "VAULT_SECRET_PATH": "aurora-sync/aurora",
    "VAULT_SNOWFLAKE_SECRET_PATH": "aurora-sync/snowflake",
    "SNOWFLAKE_ACCOUNT": "acme-xy12345",
    "SNOWFLAKE_DATABASE": "ANALYTICS",
    "AWS_REGION": "us-east-1",
}
FALLBACK_ENV = {"DB_USER": "sync_fallback", "DB_PASSWORD_ENCRYPTED": base64.b64encode(b"ct:db").decode()}
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


# -- fakes -------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class FakeVault:
    """A VaultReader: KV paths map to data, or to the exception Vault would cause."""

    clock: FakeClock
    kv: dict[str, dict[str, Any] | Exception] = field(default_factory=dict)
    lease_seconds: int = 3600
    failure: Exception | None = None
    calls: list[str] = field(default_factory=list)

    def read_kv(self, path: str) -> KvSecret:
        self.calls.append(f"kv:{path}")
        if self.failure is not None:
            raise self.failure
        value = self.kv.get(path)
        if value is None:
            raise CredentialsError(f"Vault read of secret/{path}: not found (HTTP 404)")
        if isinstance(value, Exception):
            raise value
        return KvSecret(where=f"secret/{path}", data=value, version=1)

    def database_credentials(self, role: str) -> DatabaseLease:
        self.calls.append(f"db:{role}")
        if self.failure is not None:
            raise self.failure
        n = len([c for c in self.calls if c.startswith("db:")])
        return DatabaseLease(
            where=f"database/creds/{role}",
            username=f"v-exporter-{n}",
            password=LEASE_PASSWORD,
            lease_id=f"database/creds/{role}/{n}",
            lease_duration=timedelta(seconds=self.lease_seconds),
            expires_at=self.clock() + timedelta(seconds=self.lease_seconds),
            renewable=True,
        )


class FakeKms:
    """KMS that decrypts only with the Lambda console's encryption context for FUNCTION."""

    def __init__(self, plaintexts: dict[bytes, bytes], error: Exception | None = None) -> None:
        self.plaintexts = plaintexts
        self.error = error
        self.calls: list[dict[str, Any]] = []

    def decrypt(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        if kwargs.get("EncryptionContext") != {"LambdaFunctionName": FUNCTION}:
            raise kms_error("InvalidCiphertextException")
        return {"Plaintext": self.plaintexts[kwargs["CiphertextBlob"]]}


def kms_error(code: str, status: int = 400) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": "nope"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "Decrypt")


@dataclass
class Harness:
    clock: FakeClock
    vault: FakeVault
    kms: FakeKms
    fallbacks: list[tuple[str, str]]
    cache: CredentialCache

    def provider(self, settings: ExporterSettings, **options: Any) -> CredentialProvider:
        return CredentialProvider(
            settings,
            vault_client_factory=lambda _settings: self.vault,
            kms_client_factory=lambda: self.kms,
            clock=self.clock,
            on_fallback=lambda kind, reason: self.fallbacks.append((kind, reason)),
            cache=self.cache,
            **options,
        )


@pytest.fixture
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> Harness:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", FUNCTION)
    clock = FakeClock()
    vault = FakeVault(
        clock,
        kv={
            "aurora-sync/aurora": {"username": "sync", "password": KV_PASSWORD},
            "aurora-sync/snowflake": {"user": "SYNC", "password": SF_PASSWORD},
        },
    )
    kms = FakeKms({b"ct:db": FALLBACK_PASSWORD.encode(), b"ct:sf": SF_PASSWORD.encode()})
    return Harness(clock, vault, kms, [], CredentialCache())


def settings(**env: str) -> ExporterSettings:
    return load_exporter_settings({**BASE_ENV, **env})


@pytest.fixture
def all_output(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> Callable[[], str]:
    """Everything logged (any logger, any level, rendered as CloudWatch would get it) or printed."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger=SERVICE)
    # Powertools' handler writes JSON to the stdout it saw at import; render records with its formatter.
    service_formatter = logging.getLogger(SERVICE).powertools_handler.formatter  # type: ignore[attr-defined]
    plain = logging.Formatter("%(name)s %(levelname)s %(message)s")

    def read() -> str:
        rendered = [
            (service_formatter if record.name == SERVICE else plain).format(record)
            for record in caplog.records
        ]
        out, err = capsys.readouterr()
        return "\n".join(rendered) + out + err

    return read


# -- Vault first; fallback only when unreachable -------------------------------------------------


def test_vault_kv_credentials_when_vault_answers(harness: Harness) -> None:
    # GIVEN Vault holds the Aurora secret and a fallback is configured too
    provider = harness.provider(settings(**FALLBACK_ENV))

    # WHEN the exporter asks for database credentials
    creds = provider.database()

    # THEN they come from the KV secret, KMS is never called and no fallback is reported
    assert (creds.user, creds.password, creds.source) == ("sync", KV_PASSWORD, CredentialSource.VAULT_KV)
    assert creds.expires_at is None
    assert harness.kms.calls == []
    assert harness.fallbacks == []


def test_unreachable_vault_falls_back_to_kms_with_lambda_encryption_context(harness: Harness) -> None:
    # GIVEN Vault does not answer and DB_USER/DB_PASSWORD_ENCRYPTED are set
    harness.vault.failure = VaultUnreachableError("Vault read of secret/aurora-sync/aurora: cannot connect")
    provider = harness.provider(settings(**FALLBACK_ENV))

    # WHEN credentials are requested
    creds = provider.database()

    # THEN the KMS-decrypted fallback is used, decrypted with the console's encryption context,
    # and on_fallback is told which credentials and why
    assert (creds.user, creds.password, creds.source) == ("sync_fallback", FALLBACK_PASSWORD, "kms-fallback")
    assert harness.kms.calls == [
        {"CiphertextBlob": b"ct:db", "EncryptionContext": {"LambdaFunctionName": FUNCTION}}
    ]
    assert len(harness.fallbacks) == 1
    kind, reason = harness.fallbacks[0]
    assert kind == "database"
    assert "cannot connect" in reason


@pytest.mark.parametrize(
    "denial",
    [
        CredentialsError("Vault read of secret/aurora-sync/aurora denied (HTTP 403: permission denied)"),
        CredentialsError("Vault read of secret/aurora-sync/aurora: not found (HTTP 404)"),
        CredentialsError("Vault secret secret/aurora-sync/aurora has no field 'password'"),
    ],
    ids=["403", "404", "malformed"],
)
def test_vault_denial_never_falls_back(harness: Harness, denial: CredentialsError) -> None:
    # GIVEN Vault answers but says no (403), has no such secret, or the secret is malformed
    harness.vault.failure = denial
    provider = harness.provider(settings(**FALLBACK_ENV))

    # WHEN credentials are requested THEN the denial is raised as is, terminal
    with pytest.raises(CredentialsError) as caught:
        provider.database()
    assert caught.value is denial
    assert not caught.value.transient

    # AND the fallback is neither decrypted nor reported
    assert harness.kms.calls == []
    assert harness.fallbacks == []


def test_unreachable_vault_without_fallback_is_a_credentials_error(harness: Harness) -> None:
    # GIVEN Vault is unreachable and no fallback variables are set
    harness.vault.failure = VaultUnreachableError("Vault AppRole login: HTTP 503 (Vault is sealed)")
    provider = harness.provider(settings())

    # WHEN credentials are requested
    with pytest.raises(CredentialsError) as caught:
        provider.database()

    # THEN the error says Vault is unreachable and which fallback variables are missing
    message = str(caught.value)
    assert "Vault is unreachable" in message and "sealed" in message
    assert "no fallback is set" in message
    assert "DB_PASSWORD_ENCRYPTED" in message
    assert harness.fallbacks == []


def test_kms_failure_during_fallback_keeps_its_kind(harness: Harness) -> None:
    # GIVEN Vault is unreachable and KMS is throttling
    harness.vault.failure = VaultUnreachableError("Vault: cannot connect")
    harness.kms.error = kms_error("ThrottlingException")
    provider = harness.provider(settings(**FALLBACK_ENV))

    # WHEN credentials are requested THEN the error is transient (a retry can succeed)
    with pytest.raises(TransientError, match="DB_PASSWORD_ENCRYPTED"):
        provider.database()


# -- caching -------------------------------------------------------------------------------------


def test_kv_credentials_are_reused_until_their_max_age(harness: Harness) -> None:
    # GIVEN KV secrets may be reused for 15 minutes
    provider = harness.provider(settings(), kv_max_age=timedelta(minutes=15))
    provider.database()

    # WHEN a warm invocation (new provider, same process cache) asks within 15 minutes
    harness.clock.advance(minutes=14, seconds=59)
    harness.provider(settings()).database()

    # THEN Vault is not asked again
    assert harness.vault.calls == ["kv:aurora-sync/aurora"]

    # WHEN the max age has passed THEN Vault is read again
    harness.clock.advance(seconds=1)
    provider.database()
    assert harness.vault.calls == ["kv:aurora-sync/aurora"] * 2


def test_lease_credentials_are_reused_until_the_safety_margin_before_expiry(harness: Harness) -> None:
    # GIVEN the database secrets engine issues one-hour users
    provider = harness.provider(settings(VAULT_DB_ROLE="exporter"), expiry_margin=timedelta(minutes=15))

    # WHEN credentials are requested now and 44:59 later
    first = provider.database()
    harness.clock.advance(minutes=44, seconds=59)
    again = provider.database()

    # THEN the same short-lived user is reused, with its lease expiry
    assert again is first
    assert first.source is CredentialSource.VAULT_DATABASE
    assert first.expires_at == T0 + timedelta(hours=1)

    # WHEN less than the margin is left THEN a new user is issued
    harness.clock.advance(seconds=1)
    fresh = provider.database()
    assert fresh.user == "v-exporter-2"
    assert harness.vault.calls == ["db:exporter", "db:exporter"]


def test_a_lease_shorter_than_the_margin_is_never_cached(harness: Harness) -> None:
    # GIVEN leases of 10 minutes and a 15-minute margin
    harness.vault.lease_seconds = 600
    provider = harness.provider(settings(VAULT_DB_ROLE="exporter"))

    # WHEN credentials are requested twice THEN each call gets a fresh user
    assert provider.database().user != provider.database().user


def test_fallback_is_reported_on_every_use_and_vault_is_retried_after_the_pause(harness: Harness) -> None:
    # GIVEN Vault is unreachable and the fallback is configured
    harness.vault.failure = VaultUnreachableError("Vault: cannot connect")
    provider = harness.provider(settings(**FALLBACK_ENV), vault_retry_after=timedelta(minutes=1))

    # WHEN credentials are requested twice within the retry pause
    provider.database()
    provider.database()

    # THEN both uses are reported, Vault was asked once and KMS decrypted once
    assert [k for k, _ in harness.fallbacks] == ["database", "database"]
    assert harness.vault.calls == ["kv:aurora-sync/aurora"]
    assert len(harness.kms.calls) == 1

    # WHEN Vault is back and the pause is over
    harness.vault.failure = None
    harness.clock.advance(minutes=1)
    creds = provider.database()

    # THEN Vault credentials are used again and nothing more is reported
    assert creds.source is CredentialSource.VAULT_KV
    assert len(harness.fallbacks) == 2


def test_one_outage_is_not_waited_out_again_for_the_next_credential(harness: Harness) -> None:
    # GIVEN Vault timed out while fetching the Aurora credentials
    harness.vault.failure = VaultUnreachableError("Vault: timed out after 5s")
    env = {
        **FALLBACK_ENV,
        "SNOWFLAKE_USER": "SYNC",
        "SNOWFLAKE_PASSWORD_ENCRYPTED": base64.b64encode(b"ct:sf").decode(),
    }
    provider = harness.provider(settings(**env))
    provider.database()

    # WHEN the Snowflake credentials are requested right after
    creds = provider.snowflake()

    # THEN Vault is not asked (no second timeout) and the Snowflake fallback is used and reported
    assert harness.vault.calls == ["kv:aurora-sync/aurora"]
    assert (creds.user, creds.password, creds.source) == ("SYNC", SF_PASSWORD, "kms-fallback")
    assert [k for k, _ in harness.fallbacks] == ["database", "snowflake"]


def test_cache_is_keyed_by_settings(harness: Harness) -> None:
    # GIVEN credentials cached for one secret path
    harness.vault.kv["other/aurora"] = {"username": "other", "password": KV_PASSWORD}
    harness.provider(settings()).database()

    # WHEN a provider with another path asks THEN it does not get the cached user
    assert harness.provider(settings(VAULT_SECRET_PATH="other/aurora")).database().user == "other"


# -- Snowflake -----------------------------------------------------------------------------------


def test_snowflake_encrypted_pem_key_becomes_unencrypted_der(
    harness: Harness, rsa_key: rsa.RSAPrivateKey
) -> None:
    # GIVEN the Snowflake secret holds a passphrase-protected PEM key
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSPHRASE.encode()),
    ).decode()
    harness.vault.kv["aurora-sync/snowflake"] = {
        "user": "SYNC",
        "private_key": pem,
        "private_key_passphrase": PASSPHRASE,
    }

    # WHEN Snowflake credentials are requested
    creds = harness.provider(settings()).snowflake()

    # THEN the key is unencrypted PKCS#8 DER for the connector and no password is used
    expected = rsa_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert creds.private_key_der == expected
    assert creds.password is None
    assert creds.connect_kwargs() == {"user": "SYNC", "private_key": expected}


def test_snowflake_wrong_passphrase_names_the_field_not_the_key(
    harness: Harness, rsa_key: rsa.RSAPrivateKey
) -> None:
    # GIVEN an encrypted key with the wrong passphrase in Vault
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"the-real-one"),
    ).decode()
    harness.vault.kv["aurora-sync/snowflake"] = {
        "user": "SYNC",
        "private_key": pem,
        "private_key_passphrase": PASSPHRASE,
    }

    # WHEN Snowflake credentials are requested THEN a terminal error names path and field only
    with pytest.raises(CredentialsError) as caught:
        harness.provider(settings(**FALLBACK_ENV)).snowflake()
    message = str(caught.value)
    assert "secret/aurora-sync/snowflake" in message
    assert "private_key" in message
    assert "BEGIN" not in message
    assert PASSPHRASE not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__  # no chained key error
    assert harness.fallbacks == []


def test_snowflake_secret_without_key_or_password_is_rejected(harness: Harness) -> None:
    # GIVEN a Snowflake secret with only a user
    harness.vault.kv["aurora-sync/snowflake"] = {"user": "SYNC"}

    # WHEN requested THEN the error names both accepted fields
    with pytest.raises(CredentialsError, match="neither 'private_key' nor 'password'"):
        harness.provider(settings()).snowflake()


def test_snowflake_fallback_private_key_from_kms(harness: Harness, rsa_key: rsa.RSAPrivateKey) -> None:
    # GIVEN Vault is unreachable and SNOWFLAKE_PRIVATE_KEY_ENCRYPTED holds a KMS-encrypted PEM key
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    harness.kms.plaintexts[b"ct:key"] = pem
    harness.vault.failure = VaultUnreachableError("Vault: HTTP 503 (Vault is sealed)")
    env = {"SNOWFLAKE_USER": "SYNC", "SNOWFLAKE_PRIVATE_KEY_ENCRYPTED": base64.b64encode(b"ct:key").decode()}

    # WHEN Snowflake credentials are requested
    creds = harness.provider(settings(**env)).snowflake()

    # THEN the key pair is used, from the fallback, and the fallback is reported
    assert creds.source is CredentialSource.KMS_FALLBACK
    assert creds.private_key_der is not None and creds.private_key_der.startswith(b"0\x82")
    assert harness.fallbacks == [("snowflake", "Vault: HTTP 503 (Vault is sealed)")]


def test_snowflake_without_fallback_names_the_variables(harness: Harness) -> None:
    # GIVEN Vault is unreachable and only SNOWFLAKE_USER is set
    harness.vault.failure = VaultUnreachableError("Vault: cannot connect")

    # WHEN requested THEN the error names the missing fallback variables
    with pytest.raises(CredentialsError, match="SNOWFLAKE_PRIVATE_KEY_ENCRYPTED"):
        harness.provider(settings(SNOWFLAKE_USER="SYNC")).snowflake()


# -- secrets stay secret -------------------------------------------------------------------------


def test_repr_and_str_hide_secrets(rsa_key: rsa.RSAPrivateKey) -> None:
    # GIVEN credentials of every kind
    der = rsa_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    items: list[object] = [
        DbCredentials("sync", KV_PASSWORD, CredentialSource.VAULT_KV),
        DbCredentials("v-1", LEASE_PASSWORD, CredentialSource.VAULT_DATABASE, T0),
        SnowflakeCredentials("SYNC", SF_PASSWORD, None, CredentialSource.KMS_FALLBACK),
        SnowflakeCredentials("SYNC", None, der, CredentialSource.VAULT_KV),
        DatabaseLease("database/creds/x", "v-1", LEASE_PASSWORD, "id", timedelta(hours=1), T0, True),
    ]

    # WHEN they are rendered THEN users and sources show, secrets do not
    for item in items:
        for text in (repr(item), str(item), f"{item}", repr([item])):
            assert not any(secret in text for secret in SECRETS), text
            assert repr(der)[:20] not in text
    assert "user='sync'" in repr(items[0]) and "password='***'" in repr(items[0])
    assert "kms-fallback" in str(items[2])


def test_no_secret_reaches_logs_or_errors(harness: Harness, all_output: Callable[[], str]) -> None:
    # GIVEN a run that uses Vault, then the fallback, then hits a denial
    provider = harness.provider(settings(VAULT_DB_ROLE="exporter", **FALLBACK_ENV))
    provider.database()
    provider.snowflake()
    harness.cache.clear()
    harness.vault.failure = VaultUnreachableError("Vault: cannot connect")
    provider.database()
    harness.vault.failure = CredentialsError("Vault read of secret/aurora-sync/snowflake denied (HTTP 403)")
    harness.cache.clear()
    with pytest.raises(CredentialsError) as caught:
        provider.snowflake()

    # WHEN everything logged and printed is collected
    output = all_output()

    # THEN it names sources and expiry, but no secret value
    assert "vault-database" in output and "kms-fallback" in output and "vault-kv" in output
    assert "expires_at" in output
    for secret in SECRETS:
        assert secret not in output
        assert secret not in str(caught.value)


def test_fallback_alert_is_p3_with_runbook() -> None:
    # GIVEN a fallback was used WHEN the alert is built
    alert = fallback_alert("database", "Vault: HTTP 503 (Vault is sealed)", "run-1")

    # THEN it is a P3 credentials_fallback alert pointing at the Vault runbook section
    assert alert.severity is Severity.P3
    assert alert.check == "credentials_fallback"
    runbook = "https://git.example/aurora-snowflake-sync/blob/main/docs/runbook.md"
    assert alert.runbook(runbook) == f"{runbook}#vault-unavailability"
    body = alert.body(runbook)
    assert body["run_id"] == "run-1"
    assert body["details"]["credentials"] == "database"
    assert "sealed" in body["details"]["reason"]


# -- the Vault adapter's error mapping (fake hvac client, no sockets) -----------------------------


def vault_error(
    cls: type[hvac.exceptions.VaultError], status: int | None = None
) -> hvac.exceptions.VaultError:
    exc = cls(errors=["boom"], method="get", url="https://vault.example:8200/v1/x")
    if status is not None:
        exc.status_code = status
    return exc


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (requests.exceptions.ConnectionError("refused"), VaultUnreachableError),
        (requests.exceptions.ConnectTimeout("slow"), VaultUnreachableError),
        (requests.exceptions.ReadTimeout("slow"), VaultUnreachableError),
        (vault_error(hvac.exceptions.VaultDown), VaultUnreachableError),
        (vault_error(hvac.exceptions.InternalServerError), VaultUnreachableError),
        (vault_error(hvac.exceptions.BadGateway), VaultUnreachableError),
        (vault_error(hvac.exceptions.UnexpectedError, 504), VaultUnreachableError),
        (vault_error(hvac.exceptions.RateLimitExceeded), VaultUnreachableError),
        (vault_error(hvac.exceptions.Forbidden), CredentialsError),
        (vault_error(hvac.exceptions.InvalidRequest), CredentialsError),
        (vault_error(hvac.exceptions.Unauthorized), CredentialsError),
        (vault_error(hvac.exceptions.InvalidPath), CredentialsError),
        (vault_error(hvac.exceptions.UnexpectedError, 409), CredentialsError),
        (requests.exceptions.InvalidURL("bad"), CredentialsError),
    ],
)
def test_vault_failures_are_sorted_into_unreachable_or_credentials(raised: Exception, expected: type) -> None:
    # GIVEN an hvac / requests failure WHEN it is mapped THEN it gets exactly the expected kind
    mapped = map_vault_error(raised, "read of secret/x", addr="https://vault.example:8200", timeout=5)
    assert type(mapped) is expected


def test_unrelated_exceptions_are_not_mapped() -> None:
    # GIVEN a bug (not a Vault answer) WHEN mapped THEN it is left alone to surface as a bug
    assert map_vault_error(KeyError("x"), "read", addr="a", timeout=1) is None


class FakeHvac:
    """Just enough of hvac.Client for VaultAdapter: AppRole login, KV v2 read, database creds."""

    def __init__(self, ttl: int = 3600) -> None:
        self.token: str | None = None
        self.ttl = ttl
        self.logins = 0
        self.kv_failures: list[Exception] = []
        self.auth = SimpleNamespace(approle=SimpleNamespace(login=self._approle_login))
        self.secrets = SimpleNamespace(
            kv=SimpleNamespace(v2=SimpleNamespace(read_secret_version=self._read)),
            database=SimpleNamespace(generate_credentials=self._creds),
        )

    def _approle_login(
        self, role_id: str, secret_id: str, use_token: bool, mount_point: str
    ) -> dict[str, Any]:
        self.logins += 1
        self.token = f"hvs.login-{self.logins}"
        return {"auth": {"client_token": self.token, "lease_duration": self.ttl, "renewable": True}}

    def _read(self, path: str, mount_point: str, raise_on_deleted_version: bool) -> dict[str, Any]:
        if self.kv_failures:
            raise self.kv_failures.pop(0)
        return {"data": {"data": {"username": "sync", "password": KV_PASSWORD}, "metadata": {"version": 3}}}

    def _creds(self, name: str, mount_point: str) -> dict[str, Any]:
        return {
            "lease_id": f"{mount_point}/creds/{name}/abc",
            "lease_duration": 7200,
            "renewable": True,
            "data": {"username": "v-approle-exporter", "password": LEASE_PASSWORD},
        }


def approle_settings() -> VaultSettings:
    return VaultSettings.model_validate(
        {
            "VAULT_ADDR": "https://vault.example:8200",
            "VAULT_AUTH_METHOD": "approle",
            "VAULT_ROLE": "role-id-1",
            "VAULT_SECRET_ID": "secret-id-lynx",
        }
    )


def test_vault_token_is_reused_until_its_ttl_runs_low() -> None:
    # GIVEN an AppRole login that yields a one-hour token
    clock, fake = FakeClock(), FakeHvac(ttl=3600)
    adapter = VaultAdapter(approle_settings(), client_factory=lambda: fake, clock=clock)

    # WHEN secrets are read now and 44 minutes later
    secret = adapter.read_kv("aurora-sync/aurora")
    clock.advance(minutes=44)
    adapter.read_kv("aurora-sync/aurora")

    # THEN one login served both reads, and the secret names its path and version
    assert fake.logins == 1
    assert (secret.where, secret.version, secret.text("username")) == ("secret/aurora-sync/aurora", 3, "sync")
    assert adapter.token_expires_at == T0 + timedelta(hours=1)

    # WHEN less than the margin (min(15 min, ttl/4)) is left THEN the adapter logs in again first
    clock.advance(minutes=1)
    adapter.read_kv("aurora-sync/aurora")
    assert fake.logins == 2


def test_database_lease_expiry_is_capped_by_the_token_expiry() -> None:
    # GIVEN a token with one hour left and a database role issuing two-hour leases
    clock, fake = FakeClock(), FakeHvac(ttl=3600)
    adapter = VaultAdapter(approle_settings(), client_factory=lambda: fake, clock=clock)

    # WHEN a database user is issued
    lease = adapter.database_credentials("exporter")

    # THEN it is reported to expire with the token (Vault revokes a token's leases with it)
    assert lease.lease_duration == timedelta(hours=2)
    assert lease.expires_at == T0 + timedelta(hours=1)
    assert LEASE_PASSWORD not in repr(lease)


def test_a_revoked_cached_token_gets_one_fresh_login() -> None:
    # GIVEN a cached token that Vault now rejects with 403 once
    clock, fake = FakeClock(), FakeHvac()
    adapter = VaultAdapter(approle_settings(), client_factory=lambda: fake, clock=clock)
    adapter.read_kv("p")
    fake.kv_failures = [vault_error(hvac.exceptions.Forbidden)]

    # WHEN the next read happens THEN the adapter logs in again and the read succeeds
    assert adapter.read_kv("p").text("password") == KV_PASSWORD
    assert fake.logins == 2

    # AND a 403 right after a fresh login is final: CredentialsError, no loop
    fake.kv_failures = [vault_error(hvac.exceptions.Forbidden), vault_error(hvac.exceptions.Forbidden)]
    clock.advance(hours=2)
    with pytest.raises(CredentialsError, match="denied"):
        adapter.read_kv("p")
    assert fake.logins == 3


def test_missing_approle_settings_are_named_without_values() -> None:
    # GIVEN approle auth without VAULT_SECRET_ID
    settings_ = VaultSettings.model_validate(
        {"VAULT_ADDR": "https://v:8200", "VAULT_AUTH_METHOD": "approle", "VAULT_ROLE": "r"}
    )
    adapter = VaultAdapter(settings_, client_factory=FakeHvac)

    # WHEN a secret is read THEN the error names the missing variable
    with pytest.raises(CredentialsError, match="VAULT_SECRET_ID"):
        adapter.read_kv("p")


def test_kv_secret_field_errors_name_path_and_field() -> None:
    # GIVEN a secret with a missing and a non-string field
    secret = KvSecret("secret/aurora-sync/aurora", {"username": 42, "note": "x"})

    # WHEN fields are read THEN the errors name the path and field, never a value
    with pytest.raises(CredentialsError, match=r"secret/aurora-sync/aurora has no field 'password'"):
        secret.text("password")
    with pytest.raises(CredentialsError, match=r"field 'username' must be a non-empty string, got int"):
        secret.text("username")


# -- the KMS adapter -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (kms_error("ThrottlingException"), TransientError),
        (kms_error("KMSInternalException", 500), TransientError),
        (kms_error("KeyUnavailableException", 500), TransientError),
        (EndpointConnectionError(endpoint_url="https://kms.us-east-1.amazonaws.com"), TransientError),
        (kms_error("InvalidCiphertextException"), CredentialsError),
        (kms_error("AccessDeniedException"), CredentialsError),
        (kms_error("DisabledException"), CredentialsError),
    ],
)
def test_kms_errors_are_transient_or_terminal(error: Exception, expected: type[Exception]) -> None:
    # GIVEN KMS fails WHEN a fallback value is decrypted THEN the error kind decides retry vs alert
    decryptor = KmsDecryptor(lambda: FakeKms({}, error=error), function_name=FUNCTION)
    with pytest.raises(expected, match="DB_PASSWORD_ENCRYPTED") as caught:
        decryptor.decrypt(base64.b64encode(b"ct").decode(), variable="DB_PASSWORD_ENCRYPTED")
    assert caught.value.transient is (expected is TransientError)  # type: ignore[attr-defined]


def test_kms_ciphertext_for_another_function_does_not_decrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the ciphertext was bound to FUNCTION but this Lambda has another name
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "some-other-function")
    decryptor = KmsDecryptor(lambda: FakeKms({b"ct": b"x"}))

    # WHEN decrypted THEN KMS refuses and the hint mentions the encryption context
    with pytest.raises(CredentialsError, match="encryption context"):
        decryptor.decrypt(base64.b64encode(b"ct").decode(), variable="DB_PASSWORD_ENCRYPTED")


def test_kms_needs_the_function_name_and_valid_base64(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN no AWS_LAMBDA_FUNCTION_NAME (not running in Lambda)
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    decryptor = KmsDecryptor(lambda: FakeKms({}))

    # WHEN decrypting THEN both problems are named, before any KMS call
    with pytest.raises(CredentialsError, match="AWS_LAMBDA_FUNCTION_NAME"):
        decryptor.decrypt(base64.b64encode(b"ct").decode(), variable="DB_PASSWORD_ENCRYPTED")
    with pytest.raises(CredentialsError, match="DB_PASSWORD_ENCRYPTED is not valid base64"):
        decryptor.decrypt("not base64 !", variable="DB_PASSWORD_ENCRYPTED")
