"""Faults on the way from RabbitMQ to the shop: the shop database going away in the middle
of a sync, a consumer killed with SIGKILL in the middle of a batch, two consumers racing on one
shop's queue. Whatever happens, every selected product ends up in the shop exactly once, with
its link row, and nothing is dead-lettered.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from consumers import ConsumerStats, ShopConsumer, make_applier
from shopbridge import config as cfg
from shopbridge import dlq, sample
from shopbridge.tomlvalue import toml_value
from tests.conftest import (
    REPO,
    Database,
    broker_entry,
    fill_cao,
    settings_for,
    shop_entry,
)
from tests.helpers import consume, produce, storefront
from tests.tcp_proxy import TcpProxy

DE = 2
# R2, R5 and two consumers on one queue, on both broker kinds (B5).
pytestmark = pytest.mark.usefixtures("broker_kind")
OUTAGE_S = 20.0
POLL_S = 0.01


# -- helpers -----------------------------------------------------------------------------------

def _add_articles(cao: Database, rows: list[dict[str, Any]]) -> None:
    """Articles of ``sample.articles`` (all in CAO shop 1, visible), English for every 2nd."""
    fill_cao(cao, rows, sample.translations(rows, every=2))


def _products(db: Database) -> int:
    return int(db.scalar("SELECT COUNT(*) FROM products"))


def _wait_until(condition: Callable[[], bool], timeout: float, what: str,
                alive: Callable[[], bool] = lambda: True,
                log: Callable[[], str] = lambda: "") -> None:
    """Poll ``condition``; fail when it times out or the consumer (``alive``) is gone."""
    deadline = time.monotonic() + timeout
    while not condition():
        if not alive():
            raise AssertionError(f"gave up waiting for {what}: the consumer is gone\n{log()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout:.0f} s\n{log()}")
        time.sleep(POLL_S)


def _waiting_on_link_lock(db: Database) -> bool:
    """A statement on the link table of ``db`` has been waiting for a second or more (for
    the row lock the test holds: the consumer is inside its batch transaction)."""
    return bool(db.scalar(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = %s "
        "AND ID <> CONNECTION_ID() AND COMMAND = 'Query' AND TIME >= 1 AND INFO LIKE %s",
        (db.name, "%shopbridge_link%")))


def _wait_until_quiet(db: Database, quiet_s: float, timeout: float) -> None:
    """Wait until no batch has committed to ``db`` for ``quiet_s`` seconds."""
    def mark() -> tuple[Any, ...]:
        return tuple(db.rows("SELECT COUNT(*), MAX(applied_at) FROM shopbridge_link")[0])

    deadline = time.monotonic() + timeout
    last, since = mark(), time.monotonic()
    while time.monotonic() - since < quiet_s:
        if time.monotonic() > deadline:
            raise AssertionError(f"the shop did not go quiet within {timeout:.0f} s")
        time.sleep(0.1)
        now = mark()
        if now != last:
            last, since = now, time.monotonic()


def assert_every_product_once(db: Database, models: set[str]) -> None:
    """Each model exactly once, each with its link row pointing at it, both descriptions."""
    duplicates = db.rows("SELECT products_model, COUNT(*) FROM products "
                         "GROUP BY products_model HAVING COUNT(*) > 1")
    assert duplicates == []
    assert {r[0] for r in db.rows("SELECT products_model FROM products")} == models
    assert _products(db) == len(models)
    assert db.scalar("SELECT COUNT(*) FROM products_description") == 2 * len(models)
    assert db.scalar("SELECT COUNT(*) FROM shopbridge_link WHERE entity_type = 'product'") == \
        len(models)
    linked = db.scalar(
        "SELECT COUNT(DISTINCT l.target_id) FROM shopbridge_link l "
        "JOIN products p ON p.products_id = l.target_id "
        "WHERE l.entity_type = 'product' "
        "AND p.products_model = CONCAT('A-', LPAD(l.entity_key, 6, '0'))")
    assert linked == len(models)


def assert_nothing_dead(settings: cfg.Settings, *shops: str) -> None:
    for name in shops:
        letters = dlq.list_dead(settings.broker, settings.tenants[0].shop(name))
        assert [(d.event_type, d.entity_key, d.error) for d in letters] == []


# -- configuration files and consumer processes ------------------------------------------------

def write_config(path: Path, namespace: str, cao: Database, shops: list[dict[str, Any]],
                 **broker: Any) -> cfg.Settings:
    """The configuration ``settings_for`` builds, as a TOML file a consumer process reads;
    returns the settings loaded back from that file."""
    broker = {**broker_entry(), "namespace": namespace, "retry_tiers_s": [1, 2],
              "batch_wait_ms": 50, **broker}
    lines = ["[broker]", *(f"{k} = {toml_value(v)}" for k, v in broker.items()),
             "", "[[tenants]]", 'name = "acme"',
             "", "[tenants.erp]", 'kind = "cao"',
             f"url = {toml_value(cao.url.render_as_string(hide_password=False))}"]
    for shop in shops:
        lines += ["", "[[tenants.shops]]", *(f"{k} = {toml_value(v)}" for k, v in shop.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return cfg.load(path)


class ConsumerProcess:
    """``shopbridge consume`` as a child process; its output goes to files in ``tmp``."""

    def __init__(self, config: Path, shop: str, tmp: Path, label: str,
                 until_idle: float) -> None:
        self.out, self.err = tmp / f"{label}.out", tmp / f"{label}.err"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "shopbridge", "-c", str(config), "consume",
                 "--shop", shop, "--until-idle", str(until_idle)],
                cwd=REPO, stdout=out, stderr=err, stdin=subprocess.DEVNULL)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def finish(self, timeout: float = 60) -> dict[str, int]:
        """Wait for a clean exit; returns the counts of its summary line."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"consumer still running after {timeout} s:\n{self.log()}") from None
        assert rc == 0, f"consumer exit code {rc}:\n{self.log()}"
        summary = self.out.read_text(encoding="utf-8")
        found = re.search(r"(\d+) event\(s\) in (\d+) message\(s\): (\d+) applied, (\d+) "
                          r"skipped .*, (\d+) to retry, (\d+) dead-lettered", summary)
        assert found, f"no summary line:\n{self.log()}"
        keys = ("events", "messages", "applied", "skipped", "retried", "dead")
        return dict(zip(keys, map(int, found.groups()), strict=True))

    def log(self) -> str:
        text = self.out.read_text(errors="replace") + self.err.read_text(errors="replace")
        return text[-4000:]


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., ConsumerProcess]]:
    """Starts consumer processes; any still running at the end is killed."""
    started: list[ConsumerProcess] = []

    def start(config: Path, shop: str, label: str, until_idle: float = 3) -> ConsumerProcess:
        process = ConsumerProcess(config, shop, tmp_path, label, until_idle)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


