"""``shopbridge demo``: a merchant with CAO-Faktura and two shops, synced once, on this machine.

Creates a demo CAO database and two demo Phoenix databases on the local MariaDB from the
project's own table definitions, fills CAO with sample articles, shop categories,
manufacturers and special offers (and what the order import needs: number ranges, countries,
payment methods), runs one full sync through RabbitMQ, then changes one price and one stock
level and syncs again, leaves a paid guest order in shop-a for ``orders import``, and prints
what happened and how to look at the result.

Several checkouts may share one MariaDB and RabbitMQ: every name carries the checkout's own
id, and the demo drops only databases marked as its own (``demo_names``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date, datetime

import sqlalchemy as sa
from kombu import Connection
from sqlalchemy.engine import make_url

from . import broker, kinds, sample, sample_order, topology
from . import config as cfg
from .db import translated
from .demo_names import DemoNames, checkout_lock, create_database, drop_own_databases

__all__ = ["DemoNames", "remove", "run_demo", "shop_counts"]

ERP_KIND = "cao"         # the demo's systems: a CAO-Faktura and two CE Phoenix shops, each
SHOP_KIND = "oscommerce"  # found in the kind registry like every other command's
IDLE_S = 0.5      # each demo consumer stops once its queue has been empty this long
SPECIALS = (1, 2)  # articles with a special offer running now (1 is in CAO shop 2, 2 in shop 1)


def _config_text(db_url: str, amqp_url: str, names: DemoNames) -> str:
    server = make_url(db_url).set(database=None)
    base = server.render_as_string(hide_password=True).rstrip("/")
    if server.password or make_url(amqp_url.replace("amqp://", "mysql://", 1)).password:
        raise SystemExit("demo: pass URLs without passwords (the config file it writes must "
                         "not hold one)")
    path, shops = names.config_path, names.shops
    orders = (f'payment_methods = {{ "{sample_order.PAYMENT}" = 1, "Rechnung" = 2 }}   '
              "# title -> CAO ZAHLUNGSARTEN\n"
              f'shipping_methods = {{ "{sample_order.SHIPPING}" = 1 }}\n'
              'countries = { DE = "D" }  # ISO-2 -> CAO LAND.ID where they differ')
    return f"""# Written by `shopbridge demo` (checkout {names.checkout_id}). Try:
#   shopbridge -c {path} check
#   shopbridge -c {path} orders import --shop shop-a
#   shopbridge -c {path} dlq list --shop shop-a
[broker]
url = "{amqp_url}"
namespace = "{names.namespace}"

[[tenants]]
name = "demo"
[tenants.erp]
kind = "{ERP_KIND}"
url = "{base}/{names.cao_db}"

[[tenants.shops]]
name = "shop-a"           # sells CAO shop 1, German and English, VK1, available stock
kind = "{SHOP_KIND}"
url = "{base}/{shops[0][1]}"
languages = ["de", "en"]
price_level = 1
stock_mode = "available"
tax_classes = {{ 1 = 2, 2 = 1 }}
filter = {{ cao_shop_id = 1 }}
[tenants.shops.orders]    # its orders become CAO invoice drafts
{orders}

[[tenants.shops]]
name = "shop-b"           # sells CAO shop 2, German only, VK3, total stock
kind = "{SHOP_KIND}"
url = "{base}/{shops[1][1]}"
languages = ["de"]
price_level = 3
stock_mode = "total"
tax_classes = {{ 1 = 2, 2 = 1 }}
filter = {{ cao_shop_id = 2 }}
[tenants.shops.orders]
{orders}
"""


def _build_databases(db_url: str, articles: int, names: DemoNames) -> None:
    cao_url = create_database(db_url, names.cao_db, names, charset="latin1")
    engine = sa.create_engine(cao_url)
    tables = {}
    for metadata in (kinds.erp_source(ERP_KIND).schema(),   # articles, orders
                     kinds.erp_sink(ERP_KIND).schema()):
        metadata.create_all(engine, checkfirst=False)  # a new database: only the marker
        tables.update({t.name: t.name for t in metadata.sorted_tables})
    rows = sample.articles(articles, shop_ids=(1, 2))
    rows[0]["KURZNAME"] = "Gießkanne „Größe XL“ – grün"
    with engine.begin() as conn:
        sample.cao_reference_data(conn, tables)
        sample.cao_order_reference_data(conn, tables)
        sample.insert_rows(conn, "ARTIKEL", rows)
        sample.insert_rows(conn, "ARTIKEL_LTEXT", sample.translations(rows, every=2))
        sample.cao_catalogue(conn, tables, rows,
                             specials=[i for i in SPECIALS if i <= articles], today=date.today())
    engine.dispose()
    (_, shop_a), (_, shop_b) = names.shops
    shop_languages = {shop_a: ((1, "English", "en"), (2, "Deutsch", "de")),
                      shop_b: ((1, "Deutsch", "de"),)}
    for _, db in names.shops:
        shop_url = create_database(db_url, db, names, charset="utf8mb4")
        engine = sa.create_engine(shop_url)
        kinds.shop_sink(SHOP_KIND).schema().create_all(engine, checkfirst=False)
        with engine.begin() as conn:
            sample.phoenix_reference_data(conn, languages=shop_languages[db])
            sample.phoenix_order_reference_data(conn, shop_languages[db])
        engine.dispose()


def _sync_and_say(settings: cfg.Settings, headline: Callable[[int, float], str]) -> None:
    """One sync, then ``headline(events, seconds)`` and each shop's result line."""
    t0 = time.monotonic()
    events, results = _sync(settings)
    print(headline(events, time.monotonic() - t0))
    for name, line in results.items():
        print(f"   {name}: {line}")


