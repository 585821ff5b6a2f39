"""End-to-end benchmark of the CAO -> RabbitMQ -> Phoenix catalogue pipeline (issue 4 targets).

    .venv/bin/python bench/sync_bench.py [--articles 100000] [--changes 200]
                                         [--rss-sizes 1000,100000,300000]

What it measures, in one run, against the local MariaDB and RabbitMQ:

1. Set-up (not timed): a CAO database from the upstream DDL (../shared/reference/cao-faktura/
   schema.sql) with N articles generated on the server (bench/_catalogue.py: German texts in
   ARTIKEL, English in ARTIKEL_LTEXT, a shop category, a manufacturer with URLs, every 10th
   article a special offer valid today), two empty Phoenix shops from the upstream install SQL,
   and a broker namespace of its own. Everything is removed at the end.
2. Full sync (initial load): from the start of ``CaoProducer.run_once()`` until the consumer (a
   separate ``python -m shopbridge consume`` process, so producer and consumer can use both
   cores) has committed the last product; each run from an empty shop and snapshot.
3. Baseline: the very rows the pipeline wrote (products, products_description,
   products_to_categories, specials, categories(+_description), manufacturers(+_info), and
   every table of the pipeline's own that holds rows: shopbridge_link, shopbridge_special and,
   since 2026-12-07 12:00 as vm_bench always had it, shopbridge_history) copied into the second
   empty Phoenix database with PyMySQL multi-row INSERTs (1,000 rows per statement, one
   transaction). The copy without the history rows is reported beside it (the figure of
   earlier runs). Since 2026-12-07 18:40 each copy runs right after its full sync (before:
   all full syncs, then all copies): the machine's speed drifts within minutes, and the
   pairs see the same machine.
4. Stock latency in follow mode: ``shopbridge produce --follow`` (stock scan every 0.5 s, full
   cycle every 10 s) and the consumer running; M times one article's MENGE_AKT is changed in
   CAO (50 ms + U(0, 0.5 s) after the previous change arrived, so changes fall at any phase of
   the scan period) and the shop row is polled every ~5 ms until it shows the new quantity.
5. Idle cycles: ``run_once()`` and ``stock_scan()`` over N unchanged articles (wall, CPU of
   the producer and of MariaDB, events).
6. Stock burst: every MENGE_AKT changes at once, one ``stock_scan()``, until all are in the shop.
7. Producer memory: for each of ``--rss-sizes`` a fresh CAO database, and one
   ``python -m shopbridge produce`` (a full cycle from an empty snapshot) as a child process;
   its peak RSS is its own VmHWM (/proc/<pid>/status, polled).

Results are appended to bench/RESULTS.md. ``--profile`` runs the full sync and one idle cycle
under cProfile (producer in-process, consumer via ``python -m cProfile``) and writes
bench/PROFILE.txt; its timings are inflated by the profiler and are not written to RESULTS.md.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _catalogue as catalogue
import pymysql
import sqlalchemy as sa
from _common import (
    BENCH,
    REPO,
    BenchEnv,
    CpuMeter,
    add_output_args,
    add_server_args,
    clean_up,
    command_line,
    default_sizes,
    empty_shop_and_snapshot,
    executemany_chunked,
    find_pid,
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
    wait_for_consumer,
    wait_until,
    write_config,
)
from kombu import Connection

from producers.cao import CaoProducer
from shopbridge import sample, topology

PROFILE_OUT = BENCH / "PROFILE.txt"
SHOP = "shop"
TENANT = "bench"
AMQP_URL_ENV = "SBBENCH_AMQP_URL"
# What a full sync writes into the shop: Phoenix's own tables, then the pipeline's bookkeeping.
PHOENIX_TABLES = ("categories", "categories_description", "manufacturers", "manufacturers_info",
                  "products", "products_description", "products_to_categories", "specials")
# Our own table the consumer writes beside the catalogue (B4); the baseline copies it too.
HISTORY_TABLE = "shopbridge_history"
# Issue 4's targets.
TARGET_RATIO = 2.0
TARGET_RATIO_14 = 1.5   # issue 14 (goal 1.2x)
TARGET_P99_MS = 1000.0
TARGET_IDLE_CPU_S = 1.0
TARGET_RSS_FACTOR = 2.0


# -- set-up ----------------------------------------------------------------------------------

Env = BenchEnv


def require_reference() -> None:
    missing = [p for p in (catalogue.CAO_SQL, catalogue.PHOENIX_SQL) if not p.exists()]
    if missing:
        raise SystemExit(f"sync_bench: the upstream reference SQL is missing "
                         f"({', '.join(map(str, missing))}). It lives in ../shared/reference "
                         f"beside the repository (or set SHOPBRIDGE_REFERENCE_DIR).")


def build_cao(env: Env, db: str, articles: int) -> None:
    """CAO database ``db`` from the upstream DDL, filled with ``articles`` generated articles."""
    url = sample.create_database(env.db_url, db, charset="latin1")
    sample.run_sql_file(url, catalogue.CAO_SQL.read_text(encoding="utf-8"))
    conn = raw_connect(url, autocommit=False)
    try:
        catalogue.fill(conn, articles)
    finally:
        conn.close()


def build_databases(env: Env, articles: int) -> int:
    """CAO with ``articles`` articles, two empty Phoenix shops; returns the articles shop 1
    sells (all of them)."""
    t0 = time.perf_counter()
    build_cao(env, env.cao, articles)
    log(f"CAO built in {time.perf_counter() - t0:.1f} s")
    phoenix_sql = catalogue.PHOENIX_SQL.read_text(encoding="utf-8")
    for db in (env.shop, env.base):
        url = sample.create_database(env.db_url, db)
        sample.run_sql_file(url, phoenix_sql)
        engine = sa.create_engine(url, connect_args={"charset": "utf8mb4"})
        with engine.begin() as conn:
            sample.phoenix_reference_data(conn)  # en = 1, de = 2
        engine.dispose()
    return articles


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
              profiler: cProfile.Profile | None, *,
              count_sql: str = "SELECT COUNT(*) FROM products",
              check: Callable[[Env, pymysql.Connection, int], dict[str, Any]] | None = None,
              timeout: float = 300) -> FullSync:
    """One initial load, timed until ``count_sql`` counts ``expected`` products; the shop is
    then checked by ``check`` (``verify``: the Phoenix shop)."""
    assert env.settings is not None
    out = FullSync()
    producer = CaoProducer(broker=env.settings.broker, tenant=env.settings.tenants[0])
    poll = raw_connect(env.url(env.shop))
    try:
        producer.prepare()
        last = str(scalar(poll, f"SELECT MAX(REC_ID) FROM `{env.cao}`.artikel"))
        meter.start()
        t0, c0 = time.perf_counter(), time.process_time()
        if profiler is not None:
            profiler.enable()
        report = producer.run_once()
        if profiler is not None:
            profiler.disable()
        out.publish_s = time.perf_counter() - t0
        out.producer_cpu_s = time.process_time() - c0
        done = shop_complete(poll, last, count_sql, expected, timeout)
        out.total_s = time.perf_counter() - t0
        out.cpu = meter.stop()
        out.events, out.messages = report.events, report.messages
        if not done:
            log(f"WARNING: not every product arrived within {timeout:.0f} s")
        out.checks = (check or verify)(env, poll, expected)
    finally:
        producer.close()
        poll.close()
    return out



@dataclass
class Split:
    """Each side of a full sync alone: the producer into a queue no consumer reads, then the
    consumers draining it."""

    producer_s: float = 0.0
    producer_cpu: dict[str, float] = field(default_factory=dict)
    consumers: int = 1
    consumer_s: float = 0.0
    consumer_cpu: dict[str, float] = field(default_factory=dict)
    ok: bool = False


def split_sync(env: Env, expected: int, consumers: int) -> Split:
    """One initial load with the two sides one after the other (no consumer attached while
    the producer runs): what each side takes when the other costs no CPU, that is the
    pipeline's floor on these cores. Leaves no consumer running."""
    assert env.settings is not None
    out = Split(consumers=consumers)
    reset_sync_state(env)
    time.sleep(1.0)
    meter = CpuMeter({"producer": os.getpid(), "rabbitmq": find_pid("beam.smp"),
                      "mariadb": find_pid("mariadbd", "mysqld")})
    producer = CaoProducer(broker=env.settings.broker, tenant=env.settings.tenants[0])
    try:
        producer.prepare()
        meter.start()
        t0 = time.perf_counter()
        producer.run_once()
        out.producer_s = time.perf_counter() - t0
        out.producer_cpu = meter.stop()
    finally:
        producer.close()
    time.sleep(1.0)
    poll = raw_connect(env.url(env.shop))
    procs = [spawn(env, f"split{n}", ["consume", "--shop", SHOP])
             for n in range(1, consumers + 1)]
    try:
        last = str(scalar(poll, f"SELECT MAX(REC_ID) FROM `{env.cao}`.artikel"))
        meter = CpuMeter({"rabbitmq": find_pid("beam.smp"),
                          "mariadb": find_pid("mariadbd", "mysqld"),
                          **{f"consumer{n}": p.pid for n, p in enumerate(procs, 1)}})
        meter.start()   # from the spawn: a consumer's start-up is part of its side
        t0 = time.perf_counter()
        out.ok = shop_complete(poll, last, "SELECT COUNT(*) FROM products", expected, 600)
        out.consumer_s = time.perf_counter() - t0
        used = meter.stop()
        out.consumer_cpu = {"consumer": sum(v for k, v in used.items()
                                            if k.startswith("consumer")),
                            "rabbitmq": used["rabbitmq"], "mariadb": used["mariadb"]}
    finally:
        for n, proc in enumerate(procs, 1):
            stop_child(env, proc, f"split{n}")
        poll.close()
    return out


