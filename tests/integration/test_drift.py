"""B1: ``shopbridge drift`` on both shop kinds, real CAO and shop databases and RabbitMQ.

After a sync drift finds nothing; after edits made by hand in the shop's database (a price, a
name, a hidden product, a deleted category link; stock, a special, an image, a deleted
product, one CAO withdrew shown again) it names exactly those products and fields;
``--repair`` republishes them into the shop's queue and, once the consumer applied them,
drift finds nothing again. A shop kind without a drift reader says so."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from shopbridge import cli, drift, sample
from shopbridge import config as cfg
from tests.conftest import config_data, fill_cao, shop_entry
from tests.contract.test_outside_consumer import CAO_CATALOGUE_NAMES
from tests.helpers import consume, sync, to_toml

N = 40


@dataclass
class Edits:
    """How one shop kind's database is edited by hand, and the fields drift names for it."""

    pick: str                                 # SQL: (shop id, SKU) of shown, stocked products
    price: Callable[[Any, int], None]
    name: Callable[[Any, int], None]
    hide: Callable[[Any, int], None]
    unlink: Callable[[Any, int], None]
    fields: tuple[str, str, str, str]         # price, name, visible, categories


PHOENIX = Edits(
    pick="SELECT p.products_id, p.products_model FROM products p WHERE p.products_status = 1 "
         "AND p.products_quantity > 0 AND EXISTS (SELECT 1 FROM products_to_categories c "
         "WHERE c.products_id = p.products_id) ORDER BY p.products_id LIMIT 4",
    price=lambda db, pid: db.execute(
        "UPDATE products SET products_price = products_price + 1 WHERE products_id = %s",
        (pid,)),
    name=lambda db, pid: db.execute(
        "UPDATE products_description SET products_name = 'renamed by hand' "
        "WHERE products_id = %s AND language_id = 2", (pid,)),
    hide=lambda db, pid: db.execute(
        "UPDATE products SET products_status = 0 WHERE products_id = %s", (pid,)),
    unlink=lambda db, pid: db.execute(
        "DELETE FROM products_to_categories WHERE products_id = %s", (pid,)),
    fields=("price", "name[de]", "visible", "categories"))


def _vm_edits() -> Edits:
    from tests.virtuemart_db import PREFIX

    t = f"{PREFIX}virtuemart_"
    return Edits(
        pick=f"SELECT p.virtuemart_product_id, p.product_sku FROM {t}products p WHERE "
             f"p.published = 1 AND p.product_parent_id = 0 AND EXISTS (SELECT 1 FROM "
             f"{t}product_categories c WHERE c.virtuemart_product_id = "
             f"p.virtuemart_product_id) ORDER BY p.virtuemart_product_id LIMIT 4",
        price=lambda db, pid: db.execute(
            f"UPDATE {t}product_prices SET product_price = product_price + 1 "
            f"WHERE virtuemart_product_id = %s", (pid,)),
        name=lambda db, pid: db.execute(
            f"UPDATE {t}products_de_de SET product_name = 'renamed by hand' "
            f"WHERE virtuemart_product_id = %s", (pid,)),
        hide=lambda db, pid: db.execute(
            f"UPDATE {t}products SET published = 0 WHERE virtuemart_product_id = %s", (pid,)),
        unlink=lambda db, pid: db.execute(
            f"DELETE FROM {t}product_categories WHERE virtuemart_product_id = %s", (pid,)),
        fields=("prices[group 0]", "name[de-DE]", "visible", "categories"))


def _entry(kind: str, db: Any) -> dict[str, Any]:
    if kind == "virtuemart":
        from tests import virtuemart_db

        return virtuemart_db.shop_entry("web", db, categories="shop_categories")
    return shop_entry("web", db, categories="shop_categories")


def _drift(settings: cfg.Settings, *, repair: bool = False) -> drift.DriftReport:
    report, _ = drift.run(settings, argparse.Namespace(
        shop="web", tenant=None, entity="product", repair=repair))
    return report


