"""What the oversell guard (B3) adds to each stock scan of ``produce --follow`` (every 0.5 s):
``StockGuard.refresh`` (an empty reservation queue read, the ledger moved on, the open orders
summed, the changed articles looked for), idle, against the idle stock scan's query on the
same database as the baseline of the same run.

    python bench/guard_bench.py [--articles 100000] [--open 2000] [--write-results]

Builds a CAO database from ../shared/reference (MyISAM, latin1) with ``--articles`` articles
published in the snapshot, ``--open`` open reservations (half on their way, half imported
drafts in JOURNAL) and a broker namespace of its own; times each step (best of 5) once every
reservation's stock was published. Drops the database and the queue at the end.
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from kombu import Connection

from producers.cao.guard import LEDGER, StockGuard
from producers.cao.snapshot import Snapshot
from producers.cao.source import CaoSource
from shopbridge import config as cfg
from shopbridge import sample, topology

REPO = Path(__file__).resolve().parents[1]
CAO_SQL = REPO.parent / "shared" / "reference" / "cao-faktura" / "schema.sql"
SERVER = "mysql+pymysql://root@127.0.0.1:3306/"
AMQP = "amqp://guest@127.0.0.1:5672//"   # guest: the password is its default
NAMES = {"ARTIKEL": "artikel", "ARTIKEL_LTEXT": "artikel_ltext", "SPRACHEN": "sprachen",
         "REGISTRY": "registry"}


def best(fn: Callable[[], object], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def settings(url: sa.URL, namespace: str) -> cfg.Settings:
    shop = {"url": "mysql+pymysql://root@127.0.0.1:3306/unused", "filter": {"cao_shop_id": 1},
            "oversell": {"enabled": True, "buffer": 1}}
    return cfg.parse({
        "broker": {"url": AMQP, "namespace": namespace},
        "tenants": [{"name": "acme", "erp": {"url": url.render_as_string(hide_password=False)},
                     "shops": [{"name": "osc", **shop},
                               {"name": "vm", "kind": "virtuemart", **shop,
                                "virtuemart": {"prefix": "jos_"}}]}]}, source="bench")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--open", type=int, default=2_000)
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()
    name = f"sbbench_guard_{uuid.uuid4().hex[:8]}"
    namespace = f"sbbench-guard-{uuid.uuid4().hex[:8]}"
    url = sample.create_database(SERVER, name, charset="latin1")
    try:
        s = settings(url, namespace)
        tenant = s.tenants[0]
        sample.run_sql_file(url, CAO_SQL.read_text(encoding="utf-8"))
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            sample.cao_reference_data(conn, NAMES)
            sample.insert_rows(conn, "artikel", sample.articles(args.articles))
        source = CaoSource(tenant.erp)
        guard = StockGuard(broker=s.broker, tenant=tenant)
        rnd = random.Random(15)  # reproducible sample data
        now = datetime.now(UTC).replace(tzinfo=None)
        with engine.connect() as conn:
            source.resolve(conn)
            Snapshot().ensure_table(conn)
            conn.exec_driver_sql(
                "INSERT INTO shopbridge_snapshot (entity_type, entity_key, version, stock, "
                "published_at) SELECT 'product', REC_ID, 1, MENGE_AKT, NOW() FROM artikel")
            conn.commit()
            guard.refresh(conn, source.t["ARTIKEL"])        # tables and queue
            drafts = args.open // 2
            conn.exec_driver_sql(
                "INSERT INTO journal (REC_ID, QUELLE, VRENUM, RDATUM) VALUES (%s, 13, %s, %s)",
                [(i, f"RE-{i}", now) for i in range(1, drafts + 1)])
            conn.exec_driver_sql(
                f"INSERT INTO {LEDGER} (shop, order_id, erp_id, quantity, state, journal_id, "
                f"recorded_at) VALUES (%s, %s, %s, 1, %s, %s, %s)",
                [("osc" if i % 2 else "vm", i, rnd.randrange(1, args.articles + 1),
                  "imported" if i <= drafts else "pending", i if i <= drafts else None, now)
                 for i in range(1, args.open + 1)])
            conn.commit()
            guard._full_at = -1e9            # a full pass: the sums and the comparison
            guard.refresh(conn, source.t["ARTIKEL"])
            stale = [int(k) for k in conn.exec_driver_sql(
                "SELECT entity_key FROM shopbridge_snapshot WHERE stock IS NULL").scalars()]
            for key in stale:          # as the stock scan publishes them
                guard.attach(key, {"stock": "5"})
            guard.store(conn, stale)
            conn.exec_driver_sql("UPDATE shopbridge_snapshot s JOIN artikel a "
                                 "ON a.REC_ID = s.entity_key SET s.stock = a.MENGE_AKT")
            conn.commit()

            def idle_stock() -> None:
                assert not source.stock_changes(conn, after=0, limit=2000)
                conn.commit()

            def idle_guard(full: bool = False) -> None:
                if full:
                    guard._full_at = -1e9
                guard.refresh(conn, source.t["ARTIKEL"])
                assert conn.exec_driver_sql("SELECT COUNT(*) FROM shopbridge_snapshot "
                                            "WHERE stock IS NULL").scalar() == 0
                conn.commit()

            load_before = Path("/proc/loadavg").read_text().split()[:3]
            baseline, guarded = best(idle_stock), best(idle_guard)
            full = best(lambda: idle_guard(full=True))
            load_after = Path("/proc/loadavg").read_text().split()[:3]
        guard.close()
        engine.dispose()
        text = (f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC - oversell guard (B3): refresh per "
                f"stock scan, idle\n\n"
                f"`python bench/guard_bench.py --articles {args.articles} --open {args.open}"
                f"{' --write-results' if args.write_results else ''}` - {args.articles} "
                f"articles published, {args.open} open reservations ({len(stale)} "
                f"articles), two guarded shops; best of 5 each, same database and run.\n"
                f"Load average before/after: {' '.join(load_before)} / "
                f"{' '.join(load_after)} (2 cores shared with other helpers' tests).\n\n"
                f"| step | ms |\n|---|---|\n"
                f"| baseline: idle stock scan query (`stock_changes`) | {baseline * 1000:.1f} |\n"
                f"| `StockGuard.refresh`, each stock scan (empty queue read, drafts "
                f"booked or gone) | {guarded * 1000:.1f} |\n"
                f"| `StockGuard.refresh`, full pass every 10 s (also expiry, sums, "
                f"comparison) | {full * 1000:.1f} |\n")
        print(text)
        if args.write_results:
            with (REPO / "bench" / "RESULTS.md").open("a", encoding="utf-8") as out:
                out.write("\n" + text)
    finally:
        with Connection(AMQP) as conn:
            channel = conn.default_channel
            channel.queue_delete(topology.work_queue(namespace, "acme", topology.RESERVATIONS))
            channel.exchange_delete(namespace)
        sample.drop_database(SERVER, name)


if __name__ == "__main__":
    main()
