"""Aurora and Snowflake credentials: Vault first, the KMS-encrypted fallback only when Vault is
unreachable (DESIGN.md §4).

- Vault answers → its credentials (KV v2 secret, or a short-lived user from the database engine).
- Vault does not answer (connection error, timeout, 5xx) → ``DB_USER`` + ``DB_PASSWORD_ENCRYPTED``
  (``SNOWFLAKE_USER`` + ``SNOWFLAKE_PRIVATE_KEY_ENCRYPTED`` or ``SNOWFLAKE_PASSWORD_ENCRYPTED``),
  and ``on_fallback(kind, reason)`` on every use so the run emits a metric and a P3 alert.
- Vault says no (403, 404, a malformed secret) → ``CredentialsError``; never the fallback, which
  would hide a revoked grant behind old credentials.

Credentials are cached per process, so warm invocations skip Vault: KV secrets for ``kv_max_age``,
database-engine users until ``expiry_margin`` before their lease ends, fallback credentials only for
``vault_retry_after`` (Vault is asked again after that). Logs carry the source and expiry only.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, Protocol

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from aurora_sync import aws
from aurora_sync.adapters.kms import KmsClient, KmsDecryptor
from aurora_sync.adapters.vault import VaultAdapter, VaultReader, utc_now
from aurora_sync.alert_routing import AlertRouter
from aurora_sync.alerts import Alert, Severity
from aurora_sync.errors import CredentialsError, VaultUnreachableError
from aurora_sync.observability import logger
from aurora_sync.settings import DatabaseSettings, SnowflakeSettings, VaultSettings
from aurora_sync.timeutil import iso

CredentialKind = Literal["database", "snowflake"]
Clock = Callable[[], datetime]
FallbackCallback = Callable[[str, str], None]
VaultClientFactory = Callable[[VaultSettings], VaultReader]
KmsClientFactory = Callable[[], KmsClient]

# A Lambda invocation lasts at most 15 minutes: hand out nothing that expires sooner.
LAMBDA_MAX_RUNTIME = timedelta(minutes=15)
FALLBACK_CHECK = "credentials_fallback"
FALLBACK_RUNBOOK_ANCHOR = "vault-unavailability"


class CredentialSource(StrEnum):
    VAULT_KV = "vault-kv"
    VAULT_DATABASE = "vault-database"
    KMS_FALLBACK = "kms-fallback"


@dataclass(frozen=True, repr=False)
class DbCredentials:
    """Aurora login; ``expires_at`` is set for database-engine users (None: static secret)."""

    user: str
    password: str
    source: CredentialSource
    expires_at: datetime | None = None

    def __repr__(self) -> str:
        return (
            f"DbCredentials(user={self.user!r}, password='***', source={str(self.source)!r}, "
            f"expires_at={_show(self.expires_at)})"
        )


@dataclass(frozen=True, repr=False)
class SnowflakeCredentials:
    """Snowflake login: a key pair (``private_key_der``, unencrypted PKCS#8 DER) or a password."""

    user: str
    password: str | None
    private_key_der: bytes | None
    source: CredentialSource
    expires_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.password is None and self.private_key_der is None:
            raise CredentialsError(f"Snowflake credentials for {self.user!r} have neither key nor password")

    def __repr__(self) -> str:
        secret = "private_key_der=<hidden>" if self.private_key_der is not None else "password='***'"
        return (
            f"SnowflakeCredentials(user={self.user!r}, {secret}, source={str(self.source)!r}, "
            f"expires_at={_show(self.expires_at)})"
        )

    def connect_kwargs(self) -> dict[str, Any]:
        """Arguments for ``snowflake.connector.connect``: key pair when present, else password."""
        if self.private_key_der is not None:
            return {"user": self.user, "private_key": self.private_key_der}
        return {"user": self.user, "password": self.password}


Credentials = DbCredentials | SnowflakeCredentials


class CredentialSettings(Protocol):
    """The settings pieces the provider needs (ExporterSettings has them, so will the reconciler's)."""

    @property
    def vault(self) -> VaultSettings: ...

    @property
    def database(self) -> DatabaseSettings: ...

    @property
    def snowflake(self) -> SnowflakeSettings: ...

    @property
    def aws_region(self) -> str: ...


@dataclass(frozen=True)
class _Entry:
    credentials: Credentials
    reuse_until: datetime
    fallback_reason: str | None


class CredentialCache:
    """What survives between warm invocations: credentials, Vault sessions (their token) and the
    last Vault outage, so one run does not wait out the Vault timeout for every credential."""

    def __init__(self) -> None:
        self._entries: dict[Hashable, _Entry] = {}
        self._readers: dict[Hashable, VaultReader] = {}
        self._outages: dict[Hashable, tuple[datetime, str]] = {}

    def get(self, key: Hashable, now: datetime) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and now >= entry.reuse_until:
            del self._entries[key]
            return None
        return entry

    def put(self, key: Hashable, entry: _Entry, now: datetime) -> None:
        if entry.reuse_until > now:
            self._entries[key] = entry

    def reader(self, key: Hashable, build: Callable[[], VaultReader]) -> VaultReader:
        if key not in self._readers:
            self._readers[key] = build()
        return self._readers[key]

    def outage(self, key: Hashable, now: datetime) -> str | None:
        until, reason = self._outages.get(key, (now, ""))
        return reason if now < until else None

    def mark_down(self, key: Hashable, until: datetime, reason: str) -> None:
        self._outages[key] = (until, reason)

    def mark_up(self, key: Hashable) -> None:
        self._outages.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()
        self._readers.clear()
        self._outages.clear()


_PROCESS_CACHE = CredentialCache()


def clear_credential_cache() -> None:
    """Forget every cached credential and Vault session of this process."""
    _PROCESS_CACHE.clear()


def settle_fallback_alert(router: AlertRouter, credentials: CredentialProvider, run_id: str) -> None:
    """Send the single resolve once a run got every credential from Vault again."""
    if credentials.sources == {"vault"}:
        router.resolve(FALLBACK_CHECK, "", run_id, "credentials came from Vault again")


def fallback_alert(kind: str, reason: str, run_id: str) -> Alert:
    """The P3 alert a run sends while it works on fallback credentials."""
    return Alert(
        severity=Severity.P3,
        check=FALLBACK_CHECK,
        table="",
        summary=f"Vault unreachable: {kind} credentials came from the KMS-encrypted fallback",
        details={"credentials": kind, "source": str(CredentialSource.KMS_FALLBACK), "reason": reason},
        run_id=run_id,
        runbook_anchor=FALLBACK_RUNBOOK_ANCHOR,
    )


class CredentialProvider:
    """``database()`` and ``snowflake()`` credentials: Vault, cache, KMS fallback. The KMS client is
    ``aws.client("kms", settings.aws_region)`` unless ``kms_client_factory`` is given (tests)."""

    def __init__(
        self,
        settings: CredentialSettings,
        *,
        vault_client_factory: VaultClientFactory = VaultAdapter,
        kms_client_factory: KmsClientFactory | None = None,
        clock: Clock = utc_now,
        on_fallback: FallbackCallback | None = None,
        kv_max_age: timedelta = timedelta(minutes=15),
        expiry_margin: timedelta = LAMBDA_MAX_RUNTIME,
        vault_retry_after: timedelta = timedelta(minutes=1),
        cache: CredentialCache | None = None,
    ) -> None:
        self._vault = settings.vault
        self._database = settings.database
        self._snowflake = settings.snowflake
        self._vault_client_factory = vault_client_factory
        region = settings.aws_region
        self._kms = KmsDecryptor(kms_client_factory or (lambda: aws.client("kms", region)))
        self._clock = clock
        self._on_fallback = on_fallback
        self._kv_max_age = kv_max_age
        self._expiry_margin = expiry_margin
        self._vault_retry_after = vault_retry_after
        self._cache = _PROCESS_CACHE if cache is None else cache
        # Where this provider's credentials came from, so a run can resolve the fallback alert
        # once Vault answers again.
        self.sources: set[str] = set()

    def database(self) -> DbCredentials:
        credentials = self._resolve("database", self._database_from_vault, self._database_fallback)
        assert isinstance(credentials, DbCredentials)
        return credentials

    def snowflake(self) -> SnowflakeCredentials:
        credentials = self._resolve("snowflake", self._snowflake_from_vault, self._snowflake_fallback)
        assert isinstance(credentials, SnowflakeCredentials)
        return credentials

    # -- resolution ------------------------------------------------------------------------

    def _resolve(
        self,
        kind: CredentialKind,
        from_vault: Callable[[datetime], tuple[Credentials, datetime]],
        from_fallback: Callable[[VaultUnreachableError], Credentials],
    ) -> Credentials:
        settings = self._database if kind == "database" else self._snowflake
        key = (kind, self._vault, settings)
        now = self._clock()
        cached = self._cache.get(key, now)
        if cached is not None:
            if cached.fallback_reason is not None:
                self._report_fallback(kind, cached.fallback_reason)
            else:
                self.sources.add("vault")
            _log_ready(kind, cached.credentials, cached.reuse_until, cached=True)
            return cached.credentials
        outage = self._cache.outage(self._vault, now)
        try:
            if outage is not None:
                raise VaultUnreachableError(f"{outage} (recently; Vault is asked again after a pause)")
            credentials, reuse_until = from_vault(now)
        except VaultUnreachableError as exc:
            retry_at = now + self._vault_retry_after
            if outage is None:
                self._cache.mark_down(self._vault, retry_at, str(exc))
            credentials = from_fallback(exc)
            self._report_fallback(kind, str(exc))
            self._cache.put(key, _Entry(credentials, retry_at, str(exc)), now)
            _log_ready(kind, credentials, retry_at, cached=False)
            return credentials
        self._cache.mark_up(self._vault)
        self.sources.add("vault")
        self._cache.put(key, _Entry(credentials, reuse_until, None), now)
        _log_ready(kind, credentials, reuse_until, cached=False)
        return credentials

    def _reader(self) -> VaultReader:
        factory = self._vault_client_factory
        return self._cache.reader((self._vault, factory), lambda: factory(self._vault))

    def _report_fallback(self, kind: CredentialKind, reason: str) -> None:
        self.sources.add("fallback")
        logger.warning(
            "Vault unreachable: using fallback credentials",
            extra={"credentials": kind, "source": str(CredentialSource.KMS_FALLBACK), "reason": reason},
        )
        if self._on_fallback is not None:
            self._on_fallback(kind, reason)

    # -- Aurora ----------------------------------------------------------------------------

    def _database_from_vault(self, now: datetime) -> tuple[Credentials, datetime]:
        if self._vault.db_role:
            lease = self._reader().database_credentials(self._vault.db_role)
            credentials = DbCredentials(
                user=lease.username,
                password=lease.password,
                source=CredentialSource.VAULT_DATABASE,
                expires_at=lease.expires_at,
            )
            return credentials, lease.expires_at - self._expiry_margin
        if self._vault.secret_path:
            secret = self._reader().read_kv(self._vault.secret_path)
            credentials = DbCredentials(
                user=secret.text("username"),
                password=secret.text("password"),
                source=CredentialSource.VAULT_KV,
            )
            return credentials, now + self._kv_max_age
        raise CredentialsError(
            "no Vault source for Aurora credentials: set VAULT_DB_ROLE (database secrets engine) "
            "or VAULT_SECRET_PATH (KV v2 secret with username, password)"
        )

    def _database_fallback(self, cause: VaultUnreachableError) -> Credentials:
        user = self._database.fallback_user
        ciphertext = self._database.fallback_password_encrypted
        if not user or not ciphertext:
            raise CredentialsError(
                f"Vault is unreachable ({cause}) and no fallback is set: DB_USER and DB_PASSWORD_ENCRYPTED"
            ) from cause
        password = self._kms.decrypt_text(ciphertext, variable="DB_PASSWORD_ENCRYPTED")
        return DbCredentials(user=user, password=password, source=CredentialSource.KMS_FALLBACK)

    # -- Snowflake -------------------------------------------------------------------------

    def _snowflake_from_vault(self, now: datetime) -> tuple[Credentials, datetime]:
        path = self._vault.snowflake_secret_path
        if not path:
            raise CredentialsError("no Vault source for Snowflake credentials: VAULT_SNOWFLAKE_SECRET_PATH")
        secret = self._reader().read_kv(path)
        user = secret.text("user")
        pem = secret.optional_text("private_key")
        if pem is not None:
            key = private_key_der(
                pem.encode("utf-8"),
                secret.optional_text("private_key_passphrase"),
                where=f"Vault secret {secret.where} field 'private_key'",
            )
            credentials = SnowflakeCredentials(user, None, key, CredentialSource.VAULT_KV)
        else:
            password = secret.optional_text("password")
            if password is None:
                message = f"Vault secret {secret.where} has neither 'private_key' nor 'password'"
                raise CredentialsError(message)
            credentials = SnowflakeCredentials(user, password, None, CredentialSource.VAULT_KV)
        return credentials, now + self._kv_max_age

    def _snowflake_fallback(self, cause: VaultUnreachableError) -> Credentials:
        settings = self._snowflake
        user = settings.fallback_user
        key_ciphertext = settings.fallback_private_key_encrypted
        password_ciphertext = settings.fallback_password_encrypted
        if not user or not (key_ciphertext or password_ciphertext):
            raise CredentialsError(
                f"Vault is unreachable ({cause}) and no fallback is set: SNOWFLAKE_USER and "
                "SNOWFLAKE_PRIVATE_KEY_ENCRYPTED or SNOWFLAKE_PASSWORD_ENCRYPTED"
            ) from cause
        if key_ciphertext:
            plaintext = self._kms.decrypt(key_ciphertext, variable="SNOWFLAKE_PRIVATE_KEY_ENCRYPTED")
            key = private_key_der(plaintext, None, where="SNOWFLAKE_PRIVATE_KEY_ENCRYPTED")
            return SnowflakeCredentials(user, None, key, CredentialSource.KMS_FALLBACK)
        assert password_ciphertext is not None
        password = self._kms.decrypt_text(password_ciphertext, variable="SNOWFLAKE_PASSWORD_ENCRYPTED")
        return SnowflakeCredentials(user, password, None, CredentialSource.KMS_FALLBACK)


def private_key_der(key: bytes, passphrase: str | None, *, where: str) -> bytes:
    """A PEM or DER private key (optionally passphrase-protected) as unencrypted PKCS#8 DER, the
    form the Snowflake connector takes. Errors name ``where``, never the key."""
    text = key.strip()
    if text.startswith(b"-----BEGIN") and b"\n" not in text and b"\\n" in text:
        text = text.replace(b"\\n", b"\n")  # pasted into JSON with escaped newlines
    password = passphrase.encode("utf-8") if passphrase else None
    try:
        if text.startswith(b"-----BEGIN"):
            loaded = serialization.load_pem_private_key(text, password=password)
        else:
            loaded = serialization.load_der_private_key(text, password=password)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise CredentialsError(
            f"{where} is not a readable private key (malformed, or its passphrase is wrong or missing)"
        ) from None
    return loaded.private_bytes(
        encoding=serialization.Encoding.DER,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )


def _log_ready(
    kind: CredentialKind, credentials: Credentials, reuse_until: datetime, *, cached: bool
) -> None:
    logger.info(
        "credentials ready",
        extra={
            "credentials": kind,
            "source": str(credentials.source),
            "user": credentials.user,
            "expires_at": _show(credentials.expires_at),
            "reuse_until": iso(reuse_until),
            "cached": cached,
        },
    )


def _show(moment: datetime | None) -> str | None:
    return iso(moment) if moment is not None else None