def batch_size_splits(env: Env, expected: int, sizes: Sequence[int], rounds: int
                      ) -> dict[int, list[Split]]:
    """``split_sync`` with each ``batch_size`` in turn, ``rounds`` times over (interleaved,
    so that a drift of the machine's speed meets every size alike); the config's
    batch_size is taken out again afterwards."""
    original = env.config_path.read_text()
    assert "\n[broker]\n" in original, "the run's config has no [broker] table"
    out: dict[int, list[Split]] = {size: [] for size in sizes}
    try:
        for _ in range(rounds):
            for size in sizes:
                # The consumer reads the file when it starts: one per split_sync.
                env.config_path.write_text(original.replace(
                    "\n[broker]\n", f"\n[broker]\nbatch_size = {size}\n", 1))
                out[size].append(split_sync(env, expected, 1))
                log(f"batch_size {size}: consumer alone {out[size][-1].consumer_s:.2f} s")
    finally:
        env.config_path.write_text(original)
    return out


def shop_complete(poll: pymysql.Connection, last: str, count_sql: str, expected: int,
                  timeout: float) -> bool:
    """Wait until ``count_sql`` counts ``expected`` products; returns whether it did.

    The last article's link row first (a primary-key read), then the count: a COUNT(*) of the
    growing InnoDB table every 10 ms took a share of the two cores' MariaDB CPU from the
    pipeline it timed."""
    wait_until(lambda: scalar(poll, LAST_LINK, (last,)) is not None, timeout=timeout,
               interval=0.01)
    return wait_until(lambda: scalar(poll, count_sql) >= expected, timeout=timeout,
                      interval=0.01)


LAST_LINK = ("SELECT target_id FROM shopbridge_link WHERE entity_type = 'product' "
             "AND entity_key = %s AND target_id IS NOT NULL")


def reset_sync_state(env: Env) -> None:
    """Empty the shop and the producer's snapshot, so the next full sync starts from zero."""
    empty_shop_and_snapshot(env, lambda shop: (*PHOENIX_TABLES, *bookkeeping_tables(shop)))


