"""Issue 14: what an idle follow mode costs, and how fast a stock change arrives, by change
signal: today's polling (``--signal off``), the UPDATE_TIME gate (``gate``, the fallback
without triggers) and the triggers' change table (``triggers``), in one run.

    .venv/bin/python bench/capture_bench.py [--articles 100000] [--idle-s 60] [--changes 200]
                                            [--gate-changes 50]

1. Set-up (not timed): a CAO database of N generated articles and an empty Phoenix shop, as
   sync_bench builds them, a consumer process, and one full sync into the shop.
2. Background: MariaDB's CPU over ``--idle-s`` with nothing of this run working. MariaDB is
   shared with other work on this machine; its figure is subtracted from the others.
3. Per signal: ``shopbridge produce --follow --signal <s>`` as a child process; a warm-up
   stock change proves its first full cycle done; then ``--idle-s`` of nothing changing, with
   the CPU of MariaDB (whole server, /proc) and of the producer; then stock changes, each
   50 ms + U(0, 0.5 s) after the previous one arrived (random phase against any period), one
   random article's MENGE_AKT each, timed until the shop row shows it (polled every ~5 ms).
   The triggers are installed (``shopbridge capture --install``) before the triggers pass
   and removed at the end.

Results are appended to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import sync_bench as sb
from _common import (
    CLK_TCK,
    CpuMeter,
    add_output_args,
    add_server_args,
    command_line,
    find_pid,
    finish_facts,
    loadavg,
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
    write_config,
)
from kombu import Connection

from producers.cao.source import ARTICLE_COLUMNS, TRANSLATION_COLUMNS
from shopbridge import cli, topology

TARGET_IDLE_PCT = 5.0
TARGET_P99_MS = 250.0


@dataclass
class Pass:
    signal: str
    idle_s: float = 0.0
    mariadb_s: float = 0.0
    producer_s: float = 0.0
    background_s: float = 0.0        # MariaDB's CPU over as long with nothing of ours
    threads_s: float = 0.0           # MariaDB's threads serving connections to the CAO db
    latencies: list[float] = field(default_factory=list)
    timeouts: int = 0
    load: str = ""

    @property
    def own_pct(self) -> float:
        """The CAO database's connection threads + producer, in % of one core."""
        return 100.0 * (self.threads_s + self.producer_s) / self.idle_s if self.idle_s else 0.0

    @property
    def idle_pct(self) -> float:
        """MariaDB (less the background) + producer, in % of one core."""
        used = max(0.0, self.mariadb_s - self.background_s) + self.producer_s
        return 100.0 * used / self.idle_s if self.idle_s else 0.0


