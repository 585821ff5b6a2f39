"""B2: ``consume --dry-run`` and ``sync --dry-run`` show what would change in the shop, row
by row, and write nothing: every table's CHECKSUM is the same before and after, the queue
still holds its messages (delivery counts unchanged), and the diff equals what the real run
then changes. For both shop kinds, on the real MariaDB and RabbitMQ.

Two things differ between a dry run and the real run by nature, and the comparison takes them
out: the time (rows the real run writes carry its own timestamps) and AUTO_INCREMENT (a
rolled-back insert still used up its id in InnoDB; the test resets the counters with ALTER
TABLE, which the services may not do, so that the real run numbers its rows as the dry run
showed them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection

from shopbridge import cli, sample, topology
from shopbridge import config as cfg
from shopbridge import events as ev
from shopbridge.rowdiff import base_tables, compare
from tests import virtuemart_db
from tests.conftest import AMQP_URL, Database, config_data, fill_cao, shop_entry
from tests.helpers import consume, full_sync, produce, product_event, publish_events, to_toml
from tests.integration.test_order_status import smtp as smtp

ARTICLES = 12
ISO = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture(params=["oscommerce", "virtuemart"])
def shop(request: Any, phoenix_factory: Any) -> Iterator[Database]:
    if request.param == "oscommerce":
        yield phoenix_factory()
    else:
        yield from virtuemart_db.virtuemart_for_a_test()


def _entry(db: Database) -> dict[str, Any]:
    if db.name.startswith("sbtest_phoenix"):
        return shop_entry("web", db)
    return virtuemart_db.shop_entry("web", db)


def _settings(tmp_path: Path, namespace: str, cao: Database, db: Database) -> Path:
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(config_data(namespace, cao, [_entry(db)])))
    return path


def _run(path: Path, capsys: Any, *args: str) -> tuple[int, list[str]]:
    capsys.readouterr()
    code = cli.main(["-c", str(path), *args])
    return code, capsys.readouterr().out.splitlines()


def _checksums(db: Database) -> dict[str, Any]:
    with db.engine.connect() as conn:
        tables = list(base_tables(conn))
        return {str(r[0]): r[1] for r in conn.exec_driver_sql(
            "CHECKSUM TABLE " + ", ".join(f"`{t}`" for t in tables))}


def _snapshot(db: Database) -> Any:
    """A connection holding the shop's state now (a consistent snapshot)."""
    conn = db.engine.connect().execution_options(isolation_level="REPEATABLE READ")
    conn.exec_driver_sql("START TRANSACTION WITH CONSISTENT SNAPSHOT")
    return conn


def _real_changes(db: Database, before: Any) -> list[dict[str, Any]]:
    with db.engine.connect() as now:
        tables = [t for t in base_tables(now) if t != "shopbridge_history"]
        changes = [c.as_dict() for c in compare(before, now, tables)]
    before.rollback()
    before.close()
    return changes


def _reset_auto_increments(db: Database) -> None:
    """What the dry run's rolled-back inserts used up: the next real insert takes MAX + 1."""
    with db.engine.connect() as conn:
        tables = [str(r[0]) for r in conn.exec_driver_sql(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
            "AND AUTO_INCREMENT IS NOT NULL")]
        for table in tables:
            conn.exec_driver_sql(f"ALTER TABLE `{table}` AUTO_INCREMENT = 1")


def _timeless(changes: list[dict[str, Any]], since: datetime, *, ids: bool = True
              ) -> list[str]:
    """The changes as sorted JSON lines, with every time from ``since`` on as "<now>";
    without ``ids``, event ids as "<event id>" (a sync builds its events anew each time)."""
    def value(v: Any) -> Any:
        if not ids and isinstance(v, str) and UUID.match(v):
            return "<event id>"
        if isinstance(v, str) and ISO.match(v):
            try:
                if datetime.fromisoformat(v[:19]) >= since:
                    return "<now>"
            except ValueError:
                return v
        if isinstance(v, list):
            return [value(x) for x in v]
        if isinstance(v, dict):
            return {k: value(x) for k, x in v.items()}
        return v
    return sorted(json.dumps(value(c), sort_keys=True, ensure_ascii=False) for c in changes)


