"""What variants (C8) cost the producer's idle path: the article scan, the stock scan, and the
refresh of ``shopbridge_variant``, with variants off and on, on one CAO database.

    python bench/variants_bench.py [--articles 100000] [--masters 2000] [--children 4]

Builds a CAO database from ../shared/reference (MyISAM, latin1) with ``--articles`` articles,
``--masters`` of them with ``--children`` children each, stores every hash in the snapshot
(as after a full publish, without a broker) and times each query as an idle cycle runs it
(best of 5). Drops the database at the end.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from producers.cao.snapshot import Snapshot
from producers.cao.source import CaoSource, fingerprint_of
from producers.cao.variants import config_key
from shopbridge import sample
from shopbridge.config import DatabaseConfig, ErpConfig, VariantConfig

REPO = Path(__file__).resolve().parents[1]
CAO_SQL = REPO.parent / "shared" / "reference" / "cao-faktura" / "schema.sql"
SERVER = "mysql+pymysql://root@127.0.0.1:3306/"
NAMES = {"ARTIKEL": "artikel", "ARTIKEL_LTEXT": "artikel_ltext", "SPRACHEN": "sprachen",
         "REGISTRY": "registry"}


def best(fn: Callable[[], object], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def build(url: sa.URL, articles: int, masters: int, children: int) -> None:
    rows = sample.articles(articles)
    for row in rows:
        row.update(DIM_A=None, DIM_B=None)
    step = children + 1
    for m in range(masters):
        base = rows[m * step]
        base["ARTNUM"] = f"M-{m:06d}"
        for c in range(children):
            child = rows[m * step + 1 + c]
            child.update(ARTNUM=f"M-{m:06d}-{c}", DIM_A=f"Farbe {c % 2}",
                         DIM_B=f"Größe {c // 2}", VK1=base["VK1"], SHOP_ID=-1)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        sample.cao_reference_data(conn, NAMES)
        sample.insert_rows(conn, "artikel", rows)
    engine.dispose()


def measure(engine: sa.Engine, erp: ErpConfig) -> dict[str, float]:
    source = CaoSource(erp)
    with engine.connect() as conn:
        source.resolve(conn)
        Snapshot().ensure_table(conn)
        conn.exec_driver_sql("DELETE FROM shopbridge_snapshot")
        source.variants.ensure_table(conn)
        refresh = best(lambda: source.variants.refresh(conn, source.t["ARTIKEL"]), 3)
        conn.commit()
        fp = fingerprint_of(source.language_codes(conn), source.vat_rates(conn), "de", 3,
                            config_key(erp.variants))
        after = 0
        while changed := source.changed_articles(conn, fingerprint=fp, after=after, limit=5000):
            after = changed[-1][0]
            articles, _ = source.load_articles(conn, [k for k, _, _ in changed])
            stock = {int(a["REC_ID"]): a["MENGE_AKT"] for a in articles}
            kids = source.variants.load(conn, source.t["ARTIKEL"], stock)
            for key, items in kids.items():
                stock[key] = sum((max(Decimal(i["MENGE_AKT"]), Decimal(0)) for i in items),
                                 Decimal(0))
            Snapshot().store_published(conn, [(k, h, 1, stock[k], None)
                                              for k, h, _ in changed])
            conn.commit()

        def idle_articles() -> None:
            assert not source.changed_articles(conn, fingerprint=fp, after=0, limit=2000)
            conn.commit()

        def idle_stock() -> None:
            assert not source.stock_changes(conn, after=0, limit=2000)
            conn.commit()

        return {"article scan (idle)": best(idle_articles), "stock scan (idle)": best(idle_stock),
                "refresh shopbridge_variant (no change)": refresh if erp.variants.enabled else 0}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--masters", type=int, default=2_000)
    parser.add_argument("--children", type=int, default=4)
    args = parser.parse_args()
    name = f"sbbench_variants_{uuid.uuid4().hex[:8]}"
    url = sample.create_database(SERVER, name, charset="latin1")
    try:
        sample.run_sql_file(url, CAO_SQL.read_text(encoding="utf-8"))
        build(url, args.articles, args.masters, args.children)
        engine = sa.create_engine(url)
        off = ErpConfig(kind="cao", db=DatabaseConfig(str(url)))
        on = replace(off, variants=VariantConfig(enabled=True, names={
            "A": {"de": "Farbe"}, "B": {"de": "Größe"}}))
        results = {"off": measure(engine, off), "on": measure(engine, on)}
        engine.dispose()
        print(f"{args.articles} articles, {args.masters} masters x {args.children} children")
        for what in results["off"]:
            print(f"  {what:40s} off {results['off'][what] * 1000:8.1f} ms   "
                  f"on {results['on'][what] * 1000:8.1f} ms")
    finally:
        sample.drop_database(SERVER, name)


if __name__ == "__main__":
    main()
