"""End-to-end benchmark of shop orders: CE Phoenix -> RabbitMQ -> CAO-Faktura, on this machine.

    .venv/bin/python bench/orders_bench.py [--orders 5000] [--latency-orders 200]

What it measures, in one run, against the local MariaDB and RabbitMQ:

1. Set-up (not timed): a CAO database from the upstream DDL (../shared/reference/cao-faktura/
   schema.sql: JOURNAL, JOURNALPOS, ADRESSEN*, LAND, REGISTRY with the number ranges MAIN\\NUMBERS
   10/99/31, VAT rates, 200 articles), a second empty one for the baseline, and a CE Phoenix
   shop from the upstream install SQL (oscommerce/phoenix.sql) with registered customers and the
   link table that maps shop products to CAO articles; a broker namespace of its own. Everything
   is removed at the end, also on failure.
2. Bulk: N orders (2 items, one with an attribute; shipping; a comment; ~20 % guests whose
   e-mails repeat, the rest registered customers; ~15 % with another delivery address) are
   multi-row INSERTed into the shop. Timed: from the start of ``PhoenixOrderProducer.run_once()``
   (in this process) until CAO holds N complete orders (import rows 'complete': header and
   positions written), imported by ``python -m shopbridge consume --erp`` in its own process
   (so producer and importer can use both cores). Checked: N journals, 3 positions each, no
   duplicate SHOP_ORDERID, every order's gross total, one ADRESSEN row per customer.
3. Idle order cycles: ``run_once()`` with every order already published (follow mode runs this
   every --interval seconds).
4. Baseline: the very JOURNAL and JOURNALPOS rows the importer wrote, multi-row INSERTed
   (1,000 rows per statement) into the empty second CAO database - what the import ends up
   writing, without broker, importer, lookups or locks (DESIGN 6 style). A second variant adds
   the customer rows (ADRESSEN, ADRESSEN_ASP, ADRESSEN_LIEF).
5. Latency in follow mode: ``shopbridge orders produce --shop web --follow --interval 0.5`` and
   the ERP consumer running; M orders are written one at a time, each in one transaction the way
   checkout writes it (orders, totals, products, attributes, then the status-history row), at
   random intervals of 50-300 ms (open loop: the next order does not wait for the previous one to
   arrive). Per order: from the shop's COMMIT returning to its JOURNAL row being visible in CAO
   (a poller reads new JOURNAL rows by primary key every ~5 ms).
6. Scale (issue 14): the bulk's N orders, as the producer publishes them, imported in-process
   (``CaoOrderApplier.apply`` in batches of batch_size, no broker) into a fresh CAO per run:
   empty, or holding --scale-journals journals (3 positions each) and --scale-addresses
   addresses (with contact persons and delivery addresses), each with the indexes of
   ``shopbridge erp-indexes --add``, and the big one without them; --scale-rounds rounds,
   alternating, median per variant.
7. Where the importer's time goes (in this process, no broker; cheap): K more orders are loaded
   exactly as the producer builds them and applied with ``CaoOrderApplier.apply`` into the full
   CAO database, half with every SQL statement, ping and commit timed, half under cProfile; plus
   EXPLAIN and timing of the importer's lookups at this table size.

Results are appended to bench/RESULTS.md (``--no-results`` skips that).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pymysql
import sqlalchemy as sa
from _common import (
    REPO,
    BenchEnv,
    CpuMeter,
    add_output_args,
    add_server_args,
    clean_up,
    command_line,
    default_sizes,
    executemany_chunked,
    finish_facts,
    insert_sql,
    log,
    machine_facts,
    pct,
    pipeline_meter,
    proc_cpu_s,
    publish,
    raw_connect,
    scalar,
    select_all,
    server_versions,
    spawn,
    stop_child,
    timed_call,
    wait_for_consumer,
    wait_until,
    write_config,
)
from kombu import Connection
from sqlalchemy.engine import URL

from consumers.binder import DDL as LINK_DDL
from consumers.cao import CaoOrderApplier
from consumers.cao import indexes as erp_indexes
from consumers.cao.documents import ROUNDING_TEXT
from producers.oscommerce import PhoenixOrderProducer
from shopbridge import events as ev
from shopbridge import sample, topology
from tests.phoenix_checkout import Checkout, Line  # the shop's own arithmetic (test oracle)

REFERENCE = Path(os.environ.get("SHOPBRIDGE_REFERENCE_DIR", REPO.parent / "shared" / "reference"))
CAO_SQL = REFERENCE / "cao-faktura" / "schema.sql"
PHOENIX_SQL = REFERENCE / "oscommerce" / "phoenix.sql"
SHOP = "web"
TENANT = "bench"
CAO_SHOP_ID = 1
AMQP_URL_ENV = "SBBENCH_ORDERS_AMQP_URL"
FOLLOW_INTERVAL_S = 0.5
STOP_TIMEOUT_S = 30.0           # for the children to finish their batch on SIGTERM
PRODUCTS = 200
# The upstream CAO dump has lower-case table names (a Windows server); the importer resolves
# names case-insensitively, the benchmark's own SQL uses these.
CAO_NAMES = {"SPRACHEN": "sprachen", "REGISTRY": "registry"}
PAYMENTS = {"Vorkasse": 1, "Cash on Delivery": 3}
SHIPPING_TITLE = "Flat Rate:"   # the ot_shipping title; the payload carries "Flat Rate"
SHIPPING_NET = Decimal("4.9000")
ATTRIBUTE = ("Farbe", "Blau", Decimal("2.5000"), "+")
DE, AT = 81, 14                  # Phoenix countries_id of Deutschland and Österreich
RATES = {2: Decimal(19), 1: Decimal(7)}   # CAO STEUER_CODE -> VAT % (REGISTRY MAIN\MWST)
CENT = Decimal("0.01")

FIRST = ["Anna", "Jürgen", "Sören", "Maria", "Lukas", "Zoë", "Björn", "Käthe", "Paul", "Jörg",
         "Lea", "Mats", "Ülkü", "Hannah", "Felix", "Grete"]
LAST = ["Müller", "Schmidt", "Schäfer", "Weiß", "Köhler", "Groß", "Becker", "Hoffmann",
        "Schröder", "Neumann", "Krüger", "Wolf", "Bäcker", "Lehmann", "Fuchs", "Jäger"]
STREETS = ["Hauptstraße", "Gartenweg", "Am Mühlbach", "Lindenallee", "Schulstraße",
           "Königsplatz", "Bahnhofstraße", "Wiesengrund"]
CITIES_DE = [("10115", "Berlin"), ("50667", "Köln"), ("80331", "München"), ("20095", "Hamburg"),
             ("01067", "Dresden"), ("90402", "Nürnberg")]
CITIES_AT = [("1010", "Wien"), ("8010", "Graz"), ("5020", "Salzburg")]
COMMENTS = ["Bitte beim Nachbarn abgeben.", "Lieferung bitte nur vormittags – danke!",
            "Geschenk: bitte ohne Rechnung im Paket.", "Bitte klingeln, Hinterhaus.",
            "Abstellgenehmigung: Garage.", "Rückruf erwünscht vor Lieferung."]


# -- small helpers ---------------------------------------------------------------------------

def rows_of(conn: pymysql.Connection, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall())


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# -- sample shop data ------------------------------------------------------------------------

@dataclass(frozen=True)
class Product:
    products_id: int     # the shop's id
    rec_id: int          # the CAO article (ARTIKEL.REC_ID), linked via shopbridge_link
    model: str
    name: str
    price: Decimal       # net
    code: int            # CAO STEUER_CODE: 2 = 19 %, 1 = 7 %


@dataclass(frozen=True)
class Address:
    name: str
    street: str
    postcode: str
    city: str
    country: str
    country_id: int


@dataclass(frozen=True)
class Person:
    customers_id: int    # 0 = guest
    email: str
    telephone: str
    address: Address


@dataclass
class OrderSpec:
    person: Person
    delivery: Address
    payment: str
    lines: list[tuple[Product, int, Decimal, bool]]   # product, quantity, final net, attribute
    totals: list[tuple[str, str, Decimal, int]]       # class, title, value, sort_order
    gross: Decimal
    comment: str
    placed: datetime


def make_address(rnd: random.Random, name: str) -> Address:
    if rnd.random() < 0.15:
        postcode, city = rnd.choice(CITIES_AT)
        country, country_id = "Österreich", AT
    else:
        postcode, city = rnd.choice(CITIES_DE)
        country, country_id = "Deutschland", DE
    return Address(name=name, street=f"{rnd.choice(STREETS)} {rnd.randint(1, 120)}",
                   postcode=postcode, city=city, country=country, country_id=country_id)


def make_people(rnd: random.Random, registered: int, guests: int
                ) -> tuple[list[Person], list[Person]]:
    def person(i: int, customers_id: int, domain: str) -> Person:
        name = f"{rnd.choice(FIRST)} {rnd.choice(LAST)}"
        return Person(customers_id=customers_id, email=f"kunde{i}@{domain}",
                      telephone=f"0{rnd.randint(200, 999)} {rnd.randint(10000, 999999)}",
                      address=make_address(rnd, name))
    return ([person(i, i, "example.de") for i in range(1, registered + 1)],
            [person(i, 0, "gast.example.org") for i in range(1, guests + 1)])


def make_catalogue() -> tuple[list[Product], list[dict[str, Any]]]:
    """PRODUCTS sample articles (the CAO rows) and the shop products linked to them."""
    articles = sample.articles(PRODUCTS, shop_ids=(1,))
    products = [Product(products_id=1000 + a["REC_ID"], rec_id=a["REC_ID"], model=a["ARTNUM"],
                        name=a["KURZNAME"], price=Decimal(a["VK1"]), code=a["STEUER_CODE"])
                for a in articles]
    return products, articles


def make_order(rnd: random.Random, products: Sequence[Product], registered: Sequence[Person],
               guests: Sequence[Person]) -> OrderSpec:
    person = rnd.choice(guests) if rnd.random() < 0.2 else rnd.choice(registered)
    delivery = person.address
    if rnd.random() < 0.15:
        delivery = make_address(rnd, f"{rnd.choice(FIRST)} {rnd.choice(LAST)}")
    first, second = rnd.sample(list(products), 2)
    quantity = rnd.randint(1, 3)
    lines = [(first, quantity, first.price + ATTRIBUTE[2], True), (second, 1, second.price, False)]
    # The totals as a net-priced Phoenix checkout writes them (shipping taxed at 19 %).
    checkout = Checkout([Line(unit, RATES[product.code], qty) for product, qty, unit, _ in lines],
                        gross=False, shipping_cost=SHIPPING_NET, shipping_tax=RATES[2],
                        shipping_title=SHIPPING_TITLE)
    return OrderSpec(person=person, delivery=delivery, payment=rnd.choice(list(PAYMENTS)),
                     lines=lines, totals=checkout.rows, gross=checkout.charged,
                     comment=rnd.choice(COMMENTS),
                     placed=datetime.now(UTC).replace(tzinfo=None, microsecond=0))


def order_row(spec: OrderSpec) -> dict[str, Any]:
    p = spec.person
    row: dict[str, Any] = {
        "customers_id": p.customers_id, "customers_telephone": p.telephone,
        "customers_email_address": p.email, "payment_method": spec.payment,
        "date_purchased": spec.placed, "orders_status": 1, "currency": "EUR",
        "currency_value": Decimal("1.000000"),
    }
    for prefix, a in (("customers", p.address), ("billing", p.address),
                      ("delivery", spec.delivery)):
        row.update({
            f"{prefix}_name": a.name, f"{prefix}_company": None,
            f"{prefix}_street_address": a.street, f"{prefix}_suburb": None,
            f"{prefix}_city": a.city, f"{prefix}_postcode": a.postcode,
            f"{prefix}_state": None, f"{prefix}_country": a.country,
            f"{prefix}_country_id": a.country_id, f"{prefix}_address_format_id": 5,
        })
    return row


def product_row(orders_id: int, product: Product, qty: int, unit: Decimal) -> tuple[Any, ...]:
    return (orders_id, product.products_id, product.model, product.name, product.price, unit,
            Decimal(19 if product.code == 2 else 7), qty)


def total_row(orders_id: int, total: tuple[str, str, Decimal, int]) -> tuple[Any, ...]:
    class_, title, value, sort_order = total
    return (orders_id, title, f"<strong>{value:.2f} €</strong>", value, class_, sort_order)


ORDER_PRODUCTS_SQL = (
    "INSERT INTO orders_products ({id}orders_id, products_id, products_model, products_name, "
    "products_price, final_price, products_tax, products_quantity) VALUES ({mark}"
    "%s, %s, %s, %s, %s, %s, %s, %s)")
ATTRIBUTES_SQL = (
    "INSERT INTO orders_products_attributes (orders_id, orders_products_id, products_options, "
    "products_options_values, options_values_price, price_prefix) "
    "VALUES (%s, %s, %s, %s, %s, %s)")
TOTALS_SQL = ("INSERT INTO orders_total (orders_id, title, text, value, class, sort_order) "
              "VALUES (%s, %s, %s, %s, %s, %s)")
HISTORY_SQL = ("INSERT INTO orders_status_history (orders_id, orders_status_id, date_added, "
               "customer_notified, comments) VALUES (%s, %s, %s, %s, %s)")


def insert_bulk(conn: pymysql.Connection, specs: Sequence[OrderSpec], first_id: int) -> list[int]:
    """Multi-row INSERTs with explicit ids (set-up, not timed); returns the order ids."""
    line_id = (scalar(conn, "SELECT COALESCE(MAX(orders_products_id), 0) FROM orders_products")
               or 0) + 1
    orders, lines, attributes, totals, history, ids = [], [], [], [], [], []
    columns: list[str] = []
    for i, spec in enumerate(specs):
        orders_id = first_id + i
        ids.append(orders_id)
        row = order_row(spec)
        columns = list(row)
        orders.append((orders_id, *row.values()))
        for product, qty, unit, with_attribute in spec.lines:
            lines.append((line_id, *product_row(orders_id, product, qty, unit)))
            if with_attribute:
                attributes.append((orders_id, line_id, *ATTRIBUTE))
            line_id += 1
        totals += [total_row(orders_id, t) for t in spec.totals]
        history.append((orders_id, 1, spec.placed, 0, spec.comment))
    statements = [
        (f"INSERT INTO orders (orders_id, {', '.join(columns)}) "
         f"VALUES ({', '.join(['%s'] * (len(columns) + 1))})", orders),
        (ORDER_PRODUCTS_SQL.format(id="orders_products_id, ", mark="%s, "), lines),
        (ATTRIBUTES_SQL, attributes), (TOTALS_SQL, totals), (HISTORY_SQL, history)]
    with conn.cursor() as cur:
        for sql, rows in statements:
            executemany_chunked(cur, sql, rows)
    conn.commit()
    return ids


def insert_checkout(conn: pymysql.Connection, spec: OrderSpec) -> tuple[int, float]:
    """One order in one transaction, in checkout's order (history row last); returns its id
    and the perf_counter() at which COMMIT returned."""
    row = order_row(spec)
    with conn.cursor() as cur:
        cur.execute(f"INSERT INTO orders ({', '.join(row)}) "
                    f"VALUES ({', '.join(['%s'] * len(row))})", tuple(row.values()))
        orders_id = int(cur.lastrowid)
        for total in spec.totals:
            cur.execute(TOTALS_SQL, total_row(orders_id, total))
        for product, qty, unit, with_attribute in spec.lines:
            cur.execute(ORDER_PRODUCTS_SQL.format(id="", mark=""),
                        product_row(orders_id, product, qty, unit))
            if with_attribute:
                cur.execute(ATTRIBUTES_SQL, (orders_id, int(cur.lastrowid), *ATTRIBUTE))
        cur.execute(HISTORY_SQL, (orders_id, 1, spec.placed, 0, spec.comment))
    conn.commit()
    return orders_id, time.perf_counter()


# -- set-up ----------------------------------------------------------------------------------

@dataclass
class Env(BenchEnv):
    rnd: random.Random = field(default_factory=random.Random)
    products: list[Product] = field(default_factory=list)
    registered: list[Person] = field(default_factory=list)
    guests: list[Person] = field(default_factory=list)
    specs: dict[int, OrderSpec] = field(default_factory=dict)   # orders_id -> what was written
    articles: list[dict[str, Any]] = field(default_factory=list)  # CAO's ARTIKEL rows
    extra_dbs: list[str] = field(default_factory=list)          # the scale phase's CAOs

    def new_orders(self, n: int) -> list[OrderSpec]:
        return [make_order(self.rnd, self.products, self.registered, self.guests)
                for _ in range(n)]


def build_cao(env: Env, db: str, articles: Sequence[dict[str, Any]]) -> None:
    """A CAO database from the upstream DDL with what a real installation has: languages,
    VAT rates, number ranges, countries, the catalogue's articles."""
    url = sample.create_database(env.db_url, db, charset="latin1")
    sample.run_sql_file(url, CAO_SQL.read_text(encoding="utf-8"))
    engine = sa.create_engine(env.url(db), connect_args={"charset": "utf8mb4"})
    with engine.begin() as conn:
        sample.cao_reference_data(conn, CAO_NAMES)
        # Number ranges and countries, as a real installation has them (tests' erp fixture).
        sample.insert_rows(conn, "registry", [
            {"MAINKEY": "MAIN\\NUMBERS", "NAME": name, "VAL_INT": key, "VAL_CHAR": fmt,
             "VAL_INT2": start}
            for name, key, fmt, start in (("EDI", 10, "RE-000000", 1001),
                                          ("KUNNUM", 99, "00000", 50001),
                                          ("DEBNUM", 31, None, 10001))])
        sample.insert_rows(conn, "land", [
            {"ID": "D", "NAME": "Deutschland", "ISO_CODE_3": "DEU"},
            {"ID": "AT", "NAME": "Österreich", "ISO_CODE_3": "AUT"}])
        sample.insert_rows(conn, "artikel", articles)
    engine.dispose()