def _depth(settings: cfg.Settings) -> int:
    shop = settings.tenants[0].shops[0]
    queue = topology.work_queue(settings.broker.namespace, "acme", shop.name)
    with Connection(AMQP_URL) as conn:
        return int(conn.default_channel.queue_declare(queue=queue, passive=True).message_count)


def _prepare(cao_db: Database, db: Database, namespace: str, tmp_path: Path
             ) -> tuple[Path, cfg.Settings]:
    """A shop synced with ARTICLES articles, then CAO changed: new names and prices, two new
    articles, one taken out of the shop; a producer cycle puts the changes in the queue."""
    rows = sample.articles(ARTICLES)
    fill_cao(cao_db, rows, sample.translations(rows))
    path = _settings(tmp_path, namespace, cao_db, db)
    settings = cfg.load(path)
    produce(settings)
    assert consume(settings, "web").dead == 0
    cao_db.execute("UPDATE artikel SET KURZNAME = CONCAT(KURZNAME, ' neu'), VK1 = VK1 + 1 "
                   "WHERE REC_ID IN (1, 2, 3)")
    cao_db.execute("UPDATE artikel SET SHOP_VISIBLE = 0 WHERE REC_ID = 4")
    more = sample.articles(2, start=ARTICLES + 1)
    fill_cao(cao_db, more, sample.translations(more))
    report = produce(settings)
    assert report.events >= 6, report.published
    return path, settings


def test_consume_dry_run_writes_nothing_keeps_the_queue_and_shows_what_the_real_run_does(
        cao_db, shop, namespace, tmp_path, capsys):
    path, settings = _prepare(cao_db, shop, namespace, tmp_path)
    depth = _depth(settings)
    checksums = _checksums(shop)
    before = _snapshot(shop)
    since = datetime.now() - timedelta(seconds=2)

    code, out = _run(path, capsys, "consume", "--shop", "web", "--dry-run", "--format", "json")

    assert code == cli.EXIT_OK, out
    dry = json.loads(out[-1])
    assert dry["written"] is False and dry["failed"] == []
    assert _checksums(shop) == checksums
    assert _depth(settings) == depth
    counts = dry["counts"]
    assert counts["insert"] > 0 and counts["update"] > 0, counts
    shown = {c["table"] for c in dry["changes"]}
    assert "shopbridge_link" in shown

    # The text form says the same in lines, and ends with one summary line.
    code, text = _run(path, capsys, "consume", "--shop", "web", "--dry-run")
    assert code == cli.EXIT_OK
    assert text[-1].startswith("dry run of acme/web: ") and "nothing written" in text[-1]
    assert any(line.startswith("UPDATE ") and "->" in " ".join(text) for line in text)
    assert _checksums(shop) == checksums

    _reset_auto_increments(shop)
    stats = consume(settings, "web")
    assert stats.events == dry["events"] and stats.dead == 0
    assert _depth(settings) == 0
    real = _real_changes(shop, before)
    assert _timeless(dry["changes"], since) == _timeless(real, since)


def test_dry_run_gives_the_messages_back_unchanged_with_their_delivery_counts(
        cao_db, phoenix_db, namespace, tmp_path, capsys):
    fill_cao(cao_db, [], [])
    path = _settings(tmp_path, namespace, cao_db, phoenix_db)
    settings = cfg.load(path)
    events = [product_event(k, 1) for k in (1, 2, 3)]
    _run(path, capsys, "consume", "--shop", "web", "--until-idle", "0.1")   # declares queues
    publish_events(settings, events)

    for _ in range(3):
        code, out = _run(path, capsys, "consume", "--shop", "web", "--dry-run")
        assert code == cli.EXIT_OK, out
        assert "3 event(s) in 3 message(s)" in out[-1]

    queue = topology.work_queue(settings.broker.namespace, "acme", "web")
    with Connection(AMQP_URL) as conn:
        channel = conn.channel()
        got = []
        while (message := channel.basic_get(queue, no_ack=True)) is not None:
            got.append(message)
    assert [ev.decode(bytes(m.body))[0]["event_id"] for m in got] == \
        [e["event_id"] for e in events]
    assert [m.headers.get("x-delivery-count") for m in got] == [0, 0, 0]


