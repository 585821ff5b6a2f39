"""CAO-Faktura (real DDL) -> RabbitMQ -> CE Phoenix (upstream install SQL), end to end."""

from __future__ import annotations

from decimal import Decimal

from shopbridge import sample
from tests.conftest import fill_cao, settings_for, shop_entry, upper_case_tables
from tests.helpers import storefront, sync

EN, DE = 1, 2


def _catalogue() -> tuple[list[dict], list[dict]]:
    rows = sample.articles(6, shop_ids=(1,))
    rows[0].update(KURZNAME="Gießkanne „Größe XL“ – grün", VK1=Decimal("12.5000"),
                   VK1B=Decimal("14.8750"), MENGE_AKT=Decimal("7.0000"), STEUER_CODE=2)
    rows[1].update(SHOP_LANGTEXT="<p>" + "Sehr lange Beschreibung mit Ümläuten. " * 1500 + "</p>")
    rows[2].update(SHOP_VISIBLE=0)               # hidden in the ERP: not created in the shop
    rows[3].update(SHOP_ID=2)                    # another CAO shop: not this shop's product
    rows[4].update(MENGE_AKT=Decimal("-4.0000"))  # negative stock -> 0 in 'available'
    english = sample.translations(rows[:1])
    english[0].update(KURZNAME="Watering can <XL>", SHOP_LANGTEXT="<p>English text</p>")
    return rows, english


def test_articles_reach_the_storefront_with_name_model_price_and_stock(
        cao_db, phoenix_db, namespace):
    """Given CAO articles with umlauts, a long description and two languages, one sync makes
    exactly the selected ones visible by Phoenix's own rule, with the right values."""
    rows, english = _catalogue()
    fill_cao(cao_db, rows, english)
    settings = settings_for(namespace, cao_db, [shop_entry("web", phoenix_db)])

    report, stats = sync(settings)

    assert report.published["product.upserted"] == 6
    assert stats["web"].dead == 0
    german = storefront(phoenix_db, DE)
    assert set(german) == {"A-000001", "A-000002", "A-000005", "A-000006"}
    assert german["A-000001"] == ("Gießkanne „Größe XL“ – grün", Decimal("12.5000"), 7)
    assert german["A-000005"][2] == 0
    english_view = storefront(phoenix_db, EN)
    assert english_view["A-000001"][0] == "Watering can &lt;XL&gt;"   # no markup in names
    assert english_view["A-000002"][0] == german["A-000002"][0]        # falls back to German
    long_text = phoenix_db.scalar(
        "SELECT pd.products_description FROM products_description pd JOIN products p "
        "USING (products_id) WHERE p.products_model = 'A-000002' AND pd.language_id = %s", (DE,))
    assert len(long_text) > 50_000 and "Ümläuten" in long_text
    assert phoenix_db.scalar("SELECT products_tax_class_id FROM products "
                             "WHERE products_model = 'A-000001'") == 1


def test_a_change_rewrites_only_the_changed_product_and_an_idle_run_publishes_nothing(
        cao_db, phoenix_db, namespace):
    rows, english = _catalogue()
    fill_cao(cao_db, rows, english)
    settings = settings_for(namespace, cao_db, [shop_entry("web", phoenix_db)])
    sync(settings)
    versions = "SELECT entity_key, CONCAT(version, '/', stock_version) FROM shopbridge_link"
    before = dict(phoenix_db.rows(versions))

    idle, _ = sync(settings)
    assert idle.events == 0

    cao_db.execute("UPDATE artikel SET VK1 = 13.9900 WHERE REC_ID = 1")
    cao_db.execute("UPDATE artikel SET KURZNAME = 'Neuer Name' WHERE REC_ID = 2")
    cao_db.execute("UPDATE artikel SET MENGE_AKT = 99 WHERE REC_ID = 6")
    report, _ = sync(settings)

    assert dict(report.published) == {"product.upserted": 2, "stock.changed": 1}
    after = dict(phoenix_db.rows(versions))
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed == {"1", "2", "6"}
    german = storefront(phoenix_db, DE)
    assert german["A-000001"][1] == Decimal("13.9900")
    assert german["A-000002"][0] == "Neuer Name"
    assert german["A-000006"][2] == 99


def test_deleted_and_deselected_articles_are_hidden_not_deleted(cao_db, phoenix_db, namespace):
    rows, english = _catalogue()
    fill_cao(cao_db, rows, english)
    settings = settings_for(namespace, cao_db, [shop_entry("web", phoenix_db)])
    sync(settings)

    cao_db.execute("DELETE FROM artikel WHERE REC_ID = 1")
    cao_db.execute("UPDATE artikel SET SHOP_ID = -1 WHERE REC_ID = 2")   # leaves the selection
    cao_db.execute("UPDATE artikel SET SHOP_VISIBLE = 0 WHERE REC_ID = 5")  # leaves the filter
    report, _ = sync(settings)

    assert report.published["product.deleted"] == 2
    assert set(storefront(phoenix_db, DE)) == {"A-000006"}
    assert phoenix_db.scalar("SELECT COUNT(*) FROM products") == 4   # rows stay for orders

    cao_db.execute("UPDATE artikel SET SHOP_ID = 1 WHERE REC_ID = 2")   # and comes back
    sync(settings)
    assert set(storefront(phoenix_db, DE)) == {"A-000002", "A-000006"}


def test_upper_case_cao_table_names_are_found(make_db, phoenix_db, namespace):
    """CAO's code says ARTIKEL; on Linux the tables may really be upper case (NOTES 2)."""
    from tests.conftest import CAO_SQL, require_reference

    cao = make_db("caoupper", upper_case_tables(require_reference(CAO_SQL)), charset="latin1")
    names = {k: k for k in ("ARTIKEL", "ARTIKEL_LTEXT", "SPRACHEN", "REGISTRY")}
    with cao.engine.begin() as conn:
        sample.cao_reference_data(conn, names)
    fill_cao(cao, sample.articles(3), [], names)
    settings = settings_for(namespace, cao, [shop_entry("web", phoenix_db)])

    report, _ = sync(settings)

    assert report.published["product.upserted"] == 3
    assert len(storefront(phoenix_db, DE)) == 3
