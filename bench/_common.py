"""What the benchmark scripts (sync_bench.py, orders_bench.py) share.

Machine facts, process CPU from /proc, raw PyMySQL helpers, the run's databases, config file,
broker namespace and child processes (``BenchEnv``), and the RESULTS.md writer. The scripts run
as ``python bench/<name>.py``, so this module is imported as ``_common``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self, TypeVar

import pymysql
from kombu import Connection
from pymysql.cursors import Cursor
from sqlalchemy.engine import URL, make_url

from shopbridge import config as cfg
from shopbridge import sample, topology
from shopbridge.db import quotes_only
from shopbridge.driver import QuickConnection, QuickCursor

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
RESULTS = BENCH / "RESULTS.md"
CLK_TCK = os.sysconf("SC_CLK_TCK")
RESULTS_HEADER = ("# shopbridge benchmark results\n\nWritten by `bench/sync_bench.py`; newest "
                  "section last. Numbers from one machine; compare runs on the same machine "
                  "only.\n\n")

T = TypeVar("T")


# -- logging and machine facts ---------------------------------------------------------------

def default_sizes() -> str:
    """The broker's batch settings as a run without them in its config has them."""
    fields = {f.name: f.default for f in dataclasses.fields(cfg.BrokerConfig)}
    return ", ".join(f"{name} {fields[name]}" for name in ("pack_size", "batch_size",
                                                           "batch_wait_ms"))


def log(msg: str) -> None:
    """Print ``msg`` with the wall-clock time, flushed at once."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages, as /proc/loadavg has them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ("?" if there is none)."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def git_head() -> str:
    """The short commit of HEAD, plus how many tracked files have uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO, capture_output=True, text=True,
                               check=True).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return "?"
    changed = [line for line in dirty if line.strip()]
    return head + (f" + uncommitted changes in {len(changed)} tracked files" if changed else "")


def command_line(script: str) -> str:
    """How this run was started, for the report (``script`` as a path from the repository)."""
    return " ".join([".venv/bin/python", script, *sys.argv[1:]])


def machine_facts() -> dict[str, str]:
    """Date, cores, CPU, load average at start, Python and commit; logs the load average."""
    facts = {"date": datetime.now(UTC).astimezone().strftime("%Y-%m-%d %H:%M %Z"),
             "nproc": str(os.cpu_count()), "cpu": cpu_model(), "load_start": loadavg(),
             "python": platform.python_version(), "git": git_head()}
    log(f"load average {facts['load_start']}, {facts['nproc']} cores")
    return facts


def finish_facts(facts: dict[str, str], started: float) -> None:
    """Add the load average at the end and the whole run's wall time (from ``started``)."""
    facts["load_end"] = loadavg()
    facts["wall"] = f"{time.perf_counter() - started:.0f}"


def server_versions(db_url: str, amqp_url: str, *variables: str) -> tuple[str, ...]:
    """MariaDB's and RabbitMQ's versions, then the value of each MariaDB ``variables`` entry
    (an expression such as ``@@innodb_flush_log_at_trx_commit``)."""
    conn = raw_connect(make_url(db_url).set(database=None))
    try:
        mariadb = str(scalar(conn, "SELECT VERSION()"))
        values = [str(scalar(conn, f"SELECT {variable}")) for variable in variables]
    finally:
        conn.close()
    with Connection(amqp_url) as kconn:
        kconn.ensure_connection(max_retries=1)
        props = kconn.connection.server_properties
        rabbit = props.get("version", "?")
    return (mariadb, rabbit.decode() if isinstance(rabbit, bytes) else str(rabbit), *values)


# -- CPU and timing --------------------------------------------------------------------------

def proc_cpu_s(pid: int | None) -> float:
    """utime + stime of a process (all its threads), in seconds; 0 if unreadable."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def find_pid(*names: str) -> int | None:
    """The oldest process whose comm is one of ``names`` (the servers: read-only use)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with suppress(OSError):
            if (entry / "comm").read_text().strip() in names:
                found.append(int(entry.name))
    return min(found) if found else None