def test_dry_run_refuses_a_shop_with_myisam_tables(cao_db, phoenix_db, namespace, tmp_path,
                                                    capsys):
    fill_cao(cao_db, [], [])
    path = _settings(tmp_path, namespace, cao_db, phoenix_db)
    settings = cfg.load(path)
    _run(path, capsys, "consume", "--shop", "web", "--until-idle", "0.1")
    publish_events(settings, [product_event(1, 1)])
    phoenix_db.execute("ALTER TABLE products_description ENGINE=MyISAM")
    checksums = _checksums(phoenix_db)

    capsys.readouterr()
    code = cli.main(["-c", str(path), "consume", "--shop", "web", "--dry-run"])
    err = capsys.readouterr().err.strip().splitlines()

    assert code == cli.EXIT_REFUSED
    assert len(err) == 1 and "products_description (MyISAM)" in err[0], err
    assert _checksums(phoenix_db) == checksums
    assert _depth(settings) == 1


def test_sync_dry_run_shows_what_the_sync_repairs_and_writes_nothing(
        cao_db, shop, namespace, tmp_path, capsys):
    rows = sample.articles(ARTICLES)
    fill_cao(cao_db, rows, sample.translations(rows))
    path = _settings(tmp_path, namespace, cao_db, shop)
    settings = cfg.load(path)
    produce(settings)
    assert consume(settings, "web").dead == 0
    # Edited by hand in the shop: the sync writes the ERP's data back.
    if shop.name.startswith("sbtest_phoenix"):
        shop.execute("UPDATE products SET products_price = 1 WHERE products_model = %s",
                     ("A-000001",))
    else:
        vm = virtuemart_db.PREFIX + "virtuemart_"
        shop.execute(f"UPDATE {vm}products_de_de SET product_name = 'von Hand' "
                     f"WHERE virtuemart_product_id = 1")
    checksums = _checksums(shop)
    before = _snapshot(shop)
    since = datetime.now() - timedelta(seconds=2)

    code, out = _run(path, capsys, "sync", "--shop", "web", "--dry-run", "--format", "json")

    assert code == cli.EXIT_OK, out
    dry = json.loads(out[-1])
    assert _checksums(shop) == checksums
    assert _depth(settings) == 0
    assert dry["events"] >= ARTICLES and dry["counts"]["update"] >= 1, dry["counts"]
    assert any(c["action"] == "update" and c["table"].endswith(("products", "products_de_de"))
               and {"products_price", "product_name"} & set(c["changes"])
               for c in dry["changes"]), dry["changes"]

    _reset_auto_increments(shop)
    full_sync(settings, "web")
    real = _real_changes(shop, before)
    assert _timeless(dry["changes"], since, ids=False) == _timeless(real, since, ids=False)


def test_dry_run_clears_no_virtuemart_cache_and_says_it_would(cao_db, vm, namespace, tmp_path,
                                                               capsys):
    cache = tmp_path / "cache"
    (cache / "com_virtuemart_cats").mkdir(parents=True)
    (cache / "com_virtuemart_cats" / "tree.php").write_text("cached")
    rows = sample.articles(3)
    fill_cao(cao_db, rows, sample.translations(rows))
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(config_data(namespace, cao_db, [virtuemart_db.shop_entry(
        "web", vm, virtuemart={"prefix": virtuemart_db.PREFIX, "cache_path": str(cache)})])))
    produce(cfg.load(path))
    # A shop never consumed lacks shopbridge's own tables: a dry run creates nothing.
    capsys.readouterr()
    assert cli.main(["-c", str(path), "consume", "--shop", "web", "--dry-run"]) == \
        cli.EXIT_REFUSED
    assert "run 'shopbridge setup' first" in capsys.readouterr().err
    assert cli.main(["-c", str(path), "setup", "--shop", "web"]) == cli.EXIT_OK

    code, out = _run(path, capsys, "consume", "--shop", "web", "--dry-run", "--format", "json")

    assert code == cli.EXIT_OK, out
    dry = json.loads(out[-1])
    assert any(line.startswith("run CacheCleaner.after_commit (") for line in dry["outside"])
    assert (cache / "com_virtuemart_cats" / "tree.php").read_text() == "cached"
    consume(cfg.load(path), "web")                  # the real run clears it
    assert not (cache / "com_virtuemart_cats").exists()


