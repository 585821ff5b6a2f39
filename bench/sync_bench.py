"""End-to-end benchmark of the CAO -> RabbitMQ -> Phoenix pipeline on this machine.

    .venv/bin/python bench/sync_bench.py [--articles 10000] [--changes 100]

What it measures, in one run, against the local MariaDB and RabbitMQ:

1. Set-up (not timed): a CAO database with N articles (English texts for every 2nd), two empty
   Phoenix databases, all from the project's own table definitions (as ``shopbridge demo``),
   and a broker namespace of its own. Everything is removed at the end.
2. Full sync: from the start of ``CaoProducer.run_once()`` until the consumer (a separate
   ``python -m shopbridge consume`` process, so producer and consumer can use both cores) has
   committed every product.
3. Baseline: the very rows the pipeline wrote (products, products_description, shopbridge_link)
   copied into the second empty Phoenix database with PyMySQL multi-row INSERTs (1,000 rows per
   statement, one transaction) - what the pipeline ends up writing, without broker and events.
4. Stock latency in follow mode: ``shopbridge produce --follow`` (stock scan every 0.5 s, full
   cycle every 10 s) and the consumer running; M times one article's MENGE_AKT is changed in
   CAO and the shop row is polled every ~5 ms until it shows the new quantity.
5. Idle cycles: ``run_once()`` and ``stock_scan()`` over N unchanged articles (wall, CPU, events).

Results are appended to bench/RESULTS.md. ``--profile`` runs the full sync under cProfile
(producer in-process, consumer via ``python -m cProfile``) and writes bench/PROFILE.txt; its
timings are inflated by the profiler and are not written to RESULTS.md.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql
import sqlalchemy as sa
from _common import (
    BENCH,
    BenchEnv,
    CpuMeter,
    add_output_args,
    add_server_args,
    clean_up,
    command_line,
    executemany_chunked,
    finish_facts,
    insert_sql,
    loadavg,
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

from consumers.binder import DDL as LINK_DDL
from consumers.oscommerce import tables as phoenix_tables
from producers.cao import CaoProducer
from producers.cao import tables as cao_tables
from shopbridge import sample, topology

PROFILE_OUT = BENCH / "PROFILE.txt"
SHOP = "shop"
TENANT = "bench"
AMQP_URL_ENV = "SBBENCH_AMQP_URL"


# -- set-up ----------------------------------------------------------------------------------

Env = BenchEnv


def build_databases(env: Env, articles: int) -> int:
    """CAO with ``articles`` rows, two empty Phoenix shops; returns the articles shop 1 sells."""
    cao_url = sample.create_database(env.db_url, env.cao, charset="latin1")
    engine = sa.create_engine(cao_url)
    cao_tables.metadata.create_all(engine)
    names = {t.name: t.name for t in cao_tables.metadata.sorted_tables}
    rows = sample.articles(articles, shop_ids=(1,))
    with engine.begin() as conn:
        sample.cao_reference_data(conn, names)
        sample.insert_rows(conn, "ARTIKEL", rows)
        sample.insert_rows(conn, "ARTIKEL_LTEXT", sample.translations(rows, every=2))
    engine.dispose()
    for db in (env.shop, env.base):
        engine = sa.create_engine(sample.create_database(env.db_url, db))
        phoenix_tables.metadata.create_all(engine)
        with engine.begin() as conn:
            sample.phoenix_reference_data(conn)  # en = 1, de = 2
        engine.dispose()
    return sum(1 for r in rows if r["SHOP_ID"] == 1 and r["SHOP_VISIBLE"] == 1)


# -- phases ----------------------------------------------------------------------------------

@dataclass
class FullSync:
    events: int = 0
    messages: int = 0
    publish_s: float = 0.0
    producer_cpu_s: float = 0.0
    total_s: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)


def full_sync(env: Env, expected: int, meter: CpuMeter,
              profiler: cProfile.Profile | None) -> FullSync:
    assert env.settings is not None
    out = FullSync()
    producer = CaoProducer(broker=env.settings.broker, tenant=env.settings.tenants[0])
    poll = raw_connect(env.url(env.shop))
    try:
        producer.prepare()
        meter.start()
        t0, c0 = time.perf_counter(), time.process_time()
        if profiler is not None:
            profiler.enable()
        report = producer.run_once()
        if profiler is not None:
            profiler.disable()
        out.publish_s = time.perf_counter() - t0
        out.producer_cpu_s = time.process_time() - c0
        done = wait_until(lambda: scalar(poll, "SELECT COUNT(*) FROM products") >= expected,
                          timeout=300, interval=0.01)
        out.total_s = time.perf_counter() - t0
        out.cpu = meter.stop()
        out.events, out.messages = report.events, report.messages
        if not done:
            log("WARNING: not every product arrived within 300 s")
        out.checks = verify(env, poll, expected)
    finally:
        producer.close()
        poll.close()
    return out


def reset_sync_state(env: Env) -> None:
    """Empty the shop and the producer's snapshot, so the next full sync starts from zero."""
    shop = raw_connect(env.url(env.shop))
    cao = raw_connect(env.url(env.cao))
    try:
        with shop.cursor() as cur:
            for table in ("products", "products_description", "shopbridge_link"):
                cur.execute(f"TRUNCATE TABLE `{table}`")
        with cao.cursor() as cur:
            cur.execute("TRUNCATE TABLE shopbridge_snapshot")
    finally:
        shop.close()
        cao.close()