@pytest.mark.parametrize("kind", ["oscommerce", "virtuemart"])
def test_drift_names_exactly_the_edits_and_repair_undoes_them(
        kind, cao_db, namespace, tmp_path: Path, capsys, request):
    if kind == "virtuemart":
        shop = request.getfixturevalue("vm")
        edits = _vm_edits()
    else:
        shop = request.getfixturevalue("phoenix_db")
        edits = PHOENIX
    rows = sample.articles(N)
    fill_cao(cao_db, rows, sample.translations(rows))
    with cao_db.engine.begin() as conn:
        sample.cao_catalogue(conn, CAO_CATALOGUE_NAMES, rows, specials=[3, 7, 11],
                             today=date.today())
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(config_data(namespace, cao_db, [_entry(kind, shop)])))
    settings = cfg.load(path)
    _, stats = sync(settings)
    assert stats["web"].dead == 0

    clean = _drift(settings)
    assert (clean.compared, clean.total) == (N, 0), drift.table(clean.differences)
    assert cli.main(["-c", str(path), "drift", "--shop", "web"]) == cli.EXIT_OK
    assert "0 difference(s)" in capsys.readouterr().out

    picked = shop.rows(edits.pick)
    assert len(picked) == 4
    for edit, (pid, _) in zip((edits.price, edits.name, edits.hide, edits.unlink), picked,
                              strict=True):
        edit(shop, int(pid))

    found = _drift(settings)
    assert {(d.label, d.field) for d in found.differences} == {
        (f"SKU {sku}", name) for (_, sku), name in zip(picked, edits.fields, strict=True)}
    assert cli.main(["-c", str(path), "drift", "--shop", "web"]) == cli.EXIT_PROBLEMS
    out = capsys.readouterr().out
    assert "renamed by hand" in out and "4 difference(s) in 4 product(s)" in out

    assert cli.main(["-c", str(path), "drift", "--shop", "web",
                     "--repair"]) == cli.EXIT_PROBLEMS
    assert "4 product event(s) republished" in capsys.readouterr().out
    assert consume(settings, "web").dead == 0

    repaired = _drift(settings)
    assert repaired.total == 0, list(drift.table(repaired.differences))


def test_a_shop_kind_without_a_drift_reader_says_so(cao_db, phoenix_db, namespace,
                                                      tmp_path: Path, capsys, monkeypatch):
    from consumers.oscommerce.kind import OsCommerceSink

    fill_cao(cao_db, sample.articles(3), [])
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(config_data(namespace, cao_db, [shop_entry("web", phoenix_db)])))
    monkeypatch.delattr(OsCommerceSink, "drift")
    assert cli.main(["-c", str(path), "drift", "--shop", "web"]) == cli.EXIT_CONFIG
    assert "has no drift report yet" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["oscommerce", "virtuemart"])