def bookkeeping_tables(conn: pymysql.Connection) -> list[str]:
    """The pipeline's own tables in the shop that hold rows after the sync."""
    with conn.cursor() as cur:
        cur.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
                    "DATABASE() AND TABLE_NAME LIKE 'shopbridge\\_%%' ORDER BY TABLE_NAME")
        names = [str(r[0]) for r in cur.fetchall()]
    return [n for n in names if scalar(conn, f"SELECT COUNT(*) FROM `{n}`")]


def verify(env: Env, conn: pymysql.Connection, expected: int) -> dict[str, Any]:
    """Row counts per table, active specials, and every shop row compared with its CAO article
    (price, quantity, German and English name)."""
    checks: dict[str, Any] = {}
    for table in PHOENIX_TABLES:
        checks[table] = scalar(conn, f"SELECT COUNT(*) FROM `{table}`")
    checks["visible"] = scalar(conn, "SELECT COUNT(*) FROM products WHERE products_status = 1")
    checks["active specials"] = scalar(conn, "SELECT COUNT(*) FROM specials WHERE status = 1")
    checks["with manufacturer"] = scalar(conn, "SELECT COUNT(*) FROM products "
                                               "WHERE manufacturers_id > 0")
    checks["mismatches vs CAO"] = scalar(conn, f"""
        SELECT COUNT(*) FROM products p
        JOIN `{env.cao}`.artikel a
          ON CONVERT(a.ARTNUM USING utf8mb4) COLLATE utf8mb4_unicode_ci = p.products_model
        JOIN `{env.cao}`.artikel_ltext l ON l.ARTIKEL_ID = a.REC_ID AND l.SPRACHE_ID = 1
        JOIN products_description d ON d.products_id = p.products_id AND d.language_id = 2
        JOIN products_description e ON e.products_id = p.products_id AND e.language_id = 1
        WHERE p.products_price <> a.VK1
           OR p.products_quantity <> GREATEST(FLOOR(a.MENGE_AKT), 0)
           OR d.products_name <> CONVERT(a.KURZNAME USING utf8mb4) COLLATE utf8mb4_unicode_ci
           OR e.products_name <> CONVERT(l.KURZNAME USING utf8mb4) COLLATE utf8mb4_unicode_ci
        """)
    want = catalogue.expected_rows(expected)
    checks["ok"] = (all(checks[t] == n for t, n in want.items())
                    and checks["visible"] == expected
                    and checks["active specials"] == want["specials"]
                    and checks["with manufacturer"] == expected
                    and checks["mismatches vs CAO"] == 0)
    return checks


@dataclass
class Baseline:
    rows: dict[str, int] = field(default_factory=dict)
    runs: list[float] = field(default_factory=list)          # all tables, committed
    shop_runs: list[float] = field(default_factory=list)  # the shop's own tables only
    # All but the history rows (the baseline's definition before 2026-12-07 12:00).
    unhistoried_runs: list[float] = field(default_factory=list)
    # The same copy with the pipeline's driver classes and quote-only escaping.
    quick_runs: list[float] = field(default_factory=list)

    def extend(self, other: Baseline) -> None:
        """Add ``other``'s runs (a copy run between two full syncs)."""
        # The same rows each time, but the history: events retried by a second consumer
        # (a category not committed yet) have an entry per attempt.
        def same(rows: dict[str, int]) -> dict[str, int]:
            return {t: n for t, n in rows.items() if t != HISTORY_TABLE}
        assert not self.rows or same(other.rows) == same(self.rows), (self.rows, other.rows)
        self.rows = other.rows
        self.runs += other.runs
        self.shop_runs += other.shop_runs
        self.unhistoried_runs += other.unhistoried_runs
        self.quick_runs += other.quick_runs

    @property
    def seconds(self) -> float:
        return _median(self.runs)

    @property
    def shop_seconds(self) -> float:
        return _median(self.shop_runs)

    @property
    def unhistoried_seconds(self) -> float:
        return _median(self.unhistoried_runs)

    @property
    def quick_seconds(self) -> float:
        return _median(self.quick_runs)


def wait_for_history(env: Env, events: int, timeout: float = 60) -> None:
    """Until the shop's history holds ``events`` rows: the consumer's recorder thread writes
    it after the batch, so it can come after the last link row the full sync waits for."""
    shop = raw_connect(env.url(env.shop))
    try:
        if not wait_until(lambda: int(scalar(shop, f"SELECT COUNT(*) FROM {HISTORY_TABLE}"))
                          >= events, timeout=timeout, interval=0.2):
            log(f"WARNING: the history is not complete after {timeout:.0f} s: copied as it is")
    finally:
        shop.close()


def _median(runs: Sequence[float]) -> float:
    """The median run, 0.0 where none ran."""
    return statistics.median(runs) if runs else 0.0


