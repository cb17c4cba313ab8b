"""`make demo`: one hourly cycle on the local stack, printed the way on-call would read it.

Starts real PostgreSQL, moto, OpenBao and fakesnow on loopback (or, with LOCALSTACK_HOST set, uses
that LocalStack instead of moto: tests/support/stack.py, aws_side), seeds Aurora, runs the exporter
twice (a late-committing transaction open during the first run), and prints what landed in S3.
FINAL is advanced by the test stand-in for Snowpipe + MERGE until the local pipe/task runner exists.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from tests.support.pipeline import Pipeline
from tests.support.stack import (
    LOCALSTACK_HOST,
    ExternalLocalStack,
    FakeSnowServer,
    OpenBaoServer,
    PostgresServer,
    aws_side,
)


def show(title: str, result: dict[str, Any]) -> None:
    print(f"\n== {title} (run {result['run_id']})")
    for t in result["tables"]:
        print(
            f"  {t['table']:<18} {t['status']:<9} rows={t.get('rows', 0):<5} "
            f"window=({t.get('lower')}, {t.get('upper')}]"
        )
        for key in t.get("files", []):
            print(f"      s3://…/{key}")
    for r in result.get("remaining", []):
        print(f"  left for a re-run: {json.dumps(r)}")


def main() -> None:
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    logging.getLogger("aurora-snowflake-sync").setLevel(logging.WARNING)
    pg, aws, bao, snow = PostgresServer(), aws_side(), OpenBaoServer(), FakeSnowServer()
    services = [aws, pg, bao, snow]  # the AWS side first: an unusable LOCALSTACK_HOST stops the demo at once
    if isinstance(aws, ExternalLocalStack):
        print(f"AWS side: the LocalStack at {LOCALSTACK_HOST}={aws.localstack_host} (not ours to stop)")
        print("starting PostgreSQL, OpenBao and fakesnow on 127.0.0.1 …")
    else:
        print("starting PostgreSQL, moto, OpenBao and fakesnow on 127.0.0.1 …")
    try:
        for service in services:
            service.start()
        p = Pipeline(pg, aws, bao, snow)
        admin = p.admin()
        admin.run(
            "INSERT INTO public.orders (id, customer_id, status, amount) "
            "SELECT g, g % 7, 'new', g * 2.5 FROM generate_series(1, 500) g"
        )
        admin.run(
            "INSERT INTO public.customers (id, email, name) "
            "SELECT g, 'c' || g || '@example.com', 'Customer ' || g FROM generate_series(1, 50) g"
        )
        late = p.admin()
        late.run("BEGIN")
        late.run("INSERT INTO public.orders (id, status) VALUES (9999, 'committed late')")
        show("hourly run 1 (a write transaction is still open)", p.run())
        late.run("COMMIT")
        late.close()
        for table in ("public.orders", "public.customers"):
            p.merge_into_final(table)
        admin.run("UPDATE public.orders SET status = 'shipped', updated_at = now() WHERE id <= 25")
        show("hourly run 2", p.run())
        for table in ("public.orders", "public.customers"):
            p.merge_into_final(table)
        print("\n== Aurora vs Snowflake FINAL (after Snowpipe stand-in + the production MERGE)")
        conn = snow.connect(p.snowflake_database, "FINAL")
        for table in ("public.orders", "public.customers"):
            aurora = admin.run(f"SELECT count(*), max(updated_at) FROM {table}")[0]
            final_name = table.split(".")[1].upper()
            cur = conn.cursor()
            cur.execute(f'SELECT COUNT(*), MAX("UPDATED_AT") FROM "FINAL"."{final_name}"')
            final = cur.fetchone()
            print(f"  {table:<18} aurora rows={aurora[0]:<5} FINAL rows={final[0]:<5}")
            print(f"  {'':<18} aurora max(updated_at)={aurora[1]}  FINAL max={final[1]}")
        conn.close()
        print(f"\nmanifests: {len(p.manifests())}; alerts sent: {len(list(p.alerts()))}")
        result = p.reconcile(LOAD_GRACE_MINUTES="0.01")
        print(f"\n== reconciler (run {result['run_id']}): {result['status']}")
        for check in result["checks"]:
            print(f"  {check['table']:<18} {check['check']:<10} {check['status']:<8} {check['summary']}")
        print(f"  alerts: {json.dumps(result['alerts'])}")
        admin.close()
    finally:
        for service in reversed(services):
            service.stop()


if __name__ == "__main__":
    main()
