"""Long-running commands ride out outages (issue 9, point 6): ``produce --follow``, ``consume``
and ``orders produce --follow`` wait for a broker or database that is away, also when it is
away at their start, say so once per outage (one warning naming what is away, one info line
with the duration when it is back), and never exit for it; afterwards the shop equals CAO.
One-shot commands still fail fast with the exit code.

The commands run as child processes against the real MariaDB and RabbitMQ; the outages are
TCP proxies (tests/tcp_proxy.py) that stop listening and cut every connection.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from shopbridge import brokers, sample, topology
from shopbridge import config as cfg
from tests.conftest import REPO, Database, broker_entry, fill_cao, shop_entry
from tests.helpers import storefront
from tests.integration.test_faults import assert_nothing_dead, write_config
from tests.services import BACK, UNAVAILABLE, Service
from tests.tcp_proxy import TcpProxy

DE = 2
OUTAGE_S = float(os.environ.get("SHOPBRIDGE_TEST_OUTAGE_S", "30"))
CATCH_UP_S = 60.0          # after the outage: the longest backoff (15 s) plus a sync
def _wait_until(condition: Callable[[], bool], timeout: float, what: str,
                services: list[Service]) -> None:
    """Poll ``condition``; fail when it times out or a service exited."""
    deadline = time.monotonic() + timeout
    while not condition():
        gone = [s for s in services if not s.alive()]
        if gone:
            raise AssertionError(f"{gone[0].label} exited (rc {gone[0].proc.returncode}) "
                                 f"while waiting for {what}\n{gone[0].tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout:.0f} s\n"
                                 + "\n".join(s.tail() for s in services))
        time.sleep(0.2)


def _stay_alive(seconds: float, services: list[Service]) -> None:
    """Every service keeps running for ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for service in services:
            assert service.alive(), (f"{service.label} exited (rc {service.proc.returncode}) "
                                     f"during the outage\n{service.tail()}")
        time.sleep(0.5)


# -- set-up ------------------------------------------------------------------------------------

def _via(db: Database, proxy: TcpProxy) -> Database:
    """``db`` as reached through ``proxy``."""
    return dataclasses.replace(db, url=db.url.set(host="127.0.0.1", port=proxy.port))


def _broker_via(proxy: TcpProxy) -> str:
    """The test's broker (RabbitMQ, or the embedded broker's MariaDB) through ``proxy``."""
    parts = urlsplit(broker_entry()["url"])
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{proxy.port}" if credentials else f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _proxy_to_db(db: Database) -> TcpProxy:
    return TcpProxy(db.url.port or 3306, db.url.host or "127.0.0.1")


def _proxy_to_broker() -> TcpProxy:
    parts = urlsplit(broker_entry()["url"])
    return TcpProxy(parts.port or (5672 if parts.scheme == "amqp" else 3306),
                    parts.hostname or "127.0.0.1")


def _declare(settings: cfg.Settings) -> None:
    """Declare the test's queues from this process, so the namespace fixture removes them."""
    tenant = settings.tenants[0]
    brokers.declare(settings.broker, [*tenant.shops, topology.Target.for_erp(tenant.name)])


def _cao_state(cao: Database) -> dict[str, tuple[Any, ...]]:
    """What the storefront must show: the selected articles as CAO has them now."""
    return {sku: (name, price, max(int(stock), 0)) for sku, name, price, stock in cao.rows(
        "SELECT ARTNUM, KURZNAME, VK1, MENGE_AKT FROM artikel "
        "WHERE SHOP_VISIBLE = 1 AND SHOP_ID = 1")}


def _equal_to_cao(cao: Database, shop: Database) -> Callable[[], bool]:
    return lambda: storefront(shop, DE) == _cao_state(cao)


def _change_cao(cao: Database, round_: int) -> None:
    """Prices, stock, texts, a new article and a deleted one: every kind of change."""
    cao.execute("UPDATE artikel SET VK1 = VK1 + 1 WHERE MOD(REC_ID, 3) = %s", (round_ % 3,))
    cao.execute("UPDATE artikel SET MENGE_AKT = MENGE_AKT + 7 WHERE MOD(REC_ID, 2) = 0")
    cao.execute("UPDATE artikel SET KURZNAME = CONCAT(KURZNAME, %s) WHERE MOD(REC_ID, 10) = %s",
                (f" r{round_}", round_ % 10))
    new = sample.articles(1, start=1000 + round_, shop_ids=(1,))
    fill_cao(cao, new, [])
    cao.execute("DELETE FROM artikel WHERE REC_ID = %s", (10 + round_,))


