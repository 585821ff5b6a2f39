"""Initial load of a CAO catalogue into VirtueMart against a direct copy of the same rows
(issue 11: <= 2x, goal 1.2x).

    .venv/bin/python bench/vm_bench.py [--articles 100000] [--full-runs 1] [--profile]

What it measures, in one run, against the local MariaDB and RabbitMQ:

1. Set-up (not timed): a CAO database with N generated articles (bench/_catalogue.py, as
   sync_bench.py builds it), two empty VirtueMart 4.4 shops from the upstream install SQL
   (tests/virtuemart_db.py: prefix sbx_, de-DE + en-GB active, vendor 1 in EUR), and a broker
   namespace of its own. Everything is removed at the end.
2. Full sync (initial load): from the start of ``CaoProducer.run_once()`` until the consumer
   (``python -m shopbridge consume`` in its own process) has committed the last product.
3. Baseline: the pipeline's final VirtueMart rows (products, their language rows per active
   language, product_categories, product_manufacturers, product_prices, the categories and
   manufacturers with theirs, category_categories) and its link tables, copied from the synced
   shop into the empty second one with multi-row INSERTs (1,000 rows per statement, one
   transaction): sync_bench.baseline_copy.
4. The shop checked: row counts, and every product against its CAO article (SKU, stock,
   German and English name, net and gross price of its price row for everyone).

Appends its section to bench/RESULTS.md (``--no-results``: print only). ``--profile`` runs
the consumer under cProfile and writes bench/PROFILE_VM.txt instead (inflated timings, not
written to RESULTS.md).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import _catalogue as catalogue
import pymysql
from _common import (
    BENCH,
    REPO,
    BenchEnv,
    add_output_args,
    add_server_args,
    command_line,
    default_sizes,
    empty_shop_and_snapshot,
    finish_facts,
    loadavg,
    log,
    machine_facts,
    pipeline_meter,
    publish,
    raw_connect,
    scalar,
    server_versions,
    spawn,
    stop_child,
    wait_for_consumer,
    write_config,
)
from kombu import Connection
from sync_bench import (
    Baseline,
    FullSync,
    baseline_copy,
    bookkeeping_tables,
    build_cao,
    environment,
    full_sync,
    full_sync_rows,
    profile_text,
    quick_baseline_rows,
)

from shopbridge import topology

if str(REPO) not in sys.path:          # tests/ is not installed: the shop builder lives there
    sys.path.append(str(REPO))
from tests.virtuemart_db import (
    LANGUAGES,
    PREFIX,
    create_virtuemart,
    reference_problem,
)

PROFILE_OUT = BENCH / "PROFILE_VM.txt"
SHOP = "vm"
TENANT = "bench"
AMQP_URL_ENV = "SBBENCH_AMQP_URL"
TARGET_RATIO = 2.0
GOAL_RATIO = 1.2
_SUFFIXES = [tag.lower().replace("-", "_") for tag in LANGUAGES]


def vm(name: str) -> str:
    return f"{PREFIX}virtuemart_{name}"


PRODUCTS = vm("products")
PRODUCT_TABLES = (PRODUCTS, *(vm(f"products_{s}") for s in _SUFFIXES),
                  vm("product_categories"), vm("product_manufacturers"),
                  vm("product_prices"))
SHOP_TABLES = (vm("categories"), *(vm(f"categories_{s}") for s in _SUFFIXES),
               vm("category_categories"), vm("manufacturers"),
               *(vm(f"manufacturers_{s}") for s in _SUFFIXES), *PRODUCT_TABLES)


# -- set-up ----------------------------------------------------------------------------------

def reference_missing() -> str | None:
    if not catalogue.CAO_SQL.exists():
        return f"the upstream CAO DDL {catalogue.CAO_SQL} is absent"
    return reference_problem()


def build_databases(env: BenchEnv, articles: int) -> None:
    t0 = time.perf_counter()
    build_cao(env, env.cao, articles)
    log(f"CAO built in {time.perf_counter() - t0:.1f} s")
    for db in (env.shop, env.base):
        create_virtuemart(db, server=env.db_url).engine.dispose()


# -- phases ----------------------------------------------------------------------------------

def verify(env: BenchEnv, conn: pymysql.Connection, expected: int) -> dict[str, Any]:
    """Row counts, and every product compared with its CAO article."""
    checks: dict[str, Any] = {t.removeprefix(vm("")): scalar(conn, f"SELECT COUNT(*) FROM {t}")
                              for t in SHOP_TABLES}
    checks["published"] = scalar(conn, f"SELECT COUNT(*) FROM {PRODUCTS} WHERE published = 1")
    de, en = (vm(f"products_{s}") for s in _SUFFIXES)
    # The undated row for everyone from quantity 0: the standard price (offers cut the
    # timeline into rows of their own, prices.py).
    checks["mismatches vs CAO"] = scalar(conn, f"""
        SELECT COUNT(*) FROM {PRODUCTS} p
        JOIN shopbridge_link k
          ON k.entity_type = 'product' AND k.target_id = p.virtuemart_product_id
        JOIN `{env.cao}`.artikel a ON a.REC_ID = CAST(k.entity_key AS UNSIGNED)
        JOIN `{env.cao}`.artikel_ltext l ON l.ARTIKEL_ID = a.REC_ID AND l.SPRACHE_ID = 1
        LEFT JOIN {de} d ON d.virtuemart_product_id = p.virtuemart_product_id
        LEFT JOIN {en} e ON e.virtuemart_product_id = p.virtuemart_product_id
        LEFT JOIN {vm("product_categories")} c
          ON c.virtuemart_product_id = p.virtuemart_product_id
        LEFT JOIN {vm("product_manufacturers")} m
          ON m.virtuemart_product_id = p.virtuemart_product_id
        WHERE p.product_in_stock <> GREATEST(FLOOR(a.MENGE_AKT), 0)
           OR p.product_sku <> CONVERT(a.ARTNUM USING utf8mb4) COLLATE utf8mb4_unicode_ci
           OR d.product_name IS NULL OR e.product_name IS NULL OR d.slug = '' OR e.slug = ''
           OR c.virtuemart_category_id IS NULL OR m.virtuemart_manufacturer_id IS NULL
           OR d.product_name <> CONVERT(a.KURZNAME USING utf8mb4) COLLATE utf8mb4_unicode_ci
           OR e.product_name <> CONVERT(l.KURZNAME USING utf8mb4) COLLATE utf8mb4_unicode_ci
           OR p.has_prices <> 1 OR p.has_categories <> 1 OR p.has_manufacturers <> 1
           OR NOT EXISTS (SELECT 1 FROM {vm("product_prices")} r
                          WHERE r.virtuemart_product_id = p.virtuemart_product_id
                            AND r.virtuemart_shoppergroup_id = 0
                            AND r.price_quantity_start = 0
                            AND r.product_price = a.VK1 AND r.product_override_price = a.VK1B)
        """)
    checks["ok"] = (all(checks[t.removeprefix(vm(""))] == expected for t in PRODUCT_TABLES
                        if t != vm("product_prices"))
                    and checks["product_prices"] >= expected
                    and checks["published"] == expected
                    and checks["categories"] == catalogue.expected_rows(expected)["categories"]
                    and checks["manufacturers"] == catalogue.MANUFACTURERS
                    and checks["mismatches vs CAO"] == 0)
    return checks


# -- report ----------------------------------------------------------------------------------

@dataclass
class Run:
    fulls: list[FullSync] = field(default_factory=list)
    base: Baseline = field(default_factory=Baseline)

    @property
    def total_s(self) -> float:
        return statistics.median(f.total_s for f in self.fulls)


def render(args: argparse.Namespace, facts: dict[str, str], run: Run, command: str) -> str:
    full = sorted(run.fulls, key=lambda f: f.total_s)[len(run.fulls) // 2]
    base = run.base
    ratio = full.total_s / base.seconds if base.seconds else float("nan")
    ratio_shop = full.total_s / base.shop_seconds if base.shop_seconds else float("nan")
    verdict = ("**met goal**" if ratio <= GOAL_RATIO else "**met**" if ratio <= TARGET_RATIO
               else "**missed**")
    rows_note = ", ".join(f"{t.removeprefix(PREFIX)} {n:,}" for t, n in base.rows.items())
    checks = full.checks
    return "\n".join([
        f"## VirtueMart initial load, {args.articles:,} articles - {facts['date']}",
        "",
        f"- Command: `{command}`",
        f"- Machine: {facts['nproc']} cores ({facts['cpu']}), shared with other work; load "
        f"average at start {facts['load_start']}, at end {facts['load_end']}; Python "
        f"{facts['python']}, MariaDB {facts['mariadb']}, RabbitMQ {facts['rabbitmq']}; commit "
        f"{facts['git']}",
        "- Data: CAO from the upstream DDL, generated by bench/_catalogue.py (as sync_bench); "
        "shops from the VirtueMart 4.4 install SQL (tests/virtuemart_db.py: de-DE + en-GB, "
        "vendor 1 in EUR, no shopper group mapping: one price row set for everyone).",
        f"- Settings: defaults ({default_sizes()}); "
        + ("consumer is `python -m shopbridge consume` in its own process"
           if args.consumers == 1 else
           f"{args.consumers} consumers (`python -m shopbridge consume --shop`, each its own "
           f"process) on the shop's one queue; their CPU is summed below")
        + ", producer in the bench process.",
        f"- Whole run (set-up, phases, clean-up): {facts['wall']} s; load average per phase: "
        f"{facts.get('phase_loads', '?')}",
        "",
        "| Measurement | Result |",
        "|---|---|",
        f"| Initial load of {args.articles:,} articles <= {TARGET_RATIO:g}x (goal "
        f"{GOAL_RATIO:g}x) the direct multi-row copy of the same rows | pipeline "
        f"**{full.total_s:.2f} s** vs baseline **{base.seconds:.2f} s** = **{ratio:.2f}x** "
        f"({ratio_shop:.2f}x the VirtueMart tables alone, {base.shop_seconds:.2f} s): "
        f"{verdict} |",
        f"| Baseline: direct multi-row INSERT ({rows_note}; 1,000 rows/statement, 1 "
        f"transaction, PyMySQL as shipped; median of {len(base.runs)}) | runs: "
        f"{', '.join(f'{r:.2f}' for r in base.runs)} s |",
        *quick_baseline_rows(base, full.total_s),
        f"| Full sync, run_once() start -> last product committed (median of "
        f"{len(run.fulls)}) | runs: {', '.join(f'{f.total_s:.2f}' for f in run.fulls)} s; "
        f"{full.events / full.total_s:,.0f} events/s |",
        *full_sync_rows(full),
        "| Shop after the sync (" + " / ".join(k for k in checks if k != "ok") + "; as "
        "expected) | " + " / ".join(str(v) for k, v in checks.items() if k != "ok")
        + f" ({checks.get('ok')}) |",
        f"| Consumer's own summary at exit | {facts.get('consumer', '?')} |",
        "",
    ])


# -- main ------------------------------------------------------------------------------------

def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--full-runs", type=int, default=1,
                        help="full syncs, each into a fresh empty shop (default 1); the "
                             "baseline is copied as often")
    add_server_args(parser, amqp_default="amqp://guest:guest@127.0.0.1:5672//")
    parser.add_argument("--consumers", type=int, default=1,
                        help="consumer processes on the shop's queue (default 1)")
    parser.add_argument("--profile", action="store_true",
                        help="run the consumer under cProfile into bench/PROFILE_VM.txt; "
                             "skips the baseline and RESULTS.md")
    add_output_args(parser)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    problem = reference_missing()
    if problem:
        print(f"vm_bench: skipped: {problem} (../shared/reference beside the repository, or "
              f"set SHOPBRIDGE_REFERENCE_DIR)")
        return 0
    command = command_line("bench/vm_bench.py")
    started = time.perf_counter()
    facts = machine_facts()
    run = Run()
    loads: list[str] = []
    with environment(args, "sbvm") as env:
        facts["mariadb"], facts["rabbitmq"] = server_versions(env.db_url, env.amqp_url)
        log(f"building {env.cao} ({args.articles:,} articles), {env.shop}, {env.base}")
        build_databases(env, args.articles)
        write_config(env, url_env=AMQP_URL_ENV, tenant=TENANT, shop=SHOP, cao_shop_id=1,
                     kind="virtuemart",
                     shop_extra=f'\n[tenants.shops.virtuemart]\nprefix = "{PREFIX}"\n')
        assert env.settings is not None
        with Connection(env.amqp_url) as conn:
            topology.declare(conn, env.settings.broker, env.settings.tenants[0].shops)
        consumer_prof = env.tmp / "consumer.prof" if args.profile else None
        consumer = spawn(env, "consumer", ["consume", "--shop", SHOP], profile_to=consumer_prof)
        wait_for_consumer(env, consumer, topology.work_queue(env.tag, TENANT, SHOP))
        meter = pipeline_meter(consumer.pid)
        # More consumers of the one shop queue (issue 14: "several consumers per shop").
        extra = [spawn(env, f"consumer{n}", ["consume", "--shop", SHOP])
                 for n in range(2, args.consumers + 1)]
        meter.pids.update({f"consumer{n}": proc.pid for n, proc in enumerate(extra, 2)})
        for n in range(1 if args.profile else args.full_runs):
            if n:
                reset(env)
            loads.append(f"full sync {n + 1} {loadavg()}")
            log(f"full sync {n + 1} ... (load {loadavg()})")
            full = full_sync(env, args.articles, meter, None, check=verify, timeout=1800,
                             count_sql=f"SELECT COUNT(*) FROM {PRODUCTS}")
            for name in [k for k in full.cpu if k.startswith("consumer") and k != "consumer"]:
                full.cpu["consumer"] += full.cpu.pop(name)
            run.fulls.append(full)
            log(f"full sync: {full.events:,} events in {full.total_s:.2f} s (run_once "
                f"{full.publish_s:.2f} s); CPU {full.cpu}; checks {full.checks}")
        facts["consumer"] = "; ".join(
            [stop_child(env, consumer, "consumer")]
            + [stop_child(env, proc, f"consumer{n}") for n, proc in enumerate(extra, 2)])
        if args.profile:
            PROFILE_OUT.write_text(
                f"# cProfile of the VirtueMart consumer, {args.articles:,} articles, "
                f"{facts['date']}; full sync under the profiler {full.total_s:.2f} s\n\n"
                + profile_text([("consumer process, full sync", consumer_prof)]),
                encoding="utf-8")
            log(f"wrote {PROFILE_OUT}")
            return 0
        shop = raw_connect(env.url(env.shop))
        try:
            bookkeeping = bookkeeping_tables(shop)
        finally:
            shop.close()
        loads.append(f"baseline {loadavg()}")
        log(f"baseline copy ... (load {loadavg()})")
        run.base = baseline_copy(env, len(run.fulls), shop_tables=SHOP_TABLES,
                                 bookkeeping=bookkeeping)
        log(f"baseline: {[round(r, 2) for r in run.base.runs]} s for {run.base.rows}")
    facts["phase_loads"] = "; ".join(loads)
    finish_facts(facts, started)
    publish(render(args, facts, run, command), write_results=not args.no_results,
            blank_line_before=True)
    return 0 if all(f.checks.get("ok") for f in run.fulls) else 1


def reset(env: BenchEnv) -> None:
    """An empty shop and snapshot again: the next full sync is an initial load too."""
    empty_shop_and_snapshot(env, lambda shop: (*SHOP_TABLES, *bookkeeping_tables(shop)))
    time.sleep(1.0)


if __name__ == "__main__":
    sys.exit(main())
