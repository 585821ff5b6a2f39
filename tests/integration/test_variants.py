"""C8: CAO variant articles -> osCommerce options, option values and priced attributes.

A master "SHIRT" with four children (colour x size, DIM_A x DIM_B) whose ARTNUM is the
master's plus '-' and a suffix; the shop gets two options and four values with a row for
every shop language, and the master's attribute rows with the children's price deltas; each
child is linked to the master so that an order of the master in Blau/XL names the child.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

from consumers.binder import Binder
from consumers.oscommerce.variants import VALUE, VariantWriter
from producers.oscommerce import PhoenixOrderProducer
from shopbridge import cli, sample
from shopbridge import config as cfg
from shopbridge import events as ev
from shopbridge.events import dims_hash
from tests import virtuemart_db
from tests.conftest import config_data, fill_cao, shop_entry
from tests.helpers import storefront, sync, to_toml
from tests.integration.test_order_import import applier_for
from tests.integration.test_order_import import settings as order_settings
from tests.integration.test_order_producer import Item, Order, add_order, drain_erp_queue

EN, DE = 1, 2
NAMES = {"A": {"de": "Farbe", "en": "Colour"}, "B": {"de": "Größe", "en": "Size"}}
# ARTNUM, DIM_A, DIM_B, VK1, VK2, stock
CHILDREN = [("SHIRT-BL-M", "Blau", "M", "20.00", "18.00", 3),
            ("SHIRT-BL-XL", "Blau", "XL", "22.50", "20.00", 2),
            ("SHIRT-RT-M", "Rot", "M", "19.00", "17.00", 5),
            ("SHIRT-RT-XL", "Rot", "XL", "21.50", "19.00", -1)]


def articles(children: list[tuple[Any, ...]] = CHILDREN) -> list[dict[str, Any]]:
    rows = sample.articles(2 + len(children))
    rows[0].update(ARTNUM="SHIRT", KURZNAME="T-Shirt", VK1=Decimal("20.00"),
                   VK2=Decimal("18.00"), MENGE_AKT=Decimal(99))
    rows[1].update(ARTNUM="OTHER")
    for row in rows:
        row.update(DIM_A=None, DIM_B=None)
    for row, (artnum, a, b, vk1, vk2, stock) in zip(rows[2:], children, strict=True):
        row.update(ARTNUM=artnum, DIM_A=a, DIM_B=b, VK1=Decimal(vk1), VK2=Decimal(vk2),
                   MENGE_AKT=Decimal(stock), SHOP_ID=-1)   # children need no shop flags
    return rows


def settings(namespace: str, cao: Any, shops: list[dict[str, Any]],
             enabled: bool = True) -> cfg.Settings:
    data = config_data(namespace, cao, shops)
    data["tenants"][0]["erp"]["variants"] = {"enabled": enabled, "names": NAMES}
    return cfg.parse(data, source="test")


def shop_id(db: Any, model: str) -> int:
    return db.scalar("SELECT products_id FROM products WHERE products_model = %s", (model,))


def attributes(db: Any, model: str, language_id: int = DE) -> dict[tuple[str, str], str]:
    """(option name, value name) -> signed delta, as the product page offers them."""
    rows = db.rows(
        "SELECT po.products_options_name, pov.products_options_values_name, "
        "pa.price_prefix, pa.options_values_price FROM products_attributes pa "
        "JOIN products p ON p.products_id = pa.products_id "
        "JOIN products_options po ON po.products_options_id = pa.options_id "
        "AND po.language_id = %s JOIN products_options_values pov "
        "ON pov.products_options_values_id = pa.options_values_id AND pov.language_id = %s "
        "WHERE p.products_model = %s", (language_id, language_id, model))
    return {(o, v): f"{prefix}{price:.2f}" for o, v, prefix, price in rows}


def tables(db: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {t: [tuple(r) for r in db.rows(f"SELECT * FROM {t} ORDER BY 1, 2, 3")]
            for t in ("products_options", "products_options_values",
                      "products_options_values_to_products_options", "products_attributes")}


SHIRT_VK1 = {("Farbe", "Blau"): "+0.00", ("Farbe", "Rot"): "-1.00",
             ("Größe", "M"): "+0.00", ("Größe", "XL"): "+2.50"}


def test_a_master_with_2x2_children_gets_two_options_four_values_and_priced_attributes(
        cao_db, phoenix_db, namespace):
    """Given a master with children in two colours and two sizes, one sync shows the master
    only, with its options and values in every shop language and the price deltas."""
    fill_cao(cao_db, articles(), [])
    config = settings(namespace, cao_db, [shop_entry("web", phoenix_db)])

    report, stats = sync(config)

    assert stats["web"].dead == 0
    assert report.published["product.upserted"] == 2              # children are no products
    assert set(storefront(phoenix_db, DE)) == {"SHIRT", "OTHER"}
    assert phoenix_db.scalar("SELECT COUNT(*) FROM products") == 2
    assert attributes(phoenix_db, "SHIRT") == SHIRT_VK1
    assert attributes(phoenix_db, "SHIRT", EN) == {
        ("Colour" if o == "Farbe" else "Size", v): d for (o, v), d in SHIRT_VK1.items()}
    assert attributes(phoenix_db, "OTHER") == {}
    assert phoenix_db.rows("SELECT products_options_id, COUNT(*) FROM products_options "
                           "GROUP BY 1 ORDER BY 1") == [(1, 2), (2, 2)]
    assert phoenix_db.scalar("SELECT COUNT(*) FROM products_options_values") == 8
    assert phoenix_db.rows("SELECT products_options_id, COUNT(*) FROM "
                           "products_options_values_to_products_options GROUP BY 1") == [
        (1, 2), (2, 2)]
    # The master's stock is its children's, an oversold one counted as 0.
    assert storefront(phoenix_db, DE)["SHIRT"][2] == 3 + 2 + 5 + 0


def test_a_second_sync_changes_nothing_and_a_master_change_keeps_every_id(
        cao_db, phoenix_db, namespace):
    fill_cao(cao_db, articles(), [])
    config = settings(namespace, cao_db, [shop_entry("web", phoenix_db)])
    sync(config)
    before = tables(phoenix_db)

    report, _ = sync(config)
    assert report.events == 0
    assert tables(phoenix_db) == before

    cao_db.execute("UPDATE artikel SET KURZNAME = 'T-Shirt neu' WHERE ARTNUM = 'SHIRT'")
    report, stats = sync(config)
    assert report.published["product.upserted"] == 1 and stats["web"].dead == 0
    assert tables(phoenix_db) == before


def test_a_new_value_gets_a_new_id_a_removed_child_loses_its_row_and_ids_stay(
        cao_db, phoenix_db, namespace):
    fill_cao(cao_db, articles(), [])
    config = settings(namespace, cao_db, [shop_entry("web", phoenix_db)])
    sync(config)
    values = dict(phoenix_db.rows("SELECT products_options_values_name, "
                                  "products_options_values_id FROM products_options_values "
                                  "WHERE language_id = %s", (DE,)))

    green = articles([*CHILDREN, ("SHIRT-GR-M", "Grün", "M", "21.00", "19.00", 4)])[-1]
    green.update(REC_ID=99)
    fill_cao(cao_db, [green], [])
    sync(config)
    now = dict(phoenix_db.rows("SELECT products_options_values_name, "
                               "products_options_values_id FROM products_options_values "
                               "WHERE language_id = %s", (DE,)))
    assert {k: now[k] for k in values} == values                 # existing ids unchanged
    assert now["Grün"] == max(values.values()) + 1
    assert attributes(phoenix_db, "SHIRT")[("Farbe", "Grün")] == "+1.00"
    assert storefront(phoenix_db, DE)["SHIRT"][2] == 14

    cao_db.execute("DELETE FROM artikel WHERE ARTNUM LIKE 'SHIRT-RT-%%'")
    _, stats = sync(config)
    assert stats["web"].dead == 0
    assert set(attributes(phoenix_db, "SHIRT")) == {
        ("Farbe", "Blau"), ("Farbe", "Grün"), ("Größe", "M"), ("Größe", "XL")}
    assert storefront(phoenix_db, DE)["SHIRT"][2] == 3 + 2 + 4


def test_options_the_merchant_created_keep_their_ids_names_and_attributes(
        cao_db, phoenix_db, namespace):
    """Option 1 and value 1 made in the shop admin: the pipeline takes the next free ids
    and never touches the merchant's rows, also when it rewrites the product's variants."""
    phoenix_db.execute("INSERT INTO products_options (products_options_id, language_id, "
                       "products_options_name) VALUES (1, 1, 'Engraving'), (1, 2, 'Gravur')")
    phoenix_db.execute("INSERT INTO products_options_values (products_options_values_id, "
                       "language_id, products_options_values_name) VALUES (1, 1, 'Yes'), "
                       "(1, 2, 'Ja')")
    fill_cao(cao_db, articles(), [])
    config = settings(namespace, cao_db, [shop_entry("web", phoenix_db)])
    sync(config)
    pid = shop_id(phoenix_db, "SHIRT")
    phoenix_db.execute("INSERT INTO products_attributes (products_id, options_id, "
                       "options_values_id, options_values_price, price_prefix) "
                       "VALUES (%s, 1, 1, 5, '+')", (pid,))

    cao_db.execute("UPDATE artikel SET VK1 = VK1 + 1 WHERE ARTNUM LIKE 'SHIRT-%%-XL'")
    sync(config)

    assert phoenix_db.rows("SELECT products_options_id, language_id, products_options_name "
                           "FROM products_options ORDER BY 1, 2") == [
        (1, 1, "Engraving"), (1, 2, "Gravur"), (2, 1, "Colour"), (2, 2, "Farbe"),
        (3, 1, "Size"), (3, 2, "Größe")]
    assert phoenix_db.scalar("SELECT MIN(products_options_values_id) FROM "
                             "products_options_values WHERE products_options_values_id > 1") == 2
    assert phoenix_db.rows("SELECT products_options_values_name FROM products_options_values "
                           "WHERE products_options_values_id = 1 ORDER BY language_id") == [
        ("Yes",), ("Ja",)]
    assert attributes(phoenix_db, "SHIRT") == {**SHIRT_VK1, ("Gravur", "Ja"): "+5.00",
                                              ("Größe", "XL"): "+3.50"}


def test_two_shops_with_different_price_levels_get_their_own_deltas(
        cao_db, phoenix_factory, namespace):
    retail, trade = phoenix_factory(), phoenix_factory()
    fill_cao(cao_db, articles(), [])
    config = settings(namespace, cao_db, [shop_entry("retail", retail),
                                          shop_entry("trade", trade, price_level=2)])
    sync(config)

    assert attributes(retail, "SHIRT") == SHIRT_VK1
    assert attributes(trade, "SHIRT") == {("Farbe", "Blau"): "+0.00", ("Farbe", "Rot"): "-1.00",
                                          ("Größe", "M"): "+0.00", ("Größe", "XL"): "+2.00"}


def test_children_published_before_variants_were_enabled_are_hidden(
        cao_db, phoenix_db, namespace):
    fill_cao(cao_db, articles(), [])
    cao_db.execute("UPDATE artikel SET SHOP_ID = 1")
    shops = [shop_entry("web", phoenix_db)]
    sync(settings(namespace, cao_db, shops, enabled=False))
    assert len(storefront(phoenix_db, DE)) == 6

    report, stats = sync(settings(namespace, cao_db, shops))

    assert report.published["product.deleted"] == 4 and stats["web"].dead == 0
    assert set(storefront(phoenix_db, DE)) == {"SHIRT", "OTHER"}
    assert attributes(phoenix_db, "SHIRT") == SHIRT_VK1


def test_a_childs_stock_change_reaches_the_master_through_the_stock_scan(
        cao_db, phoenix_db, namespace):
    fill_cao(cao_db, articles(), [])
    config = settings(namespace, cao_db, [shop_entry("web", phoenix_db)])
    sync(config)

    cao_db.execute("UPDATE artikel SET MENGE_AKT = 13 WHERE ARTNUM = 'SHIRT-RT-M'")
    report, _ = sync(config)

    assert dict(report.published) == {"stock.changed": 1}
    assert storefront(phoenix_db, DE)["SHIRT"][2] == 3 + 2 + 13 + 0


def test_two_children_changing_in_opposite_directions_reach_virtuemart_and_keep_the_sum(
        cao_db, phoenix_db, vm, namespace):
    """A VirtueMart child is a product with its own stock; osCommerce shows the master's
    sum. Two children changing in opposite directions keep the sum, and the stock scan
    still publishes the master's stock.changed (v2, with every child's stock)."""
    fill_cao(cao_db, articles(), [])
    config = settings(namespace, cao_db, [shop_entry("web", phoenix_db),
                                          virtuemart_db.shop_entry("vm", vm)])
    sync(config)
    assert vm_stocks(vm) == {"SHIRT": 10, "SHIRT-BL-M": 3, "SHIRT-BL-XL": 2,
                             "SHIRT-RT-M": 5, "SHIRT-RT-XL": 0}

    cao_db.execute("UPDATE artikel SET MENGE_AKT = MENGE_AKT + 4 WHERE ARTNUM = 'SHIRT-BL-M'")
    cao_db.execute("UPDATE artikel SET MENGE_AKT = MENGE_AKT - 4 WHERE ARTNUM = 'SHIRT-RT-M'")
    report, stats = sync(config)

    assert dict(report.published) == {"stock.changed": 1}
    assert vm_stocks(vm) == {"SHIRT": 10, "SHIRT-BL-M": 7, "SHIRT-BL-XL": 2,
                             "SHIRT-RT-M": 1, "SHIRT-RT-XL": 0}
    assert (stats["vm"].applied, stats["vm"].dead) == (1, 0)
    assert storefront(phoenix_db, DE)["SHIRT"][2] == 10            # the same sum
    assert (stats["web"].applied, stats["web"].skipped, stats["web"].dead) == (0, 1, 0)
    # What was published is recorded: nothing more to publish.
    assert sync(config)[0].events == 0


def vm_stocks(vm: Any) -> dict[str, int]:
    """Stock by SKU of the shirt's VirtueMart products (parent and children)."""
    return {sku: int(stock) for sku, stock in vm.rows(
        f"SELECT product_sku, product_in_stock FROM {virtuemart_db.PREFIX}virtuemart_products "
        f"WHERE product_sku LIKE 'SHIRT%%'")}


