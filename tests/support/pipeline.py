"""Provision one isolated copy of the pipeline's surroundings on the local stack.

Each `Pipeline` gets its own Aurora database and export user, bucket, SSM parameter names, SNS
topic (with an SQS queue subscribed, so tests can read what was paged), Vault secrets and Snowflake
database, so tests never see each other's state and need no reset between them. A pipeline costs a
few seconds to set up, so the tests of a module that only read it, or whose input is refused before
any side effect (each asserting it left none), may share one module-scoped pipeline; a test that
changes its state gets its own.
"""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.support.snowpipe_runner import LocalLoadRunner

ROOT = Path(__file__).resolve().parents[2]
DEV_TABLES = json.loads((ROOT / "terraform/envs/dev/tables.json").read_text())

AURORA_DDL = """
CREATE TABLE public.orders (
    id bigint PRIMARY KEY,
    customer_id bigint,
    status text,
    amount numeric(12,2),
    is_deleted boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_updated_at ON public.orders (updated_at);
CREATE TABLE public.customers (
    id bigint PRIMARY KEY,
    email text,
    name text,
    updated_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
);
"""


@dataclass
class Pipeline:
    pg: Any
    moto: Any
    bao: Any
    snow: Any
    tables: list[dict[str, Any]] = field(default_factory=lambda: json.loads(json.dumps(DEV_TABLES)))
    export_mode: str = "copy_stream"
    name: str = field(default_factory=lambda: "t" + uuid.uuid4().hex[:10])

    def __post_init__(self) -> None:
        self.db_name = self.pg.create_database(self.name)
        self.db_user = f"exporter_{self.name}"
        self.db_password = secrets.token_urlsafe(16)
        self.bucket = f"exports-{self.name}"
        self.tables_parameter = f"/{self.name}/tables"
        self.ca_bundle_parameter = f"/{self.name}/db-ca-bundle"
        self.overrides_path = f"/{self.name}/overrides/"
        self.snowflake_database = self.name.upper()
        self.snowflake_password = secrets.token_urlsafe(16)
        self.s3 = self.moto.client("s3")
        self.ssm = self.moto.client("ssm")
        self.sns = self.moto.client("sns")
        self.sqs = self.moto.client("sqs")
        self.s3.create_bucket(Bucket=self.bucket)
        self.topic_arn = self.sns.create_topic(Name=f"alerts-{self.name}")["TopicArn"]
        # As deployed: chat gets every alert, the pager only P1/P2 (SNS filter policy on severity).
        self.alert_queue_url = self._subscribe_queue(f"chat-{self.name}", None)
        self.pager_queue_url = self._subscribe_queue(f"pager-{self.name}", {"severity": ["P1", "P2"]})
        self.alert_state_table = f"alert-state-{self.name}"
        self.moto.client("dynamodb").create_table(
            TableName=self.alert_state_table,
            KeySchema=[{"AttributeName": "dedup_key", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "dedup_key", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self.lease_table = f"export-lease-{self.name}"
        self.moto.client("dynamodb").create_table(
            TableName=self.lease_table,
            KeySchema=[{"AttributeName": "lease_key", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "lease_key", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self.put_tables()
        # As Terraform stores the RDS bundle: the CA that signed the local server's certificate.
        self.ssm.put_parameter(Name=self.ca_bundle_parameter, Value=self.pg.ca_pem, Type="String")
        self._setup_aurora()
        self._setup_vault()
        self._setup_snowflake()

    # -- setup -----------------------------------------------------------------------------------
    def _subscribe_queue(self, name: str, filter_policy: dict[str, list[str]] | None) -> str:
        queue_url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        attributes = {"RawMessageDelivery": "true"}
        if filter_policy is not None:
            attributes["FilterPolicy"] = json.dumps(filter_policy)
        self.sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes=attributes)
        return str(queue_url)

    def _setup_aurora(self) -> None:
        admin = self.admin()
        try:
            for statement in AURORA_DDL.split(";"):
                if statement.strip():
                    admin.run(statement)
            admin.run(f"CREATE ROLE {self.db_user} LOGIN PASSWORD '{self.db_password}'")
            admin.run(f"GRANT USAGE ON SCHEMA public TO {self.db_user}")
            admin.run(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {self.db_user}")
            admin.run(f"GRANT pg_read_all_stats TO {self.db_user}")
        finally:
            admin.close()

    def _setup_vault(self) -> None:
        client = self.bao.client()
        client.secrets.kv.v2.create_or_update_secret(
            path=f"{self.name}/aurora", secret={"username": self.db_user, "password": self.db_password}
        )
        client.secrets.kv.v2.create_or_update_secret(
            path=f"{self.name}/snowflake", secret={"user": "exporter", "password": self.snowflake_password}
        )

    def _setup_snowflake(self) -> None:
        self.loader().create_objects()

    def loader(self) -> LocalLoadRunner:
        """The local Snowpipe/task stand-in for the current table list; its state lives in fakesnow."""
        from aurora_sync.tables import parse_tables
        from tests.support.snowpipe_runner import LocalLoadRunner

        return LocalLoadRunner(
            connect=lambda: self.snow.connect(self.snowflake_database, "FINAL"),
            s3=self.s3,
            bucket=self.bucket,
            tables=list(parse_tables(json.dumps(self.tables), "pipeline").tables),
            database=self.snowflake_database,
        )

    def put_tables(self, entries: list[dict[str, Any]] | None = None) -> None:
        """Write the table list as Terraform does (aurora_sync.table_index): one parameter per table,
        then the index; a table's parameter no entry names any more is deleted, as an apply does."""
        from aurora_sync.table_index import render_parameters

        rendered = render_parameters(self.tables if entries is None else entries, self.tables_parameter)
        index = rendered.pop(self.tables_parameter)
        pages = self.ssm.get_paginator("get_parameters_by_path").paginate(Path=self.tables_parameter)
        stale = {p["Name"] for page in pages for p in page["Parameters"]} - set(rendered)
        for name, value in rendered.items():
            self.ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
        self.ssm.put_parameter(Name=self.tables_parameter, Value=index, Type="String", Overwrite=True)
        for name in sorted(stale):
            self.ssm.delete_parameter(Name=name)

    # -- handles ---------------------------------------------------------------------------------
    def admin(self) -> Any:
        return self.pg.connect(dbname=self.db_name)

    def aurora(self, *statements: str) -> list[Any]:
        """Runs `statements` in order on one admin connection (each its own transaction): the rows
        of the last."""
        admin = self.admin()
        try:
            rows: list[Any] = []
            for sql in statements:
                rows = list(admin.run(sql) or [])
            return rows
        finally:
            admin.close()

    def env(self, **overrides: str) -> dict[str, str]:
        env = {
            **self.moto.env,
            "AWS_LAMBDA_FUNCTION_NAME": "aurora-snowflake-sync-exporter",
            "TABLES_PARAMETER": self.tables_parameter,
            "OVERRIDES_PATH": self.overrides_path,
            "EXPORT_BUCKET": self.bucket,
            "EXPORT_MODE": self.export_mode,
            "ALERT_TOPIC_ARN": self.topic_arn,
            "RUNBOOK_URL": "https://git.example/aurora-snowflake-sync/blob/main/docs/runbook.md",
            "ALERT_STATE_TABLE": self.alert_state_table,
            "EXPORT_LEASE_TABLE": self.lease_table,
            "DB_HOST": self.pg.tls_host,
            "DB_PORT": str(self.pg.port),
            "DB_NAME": self.db_name,
            "DB_SSL": "true",
            "DB_SSL_CA_BUNDLE_PARAMETER": self.ca_bundle_parameter,
            "VAULT_ADDR": self.bao.addr,
            "VAULT_AUTH_METHOD": "token",
            "VAULT_TOKEN": self.bao.root_token,
            "VAULT_SECRET_PATH": f"{self.name}/aurora",
            "VAULT_SNOWFLAKE_SECRET_PATH": f"{self.name}/snowflake",
            "SNOWFLAKE_ACCOUNT": "fakesnow",
            "SNOWFLAKE_DATABASE": self.snowflake_database,
            "SNOWFLAKE_HOST": self.snow.host,
            "SNOWFLAKE_PORT": str(self.snow.port),
            "SNOWFLAKE_PROTOCOL": "http",
            "MIN_REMAINING_SECONDS": "5",
        }
        env.update(overrides)
        return env

    def run(self, event: Any = None, context: Any = None, **env_overrides: str) -> dict[str, Any]:
        """Invoke the exporter in-process with this pipeline's environment (boto3 reads os.environ)."""
        from aurora_sync.exporter.run import run_exporter
        from tests.support.lambda_context import LambdaContext

        saved = dict(os.environ)
        os.environ.update(self.env(**env_overrides))
        try:
            return run_exporter({} if event is None else event, context or LambdaContext())
        finally:
            os.environ.clear()
            os.environ.update(saved)

    # -- reading results back --------------------------------------------------------------------
    def object_keys(self, prefix: str = "") -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def read(self, key: str) -> bytes:
        return bytes(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def manifests(self, table: str | None = None) -> list[dict[str, Any]]:
        prefix = "_manifests/" + (f"{table}/" if table else "")
        return [json.loads(self.read(k)) for k in self.object_keys(prefix)]

    def exported_rows(self, table: str) -> list[dict[str, str | None]]:
        """Every row of every data file its manifests name (NULL = unquoted empty field -> None)."""
        rows: list[dict[str, str | None]] = []
        for manifest in self.manifests(table):
            for entry in manifest["files"]:
                rows.extend(parse_pg_csv(self.read(entry["key"])))
        return rows

    def alerts(self) -> Iterator[dict[str, Any]]:
        """Every alert published since the last call (the chat subscription: all severities)."""
        return self._drain(self.alert_queue_url)

    def pages(self) -> Iterator[dict[str, Any]]:
        """What the pager received since the last call (its subscription filters to P1/P2)."""
        return self._drain(self.pager_queue_url)

    def _drain(self, queue_url: str) -> Iterator[dict[str, Any]]:
        while True:
            got = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = got.get("Messages", [])
            if not messages:
                return
            for message in messages:
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                yield json.loads(message["Body"])

    def reconcile(self, event: Any = None, context: Any = None, **env_overrides: str) -> dict[str, Any]:
        """Invoke the reconciler in-process; it reads the local runner's history (LOCAL_QUERIES)."""
        from aurora_sync.reconciler.run import run_reconciler
        from tests.support.lambda_context import LambdaContext
        from tests.support.local_history import LOCAL_QUERIES

        saved = dict(os.environ)
        os.environ.update(
            self.env(AWS_LAMBDA_FUNCTION_NAME="aurora-snowflake-sync-reconciler", **env_overrides)
        )
        try:
            return run_reconciler({} if event is None else event, context or LambdaContext(), LOCAL_QUERIES)
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def merge_into_final(self, table: str) -> None:
        """Load the table's new files into STAGING and run the production MERGE into FINAL."""
        runner = self.loader()
        [config] = [t for t in runner.tables if t.table_name == table]
        runner.load_new_files(config)
        outcome = runner.merge(config)
        assert outcome.state == "SUCCEEDED", outcome.error_message


def parse_pg_csv(data: bytes) -> list[dict[str, str | None]]:
    """Parse PostgreSQL CSV keeping NULL (unquoted empty) apart from '' (quoted empty)."""
    text = data.decode()
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header = next(reader)
    raw_fields = _raw_field_starts(text)
    rows: list[dict[str, str | None]] = []
    for values, raws in zip(reader, raw_fields[1:], strict=True):
        rows.append(
            {h: (None if v == "" and not r else v) for h, v, r in zip(header, values, raws, strict=True)}
        )
    return rows


def _raw_field_starts(text: str) -> list[list[bool]]:
    """For each record, whether each field was quoted (a quoted empty field is '', unquoted is NULL)."""
    records: list[list[bool]] = []
    current: list[bool] = []
    i, n, at_field_start = 0, len(text), True
    while i < n:
        ch = text[i]
        if at_field_start:
            current.append(ch == '"')
            at_field_start = False
        if ch == '"':
            i += 1
            while i < n:
                if text[i] == '"' and i + 1 < n and text[i + 1] == '"':
                    i += 2
                    continue
                if text[i] == '"':
                    break
                i += 1
        elif ch == ",":
            at_field_start = True
        elif ch == "\n":
            records.append(current)
            current, at_field_start = [], True
        i += 1
    if current:
        records.append(current)
    return records