def test_a_shop_kind_without_dry_run_says_so(monkeypatch):
    from shopbridge import kinds
    from shopbridge.errors import DryRunRefused

    class Point:
        def __init__(self, name: str, obj: object) -> None:
            self.name, self._obj = name, obj

        def load(self) -> object:
            return self._obj

    monkeypatch.setattr(kinds, "registry", kinds.Registry(
        lambda group: [Point("gambio", object())] if group == kinds.SHOP_SINKS else []))
    with pytest.raises(DryRunRefused, match="shop kind 'gambio' has no dry run yet"):
        kinds.shop_dry_run("gambio")


def test_dry_run_of_a_status_change_sends_no_mail_and_shows_the_queued_one(
        erp, phoenix_db, namespace, smtp):
    from shopbridge import kinds
    from tests.integration.test_order_status import import_orders, setup, ship_in_cao

    inbox, port, _ = smtp
    settings, orders_id = setup(erp, phoenix_db, namespace, port)
    import_orders(settings, erp)
    produce(settings)
    consume(settings, "web")
    ship_in_cao(erp, "Ihre Ware ist unterwegs.")
    produce(settings)
    shop = settings.tenants[0].shops[0]
    checksums = _checksums(phoenix_db)

    report = kinds.shop_dry_run("oscommerce").dry_run(broker=settings.broker, shop=shop)

    assert inbox.messages == [] and _checksums(phoenix_db) == checksums
    assert any(line.startswith("run the time-driven work now") for line in report.outside)
    outbox = [c for c in report.changes if c.table == "shopbridge_mail_outbox"]
    assert [(c.action, (c.after or {}).get("recipient")) for c in outbox] == \
        [("insert", "erika@example.de")]
    assert any(c.table == "orders" and c.action == "update" and "orders_status" in c.columns
               and c.key == {"orders_id": orders_id} for c in report.changes)
    consume(settings, "web")
    assert len(inbox.messages) == 1


def test_dry_run_refuses_the_erp_side_and_an_inactive_shop(cao_db, phoenix_db, namespace,
                                                           tmp_path, capsys):
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(config_data(namespace, cao_db, [
        shop_entry("web", phoenix_db), shop_entry("old", phoenix_db, active=False)])))
    for args in (["--erp"], ["--shop", "old"]):
        capsys.readouterr()
        code = cli.main(["-c", str(path), "consume", *args, "--dry-run"])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == cli.EXIT_REFUSED and len(err) == 1 and err[0].startswith("refused: ")


