"""Orders from VirtueMart into CAO-Faktura beside the osCommerce path, in one run.

    .venv/bin/python bench/vm_orders_bench.py [--orders 1000] [--latency-orders 100]

One CAO database, one ERP consumer (``python -m shopbridge consume --erp`` in its own process),
two shops of one tenant: the CE Phoenix shop of ``orders_bench.py`` (CAO shop 1) and a
VirtueMart 4.4 shop from the upstream SQL (``tests/virtuemart_db.py``, CAO shop 2) whose
orders ``tests/vm_checkout.py`` writes as VirtueMart's checkout does (2 lines at 19/7 %,
shipment, payment, a coupon on every third order, ~20 % guests, a comment). Phases, osCommerce
first, then VirtueMart, each the same way (``orders_bench``'s phases are reused for Phoenix):

1. Bulk: N orders in the shop (not timed); timed from the producer's ``run_once()`` start until
   CAO holds their N JOURNAL rows. Checked: N documents, each one's gross total and VAT equal
   to the shop's (VirtueMart: ``order_total``, ``order_billTaxAmount``).
2. Latency in follow mode: ``shopbridge orders produce --shop <shop> --follow --interval 0.5``;
   M orders written one at a time at random intervals of 50-300 ms (open loop); per order
   from the shop's COMMIT to its JOURNAL row in CAO.

Results are appended to bench/RESULTS.md (``--no-results`` skips that).
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orders_bench as ob
import sqlalchemy as sa
from _common import (
    CpuMeter,
    add_output_args,
    add_server_args,
    clean_up,
    command_line,
    finish_facts,
    log,
    machine_facts,
    pct,
    pipeline_meter,
    proc_cpu_s,
    publish,
    raw_connect,
    scalar,
    server_versions,
    spawn,
    stop_child,
    wait_for_consumer,
    wait_until,
    write_config,
)
from kombu import Connection

from consumers.binder import DDL as LINK_DDL
from producers.virtuemart.orders import VmOrderProducer
from shopbridge import sample, topology
from tests.conftest import Database
from tests.virtuemart_db import PREFIX, create_virtuemart, drop_virtuemart
from tests.vm_checkout import (
    AUSTRIA,
    Address,
    Method,
    VmLine,
    VmOrder,
    add_method,
    place_vm_order,
)

VM_SHOP = "vm"
VM_CAO_SHOP_ID = 2
RATE = {2: Decimal(19), 1: Decimal(7)}       # CAO STEUER_CODE -> VAT % (the sample articles)
VM_CONFIG = f"""
[[tenants.shops]]
name = "{VM_SHOP}"
kind = "virtuemart"
url = "{{url}}"
languages = ["de", "en"]
price_level = 1
stock_mode = "available"
tax_classes = {{{{ 1 = 2, 2 = 1 }}}}
filter = {{{{ cao_shop_id = {VM_CAO_SHOP_ID} }}}}
[tenants.shops.virtuemart]
prefix = "{PREFIX}"
[tenants.shops.orders]
payment_methods = {{{{ "Vorkasse" = 1, "Nachnahme" = 3 }}}}
shipping_methods = {{{{ "DHL Paket" = 2 }}}}
countries = {{{{ DE = "D", AT = "AT" }}}}
"""


@dataclass
class VmShop:
    db: Database
    products: list[ob.Product] = field(default_factory=list)
    placed: dict[int, VmOrder] = field(default_factory=dict)


def build_vm(env: ob.Env, name: str) -> VmShop:
    """A VirtueMart shop with payment/shipment methods, the sample products and their links."""
    db = create_virtuemart(name, server=env.db_url)
    shop = VmShop(db, products=env.products)
    add_method(db, "shipment", 1, {"de-DE": "DHL Paket", "en-GB": "DHL parcel"})
    add_method(db, "payment", 1, {"de-DE": "Vorkasse", "en-GB": "Prepayment"})
    add_method(db, "payment", 2, {"de-DE": "Nachnahme", "en-GB": "Cash on delivery"})
    with db.engine.begin() as conn:
        conn.exec_driver_sql(LINK_DDL)
        sample.insert_rows(conn, f"{PREFIX}virtuemart_products", [
            {"virtuemart_product_id": p.products_id, "product_sku": p.model,
             "product_in_stock": 100, "published": 1} for p in env.products])
        sample.insert_rows(conn, "shopbridge_link", [
            {"entity_type": "product", "entity_key": str(p.rec_id), "target_id": p.products_id}
            for p in env.products])
    return shop


def place(shop: VmShop, rnd: random.Random) -> VmOrder:
    """One checkout: 2 lines, shipment, payment (its own 19 % rule or the default), every
    third with a coupon, ~20 % guests, ~15 % to Austria."""
    lines = [VmLine(p.products_id, p.model, p.name, p.price.quantize(Decimal("0.01")),
                    RATE[p.code], rnd.randint(1, 3)) for p in rnd.sample(shop.products, 2)]
    guest = rnd.random() < 0.2
    ship_to = Address(first_name=rnd.choice(ob.FIRST), last_name=rnd.choice(ob.LAST),
                      city="Wien", zip="1010", country_id=AUSTRIA) \
        if rnd.random() < 0.15 else None
    order = place_vm_order(
        shop.db, items=lines, guest=guest, user_id=rnd.randint(1, 500),
        email=f"kunde{rnd.randint(1, 400)}@{'gast.' if guest else ''}example.de",
        billing=Address(first_name=rnd.choice(ob.FIRST), last_name=rnd.choice(ob.LAST)),
        shipping_address=ship_to, shipment=Method(1, Decimal("4.90")),
        payment=rnd.choice((Method(1), Method(2, Decimal("2.00"), Decimal(19)))),
        coupon=("RABATT", Decimal("3.00")) if rnd.random() < 1 / 3 else None,
        comment=rnd.choice(ob.COMMENTS))
    shop.placed[order.id] = order
    return order


@dataclass
class Run:
    """One shop kind's figures."""

    name: str
    orders: int = 0
    insert_s: float = 0.0
    publish_s: float = 0.0                # the producer's run_once(): read, publish, record
    total_s: float = 0.0
    first_s: float = 0.0
    checks: dict[str, Any] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    latency: ob.Latency = field(default_factory=ob.Latency)

    @property
    def rate(self) -> float:
        return self.orders / self.total_s if self.total_s else 0.0


