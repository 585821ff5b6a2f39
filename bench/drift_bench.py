"""``shopbridge drift`` (B1) on a synced shop of N articles (Phoenix, or ``--kind virtuemart``),
with the time of a full sync of the same shop as the baseline of the same run.

    .venv/bin/python bench/drift_bench.py [--articles 100000] [--edits 100] [--kind K]

In one run, against the local MariaDB and RabbitMQ:

1. Set-up (not timed): CAO with N articles and an empty shop (bench/sync_bench.py's or
   bench/vm_bench.py's builders), a consumer process, one initial load.
2. ``shopbridge drift --shop shop`` as a child process on the synced shop: wall time, peak
   RSS (the child's ru_maxrss), its summary line; it must find 0 differences (exit 0).
3. Edits by hand in the shop's database, ``--edits`` products each: a price, a German name,
   a hidden product (one with stock), a deleted category link; drift again: it must name
   exactly those (exit 1, one difference per edited product).
4. ``shopbridge drift --shop shop --repair``: wall time; then the time until the consumer
   has applied the republished events (drift in this process, until it finds 0).
5. Baseline in the same run: ``shopbridge sync --shop shop --entity products`` (every
   product republished), its wall time and the time until the shop's queue is empty.
"""

from __future__ import annotations

import argparse
import re
import resource
import subprocess
import sys
import time
from dataclasses import dataclass

import pymysql
import sync_bench
from _common import (
    REPO,
    add_output_args,
    add_server_args,
    command_line,
    finish_facts,
    loadavg,
    log,
    machine_facts,
    publish,
    raw_connect,
    scalar,
    spawn,
    wait_for_consumer,
    wait_until,
    write_config,
)
from kombu import Connection

from producers.cao import CaoProducer
from shopbridge import drift, topology

SHOP, TENANT, AMQP_URL_ENV = "shop", "bench", "SBBENCH_AMQP_URL"
SUMMARY = re.compile(r"(\d+) product\(s\) compared in [\d.]+ s, (\d+) difference\(s\) in "
                     r"(\d+) product\(s\)")


def _command(env: sync_bench.Env, name: str, *args: str) -> tuple[float, int, str, int]:
    """``shopbridge <args>`` as a child; returns (seconds, exit code, output, peak RSS in
    MB of the largest child waited for so far)."""
    with (env.tmp / f"{name}.out").open("wb") as out, (env.tmp / f"{name}.err").open("wb") as err:
        started = time.perf_counter()
        rc = subprocess.run([sys.executable, "-m", "shopbridge", "-c", str(env.config_path),
                             "--log-level", "WARNING", *args], cwd=REPO, stdout=out,
                            stderr=err, check=False).returncode
        seconds = time.perf_counter() - started
    text = ((env.tmp / f"{name}.out").read_text(errors="replace")
            + (env.tmp / f"{name}.err").read_text(errors="replace"))
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    return seconds, rc, text, rss_mb


def _summary(text: str) -> tuple[int, int, int]:
    match = SUMMARY.search(text)
    return (int(match[1]), int(match[2]), int(match[3])) if match else (-1, -1, -1)


def _queue_empty(env: sync_bench.Env, queue: str) -> bool:
    with Connection(env.amqp_url) as conn:
        channel = conn.channel()
        try:
            _, messages, _ = channel.queue_declare(queue=queue, passive=True)
        finally:
            channel.close()
    return int(messages) == 0


@dataclass(frozen=True)
class Kind:
    """How the bench builds, configures and edits one shop kind's database."""

    products: str                   # the product table
    pid: str                        # its id column
    stocked: str                    # SQL condition: a product with stock (hidden = drift)
    edits: dict[str, tuple[str, str]]   # drift field -> (SQL with {ids}, how many ids)


PHOENIX = Kind(
    products="products", pid="products_id", stocked="products_quantity > 0",
    edits={"price": ("UPDATE products SET products_price = products_price + 1 "
                     "WHERE products_id IN ({ids})", "1"),
           "name[de]": ("UPDATE products_description SET products_name = 'renamed by hand' "
                        "WHERE language_id = 2 AND products_id IN ({ids})", "2"),
           "visible": ("UPDATE products SET products_status = 0 WHERE products_id IN ({ids})",
                       "3"),
           "categories": ("DELETE FROM products_to_categories WHERE products_id IN ({ids})",
                          "4")})