@dataclass
class CpuMeter:
    """CPU seconds of named processes between ``start`` and ``stop``."""

    pids: dict[str, int | None]
    before: dict[str, float] = field(default_factory=dict)
    used: dict[str, float] = field(default_factory=dict)

    def start(self) -> None:
        self.before = {k: proc_cpu_s(p) for k, p in self.pids.items()}

    def stop(self) -> dict[str, float]:
        self.used = {k: proc_cpu_s(p) - self.before[k] for k, p in self.pids.items()}
        return self.used


def pipeline_meter(consumer_pid: int) -> CpuMeter:
    """A meter of this process (the producer), the consumer, RabbitMQ and MariaDB."""
    return CpuMeter({"producer": os.getpid(), "consumer": consumer_pid,
                     "rabbitmq": find_pid("beam.smp"),
                     "mariadb": find_pid("mariadbd", "mysqld")})


def timed_call(func: Callable[[], T]) -> tuple[float, float, T]:
    """Call ``func``; returns (wall seconds, CPU seconds of this process, its result)."""
    t0, c0 = time.perf_counter(), time.process_time()
    result = func()
    return time.perf_counter() - t0, time.process_time() - c0, result


def wait_until(predicate: Callable[[], bool], *, timeout: float, interval: float) -> bool:
    """Poll ``predicate`` every ``interval`` s until it holds or ``timeout`` s have passed;
    returns whether it held."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def pct(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


# -- raw SQL ---------------------------------------------------------------------------------

def raw_connect(url: URL, *, autocommit: bool = True, quick: bool = False
                ) -> pymysql.Connection:
    """A PyMySQL connection (utf8mb4) to the server and database of ``url``; ``quick``: with
    the pipeline's own driver classes (shopbridge/driver.py) and quote-only escaping, as the
    shop consumers' connections have them."""
    args: dict[str, Any] = {"host": url.host or "127.0.0.1", "port": url.port or 3306,
                            "user": url.username or "root", "password": url.password or "",
                            "database": url.database, "charset": "utf8mb4",
                            "autocommit": autocommit}
    if not quick:
        return pymysql.connect(**args)
    conn = QuickConnection(**args, cursorclass=QuickCursor)
    if not quotes_only(conn):
        raise SystemExit("bench: the server did not report NO_BACKSLASH_ESCAPES; the quick "
                         "baseline would escape otherwise than the consumers")
    return conn


def scalar(conn: pymysql.Connection, sql: str, params: Any = None) -> Any:
    """The first column of the first row of ``sql`` (None if there is no row)."""
    with conn.cursor() as cur:
        cur.execute(sql, params)
        row = cur.fetchone()
    return None if row is None else row[0]


def select_all(conn: pymysql.Connection, table: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and every row of ``table``."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT * FROM `{table}`")
        columns = [d[0] for d in cur.description]
        return columns, list(cur.fetchall())


def insert_sql(table: str, columns: Sequence[str]) -> str:
    """An INSERT of one row into ``table`` with a placeholder per column."""
    return (f"INSERT INTO `{table}` ({', '.join(f'`{c}`' for c in columns)}) "
            f"VALUES ({', '.join(['%s'] * len(columns))})")


def executemany_chunked(cur: Cursor, sql: str, rows: Sequence[Any], chunk: int = 1000) -> None:
    """``executemany`` in slices of ``chunk`` rows (PyMySQL makes each one multi-row INSERT)."""
    for start in range(0, len(rows), chunk):
        cur.executemany(sql, rows[start:start + chunk])


# -- the run's environment -------------------------------------------------------------------

