"""One test per osCommerce (CE Phoenix) catalogue trap of reference/oscommerce/NOTES.md 1-3
that no other test already covers (docs/phoenix-traps.md maps every trap to its test).

Each test drives the real pipeline (CAO from the real DDL -> RabbitMQ -> Phoenix from the
upstream install SQL) into the situation the trap describes and fails if the sync steps in.
Where the shop acts on its own (checkout, the specials expiry hook), the test runs the SQL the
shop runs, as quoted in NOTES.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from consumers.oscommerce import PhoenixApplier
from consumers.runner import ShopConsumer
from shopbridge import cli, dlq, sample
from shopbridge import config as cfg
from tests.conftest import Database, config_data, fill_cao, settings_for, shop_entry
from tests.helpers import full_sync, produce, storefront, sync, to_toml

EN, DE = 1, 2
STRICT = "STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO"
# What Phoenix runs on every storefront request (NOTES 2, specials::expire).
EXPIRE_HOOK = ("UPDATE specials SET status = 0, date_status_change = NOW() WHERE status = 1 "
               "AND NOW() >= expires_date AND expires_date > 0")


def _settings(cao: Database, shop: Database, namespace: str, **overrides: Any) -> cfg.Settings:
    return settings_for(namespace, cao, [shop_entry("web", shop, **overrides)])


def _product(db: Database, model: str, columns: str) -> tuple[Any, ...]:
    rows = db.rows(f"SELECT {columns} FROM products WHERE products_model = %s", (model,))
    assert len(rows) == 1, f"{len(rows)} products rows for {model}"
    return tuple(rows[0])


def _checkout(db: Database, model: str, qty: int, *, allow_checkout: bool = True) -> None:
    """What Phoenix's checkout does to the product (NOTES 2): STOCK_LIMITED decrements the
    stock and bumps products_ordered; with STOCK_ALLOW_CHECKOUT 'false' it also sets status 0
    when the stock falls below 1."""
    db.execute("UPDATE products SET products_quantity = products_quantity - %s, "
               "products_ordered = products_ordered + %s WHERE products_model = %s",
               (qty, qty, model))
    if not allow_checkout:
        db.execute("UPDATE products SET products_status = 0 WHERE products_model = %s "
                   "AND products_quantity < 1", (model,))


def _letters(settings: cfg.Settings) -> dict[str, Any]:
    """Dead letters of shop 'web' by entity key."""
    return {d.entity_key: d for d in dlq.list_dead(settings.broker,
                                                   settings.tenants[0].shop("web"))}


def _add_category(cao: Database, kat_id: int, name: str, articles: tuple[int, ...] = ()) -> None:
    cao.execute("INSERT INTO artikel_kat (SHOP_ID, ID, TOP_ID, NAME) VALUES (1, %s, -1, %s)",
                (kat_id, name))
    for article in articles:
        cao.execute("INSERT INTO artikel_to_kat (SHOP_ID, ARTIKEL_ID, KAT_ID) VALUES (1, %s, %s)",
                    (article, kat_id))


def _add_manufacturer(cao: Database, key: int, name: str) -> None:
    cao.execute("INSERT INTO hersteller (SHOP_ID, HERSTELLER_ID, HERSTELLER_NAME) "
                "VALUES (1, %s, %s)", (key, name))


def _add_special(cao: Database, article: int, price: str, start: date | None,
                 until: date | None) -> None:
    cao.execute("INSERT INTO artikel_preis (ARTIKEL_ID, ADRESS_ID, PREIS_TYP, PT2, PREIS, "
                "GUELTIG_VON, GUELTIG_BIS) VALUES (%s, -1, 0, 'AP', %s, %s, %s)",
                (article, price, start, until))


def _shop_today(db: Database) -> date:
    """The shop database's date: Phoenix compares with the server's NOW() (NOTES 1)."""
    return db.scalar("SELECT CURDATE()")


# -- NOTES 1: general conventions ------------------------------------------------------------


def test_trap_strict_sql_mode_needs_every_not_null_column_without_default_filled(
        cao_db, phoenix_db, namespace):
    """NOTES 1/2: a sync that keeps strict sql_mode must fill every NOT NULL column without a
    default (products_quantity, _price, _date_added, _weight, _status, _tax_class_id;
    categories_name; manufacturers_name, manufacturers_url; specials price). The consumer runs
    with a session forced to strict mode, whatever the server's own mode is."""
    rows = sample.articles(3)
    rows[0]["HERSTELLER_ID"] = 7
    fill_cao(cao_db, rows, [])
    _add_manufacturer(cao_db, 7, "Gardena")
    _add_category(cao_db, 10, "Garten", articles=(1, 2))
    _add_special(cao_db, 1, "1.99", None, None)
    settings = _settings(cao_db, phoenix_db, namespace)
    shop = settings.tenants[0].shop("web")
    engine = sa.create_engine(shop.db.sqlalchemy_url(), connect_args={
        "charset": "utf8mb4", "init_command": f"SET SESSION sql_mode = '{STRICT}'"})
    with engine.connect() as conn:
        assert "STRICT_ALL_TABLES" in conn.exec_driver_sql("SELECT @@SESSION.sql_mode").scalar()
    applier = PhoenixApplier(shop=shop, engine=engine)
    produce(settings)
    try:
        stats = ShopConsumer(broker=settings.broker, shop=shop, applier=applier).run(
            idle_exit_s=0.6)
    finally:
        applier.close()

    assert stats.dead == 0 and stats.retried == 0
    assert set(storefront(phoenix_db, DE)) == {"A-000001", "A-000002", "A-000003"}
    counts = {t: phoenix_db.scalar(f"SELECT COUNT(*) FROM {t}") for t in (
        "products_description", "products_to_categories", "categories_description",
        "manufacturers_info", "specials")}
    assert counts == {"products_description": 6, "products_to_categories": 2,
                      "categories_description": 2, "manufacturers_info": 2, "specials": 1}