# -- tests -------------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_shop_database_outage_mid_batch_pauses_the_consumer_and_loses_nothing(
        cao_db, phoenix_db, namespace):
    """The shop database vanishes for 20 s in the middle of a batch (connections cut, new
    ones refused): the consumer keeps the batch, waits, and resumes where it was; every
    product exactly once, nothing dead-lettered or sent to a retry tier.

    So that the cut cannot miss the batch, the consumer first syncs 1,000 articles, then the
    test locks a link row of the next 2,000 and the consumer blocks inside its batch.
    """
    n, done, blocker = 3000, 1000, "2000"
    rows = sample.articles(n, shop_ids=(1,))
    models = {r["ARTNUM"] for r in rows}
    _add_articles(cao_db, rows[:done])
    with TcpProxy(phoenix_db.url.port or 3306) as proxy:
        url = phoenix_db.url.set(port=proxy.port).render_as_string(hide_password=False)
        settings = settings_for(namespace, cao_db, [shop_entry("web", phoenix_db, url=url)],
                                batch_size=200)
        assert produce(settings).published["product.upserted"] == done
        shop = settings.tenants[0].shop("web")
        applier = make_applier(shop)
        consumer = ShopConsumer(broker=settings.broker, shop=shop, applier=applier)
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["stats"] = consumer.run(idle_exit_s=5)
            except BaseException as err:   # reported by the test below
                outcome["error"] = err

        thread = threading.Thread(target=run, name="consumer-web", daemon=True)
        thread.start()
        try:
            _wait_until(lambda: _products(phoenix_db) == done, 60, "the first 1,000 products",
                        alive=thread.is_alive)
            with phoenix_db.engine.connect() as lock:   # directly, not through the proxy
                lock.exec_driver_sql("INSERT INTO shopbridge_link (entity_type, entity_key) "
                                     "VALUES ('product', %s)", (blocker,))
                try:
                    _add_articles(cao_db, rows[done:])
                    assert produce(settings).published["product.upserted"] == n - done
                    _wait_until(lambda: _waiting_on_link_lock(phoenix_db), 60,
                                "the consumer to block inside its batch", alive=thread.is_alive)
                    # Batches before the one holding the blocked key may have committed.
                    before_cut = _products(phoenix_db)
                    proxy.close()
                finally:
                    lock.rollback()
            assert proxy.cut >= 1
            assert done <= before_cut < n
            time.sleep(OUTAGE_S)
            assert thread.is_alive()
            assert _products(phoenix_db) == before_cut  # nothing got through the outage
            assert not _waiting_on_link_lock(phoenix_db)   # the cut batch was rolled back
            proxy.reopen()
            thread.join(timeout=60)
            assert not thread.is_alive(), "the consumer did not finish after the outage"
        finally:
            proxy.reopen()
            consumer.stop_event.set()
            thread.join(timeout=60)
            applier.close()
    assert "error" not in outcome, outcome.get("error")
    stats: ConsumerStats = outcome["stats"]
    assert stats.outage_pauses > 0
    assert (stats.applied, stats.retried, stats.dead) == (n, 0, 0)
    assert_every_product_once(phoenix_db, models)
    assert set(storefront(phoenix_db, DE)) == models
    assert_nothing_dead(settings, "web")


