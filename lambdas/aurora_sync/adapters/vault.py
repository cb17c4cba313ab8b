"""Vault (or OpenBao) over hvac: log in, read KV v2 secrets, issue database-engine users.

Every failure leaves this module as one of two errors, because the caller's next step depends
on nothing else (DESIGN.md §4):

- ``VaultUnreachableError`` (transient): no answer, a timeout, a 5xx (503 = sealed), 429/412.
  Only this error lets the caller fall back to the KMS-encrypted environment variables.
- ``CredentialsError`` (terminal): denied (403), bad login (400/401), no such path (404), a
  secret without the expected fields, or a setting missing for the chosen auth method.

Messages name the Vault path and field, never a value: secrets, tokens and the signed IAM
login request stay inside this module.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import boto3
import hvac
import hvac.adapters
import hvac.exceptions
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

from aurora_sync.errors import CredentialsError, SyncError, VaultUnreachableError
from aurora_sync.observability import logger
from aurora_sync.settings import VaultAuthMethod, VaultSettings
from aurora_sync.timeutil import iso

Clock = Callable[[], datetime]
AwsCredentialsSource = Callable[[], ReadOnlyCredentials | None]
T = TypeVar("T")

STS_BODY = "Action=GetCallerIdentity&Version=2011-06-15"
IAM_SERVER_ID_HEADER = "X-Vault-AWS-IAM-Server-ID"
APPROLE_MOUNT = "approle"
# Statuses that say "Vault cannot serve right now", not "Vault said no": fall back, retry later.
_UNAVAILABLE_STATUSES = frozenset({412, 429})
_STATUS_OF_ERROR: dict[type[hvac.exceptions.VaultError], int] = {
    hvac.exceptions.InvalidRequest: 400,
    hvac.exceptions.Unauthorized: 401,
    hvac.exceptions.Forbidden: 403,
    hvac.exceptions.InvalidPath: 404,
    hvac.exceptions.UnsupportedOperation: 405,
    hvac.exceptions.PreconditionFailed: 412,
    hvac.exceptions.RateLimitExceeded: 429,
    hvac.exceptions.InternalServerError: 500,
    hvac.exceptions.VaultNotInitialized: 501,
    hvac.exceptions.BadGateway: 502,
    hvac.exceptions.VaultDown: 503,
}


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class KvSecret:
    """One KV v2 secret version; ``where`` is the CLI form (``<mount>/<path>``) used in messages."""

    where: str
    data: Mapping[str, Any] = field(repr=False)
    version: int | None = None

    def text(self, name: str) -> str:
        """The non-empty string field ``name``; a CredentialsError naming path and field otherwise."""
        value = self.optional_text(name)
        if value is None:
            raise CredentialsError(f"Vault secret {self.where} has no field {name!r}")
        return value

    def optional_text(self, name: str) -> str | None:
        if name not in self.data or self.data[name] is None:
            return None
        value = self.data[name]
        if not isinstance(value, str) or not value.strip():
            raise CredentialsError(
                f"Vault secret {self.where} field {name!r} must be a non-empty string, "
                f"got {type(value).__name__}"
            )
        return value


@dataclass(frozen=True)
class DatabaseLease:
    """A user issued by the database secrets engine; ``expires_at`` is capped by the token's expiry,
    because Vault revokes a token's leases (and drops the user) when the token expires."""

    where: str
    username: str
    password: str = field(repr=False)
    lease_id: str
    lease_duration: timedelta
    expires_at: datetime
    renewable: bool


class VaultReader(Protocol):
    """What the credential provider needs from Vault (the in-memory fakes implement this too)."""

    def read_kv(self, path: str) -> KvSecret: ...

    def database_credentials(self, role: str) -> DatabaseLease: ...


def build_hvac_client(settings: VaultSettings) -> hvac.Client:
    """An unauthenticated client; nothing is sent until the first request. ``token=""`` keeps hvac
    from picking up VAULT_TOKEN or ~/.vault-token by itself: the login decides the token.
    (hvac still honours VAULT_CACERT / VAULT_CAPATH for the TLS trust store.)"""
    return hvac.Client(
        url=settings.addr,
        token="",
        timeout=settings.timeout_seconds,
        namespace=settings.namespace,
        adapter=_StatusAdapter,
    )