def test_trap_text_is_stored_as_raw_utf8_not_html_entities(cao_db, phoenix_db, namespace):
    """NOTES 1: the shop stores raw UTF-8 (admin saves with trim() only). Umlauts and '&' in
    category and manufacturer names arrive as they are, not as '&uuml;' or '&amp;' (product
    names and descriptions: test_sync.test_articles_reach_the_storefront_with_name_...)."""
    rows = sample.articles(1)
    rows[0]["HERSTELLER_ID"] = 7
    fill_cao(cao_db, rows, [])
    _add_manufacturer(cao_db, 7, "Müller & Söhne")
    _add_category(cao_db, 10, "Gartengeräte & Zubehör „Größe“ – 5 €", articles=(1,))

    sync(_settings(cao_db, phoenix_db, namespace))

    category = "Gartengeräte & Zubehör „Größe“ – 5 €"
    assert {r[0] for r in phoenix_db.rows("SELECT categories_name FROM categories_description")
            } == {category}
    assert phoenix_db.scalar("SELECT HEX(categories_name) FROM categories_description LIMIT 1"
                             ) == category.encode("utf-8").hex().upper()
    assert phoenix_db.scalar("SELECT manufacturers_name FROM manufacturers") == "Müller & Söhne"


def test_backslashes_and_quotes_in_texts_arrive_as_they_are(cao_db, phoenix_db, namespace):
    """The shop's connections escape values by doubling quotes (NO_BACKSLASH_ESCAPES,
    shopbridge.db.quote_escaping): a backslash is then an ordinary character and must arrive
    as one, also next to a quote, and an update of the text is written the same way."""
    text = "O'Brien \\' \\\\ \\n \\%_ 'x' \"y\" \\"
    rows = sample.articles(1)
    rows[0]["KURZNAME"] = text
    rows[0]["SHOP_LANGTEXT"] = f"<p>{text}</p>"
    fill_cao(cao_db, rows, [])
    settings = _settings(cao_db, phoenix_db, namespace)

    sync(settings)
    assert phoenix_db.rows("SELECT products_name, products_description FROM "
                           "products_description WHERE language_id = %s", (DE,)
                           ) == [(text, f"<p>{text}</p>")]

    cao_db.execute("UPDATE artikel SET KURZNAME = %s WHERE REC_ID = 1", (text + "\\'",))
    sync(settings)
    assert phoenix_db.scalar("SELECT products_name FROM products_description "
                             "WHERE language_id = %s", (DE,)) == text + "\\'"