def test_prices_that_are_not_additive_per_dimension_dead_letter_naming_the_variant(
        cao_db, phoenix_db, namespace):
    fill_cao(cao_db, articles(), [])
    cao_db.execute("UPDATE artikel SET VK1 = 30 WHERE ARTNUM = 'SHIRT-RT-XL'")
    config = settings(namespace, cao_db, [shop_entry("web", phoenix_db)])

    _, stats = sync(config)

    assert stats["web"].dead == 1
    assert set(storefront(phoenix_db, DE)) == {"OTHER"}


def variant_links(db: Any) -> dict[int, tuple[int, str]]:
    """Child REC_ID -> (master products_id, hash of its values), as the order producer reads."""
    return {int(key): (target, digest) for key, target, digest in db.rows(
        "SELECT entity_key, target_id, content_hash FROM shopbridge_link "
        "WHERE entity_type = 'variant'")}


def test_each_child_is_linked_to_its_master_until_it_leaves_and_a_removed_master_keeps_them(
        cao_db, phoenix_db, namespace):
    """The links the order producer maps ordered values back through: one per child, gone
    with the child, kept when the master leaves the shop (an order may still arrive)."""
    fill_cao(cao_db, articles(), [])
    config = settings(namespace, cao_db, [shop_entry("web", phoenix_db)])
    sync(config)
    rec = dict(cao_db.rows("SELECT ARTNUM, REC_ID FROM artikel"))
    shirt = shop_id(phoenix_db, "SHIRT")
    assert variant_links(phoenix_db) == {
        rec[artnum]: (shirt, dims_hash({"A": a, "B": b})) for artnum, a, b, *_ in CHILDREN}

    cao_db.execute("DELETE FROM artikel WHERE ARTNUM LIKE 'SHIRT-RT-%%'")
    sync(config)
    kept = variant_links(phoenix_db)
    assert set(kept) == {rec["SHIRT-BL-M"], rec["SHIRT-BL-XL"]}

    cao_db.execute("UPDATE artikel SET SHOP_ID = -1 WHERE ARTNUM = 'SHIRT'")
    report, stats = sync(config)
    assert report.published["product.deleted"] == 1 and stats["web"].dead == 0
    assert "SHIRT" not in storefront(phoenix_db, DE)
    assert variant_links(phoenix_db) == kept


