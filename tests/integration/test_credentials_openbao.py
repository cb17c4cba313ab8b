"""Credentials against the real local stack: OpenBao (token and AppRole auth, KV v2, the database
secrets engine creating real PostgreSQL users), moto's KMS for the fallback, and Vault failures
made for real (closed port, a silent server, a sealed server, a 403 policy)."""

from __future__ import annotations

import base64
import logging
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import hvac
import pytest

from aurora_sync import aws
from aurora_sync.credentials import CredentialCache, CredentialProvider, CredentialSource
from aurora_sync.errors import CredentialsError
from aurora_sync.observability import SERVICE
from aurora_sync.settings import ExporterSettings, load_exporter_settings
from tests.support.logs import rendered_logs
from tests.support.stack import MotoServer, OpenBaoServer, PostgresServer

FUNCTION = "aurora-sync-exporter-it"
KV_PASSWORD = "kv-Pa55-openbao-heron"
SF_PASSWORD = "sf-Pa55-openbao-otter"
FALLBACK_PASSWORD = "kms-Pa55-openbao-walrus"

BASE_ENV = {
    "EXPORT_BUCKET": "exports",
    "EXPORT_LEASE_TABLE": "export-lease",
    "ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts",
    "RUNBOOK_URL": "https://git.example/aurora-snowflake-sync/blob/main/docs/runbook.md",
    "DB_HOST": "127.0.0.1",
    "DB_NAME": "app",
    "DB_SSL_CA_BUNDLE_PARAMETER": "/aurora-snowflake-sync/db-ca-bundle",
    "SNOWFLAKE_ACCOUNT": "acme-xy12345",
    "SNOWFLAKE_DATABASE": "ANALYTICS",
    "VAULT_TIMEOUT_SECONDS": "2",
    "AWS_REGION": "us-east-1",
}


@dataclass
class Recorder:
    fallbacks: list[tuple[str, str]] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)

    def on_fallback(self, kind: str, reason: str) -> None:
        self.fallbacks.append((kind, reason))


def provider(settings: ExporterSettings, recorder: Recorder, **options: Any) -> CredentialProvider:
    """A provider with its own cache, so tests never see each other's cached credentials."""
    return CredentialProvider(settings, on_fallback=recorder.on_fallback, cache=CredentialCache(), **options)


def no_kms() -> Any:
    raise AssertionError("the KMS fallback must not be touched")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def recorder(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str], bao: OpenBaoServer
) -> Iterator[Recorder]:
    """Records fallbacks; at teardown, no secret of the test may appear in any log line or output."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger=SERVICE)
    rec = Recorder(secrets={KV_PASSWORD, SF_PASSWORD, FALLBACK_PASSWORD, bao.root_token})
    yield rec
    everything = rendered_logs(caplog, capsys)
    leaked = sorted(s for s in rec.secrets if s and s in everything)
    assert not leaked, f"{len(leaked)} secret value(s) appeared in logs/output"


@pytest.fixture
def kv_paths(bao: OpenBaoServer) -> dict[str, str]:
    """Fresh Aurora and Snowflake secrets under a unique prefix."""
    prefix = f"it-{uuid.uuid4().hex[:8]}"
    root = bao.client()
    root.secrets.kv.v2.create_or_update_secret(
        path=f"{prefix}/aurora", secret={"username": "sync", "password": KV_PASSWORD}
    )
    root.secrets.kv.v2.create_or_update_secret(
        path=f"{prefix}/snowflake", secret={"user": "SYNC", "password": SF_PASSWORD}
    )
    return {
        "VAULT_SECRET_PATH": f"{prefix}/aurora",
        "VAULT_SNOWFLAKE_SECRET_PATH": f"{prefix}/snowflake",
    }


def approle(client: hvac.Client, policy: str, rules: str) -> tuple[str, str]:
    """An AppRole (role_id, secret_id) whose tokens carry ``policy``."""
    if "approle/" not in client.sys.list_auth_methods()["data"]:
        try:
            client.sys.enable_auth_method("approle")
        except hvac.exceptions.InvalidRequest as exc:  # another module enabled it meanwhile
            if "path is already in use" not in str(exc):
                raise
    client.sys.create_or_update_policy(name=policy, policy=rules)
    client.auth.approle.create_or_update_approle(policy, token_policies=[policy], token_ttl="1h")
    role_id = client.auth.approle.read_role_id(policy)["data"]["role_id"]
    secret_id = client.auth.approle.generate_secret_id(policy)["data"]["secret_id"]
    return role_id, secret_id


@pytest.fixture
def kms_fallback(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """DB_* fallback variables encrypted by moto's KMS the way the Lambda console does it."""
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", FUNCTION)
    kms = moto.client("kms")
    key_id = kms.create_key(Description="aurora-sync fallback")["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(
        KeyId=key_id,
        Plaintext=FALLBACK_PASSWORD.encode(),
        EncryptionContext={"LambdaFunctionName": FUNCTION},
    )["CiphertextBlob"]
    return {"DB_USER": "sync_fallback", "DB_PASSWORD_ENCRYPTED": base64.b64encode(blob).decode()}


