"""The consumer's HTTP endpoint (P7): /metrics counts what the consumer did, by target, type
and outcome; /healthz turns unhealthy within 5 s of the shop database going away (a TCP proxy
that stops listening and cuts its connections) and healthy again after it is back; /readyz."""

from __future__ import annotations

import dataclasses
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from consumers import ShopConsumer, make_applier
from shopbridge import config as cfg
from shopbridge.health import HealthServer
from tests.conftest import config_data, shop_entry
from tests.helpers import TAX_OK, TAX_UNMAPPED, consume, product_event, publish_events, to_toml
from tests.tcp_proxy import TcpProxy


def _event(key: int, version: int, tax: dict[str, Any] = TAX_OK) -> dict[str, Any]:
    return product_event(key, version, tax, sku_prefix="M")


def _publish(settings: cfg.Settings, events: list[dict[str, Any]]) -> None:
    publish_events(settings, events)


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _events_metric(port: int, target: str) -> dict[str, float]:
    """outcome -> shopbridge_events_total of product.upserted in tenant acme, ``target``."""
    _, body = _get(port, "/metrics")
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "shopbridge_events_total" and labels["tenant"] == "acme" \
                    and labels["target"] == target and labels["type"] == "product.upserted":
                found[labels["outcome"]] = sample.value
    return found


@dataclasses.dataclass
class Running:
    consumer: ShopConsumer
    http: HealthServer
    thread: threading.Thread


@pytest.fixture
def running() -> Iterator[Any]:
    started: list[tuple[Running, Any]] = []

    def start(settings: cfg.Settings) -> Running:
        shop = settings.tenants[0].shop("web")
        applier = make_applier(shop)
        consumer = ShopConsumer(broker=settings.broker, shop=shop, applier=applier)
        http = HealthServer(port=0, checks=consumer.health_checks(),
                            ready=consumer.ready_check(60)).start()
        thread = threading.Thread(target=consumer.run, daemon=True)
        thread.start()
        run = Running(consumer, http, thread)
        started.append((run, applier))
        return run

    yield start
    for run, applier in started:
        run.consumer.stop_event.set()
        run.thread.join(timeout=20)
        run.http.close()
        applier.close()


def _settings(namespace: str, cao_db: Any, shop_db: Any, tmp_path: Any) -> cfg.Settings:
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(config_data(namespace, cao_db, [shop_entry("web", shop_db)],
                                        batch_wait_ms=50)))
    return cfg.load(path)


def _until(condition: Any, seconds: float) -> float:
    """Seconds until ``condition()`` held; fails after ``seconds``."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, f"not within {seconds} s"
        time.sleep(0.1)
    return time.monotonic() - started


def test_metrics_count_what_the_consumer_did(cao_db, phoenix_db, namespace, tmp_path, running):
    settings = _settings(namespace, cao_db, phoenix_db, tmp_path)
    consume(settings, "web", idle_s=0.1)                      # declares the queues
    run = running(settings)
    before = _events_metric(run.http.port, "web")
    events = [_event(k, 1) for k in range(1, 9)] + [_event(9, 1, TAX_UNMAPPED)]
    _publish(settings, events)
    _until(lambda: run.consumer.stats.applied + run.consumer.stats.dead >= 9, 30)
    _publish(settings, [events[0], _event(2, 2)])    # a redelivery, a new version, same state
    _until(lambda: run.consumer.stats.applied + run.consumer.stats.skipped >= 10, 30)
    time.sleep(0.3)

    stats = run.consumer.stats
    after = _events_metric(run.http.port, "web")

    def delta(outcome: str) -> float:
        return after.get(outcome, 0) - before.get(outcome, 0)

    assert (stats.events, stats.applied, stats.skipped, stats.dead) == (11, 8, 2, 1)
    assert (delta("received"), delta("applied"), delta("skipped"), delta("dead_lettered")) \
        == (11, 8, 2, 1)
    _, body = _get(run.http.port, "/metrics")
    text = body.decode()
    for name in ("shopbridge_lag_seconds_bucket", "shopbridge_batch_events_bucket",
                 "shopbridge_batch_db_seconds_count", 'queue="dead"'):
        assert name in text


def test_healthz_turns_unhealthy_within_5_s_of_the_database_going_away_and_back(
        cao_db, phoenix_db, namespace, tmp_path, running):
    with TcpProxy(phoenix_db.url.port or 3306, phoenix_db.url.host or "127.0.0.1") as proxy:
        via = dataclasses.replace(phoenix_db, url=phoenix_db.url.set(host="127.0.0.1",
                                                                     port=proxy.port))
        settings = _settings(namespace, cao_db, via, tmp_path)
        run = running(settings)
        port = run.http.port
        _until(lambda: _get(port, "/healthz")[0] == 200, 10)
        assert _get(port, "/readyz")[0] == 200

        proxy.close()
        down = _until(lambda: _get(port, "/healthz")[0] == 503, 5)
        code, body = _get(port, "/healthz")
        checks = orjson.loads(body)["checks"]
        assert code == 503 and checks["broker"] == "ok"
        assert "shop 'web'" in checks["database"] and "2003" in checks["database"]
        proxy.reopen()
        up = _until(lambda: _get(port, "/healthz")[0] == 200, 5)
    print(f"healthz: unhealthy {down:.1f} s after the database went away, healthy {up:.1f} s "
          "after it came back")
    assert _get(port, "/nothing")[0] == 404


def test_the_following_producer_serves_health_and_its_published_events(
        cao_db, phoenix_db, namespace, tmp_path, start):
    import socket

    from shopbridge import sample
    from tests.conftest import fill_cao

    fill_cao(cao_db, sample.articles(3), [])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(config_data(namespace, cao_db, [shop_entry("web", phoenix_db)])))
    producer = start(path, "produce", "--follow", "--http-port", str(port), label="producer")

    def published() -> float:
        try:
            _, body = _get(port, "/metrics")
        except OSError:
            return 0
        return sum(s.value for f in text_string_to_metric_families(body.decode())
                   for s in f.samples if s.name == "shopbridge_published_events_total"
                   and s.labels["type"] == "product.upserted")

    _until(lambda: published() >= 3, 30)
    code, body = _get(port, "/healthz")
    assert code == 200, body
    assert set(orjson.loads(body)["checks"]) == {"broker", "CAO database of tenant 'acme'"}
    assert producer.stop() == 0                          # SIGTERM: finishes, exits 0