def thread_cpu(admin: object, mariadb: int | None, db: str) -> dict[int, float]:
    """CPU seconds of each MariaDB thread now serving a connection to ``db``
    (information_schema.PROCESSLIST.TID -> /proc/<pid>/task/<tid>/stat): the server's work
    for this database alone, whatever else the shared server does."""
    with admin.cursor() as cur:          # type: ignore[attr-defined]
        cur.execute("SELECT TID FROM information_schema.PROCESSLIST WHERE DB = %s", (db,))
        tids = [int(r[0]) for r in cur.fetchall() if r[0]]
    out = {}
    for tid in tids:
        try:
            stat = Path(f"/proc/{mariadb}/task/{tid}/stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[tid] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return out


def background(seconds: float) -> float:
    mariadb = find_pid("mariadbd", "mysqld")
    m0 = proc_cpu_s(mariadb)
    time.sleep(seconds)
    return proc_cpu_s(mariadb) - m0


def run_pass(env: sb.Env, signal: str, *, idle_s: float, changes: int, articles: int,
             seed: int, background_s: float, next_value: int, settle_s: float) -> Pass:
    out = Pass(signal, background_s=background_s, load=loadavg().split()[0])
    producer = spawn(env, f"follow-{signal}", ["produce", "--follow", "--signal", signal])
    mariadb = find_pid("mariadbd", "mysqld")
    cao = raw_connect(env.url(env.cao))
    shop = raw_connect(env.url(env.shop))
    rnd = random.Random(seed)
    value = next_value

    def change(rec_id: int, timeout: float) -> float | None:
        nonlocal value
        value += 1
        return sb.stock_arrival(cao, shop, rec_id, value, timeout)

    try:
        if change(1, timeout=180) is None:
            raise SystemExit(f"follow --signal {signal}: warm-up change did not arrive")
        # The warm-up's own work done: with the gate, its write opens the next full cycle
        # (up to --full-interval later), which must not fall into the idle window.
        time.sleep(settle_s)
        threads0 = thread_cpu(cao, mariadb, env.cao)
        p0, m0, t0 = proc_cpu_s(producer.pid), proc_cpu_s(mariadb), time.perf_counter()
        time.sleep(idle_s)
        out.idle_s = time.perf_counter() - t0
        out.producer_s = proc_cpu_s(producer.pid) - p0
        out.mariadb_s = proc_cpu_s(mariadb) - m0
        threads1 = thread_cpu(cao, mariadb, env.cao)
        out.threads_s = sum(cpu - threads0.get(tid, 0.0) for tid, cpu in threads1.items())
        log(f"{signal}: idle {out.idle_s:.0f} s: MariaDB {out.mariadb_s:.2f} s (background "
            f"{background_s:.2f} s), CAO connections {out.threads_s:.2f} s, producer "
            f"{out.producer_s:.2f} s -> {out.own_pct:.1f} % ({out.idle_pct:.1f} % by "
            f"whole server less background)")
        for _ in range(changes):
            latency = change(rnd.randint(2, articles), timeout=30)
            if latency is None:
                out.timeouts += 1
            else:
                out.latencies.append(latency)
            time.sleep(rnd.uniform(0.05, 0.55))
        if out.latencies:
            ms = [s * 1000 for s in out.latencies]
            log(f"{signal}: latency ms p50 {pct(ms, 50):.0f} p99 {pct(ms, 99):.0f} "
                f"max {max(ms):.0f} ({len(ms)} changes, {out.timeouts} timeouts)")
    finally:
        cao.close()
        shop.close()
        stop_child(env, producer, f"follow-{signal}")
    return out


# The candidate not built (docs/architecture.md): one look of a window-checksum scan, per
# table a checksum per window of 2,000 REC_IDs over the columns the article hash reads.
WINDOW_LOOKS = {
    "ARTIKEL, stock only (REC_ID, MENGE_AKT)":
        "SELECT REC_ID DIV 2000, BIT_XOR(CRC32(CONCAT_WS('|', REC_ID, MENGE_AKT))) "
        "FROM artikel GROUP BY 1",
    "ARTIKEL, every column the hash reads":
        "SELECT REC_ID DIV 2000, BIT_XOR(CRC32(CONCAT_WS('|', REC_ID, MENGE_AKT, "
        + ", ".join(f"QUOTE({c})" for c in ARTICLE_COLUMNS) + "))) FROM artikel GROUP BY 1",
    "ARTIKEL_LTEXT": "SELECT ARTIKEL_ID DIV 2000, BIT_XOR(CRC32(CONCAT_WS('|', ARTIKEL_ID, "
        "SPRACHE_ID, " + ", ".join(f"QUOTE({c})" for c in TRANSLATION_COLUMNS) + "))) "
        "FROM artikel_ltext GROUP BY 1",
    "ARTIKEL_PREIS": "SELECT ARTIKEL_ID DIV 2000, BIT_XOR(CRC32(CONCAT_WS('|', ARTIKEL_ID, "
        "ADRESS_ID, PREIS_TYP, PT2, PREIS, QUOTE(GUELTIG_VON), QUOTE(GUELTIG_BIS), "
        + ", ".join(f"{c}{k}" for k in (2, 3, 4, 5) for c in ("MENGE", "PREIS"))
        + "))) FROM artikel_preis GROUP BY 1",
    "ARTIKEL_TO_KAT": "SELECT ARTIKEL_ID DIV 2000, BIT_XOR(CRC32(CONCAT_WS('|', SHOP_ID, "
        "ARTIKEL_ID, KAT_ID, DEL_FLAG))) FROM artikel_to_kat GROUP BY 1",
}


def window_looks(env: sb.Env, runs: int = 3) -> dict[str, tuple[float, float]]:
    """Each WINDOW_LOOKS query ``runs`` times: median wall and MariaDB CPU of its thread."""
    mariadb = find_pid("mariadbd", "mysqld")
    conn = raw_connect(env.url(env.cao))
    out = {}
    try:
        tid = int(scalar(conn, "SELECT TID FROM information_schema.PROCESSLIST "
                               "WHERE ID = CONNECTION_ID()"))
        stat = Path(f"/proc/{mariadb}/task/{tid}/stat")

        def cpu() -> float:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / CLK_TCK

        for name, sql in WINDOW_LOOKS.items():
            samples = []
            for _ in range(runs):
                c0, t0 = cpu(), time.perf_counter()
                with conn.cursor() as cur:
                    cur.execute(sql)
                    cur.fetchall()
                samples.append((time.perf_counter() - t0, cpu() - c0))
            samples.sort()
            out[name] = samples[len(samples) // 2]
            log(f"window look {name}: {out[name][0] * 1000:.0f} ms wall, "
                f"{out[name][1] * 1000:.0f} ms MariaDB CPU")
    finally:
        conn.close()
    return out


def capture(env: sb.Env, action: str) -> None:
    code = cli.main(["-c", str(env.config_path), "--log-level", "WARNING", "capture",
                     f"--{action}"])
    if code != cli.EXIT_OK:
        raise SystemExit(f"shopbridge capture --{action} failed ({code})")


def render(args: argparse.Namespace, facts: dict[str, str], passes: list[Pass],
           looks: dict[str, tuple[float, float]], command: str) -> str:
    by = {p.signal: p for p in passes}
    lines = [
        f"## Change signal (issue 14), {args.articles:,} articles - {facts['date']}",
        "",
        f"- Command: `{command}`",
        f"- Machine: {facts['nproc']} cores ({facts['cpu']}), shared with other helpers' "
        f"tests and benchmarks; load average at start {facts['load_start']}, at end "
        f"{facts['load_end']}; per pass (1 min): "
        f"{', '.join(f'{p.signal} {p.load}' for p in passes)}; Python {facts['python']}, "
        f"MariaDB {facts['mariadb']} (log_bin {facts['log_bin']}), RabbitMQ "
        f"{facts['rabbitmq']}; commit {facts['git']}",
        f"- Idle: {args.idle_s:.0f} s with nothing changing, from {args.settle_s:.0f} s after "
        "the warm-up change (the producer's first full cycle and what the warm-up opened are "
        "done); CPU from /proc (utime+stime). MariaDB's is the whole server's: the "
        f"background (its CPU over {args.idle_s:.0f} s with no producer of this run, measured "
        "right before each pass) is subtracted; too noisy on a shared server, so the "
        "headline figure is the CPU of the MariaDB threads serving the connections to this "
        "run's CAO database (information_schema.PROCESSLIST.TID -> /proc/<pid>/task/<tid>), "
        "which is the ERP-side cost of the producer alone. Producer = the `produce --follow` "
        "process.",
        "- Latency: UPDATE of one random article's MENGE_AKT in CAO until the Phoenix row "
        "shows it (polled every ~5 ms), each change 50 ms + U(0, 0.5 s) after the previous "
        "one arrived.",
        f"- Whole run: {facts['wall']} s",
        "",
        "| Signal | idle: MariaDB threads of the CAO connections | idle: producer | "
        "**idle: both, % of one core** | idle: whole MariaDB (background) -> less background "
        "+ producer | stock change -> shop p50 / p99 / max (n, timeouts) |",
        "|---|---|---|---|---|---|",
    ]
    names = {"off": "off: today's polling (stock scan 0.5 s, full cycle 10 s)",
             "gate": "gate: UPDATE_TIME (fallback, no triggers)",
             "triggers": "triggers: change table, read every 50 ms"}
    for p in passes:
        if p.latencies:
            ms = [s * 1000 for s in p.latencies]
            lat = (f"{pct(ms, 50):.0f} / {pct(ms, 99):.0f} / {max(ms):.0f} ms "
                   f"({len(ms)}, {p.timeouts})")
        else:
            lat = "not measured"
        lines.append(f"| {names[p.signal]} | {p.threads_s:.2f} s | {p.producer_s:.2f} s | "
                     f"**{p.own_pct:.1f} %** | {p.mariadb_s:.2f} s ({p.background_s:.2f} s) "
                     f"-> {p.idle_pct:.1f} % | {lat} |")
    lines.append("")
    if looks:
        total = sum(cpu for name, (_, cpu) in looks.items() if "stock only" not in name)
        lines += ["Window checksums (the candidate not built), one look over the "
                  f"{args.articles:,} articles, per window of 2,000 REC_IDs, median of 3 "
                  "(MariaDB CPU of the connection's thread): "
                  + "; ".join(f"{name} {wall * 1000:.0f} ms wall / {cpu * 1000:.0f} ms CPU"
                              for name, (wall, cpu) in looks.items())
                  + f"; all four tables {total * 1000:.0f} ms CPU per look.", ""]
    trig = by.get("triggers")
    if trig is not None:
        ok_idle = trig.own_pct <= TARGET_IDLE_PCT
        ms = [s * 1000 for s in trig.latencies]
        ok_lat = bool(ms) and pct(ms, 99) <= TARGET_P99_MS and not trig.timeouts
        lines.append(f"Targets with the change signal: idle <= {TARGET_IDLE_PCT:g} % of one "
                     f"core: **{'met' if ok_idle else 'missed'}** ({trig.own_pct:.1f} %); "
                     f"stock p99 <= {TARGET_P99_MS:g} ms: "
                     f"**{'met' if ok_lat else 'missed'}**"
                     + (f" ({pct(ms, 99):.0f} ms)" if ms else "") + ".")
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--idle-s", type=float, default=60.0)
    parser.add_argument("--changes", type=int, default=200,
                        help="stock changes with the triggers (default 200)")
    parser.add_argument("--gate-changes", type=int, default=50,
                        help="stock changes with the gate and with polling (default 50)")
    parser.add_argument("--signals", default="off,gate,triggers")
    parser.add_argument("--settle-s", type=float, default=25.0,
                        help="pause after the warm-up change before the idle window "
                             "(default 25: a full interval and a full cycle)")
    parser.add_argument("--seed", type=int, default=11)
    add_server_args(parser, amqp_default="amqp://guest:guest@127.0.0.1:5672//")
    add_output_args(parser)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    sb.require_reference()
    command = command_line("bench/capture_bench.py")
    started = time.perf_counter()
    facts = machine_facts()
    passes: list[Pass] = []
    with sb.environment(args, prefix="sbcapture") as env:
        facts["mariadb"], facts["rabbitmq"], facts["log_bin"] = server_versions(
            env.db_url, env.amqp_url, "@@log_bin")
        log(f"building {env.cao} ({args.articles:,} articles) and {env.shop}")
        expected = sb.build_databases(env, args.articles)
        write_config(env, url_env=sb.AMQP_URL_ENV, tenant=sb.TENANT, shop=sb.SHOP,
                     cao_shop_id=1)
        assert env.settings is not None
        with Connection(env.amqp_url) as conn:
            topology.declare(conn, env.settings.broker, env.settings.tenants[0].shops)
        consumer = spawn(env, "consumer", ["consume", "--shop", sb.SHOP])
        wait_for_consumer(env, consumer, topology.work_queue(env.tag, sb.TENANT, sb.SHOP))
        meter: CpuMeter = pipeline_meter(consumer.pid)
        log(f"initial full sync ... (load {loadavg()})")
        full = sb.full_sync(env, expected, meter, None)
        log(f"initial full sync: {full.events:,} events in {full.total_s:.1f} s")
        value = 1_000_000
        try:
            signals = [s.strip() for s in args.signals.split(",") if s.strip()]
            for i, signal in enumerate(signals):
                if signal == "triggers":
                    capture(env, "install")
                log(f"background ({args.idle_s:.0f} s) ... (load {loadavg()})")
                back = background(args.idle_s)
                log(f"pass {signal} ... (load {loadavg()})")
                changes = args.changes if signal == "triggers" else args.gate_changes
                passes.append(run_pass(env, signal, idle_s=args.idle_s, changes=changes,
                                       articles=args.articles, seed=args.seed + i,
                                       background_s=back, next_value=value,
                                       settle_s=args.settle_s))
                value += 100_000
        finally:
            capture(env, "remove")
        stop_child(env, consumer, "consumer")
        log(f"window checksum looks ... (load {loadavg()})")
        looks = window_looks(env)
    finish_facts(facts, started)
    text = render(args, facts, passes, looks, command)
    publish(text, write_results=not args.no_results, blank_line_before=True)
    return 1 if any(p.timeouts for p in passes) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as err:
        raise SystemExit(str(err)) from err