def _outage_lines(service: Service) -> tuple[list[str], list[str]]:
    return service.lines(UNAVAILABLE), service.lines(BACK)


def _assert_said_once(service: Service, name: str, *, at_least_s: float) -> None:
    """One warning naming ``name`` when the outage began, one info line when it ended, with
    a duration of at least ``at_least_s``; no traceback, no error line."""
    away, back = _outage_lines(service)
    log = service.tail()
    assert len(away) == 1 and name in away[0], f"{service.label}: {away}\n{log}"
    assert len(back) == 1 and name in back[0], f"{service.label}: {back}\n{log}"
    seconds = float(BACK.search(back[0])[1])   # type: ignore[index]
    assert seconds >= at_least_s, back[0]
    assert "Traceback" not in service.log() and " ERROR " not in service.log(), log


@pytest.fixture
def pipeline(cao_db: Database, phoenix_db: Database, namespace: str, tmp_path: Path
             ) -> Iterator[dict[str, Any]]:
    """CAO with 200 articles; a configuration whose CAO database, shop database and broker
    are each reached through a proxy of their own."""
    rows = sample.articles(200, shop_ids=(1,))
    fill_cao(cao_db, rows, sample.translations(rows, every=2))
    with _proxy_to_db(cao_db) as cao_proxy, _proxy_to_db(phoenix_db) as shop_proxy, \
            _proxy_to_broker() as broker_proxy:
        config = tmp_path / "shopbridge.toml"
        settings = write_config(
            config, namespace, _via(cao_db, cao_proxy),
            [shop_entry("web", phoenix_db, url=_via(phoenix_db, shop_proxy).url
                        .render_as_string(hide_password=False))],
            url=_broker_via(broker_proxy), batch_size=100)
        _declare(settings)
        yield {"config": config, "settings": settings, "cao_proxy": cao_proxy,
               "shop_proxy": shop_proxy, "broker_proxy": broker_proxy}


def _run_services(start: Callable[..., Service], config: Path) -> list[Service]:
    producer = start(config, "produce", "--follow", "--stock-interval", "0.5",
                     "--full-interval", "2", label="produce")
    consumer = start(config, "consume", "--shop", "web", label="consume")
    return [producer, consumer]


# -- tests -------------------------------------------------------------------------------------

@pytest.mark.slow
def test_produce_follow_and_consume_ride_out_a_database_outage(
        cao_db, phoenix_db, pipeline, start):
    """Both databases go away for OUTAGE_S (default 30 s): the shop's first, with events on
    their way to it, then CAO's, while CAO keeps changing. Neither command exits; each says
    once that its database is away and once that it is back; the shop ends equal to CAO and
    nothing is dead-lettered."""
    services = _run_services(start, pipeline["config"])
    producer, consumer = services
    _wait_until(_equal_to_cao(cao_db, phoenix_db), 60, "the first sync", services)

    pipeline["shop_proxy"].close()
    cut = time.monotonic()
    _change_cao(cao_db, 1)                  # published, then held by the waiting consumer
    _wait_until(lambda: len(consumer.lines(UNAVAILABLE)) == 1, 30,
                "the consumer to notice", services)
    pipeline["cao_proxy"].close()
    _change_cao(cao_db, 2)                  # only readable after the outage
    _stay_alive(OUTAGE_S - (time.monotonic() - cut), services)
    pipeline["cao_proxy"].reopen()
    pipeline["shop_proxy"].reopen()

    _wait_until(_equal_to_cao(cao_db, phoenix_db), CATCH_UP_S, "the shop to equal CAO",
                services)
    _wait_until(lambda: all(s.lines(BACK) for s in services), 10, "the 'back' lines", services)
    assert [s.stop() for s in services] == [0, 0]
    _assert_said_once(producer, "CAO database of tenant 'acme'", at_least_s=OUTAGE_S - 10)
    _assert_said_once(consumer, "database of shop 'web'", at_least_s=OUTAGE_S - 5)
    assert "A-001002" in storefront(phoenix_db, DE)         # added during the outage
    assert_nothing_dead(pipeline["settings"], "web")


