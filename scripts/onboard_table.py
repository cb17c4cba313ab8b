"""Print the tables.json entry for a live Aurora table.

    PGHOST=... PGPORT=5432 PGDATABASE=app PGUSER=... PGPASSWORD=... \\
      python -m scripts.onboard_table public.orders [--watermark updated_at] [--soft-delete is_deleted]

Paste the output into terraform/envs/<env>/tables.json and review the notes it prints to stderr.
"""

from __future__ import annotations

import argparse
import os
import sys

import pg8000.native

from aurora_sync.onboarding import render_entry, table_entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("table", help="schema.table in Aurora")
    parser.add_argument("--watermark", help="timestamp column (default: updated_at or modified_at)")
    parser.add_argument("--soft-delete", help="boolean column marking deleted rows")
    args = parser.parse_args(argv)
    conn = pg8000.native.Connection(
        host=os.environ.get("PGHOST", "127.0.0.1"),
        port=int(os.environ.get("PGPORT", "5432")),
        database=os.environ.get("PGDATABASE", "postgres"),
        user=os.environ.get("PGUSER", "postgres"),
        password=os.environ.get("PGPASSWORD"),
    )
    try:
        entry, notes = table_entry(conn, args.table, args.watermark, args.soft_delete)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        conn.close()
    print(render_entry(entry))
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
