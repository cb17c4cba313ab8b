"""Vault's AWS IAM login, checked on the wire (OpenBao has no AWS auth method, DESIGN.md §7).

A loopback HTTP server plays Vault: it records the login request and then serves a KV read. The
tests decode the login body the way Vault does and re-compute the SigV4 signature with an
independent implementation of the algorithm (hashlib/hmac, not botocore), so a request that
STS would reject cannot pass.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.credentials import ReadOnlyCredentials

from aurora_sync.adapters.vault import VaultAdapter
from aurora_sync.errors import CredentialsError, VaultUnreachableError
from aurora_sync.settings import VaultSettings

ACCESS_KEY = "AKIDIAMLOGINTEST"
SECRET_KEY = "iam-login-secret-key-value"
SESSION_TOKEN = "iam-login-session-token-value"
CLIENT_TOKEN = "hvs.iam-issued-token"
KV_PASSWORD = "kv-Pa55-from-iam-login"
SERVER_ID = "vault.example.com"
ROLE = "aurora-sync-exporter"
MOUNT = "aws-lambda"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None


@dataclass
class FakeVault:
    """What the fake Vault answers and what it saw."""

    login_status: int = 200
    login_body: dict[str, Any] = field(
        default_factory=lambda: {
            "auth": {
                "client_token": CLIENT_TOKEN,
                "lease_duration": 3600,
                "renewable": True,
                "policies": ["x"],
            }
        }
    )
    requests: list[Recorded] = field(default_factory=list)
    addr: str = ""

    @property
    def logins(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith("/login")]


def _handler(vault: FakeVault) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test asserts on what was recorded."""

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self) -> Recorded:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            recorded = Recorded(self.command, self.path, dict(self.headers), json.loads(raw) if raw else None)
            vault.requests.append(recorded)
            return recorded

        def do_POST(self) -> None:
            recorded = self._record()
            if recorded.path == f"/v1/auth/{MOUNT}/login":
                self._reply(vault.login_status, vault.login_body)
            else:
                self._reply(404, {"errors": []})

        def do_GET(self) -> None:
            recorded = self._record()
            if recorded.headers.get("X-Vault-Token") != CLIENT_TOKEN:
                self._reply(403, {"errors": ["permission denied"]})
            elif recorded.path == "/v1/secret/data/aurora-sync/aurora":
                data = {"username": "sync", "password": KV_PASSWORD}
                self._reply(200, {"data": {"data": data, "metadata": {"version": 7}}})
            else:
                self._reply(404, {"errors": []})

    return Handler


@pytest.fixture
def fake_vault() -> Iterator[FakeVault]:
    vault = FakeVault()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(vault))
    vault.addr = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="fake-vault", daemon=True)
    thread.start()
    try:
        yield vault
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def aws_settings(addr: str, **env: str) -> VaultSettings:
    base = {
        "VAULT_ADDR": addr,
        "VAULT_AUTH_METHOD": "aws",
        "VAULT_ROLE": ROLE,
        "VAULT_AWS_AUTH_MOUNT": MOUNT,
        "VAULT_AWS_HEADER_VALUE": SERVER_ID,
        "VAULT_TIMEOUT_SECONDS": "5",
    }
    return VaultSettings.model_validate({**base, **env})


def static_credentials() -> ReadOnlyCredentials:
    return ReadOnlyCredentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)


def decode_login(body: dict[str, Any]) -> tuple[str, str, dict[str, str], str]:
    """Method, URL, headers (one value each) and body of the signed request, as Vault decodes them."""
    url = base64.b64decode(body["iam_request_url"]).decode()
    payload = base64.b64decode(body["iam_request_body"]).decode()
    raw_headers = json.loads(base64.b64decode(body["iam_request_headers"]))
    headers = {}
    for name, value in raw_headers.items():
        assert isinstance(value, list) and len(value) == 1, f"header {name} must be a one-item list"
        headers[name] = value[0]
    return body["iam_http_request_method"], url, headers, payload


