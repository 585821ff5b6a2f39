"""``shopbridge demo``: a merchant with CAO-Faktura and three shops, synced, on this machine.

Creates a demo CAO database and a database per shop (two CE Phoenix, one VirtueMart) on the
local MariaDB from the kinds' own table definitions (``schema()``; each shop kind seeds what
a fresh shop of its kind holds, ``demo_seed``), fills CAO with sample articles, shop
categories, manufacturers and special offers (and what the order import needs: number
ranges, countries, payment methods), runs one full sync through RabbitMQ, then changes one
price and one stock level and syncs again, leaves a paid guest order in shop-a for ``orders
import``, and prints what happened (each shop's counts from its kind, ``demo_counts``) and
how to look at the result.

Several checkouts may share one MariaDB and RabbitMQ: every name carries the checkout's own
id, and the demo drops only databases marked as its own (``demo_names``).
"""

from __future__ import annotations

import logging
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from . import broker as broker_edge
from . import brokers, kinds, sample, sample_order, topology
from . import config as cfg
from .db import create_engine, translated
from .demo_names import DemoNames, checkout_lock, create_database, drop_own_databases
from .errors import BrokerUnavailable
from .tomlvalue import toml_value

__all__ = ["DEMO_SHOPS", "DemoNames", "DemoShop", "remove", "run_demo", "shop_counts"]

ERP_KIND = "cao"   # the demo's ERP; it and the shops' kinds are found in the kind registry
IDLE_S = 0.5      # each demo consumer stops once its queue has been empty this long
AUTO = "auto"     # RabbitMQ when it answers, else the embedded broker
SPECIALS = (1, 2)  # articles with a special offer running now (1 is in CAO shop 2, 2 in shop 1)


@dataclass(frozen=True)
class DemoShop:
    """What the demo's configuration says of one shop (its database: ``DemoNames.shops``)."""

    name: str
    kind: str
    about: str                   # the comment on its entry
    languages: tuple[str, ...]
    price_level: int
    stock_mode: str
    cao_shop_id: int
    imports_orders: bool         # an [orders] section: its orders become CAO invoice drafts


DEMO_SHOPS = (
    DemoShop("shop-a", "oscommerce", "CE Phoenix: CAO shop 1, German and English, VK1, "
             "available stock", ("de", "en"), 1, "available", 1, True),
    DemoShop("shop-b", "oscommerce", "CE Phoenix: CAO shop 2, German only, VK3, total stock",
             ("de",), 3, "total", 2, True),
    DemoShop("shop-vm", "virtuemart", "VirtueMart: CAO shop 1 as shop-a (its orders are not "
             "read yet)", ("de", "en"), 1, "available", 1, False),
)


def _config_text(db_url: str, amqp_url: str, names: DemoNames, kind: str) -> str:
    server = make_url(db_url).set(database=None)
    base = server.render_as_string(hide_password=True).rstrip("/")
    if server.password or make_url(amqp_url.replace("amqp://", "mysql://", 1)).password:
        raise SystemExit("demo: pass URLs without passwords (the config file it writes must "
                         "not hold one)")
    path = names.config_path
    orders = (f'payment_methods = {{ "{sample_order.PAYMENT}" = 1, "Rechnung" = 2 }}   '
              "# title -> CAO ZAHLUNGSARTEN\n"
              f'shipping_methods = {{ "{sample_order.SHIPPING}" = 1 }}\n'
              'countries = { DE = "D" }  # ISO-2 -> CAO LAND.ID where they differ')
    shops = []
    for shop, (_, db) in zip(DEMO_SHOPS, names.shops, strict=True):
        options = kinds.shop_sink(shop.kind).demo_options()
        shops.append(
            f"[[tenants.shops]]\n"
            f"name = {toml_value(shop.name)}   # {shop.about}\n"
            f"kind = {toml_value(shop.kind)}\n"
            f'url = "{base}/{db}"\n'
            f"languages = {toml_value(list(shop.languages))}\n"
            f"price_level = {shop.price_level}\n"
            f"stock_mode = {toml_value(shop.stock_mode)}\n"
            "tax_classes = { 1 = 2, 2 = 1 }   # CAO tax code -> tax class or calc rule: 7 %, 19 %\n"
            f"filter = {{ cao_shop_id = {shop.cao_shop_id} }}\n"
            + (f"[tenants.shops.orders]\n{orders}\n" if shop.imports_orders else "")
            + (f"[tenants.shops.{shop.kind}]\n" + "".join(
                f"{key} = {toml_value(value)}\n" for key, value in options.items())
               if options else ""))
    if kind == cfg.EMBEDDED:
        broker = ('kind = "embedded"   # RabbitMQ was not reachable: queues in MariaDB\n'
                  f'url = "{base}/{names.broker_db}"')
    else:
        broker = f'url = "{amqp_url}"'
    return f"""# Written by `shopbridge demo` (checkout {names.checkout_id}). Try:
#   shopbridge -c {path} check
#   shopbridge -c {path} orders import --shop shop-a
#   shopbridge -c {path} dlq list --shop shop-a
[broker]
{broker}
namespace = "{names.namespace}"

[[tenants]]
name = "demo"
[tenants.erp]
kind = "{ERP_KIND}"
url = "{base}/{names.cao_db}"

""" + "\n".join(shops)