def test_an_ordered_variant_names_the_child_article_and_a_missing_combination_its_values(
        erp, cao_db, phoenix_db, namespace):
    """Given the shirt synced and its child Rot/XL then deleted in CAO, an order line in
    Farbe Blau / Größe XL names SHIRT-BL-XL's REC_ID as its variant (the master stays the
    line's article, the options stay text); Rot/XL, still offered (osCommerce has no
    combinations), has its values and erp_id null: a note for the ERP, not a failure."""
    fill_cao(cao_db, articles(), [])
    config = settings(namespace, cao_db, [shop_entry("web", phoenix_db)])
    sync(config)
    cao_db.execute("DELETE FROM artikel WHERE ARTNUM = 'SHIRT-RT-XL'")
    _, stats = sync(config)
    assert stats["web"].dead == 0
    rec = dict(cao_db.rows("SELECT ARTNUM, REC_ID FROM artikel"))
    shirt = shop_id(phoenix_db, "SHIRT")

    def line(colour: str, size: str, colour_delta: str, size_delta: str) -> Item:
        return Item(shirt, "T-Shirt", Decimal("20.0000"), Decimal("22.5000"), model="SHIRT",
                    attributes=[("Farbe", colour, abs(Decimal(colour_delta)),
                                 "-" if colour_delta.startswith("-") else "+"),
                                ("Größe", size, Decimal(size_delta), "+")])

    add_order(phoenix_db, Order(items=[line("Blau", "XL", "0", "2.5"),
                                       line("Rot", "XL", "-1", "2.5")]))
    producer = PhoenixOrderProducer(broker=config.broker, shop=config.tenants[0].shop("web"))
    try:
        producer.prepare()
        assert producer.run_once().published == 1
    finally:
        producer.close()

    [event] = drain_erp_queue(config)
    blue, red = event["payload"]["items"]
    assert (blue["erp_id"], blue["sku"]) == (rec["SHIRT"], "SHIRT")
    assert blue["variant"] == {"erp_id": rec["SHIRT-BL-XL"], "dims": {"A": "Blau", "B": "XL"}}
    assert [(a["option"], a["value"]) for a in blue["attributes"]] == [
        ("Farbe", "Blau"), ("Größe", "XL")]
    assert red["variant"] == {"erp_id": None, "dims": {"A": "Rot", "B": "XL"}}

    # ... and CAO books the child for Blau/XL, the master (with a note) for Rot/XL.
    importer = order_settings(namespace, erp, payment_methods={"Vorkasse": 1})
    shirt_before = erp.rows("SELECT * FROM artikel WHERE ARTNUM = 'SHIRT'")
    assert applier_for(importer, erp).apply([ev.parse(event)]).applied == 1
    booked = erp.rows("SELECT ARTIKEL_ID, ARTNUM, BEZEICHNUNG FROM journalpos "
                      "WHERE ARTIKEL_ID > 0 ORDER BY POSITION")
    assert [b[:2] for b in booked] == [(rec["SHIRT-BL-XL"], "SHIRT-BL-XL"),
                                       (rec["SHIRT"], "SHIRT")]
    assert booked[0][2].startswith("T-Shirt\nFarbe: Blau\nGröße: XL")
    assert "Variante A=Rot / B=XL hat keinen eigenen Artikel in CAO" in booked[1][2]
    assert erp.rows("SELECT * FROM artikel WHERE ARTNUM = 'SHIRT'") == shirt_before