@pytest.mark.slow
def test_a_consumer_killed_mid_batch_is_restarted_and_every_product_lands_once(
        cao_db, phoenix_db, namespace, tmp_path, spawn):
    """SIGKILL while a batch transaction is open: the shop rolls the batch back, RabbitMQ
    hands the unacknowledged messages to the next consumer, which completes the catalogue;
    no product twice, none missing, nothing dead-lettered.

    So that the kill cannot miss the batch, the consumer first syncs 1,000 articles, then
    the test locks a link row of the next 2,000 and the consumer blocks inside its batch.
    """
    n, done, blocker = 3000, 1000, "2000"
    rows = sample.articles(n, shop_ids=(1,))
    models = {r["ARTNUM"] for r in rows}
    _add_articles(cao_db, rows[:done])
    config = tmp_path / "shopbridge.toml"
    settings = write_config(config, namespace, cao_db, [shop_entry("web", phoenix_db)],
                            batch_size=200)
    assert produce(settings).published["product.upserted"] == done
    first = spawn(config, "web", "first", until_idle=30)
    _wait_until(lambda: _products(phoenix_db) == done, 60, "the first 1,000 products",
                alive=first.alive, log=first.log)

    with phoenix_db.engine.connect() as lock:
        lock.exec_driver_sql("INSERT INTO shopbridge_link (entity_type, entity_key) "
                             "VALUES ('product', %s)", (blocker,))   # uncommitted: locked
        try:
            _add_articles(cao_db, rows[done:])
            assert produce(settings).published["product.upserted"] == n - done
            _wait_until(lambda: _waiting_on_link_lock(phoenix_db), 60,
                        "the consumer to block inside its batch", alive=first.alive, log=first.log)
            before_kill = _products(phoenix_db)   # batches before the blocked one committed
            first.kill()
        finally:
            lock.rollback()
    assert first.proc.returncode == -signal.SIGKILL
    _wait_until(lambda: not _waiting_on_link_lock(phoenix_db), 30,
                "the server to drop the killed consumer's transaction")
    assert _products(phoenix_db) == before_kill      # the killed batch left nothing behind

    counts = spawn(config, "web", "second").finish()

    assert (counts["retried"], counts["dead"]) == (0, 0)
    assert counts["applied"] >= n - before_kill       # redelivered batches count again
    assert_every_product_once(phoenix_db, models)
    assert set(storefront(phoenix_db, DE)) == models
    assert_nothing_dead(settings, "web")


