"""Running the real pipeline pieces in-process for tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from consumers import ConsumerStats, ShopConsumer, make_applier
from producers.cao import CaoProducer, CycleReport
from shopbridge import config as cfg
from shopbridge.tomlvalue import toml_value


def produce(settings: cfg.Settings) -> CycleReport:
    producer = CaoProducer(broker=settings.broker, tenant=settings.tenants[0])
    try:
        producer.prepare()
        return producer.run_once()
    finally:
        producer.close()


def consume(settings: cfg.Settings, shop: str, idle_s: float = 0.6) -> ConsumerStats:
    config = settings.tenants[0].shop(shop)
    applier = make_applier(config)
    try:
        return ShopConsumer(broker=settings.broker, shop=config, applier=applier).run(
            idle_exit_s=idle_s)
    finally:
        applier.close()


def sync(settings: cfg.Settings) -> tuple[CycleReport, dict[str, ConsumerStats]]:
    report = produce(settings)
    return report, {s.name: consume(settings, s.name) for s in settings.tenants[0].shops}


def full_sync(settings: cfg.Settings, shop: str,
              entities: tuple[str, ...] = ("product", "category", "manufacturer", "customer")
              ) -> tuple[Any, ConsumerStats]:
    """``shopbridge sync --shop`` in-process, then the shop's consumer."""
    producer = CaoProducer(broker=settings.broker, tenant=settings.tenants[0])
    try:
        producer.prepare()
        report = producer.resync(settings.tenants[0].shop(shop), entities,
                                 lambda scan, done, total: None)
    finally:
        producer.close()
    return report, consume(settings, shop)


def wait_until_blocked(worker: threading.Thread, blocked: Callable[[], bool], why: object,
                       *, timeout: float = 30, poll: float = 0.02) -> None:
    """Poll until ``blocked()`` says the ``worker`` waits where the test holds a lock; fail
    (with ``why``) when the worker ended instead or ``timeout`` passed."""
    deadline = time.monotonic() + timeout
    while not blocked():
        assert worker.is_alive() and time.monotonic() < deadline, why
        time.sleep(poll)


def storefront(db: Any, language_id: int) -> dict[str, tuple[Any, ...]]:
    """What the storefront shows (NOTES 3: status 1 and a description row for the language),
    keyed by model: (name, price, quantity)."""
    rows = db.rows(
        "SELECT p.products_model, pd.products_name, p.products_price, p.products_quantity "
        "FROM products p JOIN products_description pd ON pd.products_id = p.products_id "
        "WHERE p.products_status = 1 AND pd.language_id = %s", (language_id,))
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def table_fact_mismatches(metadata: sa.MetaData, *, ours: Any, upstream: Any) -> list[str]:
    """How a kind's table facts (``metadata``, created in ``ours``) differ from the upstream
    DDL loaded in ``upstream``: a column not upstream or not alike (type, nullability,
    default, auto-increment, primary-key membership), an index not upstream."""
    mismatches = []
    for table in metadata.sorted_tables:
        theirs = _columns(upstream, table.name)
        assert theirs, f"upstream has no table {table.name}"
        for name, ours_type in _columns(ours, table.name).items():
            if name not in theirs:
                mismatches.append(f"{table.name}.{name}: not upstream")
            elif theirs[name] != ours_type:
                mismatches.append(f"{table.name}.{name}: ours {ours_type}, "
                                  f"upstream {theirs[name]}")
        for columns, unique in _indexes(ours, table.name) - _indexes(upstream, table.name):
            mismatches.append(f"{table.name}: {'unique ' if unique else ''}index on "
                              f"({columns}) not upstream")
    return mismatches


def _columns(db: Any, table: str) -> dict[str, tuple[str, ...]]:
    rows = db.rows("SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, IFNULL(COLUMN_DEFAULT, 'NULL'), "
                   "EXTRA, COLUMN_KEY = 'PRI' FROM information_schema.COLUMNS "
                   "WHERE TABLE_SCHEMA = %s AND LOWER(TABLE_NAME) = LOWER(%s)", (db.name, table))
    return {name.upper(): (ctype, nullable, f"default {default}", extra, "PK" if pk else "")
            for name, ctype, nullable, default, extra, pk in rows}


def _indexes(db: Any, table: str) -> set[tuple[str, bool]]:
    """(columns in order, unique) of every index: names differ and do not matter."""
    rows = db.rows("SELECT INDEX_NAME, NON_UNIQUE, GROUP_CONCAT(UPPER(COLUMN_NAME) ORDER BY "
                   "SEQ_IN_INDEX) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s "
                   "AND LOWER(TABLE_NAME) = LOWER(%s) "
                   "GROUP BY INDEX_NAME, NON_UNIQUE", (db.name, table))
    return {(columns, not non_unique) for _, non_unique, columns in rows}


def to_toml(data: dict[str, Any]) -> str:
    """Just enough TOML writing for test configurations (tables, arrays of tables, inline)."""

    lines: list[str] = []

    def table(prefix: str, d: dict[str, Any], array: bool = False) -> None:
        lines.append(f"[[{prefix}]]" if array else f"[{prefix}]")
        nested = []
        for k, v in d.items():
            if isinstance(v, dict) and k in ("erp", "broker"):
                nested.append((k, v, False))
            elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
                nested.append((k, v, True))
            else:
                lines.append(f"{k} = {toml_value(v)}")
        for k, v, is_array in nested:
            if is_array:
                for item in v:
                    table(f"{prefix}.{k}", item, array=True)
            else:
                table(f"{prefix}.{k}", v)

    for key, v in data.items():
        if isinstance(v, list):
            for item in v:
                table(key, item, array=True)
        else:
            table(key, v)
    return "\n".join(lines) + "\n"


# Tax codes for hand-made product events: code 1 has a tax class in the test shops, code 3
# none (a MappingError naming payload.tax.code).
TAX_OK, TAX_UNMAPPED = {"code": 1, "rate": "19"}, {"code": 3, "rate": "0"}


def product_event(key: int, version: int, tax: dict[str, Any] = TAX_OK,
                  sku_prefix: str = "T") -> dict[str, Any]:
    """A product.upserted of tenant acme for ERP id ``key`` (SKU ``<prefix>-<key>``)."""
    from shopbridge import events as ev
    from tests.unit.test_events import product_payload

    return ev.make_event("product.upserted", tenant="acme", source="test",
                         entity_key=str(key), version=version,
                         payload=product_payload(sku=f"{sku_prefix}-{key}", erp_id=key,
                                                 tax=tax))


def publish_events(settings: cfg.Settings, events: list[dict[str, Any]],
                   routing_key: str = "acme.product.upserted") -> None:
    """Each event as a message of its own to the namespace's exchange, with confirms."""
    from shopbridge import brokers, topology
    from shopbridge import events as ev
    from shopbridge.publisher import OutMessage

    with brokers.publishing(settings.broker) as publisher:
        publisher.publish(
            OutMessage(exchange=topology.exchange_name(settings.broker.namespace),
                       routing_key=routing_key, body=ev.encode([e])) for e in events)
