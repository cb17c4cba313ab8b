"""Opening Aurora and Snowflake with the credentials the provider resolves, the same way for both
Lambdas; the session names carry the component and run id so a DBA can tell whose session it is."""

from __future__ import annotations

from aurora_sync.adapters.postgres import Aurora
from aurora_sync.adapters.snowflake import Snowflake
from aurora_sync.credentials import CredentialProvider
from aurora_sync.settings import ServiceSettings


def open_aurora(
    settings: ServiceSettings, credentials: CredentialProvider, component: str, run_id: str
) -> Aurora:
    db = settings.database
    creds = credentials.database()
    return Aurora(
        db.host,
        db.port,
        db.name,
        creds.user,
        creds.password,
        use_ssl=db.ssl,
        timeout_seconds=db.connect_timeout_seconds,
        application_name=f"aurora-snowflake-sync {component} {run_id}"[:63],
    )


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