def moto_kms(moto: MotoServer) -> Callable[[], Any]:
    return lambda: moto.client("kms")


# -- Vault answers --------------------------------------------------------------------------------


def test_token_auth_reads_kv_v2(bao: OpenBaoServer, kv_paths: dict[str, str], recorder: Recorder) -> None:
    # GIVEN token auth and KV v2 secrets for Aurora and Snowflake
    env = {**BASE_ENV, **kv_paths, "VAULT_ADDR": bao.addr, "VAULT_AUTH_METHOD": "token"}
    env["VAULT_TOKEN"] = bao.root_token
    creds = provider(load_exporter_settings(env), recorder, kms_client_factory=no_kms)

    # WHEN both credentials are requested
    db = creds.database()
    sf = creds.snowflake()

    # THEN they are the stored values, from the KV engine, with no fallback
    assert (db.user, db.password, db.source) == ("sync", KV_PASSWORD, CredentialSource.VAULT_KV)
    assert (sf.user, sf.password, sf.private_key_der) == ("SYNC", SF_PASSWORD, None)
    assert recorder.fallbacks == []


def test_approle_auth_reads_kv_v2_with_a_scoped_policy(
    bao: OpenBaoServer, kv_paths: dict[str, str], recorder: Recorder
) -> None:
    # GIVEN an AppRole whose policy allows exactly the Aurora secret
    path = kv_paths["VAULT_SECRET_PATH"]
    role_id, secret_id = approle(
        bao.client(), f"kv-{uuid.uuid4().hex[:8]}", f'path "secret/data/{path}" {{ capabilities = ["read"] }}'
    )
    recorder.secrets.add(secret_id)
    env = {**BASE_ENV, **kv_paths, "VAULT_ADDR": bao.addr, "VAULT_AUTH_METHOD": "approle"}
    env |= {"VAULT_ROLE": role_id, "VAULT_SECRET_ID": secret_id}

    # WHEN the Aurora credentials are requested
    db = provider(load_exporter_settings(env), recorder, kms_client_factory=no_kms).database()

    # THEN the AppRole login worked and the KV secret was read
    assert (db.user, db.password, db.source) == ("sync", KV_PASSWORD, CredentialSource.VAULT_KV)


