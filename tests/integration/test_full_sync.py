"""The full sync (P3, ``shopbridge sync``): everything published goes again into one shop's
queue, is applied there even where it looks unchanged, survives a SIGKILL half-way (the rerun
continues after the last published page and counts what it skipped), and no other shop gets
any of it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from shopbridge import cli, sample
from shopbridge import config as cfg
from tests.conftest import config_data, fill_cao, shop_entry
from tests.helpers import consume, full_sync, storefront, sync, to_toml

DE = 2


def _config(tmp_path: Path, namespace: str, cao_db: Any, shops: list[dict[str, Any]]
            ) -> tuple[Path, cfg.Settings]:
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(config_data(namespace, cao_db, shops)))
    return path, cfg.load(path)


def test_sync_rewrites_what_was_changed_by_hand_and_reaches_only_its_shop(
        cao_db, phoenix_factory, namespace, tmp_path):
    web, other = phoenix_factory(), phoenix_factory()
    fill_cao(cao_db, sample.articles(3), [])
    _, settings = _config(tmp_path, namespace, cao_db,
                          [shop_entry("web", web), shop_entry("other", other)])
    sync(settings)
    web.execute("UPDATE products_description SET products_name = 'edited by hand'")
    web.execute("UPDATE products SET products_status = 0 WHERE products_model = 'A-000002'")
    sync(settings)                                      # the ERP did not change: nothing
    assert len(storefront(web, DE)) == 2

    report, stats = full_sync(settings, "web")

    names = {model: row[0] for model, row in storefront(web, DE).items()}
    assert set(names) == {"A-000001", "A-000002", "A-000003"}
    assert "edited by hand" not in names.values()
    assert stats.dead == 0 and {s.scan: s.now for s in report.scans}["product"] == 3
    assert consume(settings, "other").events == 0       # the other shop got none of it


def test_a_sync_killed_half_way_continues_where_it_stopped(
        cao_db, phoenix_db, namespace, tmp_path, start, capsys):
    n = 7000                                            # four pages of 2,000
    fill_cao(cao_db, sample.articles(n), [])
    path, settings = _config(tmp_path, namespace, cao_db, [shop_entry("web", phoenix_db)])
    sync(settings)
    phoenix_db.execute("DELETE FROM products_description WHERE language_id = %s", (DE,))
    assert storefront(phoenix_db, DE) == {}             # lost by hand: only a full sync helps

    first = start(path, "sync", "--shop", "web", "--entity", "products", label="sync-1")
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline and first.alive():
        if cao_db.scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE "
                         "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'shopbridge_resync'"):
            done = cao_db.scalar("SELECT COALESCE(MAX(published), 0) FROM shopbridge_resync "
                                 "WHERE shop = 'web' AND scan = 'product' "
                                 "AND finished_at IS NULL")
        if done:
            break
        time.sleep(0.02)
    first.proc.kill()                                   # SIGKILL: no cleanup of any kind
    first.proc.wait(timeout=10)
    assert 0 < done < n, first.tail()

    assert cli.main(["-c", str(path), "sync", "--shop", "web",
                     "--entity", "products"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("acme/web product:"))
    now = int(line.split(": ", 1)[1].split()[0])
    before = int(line.split("resumed: ", 1)[1].split()[0])
    print(f"killed after {before} of {n}; the rerun republished {now}")
    assert before >= done and before + now == n       # nothing published twice by the rerun
    stats = consume(settings, "web", idle_s=2.0)
    assert stats.dead == 0
    assert len(storefront(phoenix_db, DE)) == n

    assert cli.main(["-c", str(path), "sync", "--shop", "web",
                     "--entity", "products"]) == cli.EXIT_OK   # finished: starts over
    assert f"acme/web product: {n} event(s) republished\n" in capsys.readouterr().out


def test_a_continued_sync_skips_the_scans_the_interrupted_one_finished(cao_db):
    """`sync --entity all` killed in its third scan: the rerun skips the two it finished and
    continues the third; a finished run starts over."""
    from producers.cao.resync import TABLE, ResyncProgress
    from shopbridge.owntables import ensure

    entities = ("product", "category", "manufacturer")
    with cao_db.engine.connect() as conn:
        ensure(conn, TABLE)
        first = ResyncProgress("web")
        assert first.begin(conn, entities) is False
        for scan in ("manufacturer", "category:shop_categories"):
            first.start(conn, scan)
            first.page(conn, scan, 10, 10)
            first.finish(conn, scan)
        first.start(conn, "product")
        first.page(conn, "product", 2000, 2000)              # killed here

        again = ResyncProgress("web")
        assert again.begin(conn, entities) is True
        assert again.start(conn, "manufacturer").done
        assert again.start(conn, "category:shop_categories").done
        product = again.start(conn, "product")
        assert (product.done, product.after, product.before) == (False, 2000, 2000)
        again.finish(conn, "product")
        again.end(conn)

        fresh = ResyncProgress("web")
        assert fresh.begin(conn, entities) is False
        assert not fresh.start(conn, "manufacturer").done


def test_a_sync_leaves_an_unguarded_osc_shops_checkout_decrements_alone(
        cao_db, phoenix_factory, namespace, tmp_path):
    """Phoenix takes a sold unit off products_quantity at checkout, and CAO has it only once
    its user books the imported draft: a full sync must not give that unit back (an
    oversell window), unless the oversell guard computes the shop's stock (review)."""
    web = phoenix_factory()
    fill_cao(cao_db, sample.articles(2), [])
    _, settings = _config(tmp_path, namespace, cao_db, [shop_entry("web", web)])
    sync(settings)
    before = web.scalar("SELECT products_quantity FROM products WHERE products_model = "
                        "'A-000001'")
    web.execute("UPDATE products SET products_quantity = products_quantity - 1 "
                "WHERE products_model = 'A-000001'")       # a checkout

    full_sync(settings, "web")

    assert web.scalar("SELECT products_quantity FROM products WHERE products_model = "
                      "'A-000001'") == before - 1