def test_seo_texts_that_no_product_of_a_batch_has_are_null(cao_db, phoenix_db, namespace):
    """A batch leaves out the text columns none of its products has (fewer values to escape):
    they are NULL all the same, beside a product that has them, and a text the ERP removes
    later becomes NULL again, also where no product of that batch has one."""
    fill_cao(cao_db, sample.articles(2), [])
    cao_db.execute("UPDATE artikel SET SHOP_META_TITEL = 'Titel' WHERE REC_ID = 1")
    settings = _settings(cao_db, phoenix_db, namespace)
    seo = ("SELECT p.products_model, d.products_seo_title, d.products_seo_description, "
           "d.products_seo_keywords FROM products_description d JOIN products p "
           "ON p.products_id = d.products_id WHERE d.language_id = %s ORDER BY 1")

    sync(settings)
    assert phoenix_db.rows(seo, (DE,)) == [("A-000001", "Titel", None, None),
                                           ("A-000002", None, None, None)]

    cao_db.execute("UPDATE artikel SET SHOP_META_TITEL = NULL, SHOP_META_KEY = 'k' "
                   "WHERE REC_ID = 1")
    sync(settings)
    assert phoenix_db.rows(seo, (DE,)) == [("A-000001", None, None, "k"),
                                           ("A-000002", None, None, None)]


def test_a_shop_that_gave_an_optional_text_a_default_gets_null_written(
        cao_db, phoenix_db, namespace):
    """A shop whose admin gave products_seo_title a default ('x'): the consumer reads the
    schema, so that column is sent even where no product of the batch has a title, and a
    title the ERP removes becomes NULL, not the shop's default."""
    phoenix_db.execute("ALTER TABLE products_description MODIFY products_seo_title "
                       "VARCHAR(255) NULL DEFAULT 'x'")
    fill_cao(cao_db, sample.articles(1), [])
    cao_db.execute("UPDATE artikel SET SHOP_META_TITEL = 'Titel' WHERE REC_ID = 1")
    settings = _settings(cao_db, phoenix_db, namespace)
    title = "SELECT products_seo_title FROM products_description WHERE language_id = %s"

    sync(settings)
    assert phoenix_db.scalar(title, (DE,)) == "Titel"
    cao_db.execute("UPDATE artikel SET SHOP_META_TITEL = NULL WHERE REC_ID = 1")
    sync(settings)
    assert phoenix_db.scalar(title, (DE,)) is None


def test_trap_category_names_are_printed_unescaped_so_they_carry_no_markup(
        cao_db, phoenix_db, namespace):
    """NOTES 1: names are printed unescaped (assumed for categories too): no '<' or '>' may
    reach categories_name, while categories_description stays HTML."""
    fill_cao(cao_db, sample.articles(1), [])
    _add_category(cao_db, 10, "Sale <b>jetzt</b>", articles=(1,))
    cao_db.execute("UPDATE artikel_kat SET BESCHREIBUNG = '<p>Alles <b>billig</b></p>'")

    sync(_settings(cao_db, phoenix_db, namespace))

    names = phoenix_db.rows("SELECT categories_name, categories_description "
                            "FROM categories_description")
    assert len(names) == 2
    assert all("<" not in n and ">" not in n and "jetzt" in n for n, _ in names)
    assert {d for _, d in names} == {"<p>Alles <b>billig</b></p>"}


def test_trap_manufacturer_names_are_printed_unescaped_so_they_carry_no_markup(
        cao_db, phoenix_db, namespace):
    """NOTES 1: manufacturer names are assumed printed unescaped (product page, listing
    filter): no '<' or '>' may reach manufacturers_name."""
    rows = sample.articles(1)
    rows[0]["HERSTELLER_ID"] = 7
    fill_cao(cao_db, rows, [])
    _add_manufacturer(cao_db, 7, "Acme <i>Pro</i>")

    sync(_settings(cao_db, phoenix_db, namespace))

    name = phoenix_db.scalar("SELECT manufacturers_name FROM manufacturers")
    assert "<" not in name and ">" not in name and "Pro" in name
    assert _product(phoenix_db, "A-000001", "manufacturers_id")[0] is not None


