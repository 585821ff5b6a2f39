"""B4: ``shopbridge history`` shows every event that touched an entity, what became of it,
and the link row; the history is bounded by age, and ``history_days = 0`` keeps none."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection

from consumers import make_applier
from consumers.history import HISTORY_TABLE
from shopbridge import cli, sample, topology
from shopbridge import config as cfg
from shopbridge import events as ev
from shopbridge.db import utc_now
from shopbridge.errors import ConfigError
from shopbridge.history import HistoryEntry
from shopbridge.publisher import OutMessage, Publisher
from tests.conftest import AMQP_URL, config_data, fill_cao, shop_entry
from tests.helpers import consume, produce, to_toml
from tests.unit.test_events import product_payload


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(data))
    return path


def _publish(settings: cfg.Settings, *batches: list[dict[str, Any]]) -> None:
    """Each list in one message: its events reach the consumer in one batch."""
    with Connection(AMQP_URL) as conn:
        Publisher(conn).publish(
            OutMessage(exchange=topology.exchange_name(settings.broker.namespace),
                       routing_key="acme.product.upserted", body=ev.encode(events))
            for events in batches)


def _update(key: str, version: int, name: str) -> dict[str, Any]:
    payload = product_payload(sku=f"A-{int(key):06d}", erp_id=int(key))
    payload["texts"]["de"]["name"] = name
    return ev.make_event("product.upserted", tenant="acme", source="test", entity_key=key,
                         version=version, payload=payload)


def _history(path: Path, capsys: Any, *args: str) -> tuple[int, list[str]]:
    capsys.readouterr()
    code = cli.main(["-c", str(path), "history", "--shop", "web", *args])
    return code, capsys.readouterr().out.splitlines()


def test_history_shows_applied_coalesced_stale_dead_and_replayed_events_with_the_link(
        cao_db, phoenix_db, namespace, tmp_path, capsys):
    rows = sample.articles(3)
    rows[2]["STEUER_CODE"] = 3                     # tax code without a shop tax class
    fill_cao(cao_db, rows, [])
    data = config_data(namespace, cao_db, [shop_entry("web", phoenix_db)])
    path = _write(tmp_path, data)
    settings = cfg.load(path)

    produce(settings)
    assert consume(settings, "web").dead == 1
    first = phoenix_db.scalar("SELECT version FROM shopbridge_link "
                              "WHERE entity_type = 'product' AND entity_key = '1'")
    # Updated twice in one batch: the older is coalesced away, the newer applied.
    older, newer = _update("1", first + 1, "Säge"), _update("1", first + 2, "Säge 2")
    _publish(settings, [older, newer])
    assert consume(settings, "web").applied == 1
    # Then a redelivery of the older one: stale.
    _publish(settings, [older])
    assert consume(settings, "web").skipped == 1

    code, lines = _history(path, capsys, "--sku", "A-000001")
    assert code == cli.EXIT_OK
    outcomes = [(line.split()[2], line.split()[4], line.split()[6].rstrip(":"))
                for line in lines if not line.startswith("link ")]
    assert outcomes == [("product.upserted", f"v{first}", "applied"),
                        ("product.upserted", f"v{first + 1}", "coalesced"),
                        ("product.upserted", f"v{first + 2}", "applied"),
                        ("product.upserted", f"v{first + 1}", "skipped")]
    assert f"replaced by v{first + 2} in the same batch" in lines[1]
    assert f"skipped: already applied (v{first + 1} <= v{first + 2})" in lines[3]
    assert older["event_id"] in lines[1] and older["event_id"] in lines[3]
    target = phoenix_db.scalar("SELECT products_id FROM products WHERE products_model = "
                               "'A-000001'")
    assert lines[-1].startswith(f"link product 1: shop id {target}, version {first + 2},")
    assert newer["event_id"] in lines[-1]
    assert _history(path, capsys, "--key", "1")[1] == lines     # the same entity by key

    # The unmapped tax code: dead-lettered with the error; applied after the fix and replay.
    data["tenants"][0]["shops"][0]["tax_classes"]["3"] = 1
    _write(tmp_path, data)
    assert cli.main(["-c", str(path), "dlq", "replay", "--shop", "web"]) == cli.EXIT_OK
    consume(cfg.load(path), "web")
    code, lines = _history(path, capsys, "--sku", "A-000003")
    assert code == cli.EXIT_OK
    assert " dead_lettered: MappingError: " in lines[0] and "CAO tax code 3" in lines[0]
    assert lines[1].split()[6] == "applied"
    assert lines[0].split()[5] == lines[1].split()[5]       # the same event, replayed
    assert lines[2].startswith("link product 3: shop id ")
    assert len(lines) == 3


def test_history_of_an_unknown_entity_and_of_an_order(cao_db, phoenix_db, namespace, tmp_path,
                                                     capsys):
    path = _write(tmp_path, config_data(namespace, cao_db, [shop_entry("web", phoenix_db)]))
    shop = cfg.load(path).tenants[0].shop("web")
    applier = make_applier(shop)
    try:
        applier.prepare()
        applier.record_history([HistoryEntry(
            entity_type="order_status", entity_key="web:5", event_id="e" * 36,
            event_type="order.status_changed", version=7, arrived_at=utc_now(),
            outcome="applied")])
    finally:
        applier.close()

    code, lines = _history(path, capsys, "--order", "5")
    assert code == cli.EXIT_OK
    assert "order.status_changed web:5 v7" in lines[0] and lines[0].endswith("applied")
    assert lines[1] == "acme/web order 5: no link row (never applied to the shop)"
    code, lines = _history(path, capsys, "--sku", "NOPE")
    assert code == cli.EXIT_OK and len(lines) == 1 and "no events" in lines[0]


def test_retention_prunes_old_history_and_zero_days_keeps_none(
        cao_db, phoenix_db, namespace, tmp_path):
    fill_cao(cao_db, sample.articles(2), [])
    data = config_data(namespace, cao_db, [shop_entry("web", phoenix_db, history_days=3)])
    settings = cfg.parse(data, source="test")
    shop = settings.tenants[0].shop("web")
    applier = make_applier(shop)
    try:
        applier.prepare()
        now = utc_now()
        applier.record_history([HistoryEntry(
            entity_type="product", entity_key=str(n), event_id=f"{n:036d}",
            event_type="product.upserted", version=1, arrived_at=now - timedelta(days=n),
            outcome="applied") for n in range(6)])
        applier.idle()          # the first idle hook prunes; later ones at most every 10 min
    finally:
        applier.close()
    assert sorted(r[0] for r in phoenix_db.rows(f"SELECT entity_key FROM {HISTORY_TABLE}")) \
        == ["0", "1", "2"]

    phoenix_db.execute(f"DELETE FROM {HISTORY_TABLE}")
    data["tenants"][0]["shops"][0]["history_days"] = 0
    settings = cfg.parse(data, source="test")
    produce(settings)
    assert consume(settings, "web").applied == 2
    assert phoenix_db.scalar(f"SELECT COUNT(*) FROM {HISTORY_TABLE}") == 0


def test_history_days_must_be_a_whole_number(cao_db, phoenix_db, namespace):
    data = config_data(namespace, cao_db, [shop_entry("web", phoenix_db, history_days=-1)])
    with pytest.raises(ConfigError) as err:
        cfg.parse(data, source="test")
    assert any("history_days" in p for p in err.value.problems)


def test_a_shop_database_away_is_one_line_and_exit_4(cao_db, namespace, tmp_path, capsys):
    entry = shop_entry("web", cao_db, url="mysql+pymysql://root@127.0.0.1:1/nowhere")
    path = _write(tmp_path, config_data(namespace, cao_db, [entry]))
    code = cli.main(["-c", str(path), "history", "--shop", "web", "--sku", "A-1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == cli.EXIT_DATABASE
    assert len(err) == 1 and err[0].startswith("database unavailable: ")


def test_virtuemart_keeps_the_same_history(cao_db, vm, namespace, tmp_path, capsys):
    """The history is the shop-neutral core's: a VirtueMart shop keeps it the same way."""
    from tests.virtuemart_db import shop_entry as vm_entry

    fill_cao(cao_db, sample.articles(2), [])
    path = _write(tmp_path, config_data(namespace, cao_db, [vm_entry("web", vm)]))
    settings = cfg.load(path)
    produce(settings)
    assert consume(settings, "web").applied == 2

    code, lines = _history(path, capsys, "--sku", "A-000002")
    assert code == cli.EXIT_OK
    assert lines[0].split()[2:4] == ["product.upserted", "2"] and lines[0].endswith("applied")
    assert lines[1].startswith("link product 2: shop id ")