@pytest.mark.slow
def test_produce_follow_and_consume_ride_out_a_broker_outage(
        broker_kind, cao_db, phoenix_db, pipeline, start):
    """The broker (RabbitMQ, or the embedded broker's database) goes away for OUTAGE_S
    (default 30 s) while CAO keeps changing: neither command exits; each says once that the
    broker is away and once that it is back; the shop ends equal to CAO and nothing is
    dead-lettered."""
    services = _run_services(start, pipeline["config"])
    _wait_until(_equal_to_cao(cao_db, phoenix_db), 60, "the first sync", services)

    pipeline["broker_proxy"].close()
    cut = time.monotonic()
    _change_cao(cao_db, 1)
    _stay_alive(OUTAGE_S / 2, services)
    _change_cao(cao_db, 2)
    _stay_alive(OUTAGE_S - (time.monotonic() - cut), services)
    pipeline["broker_proxy"].reopen()

    _wait_until(_equal_to_cao(cao_db, phoenix_db), CATCH_UP_S, "the shop to equal CAO",
                services)
    _wait_until(lambda: all(s.lines(BACK) for s in services), 10, "the 'back' lines", services)
    assert [s.stop() for s in services] == [0, 0]
    for service in services:
        _assert_said_once(service, "broker amqp://" if broker_kind == "rabbitmq"
                          else "broker mysql+pymysql://", at_least_s=OUTAGE_S - 3)
    assert_nothing_dead(pipeline["settings"], "web")


def test_services_started_while_their_database_is_down_wait_for_it(
        erp, phoenix_db, pipeline, start):
    """Every long-running command started while its database is away waits (one warning)
    instead of exiting 4, and starts working when the database is back; stopped (SIGTERM)
    while waiting, it exits 0; the one-shot commands still exit 4 at once."""
    config = pipeline["config"]
    pipeline["cao_proxy"].close()
    pipeline["shop_proxy"].close()
    services = [
        start(config, "produce", "--follow", "--stock-interval", "0.5", label="produce"),
        start(config, "consume", "--shop", "web", label="consume-shop"),
        start(config, "consume", "--erp", label="consume-erp"),
        start(config, "orders", "produce", "--shop", "web", "--follow", "--interval", "1",
              label="orders-produce"),
    ]
    one_shots = {
        "produce": subprocess.run(
            [sys.executable, "-m", "shopbridge", "-c", str(config), "produce"],
            cwd=REPO, capture_output=True, text=True, timeout=60),
        "consume --until-idle": subprocess.run(
            [sys.executable, "-m", "shopbridge", "-c", str(config), "consume", "--shop", "web",
             "--until-idle", "1"], cwd=REPO, capture_output=True, text=True, timeout=60),
    }
    stopped = [start(config, "produce", "--follow", label="produce-stopped"),
               start(config, "consume", "--shop", "web", label="consume-stopped")]
    _wait_until(lambda: all(s.lines(UNAVAILABLE) for s in services + stopped), 30,
                "every service to say its database is away", services + stopped)
    assert [s.stop(timeout=10) for s in stopped] == [0, 0]
    _stay_alive(3, services)

    pipeline["cao_proxy"].reopen()
    pipeline["shop_proxy"].reopen()
    _wait_until(lambda: all(s.lines(BACK) for s in services), CATCH_UP_S,
                "every service to say its database is back", services)
    _wait_until(_equal_to_cao(erp, phoenix_db), 30, "the shop to equal CAO", services)
    assert [s.stop() for s in services] == [0, 0, 0, 0]
    for service in services:
        name = "CAO database" if service.label in ("produce", "consume-erp") else "shop 'web'"
        _assert_said_once(service, name, at_least_s=3)
    for command, done in one_shots.items():
        assert done.returncode == 4, f"{command}: rc {done.returncode}\n{done.stderr[-2000:]}"