def test_trap_product_descriptions_stay_html(cao_db, phoenix_db, namespace):
    """NOTES 1: products_description is HTML by design: unlike the name it is not escaped."""
    rows = sample.articles(1)
    rows[0]["SHOP_LANGTEXT"] = "<p>Maße: 3 &lt; 4 <b>fett</b></p><ul><li>eins</li></ul>"
    fill_cao(cao_db, rows, [])

    sync(_settings(cao_db, phoenix_db, namespace))

    texts = {r[0] for r in phoenix_db.rows("SELECT products_description "
                                           "FROM products_description")}
    assert texts == {"<p>Maße: 3 &lt; 4 <b>fett</b></p><ul><li>eins</li></ul>"}


def test_trap_a_product_name_that_outgrows_varchar_255_once_escaped_is_refused_by_name(
        cao_db, phoenix_db, namespace):
    """NOTES 1/2: names lose '<'/'>' as '&lt;'/'&gt;', which makes them longer; a name that no
    longer fits products_name varchar(255) is a mapping error naming the field, not a cut name
    (non-strict server) or an anonymous database error, and the other products land."""
    rows = sample.articles(2)
    rows[0]["KURZNAME"] = "<>" * 40                         # 80 characters in CAO, 320 escaped
    fill_cao(cao_db, rows, [])
    settings = _settings(cao_db, phoenix_db, namespace)

    _, stats = sync(settings)

    assert set(storefront(phoenix_db, DE)) == {"A-000002"}
    assert stats["web"].dead == 1
    letter = _letters(settings)["1"]
    assert letter.error_class == "MappingError"
    assert "payload.texts.de.name" in letter.error


def test_trap_every_shop_language_needs_a_description_row_so_check_names_unconfigured_ones(
        cao_db, phoenix_db, namespace, tmp_path, capsys):
    """NOTES 1/2: write one row per languages_id that exists; a missing products_description
    row makes the product 'not found' in that language. A shop language left out of the
    configuration gets no rows, so ``shopbridge check`` reports it."""
    fill_cao(cao_db, sample.articles(1), [])
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(config_data(namespace, cao_db,
                                        [shop_entry("web", phoenix_db, languages=["de"])])))

    code = cli.main(["-c", str(path), "check"])

    problems = [x for x in capsys.readouterr().out.splitlines() if x.startswith("PROBLEM")]
    assert code == cli.EXIT_PROBLEMS
    assert any("shop language 'en' (id 1)" in p and "not found" in p for p in problems)


def test_trap_a_language_added_later_gets_a_description_row_for_every_product(
        cao_db, phoenix_db, namespace):
    """NOTES 1/2: a new storefront language needs rows in every *_description table for its
    id; products without one are 'not found' in it. The regular cycle sends nothing (the ERP
    did not change): the full sync (P3) brings them."""
    fill_cao(cao_db, sample.articles(2), [])
    sync(_settings(cao_db, phoenix_db, namespace))
    phoenix_db.execute("INSERT INTO languages (languages_id, name, code, image, directory, "
                       "sort_order) VALUES (3, 'Français', 'fr', 'icon.gif', 'french', 3)")

    settings = _settings(cao_db, phoenix_db, namespace, languages=["de", "en", "fr"])
    sync(settings)
    assert storefront(phoenix_db, 3) == {}

    report, stats = full_sync(settings, "web")

    assert set(storefront(phoenix_db, 3)) == {"A-000001", "A-000002"}
    assert {s.scan: s.now for s in report.scans}["product"] == 2 and stats.dead == 0


def test_trap_a_negative_price_is_refused_naming_the_field(cao_db, phoenix_db, namespace):
    """NOTES 1: money is decimal(15,4), net, and the storefront shows it as it is: a negative
    ERP price is a mapping error naming the price field, and the other products land."""
    rows = sample.articles(2)
    rows[1]["VK1"] = Decimal("-1.0000")
    fill_cao(cao_db, rows, [])
    settings = _settings(cao_db, phoenix_db, namespace)

    sync(settings)

    assert set(storefront(phoenix_db, DE)) == {"A-000001"}
    letter = _letters(settings)["2"]
    assert letter.error_class == "MappingError" and "payload.prices.1.net" in letter.error