def vm_bulk(env: ob.Env, shop: VmShop, n: int, meter: CpuMeter, timeout: float) -> Run:
    assert env.settings is not None
    out = Run("VirtueMart", orders=n)
    t0 = time.perf_counter()
    ids = [place(shop, env.rnd).id for _ in range(n)]
    out.insert_s = time.perf_counter() - t0
    log(f"VirtueMart: {n:,} checkouts written in {out.insert_s:.1f} s (not timed)")
    cao = raw_connect(env.url(env.cao))
    before = int(scalar(cao, "SELECT COUNT(*) FROM journal"))
    producer = VmOrderProducer(broker=env.settings.broker,
                               shop=env.settings.tenants[0].shop(VM_SHOP))
    try:
        producer.prepare()
        if producer.count().new != n:
            raise SystemExit(f"the VirtueMart producer sees {producer.count().new} new orders")
        meter.start()
        progress = ob.ProgressPoller(env.url(env.cao), before + n, timeout)
        t0 = time.perf_counter()
        progress.start_at(t0)
        report = producer.run_once()
        out.publish_s = time.perf_counter() - t0
        if report.rejected:
            log(f"WARNING: {len(report.rejected)} rejected, e.g. {report.rejected[0]}")
        progress.join()
        out.total_s = progress.done_at - t0
        out.cpu = meter.stop()
        out.first_s = next((t for t, r in progress.samples if r > before), out.total_s)
        time.sleep(0.2)
        out.checks = verify_vm(cao, shop, ids)
    finally:
        producer.close()
        cao.close()
    return out


def verify_vm(cao: Any, shop: VmShop, ids: Sequence[int]) -> dict[str, Any]:
    """Every VirtueMart order once, with the shop's gross total and VAT."""
    rows = ob.rows_of(cao, "SELECT SHOP_ORDERID, BSUMME, MSUMME FROM journal WHERE SHOP_ID = "
                           "%s", (VM_CAO_SHOP_ID,))
    found = {int(o): (g, v) for o, g, v in rows}
    cent = Decimal("0.01")
    wrong = [i for i in ids if i in found and found[i] != (
        shop.placed[i].total.quantize(cent), shop.placed[i].tax.quantize(cent))]
    return {"expected": len(ids), "journals": len(rows),
            "duplicates": len(rows) - len(found), "missing": len(set(ids) - set(found)),
            "total or VAT differs": len(wrong)}