def baseline_copy(env: Env, runs: int, *, shop_tables: Sequence[str] = PHOENIX_TABLES,
                  bookkeeping: Sequence[str], first: int = 0) -> Baseline:
    """The pipeline's final rows, multi-row INSERTed into the empty second shop DB (timed):
    the shop's own tables first (timed on their own too), then the link and schedule tables
    (made in the second DB as the pipeline made them in the first).

    Each run copies twice: with PyMySQL as shipped (the baseline since issue 4), then with the
    pipeline's driver classes and quote-only escaping (shopbridge/driver.py,
    ``db.quote_escaping``), which make a copy from Python cheaper too. ``first``: the number
    of the first run (which copy goes first alternates with it)."""
    out = Baseline()
    src = raw_connect(env.url(env.shop))
    plain = raw_connect(env.url(env.base), autocommit=False)
    quick = raw_connect(env.url(env.base), autocommit=False, quick=True)
    data: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
    try:
        for table in (*shop_tables, *bookkeeping):
            data[table] = select_all(src, table)
            out.rows[table] = len(data[table][1])
        with src.cursor() as read, plain.cursor() as cur:
            for table in bookkeeping:
                read.execute(f"SHOW CREATE TABLE `{table}`")
                created = read.fetchone()
                assert created is not None, table
                # A later copy run (one after each full sync) finds it made.
                cur.execute(created[1].replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1))
        plain.commit()
        for run in range(first, first + runs):
            # Which copy goes first alternates: neither always finds the server warmed up.
            for dst in ((plain, quick) if run % 2 == 0 else (quick, plain)):
                with dst.cursor() as cur:
                    for table in data:
                        cur.execute(f"TRUNCATE TABLE `{table}`")
                dst.commit()
                time.sleep(0.5)
                t0 = time.perf_counter()
                with dst.cursor() as cur:
                    for table in shop_tables:
                        columns, rows = data[table]
                        executemany_chunked(cur, insert_sql(table, columns), rows)
                    t1 = time.perf_counter()
                    # The history last: the copy without it is timed too (earlier runs').
                    for table in sorted(bookkeeping, key=lambda t: t == HISTORY_TABLE):
                        if table == HISTORY_TABLE:
                            t2 = time.perf_counter()
                        columns, rows = data[table]
                        executemany_chunked(cur, insert_sql(table, columns), rows)
                dst.commit()
                if dst is plain:
                    out.runs.append(time.perf_counter() - t0)
                    out.shop_runs.append(t1 - t0)
                    if HISTORY_TABLE in bookkeeping:
                        out.unhistoried_runs.append(t2 - t0)
                else:
                    out.quick_runs.append(time.perf_counter() - t0)
        # Emptied again: the next full sync runs beside an empty second database, as when
        # all copies came after all syncs.
        with plain.cursor() as cur:
            for table in data:
                cur.execute(f"TRUNCATE TABLE `{table}`")
        plain.commit()
    finally:
        src.close()
        plain.close()
        quick.close()
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


def stock_arrival(cao: pymysql.Connection, shop: pymysql.Connection, rec_id: int, value: int,
                  timeout: float) -> float | None:
    """Set one article's MENGE_AKT in CAO; seconds until the Phoenix row shows it (None:
    not within ``timeout``)."""
    with cao.cursor() as cur:
        cur.execute("UPDATE artikel SET MENGE_AKT = %s WHERE REC_ID = %s", (value, rec_id))
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


def german_rows(conn: pymysql.Connection) -> int:
    return int(scalar(conn, "SELECT COUNT(*) FROM products_description WHERE language_id = 2"))


def initial_load(env: Env, articles: int, name: str = "consumer"
                 ) -> tuple[subprocess.Popen[bytes], pymysql.Connection]:
    """Config, queues, a consumer of the shop and one full cycle, waited for until every
    article has its German row; returns the consumer and a connection to the shop."""
    write_config(env, url_env=AMQP_URL_ENV, tenant=TENANT, shop=SHOP, cao_shop_id=1)
    assert env.settings is not None
    with Connection(env.amqp_url) as conn:
        topology.declare(conn, env.settings.broker, env.settings.tenants[0].shops)
    consumer = spawn(env, name, ["consume", "--shop", SHOP])
    wait_for_consumer(env, consumer, topology.work_queue(env.tag, TENANT, SHOP))
    shop = raw_connect(env.url(env.shop))
    producer = CaoProducer(broker=env.settings.broker, tenant=env.settings.tenants[0])
    try:
        producer.prepare()
        producer.run_once()
    finally:
        producer.close()
    wait_until(lambda: german_rows(shop) >= articles, timeout=900, interval=0.1)
    return consumer, shop


def stock_latency(env: Env, passes: dict[str, tuple[int, tuple[float, float]]], articles: int,
                  consumer: subprocess.Popen[bytes], seed: int) -> Latency:
    """``passes``: name -> (changes, (min, max) pause in seconds after each arrival)."""
    out = Latency()
    producer = spawn(env, "follow", ["produce", "--follow"])
    cao = raw_connect(env.url(env.cao))
    shop = raw_connect(env.url(env.shop))
    rnd = random.Random(seed)

    def change(rec_id: int, value: int, timeout: float) -> float | None:
        return stock_arrival(cao, shop, rec_id, value, timeout)

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
    # wall, producer CPU, MariaDB CPU, events
    cycles: list[tuple[float, float, float, int]] = field(default_factory=list)
    stock: list[tuple[float, float, float, int]] = field(default_factory=list)


def idle_cycles(env: Env, runs: int = 3, stock_runs: int = 5) -> Idle:
    assert env.settings is not None
    out = Idle()
    producer = CaoProducer(broker=env.settings.broker, tenant=env.settings.tenants[0])
    mariadb = find_pid("mariadbd", "mysqld")
    try:
        producer.prepare()
        for target, func, count in ((out.cycles, producer.run_once, runs),
                                    (out.stock, producer.stock_scan, stock_runs)):
            for _ in range(count):
                t0, c0, m0 = time.perf_counter(), time.process_time(), proc_cpu_s(mariadb)
                report = func()
                target.append((time.perf_counter() - t0, time.process_time() - c0,
                               proc_cpu_s(mariadb) - m0, report.events))
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
            cur.execute("UPDATE artikel SET MENGE_AKT = 5000 + REC_ID")
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



@dataclass
class Rss:
    articles: int
    events: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    maxrss_mb: float = 0.0
    summary: str = ""


def vm_hwm_kb(pid: int) -> int:
    """The peak RSS (VmHWM) of ``pid``'s current program, in kB; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


_children_cpu = [0.0]


def proc_cpu_children_s() -> float:
    """CPU seconds of the children waited for since the last call."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = usage.ru_utime + usage.ru_stime
    used, _children_cpu[0] = total - _children_cpu[0], total
    return used