def build_databases(env: Env, orders: int) -> None:
    cao_sql = CAO_SQL.read_text(encoding="utf-8")
    env.products, env.articles = make_catalogue()
    url = sample.create_database(env.db_url, env.base, charset="latin1")
    sample.run_sql_file(url, cao_sql)
    build_cao(env, env.cao, env.articles)

    shop_url = sample.create_database(env.db_url, env.shop)
    sample.run_sql_file(shop_url, PHOENIX_SQL.read_text(encoding="utf-8"))
    env.registered, env.guests = make_people(env.rnd, max(20, orders // 4),
                                             max(10, orders // 20))
    engine = sa.create_engine(shop_url, connect_args={"charset": "utf8mb4"})
    with engine.begin() as conn:
        sample.phoenix_reference_data(conn)
        conn.exec_driver_sql(LINK_DDL)
        sample.insert_rows(conn, "shopbridge_link", [
            {"entity_type": "product", "entity_key": str(p.rec_id), "target_id": p.products_id}
            for p in env.products])
        sample.insert_rows(conn, "customers", [
            {"customers_id": p.customers_id, "customers_gender": "f",
             "customers_firstname": p.address.name.split()[0],
             "customers_lastname": p.address.name.split()[-1],
             "customers_dob": date(1980, 5, 17), "customers_email_address": p.email,
             "customers_telephone": p.telephone, "customers_password": "$2y$10$" + "x" * 53}
            for p in env.registered])
    engine.dispose()


# The shop's order settings, appended to its table in the config file.
_PAYMENTS_TOML = ", ".join(f'"{k}" = {v}' for k, v in PAYMENTS.items())
ORDERS_CONFIG = f"""[tenants.shops.orders]
payment_methods = {{ {_PAYMENTS_TOML} }}
shipping_methods = {{ "Flat Rate" = 2 }}
countries = {{ DE = "D" }}
"""


# -- phase: bulk -----------------------------------------------------------------------------

@dataclass
class Bulk:
    orders: int = 0
    published: int = 0
    messages: int = 0
    publish_s: float = 0.0
    producer_cpu_s: float = 0.0
    first_s: float = 0.0                  # run_once start -> first order complete in CAO
    total_s: float = 0.0                  # run_once start -> N orders complete
    progress: list[tuple[float, int]] = field(default_factory=list)   # (s since start, rows)
    cpu: dict[str, float] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)

    @property
    def import_s(self) -> float:
        return self.total_s - self.first_s

    def crossing(self, rows: int) -> float:
        """Seconds since start when at least ``rows`` orders were first seen complete."""
        return next((t for t, n in self.progress if n >= rows), self.total_s)

    def slice_rate(self, lo: float, hi: float) -> float:
        """Orders per second imported between fractions ``lo`` and ``hi`` of N."""
        a = self.first_s if lo == 0 else self.crossing(int(self.orders * lo))
        b = self.crossing(int(self.orders * hi))
        return (int(self.orders * hi) - int(self.orders * lo)) / (b - a) if b > a else 0.0

    def per_order_fit(self) -> tuple[float, float]:
        """Least squares of ms per order = a + b * (thousand JOURNAL rows) over deciles."""
        xs, ys = [], []
        for i in range(10):
            lo, hi = int(self.orders * i / 10), int(self.orders * (i + 1) / 10)
            start = self.first_s if i == 0 else self.crossing(lo)
            dt = self.crossing(hi) - start
            if hi > lo and dt > 0:
                xs.append((lo + hi) / 2 / 1000)
                ys.append(1000 * dt / (hi - lo))
        if len(xs) < 2:
            return (ys[0] if ys else 0.0), 0.0
        slope, intercept = statistics.linear_regression(xs, ys)
        return intercept, slope


class ProgressPoller(threading.Thread):
    """The orders complete in CAO (import rows 'complete': header and every position
    written; a batch writes its headers before its positions, so JOURNAL's count runs
    ahead) every 10 ms from ``start_at`` until it reaches ``n``, recording every change;
    runs beside run_once(), which imports already."""

    def __init__(self, url: URL, n: int, timeout: float) -> None:
        super().__init__(daemon=True)
        self.url, self.n, self.timeout = url, n, timeout
        self.t0 = 0.0
        self.done_at = 0.0
        self.samples: list[tuple[float, int]] = []
        self.error: BaseException | None = None

    def start_at(self, t0: float) -> None:
        self.t0 = t0
        self.start()

    def run(self) -> None:
        conn = raw_connect(self.url)
        last = -1
        try:
            while True:
                rows = int(scalar(conn, "SELECT COUNT(*) FROM shopbridge_order_import "
                                        "WHERE state = 'complete'"))
                now = time.perf_counter()
                if rows != last:
                    self.samples.append((now - self.t0, rows))
                    last = rows
                if rows >= self.n or now - self.t0 > self.timeout:
                    break
                time.sleep(0.01)
        except BaseException as err:  # reported by the main thread
            self.error = err
        finally:
            self.done_at = time.perf_counter()
            conn.close()


def bulk_phase(env: Env, n: int, meter: CpuMeter, timeout: float) -> Bulk:
    assert env.settings is not None
    out = Bulk(orders=n)
    shop = raw_connect(env.url(env.shop), autocommit=False)
    specs = env.new_orders(n)
    t0 = time.perf_counter()
    ids = insert_bulk(shop, specs, first_id=1)
    env.specs.update(zip(ids, specs, strict=True))
    shop.close()
    log(f"inserted {n:,} orders into the shop in {time.perf_counter() - t0:.1f} s (not timed)")
    producer = PhoenixOrderProducer(broker=env.settings.broker,
                                    shop=env.settings.tenants[0].shop(SHOP))
    poll = raw_connect(env.url(env.cao))
    try:
        producer.prepare()
        count = producer.count()
        if count.new != n:
            raise SystemExit(f"the producer sees {count.new} new orders, expected {n}")
        meter.start()
        progress = ProgressPoller(env.url(env.cao), n, timeout)
        t0, c0 = time.perf_counter(), time.process_time()
        progress.start_at(t0)
        report = producer.run_once()
        out.publish_s = time.perf_counter() - t0
        out.producer_cpu_s = time.process_time() - c0
        out.published, out.messages = report.published, report.messages
        if report.rejected:
            log(f"WARNING: {len(report.rejected)} orders rejected, e.g. {report.rejected[0]}")
        progress.join()
        out.total_s = progress.done_at - t0
        out.cpu = meter.stop()
        out.progress = progress.samples
        out.first_s = next((t for t, r in out.progress if r > 0), out.total_s)
        if progress.error:
            raise SystemExit(f"progress poller failed: {progress.error!r}")
        last = out.progress[-1][1] if out.progress else 0
        if last < n:
            log(f"WARNING: only {last:,} of {n:,} orders in CAO after {timeout:.0f} s")
        time.sleep(0.2)  # the last order's positions follow its header
        out.checks = verify(env, poll, ids)
    finally:
        producer.close()
        poll.close()
    return out


def verify(env: Env, conn: pymysql.Connection, ids: Sequence[int]) -> dict[str, Any]:
    """Counts, positions per journal, duplicates, gross totals and customers vs what the shop
    holds."""
    checks: dict[str, Any] = {"expected": len(ids)}
    checks["journals"] = scalar(conn, "SELECT COUNT(*) FROM journal")
    # A net-priced shop's cent between its rounded VAT and its total is a position of its own.
    checks["positions"] = scalar(conn, "SELECT COUNT(*) FROM journalpos WHERE BEZEICHNUNG "
                                       "<> %s", (ROUNDING_TEXT,))
    checks["rounding positions"] = scalar(conn, "SELECT COUNT(*) FROM journalpos WHERE "
                                                "BEZEICHNUNG = %s", (ROUNDING_TEXT,))
    checks["journals without 3 positions"] = scalar(conn, """
        SELECT COUNT(*) FROM journal j
        LEFT JOIN (SELECT JOURNAL_ID, COUNT(*) AS n FROM journalpos WHERE BEZEICHNUNG <> %s
                   GROUP BY JOURNAL_ID) p
          ON p.JOURNAL_ID = j.REC_ID
        WHERE COALESCE(p.n, 0) <> 3""", (ROUNDING_TEXT,))
    checks["duplicate SHOP_ORDERID"] = scalar(
        conn, "SELECT COUNT(*) - COUNT(DISTINCT SHOP_ID, SHOP_ORDERID) FROM journal")
    checks["duplicate VRENUM"] = scalar(
        conn, "SELECT COUNT(*) - COUNT(DISTINCT QUELLE, VRENUM) FROM journal")
    gross = dict(rows_of(conn, "SELECT SHOP_ORDERID, BSUMME FROM journal"))
    checks["orders missing in CAO"] = sum(1 for i in ids if i not in gross)
    checks["gross total mismatches"] = sum(
        1 for i in ids if i in gross and Decimal(gross[i]) != money(env.specs[i].gross))
    checks["import rows not complete"] = scalar(
        conn, "SELECT COUNT(*) FROM shopbridge_order_import WHERE state <> 'complete'")
    checks["import notes"] = scalar(
        conn, "SELECT COUNT(*) FROM shopbridge_order_import WHERE notes IS NOT NULL")
    people = {(s.person.customers_id, s.person.email) for s in env.specs.values()}
    checks["expected customers"] = len(people)
    checks["ADRESSEN"] = scalar(conn, "SELECT COUNT(*) FROM adressen")
    checks["ADRESSEN_ASP"] = scalar(conn, "SELECT COUNT(*) FROM adressen_asp")
    checks["ADRESSEN_LIEF"] = scalar(conn, "SELECT COUNT(*) FROM adressen_lief")
    return checks


def bulk_ok(b: Bulk) -> bool:
    c = b.checks
    return (c.get("journals") == c.get("expected") and c.get("positions") == 3 * c["expected"]
            and not c.get("journals without 3 positions") and not c.get("duplicate SHOP_ORDERID")
            and not c.get("duplicate VRENUM") and not c.get("orders missing in CAO")
            and not c.get("gross total mismatches") and not c.get("import rows not complete")
            and c.get("ADRESSEN") == c.get("expected customers"))


@dataclass
class Idle:
    cycles: list[tuple[float, float, int]] = field(default_factory=list)  # wall, cpu, published


def idle_cycles(env: Env, runs: int = 3) -> Idle:
    assert env.settings is not None
    out = Idle()
    producer = PhoenixOrderProducer(broker=env.settings.broker,
                                    shop=env.settings.tenants[0].shop(SHOP))
    try:
        producer.prepare()
        for _ in range(runs):
            wall, cpu, report = timed_call(producer.run_once)
            out.cycles.append((wall, cpu, report.published))
    finally:
        producer.close()
    return out


# -- phase: baseline -------------------------------------------------------------------------

@dataclass
class Baseline:
    rows: dict[str, int] = field(default_factory=dict)
    runs: dict[str, list[float]] = field(default_factory=dict)   # variant -> seconds

    def seconds(self, variant: str) -> float:
        runs = self.runs.get(variant)
        return statistics.median(runs) if runs else 0.0


BASE_JOURNAL = ("journal", "journalpos")
BASE_ALL = (*BASE_JOURNAL, "adressen", "adressen_asp", "adressen_lief")


def baseline_copy(env: Env, runs: int) -> Baseline:
    """The importer's final rows, multi-row INSERTed into the empty second CAO DB (timed)."""
    out = Baseline()
    src = raw_connect(env.url(env.cao))
    dst = raw_connect(env.url(env.base), autocommit=False)
    data: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
    try:
        for table in BASE_ALL:
            data[table] = select_all(src, table)
            out.rows[table] = len(data[table][1])
        for variant, tables in (("journal", BASE_JOURNAL), ("all", BASE_ALL)):
            for _ in range(runs):
                with dst.cursor() as cur:
                    for table in BASE_ALL:
                        cur.execute(f"TRUNCATE TABLE `{table}`")
                dst.commit()
                t0 = time.perf_counter()
                with dst.cursor() as cur:
                    for table in tables:
                        columns, rows = data[table]
                        executemany_chunked(cur, insert_sql(table, columns), rows)
                dst.commit()
                out.runs.setdefault(variant, []).append(time.perf_counter() - t0)
    finally:
        src.close()
        dst.close()
    return out


# -- phase: latency --------------------------------------------------------------------------

class ArrivalPoller(threading.Thread):
    """Reads new JOURNAL rows by primary key every ``interval`` s; SHOP_ORDERID -> first seen."""

    def __init__(self, url: URL, interval: float = 0.005) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.interval = interval
        self.arrived: dict[int, float] = {}
        self.stop_event = threading.Event()
        self.error: BaseException | None = None
        conn = raw_connect(url)
        try:
            self.last = int(scalar(conn, "SELECT COALESCE(MAX(REC_ID), 0) FROM journal"))
        finally:
            conn.close()

    def run(self) -> None:
        conn = raw_connect(self.url)
        try:
            while not self.stop_event.is_set():
                rows = rows_of(conn, "SELECT REC_ID, SHOP_ORDERID FROM journal WHERE REC_ID > %s "
                                     "ORDER BY REC_ID", (self.last,))
                now = time.perf_counter()
                for rec_id, order_id in rows:
                    self.arrived.setdefault(int(order_id), now)
                    self.last = int(rec_id)
                time.sleep(self.interval)
        except BaseException as err:  # reported by the main thread
            self.error = err
        finally:
            conn.close()


@dataclass
class Latency:
    samples: list[float] = field(default_factory=list)
    timeouts: int = 0
    seconds: float = 0.0
    producer_cpu_s: float = 0.0
    consumer_cpu_s: float = 0.0
    warmup_s: float = 0.0


def latency_phase(env: Env, m: int, consumer: subprocess.Popen[bytes]) -> Latency:
    out = Latency()
    follow = spawn(env, "follow", ["orders", "produce", "--shop", SHOP, "--follow",
                                   "--interval", str(FOLLOW_INTERVAL_S)])
    shop = raw_connect(env.url(env.shop), autocommit=False)
    poller = ArrivalPoller(env.url(env.cao))
    poller.start()
    commits: dict[int, float] = {}
    try:
        # Warm-up (not counted): proves the follow producer is up and the path works.
        [spec] = env.new_orders(1)
        orders_id, t_commit = insert_checkout(shop, spec)
        env.specs[orders_id] = spec
        if not wait_until(lambda: orders_id in poller.arrived, timeout=60, interval=0.01):
            raise SystemExit("follow producer: the warm-up order did not reach CAO within 60 s"
                             f"{'; poller: ' + repr(poller.error) if poller.error else ''}")
        out.warmup_s = poller.arrived[orders_id] - t_commit
        p0, k0, t0 = proc_cpu_s(follow.pid), proc_cpu_s(consumer.pid), time.perf_counter()
        for spec in env.new_orders(m):
            orders_id, t_commit = insert_checkout(shop, spec)
            env.specs[orders_id] = spec
            commits[orders_id] = t_commit
            time.sleep(env.rnd.uniform(0.05, 0.3))
        wait_until(lambda: all(i in poller.arrived for i in commits), timeout=30, interval=0.01)
        out.seconds = time.perf_counter() - t0
        out.producer_cpu_s = proc_cpu_s(follow.pid) - p0
        out.consumer_cpu_s = proc_cpu_s(consumer.pid) - k0
        for orders_id, t_commit in commits.items():
            if orders_id in poller.arrived:
                out.samples.append(poller.arrived[orders_id] - t_commit)
            else:
                out.timeouts += 1
        if poller.error:
            log(f"WARNING: arrival poller failed: {poller.error!r}")
    finally:
        poller.stop_event.set()
        poller.join(timeout=5)
        shop.close()
        stop_child(env, follow, "follow", timeout=STOP_TIMEOUT_S)
    return out


# -- phase: where the importer's time goes ---------------------------------------------------

@dataclass
class Profile:
    orders: int = 0
    journals_before: int = 0
    timed_s: float = 0.0
    statements: int = 0
    statement_s: float = 0.0
    commits: int = 0
    commit_s: float = 0.0
    pings: int = 0
    ping_s: float = 0.0
    rollbacks: int = 0
    rollback_s: float = 0.0
    by_statement: list[tuple[str, int, float]] = field(default_factory=list)  # class, n, s
    profiled_s: float = 0.0
    functions: list[tuple[str, int, float, float]] = field(default_factory=list)
    top_tottime: str = ""
    explain: list[tuple[str, str, int | None, float]] = field(default_factory=list)


def statement_class(sql: str) -> str:
    text = " ".join(sql.split())
    text = re.sub(r"\((?:%s, )+%s\)", "(…)", text)
    text = re.sub(r"^INSERT INTO (`?\w+`?) \([^)]*\)", r"INSERT INTO \1 (…)", text)
    text = re.sub(r"^UPDATE (`?\w+`?) SET .* WHERE", r"UPDATE \1 SET … WHERE", text)
    return text[:90]


# Functions whose cumulative time tells where an order's import goes (cProfile names).
KEY_FUNCTIONS = (
    ("importer.py", "plan_orders"), ("importer.py", "import_orders"), ("importer.py", "_lock_all"),
    ("importer.py", "_unlock_all"), ("importer.py", "_import_locked"), ("numbers.py", "_take"),
    ("customers.py", "read"), ("customers.py", "find_or_create"), ("customers.py", "_delivery"),
    ("importer.py", "_write_headers"), ("importer.py", "_write_positions"),
    ("importer.py", "_complete"),
    ("documents.py", "build"), ("connections.py", "commit"), ("connections.py", "ping"),
    ("cursors.py", "execute"), ("~", "<method 'recv_into' of '_socket.socket' objects>"),
)


def profile_importer(env: Env, k: int) -> Profile:
    """K new orders, loaded as the producer loads them, applied in this process."""
    assert env.settings is not None
    out = Profile(orders=k)
    shop_cfg = env.settings.tenants[0].shop(SHOP)
    shop = raw_connect(env.url(env.shop), autocommit=False)
    first = int(scalar(shop, "SELECT MAX(orders_id) FROM orders")) + 1
    specs = env.new_orders(k)
    ids = insert_bulk(shop, specs, first_id=first)
    env.specs.update(zip(ids, specs, strict=True))
    shop.close()
    producer = PhoenixOrderProducer(broker=env.settings.broker, shop=shop_cfg)
    try:
        with producer.engine.connect() as conn:
            loaded = producer._load(conn, ids)   # the payloads run_once() would publish
    finally:
        producer.close()
    events = [ev.parse(ev.make_event("order.placed", tenant=TENANT, source=f"oscommerce:{SHOP}",
                                     entity_key=f"{SHOP}:{oid}", version=ev.next_version(None),
                                     payload=body)) for oid, body in loaded]
    applier = CaoOrderApplier(tenant=env.settings.tenants[0])
    cao = raw_connect(env.url(env.cao))
    try:
        applier.prepare()
        out.journals_before = int(scalar(cao, "SELECT COUNT(*) FROM journal"))
        half = len(events) // 2
        timed = time_statements(applier, events[:half], out)
        log(f"profile: {half} orders, statement-timed, {1000 * timed / max(half, 1):.1f} ms "
            "per order")
        profiler = cProfile.Profile()
        t0 = time.perf_counter()
        profiler.enable()
        applier.apply(events[half:])
        profiler.disable()
        out.profiled_s = time.perf_counter() - t0
        read_profile(profiler, out)
        out.explain = explain_lookups(cao)
    finally:
        applier.close()
        cao.close()
    return out


def time_statements(applier: CaoOrderApplier, events: Sequence[ev.Event], out: Profile
                    ) -> float:
    """Apply ``events`` with every statement, commit and ping (pool_pre_ping) timed."""
    per_class: dict[str, list[float]] = {}
    started: dict[int, float] = {}
    conn_cls = pymysql.connections.Connection
    real_commit, real_ping, real_rollback = conn_cls.commit, conn_cls.ping, conn_cls.rollback
    counters = {"commit": [0, 0.0], "ping": [0, 0.0], "rollback": [0, 0.0]}

    def timed(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return real(self, *args, **kwargs)
            finally:
                counters[name][0] += 1
                counters[name][1] += time.perf_counter() - t
        return wrapper

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        started[id(cursor)] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        spent = time.perf_counter() - started.pop(id(cursor), time.perf_counter())
        per_class.setdefault(statement_class(statement), []).append(spent)

    sa.event.listen(applier.engine, "before_cursor_execute", before)
    sa.event.listen(applier.engine, "after_cursor_execute", after)
    conn_cls.commit = timed("commit", real_commit)   # type: ignore[method-assign]
    conn_cls.ping = timed("ping", real_ping)         # type: ignore[method-assign]
    conn_cls.rollback = timed("rollback", real_rollback)  # type: ignore[method-assign]
    try:
        t0 = time.perf_counter()
        applier.apply(events)
        out.timed_s = time.perf_counter() - t0
    finally:
        conn_cls.commit = real_commit                 # type: ignore[method-assign]
        conn_cls.ping = real_ping                     # type: ignore[method-assign]
        conn_cls.rollback = real_rollback             # type: ignore[method-assign]
        sa.event.remove(applier.engine, "before_cursor_execute", before)
        sa.event.remove(applier.engine, "after_cursor_execute", after)
    out.statements = sum(len(v) for v in per_class.values())
    out.statement_s = sum(sum(v) for v in per_class.values())
    out.commits, out.commit_s = int(counters["commit"][0]), float(counters["commit"][1])
    out.pings, out.ping_s = int(counters["ping"][0]), float(counters["ping"][1])
    out.rollbacks = int(counters["rollback"][0])
    out.rollback_s = float(counters["rollback"][1])
    out.by_statement = sorted(((c, len(v), sum(v)) for c, v in per_class.items()),
                              key=lambda x: -x[2])
    return out.timed_s


def read_profile(profiler: cProfile.Profile, out: Profile) -> None:
    buf = io.StringIO()
    stats = pstats.Stats(profiler, stream=buf)
    stats.strip_dirs().sort_stats("tottime").print_stats(12)
    out.top_tottime = buf.getvalue()
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = \
        stats.stats  # type: ignore[attr-defined]
    for filename, func in KEY_FUNCTIONS:
        calls, cum = 0, 0.0
        for (fname, _, name), (_, nc, _, ct, _) in raw.items():
            if fname == filename and name == func:
                calls, cum = calls + nc, cum + ct
        if calls:
            label = "socket recv_into" if filename == "~" else f"{filename}:{func}"
            out.functions.append((label, calls, cum,
                                  cum / max(out.orders - out.orders // 2, 1)))


def explain_lookups(conn: pymysql.Connection) -> list[tuple[str, str, int | None, float]]:
    """The importer's per-order lookups at this table size: access type, rows read (ANALYZE),
    median time. Each looks for the newest row, or one that is not there, as a new order or
    a new customer does."""
    order_id = int(scalar(conn, "SELECT MAX(SHOP_ORDERID) FROM journal"))
    email = str(scalar(conn, "SELECT EMAIL FROM adressen ORDER BY REC_ID DESC LIMIT 1"))
    addr = int(scalar(conn, "SELECT MAX(REC_ID) FROM adressen"))
    lookups = [
        ("JOURNAL by (SHOP_ID, SHOP_ORDERID)",
         "SELECT REC_ID FROM journal WHERE SHOP_ID = %s AND SHOP_ORDERID = %s",
         (CAO_SHOP_ID, order_id)),
        ("ADRESSEN by (SHOP_ID, SHOP_KUNDE_ID)",
         "SELECT REC_ID FROM adressen WHERE SHOP_ID = %s AND SHOP_KUNDE_ID = %s "
         "ORDER BY REC_ID LIMIT 1", (CAO_SHOP_ID, -7)),
        ("ADRESSEN by LOWER(EMAIL)",
         "SELECT REC_ID FROM adressen WHERE LOWER(EMAIL) = LOWER(%s) ORDER BY REC_ID LIMIT 1",
         (email,)),
        ("ADRESSEN_LIEF by ADDR_ID + address",
         "SELECT REC_ID FROM adressen_lief WHERE ADDR_ID = %s AND NAME1 <=> %s "
         "ORDER BY REC_ID LIMIT 1", (addr, "x")),
    ]
    out = []
    for label, sql, params in lookups:
        with conn.cursor(pymysql.cursors.DictCursor) as cur:
            cur.execute("ANALYZE " + sql, params)   # MariaDB: the plan with rows really read
            plan = cur.fetchone() or {}
        runs = []
        for _ in range(30):
            t0 = time.perf_counter()
            rows_of(conn, sql, params)
            runs.append(time.perf_counter() - t0)
        access = f"{plan.get('type')}" + (f" key {plan['key']}" if plan.get("key") else "")
        read = plan.get("r_rows")
        out.append((label, access, None if read is None else round(float(read)),
                    statistics.median(runs)))
    return out


# -- phase: the same orders into an empty and into a big CAO (issue 14) ----------------------

SCALE_VARIANTS = (("empty", False, True), ("big", True, True), ("big, no indexes", True, False))
SCALE_TABLES = ("adressen", "adressen_asp", "adressen_lief", "journal", "journalpos")


@dataclass
class Scale:
    orders: int = 0
    journals: int = 0
    addresses: int = 0
    template_s: float = 0.0
    runs: dict[str, list[float]] = field(default_factory=dict)     # variant -> import seconds
    loads: list[str] = field(default_factory=list)
    checks: dict[str, list[str]] = field(default_factory=dict)
    # variant -> per run: (statement class, count, seconds), the slowest first
    statements: dict[str, list[list[tuple[str, int, float]]]] = field(default_factory=dict)

    def median(self, variant: str) -> float:
        runs = self.runs.get(variant) or [0.0]
        return statistics.median(runs)


def fill_template(env: Env, db: str, journals: int, addresses: int) -> None:
    """CAO's history: ``addresses`` customers (half of them accounts of shop 1, half with a
    contact person, every 5th with a delivery address) and ``journals`` documents of 3
    positions each (60 % from shop 1); none of them is one of the bench's customers or
    orders, so every lookup of the import misses them as a new order or customer does."""
    rnd = random.Random(7)
    build_cao(env, db, env.articles)
    engine = sa.create_engine(env.url(db), connect_args={"charset": "utf8mb4"})
    with engine.begin() as conn:
        people = []
        for i in range(1, addresses + 1):
            first, last = rnd.choice(FIRST), rnd.choice(LAST)
            plz, city = rnd.choice(CITIES_DE)
            people.append({
                "MATCHCODE": last.upper(), "KUNNUM1": f"A{i:06d}", "NAME1": f"{first} {last}",
                "PLZ": plz, "ORT": city, "LAND": "D", "STRASSE": f"{rnd.choice(STREETS)} {i}",
                "EMAIL": f"kunde{i}@bestand.example", "DEB_NUM": 100000 + i,
                "SHOP_ID": 1 if i % 2 else -1, "SHOP_KUNDE_ID": 1_000_000 + i if i % 2 else -1,
                "SHOP_KUNDE": "Y" if i % 2 else "N", "ERSTELLT": date(2020, 1, 1)})
        sample.insert_rows(conn, "adressen", people)
        sample.insert_rows(conn, "adressen_asp", [
            {"ADDR_ID": i, "NAME": "Kontakt", "VORNAME": "K", "EMAIL": f"kunde{i}@bestand.example"}
            for i in range(1, addresses + 1, 2)])
        sample.insert_rows(conn, "adressen_lief", [
            {"ADDR_ID": i, "NAME1": "Lager", "STRASSE": f"Lagerweg {i}", "PLZ": "10115",
             "ORT": "Berlin", "LAND": "D"} for i in range(1, addresses + 1, 5)])
        for start in range(0, journals, 10_000):
            heads, positions = [], []
            for i in range(start + 1, min(journals, start + 10_000) + 1):
                shop = i % 5 < 3
                heads.append({
                    "QUELLE": 3, "QUELLE_SUB": 0, "ADDR_ID": rnd.randint(1, addresses),
                    "VRENUM": f"ALT-{i:07d}", "RDATUM": datetime(2024, 1, 1), "NSUMME": 100,
                    "MSUMME": 19, "BSUMME": 119, "KUN_NAME1": "Bestand",
                    "SHOP_ID": 1 if shop else -1, "SHOP_ORDERID": 2_000_000 + i if shop else -1})
                positions += [{"QUELLE": 3, "JOURNAL_ID": i, "ARTIKEL_ID": rnd.randint(1, 200),
                               "VRENUM": f"ALT-{i:07d}", "POSITION": n, "MENGE": 1,
                               "EPREIS": 33, "GPREIS": 33, "BEZEICHNUNG": "Artikel"}
                              for n in (1, 2, 3)]
            sample.insert_rows(conn, "journal", heads)
            sample.insert_rows(conn, "journalpos", positions)
    engine.dispose()


def load_events(env: Env, ids: Sequence[int]) -> list[ev.Event]:
    """The order.placed events the producer publishes for the shop's orders ``ids``."""
    assert env.settings is not None
    producer = PhoenixOrderProducer(broker=env.settings.broker,
                                    shop=env.settings.tenants[0].shop(SHOP))
    try:
        with producer.engine.connect() as conn:
            loaded = producer._load(conn, list(ids))
    finally:
        producer.close()
    return [ev.parse(ev.make_event("order.placed", tenant=TENANT, source=f"oscommerce:{SHOP}",
                                   entity_key=f"{SHOP}:{oid}", version=ev.next_version(None),
                                   payload=body)) for oid, body in loaded]


def scale_phase(env: Env, ids: Sequence[int], journals: int, addresses: int, rounds: int,
                batch: int) -> Scale:
    """The bulk's orders imported in-process (``CaoOrderApplier.apply``, ``batch`` orders per
    call as the consumer batches them, no broker) into a fresh CAO per run: empty, or holding
    the template's history; with the indexes of ``shopbridge erp-indexes --add`` (the same
    function) or without. Variants alternate, ``rounds`` times, every other round in
    reverse order."""
    assert env.settings is not None
    tenant = env.settings.tenants[0]
    out = Scale(orders=len(ids), journals=journals, addresses=addresses)
    events = load_events(env, ids)
    template = f"{env.cao}_tpl"
    env.extra_dbs.append(template)
    t0 = time.perf_counter()
    fill_template(env, template, journals, addresses)
    out.template_s = time.perf_counter() - t0
    log(f"scale: template with {journals:,} journals, {addresses:,} addresses in "
        f"{out.template_s:.1f} s")
    for round_ in range(rounds):
        # Every other round backwards: no variant always runs first (a cold cache) or last.
        order = SCALE_VARIANTS if round_ % 2 == 0 else SCALE_VARIANTS[::-1]
        for variant, big, with_indexes in order:
            db = f"{env.cao}_s{round_}{variant[:1]}{int(with_indexes)}"
            env.extra_dbs.append(db)
            build_cao(env, db, env.articles)
            engine = sa.create_engine(env.url(db), connect_args={"charset": "utf8mb4"},
                                      pool_pre_ping=True)
            with engine.begin() as conn:
                if big:
                    for table in SCALE_TABLES:
                        conn.exec_driver_sql(f"INSERT INTO `{db}`.`{table}` SELECT * FROM "
                                             f"`{template}`.`{table}`")
                if with_indexes:
                    erp_indexes.change(conn, tenant, "add")
                conn.exec_driver_sql("FLUSH TABLES")
            # The copy and the index rebuild leave the big variants' files dirty in the page
            # cache: written back now, not while the import runs (it slowed them 2-3x).
            os.sync()
            time.sleep(1.0)
            applier = CaoOrderApplier(tenant=tenant, engine=engine)
            applier.prepare()
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
            # One apply() per consumer batch, every statement timed (the same small cost in
            # every variant).
            totals: dict[str, tuple[int, float]] = {}
            spent = 0.0
            for start in range(0, len(events), batch):
                timed = Profile(orders=batch)
                spent += time_statements(applier, events[start:start + batch], timed)
                for text, count, seconds in timed.by_statement:
                    n0, s0 = totals.get(text, (0, 0.0))
                    totals[text] = (n0 + count, s0 + seconds)
            out.statements.setdefault(variant, []).append(sorted(
                ((text, n, t) for text, (n, t) in totals.items()), key=lambda x: -x[2]))
            applier.close()
            raw = raw_connect(env.url(db))
            try:
                complete = int(scalar(raw, "SELECT COUNT(*) FROM shopbridge_order_import "
                                           "WHERE state = 'complete'"))
                short = int(scalar(raw, "SELECT COUNT(*) FROM journal j WHERE j.VRENUM LIKE "
                                        "'RE-%%' AND (SELECT COUNT(*) FROM journalpos p WHERE "
                                        "p.JOURNAL_ID = j.REC_ID) < 3"))
            finally:
                raw.close()
            out.runs.setdefault(variant, []).append(spent)
            out.checks.setdefault(variant, []).append(f"{complete} complete, {short} short")
            out.loads.append(f"{variant} {load}")
            log(f"scale: {variant}: {len(events):,} orders in {spent:.2f} s "
                f"({len(events) / spent:,.0f}/s); {complete} complete, {short} short; "
                f"load {load}")
            sample.drop_database(env.db_url, db)
    return out


# -- report ----------------------------------------------------------------------------------

def ms(seconds: float) -> str:
    return f"{1000 * seconds:.1f} ms"


def render(args: argparse.Namespace, facts: dict[str, str], bulk: Bulk, idle: Idle,
           base: Baseline, lat: Latency, prof: Profile | None, command: str,
           scale: Scale | None = None) -> str:
    n = args.orders
    c = bulk.checks
    per_order_ms = 1000 * bulk.import_s / n if n else 0.0
    b_j, b_all = base.seconds("journal"), base.seconds("all")
    ratio_total = bulk.total_s / b_j if b_j else float("nan")
    ratio_import = bulk.import_s / b_j if b_j else float("nan")
    a, slope = bulk.per_order_fit()
    runs_j = ", ".join(f"{r:.3f}" for r in base.runs.get("journal", []))
    runs_all = ", ".join(f"{r:.3f}" for r in base.runs.get("all", []))
    cpu = bulk.cpu
    lines = [
        f"## {facts['date']} - orders: {n:,} bulk, {args.latency_orders} in follow mode",
        "",
        f"- Command: `{command}`",
        f"- Machine: {facts['nproc']} cores ({facts['cpu']}), load average at start "
        f"{facts['load_start']}, at end {facts['load_end']}; Python {facts['python']}, "
        f"MariaDB {facts['mariadb']} (innodb_flush_log_at_trx_commit={facts['flush']}), "
        f"RabbitMQ {facts['rabbitmq']}; commit {facts['git']}",
        "- Data: CAO from the upstream DDL (MyISAM, latin1; ../shared/reference/cao-faktura/"
        "schema.sql), shop from the Phoenix 1.1 install SQL; per order 2 items (one with an "
        "attribute), shipping, a comment; ~20 % guests (e-mails repeat), the rest registered "
        "(customers repeat); ~15 % with another delivery address; 15 % Austria.",
        f"- Settings: {default_sizes()} (defaults); ERP consumer "
        "is `python -m shopbridge consume --erp` in its own process; bulk producer run_once() "
        "in the bench process; follow mode = `shopbridge orders produce --shop web --follow "
        f"--interval {FOLLOW_INTERVAL_S}`.",
        f"- Whole run (set-up, phases, clean-up): {facts['wall']} s",
        f"- ERP consumer's own summary at exit: {facts.get('consumer', '?')}",
        "",
        "| Measurement | Result |",
        "|---|---|",
        f"| Bulk: {n:,} orders, run_once() start -> {n:,}th order complete in CAO | "
        f"**{bulk.total_s:.2f} s** (**{n / bulk.total_s if bulk.total_s else 0:,.0f} "
        "orders/s**) |",
        f"| - producer run_once() (read shop, build, validate, publish {bulk.published:,} "
        f"events in {bulk.messages:,} messages, confirmed, record) | {bulk.publish_s:.2f} s "
        f"wall, {bulk.producer_cpu_s:.2f} s CPU "
        f"({bulk.published / bulk.publish_s if bulk.publish_s else 0:,.0f} orders/s) |",
        f"| - importer: first -> last order complete | **{bulk.import_s:.2f} s** "
        f"(**{n / bulk.import_s if bulk.import_s else 0:,.0f} orders/s**, "
        f"{per_order_ms:.1f} ms per order); first row after {bulk.first_s:.2f} s |",
        f"| - importer rate, first 10 % / middle 10 % / last 10 % of the orders | "
        f"{bulk.slice_rate(0.0, 0.1):,.0f} / {bulk.slice_rate(0.45, 0.55):,.0f} / "
        f"{bulk.slice_rate(0.9, 1.0):,.0f} orders/s (fit over deciles: {a:.1f} ms + "
        f"{slope:.2f} ms per 1,000 orders already there) |",
        f"| - consumer lag after run_once() returned | {bulk.total_s - bulk.publish_s:.2f} s |",
        "| - CPU during the bulk phase (producer / ERP consumer / RabbitMQ / MariaDB) | "
        + " / ".join(f"{cpu.get(k, 0):.2f} s" for k in ("producer", "consumer", "rabbitmq",
                                                         "mariadb"))
        + f" (sum {sum(cpu.values()):.2f} s of {2 * bulk.total_s:.2f} core-s) |",
        f"| CAO after the bulk phase: journals / positions / journals without 3 positions / "
        f"duplicate SHOP_ORDERID / duplicate numbers / orders missing / gross mismatches / "
        f"import rows not complete / import notes (rounding positions: "
        f"{c.get('rounding positions')}) | {c.get('journals')} / "
        f"{c.get('positions')} / {c.get('journals without 3 positions')} / "
        f"{c.get('duplicate SHOP_ORDERID')} / {c.get('duplicate VRENUM')} / "
        f"{c.get('orders missing in CAO')} / {c.get('gross total mismatches')} / "
        f"{c.get('import rows not complete')} / {c.get('import notes')} "
        f"(expected {n:,} / {3 * n:,} / 0 / 0 / 0 / 0 / 0 / 0 / 0) |",
        f"| Customers: ADRESSEN / expected (distinct registered + guest e-mails) / ADRESSEN_ASP "
        f"/ ADRESSEN_LIEF | {c.get('ADRESSEN')} / {c.get('expected customers')} / "
        f"{c.get('ADRESSEN_ASP')} / {c.get('ADRESSEN_LIEF')} |",
        f"| Baseline: direct multi-row INSERT of the importer's JOURNAL + JOURNALPOS rows "
        f"({base.rows.get('journal', 0):,} + {base.rows.get('journalpos', 0):,}; 1,000 "
        f"rows/statement; median of {len(base.runs.get('journal', []))}) | **{b_j:.3f} s** "
        f"(runs: {runs_j} s) |",
        f"| - the same plus the customer rows (ADRESSEN {base.rows.get('adressen', 0):,}, "
        f"ASP {base.rows.get('adressen_asp', 0):,}, LIEF {base.rows.get('adressen_lief', 0):,})"
        f" | {b_all:.3f} s (runs: {runs_all} s) |",
        f"| Pipeline vs baseline (JOURNAL + JOURNALPOS) | end to end **{ratio_total:,.0f}x**; "
        f"importer alone **{ratio_import:,.0f}x** |",
        f"| Idle order cycle: run_once() with all {n:,} orders published (median of "
        f"{len(idle.cycles)}) | "
        f"{ms(statistics.median(x[0] for x in idle.cycles))} wall, "
        f"{ms(statistics.median(x[1] for x in idle.cycles))} CPU; published "
        f"{', '.join(str(x[2]) for x in idle.cycles)} |",
    ]
    if lat.samples:
        lat_ms = [s * 1000 for s in lat.samples]
        lines += [
            f"| Order COMMIT in the shop -> JOURNAL row in CAO, follow mode ({len(lat_ms)} "
            f"orders, one transaction each, 50-300 ms apart, open loop) | p50 "
            f"**{pct(lat_ms, 50):.0f} ms**, p90 {pct(lat_ms, 90):.0f} ms, p99 "
            f"**{pct(lat_ms, 99):.0f} ms**, max **{max(lat_ms):.0f} ms** (min "
            f"{min(lat_ms):.0f}, mean {statistics.fmean(lat_ms):.0f}) |",
            f"| - orders that never arrived (30 s) | {lat.timeouts} |",
            f"| - CPU while following ({lat.seconds:.1f} s): follow producer / ERP consumer | "
            f"{lat.producer_cpu_s:.2f} s ({100 * lat.producer_cpu_s / lat.seconds:.0f} %) / "
            f"{lat.consumer_cpu_s:.2f} s ({100 * lat.consumer_cpu_s / lat.seconds:.0f} %) |",
        ]
    elif args.latency_orders:
        lines.append(f"| Order COMMIT -> JOURNAL row, follow mode | no samples "
                     f"({lat.timeouts} timeouts) |")
    db_s = 0.0
    if prof is not None and prof.orders:
        half = prof.orders // 2
        per = 1000 * prof.timed_s / max(half, 1)
        db_s = prof.statement_s + prof.commit_s + prof.ping_s + prof.rollback_s
        lines += [
            f"| Importer in-process, {half} more orders into CAO holding "
            f"{prof.journals_before:,} journals (no broker; every statement timed) | "
            f"{per:.1f} ms per order; per order {prof.statements / max(half, 1):.1f} statements"
            f" + {prof.commits / max(half, 1):.1f} commits + {prof.pings / max(half, 1):.1f} "
            f"pings + {prof.rollbacks / max(half, 1):.1f} rollbacks = "
            f"{(prof.statements + prof.commits + prof.pings + prof.rollbacks) / max(half, 1):.0f}"
            f" round trips; waiting on MariaDB {100 * db_s / prof.timed_s:.0f} % of the wall "
            "time |",
        ]
    if scale is not None:
        empty = scale.median("empty")
        for variant, _, _ in SCALE_VARIANTS:
            runs = scale.runs.get(variant, [])
            median = scale.median(variant)
            ratio = f"; **{median / empty:.2f}x** empty" if empty and variant != "empty" else ""
            held = ("no history" if variant == "empty" else
                    f"{scale.journals:,} journals + {scale.addresses:,} addresses")
            lines.append(
                f"| Scale: the {scale.orders:,} orders in-process into a fresh CAO, "
                f"{variant} ({held}"
                f"{'' if 'no indexes' in variant else ', erp-indexes --add applied'}; "
                f"median of {len(runs)}) | **{median:.2f} s** "
                f"(**{scale.orders / median if median else 0:,.0f} orders/s**{ratio}; runs "
                f"{', '.join(f'{r:.2f}' for r in runs)} s; "
                f"{'; '.join(scale.checks.get(variant, []))}) |")
    lines += [
        "",
        f"Baseline comparison: the whole bulk import took {ratio_total:,.0f}x, the importer "
        f"alone {ratio_import:,.0f}x the direct multi-row INSERT of the same JOURNAL and "
        f"JOURNALPOS rows ({bulk.import_s:.2f} s vs {b_j:.3f} s). The baseline writes only: it "
        "does not look customers up, draw numbers, lock or track the import. Other work may "
        "share the machine (see the load average).",
    ]
    if n < 5000 and bulk.import_s and a > 0 and slope >= 0:
        # Integrate the per-order fit from n to 5000: t(k) = a + slope * k / 1000 ms.
        extra = sum(a + slope * k / 1000 for k in range(n, 5000)) / 1000
        lines += ["", f"**Extrapolated, not measured:** 5,000 orders would take the importer "
                  f"≈ {bulk.import_s + extra:.0f} s (the measured {bulk.import_s:.1f} s for "
                  f"{n:,} plus the fitted per-order time {a:.1f} ms + {slope:.2f} ms per 1,000 "
                  "journals for the rest)."]
    if scale is not None and scale.statements:
        lines += scale_breakdown(scale)
    if prof is not None and prof.orders:
        lines += ["", f"### Where the importer's time goes ({prof.orders // 2} orders, "
                      "statement-timed, in the bench process)", "",
                  "| Statement (normalised) | count per order | ms per order |", "|---|---|---|"]
        half = max(prof.orders // 2, 1)
        for text, count, spent in prof.by_statement[:12]:
            lines.append(f"| `{text}` | {count / half:.1f} | {1000 * spent / half:.2f} |")
        lines += [f"| COMMIT (pymysql) | {prof.commits / half:.1f} | "
                  f"{1000 * prof.commit_s / half:.2f} |",
                  f"| ping (pool_pre_ping on each engine.connect()) | {prof.pings / half:.1f} | "
                  f"{1000 * prof.ping_s / half:.2f} |",
                  f"| ROLLBACK (pool reset when the connection is returned) | "
                  f"{prof.rollbacks / half:.1f} | {1000 * prof.rollback_s / half:.2f} |",
                  f"| everything else (Python: building, fitting, SQLAlchemy) | | "
                  f"{1000 * (prof.timed_s - db_s) / half:.2f} |",
                  "", f"Lookups at this size ({prof.journals_before:,} journals): "
                  + "; ".join(f"{label}: {access}, rows {rows}, {1000 * t:.2f} ms"
                              for label, access, rows, t in prof.explain) + ".",
                  "", f"cProfile of the other {prof.orders - prof.orders // 2} orders "
                  f"({prof.profiled_s:.2f} s under the profiler), cumulative per order: "
                  + "; ".join(f"{name} {1000 * per:.2f} ms ({calls} calls)"
                              for name, calls, _, per in prof.functions) + "."]
    lines.append("")
    return "\n".join(lines)


def scale_breakdown(scale: Scale) -> list[str]:
    """The slowest statements of each variant's median run, side by side."""
    median_run: dict[str, list[tuple[str, int, float]]] = {}
    for variant, _, _ in SCALE_VARIANTS:
        runs = scale.runs.get(variant, [])
        if not runs:
            continue
        index = sorted(range(len(runs)), key=lambda i: runs[i])[len(runs) // 2]
        median_run[variant] = scale.statements[variant][index]
    texts: list[str] = []
    for rows in median_run.values():
        for text, _, _ in rows[:6]:
            if text not in texts:
                texts.append(text)
    lines = ["", f"### Scale: the slowest statements of each variant's median run ({scale.orders:,}"
             " orders; count / seconds in all)", "",
             "| Statement (normalised) | " + " | ".join(median_run) + " |",
             "|---|" + "---|" * len(median_run)]
    for text in texts:
        cells = []
        for rows in median_run.values():
            hit = next(((n, t) for t2, n, t in rows if t2 == text), None)
            cells.append(f"{hit[0]} / {hit[1]:.2f} s" if hit else "-")
        lines.append(f"| `{text}` | " + " | ".join(cells) + " |")
    lines.append("| all statements | " + " | ".join(
        f"{sum(n for _, n, _ in rows)} / {sum(t for _, _, t in rows):.2f} s"
        for rows in median_run.values()) + " |")
    return lines


# -- main ------------------------------------------------------------------------------------

@contextmanager
def environment(args: argparse.Namespace) -> Iterator[Env]:
    env = Env.create(args, "sbbench-orders", rnd=random.Random(args.seed))
    try:
        yield env
    finally:
        for db in env.extra_dbs:
            with suppress(Exception):
                sample.drop_database(env.db_url, db)
        clean_up(env, lambda _: [topology.Target.for_erp(TENANT)], keep_tmp=args.keep_tmp)
        log(f"removed databases {env.cao}, {env.shop}, {env.base} and namespace {env.tag}")


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")   # runs the clean-up in environment()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--orders", type=int, default=5000, help="orders in the bulk phase")
    parser.add_argument("--latency-orders", type=int, default=200,
                        help="orders in the follow-mode latency phase (0 skips it)")
    parser.add_argument("--profile-orders", type=int, default=200,
                        help="orders applied in-process to see where the importer's time "
                             "goes (0 skips it)")
    parser.add_argument("--baseline-runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="give up waiting for the bulk import after this many seconds")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--scale-journals", type=int, default=100_000,
                        help="journals (3 positions each) of the big CAO in the scale phase")
    parser.add_argument("--scale-addresses", type=int, default=20_000,
                        help="addresses of the big CAO in the scale phase")
    parser.add_argument("--scale-rounds", type=int, default=3,
                        help="rounds of the scale phase's variants (0 skips it)")
    add_server_args(parser, amqp_default="amqp://guest@127.0.0.1:5672//")
    add_output_args(parser)
    args = parser.parse_args()
    missing = [p for p in (CAO_SQL, PHOENIX_SQL) if not p.is_file()]
    if missing:
        raise SystemExit(
            f"orders_bench: the upstream reference SQL is missing ({', '.join(map(str, missing))})."
            f" It lives in ../shared/reference beside the repository (or set "
            f"SHOPBRIDGE_REFERENCE_DIR); the CAO import needs JOURNAL, JOURNALPOS, ADRESSEN*, "
            f"LAND from the real CAO DDL, which the project's own table definitions lack.")
    if args.orders < 10:
        raise SystemExit("--orders must be at least 10")
    signal.signal(signal.SIGTERM, _terminate)
    command = command_line("bench/orders_bench.py")
    started = time.perf_counter()
    facts = machine_facts()

    with environment(args) as env:
        facts["mariadb"], facts["rabbitmq"], facts["flush"] = server_versions(
            env.db_url, env.amqp_url, "@@innodb_flush_log_at_trx_commit")
        log(f"building {env.cao}, {env.base} (CAO DDL) and {env.shop} (Phoenix) ...")
        t0 = time.perf_counter()
        build_databases(env, args.orders)
        write_config(env, url_env=AMQP_URL_ENV, tenant=TENANT, shop=SHOP,
                     cao_shop_id=CAO_SHOP_ID, shop_extra=ORDERS_CONFIG)
        assert env.settings is not None
        log(f"built in {time.perf_counter() - t0:.1f} s")
        with Connection(env.amqp_url) as conn:
            topology.declare(conn, env.settings.broker, [topology.Target.for_erp(TENANT)])
        consumer = spawn(env, "consumer", ["consume", "--erp"])
        wait_for_consumer(env, consumer, topology.work_queue(env.tag, TENANT, topology.ERP))
        meter = pipeline_meter(consumer.pid)

        log(f"bulk: {args.orders:,} orders ...")
        bulk = bulk_phase(env, args.orders, meter, args.timeout)
        log(f"bulk: {bulk.total_s:.2f} s total, run_once {bulk.publish_s:.2f} s, import "
            f"{bulk.import_s:.2f} s; checks {bulk.checks}; CPU {bulk.cpu}")

        idle = idle_cycles(env)
        log(f"idle order cycles (wall, cpu, published): {idle.cycles}")

        log("baseline copy ...")
        base = baseline_copy(env, args.baseline_runs)
        log(f"baseline: {base.runs} for {base.rows}")

        lat = Latency()
        if args.latency_orders:
            log(f"latency: {args.latency_orders} orders in follow mode ...")
            lat = latency_phase(env, args.latency_orders, consumer)
            if lat.samples:
                lat_ms = [s * 1000 for s in lat.samples]
                log(f"latency ms: p50 {pct(lat_ms, 50):.0f} p99 {pct(lat_ms, 99):.0f} max "
                    f"{max(lat_ms):.0f}; timeouts {lat.timeouts}; warm-up {lat.warmup_s:.2f} s")

        facts["consumer"] = stop_child(env, consumer, "consumer", timeout=STOP_TIMEOUT_S)
        log(f"consumer: {facts['consumer']}")

        scale = None
        if args.scale_rounds:
            log(f"scale: the {args.orders:,} orders into an empty and a big CAO ...")
            scale = scale_phase(env, sorted(env.specs)[:args.orders], args.scale_journals,
                                args.scale_addresses, args.scale_rounds,
                                env.settings.broker.batch_size)

        prof = None
        if args.profile_orders >= 2:
            log(f"importer profile: {args.profile_orders} orders in-process ...")
            prof = profile_importer(env, args.profile_orders)
            log(f"importer profile, top by tottime:\n{prof.top_tottime}")

    finish_facts(facts, started)
    text = render(args, facts, bulk, idle, base, lat, prof, command, scale)
    publish(text, write_results=not args.no_results, blank_line_before=True)
    return 0 if bulk_ok(bulk) and not lat.timeouts else 1


if __name__ == "__main__":
    sys.exit(main())