def test_trap_prices_are_in_the_shops_default_currency_so_check_reports_a_usd_shop(
        cao_db, phoenix_db, namespace, tmp_path, capsys):
    """NOTES 1: products_price is in DEFAULT_CURRENCY, which a fresh install sets to USD. CAO's
    EUR prices in such a shop are shown as dollars, so ``check`` must report it; and the
    default currency's value must be 1 (a fresh install has EUR at 0.8522)."""
    fill_cao(cao_db, sample.articles(1), [])
    phoenix_db.execute("UPDATE configuration SET configuration_value = 'USD' "
                       "WHERE configuration_key = 'DEFAULT_CURRENCY'")   # as installed
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(config_data(namespace, cao_db, [shop_entry("web", phoenix_db)])))

    cli.main(["-c", str(path), "check"])
    assert "DEFAULT_CURRENCY is 'USD', but the ERP's prices are EUR" in capsys.readouterr().out

    phoenix_db.execute("UPDATE configuration SET configuration_value = 'EUR' "
                       "WHERE configuration_key = 'DEFAULT_CURRENCY'")
    phoenix_db.execute("UPDATE currencies SET value = 0.8522 WHERE code = 'EUR'")
    cli.main(["-c", str(path), "check"])
    assert "currency EUR has value 0.8522" in capsys.readouterr().out

    phoenix_db.execute("UPDATE currencies SET value = 1 WHERE code = 'EUR'")
    cli.main(["-c", str(path), "check"])
    assert "currency" not in capsys.readouterr().out.replace("DEFAULT_CURRENCY", "")


@pytest.fixture
def shop_time_zone_ahead(monkeypatch: pytest.MonkeyPatch, phoenix_db: Database
                         ) -> Iterator[date]:
    """This process's local time a calendar day ahead of the shop database's NOW(); yields
    the database's date."""
    db_now = phoenix_db.scalar("SELECT NOW()")
    # Etc/GMT-14 is UTC+14; pick whichever side puts the local date on another day.
    zone = "Etc/GMT-14" if db_now.hour >= 10 else "Etc/GMT+12"
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        assert datetime.now().date() != db_now.date()
        yield db_now.date()
    finally:
        monkeypatch.undo()
        time.tzset()


def test_trap_dates_are_compared_with_the_shop_databases_now(cao_db, phoenix_db, namespace,
                                                            shop_time_zone_ahead):
    """NOTES 1: Phoenix compares dates with MariaDB's NOW() in the database's time zone. A
    special that starts on the shop database's today is on, and one that ended on its
    yesterday is off, even when the consumer's local clock is on another day."""
    today = shop_time_zone_ahead
    fill_cao(cao_db, sample.articles(2), [])
    _add_special(cao_db, 1, "1.00", today, today)
    _add_special(cao_db, 2, "2.00", today - timedelta(days=1), today - timedelta(days=1))

    sync(_settings(cao_db, phoenix_db, namespace))

    active = {r[0] for r in phoenix_db.rows(
        "SELECT p.products_model FROM specials s JOIN products p USING (products_id) "
        "WHERE s.status = 1")}
    assert active == {"A-000001"}


# -- NOTES 2: products -------------------------------------------------------------------------