def producer_memory(env: Env, sizes: list[int]) -> list[Rss]:
    """Per size: a fresh CAO database and one ``shopbridge produce`` child (a full cycle from
    an empty snapshot); its own peak RSS is VmHWM from /proc, polled every 20 ms. Not
    ru_maxrss: Linux carries the forking parent's high-water mark (this process, holding the
    baseline rows: ~370 MB) over exec into the child's. The consumer is not running: the
    events are purged from the shop's queue afterwards."""
    proc_cpu_children_s()
    assert env.settings is not None
    out = []
    queue = topology.work_queue(env.tag, TENANT, SHOP)
    for n in sizes:
        db = f"{env.cao}_rss"
        log(f"producer memory: building {db} ({n:,} articles) ...")
        build_cao(env, db, n)
        config = env.tmp / f"rss-{n}.toml"
        config.write_text(env.config_path.read_text(encoding="utf-8")
                          .replace(f"/{env.cao}\"", f"/{db}\""), encoding="utf-8")
        out_path, err_path = env.tmp / f"rss-{n}.out", env.tmp / f"rss-{n}.err"
        with out_path.open("wb") as out_f, err_path.open("wb") as err_f:
            t0 = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-m", "shopbridge", "-c", str(config), "--log-level",
                 "WARNING", "produce"], cwd=REPO, stdout=out_f, stderr=err_f)
            hwm_kb = 0
            while proc.poll() is None:
                hwm_kb = max(hwm_kb, vm_hwm_kb(proc.pid))
                time.sleep(0.02)
        usage_cpu = proc_cpu_children_s()
        stdout = out_path.read_text(errors="replace").strip()
        item = Rss(articles=n, wall_s=time.perf_counter() - t0, cpu_s=usage_cpu,
                   maxrss_mb=hwm_kb / 1024, summary=stdout.splitlines()[0] if stdout else "")
        found = re.search(r"(\d+) product\.upserted", stdout)
        item.events = int(found[1]) if found else 0
        if proc.returncode:
            log(f"producer exited with {proc.returncode}: "
                f"{err_path.read_text(errors='replace')[-2000:]}")
        log(f"producer memory, {n:,} articles: peak RSS {item.maxrss_mb:.1f} MB, "
            f"{item.wall_s:.1f} s wall, {item.cpu_s:.1f} s CPU; {item.summary}")
        out.append(item)
        with Connection(env.amqp_url) as conn:
            conn.default_channel.queue_purge(queue)
        sample.drop_database(env.db_url, db)
    return out


# -- report ----------------------------------------------------------------------------------

def verdict(ok: bool) -> str:
    return "**met**" if ok else "**MISSED**"