def test_two_consumers_allocating_value_ids_at_once_never_take_the_same_id(phoenix_db):
    """The first allocation holds the allocator row until commit; the second waits, then
    takes the next id."""
    binder, engine = Binder(), phoenix_db.engine.execution_options(
        isolation_level="READ COMMITTED")
    with engine.begin() as conn:
        binder.ensure_table(conn)
    writer = VariantWriter(binder=binder, language_ids={"en": 1})
    ids: dict[str, dict[str, int]] = {}
    first_holds = threading.Event()

    def second() -> None:
        first_holds.wait(5)
        with engine.begin() as conn:
            ids["second"] = writer._ids(conn, VALUE, ["A:Rot"], "products_options_values",
                                        "products_options_values_id")
            conn.exec_driver_sql("INSERT INTO products_options_values VALUES (%s, 1, 'Rot', 0)",
                                 (ids["second"]["A:Rot"],))

    thread = threading.Thread(target=second)
    thread.start()
    with engine.begin() as conn:
        ids["first"] = writer._ids(conn, VALUE, ["A:Blau"], "products_options_values",
                                   "products_options_values_id")
        conn.exec_driver_sql("INSERT INTO products_options_values VALUES (%s, 1, 'Blau', 0)",
                             (ids["first"]["A:Blau"],))
        first_holds.set()
        thread.join(0.5)
        assert thread.is_alive()                     # waiting for the allocator row
    thread.join(10)
    assert ids == {"first": {"A:Blau": 1}, "second": {"A:Rot": 2}}


def test_check_names_a_dimension_in_use_without_an_option_name(cao_db, phoenix_db, namespace,
                                                                tmp_path, capsys):
    fill_cao(cao_db, articles(), [])
    data = config_data(namespace, cao_db, [shop_entry("web", phoenix_db)])
    data["tenants"][0]["erp"]["variants"] = {"enabled": True, "names": {"A": NAMES["A"]}}
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(data))

    code = cli.main(["-c", str(path), "check"])

    out = capsys.readouterr().out
    assert code == cli.EXIT_PROBLEMS
    assert ("PROBLEM  tenant acme: variants: 4 child article(s) use DIM_B, which has no "
            "option name") in out
    assert "tenant acme: variants: 1 master(s) with 4 child article(s)" in out