def _settings(text: str, path: Path) -> cfg.Settings:
    """The configuration ``text`` as ``cfg.load`` reads it from ``path``."""
    return cfg.parse(tomllib.loads(text), source=str(path), base_dir=path.parent)


def _build_databases(db_url: str, articles: int, names: DemoNames,
                     settings: cfg.Settings) -> None:
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
    for shop, (_, db) in zip(settings.tenants[0].shops, names.shops, strict=True):
        sink = kinds.shop_sink(shop.kind)
        create_database(db_url, db, names, charset="utf8mb4")
        engine = create_engine(shop.db)
        sink.schema().create_all(engine, checkfirst=False)
        with engine.begin() as conn:
            sink.demo_seed(conn, shop)
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


def shop_counts(shop: cfg.ShopConfig) -> dict[str, int]:
    """The summary's numbers for one shop, as its kind counts them (``demo_counts``)."""
    engine = create_engine(shop.db)
    try:
        with engine.connect() as conn:
            return dict(kinds.shop_sink(shop.kind).demo_counts(conn, shop))
    finally:
        engine.dispose()


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
    if names.config_path.is_file():
        settings = cfg.load(names.config_path)
        # The embedded broker's queues go with its database, below.
        if not settings.broker.embedded:
            brokers.delete(settings.broker, _targets(settings))
    left = drop_own_databases(db_url, names)
    if names.config_path.is_file():
        names.config_path.unlink()
    return left


def run_demo(*, articles: int, db_url: str, amqp_url: str,
             names: DemoNames | None = None, broker_kind: str = AUTO) -> int:
    """Build, sync and print (module docstring); ``names`` default to this checkout's.

    The broker is tried first, so that a demo that could not sync builds nothing. With
    ``broker_kind`` "auto", a RabbitMQ that cannot be reached makes the demo use the embedded
    broker (B5) and say so; "rabbitmq" fails instead, "embedded" does not try RabbitMQ.

    Raises:
        BrokerUnavailable, TargetUnavailable: RabbitMQ or MariaDB cannot be reached or refused
            the login (the message names which, its URL masked).
        DemoConflict: a database of the demo's names is not this checkout's, or another
            run of this checkout is going on; nothing was dropped.
    """
    kind = _broker_kind(amqp_url, broker_kind)
    names = names or DemoNames.for_checkout()
    with translated(f"MariaDB {make_url(db_url).render_as_string(hide_password=True)}"), \
            checkout_lock(db_url, names):
        return _run(articles, db_url, amqp_url, names, kind)


def _broker_kind(amqp_url: str, wanted: str) -> str:
    if wanted == cfg.EMBEDDED:
        print("0. Using the embedded broker (--broker embedded): queues in MariaDB, no RabbitMQ")
        return cfg.EMBEDDED
    rabbitmq = cfg.BrokerConfig(url=amqp_url)
    try:
        brokers.probe(rabbitmq, retries=0 if wanted == AUTO else 1)
    except BrokerUnavailable as err:
        if wanted != AUTO or not broker_edge.unreachable(err):
            raise       # a RabbitMQ that refuses the login is a mistake to fix, not to skip
        print(f"0. RabbitMQ is not reachable ({err}): using the embedded broker instead, "
              "its queues in a MariaDB database of the demo's own (B5, [broker] kind = "
              '"embedded")')
        return cfg.EMBEDDED
    return cfg.RABBITMQ


def _run(articles: int, db_url: str, amqp_url: str, names: DemoNames, kind: str) -> int:
    shops = names.shops
    shop_dbs = [(shop, db) for shop, (_, db) in zip(DEMO_SHOPS, shops, strict=True)]
    started = time.monotonic()
    print(f"1. Building demo databases on {make_url(db_url).render_as_string(True)}: "
          f"{names.cao_db} (CAO-Faktura: {articles} articles in 2 CAO shops, each with "
          f"{len(sample.CAO_CATEGORIES)} shop categories; {len(sample.CAO_MANUFACTURERS)} "
          f"manufacturers, {len(SPECIALS)} special offers; number ranges, countries and "
          f"payment methods for the order import) and "
          f"{', '.join(f'{db} ({shop.kind})' for shop, db in shop_dbs)}; "
          f"broker namespace {names.namespace} (this checkout's id: {names.checkout_id})")
    text = _config_text(db_url, amqp_url, names, kind)
    settings = _settings(text, names.config_path)
    _build_databases(db_url, articles, names, settings)
    names.config_path.parent.mkdir(parents=True, exist_ok=True)
    names.config_path.write_text(text, encoding="utf-8")
    logging.getLogger("consumers").setLevel(logging.WARNING)  # the demo prints its own summary
    if settings.broker.embedded:    # a new database: a clean start of its own
        create_database(db_url, names.broker_db, names, charset="utf8mb4")
    brokers.delete(settings.broker, _targets(settings))  # a clean start: forget earlier runs
    through = ("the embedded broker (MariaDB database " + names.broker_db + ")"
               if settings.broker.embedded else "RabbitMQ")

    _sync_and_say(settings, lambda events, seconds: (
        f"2. Full sync through {through}: {events} events published and applied in "
        f"{seconds:.2f} s (including {IDLE_S} s per shop to see the queue stay empty)"))
    for shop in settings.tenants[0].shops:
        counts = ", ".join(f"{what} {n}" for what, n in shop_counts(shop).items())
        print(f"   {shop.name} ({shop.kind}): {counts}")

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
