"""A retryable error that names a delay comes back to the work queue after about that delay,
on both broker kinds (B5): on RabbitMQ the settler puts it in the smallest tier that long,
with a per-message TTL; the embedded broker makes it visible again after exactly that delay."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest
from kombu import Connection

from shopbridge import embedded, topology
from shopbridge.config import BrokerConfig
from shopbridge.errors import TargetLocked, TransientDatabaseError
from shopbridge.publisher import Publisher
from shopbridge.settle import H_ATTEMPTS, Settler
from tests.conftest import broker_entry

TARGET = topology.Target("acme", "web", bindings=())
Returns = Callable[[int], list[tuple[float, dict[str, Any], dict[str, Any]]]]


def _event(key: str) -> dict[str, Any]:
    return {"type": "order.status_changed", "entity_key": key, "version": 1}


@contextmanager
def _settler(namespace: str, tiers: tuple[int, ...]) -> Iterator[tuple[Settler, Returns]]:
    """A settler of TARGET, and ``returns(count)``: (seconds since the call, event, headers)
    of the next ``count`` messages that come back into the work queue from the retry tiers."""
    entry = broker_entry()
    broker = BrokerConfig(url=entry["url"], namespace=namespace, retry_tiers_s=tiers,
                          kind=entry["kind"])
    work = topology.work_queue(namespace, TARGET.tenant, TARGET.name)
    if broker.embedded:
        store = embedded.Store(broker)
        store.declare([TARGET])
        receiver = embedded.Receiver(store, work)

        def get_embedded() -> tuple[bytes, dict[str, Any]] | None:
            got = receiver.claim(1)
            if not got:
                return None
            got[0].ack()
            return got[0].body, got[0].headers
        try:
            yield (Settler(broker=broker, target=TARGET, publisher=store),
                   lambda count: _returns(get_embedded, count))
        finally:
            receiver.close()
            store.close()
        return
    with Connection(broker.url) as conn:
        topology.declare(conn, broker, [TARGET])
        channel = conn.channel()

        def get_amqp() -> tuple[bytes, dict[str, Any]] | None:
            message = channel.basic_get(work, no_ack=True)
            return None if message is None else (message.body, message.headers or {})
        try:
            yield (Settler(broker=broker, target=TARGET, publisher=Publisher(conn)),
                   lambda count: _returns(get_amqp, count))
        finally:
            channel.close()


def _returns(get: Callable[[], tuple[bytes, dict[str, Any]] | None], count: int,
             timeout_s: float = 15.0) -> list[tuple[float, dict[str, Any], dict[str, Any]]]:
    start = time.monotonic()
    seen = []
    while len(seen) < count and time.monotonic() - start < timeout_s:
        got = get()
        if got is None:
            time.sleep(0.05)
            continue
        seen.append((time.monotonic() - start, orjson.loads(got[0]), got[1]))
    return seen


def test_a_lock_conflict_naming_one_second_comes_back_after_about_one_second(
        namespace, broker_kind):
    """Given the default tiers (5, 60, 600) and a letter that failed three times already,
    when TargetLocked(delay_s=1) settles it, it is back in the work queue after ~1 s, not
    after the 600 s tier its attempts would give it (nor the 5 s tier it waits in)."""
    with _settler(namespace, (5, 60, 600)) as (settler, returns):
        locked = TargetLocked("order 7: another consumer is importing it", delay_s=1,
                              counts_as_attempt=False)
        decision = settler.fail(event=_event("7"), headers={H_ATTEMPTS: 3}, exc=locked)
        back = returns(1)

    assert (decision.action, decision.delay_s, decision.tier_s) == ("retry", 1.0, 5)
    [(after_s, event, headers)] = back
    assert 0.9 <= after_s < 3.0, after_s
    assert event["entity_key"] == "7" and headers[H_ATTEMPTS] == 3
    assert headers["x-death"][0]["queue"] == topology.retry_queue(namespace, "acme", "web", 5)


@pytest.mark.parametrize("broker_kind", ["rabbitmq"], indirect=True)
def test_a_named_delay_behind_a_longer_one_waits_at_most_its_tier(namespace, broker_kind):
    """RabbitMQ expires messages only at a queue's head: a 1 s delay published behind an
    event waiting the whole 3 s tier comes back with it, after ~3 s, never later."""
    with _settler(namespace, (3, 60)) as (settler, returns):
        settler.fail(event=_event("1"), headers={}, exc=TransientDatabaseError("deadlock"))
        settler.fail(event=_event("2"), headers={},
                     exc=TargetLocked("busy", delay_s=1, counts_as_attempt=False))
        back = returns(2)

    assert [event["entity_key"] for _, event, _ in back] == ["1", "2"]
    assert all(2.5 <= after_s < 4.5 for after_s, _, _ in back), back


@pytest.mark.parametrize("broker_kind", ["embedded"], indirect=True)
def test_on_the_embedded_broker_a_named_delay_is_not_held_up_by_a_longer_one(
        namespace, broker_kind):
    """The embedded broker has no queue head: the 1 s delay comes back after ~1 s, the 3 s
    tier's event after ~3 s, each with the x-death entry of its tier."""
    with _settler(namespace, (3, 60)) as (settler, returns):
        settler.fail(event=_event("1"), headers={}, exc=TransientDatabaseError("deadlock"))
        settler.fail(event=_event("2"), headers={},
                     exc=TargetLocked("busy", delay_s=1, counts_as_attempt=False))
        back = returns(2)

    assert [event["entity_key"] for _, event, _ in back] == ["2", "1"]
    (early, _, _), (late, _, headers) = back
    assert 0.9 <= early < 2.0 and 2.9 <= late < 4.5, back
    assert headers["x-death"][0]["count"] == 1 and headers[H_ATTEMPTS] == 1