def _virtuemart() -> Kind:
    from tests.virtuemart_db import PREFIX

    t = f"{PREFIX}virtuemart_"
    return Kind(
        products=f"{t}products", pid="virtuemart_product_id", stocked="product_in_stock > 0",
        edits={"prices[group 0]": (f"UPDATE {t}product_prices SET product_price = "
                                   f"product_price + 1 WHERE virtuemart_product_id IN ({{ids}})",
                                   "1"),
               "name[de-DE]": (f"UPDATE {t}products_de_de SET product_name = 'renamed by "
                               f"hand' WHERE virtuemart_product_id IN ({{ids}})", "2"),
               "visible": (f"UPDATE {t}products SET published = 0 WHERE "
                           f"virtuemart_product_id IN ({{ids}})", "3"),
               "categories": (f"DELETE FROM {t}product_categories WHERE "
                              f"virtuemart_product_id IN ({{ids}})", "4")})


def _edit(shop: pymysql.Connection, kind: Kind, edits: int) -> dict[str, int]:
    """Edit ``edits`` products per kind of edit by hand (products whose id ends in 001, 002...
    for the four edits; the hidden ones with stock); returns how many products each edited."""
    done = {}
    with shop.cursor() as cur:
        for name, (sql, residue) in kind.edits.items():
            cur.execute(f"SELECT {kind.pid} FROM {kind.products} WHERE MOD({kind.pid}, 1000) = "
                        f"{residue} AND {kind.stocked} ORDER BY {kind.pid} LIMIT %s", (edits,))
            ids = [int(r[0]) for r in cur.fetchall()]
            if ids:
                cur.execute(sql.format(ids=", ".join(["%s"] * len(ids))), ids)
            done[name] = len(ids)
    return done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--edits", type=int, default=100, help="products per kind of edit")
    parser.add_argument("--kind", choices=["oscommerce", "virtuemart"], default="oscommerce")
    add_server_args(parser, amqp_default="amqp://guest:guest@127.0.0.1:5672//")
    add_output_args(parser)
    args = parser.parse_args()
    sync_bench.require_reference()
    command = command_line("bench/drift_bench.py")
    started = time.perf_counter()
    facts = machine_facts()
    n = args.articles
    loads: dict[str, str] = {}
    with sync_bench.environment(args, "sbdrift") as env:
        if args.kind == "virtuemart":
            import vm_bench

            from tests.virtuemart_db import PREFIX  # vm_bench put the repository on the path

            kind = _virtuemart()
            vm_bench.build_databases(env, n)
            write_config(env, url_env=AMQP_URL_ENV, tenant=TENANT, shop=SHOP, cao_shop_id=1,
                         kind="virtuemart", shop_extra=f'\n[tenants.shops.virtuemart]\n'
                                                       f'prefix = "{PREFIX}"\n')
        else:
            kind = PHOENIX
            sync_bench.build_databases(env, n)
            write_config(env, url_env=AMQP_URL_ENV, tenant=TENANT, shop=SHOP, cao_shop_id=1)
        assert env.settings is not None
        settings = env.settings
        queue = topology.work_queue(env.tag, TENANT, SHOP)
        with Connection(env.amqp_url) as conn:
            topology.declare(conn, env.settings.broker, env.settings.tenants[0].shops)
        consumer = spawn(env, "consumer", ["consume", "--shop", SHOP])
        wait_for_consumer(env, consumer, queue)
        shop = raw_connect(env.url(env.shop))
        producer = CaoProducer(broker=env.settings.broker, tenant=env.settings.tenants[0])
        try:
            producer.prepare()
            producer.run_once()
        finally:
            producer.close()
        linked = ("SELECT COUNT(*) FROM shopbridge_link WHERE entity_type = 'product' "
                  "AND target_id IS NOT NULL")
        wait_until(lambda: scalar(shop, linked) >= n and _queue_empty(env, queue),
                   timeout=1800, interval=0.5)
        time.sleep(2)                       # the last batch's commit
        log("initial load done")

        loads["clean"] = loadavg()
        clean_s, clean_rc, clean_out, clean_rss = _command(env, "drift-clean", "drift",
                                                          "--shop", SHOP)
        clean = _summary(clean_out)
        log(f"drift on the synced shop: {clean_s:.1f} s, exit {clean_rc}, {clean}")

        edited = _edit(shop, kind, args.edits)
        loads["edited"] = loadavg()
        found_s, found_rc, found_out, found_rss = _command(env, "drift-edited", "drift",
                                                          "--shop", SHOP)
        found = _summary(found_out)
        by_field = found_out.rsplit("(", 1)[-1].split(")", 1)[0] if found[1] > 0 else ""
        log(f"drift after {edited}: {found_s:.1f} s, exit {found_rc}, {found} ({by_field})")

        loads["repair"] = loadavg()
        repair_s, repair_rc, repair_out, _ = _command(env, "drift-repair", "drift",
                                                      "--shop", SHOP, "--repair")
        republished = re.search(r"(\d+) product event\(s\) republished", repair_out)
        t0 = time.perf_counter()

        def repaired() -> bool:
            report, _ = drift.run(settings, argparse.Namespace(
                shop=SHOP, tenant=None, entity="product", repair=False))
            return report.total == 0

        zero = wait_until(repaired, timeout=300, interval=1.0)
        applied_s = time.perf_counter() - t0
        log(f"repair: {repair_s:.1f} s, then 0 differences after {applied_s:.1f} s: {zero}")

        loads["sync"] = loadavg()
        sync_s, sync_rc, _, _ = _command(env, "sync", "sync", "--shop", SHOP,
                                                "--entity", "products")
        t0 = time.perf_counter()
        drained = wait_until(lambda: _queue_empty(env, queue), timeout=1800, interval=0.2)
        drain_s = time.perf_counter() - t0
        log(f"baseline sync: {sync_s:.1f} s, queue empty {drain_s:.1f} s later")
        shop.close()

    finish_facts(facts, started)
    expected = sum(edited.values())
    ok = (clean_rc == 0 and clean[:2] == (n, 0) and found_rc == 1
          and found[1:] == (expected, expected) and repair_rc == 1 and zero
          and clean_s < 60 and sync_rc == 0)
    text = "\n".join([
        f"## Drift report (B1), {n:,} articles, {args.kind} ({facts['date']})",
        "",
        f"Command: `{command}`  ",
        f"Machine: {facts['nproc']} cores, {facts['cpu']}, shared with other helpers' runs; "
        f"load {facts['load_start']} at start, {facts['load_end']} at the end; per phase: "
        + "; ".join(f"{k} {v}" for k, v in loads.items()) + f"; git {facts['git']}",
        "",
        "| what | figure |",
        "|---|---|",
        f"| `drift --shop shop` on the synced shop (child process, goal < 60 s) | "
        f"**{clean_s:.1f} s**, exit {clean_rc}, {clean[0]:,} compared, {clean[1]} "
        f"difference(s); peak RSS {clean_rss} MB |",
        f"| edits by hand | {', '.join(f'{k}: {v}' for k, v in edited.items())} |",
        f"| `drift` after the edits | {found_s:.1f} s, exit {found_rc}, {found[1]} "
        f"difference(s) in {found[2]} product(s) ({by_field}); peak RSS {found_rss} MB |",
        f"| `drift --repair` | {repair_s:.1f} s, exit {repair_rc}, "
        f"{republished[1] if republished else '?'} product event(s) republished |",
        f"| until drift finds 0 again (consumer applied them; polled every 1 s) | "
        f"{applied_s:.1f} s: {zero} |",
        f"| baseline, same run: `sync --shop shop --entity products` | {sync_s:.1f} s, exit "
        f"{sync_rc}; the shop's queue empty {drain_s:.1f} s later ({drained}) |",
        "",
        f"Result: {'OK' if ok else 'FAILED'}: drift reads both sides a page (1,000 articles) "
        "at a time; 0 differences after the sync, exactly the edited products after the "
        "edits, 0 after the repair.",
    ])
    publish(text, write_results=not args.no_results, blank_line_before=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