def test_trap_a_product_the_shop_hid_at_checkout_is_shown_again_when_restocked(
        cao_db, phoenix_db, namespace):
    """NOTES 2: with STOCK_ALLOW_CHECKOUT 'false' the shop itself sets products_status 0 when
    the stock falls below 1. The ERP owns visibility: restocked, the product is back."""
    rows = sample.articles(1)
    rows[0]["MENGE_AKT"] = Decimal("1.0000")
    fill_cao(cao_db, rows, [])
    settings = _settings(cao_db, phoenix_db, namespace)
    sync(settings)
    _checkout(phoenix_db, "A-000001", 1, allow_checkout=False)
    assert storefront(phoenix_db, DE) == {}

    cao_db.execute("UPDATE artikel SET MENGE_AKT = 5 WHERE REC_ID = 1")     # goods received
    sync(settings)

    assert storefront(phoenix_db, DE)["A-000001"][2] == 5

    # A product the ERP does not show stays hidden when restocked.
    cao_db.execute("UPDATE artikel SET SHOP_VISIBLE = 0 WHERE REC_ID = 1")
    sync(settings)
    cao_db.execute("UPDATE artikel SET MENGE_AKT = 9 WHERE REC_ID = 1")
    sync(settings)
    assert storefront(phoenix_db, DE) == {}
    assert _product(phoenix_db, "A-000001", "products_quantity") == (9,)


def test_trap_both_sides_write_stock_so_the_erp_pushes_absolute_values(
        cao_db, phoenix_db, namespace):
    """NOTES 2: checkout does products_quantity -= ordered, so the ERP pushes absolute values
    (never deltas), and a change that is not a stock change leaves the shop's count alone
    until the ERP's stock itself moves (the order import will have reduced it)."""
    rows = sample.articles(1)
    rows[0]["MENGE_AKT"] = Decimal("10.0000")
    fill_cao(cao_db, rows, [])
    settings = _settings(cao_db, phoenix_db, namespace)
    sync(settings)
    _checkout(phoenix_db, "A-000001", 2)

    cao_db.execute("UPDATE artikel SET KURZNAME = 'Neuer Name' WHERE REC_ID = 1")
    sync(settings)                                        # the ERP's 10 is older than the sale
    assert _product(phoenix_db, "A-000001", "products_quantity") == (8,)

    cao_db.execute("UPDATE artikel SET MENGE_AKT = 8 WHERE REC_ID = 1")    # order imported
    sync(settings)
    assert _product(phoenix_db, "A-000001", "products_quantity") == (8,)   # not 6

    cao_db.execute("UPDATE artikel SET MENGE_AKT = 20 WHERE REC_ID = 1")   # goods received
    sync(settings)
    assert _product(phoenix_db, "A-000001", "products_quantity") == (20,)


def test_trap_the_shop_counts_products_ordered_and_the_sync_never_resets_it(
        cao_db, phoenix_db, namespace):
    """NOTES 2: the shop bumps products_ordered at checkout (bestsellers); ERP updates of
    price, text and stock leave it alone."""
    fill_cao(cao_db, sample.articles(1), [])
    settings = _settings(cao_db, phoenix_db, namespace)
    sync(settings)
    _checkout(phoenix_db, "A-000001", 3)

    cao_db.execute("UPDATE artikel SET VK1 = 1.2300, KURZNAME = 'Anders', MENGE_AKT = 77 "
                   "WHERE REC_ID = 1")
    sync(settings)

    assert _product(phoenix_db, "A-000001", "products_ordered, products_price") == (
        3, Decimal("1.2300"))


def test_trap_products_date_available_is_the_shops_and_never_used_to_hide(
        cao_db, phoenix_db, namespace):
    """NOTES 2: a future products_date_available does not hide a product, it only shows
    'Available from'. Where the ERP has no date column (the reference DDL has none; see
    test_selection for LIEFERTERMIN) the sync never writes it: new products have none (no
    stray notice) and a date the merchant set survives ERP updates; hiding is products_status
    alone."""
    fill_cao(cao_db, sample.articles(1), [])
    settings = _settings(cao_db, phoenix_db, namespace)
    sync(settings)
    assert _product(phoenix_db, "A-000001", "products_date_available") == (None,)
    phoenix_db.execute("UPDATE products SET products_date_available = '2099-01-01 00:00:00'")

    cao_db.execute("UPDATE artikel SET VK1 = 3.3300 WHERE REC_ID = 1")
    sync(settings)

    assert _product(phoenix_db, "A-000001", "products_date_available, products_status") == (
        datetime(2099, 1, 1), 1)