def render(args: argparse.Namespace, facts: dict[str, str], fulls: list[FullSync],
           base: Baseline, lat: Latency, idle: Idle, burst: Burst | None, rss: list[Rss],
           command: str, split: Split | None = None,
           batch_splits: dict[int, list[Split]] | None = None) -> str:
    n = args.articles
    full = sorted(fulls, key=lambda f: f.total_s)[len(fulls) // 2]  # the median run
    ratio = full.total_s / base.seconds if base.seconds else float("nan")
    ratio_phoenix = full.total_s / base.shop_seconds if base.shop_seconds else float("nan")
    # Each full sync over the copy run right after it (the same machine speed): issue 14's
    # ratio is their median.
    pairs = ([f.total_s / b for f, b in zip(fulls, base.runs, strict=True)]
             if len(base.runs) == len(fulls) else [])
    ratio_14 = statistics.median(pairs) if pairs else ratio
    eps = full.events / full.total_s if full.total_s else 0.0
    runs = ", ".join(f"{f.total_s:.2f}" for f in fulls)
    base_runs = ", ".join(f"{r:.2f}" for r in base.runs)
    med = statistics.median
    cyc = idle.cycles
    idle_cpu = med(c[1] + c[2] for c in cyc)
    all_ms = [s * 1000 for samples in lat.samples.values() for s in samples]
    target_ms = [s * 1000 for s in lat.samples.get("random phase", [])] or all_ms
    p99 = pct(target_ms, 99) if target_ms else float("inf")
    by_size = {r.articles: r for r in rss}
    rss_pair = (by_size.get(n), by_size.get(max(by_size) if by_size else 0))
    rss_factor = (rss_pair[1].maxrss_mb / rss_pair[0].maxrss_mb
                  if rss_pair[0] and rss_pair[1] and rss_pair[0] is not rss_pair[1]
                  else float("nan"))
    rows_note = ", ".join(f"{t} {n:,}" for t, n in base.rows.items())
    lines = [
        f"## {facts['date']} - {n:,} articles (issue 4 targets)",
        "",
        f"- Command: `{command}`",
        f"- Machine: {facts['nproc']} cores ({facts['cpu']}), load average at start "
        f"{facts['load_start']}, at end {facts['load_end']} (other helpers' tests share the "
        f"machine; ratios within the run are what counts); Python {facts['python']}, MariaDB "
        f"{facts['mariadb']}, RabbitMQ {facts['rabbitmq']}; commit {facts['git']}",
        "- Data: CAO from the upstream DDL, generated by bench/_catalogue.py: per article German "
        "texts in ARTIKEL + English in ARTIKEL_LTEXT (SPRACHEN en/de), one shop category "
        "(100 in a 2-level ARTIKEL_KAT tree), one of 50 manufacturers (HERSTELLER + "
        "HERSTELLER_INFO per language), every 10th a special (ARTIKEL_PREIS PT2 'AP', valid "
        "today); shops from the Phoenix 1.1 install SQL.",
        f"- Settings: {default_sizes()} (defaults); consumer is "
        "`python -m shopbridge consume` in its own process"
        + (f" ({args.consumers} of them on the shop's queue during the full syncs, their CPU "
           f"summed; one for the later phases)" if args.consumers > 1 else "")
        + "; producer in the bench process; follow mode = `shopbridge produce --follow` "
        "(stock every 0.5 s, full cycle every 10 s).",
        f"- Whole run (set-up, phases, clean-up): {facts['wall']} s; load average per phase: "
        f"{facts.get('phase_loads', '?')}",
        f"- Consumer's own summary at exit: {facts.get('consumer', '?')}",
        "",
        "| Target (issue 4) | Measured | Verdict |",
        "|---|---|---|",
        f"| Initial load of {n:,} articles <= {TARGET_RATIO:g}x the direct multi-row copy of "
        f"the same rows | pipeline **{full.total_s:.2f} s** ({eps:,.0f} events/s) vs baseline "
        f"**{base.seconds:.2f} s** = **{ratio:.2f}x** ({ratio_phoenix:.2f}x the Phoenix tables "
        f"alone, {base.shop_seconds:.2f} s) | {verdict(ratio <= TARGET_RATIO)} |",
        f"| Issue 14: the same <= {TARGET_RATIO_14:g}x (goal 1.2x) | **{ratio_14:.2f}x**"
        + (f", the median of each full sync over the copy run right after it "
           f"({', '.join(f'{r:.2f}x' for r in pairs)}; the medians' ratio {ratio:.2f}x)"
           if pairs else "")
        + (f"; without the history rows in the baseline ({base.unhistoried_seconds:.2f} s, "
           f"as runs before 2026-12-07 12:00 had it) "
           f"{full.total_s / base.unhistoried_seconds:.2f}x" if base.unhistoried_seconds else "")
        + f" | {verdict(ratio_14 <= TARGET_RATIO_14)} |",
        f"| Stock change -> shop row p99 <= {TARGET_P99_MS:.0f} ms ({len(target_ms)} changes, "
        f"{n:,} articles) | p50 **{pct(target_ms, 50) if target_ms else 0:.0f} ms**, p99 "
        f"**{p99:.0f} ms**, max {max(target_ms, default=0):.0f} ms; {lat.timeouts} lost | "
        f"{verdict(p99 <= TARGET_P99_MS and not lat.timeouts)} |",
        f"| Idle full cycle over {n:,} unchanged articles publishes nothing, <= "
        f"{TARGET_IDLE_CPU_S:g} s CPU | events {', '.join(str(c[3]) for c in cyc)}; CPU "
        f"producer {med(c[1] for c in cyc):.3f} s + MariaDB {med(c[2] for c in cyc):.3f} s = "
        f"**{idle_cpu:.2f} s** (median of {len(cyc)}; wall {med(c[0] for c in cyc):.2f} s) | "
        f"{verdict(idle_cpu <= TARGET_IDLE_CPU_S and not any(c[3] for c in cyc))} |",
    ]
    if rss_pair[0] and rss_pair[1] and rss_pair[0] is not rss_pair[1]:
        lines.append(
            f"| Producer peak RSS, {rss_pair[1].articles:,} vs {n:,} articles < "
            f"{TARGET_RSS_FACTOR:g}x | **{rss_pair[1].maxrss_mb:.1f} MB** vs "
            f"**{rss_pair[0].maxrss_mb:.1f} MB** = **{rss_factor:.2f}x** | "
            f"{verdict(rss_factor < TARGET_RSS_FACTOR)} |")
    lines += [
        "",
        "| Measurement | Result |",
        "|---|---|",
        f"| Baseline: direct multi-row INSERT of the pipeline's final rows ({rows_note}; "
        f"1,000 rows/statement, 1 transaction, PyMySQL as shipped; median of {len(base.runs)}) | "
        f"**{base.seconds:.2f} s** (runs: {base_runs} s); Phoenix tables alone "
        f"{base.shop_seconds:.2f} s |",
        *quick_baseline_rows(base, full.total_s),
        f"| Full sync, run_once() start -> last product committed (median of {len(fulls)}, "
        f"each from an empty shop and snapshot) | **{full.total_s:.2f} s** "
        f"({eps:,.0f} events/s), **{ratio:.2f}x baseline** (runs: {runs} s) |",
        *full_sync_rows(full),
        "| Shop after each full sync (products / descriptions / product-category links / "
        "active specials / categories / manufacturers / mismatches vs CAO; all as expected) | "
        + "; ".join(" / ".join(str(f.checks.get(k)) for k in (
            "products", "products_description", "products_to_categories", "active specials",
            "categories", "manufacturers", "mismatches vs CAO")) + f" ({f.checks.get('ok')})"
            for f in fulls) + " |",
    ]
    for name, samples in lat.samples.items():
        if not samples:
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
        f"| Idle run_once() over {n:,} unchanged articles (each of {len(cyc)}: wall / producer "
        "CPU / MariaDB CPU / events) | " + "; ".join(
            f"{c[0]:.2f} s / {c[1]:.3f} s / {c[2]:.2f} s / {c[3]}" for c in cyc) + " |",
        f"| Idle stock_scan() (median of {len(idle.stock)}: wall / producer CPU / MariaDB CPU)"
        f" | {med(s[0] for s in idle.stock) * 1000:.0f} ms / "
        f"{med(s[1] for s in idle.stock) * 1000:.1f} ms / "
        f"{med(s[2] for s in idle.stock) * 1000:.0f} ms; events "
        f"{sum(s[3] for s in idle.stock)} |",
    ]
    if burst is not None:
        lines.append(
            f"| Stock burst: all {n:,} MENGE_AKT changed at once, one stock_scan() -> all in "
            f"the shop | scan {burst.scan_s:.2f} s wall ({burst.scan_cpu_s:.2f} s CPU, "
            f"{burst.events:,} events); shop complete after **{burst.total_s:.2f} s**; CPU "
            "producer / consumer / RabbitMQ / MariaDB " + " / ".join(
                f"{burst.cpu.get(k, 0):.2f}" for k in ("producer", "consumer", "rabbitmq",
                                                       "mariadb")) + " s |")
    if split is not None:
        lines += split_rows(split, base.seconds)
    for batch, drains in (batch_splits or {}).items():
        walls = [d.consumer_s for d in drains]
        lines.append(
            f"| One consumer alone drains the full sync's queue with batch_size {batch} "
            f"(`--split-batch-sizes`; runs interleaved with the other sizes) | median "
            f"**{_median(walls):.2f} s** = {_median(walls) / base.seconds:.2f}x baseline "
            f"(runs: {', '.join(f'{w:.2f}' for w in walls)} s); CPU consumer "
            f"{_median([d.consumer_cpu['consumer'] for d in drains]):.2f} s / MariaDB "
            f"{_median([d.consumer_cpu['mariadb'] for d in drains]):.2f} s (medians); shop "
            f"complete: {all(d.ok for d in drains)} |")
    for r in rss:
        lines.append(
            f"| Producer process, full cycle of {r.articles:,} articles from an empty snapshot "
            f"(`shopbridge produce`, own process) | peak RSS **{r.maxrss_mb:.1f} MB**; "
            f"{r.wall_s:.1f} s wall, {r.cpu_s:.1f} s CPU; {r.events:,} products published |")
    lines.append("")
    return "\n".join(lines)


