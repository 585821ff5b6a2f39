"""A retryable error that names a delay comes back to the work queue after about that delay
(real RabbitMQ): the settler puts it in the smallest tier that long, with a per-message TTL."""

from __future__ import annotations

import time
from typing import Any

import orjson
from kombu import Connection

from shopbridge import topology
from shopbridge.config import BrokerConfig
from shopbridge.errors import TargetLocked, TransientDatabaseError
from shopbridge.publisher import Publisher
from shopbridge.settle import H_ATTEMPTS, Settler
from tests.conftest import AMQP_URL

TARGET = topology.Target("acme", "web", bindings=())


def _event(key: str) -> dict[str, Any]:
    return {"type": "order.status_changed", "entity_key": key, "version": 1}


def _returns(conn: Connection, broker: BrokerConfig, count: int,
             timeout_s: float = 15.0) -> list[tuple[float, dict[str, Any], dict[str, Any]]]:
    """(seconds since the call, event, headers) of the next ``count`` messages that the
    retry tiers dead-letter back into the work queue."""
    work = topology.work_queue(broker.namespace, TARGET.tenant, TARGET.name)
    channel = conn.channel()
    start = time.monotonic()
    seen = []
    try:
        while len(seen) < count and time.monotonic() - start < timeout_s:
            message = channel.basic_get(work, no_ack=True)
            if message is None:
                time.sleep(0.05)
                continue
            seen.append((time.monotonic() - start, orjson.loads(message.body),
                         message.headers or {}))
    finally:
        channel.close()
    return seen


def _settler(conn: Connection, namespace: str, tiers: tuple[int, ...]) -> Settler:
    broker = BrokerConfig(url=AMQP_URL, namespace=namespace, retry_tiers_s=tiers)
    topology.declare(conn, broker, [TARGET])
    return Settler(broker=broker, target=TARGET, publisher=Publisher(conn))


def test_a_lock_conflict_naming_one_second_comes_back_after_about_one_second(namespace):
    """Given the default tiers (5, 60, 600) and a letter that failed three times already,
    when TargetLocked(delay_s=1) settles it, it is back in the work queue after ~1 s, not
    after the 600 s tier its attempts would give it (nor the 5 s tier it waits in)."""
    with Connection(AMQP_URL) as conn:
        settler = _settler(conn, namespace, (5, 60, 600))
        locked = TargetLocked("order 7: another consumer is importing it", delay_s=1,
                              counts_as_attempt=False)
        decision = settler.fail(event=_event("7"), headers={H_ATTEMPTS: 3}, exc=locked)
        back = _returns(conn, settler.broker, 1)

    assert (decision.action, decision.delay_s, decision.tier_s) == ("retry", 1.0, 5)
    [(after_s, event, headers)] = back
    assert 0.9 <= after_s < 3.0, after_s
    assert event["entity_key"] == "7" and headers[H_ATTEMPTS] == 3
    assert headers["x-death"][0]["queue"] == topology.retry_queue(namespace, "acme", "web", 5)


def test_a_named_delay_behind_a_longer_one_waits_at_most_its_tier(namespace):
    """RabbitMQ expires messages only at a queue's head: a 1 s delay published behind an
    event waiting the whole 3 s tier comes back with it, after ~3 s, never later."""
    with Connection(AMQP_URL) as conn:
        settler = _settler(conn, namespace, (3, 60))
        settler.fail(event=_event("1"), headers={}, exc=TransientDatabaseError("deadlock"))
        settler.fail(event=_event("2"), headers={},
                     exc=TargetLocked("busy", delay_s=1, counts_as_attempt=False))
        back = _returns(conn, settler.broker, 2)

    assert [event["entity_key"] for _, event, _ in back] == ["1", "2"]
    assert all(2.5 <= after_s < 4.5 for after_s, _, _ in back), back
