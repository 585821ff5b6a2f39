"""Bad input ends in the shop's dead-letter queue with a readable reason; the valid events
around it are applied; ``dlq replay`` after fixing the configuration applies it."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from typing import Any

import pytest

from consumers import ShopConsumer, make_applier
from shopbridge import brokers, cli, dlq, sample, topology
from shopbridge import config as cfg
from shopbridge import events as ev
from shopbridge.publisher import OutMessage
from tests.conftest import config_data, fill_cao, shop_entry
from tests.helpers import consume, produce, storefront, to_toml

DE = 2
# R3, R4 on both broker kinds (B5).
pytestmark = pytest.mark.usefixtures("broker_kind")


def _publish_raw(settings: cfg.Settings, bodies: list[bytes]) -> None:
    """Publish with confirms, as every shopbridge publisher does: fire-and-forget publishes
    followed by closing the connection were seen to lose messages on the quorum queue."""
    with brokers.publishing(settings.broker) as publisher:
        publisher.publish(
            OutMessage(exchange=topology.exchange_name(settings.broker.namespace),
                       routing_key="acme.product.upserted", body=body) for body in bodies)


def test_invalid_and_unmappable_events_are_dead_lettered_and_replayed_after_the_fix(
        cao_db, phoenix_db, namespace, tmp_path, capsys):
    rows = sample.articles(5)
    rows[2]["STEUER_CODE"] = 3                     # tax code without a shop tax class
    fill_cao(cao_db, rows, [])
    data = config_data(namespace, cao_db, [shop_entry("web", phoenix_db)])
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(data))
    settings = cfg.load(path)
    shop = settings.tenants[0].shop("web")

    produce(settings)
    invalid = ev.make_event("product.upserted", tenant="acme", source="test", entity_key="900",
                            version=1, payload={"sku": "X-1"})
    _publish_raw(settings, [ev.encode([invalid]), b"this is not json"])
    stats = consume(settings, "web")

    assert set(storefront(phoenix_db, DE)) == {"A-000001", "A-000002", "A-000004", "A-000005"}
    assert stats.dead == 3
    letters = {(d.event_type, d.entity_key): d for d in dlq.list_dead(settings.broker, shop)}
    tax = letters[("product.upserted", "3")]
    assert tax.error_class == "MappingError"
    assert "payload.tax.code" in tax.error and "CAO tax code 3" in tax.error
    assert "payload" in letters[("product.upserted", "900")].error
    assert letters[("product.upserted", "900")].error_class == "InvalidEvent"
    assert any(d.error_class == "InvalidEvent" and "not JSON" in d.error
               for d in letters.values())

    assert cli.main(["-c", str(path), "dlq", "list", "--shop", "web"]) == cli.EXIT_OK
    assert "3 dead letter(s)" in capsys.readouterr().out

    data["tenants"][0]["shops"][0]["tax_classes"]["3"] = 1     # the operator adds the mapping
    path.write_text(to_toml(data))
    assert cli.main(["-c", str(path), "dlq", "replay", "--shop", "web",
                     "--type", "product.upserted", "--key", "3"]) == cli.EXIT_OK
    assert "replayed 1" in capsys.readouterr().out
    stats = consume(cfg.load(path), "web")

    assert stats.applied == 1 and stats.dead == 0
    assert "A-000003" in storefront(phoenix_db, DE)
    assert len(dlq.list_dead(settings.broker, shop)) == 2      # the invalid ones stay
    # Replaying twice applies nothing twice.
    assert phoenix_db.scalar("SELECT COUNT(*) FROM products WHERE products_model = 'A-000003'") == 1


def test_no_secret_reaches_dead_letters_or_logs(cao_db, phoenix_db, namespace, monkeypatch,
                                               caplog):
    """The shop is reached with a real user and a random password; neither the dead letters
    nor the log lines carry it."""
    password = secrets.token_urlsafe(18)
    user = f"sb_{secrets.token_hex(6)}"
    phoenix_db.execute("CREATE USER %s@%s IDENTIFIED BY %s", (user, "%", password))
    try:
        phoenix_db.execute(f"GRANT ALL ON `{phoenix_db.name}`.* TO %s@%s", (user, "%"))
        rows = sample.articles(2)
        rows[0]["STEUER_CODE"] = 3
        fill_cao(cao_db, rows, [])
        monkeypatch.setenv("SHOP_PW", password)
        url = phoenix_db.url.set(username=user).render_as_string(hide_password=False)
        entry = shop_entry("web", phoenix_db, url=url, password_env="SHOP_PW")
        settings = cfg.parse(config_data(namespace, cao_db, [entry]), source="test")
        produce(settings)
        caplog.set_level(logging.DEBUG)
        stats = consume(settings, "web")

        assert stats.applied == 1 and stats.dead == 1
        letters = dlq.list_dead(settings.broker, settings.tenants[0].shop("web"))
        assert len(letters) == 1
        for letter in letters:
            assert password not in repr(letter.headers) and password.encode() not in letter.body
        assert password not in caplog.text
    finally:
        phoenix_db.execute("DROP USER IF EXISTS %s@%s", (user, "%"))


@pytest.mark.parametrize("broker_kind", ["rabbitmq"], indirect=True)  # never reaches a broker
def test_a_wrong_password_is_a_clear_error_without_the_password(cao_db, phoenix_db, namespace,
                                                                monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("SHOP_PW", "wrong-" + secrets.token_hex(8))
    entry = shop_entry("web", phoenix_db, password_env="SHOP_PW")
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(config_data(namespace, cao_db, [entry])))

    code = cli.main(["-c", str(path), "consume", "--shop", "web", "--until-idle", "0.5"])

    err = capsys.readouterr().err
    assert code == cli.EXIT_DATABASE
    assert "Access denied" in err and "wrong-" not in err


def test_messages_delivered_while_dead_letters_are_settled_are_not_lost(
        cao_db, phoenix_db, namespace):
    """Settling publishes on the consumer's connection and waits for confirms; deliveries that
    arrive meanwhile belong to the next batch and must all be applied."""
    from tests.unit.test_events import product_payload

    settings = cfg.parse(config_data(namespace, cao_db, [shop_entry("web", phoenix_db)],
                                     batch_size=1), source="test")
    bodies = []
    for i in range(1, 41):
        good = ev.make_event("product.upserted", tenant="acme", source="test",
                             entity_key=str(i), version=1,
                             payload=product_payload(sku=f"S-{i}", erp_id=i))
        bad = ev.make_event("product.upserted", tenant="acme", source="test",
                            entity_key=str(1000 + i), version=1,   # fails when applied
                            payload=product_payload(sku=f"T-{i}", erp_id=1000 + i,
                                                    tax={"code": 3, "rate": "0"}))
        bodies += [ev.encode([bad]), ev.encode([good])]
    consume(settings, "web", idle_s=0.1)               # declares the queues
    _publish_raw(settings, bodies)

    stats = consume(settings, "web", idle_s=1.0)
    assert stats.dead == 40
    assert phoenix_db.scalar("SELECT COUNT(*) FROM products") == 40


def test_replay_takes_the_letters_present_at_its_start_once_while_a_consumer_fails_them_again(
        cao_db, phoenix_db, namespace, tmp_path, capsys):
    """Given N dead letters that fail again (an unmapped tax code) and a consumer running,
    when ``dlq replay`` runs, then it reports N, and afterwards the dead-letter queue holds each
    of them once: the ones that came back during the run were not replayed a second time."""
    from tests.unit.test_events import product_payload

    n = 30
    data = config_data(namespace, cao_db, [shop_entry("web", phoenix_db)], batch_size=1,
                       batch_wait_ms=1)
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(data))
    settings = cfg.load(path)
    shop = settings.tenants[0].shop("web")
    consume(settings, "web", idle_s=0.1)               # declares the queues
    _publish_raw(settings, [ev.encode([ev.make_event(
        "product.upserted", tenant="acme", source="test", entity_key=str(i), version=1,
        payload=product_payload(sku=f"T-{i}", erp_id=i, tax={"code": 3, "rate": "0"}))])
        for i in range(1, n + 1)])
    assert consume(settings, "web", idle_s=0.3).dead == n

    applier = make_applier(shop)
    running = ShopConsumer(broker=settings.broker, shop=shop, applier=applier)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    try:
        assert cli.main(["-c", str(path), "dlq", "replay", "--shop", "web"]) == cli.EXIT_OK
        out = capsys.readouterr().out
        deadline = time.monotonic() + 20
        while running.stats.dead < n and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        running.stop_event.set()
        thread.join(timeout=20)
        applier.close()

    assert f"replayed {n} dead letter(s)" in out
    assert (running.stats.events, running.stats.dead) == (n, n)
    keys = sorted(int(d.entity_key) for d in dlq.list_dead(settings.broker, shop))
    assert keys == list(range(1, n + 1))


def test_a_poison_event_in_a_large_batch_costs_a_few_applies_not_one_per_event(
        cao_db, phoenix_db, namespace):
    """Given a batch of 64 products of which one has an unmapped tax code, when it is
    consumed, then that one alone is dead-lettered, the 63 others are in the shop, and the
    shop's applier was called about 2 x log2(64) times (the halves), not 64 times."""
    from tests.unit.test_events import product_payload

    settings = cfg.parse(config_data(namespace, cao_db, [shop_entry("web", phoenix_db)]),
                         source="test")
    shop = settings.tenants[0].shop("web")
    consume(settings, "web", idle_s=0.1)               # declares the queues
    _publish_raw(settings, [ev.encode([ev.make_event(
        "product.upserted", tenant="acme", source="test", entity_key=str(i), version=1,
        payload=product_payload(sku=f"H-{i}", erp_id=i,
                                **({"tax": {"code": 3, "rate": "0"}} if i == 40 else {})))
        for i in range(1, 65)])])

    applier = make_applier(shop)
    calls: list[int] = []
    real = applier.apply

    def counted(events: Any) -> Any:
        calls.append(len(events))
        return real(events)

    applier.apply = counted  # type: ignore[method-assign]
    try:
        stats = ShopConsumer(broker=settings.broker, shop=shop, applier=applier).run(
            idle_exit_s=0.6)
    finally:
        applier.close()

    assert (stats.events, stats.applied, stats.dead, stats.fallbacks) == (64, 63, 1, 1)
    assert calls[0] == 64 and len(calls) <= 1 + 2 * 7
    assert phoenix_db.scalar("SELECT COUNT(*) FROM products") == 63
    assert [d.entity_key for d in dlq.list_dead(settings.broker, shop)] == ["40"]