def test_a_failing_event_is_shown_and_the_rest_of_its_batch_still_counts(
        cao_db, phoenix_db, namespace, tmp_path, capsys):
    from tests.helpers import TAX_UNMAPPED

    fill_cao(cao_db, [], [])
    path = _settings(tmp_path, namespace, cao_db, phoenix_db)
    settings = cfg.load(path)
    _run(path, capsys, "consume", "--shop", "web", "--until-idle", "0.1")
    # One message: one batch, which fails as a whole and is applied one event at a time.
    queue_events = [product_event(1, 1), product_event(2, 1, tax=TAX_UNMAPPED),
                    product_event(3, 1)]
    with Connection(AMQP_URL) as conn:
        from shopbridge.publisher import OutMessage, Publisher
        Publisher(conn).publish([OutMessage(
            exchange=topology.exchange_name(settings.broker.namespace),
            routing_key="acme.product.upserted", body=ev.encode(queue_events))])
    checksums = _checksums(phoenix_db)
    before = _snapshot(phoenix_db)
    since = datetime.now() - timedelta(seconds=2)

    code, out = _run(path, capsys, "consume", "--shop", "web", "--dry-run", "--format", "json")

    assert code == cli.EXIT_PROBLEMS
    dry = json.loads(out[-1])
    assert len(dry["failed"]) == 1 and "payload.tax.code" in dry["failed"][0], dry["failed"]
    assert dry["applied"] == 2
    assert sorted(c["row"]["products_model"] for c in dry["changes"]
                  if c["table"] == "products") == ["T-1", "T-3"]
    assert _checksums(phoenix_db) == checksums
    _reset_auto_increments(phoenix_db)
    assert consume(settings, "web").dead == 1
    assert _timeless(dry["changes"], since) == _timeless(_real_changes(phoenix_db, before), since)


def test_dry_run_is_refused_while_a_consumer_of_the_queue_is_running(cao_db, phoenix_db, namespace,
                                                               tmp_path, capsys):
    fill_cao(cao_db, [], [])
    path = _settings(tmp_path, namespace, cao_db, phoenix_db)
    settings = cfg.load(path)
    _run(path, capsys, "consume", "--shop", "web", "--until-idle", "0.1")
    queue = topology.work_queue(settings.broker.namespace, "acme", "web")
    with Connection(AMQP_URL) as conn:
        channel = conn.channel()
        channel.basic_consume(queue, callback=lambda message: None)

        capsys.readouterr()
        code = cli.main(["-c", str(path), "consume", "--shop", "web", "--dry-run"])
        err = capsys.readouterr().err.strip().splitlines()

    assert code == cli.EXIT_REFUSED
    assert len(err) == 1 and "1 consumer(s) of queue" in err[0], err
    assert "stop the shop's consumer" in err[0]


def test_consume_dry_run_says_it_does_not_run_on_the_embedded_broker_yet():
    from shopbridge import config as cfg
    from shopbridge import kinds
    from shopbridge.errors import DryRunRefused

    settings = cfg.parse({
        "broker": {"kind": "embedded", "url": "mysql://sb@127.0.0.1/sb_none"},
        "tenants": [{"name": "acme", "erp": {"url": "mysql://cao@127.0.0.1/cao"},
                     "shops": [{"name": "web", "url": "mysql://shop@127.0.0.1/shop"}]}]})
    shop = settings.tenants[0].shops[0]
    with pytest.raises(DryRunRefused, match=r'not run on kind = "embedded" yet'):
        kinds.shop_dry_run(shop.kind).dry_run(broker=settings.broker, shop=shop)


def test_a_new_product_in_two_batches_is_rewritten_by_the_second_as_any_other(
        cao_db, phoenix_db, namespace, tmp_path, capsys):
    """Given a new product with a special whose second version comes in the next batch
    (batch_size 1), when the queue is dry-run, then both versions apply: the dry run's
    batches are savepoints of one transaction, and the second does not take the first's
    product for one this batch inserted (``consumers.fresh``), which would insert its
    special window a second time."""
    from tests.unit.test_events import product_payload

    fill_cao(cao_db, [], [])
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(config_data(namespace, cao_db, [_entry(phoenix_db)],
                                        batch_size=1)))
    settings = cfg.load(path)
    _run(path, capsys, "consume", "--shop", "web", "--until-idle", "0.1")   # the queues
    special = [{"net": "5.0000", "from": None, "until": None}]
    publish_events(settings, [ev.make_event(
        "product.upserted", tenant="acme", source="test", entity_key="1", version=version,
        payload=product_payload(sku="T-1", erp_id=1, specials=special,
                                weight=f"0.{version}00")) for version in (1, 2)])

    code, out = _run(path, capsys, "consume", "--shop", "web", "--dry-run", "--format", "json")

    dry = json.loads(out[-1])
    assert (code, dry["failed"], dry["applied"]) == (cli.EXIT_OK, [], 2), dry
