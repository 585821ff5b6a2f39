"""P4: ``shopbridge reset`` forgets a shop's links; the next full sync takes over what the shop
holds (products by SKU, categories by name and parent, manufacturers by name) instead of
creating it twice. On a synced osCommerce shop of 10,000 products, reset + sync changes no
row of the shop but the link table (a checksum of every other table before and after)."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from typing import Any

from shopbridge import cli, sample
from shopbridge import config as cfg
from tests.conftest import config_data, fill_cao, shop_entry
from tests.contract.test_outside_consumer import CAO_CATALOGUE_NAMES
from tests.helpers import full_sync, sync, to_toml

N = 10_000


def _checksums(db: Any) -> dict[str, int]:
    """CHECKSUM TABLE of every table but shopbridge's own (its link rows are what changes)."""
    tables = [r[0] for r in db.rows(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
        "AND TABLE_NAME NOT LIKE 'shopbridge%%' ORDER BY TABLE_NAME")]
    rows = db.rows(f"CHECKSUM TABLE {', '.join(f'`{t}`' for t in tables)}")
    return {str(name).rsplit(".", 1)[1]: value for name, value in rows}


def test_reset_and_sync_change_no_shop_row_but_the_links(
        cao_db, phoenix_db, namespace, tmp_path, monkeypatch, capsys):
    rows = sample.articles(N)
    fill_cao(cao_db, rows, sample.translations(rows[:50]))
    with cao_db.engine.begin() as conn:
        sample.cao_catalogue(conn, CAO_CATALOGUE_NAMES, rows, specials=[1, 2, 3],
                             today=date.today())
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(config_data(namespace, cao_db, [shop_entry("web", phoenix_db)])))
    settings = cfg.load(path)
    sync(settings)
    links = phoenix_db.scalar("SELECT COUNT(*) FROM shopbridge_link")
    products = phoenix_db.scalar("SELECT COUNT(*) FROM products")
    assert products == N
    before = _checksums(phoenix_db)

    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert cli.main(["-c", str(path), "reset", "--shop", "web"]) == cli.EXIT_CONFIG  # --yes
    assert cli.main(["-c", str(path), "reset", "--shop", "web", "--yes"]) == cli.EXIT_OK
    assert f"forgot {N} product link(s)" in capsys.readouterr().out
    assert phoenix_db.scalar("SELECT COUNT(*) FROM shopbridge_link "
                             "WHERE entity_type = 'product'") == 0
    _, stats = full_sync(settings, "web")

    assert stats.dead == 0
    assert _checksums(phoenix_db) == before            # not a row changed, none added
    assert phoenix_db.scalar("SELECT COUNT(*) FROM shopbridge_link") == links
    assert phoenix_db.scalar("SELECT COUNT(*) FROM shopbridge_link WHERE entity_type = "
                             "'product' AND target_id IS NULL") == 0


def test_a_shop_filled_before_shopbridge_is_adopted_not_doubled(
        cao_db, phoenix_factory, namespace, tmp_path: Path):
    """The same adoption for a shop another tool filled: its products, categories and
    manufacturers are taken over (and rewritten with the ERP's data), none is added twice."""
    rows = sample.articles(20)
    fill_cao(cao_db, rows, [])
    with cao_db.engine.begin() as conn:
        sample.cao_catalogue(conn, CAO_CATALOGUE_NAMES, rows, specials=[], today=date.today())
    filled = phoenix_factory()
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(config_data(namespace, cao_db, [shop_entry("web", filled)])))
    settings = cfg.load(path)
    sync(settings)
    filled.execute("DROP TABLE shopbridge_link")        # as if another tool had filled it
    filled.execute("UPDATE products_description SET products_name = 'from the old tool'")
    counts = {t: filled.scalar(f"SELECT COUNT(*) FROM {t}")
              for t in ("products", "categories", "manufacturers")}

    full_sync(settings, "web")

    assert {t: filled.scalar(f"SELECT COUNT(*) FROM {t}") for t in counts} == counts
    assert filled.scalar("SELECT COUNT(*) FROM products_description "
                         "WHERE products_name = 'from the old tool'") == 0


def test_virtuemart_takes_over_its_products_categories_and_manufacturers_after_a_reset(
        cao_db, vm, namespace, tmp_path: Path):
    from tests import virtuemart_db

    rows = sample.articles(30)
    fill_cao(cao_db, rows, sample.translations(rows))
    with cao_db.engine.begin() as conn:
        sample.cao_catalogue(conn, CAO_CATALOGUE_NAMES, rows, specials=[], today=date.today())
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(config_data(namespace, cao_db, [
        virtuemart_db.shop_entry("vm", vm, categories="shop_categories")])))
    settings = cfg.load(path)
    sync(settings)
    prefix = virtuemart_db.PREFIX
    tables = ("products", "categories", "manufacturers", "product_categories",
              "product_manufacturers")
    counts = {t: vm.scalar(f"SELECT COUNT(*) FROM {prefix}virtuemart_{t}") for t in tables}
    assert counts["products"] == 30 and counts["categories"] > 0 and counts["manufacturers"] > 0

    assert cli.main(["-c", str(path), "reset", "--shop", "vm", "--yes"]) == cli.EXIT_OK
    _, stats = full_sync(settings, "vm")

    assert stats.dead == 0
    assert {t: vm.scalar(f"SELECT COUNT(*) FROM {prefix}virtuemart_{t}")
            for t in tables} == counts