def lambda_aws_credentials() -> ReadOnlyCredentials | None:
    """The function's own credentials (the execution role's, from the Lambda environment)."""
    credentials = boto3.Session().get_credentials()
    return None if credentials is None else credentials.get_frozen_credentials()


def iam_login_payload(
    credentials: ReadOnlyCredentials,
    *,
    role: str | None,
    header_value: str | None,
    sts_region: str | None = None,
) -> dict[str, str]:
    """The body of ``POST auth/<mount>/login`` for Vault's AWS IAM method.

    A GetCallerIdentity request signed (SigV4, botocore) with the caller's credentials but not
    sent: Vault replays it to STS and learns who signed it. The optional server-ID header is
    signed too, so the request cannot be replayed against another Vault.
    """
    if sts_region:
        url, region = f"https://sts.{sts_region}.amazonaws.com/", sts_region
    else:
        url, region = "https://sts.amazonaws.com/", "us-east-1"
    headers = {
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        "Host": urlsplit(url).netloc,
    }
    if header_value:
        headers[IAM_SERVER_ID_HEADER] = header_value
    request = AWSRequest(method="POST", url=url, data=STS_BODY, headers=headers)
    SigV4Auth(credentials, "sts", region).add_auth(request)
    signed_headers = {name: [value] for name, value in request.headers.items()}
    payload = {
        "iam_http_request_method": "POST",
        "iam_request_url": _b64(url),
        "iam_request_body": _b64(STS_BODY),
        "iam_request_headers": _b64(json.dumps(signed_headers)),
    }
    if role:
        payload["role"] = role
    return payload