def verify(env: Env, conn: pymysql.Connection, expected: int) -> dict[str, Any]:
    """Counts, and every shop row compared with its CAO article (price, quantity, name)."""
    checks: dict[str, Any] = {"expected products": expected}
    checks["products"] = scalar(conn, "SELECT COUNT(*) FROM products")
    checks["visible"] = scalar(conn, "SELECT COUNT(*) FROM products WHERE products_status = 1")
    checks["descriptions"] = scalar(conn, "SELECT COUNT(*) FROM products_description")
    checks["links"] = scalar(conn, "SELECT COUNT(*) FROM shopbridge_link")
    checks["mismatches vs CAO"] = scalar(conn, f"""
        SELECT COUNT(*) FROM products p
        JOIN `{env.cao}`.ARTIKEL a
          ON CONVERT(a.ARTNUM USING utf8mb4) COLLATE utf8mb4_unicode_ci = p.products_model
        JOIN products_description d ON d.products_id = p.products_id AND d.language_id = 2
        WHERE p.products_price <> a.VK1
           OR p.products_quantity <> GREATEST(FLOOR(a.MENGE_AKT), 0)
           OR d.products_name <> CONVERT(a.KURZNAME USING utf8mb4) COLLATE utf8mb4_unicode_ci
        """)
    return checks


@dataclass
class Baseline:
    rows: dict[str, int] = field(default_factory=dict)
    runs: list[float] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return statistics.median(self.runs) if self.runs else 0.0


def baseline_copy(env: Env, runs: int) -> Baseline:
    """The pipeline's final rows, multi-row INSERTed into the empty second shop DB (timed)."""
    out = Baseline()
    src = raw_connect(env.url(env.shop))
    dst = raw_connect(env.url(env.base), autocommit=False)
    data: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
    try:
        for table in ("products", "products_description", "shopbridge_link"):
            data[table] = select_all(src, table)
            out.rows[table] = len(data[table][1])
        with dst.cursor() as cur:
            cur.execute(LINK_DDL)
        dst.commit()
        for _ in range(runs):
            with dst.cursor() as cur:
                for table in data:
                    cur.execute(f"TRUNCATE TABLE `{table}`")
            dst.commit()
            t0 = time.perf_counter()
            with dst.cursor() as cur:
                for table, (columns, rows) in data.items():
                    executemany_chunked(cur, insert_sql(table, columns), rows)
            dst.commit()
            out.runs.append(time.perf_counter() - t0)
    finally:
        src.close()
        dst.close()
    return out