def test_drift_finds_stock_specials_images_and_withdrawn_products_and_repair_restores_them(
        kind, cao_db, namespace, tmp_path: Path, request):
    from tests.virtuemart_db import PREFIX

    shop = request.getfixturevalue("vm" if kind == "virtuemart" else "phoenix_db")
    rows = sample.articles(12)
    for row in rows:                # insert_rows takes its columns from the first row
        row.update(SHOP_IMAGE=None, SHOP_IMAGE_LARGE=None)
    rows[10].update(SHOP_IMAGE="a/11.jpg", SHOP_IMAGE_LARGE="a/11-large.jpg")
    fill_cao(cao_db, rows, sample.translations(rows))
    with cao_db.engine.begin() as conn:
        sample.cao_catalogue(conn, CAO_CATALOGUE_NAMES, rows, specials=[7],
                             today=date.today())
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(config_data(namespace, cao_db, [_entry(kind, shop)])))
    settings = cfg.load(path)
    sync(settings)
    cao_db.execute("DELETE FROM artikel WHERE REC_ID = 12")
    sync(settings)                                          # withdrawn: hidden in the shop
    assert _drift(settings).total == 0
    if kind == "virtuemart":
        t = f"{PREFIX}virtuemart_"
        pid = f"(SELECT virtuemart_product_id FROM {t}products WHERE product_sku = %s)"
        shop.execute(f"UPDATE {t}products SET product_in_stock = product_in_stock + 5 "
                     f"WHERE product_sku = %s", ("A-000005",))
        shop.execute(f"UPDATE {t}product_prices SET product_override_price = 1 WHERE "
                     f"virtuemart_product_id = {pid} AND product_price_publish_up IS NOT NULL",
                     ("A-000007",))
        shop.execute(f"DELETE FROM {t}products WHERE product_sku = %s", ("A-000009",))
        shop.execute(f"DELETE FROM {t}product_medias WHERE virtuemart_product_id = {pid}",
                      ("A-000011",))
        shop.execute(f"UPDATE {t}products SET published = 1 WHERE product_sku = %s",
                     ("A-000012",))
        special = "prices[group 0]"
    else:
        shop.execute("UPDATE products SET products_quantity = products_quantity + 5 "
                     "WHERE products_model = %s", ("A-000005",))
        shop.execute("UPDATE specials SET specials_new_products_price = 1 WHERE products_id = "
                     "(SELECT products_id FROM products WHERE products_model = %s)",
                     ("A-000007",))
        shop.execute("DELETE FROM products WHERE products_model = %s", ("A-000009",))
        shop.execute("UPDATE products SET products_image = 'other.jpg' WHERE "
                     "products_model = %s", ("A-000011",))
        shop.execute("UPDATE products SET products_status = 1 WHERE products_model = %s",
                     ("A-000012",))
        special = "special"

    fill_cao(cao_db, sample.articles(1, start=13), [])      # new in CAO, not produced yet

    found = _drift(settings)
    assert {(d.label, d.field) for d in found.differences} == {
        ("SKU A-000005", "stock"), ("SKU A-000007", special), ("SKU A-000009", "product"),
        ("SKU A-000011", "images"), ("SKU A-000012", "visible"),
        ("SKU A-000013", "product")}

    _, lines = drift.run(settings, argparse.Namespace(
        shop="web", tenant=None, entity="product", repair=True))
    assert ("5 product event(s) republished to the shop's queue; 1 not yet published by "
            "'shopbridge produce'") in lines[-1] and lines[-1].endswith(": 13")
    assert consume(settings, "web").dead == 0
    assert {d.key for d in _drift(settings).differences} == {"13"}
    sync(settings)                                          # the regular cycle publishes it
    repaired = _drift(settings)
    assert repaired.total == 0, list(drift.table(repaired.differences))


def test_with_the_oversell_guard_drift_expects_the_stock_the_shop_is_sent(
        cao_db, phoenix_db, namespace, tmp_path: Path):
    """B3: a guarded shop is sent CAO's stock less a buffer; drift compares that stock, so a
    synced shop has no difference and a stock edited by hand still is one."""
    fill_cao(cao_db, sample.articles(6), [])
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(config_data(namespace, cao_db, [
        shop_entry("web", phoenix_db, oversell={"enabled": True, "buffer": 2})])))
    settings = cfg.load(path)
    sync(settings)
    cao = {int(k): int(v) for k, v in cao_db.rows("SELECT REC_ID, MENGE_AKT FROM artikel")}
    shop = dict(phoenix_db.rows("SELECT products_model, products_quantity FROM products"))
    assert cao[2] > 2 and shop["A-000002"] == cao[2] - 2     # the guard is on
    assert _drift(settings).total == 0

    phoenix_db.execute("UPDATE products SET products_quantity = %s WHERE products_model = %s",
                       (cao[2], "A-000002"))               # CAO's stock, without the buffer
    found = _drift(settings)
    assert [(d.label, d.field, d.erp) for d in found.differences] == [
        ("SKU A-000002", "stock", str(cao[2] - 2))]