def test_database_engine_issues_a_working_short_lived_postgres_user(
    bao: OpenBaoServer, pg_server: PostgresServer, recorder: Recorder
) -> None:
    # GIVEN a database with a table, and the database secrets engine configured against it as
    # superuser, with a role that CREATEs a login user valid for five minutes
    dbname = pg_server.create_database(f"creds_{uuid.uuid4().hex[:8]}")
    owner = pg_server.connect(dbname=dbname)
    try:
        owner.run("CREATE TABLE orders (id int PRIMARY KEY)")
        owner.run("INSERT INTO orders VALUES (1), (2)")
    finally:
        owner.close()
    root = bao.client()
    mount = f"database-{uuid.uuid4().hex[:8]}"
    root.sys.enable_secrets_engine("database", path=mount)
    root.secrets.database.configure(
        name="aurora",
        plugin_name="postgresql-database-plugin",
        connection_url=f"postgresql://{{{{username}}}}:{{{{password}}}}@{pg_server.host}:{pg_server.port}/{dbname}?sslmode=require",
        username=pg_server.user,
        password=pg_server.password,
        allowed_roles=["exporter"],
        mount_point=mount,
    )
    root.secrets.database.create_role(
        name="exporter",
        db_name="aurora",
        creation_statements=[
            "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';",
            'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{{name}}";',
        ],
        default_ttl="5m",
        max_ttl="10m",
        mount_point=mount,
    )
    # AND an AppRole allowed to read exactly that role's credentials
    role_id, secret_id = approle(
        root, f"db-{uuid.uuid4().hex[:8]}", f'path "{mount}/creds/exporter" {{ capabilities = ["read"] }}'
    )
    recorder.secrets |= {secret_id, pg_server.password}
    env = {**BASE_ENV, "VAULT_ADDR": bao.addr, "VAULT_AUTH_METHOD": "approle", "VAULT_ROLE": role_id}
    env |= {"VAULT_SECRET_ID": secret_id, "VAULT_DB_MOUNT": mount, "VAULT_DB_ROLE": "exporter"}

    # WHEN the exporter asks for Aurora credentials (with a margin shorter than the lease)
    before = datetime.now(UTC)
    creds = provider(
        load_exporter_settings(env), recorder, kms_client_factory=no_kms, expiry_margin=timedelta(minutes=1)
    )
    db = creds.database()
    recorder.secrets.add(db.password)

    # THEN a new user was issued by the engine, expiring with its five-minute lease
    assert db.source is CredentialSource.VAULT_DATABASE
    assert db.user.startswith("v-")
    assert db.expires_at is not None
    assert before + timedelta(minutes=4) < db.expires_at <= datetime.now(UTC) + timedelta(minutes=5)

    # AND PostgreSQL accepts that user with that password and its grants work
    con = pg_server.connect(dbname=dbname, user=db.user, password=db.password)
    try:
        assert con.run("SELECT current_user, count(*) FROM orders") == [[db.user, 2]]
    finally:
        con.close()

    # AND a second call inside the lease reuses the same user instead of creating another one
    assert creds.database() is db


# -- Vault does not answer: fallback --------------------------------------------------------------


def test_closed_port_falls_back_to_kms(
    moto: MotoServer, kms_fallback: dict[str, str], kv_paths: dict[str, str], recorder: Recorder
) -> None:
    # GIVEN Vault's address has nothing listening, and the fallback is encrypted with KMS
    env = {**BASE_ENV, **kv_paths, **kms_fallback, "VAULT_AUTH_METHOD": "token", "VAULT_TOKEN": "hvs.unused"}
    env["VAULT_ADDR"] = f"http://127.0.0.1:{closed_port()}"

    # WHEN the Aurora credentials are requested
    db = provider(load_exporter_settings(env), recorder, kms_client_factory=moto_kms(moto)).database()

    # THEN the KMS-decrypted fallback is used and the fallback is reported with its cause
    assert (db.user, db.password, db.source) == (
        "sync_fallback",
        FALLBACK_PASSWORD,
        CredentialSource.KMS_FALLBACK,
    )
    assert len(recorder.fallbacks) == 1
    kind, reason = recorder.fallbacks[0]
    assert kind == "database"
    assert "cannot connect" in reason


@pytest.fixture
def fresh_aws_clients() -> Iterator[None]:
    """A "cold start": aws.client caches clients (and their endpoint) for the process."""
    aws.client.cache_clear()
    yield
    aws.client.cache_clear()