@dataclass
class BenchEnv:
    """One run's databases (CAO, shop, baseline), broker namespace, temp dir and children."""

    db_url: str
    amqp_url: str
    tag: str
    tmp: Path
    cao: str = ""
    shop: str = ""
    base: str = ""
    config_path: Path = Path()
    settings: cfg.Settings | None = None
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @classmethod
    def create(cls, args: argparse.Namespace, prefix: str, **extra: Any) -> Self:
        """A new environment named ``prefix``-<random>, from ``--db-url`` and ``--amqp-url``;
        makes its temp dir (nothing else yet)."""
        tag = f"{prefix}-{uuid.uuid4().hex[:8]}"
        db_tag = tag.replace("-", "_")
        return cls(db_url=args.db_url, amqp_url=args.amqp_url, tag=tag,
                   tmp=Path(tempfile.mkdtemp(prefix=f"{prefix}-")),
                   cao=f"{db_tag}_cao", shop=f"{db_tag}_shop", base=f"{db_tag}_base", **extra)

    def url(self, db: str) -> URL:
        return make_url(self.db_url).set(database=db)


def empty_shop_and_snapshot(env: BenchEnv,
                            tables: Callable[[pymysql.Connection], Iterable[str]]) -> None:
    """Empty the shop's ``tables`` (asked of its connection) and the producer's snapshot, so
    the next full sync is an initial load again."""
    shop, cao = raw_connect(env.url(env.shop)), raw_connect(env.url(env.cao))
    try:
        with shop.cursor() as cur:
            for table in tables(shop):
                cur.execute(f"TRUNCATE TABLE `{table}`")
        with cao.cursor() as cur:
            cur.execute("TRUNCATE TABLE shopbridge_snapshot")
    finally:
        shop.close()
        cao.close()


def write_config(env: BenchEnv, *, url_env: str, tenant: str, shop: str, cao_shop_id: int,
                 shop_extra: str = "", kind: str = "oscommerce") -> None:
    """Write the run's shopbridge.toml (one tenant: CAO and one shop of ``kind``, Phoenix
    unless told; ``shop_extra`` is appended to the shop's table) and load it into
    ``env.settings``."""
    server = make_url(env.db_url).set(database=None)
    if server.password:
        raise SystemExit("pass a database URL without a password (the config file is written "
                         "to disk); use a socket or option file instead")
    base = server.render_as_string(hide_password=True).rstrip("/")
    env.config_path = env.tmp / "shopbridge.toml"
    # The broker URL travels in the environment (the children inherit it): a config file must
    # not hold a password, and --amqp-url may have one.
    os.environ[url_env] = env.amqp_url
    env.config_path.write_text(f"""
[broker]
url_env = "{url_env}"
namespace = "{env.tag}"

[[tenants]]
name = "{tenant}"
[tenants.erp]
kind = "cao"
url = "{base}/{env.cao}"

[[tenants.shops]]
name = "{shop}"
kind = "{kind}"
url = "{base}/{env.shop}"
languages = ["de", "en"]
price_level = 1
stock_mode = "available"
tax_classes = {{ 1 = 2, 2 = 1 }}
filter = {{ cao_shop_id = {cao_shop_id} }}
{shop_extra}""", encoding="utf-8")
    env.settings = cfg.load(env.config_path)


def spawn(env: BenchEnv, name: str, args: list[str], *, profile_to: Path | None = None
          ) -> subprocess.Popen[bytes]:
    """``python -m shopbridge <args>`` with the run's config, output to <tmp>/<name>.out/.err;
    under cProfile (written to ``profile_to``) if given."""
    prefix = [sys.executable]
    if profile_to is not None:
        prefix += ["-m", "cProfile", "-o", str(profile_to)]
    cmd = [*prefix, "-m", "shopbridge", "-c", str(env.config_path), "--log-level", "WARNING",
           *args]
    out = (env.tmp / f"{name}.out").open("wb")
    err = (env.tmp / f"{name}.err").open("wb")
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=err)
    out.close()
    err.close()
    env.children.append(proc)
    return proc