def _sync(settings: cfg.Settings) -> tuple[int, dict[str, str]]:
    tenant = settings.tenants[0]
    producer = kinds.erp_source(tenant.erp.kind).producer(broker=settings.broker, tenant=tenant)
    try:
        producer.prepare()
        report = producer.run_once()
    finally:
        producer.close()
    results = {}
    for shop in tenant.shops:
        sink = kinds.shop_sink(shop.kind)
        applier = sink.applier(shop)
        consumer = sink.consumer(broker=settings.broker, target=topology.Target.for_shop(shop),
                                 applier=applier)
        stats = consumer.run(idle_exit_s=IDLE_S)
        applier.close()
        results[shop.name] = (f"{stats.events} events in {stats.messages} messages, "
                              f"{stats.applied} applied, {stats.skipped} skipped (unchanged, "
                              f"stale or not in the shop's selection), "
                              f"{stats.dead} dead-lettered")
    return report.events, results


def _count(db_url: str, db: str, sql: str) -> int:
    engine = sa.create_engine(make_url(db_url).set(database=db))
    with engine.connect() as conn:
        value = conn.exec_driver_sql(sql).scalar()
    engine.dispose()
    return int(value or 0)


# What the summary counts in each shop database (trusted, fixed SQL).
SHOP_COUNTS = {
    "products": "SELECT COUNT(*) FROM products",
    "visible": "SELECT COUNT(*) FROM products WHERE products_status = 1",
    "categories": "SELECT COUNT(*) FROM categories",
    "links": "SELECT COUNT(*) FROM products_to_categories",
    "manufacturers": "SELECT COUNT(*) FROM manufacturers",
    "specials": "SELECT COUNT(*) FROM specials WHERE status = 1",
}


def shop_counts(db_url: str, db: str) -> dict[str, int]:
    """The summary's numbers for one shop database."""
    return {what: _count(db_url, db, sql) for what, sql in SHOP_COUNTS.items()}


def _targets(settings: cfg.Settings) -> list[topology.Target]:
    """The demo's queues: each shop's, and the ERP's that ``orders import`` declares."""
    tenant = settings.tenants[0]
    return [*map(topology.Target.for_shop, tenant.shops), topology.Target.for_erp(tenant.name)]


def remove(db_url: str, amqp_url: str, names: DemoNames) -> list[str]:
    """Drop what ``run_demo`` made under ``names``: its databases (only those whose marker
    names this checkout), queues, exchange and config file.

    Returns:
        The databases of these names that exist but are not this checkout's: left alone.
    """
    left = drop_own_databases(db_url, names)
    if names.config_path.is_file():
        settings = cfg.load(names.config_path)
        with Connection(amqp_url) as conn:
            topology.delete(conn, settings.broker, _targets(settings))
        names.config_path.unlink()
    return left


def run_demo(*, articles: int, db_url: str, amqp_url: str,
             names: DemoNames | None = None) -> int:
    """Build, sync and print (module docstring); ``names`` default to this checkout's.

    The broker is tried first, so that a demo that could not sync builds nothing.

    Raises:
        BrokerUnavailable, TargetUnavailable: RabbitMQ or MariaDB cannot be reached or refused
            the login (the message names which, its URL masked).
        DemoConflict: a database of the demo's names is not this checkout's, or another
            run of this checkout is going on; nothing was dropped.
    """
    broker.connect(cfg.BrokerConfig(url=amqp_url)).release()
    names = names or DemoNames.for_checkout()
    with translated(f"MariaDB {make_url(db_url).render_as_string(hide_password=True)}"), \
            checkout_lock(db_url, names):
        return _run(articles, db_url, amqp_url, names)