@dataclass
class Latency:
    """Samples per pass: 'spaced' (next change 50-100 ms after the previous one arrived, as
    briefed) and 'random phase' (next change 50 ms + U(0, stock interval) after it)."""

    samples: dict[str, list[float]] = field(default_factory=dict)
    timeouts: int = 0
    seconds: float = 0.0
    producer_cpu_s: float = 0.0
    consumer_cpu_s: float = 0.0


def stock_latency(env: Env, passes: dict[str, tuple[int, tuple[float, float]]], articles: int,
                  consumer: subprocess.Popen[bytes], seed: int) -> Latency:
    """``passes``: name -> (changes, (min, max) pause in seconds after each arrival)."""
    out = Latency()
    producer = spawn(env, "follow", ["produce", "--follow"])
    cao = raw_connect(env.url(env.cao))
    shop = raw_connect(env.url(env.shop))
    rnd = random.Random(seed)

    def change(rec_id: int, value: int, timeout: float) -> float | None:
        with cao.cursor() as cur:
            cur.execute("UPDATE ARTIKEL SET MENGE_AKT = %s WHERE REC_ID = %s", (value, rec_id))
        t0 = time.perf_counter()
        model = f"A-{rec_id:06d}"
        while True:
            qty = scalar(shop, "SELECT products_quantity FROM products WHERE products_model = %s",
                         (model,))
            now = time.perf_counter()
            if qty == value:
                return now - t0
            if now - t0 > timeout:
                return None
            time.sleep(0.005)

    try:
        # Warm-up (not counted): proves the follow producer is up and its first cycle is done.
        if change(1, 999_999, timeout=60) is None:
            raise SystemExit("follow producer: warm-up change did not arrive within 60 s")
        p0, k0, t0 = proc_cpu_s(producer.pid), proc_cpu_s(consumer.pid), time.perf_counter()
        value = 1000  # unique per change, and outside the sample stock range (-3..499)
        for name, (changes, (low, high)) in passes.items():
            samples = out.samples.setdefault(name, [])
            for _ in range(changes):
                latency = change(rnd.randint(1, articles), value, timeout=30)
                value += 1
                if latency is None:
                    out.timeouts += 1
                else:
                    samples.append(latency)
                time.sleep(rnd.uniform(low, high))
        out.seconds = time.perf_counter() - t0
        out.producer_cpu_s = proc_cpu_s(producer.pid) - p0
        out.consumer_cpu_s = proc_cpu_s(consumer.pid) - k0
    finally:
        cao.close()
        shop.close()
        stop_child(env, producer, "follow")
    return out


@dataclass
class Idle:
    cycles: list[tuple[float, float, int]] = field(default_factory=list)  # wall, cpu, events
    stock: list[tuple[float, float, int]] = field(default_factory=list)


def idle_cycles(env: Env, runs: int = 3, stock_runs: int = 5) -> Idle:
    assert env.settings is not None
    out = Idle()
    producer = CaoProducer(broker=env.settings.broker, tenant=env.settings.tenants[0])
    try:
        producer.prepare()
        for _ in range(runs):
            wall, cpu, report = timed_call(producer.run_once)
            out.cycles.append((wall, cpu, report.events))
        for _ in range(stock_runs):
            wall, cpu, report = timed_call(producer.stock_scan)
            out.stock.append((wall, cpu, report.events))
    finally:
        producer.close()
    return out


@dataclass
class Burst:
    events: int = 0
    scan_s: float = 0.0
    scan_cpu_s: float = 0.0
    total_s: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)


def stock_burst(env: Env, expected: int, meter: CpuMeter) -> Burst:
    """Every article's MENGE_AKT changes at once (an inventory count): one stock_scan()."""
    assert env.settings is not None
    out = Burst()
    producer = CaoProducer(broker=env.settings.broker, tenant=env.settings.tenants[0])
    cao = raw_connect(env.url(env.cao))
    poll = raw_connect(env.url(env.shop))
    try:
        producer.prepare()
        with cao.cursor() as cur:
            cur.execute("UPDATE ARTIKEL SET MENGE_AKT = 5000 + REC_ID")
        meter.start()
        t0, c0 = time.perf_counter(), time.process_time()
        report = producer.stock_scan()
        out.scan_s, out.scan_cpu_s = time.perf_counter() - t0, time.process_time() - c0
        wait_until(lambda: scalar(poll, "SELECT COUNT(*) FROM products "
                                        "WHERE products_quantity >= 5000") >= expected,
                   timeout=300, interval=0.01)
        out.total_s = time.perf_counter() - t0
        out.cpu = meter.stop()
        out.events = report.events
    finally:
        producer.close()
        cao.close()
        poll.close()
    return out


