"""The real path of an event into one shop: the documented topology, the project's publisher,
the project's consumer, the project's dead-letter reader.

The consumer runs as the ``consume`` command runs it, as a service (in a thread), for the
whole session: a one-shot run (``idle_exit_s``) notices an empty queue only after half a
second, and the suite delivers a few hundred times. ``deliver`` publishes and then waits
until the consumer has settled every event it published, counting what the consumer counts.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from kombu import Connection

from consumers.runner import Applier, ConsumerStats, ShopConsumer
from shopbridge import brokers, dlq, embedded, topology
from shopbridge import events as ev
from shopbridge.config import BrokerConfig, ShopConfig
from shopbridge.publisher import OutMessage, Publisher, Publishing

SETTLE_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Tally:
    """What the consumer did with the events of one delivery."""

    applied: int
    skipped: int        # stale, unchanged, superseded in the batch
    dead: int
    retried: int


def _counts(stats: ConsumerStats) -> Tally:
    return Tally(stats.applied, stats.skipped, stats.dead, stats.retried)


class Pipeline:
    def __init__(self, *, broker: BrokerConfig, shop: ShopConfig, applier: Applier) -> None:
        self.broker = broker
        self.shop = shop
        self.target = topology.Target.for_shop(shop)
        self.consumer = ShopConsumer(broker=broker, shop=shop, applier=applier)
        self._thread = threading.Thread(target=self._consume, name="contract-consumer",
                                        daemon=True)
        self._failure: BaseException | None = None
        # Either broker kind (B5): RabbitMQ with confirms, or the embedded broker's store.
        self._conn: Connection | None = None
        self._publisher: Publishing
        if broker.embedded:
            self._publisher = embedded.Store(broker)
        else:
            self._conn = Connection(broker.url)
            self._publisher = Publisher(self._conn)

    def start(self) -> None:
        brokers.declare(self.broker, [self.shop])
        self._thread.start()

    def _consume(self) -> None:
        try:
            self.consumer.run()
        except BaseException as err:  # reported by the next deliver, not lost in the thread
            self._failure = err

    def deliver(self, *events: dict[str, Any]) -> Tally:
        """Publish each event as a message of its own, in the given order, and wait until
        the consumer has applied, skipped, retried or dead-lettered every one of them."""
        before = _counts(self.consumer.stats)
        self._publisher.publish(OutMessage(
            exchange=topology.exchange_name(self.broker.namespace),
            routing_key=self._routing_key(event), body=ev.encode([event]))
            for event in events)
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while True:
            now = _counts(self.consumer.stats)
            done = Tally(now.applied - before.applied, now.skipped - before.skipped,
                         now.dead - before.dead, now.retried - before.retried)
            if sum((done.applied, done.skipped, done.dead, done.retried)) >= len(events):
                return done
            if self._failure is not None:
                raise RuntimeError("the consumer stopped") from self._failure
            if time.monotonic() > deadline:
                raise TimeoutError(f"the consumer settled {done} of {len(events)} event(s) "
                                   f"in {SETTLE_TIMEOUT_S} s")
            time.sleep(0.005)

    def _routing_key(self, event: dict[str, Any]) -> str:
        # As the CAO producer addresses them: an order's status goes to its shop only.
        payload = event.get("payload")
        shop = payload.get("shop") if isinstance(payload, dict) and \
            str(event.get("type")).startswith("order.") else None
        return topology.routing_key(self.shop.tenant, str(event.get("type")), shop)

    def dead_letters(self, entity_key: str) -> list[dlq.DeadLetter]:
        return [d for d in dlq.list_dead(self.broker, self.shop) if d.entity_key == entity_key]

    def close(self) -> None:
        self.consumer.stop_event.set()
        self._thread.join(timeout=10)
        try:
            brokers.delete(self.broker, [self.shop])
        finally:
            self._publisher.close()
            if self._conn is not None:
                self._conn.release()