def _run(articles: int, db_url: str, amqp_url: str, names: DemoNames) -> int:
    shops = names.shops
    started = time.monotonic()
    print(f"1. Building demo databases on {make_url(db_url).render_as_string(True)}: "
          f"{names.cao_db} (CAO-Faktura: {articles} articles in 2 CAO shops, each with "
          f"{len(sample.CAO_CATEGORIES)} shop categories; {len(sample.CAO_MANUFACTURERS)} "
          f"manufacturers, {len(SPECIALS)} special offers; number ranges, countries and "
          f"payment methods for the order import) and "
          f"{', '.join(db for _, db in shops)} (CE Phoenix); broker namespace "
          f"{names.namespace} (this checkout's id: {names.checkout_id})")
    _build_databases(db_url, articles, names)
    names.config_path.parent.mkdir(parents=True, exist_ok=True)
    names.config_path.write_text(_config_text(db_url, amqp_url, names), encoding="utf-8")
    settings = cfg.load(names.config_path)
    logging.getLogger("consumers").setLevel(logging.WARNING)  # the demo prints its own summary
    broker_conn = broker.connect(settings.broker)
    with broker.translated(settings.broker):  # a clean start: forget earlier demo runs
        topology.delete(broker_conn, settings.broker, _targets(settings))
    broker_conn.release()

    _sync_and_say(settings, lambda events, seconds: (
        f"2. Full sync through RabbitMQ: {events} events published and applied in "
        f"{seconds:.2f} s (including {IDLE_S} s per shop to see the queue stay empty)"))
    for _, db in shops:
        n = shop_counts(db_url, db)
        print(f"   {db}: {n['products']} products, {n['visible']} visible; "
              f"{n['categories']} categories ({n['links']} product links), "
              f"{n['manufacturers']} manufacturer(s), {n['specials']} special(s) running")

    engine = sa.create_engine(make_url(db_url).set(database=names.cao_db))
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE ARTIKEL SET VK1 = VK1 + 1, VK1B = VK1B + 1.19, "
                             "VK3 = VK3 + 1, VK3B = VK3B + 1.19 WHERE REC_ID IN (1, 2)")
        conn.exec_driver_sql("UPDATE ARTIKEL SET MENGE_AKT = MENGE_AKT + 5 WHERE REC_ID = 3")
    engine.dispose()
    _sync_and_say(settings, lambda events, seconds: (
        f"3. Changed the price of articles 1 and 2 and the stock of article 3 in CAO; "
        f"sync again: {events} events in {seconds:.2f} s (the same idle waits included)"))

    path = names.config_path
    order = _place_order(db_url, shops[0][1])
    print(f"4. A customer paid a guest order in shop-a (orders_id {order.orders_id}: "
          f"{order.lines} article(s) and shipping, {order.total} EUR). Import it into CAO as "
          f"an invoice draft:\n     .venv/bin/shopbridge -c {path} orders import --shop shop-a")
    print(f"\nDone in {time.monotonic() - started:.1f} s. Look at the result:")
    print(f"  mariadb {shops[0][1]} -e \"SELECT p.products_id, p.products_model, "
          "p.products_price, p.products_quantity, pd.products_name FROM products p JOIN "
          "products_description pd USING (products_id) ORDER BY 1 LIMIT 6\"")
    print(f"  mariadb {shops[0][1]} -e \"SELECT c.categories_id, c.parent_id, "
          "cd.categories_name FROM categories c JOIN categories_description cd USING "
          "(categories_id) WHERE cd.language_id = 2\"")
    print(f"  mariadb {shops[0][1]} -e \"SELECT * FROM specials\"")
    print(f"  mariadb {shops[0][1]} -e \"SELECT * FROM shopbridge_link ORDER BY applied_at "
          "DESC LIMIT 5\"")
    print(f"  mariadb {names.cao_db} -e \"SELECT REC_ID, VRENUM, KUN_NAME1, BSUMME, "
          "SHOP_ORDERID FROM JOURNAL\"   (after the import)")
    print(f"  .venv/bin/shopbridge -c {path} check")
    print(f"  .venv/bin/shopbridge -c {path} dlq list --shop shop-a")
    return 0


def _place_order(db_url: str, db: str) -> sample_order.PlacedOrder:
    engine = sa.create_engine(make_url(db_url).set(database=db))
    try:
        with engine.begin() as conn:
            language = conn.exec_driver_sql("SELECT languages_id FROM languages WHERE code = "
                                            "'de'").scalar_one()
            return sample_order.place_guest_order(
                conn, language_id=int(language), now=datetime.now().replace(microsecond=0))
    finally:
        engine.dispose()
