"""Opening Aurora and Snowflake with the credentials the provider resolves, the same way for both
Lambdas; the session names carry the component and run id so a DBA can tell whose session it is."""

from __future__ import annotations

import ssl
from collections.abc import Callable

from aurora_sync.adapters.postgres import Aurora, Endpoint
from aurora_sync.adapters.postgres_transport import tls_context
from aurora_sync.adapters.snowflake import Snowflake
from aurora_sync.adapters.ssm import ParameterStore
from aurora_sync.credentials import CredentialProvider
from aurora_sync.errors import ConfigError
from aurora_sync.settings import DatabaseSettings, ServiceSettings

# Left of the Lambda's time when a statement is cancelled: enough to record the failure, publish the
# alert and return the re-run payload before Lambda itself stops the function.
STATEMENT_TIMEOUT_MARGIN_MS = 15_000


def aurora_tls(database: DatabaseSettings, parameters: ParameterStore) -> ssl.SSLContext | None:
    """The verifying TLS context from the CA bundle Terraform stores in Parameter Store (a bundle
    does not fit in Lambda's 4 KB of environment beside the other variables)."""
    if not database.ssl:
        return None
    name = database.ssl_ca_bundle_parameter
    assert name is not None  # DatabaseSettings requires it when DB_SSL is true
    pem = parameters.read_text(name)
    if pem is None:
        raise ConfigError(
            "DB_SSL_CA_BUNDLE_PARAMETER", name, "parameter does not exist; terraform apply writes it"
        )
    return tls_context(pem, f"DB_SSL_CA_BUNDLE_PARAMETER {name}")


def open_aurora(
    settings: ServiceSettings,
    credentials: CredentialProvider,
    component: str,
    run_id: str,
    *,
    parameters: ParameterStore,
    remaining_ms: Callable[[], int],
) -> Aurora:
    db = settings.database
    tls = aurora_tls(db, parameters)  # a bad bundle fails before credentials are fetched
    creds = credentials.database()
    endpoint = Endpoint(
        host=db.host,
        port=db.port,
        database=db.name,
        user=creds.user,
        password=creds.password,
        tls=tls,
        connect_timeout_s=db.connect_timeout_seconds,
        application_name=f"aurora-snowflake-sync {component} {run_id}"[:63],
    )
    return Aurora(endpoint, remaining_ms, STATEMENT_TIMEOUT_MARGIN_MS)


def open_snowflake(
    settings: ServiceSettings, credentials: CredentialProvider, component: str, run_id: str
) -> Snowflake:
    creds = credentials.snowflake()
    return Snowflake.from_settings(
        settings.snowflake,
        user=creds.user,
        password=creds.password,
        private_key_der=creds.private_key_der,
        query_tag=f"aurora-snowflake-sync:{component}:{run_id}",
    )