# -- report ----------------------------------------------------------------------------------

def render(args: argparse.Namespace, facts: dict[str, str], fulls: list[FullSync],
           base: Baseline, lat: Latency, idle: Idle, burst: Burst, command: str) -> str:
    n = args.articles
    full = sorted(fulls, key=lambda f: f.total_s)[len(fulls) // 2]  # the median run
    ratio = full.total_s / base.seconds if base.seconds else float("nan")
    eps = full.events / full.total_s if full.total_s else 0.0
    runs = ", ".join(f"{f.total_s:.2f}" for f in fulls)
    base_runs = ", ".join(f"{r:.2f}" for r in base.runs)
    cyc = idle.cycles
    med = statistics.median
    lines = [
        f"## {facts['date']} - {n:,} articles, {args.changes} stock changes",
        "",
        f"- Command: `{command}`",
        f"- Machine: {facts['nproc']} cores ({facts['cpu']}), load average at start "
        f"{facts['load_start']}, at end {facts['load_end']}; Python {facts['python']}, "
        f"MariaDB {facts['mariadb']}, RabbitMQ {facts['rabbitmq']}; commit {facts['git']}",
        "- Settings: pack_size 100, batch_size 500, batch_wait_ms 200 (defaults); consumer is "
        "`python -m shopbridge consume` in its own process; producer in the bench process; "
        "follow mode = `shopbridge produce --follow` (stock every 0.5 s, full cycle every 10 s).",
        f"- Whole run (set-up, phases, clean-up): {facts['wall']} s",
        f"- Consumer's own summary at exit: {facts.get('consumer', '?')}",
        "",
        "| Measurement | Result |",
        "|---|---|",
        f"| Baseline: direct multi-row INSERT of the pipeline's final rows "
        f"({base.rows.get('products', 0):,} products, "
        f"{base.rows.get('products_description', 0):,} descriptions, "
        f"{base.rows.get('shopbridge_link', 0):,} links; 1,000 rows/statement, 1 transaction; "
        f"median of {len(base.runs)}) | **{base.seconds:.2f} s** (runs: {base_runs} s) |",
        f"| Full sync, run_once() start -> last product committed (median of {len(fulls)}, "
        f"each from an empty shop and snapshot) | **{full.total_s:.2f} s** "
        f"({eps:,.0f} events/s), **{ratio:.2f}x baseline** (runs: {runs} s) |",
        f"| - of which producer run_once() (read CAO, build, publish {full.events:,} events "
        f"in {full.messages:,} messages, confirmed) | {full.publish_s:.2f} s wall, "
        f"{full.producer_cpu_s:.2f} s CPU |",
        f"| - consumer lag after run_once() returned | {full.total_s - full.publish_s:.2f} s |",
        "| - CPU during the full sync (producer / consumer / RabbitMQ / MariaDB) | "
        + " / ".join(f"{full.cpu.get(k, 0):.2f} s" for k in
                     ("producer", "consumer", "rabbitmq", "mariadb"))
        + f" (sum {sum(full.cpu.values()):.2f} s of {2 * full.total_s:.2f} core-s) |",
        "| Shop after each full sync (products / visible / descriptions / links / mismatches "
        "of price, quantity or name vs CAO) | " + "; ".join(
            " / ".join(str(f.checks.get(k)) for k in ("products", "visible", "descriptions",
                                                     "links", "mismatches vs CAO"))
            for f in fulls) + f" (expected {n:,} products) |",
    ]
    for name, samples in lat.samples.items():
        if not samples:
            lines.append(f"| Stock change -> shop row, {name} | no samples |")
            continue
        ms = [s * 1000 for s in samples]
        lines.append(
            f"| Stock change -> shop row, follow mode, {name} ({len(ms)} changes, one at a "
            f"time) | p50 **{pct(ms, 50):.0f} ms**, p90 {pct(ms, 90):.0f} ms, p99 "
            f"**{pct(ms, 99):.0f} ms**, max **{max(ms):.0f} ms** (min {min(ms):.0f}, mean "
            f"{statistics.fmean(ms):.0f}) |")
    if lat.seconds:
        lines += [
            f"| - changes that never arrived (30 s timeout) | {lat.timeouts} |",
            f"| - CPU while following ({lat.seconds:.1f} s): follow producer / consumer | "
            f"{lat.producer_cpu_s:.2f} s ({100 * lat.producer_cpu_s / lat.seconds:.0f} %) / "
            f"{lat.consumer_cpu_s:.2f} s ({100 * lat.consumer_cpu_s / lat.seconds:.0f} %) |",
        ]
    lines += [
        f"| Idle run_once() over {n:,} unchanged articles (first of {len(cyc)}; median) | "
        f"{cyc[0][0]:.3f} s wall, {cyc[0][1]:.3f} s CPU; median {med(c[0] for c in cyc):.3f} s "
        f"wall, {med(c[1] for c in cyc):.3f} s CPU; events "
        f"{', '.join(str(c[2]) for c in cyc)} |",
        f"| Idle stock_scan() (median of {len(idle.stock)}) | "
        f"{med(s[0] for s in idle.stock) * 1000:.1f} ms wall, "
        f"{med(s[1] for s in idle.stock) * 1000:.1f} ms CPU; events "
        f"{sum(s[2] for s in idle.stock)} |",
        f"| Stock burst: all {n:,} MENGE_AKT changed at once, one stock_scan() -> all in the "
        f"shop | scan {burst.scan_s:.2f} s wall ({burst.scan_cpu_s:.2f} s CPU, "
        f"{burst.events:,} events); shop complete after **{burst.total_s:.2f} s**; CPU "
        "producer / consumer / RabbitMQ / MariaDB " + " / ".join(
            f"{burst.cpu.get(k, 0):.2f}" for k in ("producer", "consumer", "rabbitmq",
                                                   "mariadb")) + " s |",
        "",
        f"Baseline comparison: the pipeline took {ratio:.2f}x the direct copy of the same rows "
        f"({full.total_s:.2f} s vs {base.seconds:.2f} s); DESIGN 6 measured 1.05-1.3x for "
        "100,000 articles with packed events and 2 consumers (a prototype). The baseline "
        "writes only; it does not read CAO. Other work may share the machine (see the load "
        "average); compare the runs listed above for the spread.",
        "",
    ]
    return "\n".join(lines)


def profile_text(producer: cProfile.Profile | None, consumer_file: Path | None) -> str:
    parts = []
    for title, source in (("producer run_once() (in-process)", producer),
                          ("consumer process", consumer_file)):
        if source is None or (isinstance(source, Path) and not source.exists()):
            continue
        for sort in ("tottime", "cumulative"):
            buf = io.StringIO()
            stats = pstats.Stats(source if isinstance(source, cProfile.Profile)
                                 else str(source), stream=buf)
            stats.strip_dirs().sort_stats(sort).print_stats(30)
            parts.append(f"==== {title}, by {sort} ====\n{buf.getvalue()}")
    return "\n".join(parts)


# -- main ------------------------------------------------------------------------------------

@contextmanager
def environment(args: argparse.Namespace) -> Iterator[Env]:
    env = Env.create(args, "sbbench")
    try:
        yield env
    finally:
        clean_up(env, lambda settings: settings.tenants[0].shops, keep_tmp=args.keep_tmp)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--random-phase-changes", type=int, default=None,
                        help="a second latency pass whose pauses (50 ms + U(0, 0.5 s)) do "
                             "not lock onto the 0.5 s stock-scan period (default: --changes; "
                             "0 skips it)")
    parser.add_argument("--full-runs", type=int, default=3,
                        help="full syncs (each from an empty shop) and baseline copies; the "
                             "median is reported (default 3)")
    parser.add_argument("--seed", type=int, default=11)
    add_server_args(parser, amqp_default="amqp://guest:guest@127.0.0.1:5672//")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the full sync (producer and consumer) into "
                             "bench/PROFILE.txt; skips the other phases and RESULTS.md")
    add_output_args(parser)
    args = parser.parse_args()
    if args.random_phase_changes is None:
        args.random_phase_changes = args.changes
    command = command_line("bench/sync_bench.py")
    started = time.perf_counter()
    facts = machine_facts()

    with environment(args) as env:
        facts["mariadb"], facts["rabbitmq"] = server_versions(env.db_url, env.amqp_url)
        log(f"building {env.cao} ({args.articles:,} articles), {env.shop}, {env.base}")
        expected = build_databases(env, args.articles)
        write_config(env, url_env=AMQP_URL_ENV, tenant=TENANT, shop=SHOP, cao_shop_id=1)
        assert env.settings is not None
        with Connection(env.amqp_url) as conn:
            topology.declare(conn, env.settings.broker, env.settings.tenants[0].shops)

        consumer_prof = env.tmp / "consumer.prof" if args.profile else None
        consumer = spawn(env, "consumer", ["consume", "--shop", SHOP],
                         profile_to=consumer_prof)
        wait_for_consumer(env, consumer, topology.work_queue(env.tag, TENANT, SHOP))
        meter = pipeline_meter(consumer.pid)

        profiler = cProfile.Profile() if args.profile else None
        fulls: list[FullSync] = []
        for run in range(1 if args.profile else args.full_runs):
            if run:
                reset_sync_state(env)
                time.sleep(1.0)  # let the servers settle (flushes) between runs
            log(f"full sync {run + 1} ...")
            full = full_sync(env, expected, meter, profiler)
            fulls.append(full)
            log(f"full sync: {full.events:,} events in {full.total_s:.2f} s "
                f"(run_once {full.publish_s:.2f} s); checks {full.checks}; CPU {full.cpu}")
        if args.profile:
            stop_child(env, consumer, "consumer")
            PROFILE_OUT.write_text(
                f"# cProfile of a full sync, {args.articles} articles, {facts['date']}, "
                f"load {loadavg()}\n# full sync under the profiler: {full.total_s:.2f} s\n\n"
                + profile_text(profiler, consumer_prof), encoding="utf-8")
            log(f"wrote {PROFILE_OUT}")
            return 0

        log("baseline copy ...")
        base = baseline_copy(env, args.full_runs)
        log(f"baseline: {[round(r, 3) for r in base.runs]} s for {base.rows}")

        log(f"stock latency, {args.changes} + {args.random_phase_changes} changes, "
            "follow mode ...")
        lat = stock_latency(env, {
            "spaced 50-100 ms": (args.changes, (0.05, 0.1)),
            "random phase": (args.random_phase_changes, (0.05, 0.55)),
        }, args.articles, consumer, args.seed)
        for name, samples in lat.samples.items():
            if samples:
                ms = [s * 1000 for s in samples]
                log(f"latency {name} ms: p50 {pct(ms, 50):.0f} p99 {pct(ms, 99):.0f} "
                    f"max {max(ms):.0f}")
        log(f"latency timeouts: {lat.timeouts}")

        log("idle cycles ...")
        idle = idle_cycles(env)
        log(f"idle run_once (wall, cpu, events): {idle.cycles}; stock_scan: {idle.stock}")

        log("stock burst ...")
        burst = stock_burst(env, expected, meter)
        log(f"stock burst: {burst}")

        facts["consumer"] = stop_child(env, consumer, "consumer")
        log(f"consumer: {facts['consumer']}")

    finish_facts(facts, started)
    text = render(args, facts, fulls, base, lat, idle, burst, command)
    publish(text, write_results=not args.no_results)
    bad = (any(f.checks.get("products") != expected or f.checks.get("mismatches vs CAO")
               for f in fulls) or any(c[2] for c in idle.cycles) or lat.timeouts)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