def test_trap_no_manufacturer_is_null_not_zero(cao_db, phoenix_db, namespace):
    """NOTES 2: manufacturers_id NULL means none: an article without a manufacturer, with one
    this shop does not have, or whose manufacturer was removed in the ERP has NULL."""
    rows = sample.articles(3)
    rows[1]["HERSTELLER_ID"] = 99                         # not a manufacturer of this shop
    rows[2]["HERSTELLER_ID"] = 7
    fill_cao(cao_db, rows, [])
    _add_manufacturer(cao_db, 7, "Gardena")
    settings = _settings(cao_db, phoenix_db, namespace)
    sync(settings)
    assert phoenix_db.scalar("SELECT COUNT(*) FROM products WHERE manufacturers_id IS NOT NULL"
                             ) == 1

    cao_db.execute("UPDATE artikel SET HERSTELLER_ID = -1 WHERE REC_ID = 3")
    sync(settings)

    assert phoenix_db.scalar("SELECT COUNT(*) FROM products WHERE manufacturers_id IS NULL"
                             ) == 3


def test_trap_products_gtin_is_char_14_so_only_real_gtins_go_there(cao_db, phoenix_db,
                                                                    namespace):
    """NOTES 2: products_gtin char(14) holds the EAN/GTIN. A CAO BARCODE (varchar(20)) that is
    no GTIN (letters, more than 14 digits) leaves it NULL instead of failing or being cut,
    and the product still lands."""
    rows = sample.articles(3)
    rows[0]["BARCODE"] = "4006381333931"
    rows[1]["BARCODE"] = "123456789012345678"
    rows[2]["BARCODE"] = "ABC-4711"
    fill_cao(cao_db, rows, [])

    _, stats = sync(_settings(cao_db, phoenix_db, namespace))

    assert stats["web"].dead == 0 and len(storefront(phoenix_db, DE)) == 3
    assert dict(phoenix_db.rows("SELECT products_model, products_gtin FROM products")) == {
        "A-000001": "4006381333931", "A-000002": None, "A-000003": None}


def test_trap_products_weight_is_decimal_5_2_so_a_heavier_article_is_refused_by_name(
        cao_db, phoenix_db, namespace):
    """NOTES 2: products_weight decimal(5,2) NOT NULL holds at most 999.99; CAO's GEWICHT is
    decimal(10,3). A heavier article is a mapping error naming payload.weight (never a cut or
    clipped weight), the others land, and a weight with three decimals is rounded."""
    rows = sample.articles(3)
    rows[0]["GEWICHT"] = Decimal("1234.500")
    rows[1]["GEWICHT"] = Decimal("999.990")
    rows[2]["GEWICHT"] = Decimal("1.235")
    fill_cao(cao_db, rows, [])
    settings = _settings(cao_db, phoenix_db, namespace)

    sync(settings)

    assert dict(phoenix_db.rows("SELECT products_model, products_weight FROM products")) == {
        "A-000002": Decimal("999.99"), "A-000003": Decimal("1.24")}
    letter = _letters(settings)["1"]
    assert letter.error_class == "MappingError" and "payload.weight" in letter.error


def test_trap_the_newest_products_id_is_shown_first_so_updates_keep_the_row(
        cao_db, phoenix_db, namespace):
    """NOTES 3: the home page shows the newest products_id first. Changes, hiding and
    showing again update the same row (same id, same date_added), never insert a new one."""
    fill_cao(cao_db, sample.articles(2), [])
    settings = _settings(cao_db, phoenix_db, namespace)
    sync(settings)
    before = dict((r[0], tuple(r[1:])) for r in phoenix_db.rows(
        "SELECT products_model, products_id, products_date_added FROM products"))

    cao_db.execute("UPDATE artikel SET VK1 = 2.2200, KURZNAME = 'Neu' WHERE REC_ID = 1")
    cao_db.execute("UPDATE artikel SET SHOP_VISIBLE = 0 WHERE REC_ID = 2")
    sync(settings)
    cao_db.execute("UPDATE artikel SET SHOP_VISIBLE = 1 WHERE REC_ID = 2")
    sync(settings)

    after = dict((r[0], tuple(r[1:])) for r in phoenix_db.rows(
        "SELECT products_model, products_id, products_date_added FROM products"))
    assert after == before
    assert set(storefront(phoenix_db, DE)) == {"A-000001", "A-000002"}