def vm_latency(env: ob.Env, shop: VmShop, m: int, consumer: Any) -> ob.Latency:
    out = ob.Latency()
    follow = spawn(env, "follow-vm", ["orders", "produce", "--shop", VM_SHOP, "--follow",
                                      "--interval", str(ob.FOLLOW_INTERVAL_S)])
    poller = ob.ArrivalPoller(env.url(env.cao))
    poller.start()
    commits: dict[int, float] = {}
    try:
        warm = place(shop, env.rnd)
        t_warm = time.perf_counter()
        if not wait_until(lambda: warm.id in poller.arrived, timeout=60, interval=0.01):
            raise SystemExit("VirtueMart follow producer: the warm-up order did not arrive")
        out.warmup_s = poller.arrived[warm.id] - t_warm
        p0, k0, t0 = proc_cpu_s(follow.pid), proc_cpu_s(consumer.pid), time.perf_counter()
        for _ in range(m):
            order = place(shop, env.rnd)          # returns after its last COMMIT
            commits[order.id] = time.perf_counter()
            time.sleep(env.rnd.uniform(0.05, 0.3))
        wait_until(lambda: all(i in poller.arrived for i in commits), timeout=30,
                   interval=0.01)
        out.seconds = time.perf_counter() - t0
        out.producer_cpu_s = proc_cpu_s(follow.pid) - p0
        out.consumer_cpu_s = proc_cpu_s(consumer.pid) - k0
        for order_id, t_commit in commits.items():
            if order_id in poller.arrived:
                out.samples.append(poller.arrived[order_id] - t_commit)
            else:
                out.timeouts += 1
    finally:
        poller.stop_event.set()
        poller.join(timeout=5)
        stop_child(env, follow, "follow-vm", timeout=ob.STOP_TIMEOUT_S)
    return out