def quick_baseline_rows(base: Baseline, pipeline_s: float) -> list[str]:
    """The copy with the pipeline's own driver classes: a stricter baseline (issue 14)."""
    if not base.quick_seconds:
        return []
    return [f"| Baseline with the pipeline's driver classes and quote-only escaping "
            f"(shopbridge/driver.py; same rows, median of {len(base.quick_runs)}) | "
            f"**{base.quick_seconds:.2f} s** (runs: "
            f"{', '.join(f'{r:.2f}' for r in base.quick_runs)} s); the full sync is "
            f"**{pipeline_s / base.quick_seconds:.2f}x** that |"]


def split_rows(split: Split, base_s: float) -> list[str]:
    """The report's rows on each side alone (``--split``)."""
    def cpu(used: dict[str, float]) -> str:
        return " / ".join(f"{k} {v:.2f} s" for k, v in used.items())
    return [
        f"| Each side alone: producer run_once() into the queue, no consumer attached | "
        f"**{split.producer_s:.2f} s** = **{split.producer_s / base_s:.2f}x baseline**; CPU "
        f"{cpu(split.producer_cpu)} |",
        f"| Each side alone: then {split.consumers} consumer process(es) drain it, spawn -> "
        f"last product committed | **{split.consumer_s:.2f} s** = "
        f"**{split.consumer_s / base_s:.2f}x baseline**; CPU {cpu(split.consumer_cpu)}; "
        f"shop complete: {split.ok} |",
    ]


def full_sync_rows(full: FullSync) -> list[str]:
    """The report's rows on where a full sync's time went: producer, consumer lag, CPU."""
    return [
        f"| - of which producer run_once() (read CAO, build, publish {full.events:,} events "
        f"in {full.messages:,} messages, confirmed) | {full.publish_s:.2f} s wall, "
        f"{full.producer_cpu_s:.2f} s CPU |",
        f"| - consumer lag after run_once() returned | {full.total_s - full.publish_s:.2f} s |",
        "| - CPU during the full sync (producer / consumer / RabbitMQ / MariaDB) | "
        + " / ".join(f"{full.cpu.get(k, 0):.2f} s" for k in
                     ("producer", "consumer", "rabbitmq", "mariadb"))
        + f" (sum {sum(full.cpu.values()):.2f} s of {2 * full.total_s:.2f} core-s) |",
    ]


RAW_MARKER = "# ---- raw cProfile output (written by sync_bench.py --profile) ----"


def profile_text(sections: list[tuple[str, cProfile.Profile | Path | None]]) -> str:
    parts = []
    for title, source in sections:
        if source is None or (isinstance(source, Path) and not source.exists()):
            continue
        for sort in ("tottime", "cumulative"):
            buf = io.StringIO()
            stats = pstats.Stats(source if isinstance(source, cProfile.Profile)
                                 else str(source), stream=buf)
            stats.strip_dirs().sort_stats(sort).print_stats(30)
            parts.append(f"==== {title}, by {sort} ====\n{buf.getvalue()}")
    return "\n".join(parts)


def write_profile(text: str) -> None:
    """Replace what follows RAW_MARKER in PROFILE.txt (the hand-written summary above stays)."""
    old = PROFILE_OUT.read_text(encoding="utf-8") if PROFILE_OUT.exists() else ""
    head = old.split(RAW_MARKER, 1)[0] if RAW_MARKER in old else ""
    PROFILE_OUT.write_text(f"{head}{RAW_MARKER}\n{text}", encoding="utf-8")
    log(f"wrote {PROFILE_OUT}")


# -- main ------------------------------------------------------------------------------------

@contextmanager
def environment(args: argparse.Namespace, prefix: str = "sbbench") -> Iterator[Env]:
    """The run's environment (names start with ``prefix``), one catalogue shop; removed at
    the end."""
    env = Env.create(args, prefix)
    try:
        yield env
    finally:
        clean_up(env, lambda settings: settings.tenants[0].shops, keep_tmp=args.keep_tmp)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=200,
                        help="stock changes in follow mode, each 50 ms + U(0, 0.5 s) after the "
                             "previous one arrived (the p99 target's sample; default 200)")
    parser.add_argument("--spaced-changes", type=int, default=0,
                        help="an extra pass, each change 50-100 ms after the previous one "
                             "arrived (locks onto the 0.5 s scan period; default 0 = off)")
    parser.add_argument("--full-runs", type=int, default=3,
                        help="full syncs (each from an empty shop) and baseline copies; the "
                             "median is reported (default 3)")
    parser.add_argument("--rss-sizes", default=None,
                        help="comma-separated article counts for the producer memory phase "
                             "(default: --articles and 3x --articles; '0' skips it)")
    parser.add_argument("--no-burst", action="store_true", help="skip the stock burst phase")
    parser.add_argument("--consumers", type=int, default=1,
                        help="consumer processes on the shop's queue during the full syncs")
    parser.add_argument("--split", action="store_true",
                        help="one more initial load with the sides one after the other: the "
                             "producer alone, then --consumers consumers alone (each side's "
                             "floor on these cores)")
    parser.add_argument("--split-batch-sizes", type=lambda text: [int(x) for x in text.split(",")],
                        default=[], metavar="N,N,...",
                        help="after the other phases: the consumer alone (as --split) with each "
                             "of these [broker] batch_size values, interleaved")
    parser.add_argument("--split-rounds", type=int, default=2,
                        help="how often each --split-batch-sizes value runs (default 2)")
    parser.add_argument("--seed", type=int, default=11)
    add_server_args(parser, amqp_default="amqp://guest:guest@127.0.0.1:5672//")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile one full sync (producer and consumer) and one idle "
                             "cycle into bench/PROFILE.txt; skips the other phases and "
                             "RESULTS.md")
    add_output_args(parser)
    args = parser.parse_args()
    if args.rss_sizes is None:
        args.rss_sizes = f"{args.articles},{3 * args.articles}"
    args.rss = [int(x) for x in args.rss_sizes.split(",") if x.strip() and int(x) > 0]
    return args


