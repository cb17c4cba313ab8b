"""What both Lambdas compose the same way for one invocation: run id, Parameter Store, the alert
router, credentials with their fallback alert, and the Aurora and Snowflake connections.

Each run module (exporter/run.py, reconciler/run.py) keeps only what differs: which tables it
loads, how it reads its event, and which service it runs. Session names carry the component and
run id so a DBA can tell whose session it is.
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Callable
from functools import cached_property

from aws_lambda_powertools.metrics import MetricUnit

from aurora_sync import aws
from aurora_sync.adapters.postgres import Aurora, Endpoint
from aurora_sync.adapters.postgres_transport import tls_context
from aurora_sync.adapters.s3 import ObjectStore
from aurora_sync.adapters.snowflake import Snowflake
from aurora_sync.adapters.ssm import ParameterStore
from aurora_sync.alert_routing import AlertRouter, alert_router
from aurora_sync.credentials import CredentialProvider, fallback_alert, settle_fallback_alert
from aurora_sync.errors import ConfigError
from aurora_sync.observability import logger, metrics
from aurora_sync.settings import DatabaseSettings, ServiceSettings

# Left of the Lambda's time when a statement is cancelled (Aurora's and Snowflake's alike): enough to
# record the failure, publish the alert and return the re-run payload before Lambda stops the function.
STATEMENT_TIMEOUT_MARGIN_MS = 15_000


class Runtime:
    """One invocation's shared parts. The alert router and credentials are built on first use, so an
    invocation that only validates its event (the exporter's `plan`) creates neither."""

    def __init__(self, settings: ServiceSettings, component: str, remaining_ms: Callable[[], int]) -> None:
        self.settings = settings
        self.component = component
        self.remaining_ms = remaining_ms
        self.run_id = str(uuid.uuid4())
        logger.set_correlation_id(self.run_id)
        self.parameters = ParameterStore(
            aws.client("ssm", settings.aws_region), settings.tables_parameter, settings.overrides_path
        )

    @cached_property
    def router(self) -> AlertRouter:
        return alert_router(self.settings)

    @cached_property
    def credentials(self) -> CredentialProvider:
        def on_fallback(kind: str, reason: str) -> None:
            metrics.add_metric(name="CredentialsFallback", unit=MetricUnit.Count, value=1)
            self.router.raise_alert(fallback_alert(kind, reason, self.run_id))

        return CredentialProvider(self.settings, on_fallback=on_fallback)

    def store(self) -> ObjectStore:
        return ObjectStore(aws.client("s3", self.settings.aws_region), self.settings.export_bucket)

    def open_aurora(self) -> Aurora:
        db = self.settings.database
        tls = aurora_tls(db, self.parameters)  # a bad bundle fails before credentials are fetched
        creds = self.credentials.database()
        endpoint = Endpoint(
            host=db.host,
            port=db.port,
            database=db.name,
            user=creds.user,
            password=creds.password,
            tls=tls,
            connect_timeout_s=db.connect_timeout_seconds,
            application_name=f"aurora-snowflake-sync {self.component} {self.run_id}"[:63],
        )
        return Aurora(endpoint, self.remaining_ms, STATEMENT_TIMEOUT_MARGIN_MS)

    def open_snowflake(self, bounded: bool = True) -> Snowflake:
        """`bounded`: each statement (and the session's STATEMENT_TIMEOUT_IN_SECONDS) gets the
        invocation's remaining time less the margin, as Aurora's do. The reconciler opens its
        session unbounded: it stops between tables STOP_BEFORE_TIMEOUT_MS before its timeout and
        reads the remaining time there; its statements keep the connector's `network_timeout`."""
        creds = self.credentials.snowflake()
        return Snowflake.from_settings(
            self.settings.snowflake,
            user=creds.user,
            password=creds.password,
            private_key_der=creds.private_key_der,
            query_tag=f"aurora-snowflake-sync:{self.component}:{self.run_id}",
            remaining_ms=self.remaining_ms if bounded else None,
            margin_ms=STATEMENT_TIMEOUT_MARGIN_MS,
        )

    def settle_fallback_alert(self) -> None:
        """Resolve the fallback alert once a run got every credential from Vault again."""
        settle_fallback_alert(self.router, self.credentials, self.run_id)


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