def render(args: argparse.Namespace, facts: dict[str, str], paths: Sequence[Run],
           command: str) -> str:
    lines = [
        f"## {facts['date']} - orders from VirtueMart and from osCommerce into CAO: "
        f"{args.orders:,} bulk, {args.latency_orders} in follow mode, each",
        "",
        f"- Command: `{command}`",
        f"- Machine: {facts['nproc']} cores ({facts['cpu']}), load average at start "
        f"{facts['load_start']}, at end {facts['load_end']}; Python {facts['python']}, "
        f"MariaDB {facts['mariadb']}, RabbitMQ {facts['rabbitmq']}; commit {facts['git']}",
        "- One CAO database (upstream DDL) and one ERP consumer (`python -m shopbridge consume "
        "--erp`, own process) for both shops; osCommerce = orders_bench.py's Phoenix orders "
        "(2 items, one with an attribute, net-priced); VirtueMart = tests/vm_checkout.py's "
        "checkouts (2 lines at 19/7 %, shipment, payment with or without its own tax rule, a "
        "coupon split over both rates on every third order, gross-priced). The osCommerce "
        "path runs first (VirtueMart's bulk meets a CAO that holds its documents already); "
        "each bulk is timed from run_once() start to its last JOURNAL row.",
        f"- Whole run: {facts['wall']} s; ERP consumer at exit: {facts.get('consumer', '?')}",
        "",
        "| path | bulk: orders/s (s for all) | producer run_once() | first document after "
        "| checks | follow mode: p50 / p99 / max latency | timeouts |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in paths:
        ms = [s * 1000 for s in p.latency.samples]
        latency = (f"{pct(ms, 50):.0f} / {pct(ms, 99):.0f} / {max(ms):.0f} ms" if ms else "-")
        checks = ", ".join(f"{k} {v}" for k, v in p.checks.items())
        lines.append(f"| {p.name} | **{p.rate:.0f}** ({p.total_s:.2f} s) | {p.publish_s:.2f} s "
                     f"| {p.first_s:.2f} s | {checks} | {latency} | {p.latency.timeouts} |")
    lines.append("")
    return "\n".join(lines)


@contextmanager
def environment(args: argparse.Namespace) -> Iterator[tuple[ob.Env, list[VmShop]]]:
    env = ob.Env.create(args, "sbbench-vmorders", rnd=random.Random(args.seed))
    shops: list[VmShop] = []
    try:
        yield env, shops
    finally:
        for shop in shops:
            drop_virtuemart(shop.db)
        clean_up(env, lambda _: [topology.Target.for_erp(ob.TENANT)], keep_tmp=args.keep_tmp)
        log(f"removed databases {env.cao}, {env.shop}, {env.base}, the VirtueMart shop and "
            f"namespace {env.tag}")


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--orders", type=int, default=1000, help="orders per shop in bulk")
    parser.add_argument("--latency-orders", type=int, default=100,
                        help="orders per shop in follow mode (0 skips it)")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=12)
    add_server_args(parser, amqp_default="amqp://guest@127.0.0.1:5672//")
    add_output_args(parser)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _terminate)
    command = command_line("bench/vm_orders_bench.py")
    started = time.perf_counter()
    facts = machine_facts()
    paths: list[Run] = []
    with environment(args) as (env, shops):
        facts["mariadb"], facts["rabbitmq"] = server_versions(env.db_url, env.amqp_url)
        log("building CAO, Phoenix and VirtueMart databases ...")
        ob.build_databases(env, args.orders)
        shop = build_vm(env, f"{env.tag.replace('-', '_')}_vm")
        shops.append(shop)
        vm_url = sa.make_url(env.db_url).set(database=shop.db.name).render_as_string(
            hide_password=True)
        write_config(env, url_env=ob.AMQP_URL_ENV, tenant=ob.TENANT, shop=ob.SHOP,
                     cao_shop_id=ob.CAO_SHOP_ID,
                     shop_extra=ob.ORDERS_CONFIG + VM_CONFIG.format(url=vm_url))
        with Connection(env.amqp_url) as conn:
            assert env.settings is not None
            topology.declare(conn, env.settings.broker, [topology.Target.for_erp(ob.TENANT)])
        consumer = spawn(env, "consumer", ["consume", "--erp"])
        wait_for_consumer(env, consumer, topology.work_queue(env.tag, ob.TENANT, topology.ERP))

        def osc_bulk() -> Run:
            log(f"osCommerce bulk: {args.orders:,} orders ...")
            bulk = ob.bulk_phase(env, args.orders, pipeline_meter(consumer.pid), args.timeout)
            out = Run("osCommerce (Phoenix)", orders=args.orders, total_s=bulk.total_s,
                      publish_s=bulk.publish_s,
                      first_s=bulk.first_s, cpu=bulk.cpu,
                      checks={k: bulk.checks[k] for k in ("expected", "journals")
                              if k in bulk.checks})
            log(f"osCommerce: {out.rate:.0f} orders/s; {bulk.checks}")
            return out

        def vm_bulk_() -> Run:
            log(f"VirtueMart bulk: {args.orders:,} orders ...")
            out = vm_bulk(env, shop, args.orders, pipeline_meter(consumer.pid), args.timeout)
            log(f"VirtueMart: {out.rate:.0f} orders/s; {out.checks}")
            return out

        # osCommerce first: orders_bench's phases count every JOURNAL row of the database.
        osc = osc_bulk()
        vm = vm_bulk_()
        paths += [osc, vm]
        if args.latency_orders:
            log(f"latency: {args.latency_orders} orders per shop in follow mode ...")
            osc.latency = ob.latency_phase(env, args.latency_orders, consumer)
            vm.latency = vm_latency(env, shop, args.latency_orders, consumer)
            for p in paths:
                ms = [s * 1000 for s in p.latency.samples] or [0.0]
                log(f"{p.name}: p50 {pct(ms, 50):.0f} p99 {pct(ms, 99):.0f} ms, "
                    f"timeouts {p.latency.timeouts}")
        facts["consumer"] = stop_child(env, consumer, "consumer", timeout=ob.STOP_TIMEOUT_S)
    finish_facts(facts, started)
    publish(render(args, facts, paths, command), write_results=not args.no_results,
            blank_line_before=True)
    ok = vm.checks.get("journals") == args.orders and not any(
        vm.checks.get(k) for k in ("duplicates", "missing", "total or VAT differs"))
    return 0 if ok and not any(p.latency.timeouts for p in paths) else 1


if __name__ == "__main__":
    sys.exit(main())