class VaultAdapter:
    """Logs in lazily, reuses the token until its TTL runs low, and maps every failure.

    Keep one instance per settings across warm invocations (the credential cache does) so the
    token is reused instead of logging in on every run.
    """

    def __init__(
        self,
        settings: VaultSettings,
        *,
        client_factory: Callable[[], hvac.Client] | None = None,
        aws_credentials: AwsCredentialsSource = lambda_aws_credentials,
        clock: Clock = utc_now,
        token_margin: timedelta = timedelta(minutes=15),
        sts_region: str | None = None,
    ) -> None:
        self._settings = settings
        self._client_factory = client_factory or (lambda: build_hvac_client(settings))
        self._aws_credentials = aws_credentials
        self._clock = clock
        self._token_margin = token_margin
        self._sts_region = sts_region
        self._client: hvac.Client | None = None
        self._token_refresh_at: datetime | None = None
        self._token_expires_at: datetime | None = None
        self._logged_in = False

    @property
    def token_expires_at(self) -> datetime | None:
        """Expiry of the current login token; None before login or for a non-expiring token."""
        return self._token_expires_at

    def read_kv(self, path: str) -> KvSecret:
        mount = self._settings.kv_mount
        relative = path.strip("/")
        where = f"{mount}/{relative}"
        response = self._authenticated(
            f"read of {where}",
            lambda client: client.secrets.kv.v2.read_secret_version(
                path=relative, mount_point=mount, raise_on_deleted_version=True
            ),
        )
        body = _mapping(_mapping(response, "data", where), "data", where)
        metadata = _mapping(response, "data", where).get("metadata")
        version = metadata.get("version") if isinstance(metadata, Mapping) else None
        return KvSecret(where=where, data=dict(body), version=version if isinstance(version, int) else None)

    def database_credentials(self, role: str) -> DatabaseLease:
        mount = self._settings.db_mount
        where = f"{mount}/creds/{role}"
        issued = self._clock()
        response = self._authenticated(
            f"read of {where}",
            lambda client: client.secrets.database.generate_credentials(name=role, mount_point=mount),
        )
        data = KvSecret(where=where, data=_mapping(response, "data", where))
        duration = response.get("lease_duration")
        if not isinstance(duration, int) or duration <= 0:
            raise CredentialsError(f"Vault {where} returned no lease_duration")
        expires_at = issued + timedelta(seconds=duration)
        if self._token_expires_at is not None:
            expires_at = min(expires_at, self._token_expires_at)
        return DatabaseLease(
            where=where,
            username=data.text("username"),
            password=data.text("password"),
            lease_id=str(response.get("lease_id") or ""),
            lease_duration=timedelta(seconds=duration),
            expires_at=expires_at,
            renewable=bool(response.get("renewable")),
        )

    def login(self) -> None:
        """Log in now (the readers log in lazily); replaces any cached token."""
        self._logged_in = False
        self._session()

    # -- token lifecycle -------------------------------------------------------------------

    def _authenticated(self, action: str, operation: Callable[[hvac.Client], T]) -> T:
        client, reused = self._session()
        try:
            return operation(client)
        except SyncError:
            raise
        except hvac.exceptions.Forbidden as exc:
            # A reused login token may have been revoked early: log in once more, then give up.
            if not reused or self._settings.auth_method is VaultAuthMethod.TOKEN:
                raise self._mapped(exc, action) from exc
            logger.info("vault token rejected; logging in again", extra={"vault_action": action})
        except Exception as exc:
            raise self._mapped(exc, action) from exc
        self._logged_in = False
        client, _ = self._session()
        return self._guarded(action, lambda: operation(client))

    def _session(self) -> tuple[hvac.Client, bool]:
        now = self._clock()
        if (
            self._client is not None
            and self._logged_in
            and (self._token_refresh_at is None or now < self._token_refresh_at)
        ):
            return self._client, True
        if self._client is None:
            self._client = self._client_factory()
        self._login(self._client, now)
        return self._client, False

    def _login(self, client: hvac.Client, now: datetime) -> None:
        method = self._settings.auth_method
        if method is VaultAuthMethod.TOKEN:
            if self._settings.token is None:
                raise CredentialsError("VAULT_AUTH_METHOD=token needs VAULT_TOKEN")
            client.token = self._settings.token.get_secret_value()
            self._token_refresh_at = self._token_expires_at = None
            self._logged_in = True
            return
        if method is VaultAuthMethod.APPROLE:
            response = self._guarded(f"AppRole login at auth/{APPROLE_MOUNT}", lambda: self._approle(client))
        else:
            mount = self._settings.aws_auth_mount
            response = self._guarded(f"AWS IAM login at auth/{mount}", lambda: self._aws(client, mount))
        auth = response.get("auth") if isinstance(response, Mapping) else None
        if not isinstance(auth, Mapping) or not auth.get("client_token"):
            raise CredentialsError(f"Vault {method} login returned no auth.client_token")
        ttl = auth.get("lease_duration")
        if isinstance(ttl, int) and ttl > 0:
            self._token_expires_at = now + timedelta(seconds=ttl)
            margin = min(self._token_margin, timedelta(seconds=ttl / 4))
            self._token_refresh_at = self._token_expires_at - margin
        else:
            self._token_refresh_at = self._token_expires_at = None
        self._logged_in = True
        logger.info(
            "vault login",
            extra={
                "vault_auth_method": str(method),
                "vault_role": self._settings.role,
                "vault_token_expires_at": iso(self._token_expires_at) if self._token_expires_at else None,
            },
        )

    def _approle(self, client: hvac.Client) -> Any:
        if not self._settings.role or self._settings.approle_secret_id is None:
            raise CredentialsError("VAULT_AUTH_METHOD=approle needs VAULT_ROLE (role_id) and VAULT_SECRET_ID")
        return client.auth.approle.login(
            role_id=self._settings.role,
            secret_id=self._settings.approle_secret_id.get_secret_value(),
            use_token=True,
            mount_point=APPROLE_MOUNT,
        )

    def _aws(self, client: hvac.Client, mount: str) -> Any:
        credentials = self._aws_credentials()
        if credentials is None or not credentials.access_key or not credentials.secret_key:
            raise CredentialsError("VAULT_AUTH_METHOD=aws: no AWS credentials to sign the Vault IAM login")
        payload = iam_login_payload(
            credentials,
            role=self._settings.role,
            header_value=self._settings.aws_header_value,
            sts_region=self._sts_region,
        )
        return client.login(f"/v1/auth/{mount}/login", use_token=True, json=payload)

    # -- error mapping ---------------------------------------------------------------------

    def _guarded(self, action: str, operation: Callable[[], T]) -> T:
        try:
            return operation()
        except SyncError:
            raise
        except Exception as exc:
            raise self._mapped(exc, action) from exc

    def _mapped(self, exc: Exception, action: str) -> Exception:
        """The typed error for ``exc``; anything unrecognised is returned as is (a bug, not Vault)."""
        settings = self._settings
        mapped = map_vault_error(exc, action, addr=settings.addr, timeout=settings.timeout_seconds)
        if mapped is None or mapped is exc:
            return exc
        return type(mapped)(self._redact(str(mapped)))

    def _redact(self, text: str) -> str:
        for secret in (self._settings.token, self._settings.approle_secret_id):
            if secret is not None and secret.get_secret_value():
                text = text.replace(secret.get_secret_value(), "***")
        return text