def test_trap_the_first_linked_category_builds_the_breadcrumb_so_old_links_go(
        cao_db, phoenix_db, namespace):
    """NOTES 2: the first products_to_categories row builds the breadcrumb. A product the ERP
    moves to another category keeps no link to the old one, so the breadcrumb follows."""
    fill_cao(cao_db, sample.articles(1), [])
    _add_category(cao_db, 10, "Alt", articles=(1,))
    _add_category(cao_db, 20, "Neu")
    settings = _settings(cao_db, phoenix_db, namespace)
    sync(settings)

    cao_db.execute("UPDATE artikel_to_kat SET KAT_ID = 20 WHERE ARTIKEL_ID = 1")
    sync(settings)

    first = phoenix_db.rows(
        "SELECT cd.categories_name FROM products_to_categories pc JOIN categories_description "
        "cd ON cd.categories_id = pc.categories_id AND cd.language_id = %s", (DE,))
    assert [r[0] for r in first] == ["Neu"]


# -- NOTES 2: specials ---------------------------------------------------------------------------


def test_trap_the_shops_expiry_hook_leaves_open_and_running_specials_on(
        cao_db, phoenix_db, namespace):
    """NOTES 2: every storefront request runs specials::expire (status 0 where NOW() >=
    expires_date > 0). An open window must have expires_date NULL (never a zero or past
    date), a running one its end after NOW(), so the hook leaves both on."""
    today = _shop_today(phoenix_db)
    fill_cao(cao_db, sample.articles(2), [])
    _add_special(cao_db, 1, "1.00", None, None)
    _add_special(cao_db, 2, "2.00", today - timedelta(days=3), today)
    sync(_settings(cao_db, phoenix_db, namespace))

    phoenix_db.execute(EXPIRE_HOOK)

    rows = phoenix_db.rows("SELECT p.products_model, s.status, s.expires_date FROM specials s "
                           "JOIN products p USING (products_id) ORDER BY 1")
    assert [tuple(r) for r in rows] == [
        ("A-000001", 1, None),
        ("A-000002", 1, datetime.combine(today + timedelta(days=1), datetime.min.time()))]


def test_trap_a_special_the_shops_hook_expired_comes_back_when_the_erp_extends_it(
        cao_db, phoenix_db, namespace):
    """NOTES 2: the shop's hook sets status 0 itself once expires_date has passed. When the ERP
    then extends the window, the one specials row is switched on again with the new end."""
    today = _shop_today(phoenix_db)
    fill_cao(cao_db, sample.articles(1), [])
    _add_special(cao_db, 1, "1.00", None, today)
    settings = _settings(cao_db, phoenix_db, namespace)
    sync(settings)
    phoenix_db.execute("UPDATE specials SET expires_date = NOW() - INTERVAL 1 SECOND")
    phoenix_db.execute(EXPIRE_HOOK)                      # a visitor came after the end
    assert phoenix_db.scalar("SELECT status FROM specials") == 0

    cao_db.execute("UPDATE artikel_preis SET GUELTIG_BIS = %s", (today + timedelta(days=7),))
    sync(settings)
    phoenix_db.execute(EXPIRE_HOOK)

    rows = phoenix_db.rows("SELECT status, expires_date FROM specials")
    assert [tuple(r) for r in rows] == [
        (1, datetime.combine(today + timedelta(days=8), datetime.min.time()))]


def test_a_link_table_from_before_the_shown_column_is_upgraded_in_place(phoenix_db):
    """Shops already running keep their links: ensure_table adds the column, once."""
    from consumers.binder import DDL, Binder

    phoenix_db.execute(DDL.replace("  shown TINYINT NULL,\n", ""))
    phoenix_db.execute("INSERT INTO shopbridge_link (entity_type, entity_key, target_id) "
                       "VALUES ('product', '1', 7)")
    for _ in range(2):
        with phoenix_db.engine.begin() as conn:
            Binder().ensure_table(conn)
    with phoenix_db.engine.begin() as conn:
        link = Binder().lock(conn, "product", ["1"])["1"]
    assert (link.target_id, link.shown) == (7, None)