@pytest.mark.usefixtures("fresh_aws_clients")
def test_the_default_kms_client_comes_from_aws_client_and_reaches_kms_through_aws_endpoint_url(
    moto: MotoServer,
    kms_fallback: dict[str, str],
    kv_paths: dict[str, str],
    recorder: Recorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN Vault is unreachable and boto3 is pointed at moto only by AWS_ENDPOINT_URL
    for name, value in moto.env.items():
        monkeypatch.setenv(name, value)
    env = {**BASE_ENV, **kv_paths, **kms_fallback, "VAULT_AUTH_METHOD": "token", "VAULT_TOKEN": "hvs.unused"}
    env["VAULT_ADDR"] = f"http://127.0.0.1:{closed_port()}"

    # WHEN the provider uses its default KMS client (aws.client, region from the settings)
    settings = load_exporter_settings(env)
    db = provider(settings, recorder).database()

    # THEN the fallback decrypts with no code change, through the one cached client of that region
    assert db.password == FALLBACK_PASSWORD
    assert aws.client.cache_info().currsize == 1
    assert aws.client("kms", settings.aws_region).meta.region_name == settings.aws_region


def test_a_silent_vault_times_out_and_falls_back(
    moto: MotoServer, kms_fallback: dict[str, str], kv_paths: dict[str, str], recorder: Recorder
) -> None:
    # GIVEN a "Vault" that accepts connections but never answers, and a 0.5 s timeout
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        env = {**BASE_ENV, **kv_paths, **kms_fallback, "VAULT_AUTH_METHOD": "token", "VAULT_TOKEN": "hvs.x"}
        env |= {"VAULT_ADDR": f"http://127.0.0.1:{silent.getsockname()[1]}", "VAULT_TIMEOUT_SECONDS": "0.5"}

        # WHEN the Aurora credentials are requested
        started = datetime.now(UTC)
        db = provider(load_exporter_settings(env), recorder, kms_client_factory=moto_kms(moto)).database()

    # THEN the timeout (not the Lambda's) ended the wait, and the fallback was used and reported
    assert datetime.now(UTC) - started < timedelta(seconds=5)
    assert db.source is CredentialSource.KMS_FALLBACK
    assert "timed out after 0.5s" in recorder.fallbacks[0][1]


@pytest.fixture(scope="module")
def sealed_bao() -> Iterator[tuple[OpenBaoServer, str, str]]:
    """A separate OpenBao (the shared one must stay unsealed) with an AppRole and a secret, sealed."""
    with OpenBaoServer() as server:
        root = server.client()
        root.secrets.kv.v2.create_or_update_secret(
            path="sealed/aurora", secret={"username": "sync", "password": KV_PASSWORD}
        )
        role_id, secret_id = approle(
            root, "sealed", 'path "secret/data/sealed/*" { capabilities = ["read"] }'
        )
        root.sys.seal()
        assert root.sys.read_seal_status()["sealed"] is True
        yield server, role_id, secret_id


@pytest.mark.parametrize("auth", ["token", "approle"])
def test_sealed_vault_falls_back(
    sealed_bao: tuple[OpenBaoServer, str, str],
    moto: MotoServer,
    kms_fallback: dict[str, str],
    recorder: Recorder,
    auth: str,
) -> None:
    # GIVEN the Vault is sealed (every request answers 503)
    server, role_id, secret_id = sealed_bao
    recorder.secrets |= {server.root_token, secret_id}
    env = {**BASE_ENV, **kms_fallback, "VAULT_ADDR": server.addr, "VAULT_SECRET_PATH": "sealed/aurora"}
    if auth == "token":
        env |= {"VAULT_AUTH_METHOD": "token", "VAULT_TOKEN": server.root_token}
    else:
        env |= {"VAULT_AUTH_METHOD": "approle", "VAULT_ROLE": role_id, "VAULT_SECRET_ID": secret_id}

    # WHEN the Aurora credentials are requested (token: the read fails; approle: the login fails)
    db = provider(load_exporter_settings(env), recorder, kms_client_factory=moto_kms(moto)).database()

    # THEN the fallback is used and the reason says the Vault is sealed
    assert db.source is CredentialSource.KMS_FALLBACK
    assert db.password == FALLBACK_PASSWORD
    kind, reason = recorder.fallbacks[0]
    assert kind == "database"
    assert "HTTP 503" in reason and "sealed" in reason


def test_fallback_encrypted_for_another_function_is_terminal(
    moto: MotoServer,
    kms_fallback: dict[str, str],
    kv_paths: dict[str, str],
    recorder: Recorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN Vault is unreachable and the ciphertext was copied from another function
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "some-other-function")
    env = {**BASE_ENV, **kv_paths, **kms_fallback, "VAULT_AUTH_METHOD": "token", "VAULT_TOKEN": "hvs.unused"}
    env["VAULT_ADDR"] = f"http://127.0.0.1:{closed_port()}"

    # WHEN the credentials are requested THEN KMS refuses (encryption context) and it is terminal
    with pytest.raises(CredentialsError, match=r"InvalidCiphertextException.*encryption context"):
        provider(load_exporter_settings(env), recorder, kms_client_factory=moto_kms(moto)).database()


# -- Vault says no: never a fallback --------------------------------------------------------------


def test_permission_denied_is_terminal_and_never_falls_back(
    bao: OpenBaoServer, kv_paths: dict[str, str], kms_fallback: dict[str, str], recorder: Recorder
) -> None:
    # GIVEN a token whose policy lacks the secret's path, and a configured fallback
    token = bao.client().auth.token.create(policies=["default"], ttl="10m")["auth"]["client_token"]
    recorder.secrets.add(token)
    env = {**BASE_ENV, **kv_paths, **kms_fallback, "VAULT_ADDR": bao.addr, "VAULT_AUTH_METHOD": "token"}
    env["VAULT_TOKEN"] = token

    # WHEN the Aurora credentials are requested
    with pytest.raises(CredentialsError) as caught:
        provider(load_exporter_settings(env), recorder, kms_client_factory=no_kms).database()

    # THEN the 403 is a terminal error naming the path, with no secret and no fallback
    message = str(caught.value)
    assert "403" in message and "permission denied" in message
    assert kv_paths["VAULT_SECRET_PATH"] in message
    assert token not in message
    assert recorder.fallbacks == []


def test_wrong_approle_secret_id_is_terminal(
    bao: OpenBaoServer, kv_paths: dict[str, str], kms_fallback: dict[str, str], recorder: Recorder
) -> None:
    # GIVEN a real AppRole but a wrong secret id
    role_id, _ = approle(
        bao.client(), f"kv-{uuid.uuid4().hex[:8]}", 'path "secret/data/x" { capabilities = ["read"] }'
    )
    wrong = str(uuid.uuid4())
    recorder.secrets.add(wrong)
    env = {**BASE_ENV, **kv_paths, **kms_fallback, "VAULT_ADDR": bao.addr, "VAULT_AUTH_METHOD": "approle"}
    env |= {"VAULT_ROLE": role_id, "VAULT_SECRET_ID": wrong}

    # WHEN the credentials are requested THEN the login rejection is terminal, with no fallback
    with pytest.raises(CredentialsError, match=r"AppRole login .* rejected \(HTTP 400") as caught:
        provider(load_exporter_settings(env), recorder, kms_client_factory=no_kms).database()
    assert wrong not in str(caught.value)
    assert recorder.fallbacks == []


def test_missing_secret_and_missing_field_name_the_path(
    bao: OpenBaoServer, kv_paths: dict[str, str], recorder: Recorder
) -> None:
    # GIVEN token auth, one path that does not exist and one secret without a password
    root = bao.client()
    broken = kv_paths["VAULT_SECRET_PATH"] + "-broken"
    root.secrets.kv.v2.create_or_update_secret(path=broken, secret={"username": "sync", "pass": KV_PASSWORD})
    base = {**BASE_ENV, **kv_paths, "VAULT_ADDR": bao.addr, "VAULT_AUTH_METHOD": "token"}
    base["VAULT_TOKEN"] = bao.root_token

    # WHEN each is read THEN the error names the path (404) or the path and field
    missing = {**base, "VAULT_SECRET_PATH": "no/such/secret"}
    with pytest.raises(CredentialsError, match=r"secret/no/such/secret: not found \(HTTP 404\)"):
        provider(load_exporter_settings(missing), recorder, kms_client_factory=no_kms).database()
    with pytest.raises(CredentialsError, match=rf"secret/{broken} has no field 'password'") as caught:
        provider(
            load_exporter_settings({**base, "VAULT_SECRET_PATH": broken}), recorder, kms_client_factory=no_kms
        ).database()
    assert KV_PASSWORD not in str(caught.value)
    assert recorder.fallbacks == []