def main() -> int:
    args = parse_args()
    require_reference()
    command = command_line("bench/sync_bench.py")
    started = time.perf_counter()
    facts = machine_facts()
    loads: list[str] = []

    def phase(name: str) -> None:
        loads.append(f"{name} {loadavg().split()[0]}")
        log(f"{name} ... (load {loadavg()})")

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
        # More consumers of the one shop queue (issue 14: "several consumers per shop").
        extra = [spawn(env, f"consumer{n}", ["consume", "--shop", SHOP])
                 for n in range(2, args.consumers + 1)]
        meter.pids.update({f"consumer{n}": proc.pid for n, proc in enumerate(extra, 2)})

        profiler = cProfile.Profile() if args.profile else None
        fulls: list[FullSync] = []
        base = Baseline()
        bookkeeping: list[str] = []
        for run in range(1 if args.profile else args.full_runs):
            if run:
                reset_sync_state(env)
                time.sleep(1.0)  # let the servers settle (flushes) between runs
            phase(f"full sync {run + 1}")
            full = full_sync(env, expected, meter, profiler)
            for name in [k for k in full.cpu if k.startswith("consumer") and k != "consumer"]:
                full.cpu["consumer"] += full.cpu.pop(name)
            fulls.append(full)
            log(f"full sync: {full.events:,} events in {full.total_s:.2f} s "
                f"(run_once {full.publish_s:.2f} s); checks {full.checks}; CPU {full.cpu}")
            if args.profile:
                break
            # Each copy right after its full sync: this machine's speed drifts by 10-20 %
            # within minutes, and three syncs then three copies measured the drift too.
            phase(f"baseline copy {run + 1}")
            wait_for_history(env, full.events)
            time.sleep(1.0)     # as between full syncs
            if not bookkeeping:
                shop = raw_connect(env.url(env.shop))
                try:
                    bookkeeping = bookkeeping_tables(shop)
                finally:
                    shop.close()
            base.extend(baseline_copy(env, 1, bookkeeping=bookkeeping, first=run))
            log(f"baseline: {base.runs[-1]:.3f} s (Phoenix tables {base.shop_runs[-1]:.3f} s); "
                f"full sync / copy {full.total_s / base.runs[-1]:.2f}x")
        if args.profile:
            stop_child(env, consumer, "consumer")
            idle_profiler = cProfile.Profile()
            producer = CaoProducer(broker=env.settings.broker, tenant=env.settings.tenants[0])
            try:
                producer.prepare()
                t0 = time.perf_counter()
                idle_profiler.enable()
                producer.run_once()
                idle_profiler.disable()
                idle_s = time.perf_counter() - t0
            finally:
                producer.close()
            write_profile(
                f"# cProfile, {args.articles:,} articles, {facts['date']}, load {loadavg()}\n"
                f"# full sync under the profiler: {full.total_s:.2f} s (run_once "
                f"{full.publish_s:.2f} s); idle run_once under the profiler: {idle_s:.2f} s\n\n"
                + profile_text([("producer run_once(), full sync (in-process)", profiler),
                                ("consumer process, full sync", consumer_prof),
                                ("producer run_once(), idle (in-process)", idle_profiler)]))
            return 0

        for n, proc in enumerate(extra, 2):     # the later phases measure one consumer
            stop_child(env, proc, f"consumer{n}")
        meter.pids = {k: v for k, v in meter.pids.items() if k == "consumer"
                      or not k.startswith("consumer")}
        log(f"baseline: {[round(r, 3) for r in base.runs]} s "
            f"(Phoenix tables {[round(r, 3) for r in base.shop_runs]} s) for {base.rows}")

        passes = {"random phase": (args.changes, (0.05, 0.55))}
        if args.spaced_changes:
            passes["spaced 50-100 ms"] = (args.spaced_changes, (0.05, 0.1))
        phase("stock latency")
        lat = stock_latency(env, passes, args.articles, consumer, args.seed)
        for name, samples in lat.samples.items():
            if samples:
                ms = [s * 1000 for s in samples]
                log(f"latency {name} ms: p50 {pct(ms, 50):.0f} p99 {pct(ms, 99):.0f} "
                    f"max {max(ms):.0f}")
        log(f"latency timeouts: {lat.timeouts}")

        phase("idle cycles")
        idle = idle_cycles(env)
        log(f"idle run_once (wall, cpu, mariadb cpu, events): {idle.cycles}; "
            f"stock_scan: {idle.stock}")

        burst = None
        if not args.no_burst:
            phase("stock burst")
            burst = stock_burst(env, expected, meter)
            log(f"stock burst: {burst}")

        facts["consumer"] = stop_child(env, consumer, "consumer")
        log(f"consumer: {facts['consumer']}")

        split = None
        if args.split:
            phase("each side alone")
            split = split_sync(env, expected, args.consumers)
            log(f"each side alone: {split}")

        by_size: dict[int, list[Split]] = {}
        if args.split_batch_sizes:
            phase("each side alone per batch_size")
            by_size = batch_size_splits(env, expected, args.split_batch_sizes,
                                        args.split_rounds)

        rss: list[Rss] = []
        if args.rss:
            phase("producer memory")
            rss = producer_memory(env, args.rss)

    facts["phase_loads"] = ", ".join(loads)
    finish_facts(facts, started)
    text = render(args, facts, fulls, base, lat, idle, burst, rss, command, split, by_size)
    publish(text, write_results=not args.no_results, blank_line_before=True)
    bad = (any(not f.checks.get("ok") for f in fulls) or any(c[3] for c in idle.cycles)
           or lat.timeouts or (split is not None and not split.ok)
           or any(not r.ok for runs in by_size.values() for r in runs))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
