"""The article diff at catalogue scale: linear, in windows, and stock never waits for it.

CAO's ARTIKEL_TO_KAT has the key (SHOP_ID, ARTIKEL_ID, KAT_ID): a lookup by ARTIKEL_ID alone
reads the whole table for every article, so an idle diff of 10,000 articles took 52 s and one
of 100,000 would take hours (bench/PROFILE.txt). These tests hold the diff to its index use
and to its meaning.
"""

from __future__ import annotations

import time
from decimal import Decimal

from sqlalchemy.engine import Connection

from producers.cao import CaoProducer, CycleReport
from producers.cao import producer as producer_module
from producers.cao.snapshot import Snapshot
from producers.cao.source import CaoSource
from shopbridge import sample
from tests.conftest import fill_cao, settings_for, shop_entry

ARTICLES = 4000


def changed(source: CaoSource, conn: Connection) -> list[tuple[int, bytes, int | None]]:
    out, after = [], 0
    while page := source.changed_articles(conn, fingerprint="f", after=after, limit=2000):
        out += page
        after = page[-1][0]
    conn.commit()
    return out


def test_an_idle_diff_with_category_links_reads_them_by_key(cao_db, namespace):
    fill_cao(cao_db, sample.articles(ARTICLES, long_description_every=10**9), [])
    cao_db.execute("INSERT INTO artikel_to_kat (SHOP_ID, ARTIKEL_ID, KAT_ID) "
                   "SELECT 1, REC_ID, 1 + MOD(REC_ID, 20) FROM artikel")
    source = CaoSource(settings_for(namespace, cao_db, []).tenants[0].erp)
    with cao_db.engine.connect() as conn:
        source.resolve(conn)
        Snapshot().ensure_table(conn)
        first = changed(source, conn)
        assert len(first) == ARTICLES
        Snapshot().store_published(conn, [(key, h, 1, Decimal(0), None) for key, h, _ in first])
        conn.commit()

        started = time.perf_counter()
        idle = changed(source, conn)
        seconds = time.perf_counter() - started

    assert idle == []
    # By key this takes ~0.1 s; a scan of ARTIKEL_TO_KAT per article took ~8 s here.
    # 4 s: CI machines are shared and small; the quadratic path is far above that.
    assert seconds < 4.0, f"idle diff of {ARTICLES} articles took {seconds:.1f} s"


def test_a_category_link_of_any_shop_changes_the_article(cao_db, namespace):
    fill_cao(cao_db, sample.articles(10), [])
    cao_db.execute("INSERT INTO artikel_to_kat (SHOP_ID, ARTIKEL_ID, KAT_ID) VALUES "
                   "(1, 1, 5), (1, 2, 5), (2, 2, 6)")
    source = CaoSource(settings_for(namespace, cao_db, []).tenants[0].erp)
    snapshot = Snapshot()

    def publish_all(conn: Connection) -> list[int]:
        rows = changed(source, conn)
        snapshot.store_published(conn, [(key, h, 1, Decimal(0), None) for key, h, _ in rows])
        conn.commit()
        return [key for key, _, _ in rows]

    with cao_db.engine.connect() as conn:
        source.resolve(conn)
        snapshot.ensure_table(conn)
        assert len(publish_all(conn)) == 10
        cao_db.execute("UPDATE artikel_to_kat SET DEL_FLAG = 'Y' WHERE SHOP_ID = 2")
        assert publish_all(conn) == [2]
        cao_db.execute("INSERT INTO artikel_to_kat (SHOP_ID, ARTIKEL_ID, KAT_ID) "
                       "VALUES (3, 7, 1)")                      # a shop no link had before
        assert publish_all(conn) == [7]
        cao_db.execute("DELETE FROM artikel_to_kat")              # none left at all
        assert publish_all(conn) == [1, 2, 7]
        assert publish_all(conn) == []


def test_a_lone_change_far_into_the_table_is_found_across_empty_windows(cao_db, namespace):
    fill_cao(cao_db, sample.articles(1000), [])
    source = CaoSource(settings_for(namespace, cao_db, []).tenants[0].erp)
    calls: list[int] = []
    with cao_db.engine.connect() as conn:
        source.resolve(conn)
        Snapshot().ensure_table(conn)
        Snapshot().store_published(conn, [(key, h, 1, Decimal(0), None)
                                          for key, h, _ in changed(source, conn)])
        conn.commit()
        cao_db.execute("UPDATE artikel SET KURZNAME = 'Neu' WHERE REC_ID = 977")
        found = source.changed_articles(conn, fingerprint="f", after=0, limit=50,
                                        between=lambda: calls.append(1))
        assert [key for key, _, _ in found] == [977]
        assert len(calls) == 20                      # before each window of 50 REC_IDs
        assert source.changed_articles(conn, fingerprint="f", after=977, limit=50) == []


def test_following_a_full_cycle_does_not_hold_back_stock_changes(cao_db, phoenix_db, namespace,
                                                                 monkeypatch):
    """A stock change made while a long full cycle runs is published between its windows."""
    fill_cao(cao_db, sample.articles(60), [])
    settings = settings_for(namespace, cao_db, [shop_entry("web", phoenix_db)])
    monkeypatch.setattr(producer_module, "PAGE", 10)
    producer = CaoProducer(broker=settings.broker, tenant=settings.tenants[0])
    scans: list[int] = []
    real_scan = producer.stock_scan

    def stock_scan() -> CycleReport:
        report = real_scan()
        scans.append(report.events)
        return report

    producer.stock_scan = stock_scan               # type: ignore[method-assign]
    try:
        producer.prepare()
        producer.run_once()                        # not following: one stock scan, at the end
        assert scans == [0]
        cao_db.execute("UPDATE artikel SET MENGE_AKT = 777 WHERE REC_ID = 55")
        cao_db.execute("UPDATE artikel SET KURZNAME = 'Neu' WHERE REC_ID = 60")
        scans.clear()
        producer._stock_period_s = 0.0             # as follow() sets it: every window is due
        report = producer.run_once()
    finally:
        producer.close()
    assert scans[0] == 1                           # article 55's stock, before any window
    assert len(scans) >= 6 and sum(scans) == 1     # one per window of 10, and the last one
    assert report.published["product.upserted"] == 1