def stop_child(env: BenchEnv, proc: subprocess.Popen[bytes], name: str, timeout: float = 20.0
               ) -> str:
    """SIGTERM (the CLI finishes its batch and exits), then wait; returns its stdout."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc in env.children:
        env.children.remove(proc)
    err_file, out_file = env.tmp / f"{name}.err", env.tmp / f"{name}.out"
    err = err_file.read_text(errors="replace").strip() if err_file.exists() else ""
    if err:
        log(f"{name} stderr (last lines):\n" + "\n".join(err.splitlines()[-10:]))
    return out_file.read_text(errors="replace").strip() if out_file.exists() else ""


def wait_for_consumer(env: BenchEnv, proc: subprocess.Popen[bytes], queue: str,
                      timeout: float = 30.0) -> None:
    """Wait until a consumer is attached to ``queue``; exit if ``proc`` (spawned as
    "consumer") dies or ``timeout`` s pass first."""
    deadline = time.monotonic() + timeout
    with Connection(env.amqp_url) as conn:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"consumer exited with {proc.returncode}: "
                                 f"{(env.tmp / 'consumer.err').read_text()[-2000:]}")
            channel = conn.channel()
            try:
                _, _, consumers = channel.queue_declare(queue=queue, passive=True)
            finally:
                with suppress(Exception):
                    channel.close()
            if consumers:
                return
            time.sleep(0.05)
    raise SystemExit(f"consumer did not attach to its queue within {timeout:.0f} s")


def clean_up(env: BenchEnv,
             targets: Callable[[cfg.Settings], Iterable[cfg.ShopConfig | topology.Target]],
             *, keep_tmp: bool) -> None:
    """Stop the children, delete the broker namespace (the queues of ``targets(settings)``)
    and the databases, and remove the temp dir unless ``keep_tmp``; ignores what fails."""
    for proc in list(env.children):
        with suppress(Exception):
            stop_child(env, proc, "child", timeout=10)
    if env.settings is not None:
        with suppress(Exception), Connection(env.amqp_url) as conn:
            topology.delete(conn, env.settings.broker, targets(env.settings))
    for db in (env.cao, env.shop, env.base):
        with suppress(Exception):
            sample.drop_database(env.db_url, db)
    if keep_tmp:
        log(f"kept {env.tmp}")
    else:
        shutil.rmtree(env.tmp, ignore_errors=True)


# -- command line and results ----------------------------------------------------------------

def add_server_args(parser: argparse.ArgumentParser, *, amqp_default: str) -> None:
    """--db-url and --amqp-url (defaults from SHOPBRIDGE_BENCH_DB_URL / _AMQP_URL)."""
    parser.add_argument("--db-url", default=os.environ.get(
        "SHOPBRIDGE_BENCH_DB_URL", "mysql+pymysql://root@127.0.0.1:3306/"))
    parser.add_argument("--amqp-url", default=os.environ.get(
        "SHOPBRIDGE_BENCH_AMQP_URL", amqp_default))


def add_output_args(parser: argparse.ArgumentParser) -> None:
    """--no-results and --keep-tmp."""
    parser.add_argument("--no-results", action="store_true", help="do not touch RESULTS.md")
    parser.add_argument("--keep-tmp", action="store_true")


def append_results(text: str, *, blank_line_before: bool = False) -> None:
    """Append a section to RESULTS.md (made with its header if missing)."""
    if not RESULTS.exists():
        RESULTS.write_text(RESULTS_HEADER, encoding="utf-8")
    with RESULTS.open("a", encoding="utf-8") as f:
        f.write(("\n" if blank_line_before else "") + text + "\n")


def publish(text: str, *, write_results: bool, blank_line_before: bool = False) -> None:
    """Print the report section and, if ``write_results``, append it to RESULTS.md."""
    print("\n" + text)
    if write_results:
        append_results(text, blank_line_before=blank_line_before)
        log(f"appended to {RESULTS}")