def map_vault_error(exc: BaseException, action: str, *, addr: str, timeout: float) -> SyncError | None:
    """Sort an hvac/requests failure into unreachable (transient) or credentials (terminal);
    None for anything else (a bug in the caller, not a Vault answer)."""
    if isinstance(exc, SyncError):
        return exc
    if isinstance(exc, requests.exceptions.RequestException):
        return _map_transport(exc, action, addr=addr, timeout=timeout)
    if isinstance(exc, hvac.exceptions.VaultError):
        return _map_status(exc, action)
    return None


def _map_transport(
    exc: requests.exceptions.RequestException, action: str, *, addr: str, timeout: float
) -> SyncError:
    if isinstance(exc, requests.exceptions.Timeout):
        return VaultUnreachableError(f"Vault {action} timed out after {timeout:g}s ({addr})")
    if isinstance(exc, requests.exceptions.ConnectionError):
        return VaultUnreachableError(f"Vault {action}: cannot connect to {addr} ({type(exc).__name__})")
    if isinstance(exc, requests.exceptions.JSONDecodeError):
        return VaultUnreachableError(f"Vault {action}: {addr} answered with a non-JSON body (a proxy?)")
    return CredentialsError(f"Vault {action}: request to {addr} is invalid ({type(exc).__name__})")


def _map_status(exc: hvac.exceptions.VaultError, action: str) -> SyncError:
    status = getattr(exc, "status_code", None) or _STATUS_OF_ERROR.get(type(exc))
    reason = _vault_reason(exc)
    if status is not None and (status >= 500 or status in _UNAVAILABLE_STATUSES):
        hint = " (Vault is sealed or in standby)" if status == 503 else ""
        return VaultUnreachableError(f"Vault {action}: HTTP {status}{hint}: {reason}")
    if status == 403:
        return CredentialsError(f"Vault {action} denied (HTTP 403: {reason}); check the role's policy")
    if status == 404:
        return CredentialsError(f"Vault {action}: not found (HTTP 404)")
    return CredentialsError(f"Vault {action} rejected (HTTP {status or 'unknown'}: {reason})")


class _StatusAdapter(hvac.adapters.JSONAdapter):  # type: ignore[misc]
    """hvac's JSON adapter, plus the HTTP status on the raised error (hvac folds 504 and others
    into UnexpectedError, and 504 must count as unreachable)."""

    def _raise_for_error(self, method: str, url: str, response: requests.Response) -> None:
        try:
            super()._raise_for_error(method, url, response)
        except hvac.exceptions.VaultError as exc:
            exc.status_code = response.status_code
            raise


def _vault_reason(exc: hvac.exceptions.VaultError) -> str:
    errors = exc.errors if isinstance(exc.errors, list) else [exc.errors] if exc.errors else []
    text = "; ".join(str(e) for e in errors if e) or type(exc).__name__
    return text[:300]


def _mapping(container: Any, key: str, where: str) -> Mapping[str, Any]:
    value = container.get(key) if isinstance(container, Mapping) else None
    if not isinstance(value, Mapping):
        raise CredentialsError(f"Vault {where}: response has no {key!r} object")
    return value


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")