def sigv4_signature(
    method: str, url: str, headers: dict[str, str], body: str, signed: list[str], *, secret_key: str
) -> str:
    """SigV4 from the published algorithm (independent of botocore)."""
    lookup = {name.lower(): value for name, value in headers.items()}
    parts = urlsplit(url)
    canonical_headers = "".join(f"{name}:{' '.join(lookup[name].split())}\n" for name in signed)
    canonical_request = "\n".join(
        [
            method,
            parts.path or "/",
            parts.query,
            canonical_headers,
            ";".join(signed),
            hashlib.sha256(body.encode()).hexdigest(),
        ]
    )
    amz_date = lookup["x-amz-date"]
    credential = re.search(r"Credential=([^,]+)", lookup["authorization"])
    assert credential is not None
    _, date, region, service, terminal = credential.group(1).split("/")
    scope = f"{date}/{region}/{service}/{terminal}"
    string_to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = ("AWS4" + secret_key).encode()
    for step in (date, region, service, terminal):
        key = hmac.new(key, step.encode(), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def authorization_parts(authorization: str) -> tuple[str, list[str], str]:
    match = re.fullmatch(
        r"AWS4-HMAC-SHA256 Credential=(\S+), SignedHeaders=(\S+), Signature=([0-9a-f]{64})", authorization
    )
    assert match is not None, authorization
    return match.group(1), match.group(2).split(";"), match.group(3)


def test_iam_login_sends_a_correctly_signed_get_caller_identity(fake_vault: FakeVault) -> None:
    # GIVEN the aws auth method with a role and the X-Vault-AWS-IAM-Server-ID header configured
    adapter = VaultAdapter(aws_settings(fake_vault.addr), aws_credentials=static_credentials)

    # WHEN a secret is read (the adapter logs in first)
    before = datetime.now(UTC)
    secret = adapter.read_kv("aurora-sync/aurora")

    # THEN exactly one login went to auth/<mount>/login with the role
    assert len(fake_vault.logins) == 1
    login = fake_vault.logins[0]
    assert login.method == "POST"
    assert login.body is not None
    assert login.body["role"] == ROLE
    assert set(login.body) == {
        "role",
        "iam_http_request_method",
        "iam_request_url",
        "iam_request_body",
        "iam_request_headers",
    }

    # AND the fields decode to an STS GetCallerIdentity request
    method, url, headers, body = decode_login(login.body)
    assert (method, url, body) == (
        "POST",
        "https://sts.amazonaws.com/",
        "Action=GetCallerIdentity&Version=2011-06-15",
    )
    assert headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert headers["X-Vault-AWS-IAM-Server-ID"] == SERVER_ID
    assert headers["X-Amz-Security-Token"] == SESSION_TOKEN

    # AND it is signed with SigV4 for sts in us-east-1 by these credentials, over every header Vault
    # must check (host, date, session token, server id), with a signature that verifies
    credential, signed, signature = authorization_parts(headers["Authorization"])
    amz_date = datetime.strptime(headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert credential == f"{ACCESS_KEY}/{amz_date:%Y%m%d}/us-east-1/sts/aws4_request"
    assert {"host", "x-amz-date", "x-amz-security-token", "x-vault-aws-iam-server-id"} <= set(signed)
    assert signed == sorted(signed)
    assert all(any(h.lower() == name for h in headers) for name in signed), "every signed header is sent"
    assert signature == sigv4_signature(method, url, headers, body, signed, secret_key=SECRET_KEY)
    assert before - timedelta(minutes=1) <= amz_date <= datetime.now(UTC) + timedelta(minutes=1)

    # AND a tampered request would not verify (the check above has teeth)
    assert signature != sigv4_signature(method, url, headers, body + "&x=1", signed, secret_key=SECRET_KEY)
    assert signature != sigv4_signature(method, url, headers, body, signed, secret_key=SECRET_KEY + "x")

    # AND the returned client token is what the KV read used
    reads = [r for r in fake_vault.requests if r.method == "GET"]
    assert [r.headers.get("X-Vault-Token") for r in reads] == [CLIENT_TOKEN]
    assert secret.text("password") == KV_PASSWORD
    assert secret.version == 7


def test_token_from_iam_login_is_reused_for_later_reads(fake_vault: FakeVault) -> None:
    # GIVEN a logged-in adapter (one-hour token)
    adapter = VaultAdapter(aws_settings(fake_vault.addr), aws_credentials=static_credentials)
    adapter.read_kv("aurora-sync/aurora")

    # WHEN more secrets are read within the token's life
    adapter.read_kv("aurora-sync/aurora")
    adapter.read_kv("aurora-sync/aurora")

    # THEN no new login happened and every read carried the issued token
    assert len(fake_vault.logins) == 1
    assert {r.headers.get("X-Vault-Token") for r in fake_vault.requests if r.method == "GET"} == {
        CLIENT_TOKEN
    }


def test_without_server_id_the_header_is_neither_sent_nor_signed(fake_vault: FakeVault) -> None:
    # GIVEN no VAULT_AWS_HEADER_VALUE and no role (Vault then uses the principal's name)
    settings = aws_settings(fake_vault.addr, VAULT_AWS_HEADER_VALUE="", VAULT_ROLE="")
    adapter = VaultAdapter(settings, aws_credentials=static_credentials)

    # WHEN the adapter logs in
    adapter.login()

    # THEN the signed request has no server-id header and the body no role, and it still verifies
    body = fake_vault.logins[0].body
    assert body is not None and "role" not in body
    method, url, headers, payload = decode_login(body)
    assert "X-Vault-AWS-IAM-Server-ID" not in headers
    _, signed, signature = authorization_parts(headers["Authorization"])
    assert "x-vault-aws-iam-server-id" not in signed
    assert signature == sigv4_signature(method, url, headers, payload, signed, secret_key=SECRET_KEY)


def test_login_signs_with_the_lambda_execution_role_credentials(
    fake_vault: FakeVault, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the credentials Lambda puts in the environment for the execution role
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ASIALAMBDAROLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "lambda-role-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "lambda-role-session")

    # WHEN the adapter logs in with its default credential source
    VaultAdapter(aws_settings(fake_vault.addr)).login()

    # THEN the request is signed by those credentials, session token included
    body = fake_vault.logins[0].body
    assert body is not None
    method, url, headers, payload = decode_login(body)
    credential, signed, signature = authorization_parts(headers["Authorization"])
    assert credential.startswith("ASIALAMBDAROLE/")
    assert headers["X-Amz-Security-Token"] == "lambda-role-session"
    assert signature == sigv4_signature(
        method, url, headers, payload, signed, secret_key="lambda-role-secret"
    )


def test_regional_sts_endpoint_is_signed_for_its_region(fake_vault: FakeVault) -> None:
    # GIVEN a Vault configured with a regional STS endpoint
    adapter = VaultAdapter(
        aws_settings(fake_vault.addr), aws_credentials=static_credentials, sts_region="eu-west-1"
    )

    # WHEN the adapter logs in THEN URL, Host and credential scope all name that region
    adapter.login()
    body = fake_vault.logins[0].body
    assert body is not None
    method, url, headers, payload = decode_login(body)
    assert url == "https://sts.eu-west-1.amazonaws.com/"
    assert headers["Host"] == "sts.eu-west-1.amazonaws.com"
    credential, signed, signature = authorization_parts(headers["Authorization"])
    assert credential.endswith("/eu-west-1/sts/aws4_request")
    assert signature == sigv4_signature(method, url, headers, payload, signed, secret_key=SECRET_KEY)


@pytest.mark.parametrize(
    ("status", "errors", "expected"),
    [
        (400, ["IAM Principal does not belong to the role"], CredentialsError),
        (403, ["permission denied"], CredentialsError),
        (503, ["Vault is sealed"], VaultUnreachableError),
        (500, ["internal error"], VaultUnreachableError),
        (504, ["gateway timeout"], VaultUnreachableError),
    ],
)
def test_login_failures_are_typed(
    fake_vault: FakeVault, status: int, errors: list[str], expected: type[Exception]
) -> None:
    # GIVEN Vault answers the IAM login with an error status
    fake_vault.login_status = status
    fake_vault.login_body = {"errors": errors}
    adapter = VaultAdapter(aws_settings(fake_vault.addr), aws_credentials=static_credentials)

    # WHEN a secret is read THEN the error is typed by status, and carries no credential
    with pytest.raises(expected) as caught:
        adapter.read_kv("aurora-sync/aurora")
    message = str(caught.value)
    assert f"HTTP {status}" in message
    assert f"auth/{MOUNT}" in message
    for secret in (SECRET_KEY, SESSION_TOKEN):
        assert secret not in message
    # AND no read was attempted without a token
    assert [r.method for r in fake_vault.requests] == ["POST"]


def test_missing_aws_credentials_are_a_credentials_error(fake_vault: FakeVault) -> None:
    # GIVEN no AWS credentials at all WHEN logging in THEN a terminal error says so, nothing is sent
    adapter = VaultAdapter(aws_settings(fake_vault.addr), aws_credentials=lambda: None)
    with pytest.raises(CredentialsError, match="no AWS credentials"):
        adapter.login()
    assert fake_vault.requests == []
