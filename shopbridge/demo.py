"""``shopbridge demo``: a merchant with CAO-Faktura and two shops, synced once, on this machine.

Creates a demo CAO database and two demo Phoenix databases on the local MariaDB from the
project's own table definitions, fills CAO with sample articles, runs one full sync through
RabbitMQ, then changes one price and one stock level and syncs again, and prints what happened
and how to look at the result.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import sqlalchemy as sa
from kombu import Connection
from sqlalchemy.engine import make_url

from consumers import ShopConsumer, make_applier
from consumers.oscommerce import tables as phoenix_tables
from producers.cao import CaoProducer
from producers.cao import tables as cao_tables

from . import config as cfg
from . import sample, topology

CAO_DB = "shopbridge_demo_cao"
SHOPS = (("shop-a", "shopbridge_demo_shop_a"), ("shop-b", "shopbridge_demo_shop_b"))
CONFIG_PATH = Path(".demo/shopbridge.toml")
IDLE_S = 0.5      # each demo consumer stops once its queue has been empty this long


def _config_text(db_url: str, amqp_url: str) -> str:
    server = make_url(db_url).set(database=None)
    base = server.render_as_string(hide_password=True).rstrip("/")
    if server.password or make_url(amqp_url.replace("amqp://", "mysql://", 1)).password:
        raise SystemExit("demo: pass URLs without passwords (the config file it writes must "
                         "not hold one)")
    return f"""# Written by `shopbridge demo`. Try:
#   shopbridge -c {CONFIG_PATH} check
#   shopbridge -c {CONFIG_PATH} dlq list --shop shop-a
[broker]
url = "{amqp_url}"
namespace = "shopbridge-demo"

[[tenants]]
name = "demo"
[tenants.erp]
kind = "cao"
url = "{base}/{CAO_DB}"

[[tenants.shops]]
name = "shop-a"           # sells CAO shop 1, German and English, VK1, available stock
kind = "oscommerce"
url = "{base}/{SHOPS[0][1]}"
languages = ["de", "en"]
price_level = 1
stock_mode = "available"
tax_classes = {{ 1 = 2, 2 = 1 }}
filter = {{ cao_shop_id = 1 }}

[[tenants.shops]]
name = "shop-b"           # sells CAO shop 2, German only, VK3, total stock
kind = "oscommerce"
url = "{base}/{SHOPS[1][1]}"
languages = ["de"]
price_level = 3
stock_mode = "total"
tax_classes = {{ 1 = 2, 2 = 1 }}
filter = {{ cao_shop_id = 2 }}
"""


def _build_databases(db_url: str, articles: int) -> None:
    cao_url = sample.create_database(db_url, CAO_DB, charset="latin1")
    engine = sa.create_engine(cao_url)
    cao_tables.metadata.create_all(engine)
    names = {t.name: t.name for t in cao_tables.metadata.sorted_tables}
    rows = sample.articles(articles, shop_ids=(1, 2))
    rows[0]["KURZNAME"] = "Gießkanne „Größe XL“ – grün"
    with engine.begin() as conn:
        sample.cao_reference_data(conn, names)
        sample.insert_rows(conn, "ARTIKEL", rows)
        sample.insert_rows(conn, "ARTIKEL_LTEXT", sample.translations(rows, every=2))
    engine.dispose()
    shop_languages = {SHOPS[0][1]: ((1, "English", "en"), (2, "Deutsch", "de")),
                      SHOPS[1][1]: ((1, "Deutsch", "de"),)}
    for _, db in SHOPS:
        shop_url = sample.create_database(db_url, db)
        engine = sa.create_engine(shop_url)
        phoenix_tables.metadata.create_all(engine)
        with engine.begin() as conn:
            sample.phoenix_reference_data(conn, languages=shop_languages[db])
        engine.dispose()


def _sync(settings: cfg.Settings) -> tuple[int, dict[str, str]]:
    tenant = settings.tenants[0]
    producer = CaoProducer(broker=settings.broker, tenant=tenant)
    try:
        producer.prepare()
        report = producer.run_once()
    finally:
        producer.close()
    results = {}
    for shop in tenant.shops:
        applier = make_applier(shop)
        consumer = ShopConsumer(broker=settings.broker, shop=shop, applier=applier)
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


def run_demo(*, articles: int, db_url: str, amqp_url: str) -> int:
    started = time.monotonic()
    print(f"1. Building demo databases on {make_url(db_url).render_as_string(True)}: "
          f"{CAO_DB} (CAO-Faktura, {articles} articles) and "
          f"{', '.join(db for _, db in SHOPS)} (CE Phoenix)")
    _build_databases(db_url, articles)
    CONFIG_PATH.parent.mkdir(exist_ok=True)
    CONFIG_PATH.write_text(_config_text(db_url, amqp_url), encoding="utf-8")
    settings = cfg.load(CONFIG_PATH)
    logging.getLogger("consumers").setLevel(logging.WARNING)  # the demo prints its own summary
    with Connection(settings.broker.url) as conn:  # a clean start: forget earlier demo runs
        topology.delete(conn, settings.broker, settings.tenants[0].shops)

    t0 = time.monotonic()
    events, results = _sync(settings)
    print(f"2. Full sync through RabbitMQ: {events} events published and applied in "
          f"{time.monotonic() - t0:.2f} s (including {IDLE_S} s per shop to see the queue "
          "stay empty)")
    for name, line in results.items():
        print(f"   {name}: {line}")
    for _, db in SHOPS:
        visible = _count(db_url, db, "SELECT COUNT(*) FROM products WHERE products_status = 1")
        total = _count(db_url, db, "SELECT COUNT(*) FROM products")
        print(f"   {db}: {total} products, {visible} visible")

    engine = sa.create_engine(make_url(db_url).set(database=CAO_DB))
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE ARTIKEL SET VK1 = VK1 + 1, VK1B = VK1B + 1.19, "
                             "VK3 = VK3 + 1, VK3B = VK3B + 1.19 WHERE REC_ID IN (1, 2)")
        conn.exec_driver_sql("UPDATE ARTIKEL SET MENGE_AKT = MENGE_AKT + 5 WHERE REC_ID = 3")
    engine.dispose()
    t0 = time.monotonic()
    events, results = _sync(settings)
    print(f"3. Changed the price of articles 1 and 2 and the stock of article 3 in CAO; "
          f"sync again: {events} events in {time.monotonic() - t0:.2f} s (the same idle "
          "waits included)")
    for name, line in results.items():
        print(f"   {name}: {line}")
    print(f"\nDone in {time.monotonic() - started:.1f} s. Look at the result:")
    print(f"  mariadb {SHOPS[0][1]} -e \"SELECT p.products_id, p.products_model, "
          "p.products_price, p.products_quantity, pd.products_name FROM products p JOIN "
          "products_description pd USING (products_id) ORDER BY 1 LIMIT 6\"")
    print(f"  mariadb {SHOPS[0][1]} -e \"SELECT * FROM shopbridge_link ORDER BY applied_at "
          "DESC LIMIT 5\"")
    print(f"  .venv/bin/shopbridge -c {CONFIG_PATH} check")
    print(f"  .venv/bin/shopbridge -c {CONFIG_PATH} dlq list --shop shop-a")
    return 0
