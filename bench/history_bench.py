"""Micro-measure of the history table's cost per batch (B4): rows/s of
``consumers.history.record`` in batches of the consumer's default size (1000), the way the
consumer writes them (one INSERT per batch, its own transaction), into a fresh table.

    .venv/bin/python bench/history_bench.py [--rows 100000] [--batch 1000]

Needs MariaDB at $SHOPBRIDGE_BENCH_DB_URL (default mysql+pymysql://root@127.0.0.1:3306/);
makes and drops a database of its own.
"""

from __future__ import annotations

import argparse
import os
import secrets
import time
import uuid

import sqlalchemy as sa

from consumers import history
from shopbridge.config import DatabaseConfig
from shopbridge.db import create_engine, utc_now
from shopbridge.history import APPLIED, HistoryEntry


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    server = os.environ.get("SHOPBRIDGE_BENCH_DB_URL", "mysql+pymysql://root@127.0.0.1:3306/")
    name = f"sb_histbench_{secrets.token_hex(4)}"
    admin = sa.create_engine(server)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE `{name}`")
    engine = create_engine(DatabaseConfig(url=server.rstrip("/") + f"/{name}"))
    try:
        with engine.begin() as conn:
            history.ensure_table(conn)
        now = utc_now()
        batches = [[HistoryEntry(entity_type="product", entity_key=str(n), sku=f"A-{n:06d}",
                                 event_id=str(uuid.uuid4()), event_type="product.upserted",
                                 version=1_796_603_669_870_396 + n, arrived_at=now,
                                 outcome=APPLIED)
                    for n in range(start, min(start + args.batch, args.rows))]
                   for start in range(0, args.rows, args.batch)]
        started = time.perf_counter()
        for batch in batches:
            with engine.begin() as conn:
                history.record(conn, batch)
        seconds = time.perf_counter() - started
        print(f"history.record: {args.rows} rows in {len(batches)} batches of {args.batch}: "
              f"{seconds:.2f} s = {args.rows / seconds:,.0f} rows/s "
              f"({seconds / len(batches) * 1000:.1f} ms per batch)")
        with engine.connect() as conn:
            conn.exec_driver_sql(f"ANALYZE TABLE {history.HISTORY_TABLE}").fetchall()
            size = conn.exec_driver_sql(
                "SELECT DATA_LENGTH + INDEX_LENGTH FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
                (history.HISTORY_TABLE,)).scalar()
        print(f"table size: {int(size or 0) / 1e6:.1f} MB (data and indexes)")
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE `{name}`")
        admin.dispose()


if __name__ == "__main__":
    main()