def _shop_state(db: Database, models: set[str]) -> dict[str, tuple[Any, ...]]:
    """The products of ``models`` by model: (German name, English name, price, quantity,
    status)."""
    rows = db.rows(
        "SELECT p.products_model, de.products_name, en.products_name, p.products_price, "
        "p.products_quantity, p.products_status FROM products p "
        "LEFT JOIN products_description de ON de.products_id = p.products_id "
        "AND de.language_id = 2 "
        "LEFT JOIN products_description en ON en.products_id = p.products_id "
        "AND en.language_id = 1")
    return {r[0]: tuple(r[1:]) for r in rows if r[0] in models}


def _links(db: Database) -> dict[str, tuple[Any, ...]]:
    """entity_key -> (has a product, version, stock_version)."""
    rows = db.rows("SELECT entity_key, target_id IS NOT NULL, version, stock_version "
                   "FROM shopbridge_link WHERE entity_type = 'product'")
    return {r[0]: tuple(r[1:]) for r in rows}


@pytest.mark.slow
def test_two_consumers_on_one_queue_reach_the_state_one_consumer_reaches(
        cao_db, phoenix_db, phoenix_factory, namespace, tmp_path, spawn):
    """Two consumer processes share shop 'web''s queue, which holds a catalogue and several
    rounds of changes to the same articles, and one of them stalls in the middle of a batch
    while the other overtakes the messages it holds; shop 'mirror' gets the same events
    through one consumer. Every selected product is the same in both shops (by model, not
    products_id), the link versions are equal, and neither shop has a model twice.

    The stall is a link row the test keeps locked. It comes in a second phase, when the
    link table holds 1,000 rows: while the table is tiny, the link lock reads (and locks)
    every row, and both consumers would wait from their first batch on.

    What a product that left the selection looks like may depend on the order of delivery
    and is not compared: a delete or deselection that overtakes the create leaves no row
    (rather than a hidden one), and a hidden row keeps whichever texts it had last.
    """
    n, done, stall = 3000, 1000, "2701"   # a consumer stalls on article 2701, before the tail
    rows = sample.articles(n, shop_ids=(1,))
    models = {r["ARTNUM"] for r in rows}
    _add_articles(cao_db, rows[:done])
    mirror_db = phoenix_factory()
    config = tmp_path / "shopbridge.toml"
    settings = write_config(
        config, namespace, cao_db,
        [shop_entry("web", phoenix_db), shop_entry("mirror", mirror_db)],
        batch_size=50, pack_size=25)             # many small messages: fine interleaving
    assert produce(settings).published["product.upserted"] == done
    first = [spawn(config, "web", f"web-{x}1", until_idle=2) for x in "ab"]
    counts = [p.finish() for p in first]

    _add_articles(cao_db, rows[done:])
    assert produce(settings).published["product.upserted"] == n - done
    # Rounds of changes to the last 175 articles: their messages queue close behind the
    # first versions of those articles, so the two consumers hold old and new versions of
    # the same articles at the same time.
    tail = "REC_ID > 2825"
    rounds = [
        (f"UPDATE artikel SET VK1 = VK1 + 1, KURZNAME = CONCAT(KURZNAME, ' (neu)') "
         f"WHERE {tail}", "product.upserted"),
        (f"UPDATE artikel SET MENGE_AKT = MENGE_AKT + 10 WHERE {tail}", "stock.changed"),
        (f"UPDATE artikel SET VK1 = VK1 + 1 WHERE {tail} AND MOD(REC_ID, 2) = 0",
         "product.upserted"),
        (f"UPDATE artikel SET SHOP_VISIBLE = 0 WHERE {tail} AND MOD(REC_ID, 7) = 0",
         "product.upserted"),
        (f"DELETE FROM artikel WHERE {tail} AND MOD(REC_ID, 11) = 0", "product.deleted"),
        (f"UPDATE artikel SET MENGE_AKT = MENGE_AKT - 3 WHERE {tail} AND MOD(REC_ID, 3) = 0",
         "stock.changed"),
        # and, behind all that, a stock change of every fourth article
        ("UPDATE artikel SET MENGE_AKT = MENGE_AKT + 5 WHERE MOD(REC_ID, 4) = 0",
         "stock.changed"),
    ]
    for sql, event_type in rounds:
        cao_db.execute(sql)
        assert produce(settings).published[event_type] > 0

    with phoenix_db.engine.connect() as lock:
        # The consumer whose batch holds article 2701 waits for this row until the other
        # one has done all it can, overtaking the messages the first one holds.
        lock.exec_driver_sql("INSERT INTO shopbridge_link (entity_type, entity_key) "
                             "VALUES ('product', %s)", (stall,))
        try:
            pair = [spawn(config, "web", f"web-{x}2") for x in "ab"]
            _wait_until(lambda: _waiting_on_link_lock(phoenix_db), 60,
                        "a consumer to stall", alive=lambda: all(p.alive() for p in pair))
            _wait_until_quiet(phoenix_db, 1.0, 60)
            assert done < _products(phoenix_db) < n
        finally:
            lock.rollback()
    counts += [p.finish() for p in pair]
    mirror = consume(settings, "mirror", idle_s=1.5)

    assert all(c["applied"] > 0 for c in counts), counts     # both really took part
    assert all(c["dead"] == 0 for c in counts) and mirror.dead == 0
    # Overtaken: the stalled one finds stale versions. How many depends on how much its
    # stalled batch held (seen 23..306 against the mirror's 6..206 coalesced ones), so only
    # that there were some; the overtaking itself is shown above (products grew meanwhile).
    assert sum(c["skipped"] for c in counts[2:]) > 0
    assert_nothing_dead(settings, "web", "mirror")
    selected = {r[0] for r in cao_db.rows("SELECT ARTNUM FROM artikel WHERE SHOP_VISIBLE = 1")}
    assert len(selected) < n
    for db in (phoenix_db, mirror_db):
        assert db.rows("SELECT products_model FROM products GROUP BY products_model "
                       "HAVING COUNT(*) > 1") == []
        present = {r[0] for r in db.rows("SELECT products_model FROM products")}
        assert selected <= present <= models
        assert db.scalar("SELECT COUNT(*) FROM products WHERE products_status <> 0 "
                         "AND products_model IN %s", (sorted(models - selected),)) == 0
    assert _shop_state(phoenix_db, selected) == _shop_state(mirror_db, selected)
    assert storefront(phoenix_db, DE) == storefront(mirror_db, DE)
    web_links, mirror_links = _links(phoenix_db), _links(mirror_db)
    assert {k: v[1:] for k, v in web_links.items()} == {k: v[1:] for k, v in mirror_links.items()}
    assert all(web_links[m[2:].lstrip("0")][0] for m in selected)
    assert all(mirror_links[m[2:].lstrip("0")][0] for m in selected)
    # And the shared state is the ERP's latest, not a stale mix of the rounds.
    expected = {sku: (name, price, max(int(stock), 0)) for sku, name, price, stock in cao_db.rows(
        "SELECT ARTNUM, KURZNAME, VK1, MENGE_AKT FROM artikel WHERE SHOP_VISIBLE = 1")}
    assert storefront(phoenix_db, DE) == expected
    assert expected["A-003000"][0].endswith(" (neu)")
