"""The messages a dry run (B2) reads from a work queue, and how it leaves them there.

A dry run takes the queue's messages with ``basic.get`` and holds them unacknowledged. To give
them back it publishes an exact copy of each (body and headers: the retry counter
``x-shopbridge-attempts`` and the rest travel along) into the same queue, with publisher
confirms, and only then acknowledges the originals. It does not reject them with requeue:
on a quorum queue every return of a message counts towards the queue's ``x-delivery-limit``
(tried on RabbitMQ 3.10: reject, nack and a closed channel each add one to
``x-delivery-count``), and enough dry runs would dead-letter messages no consumer ever
failed on. The copies' ``x-delivery-count`` starts at 0, and messages published into the
queue while the dry run held it (and those beyond its limit) come before the copies (events
carry versions: the consumer skips what is older than what it applied).

Should the dry run die before the copies are confirmed, the broker returns the unacknowledged
originals on its own (counted once); after the copies and before the acknowledgement, a
message is in the queue twice, which the consumer applies once (same version).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from shopbridge import broker as broker_edge
from shopbridge import events as ev
from shopbridge import topology
from shopbridge.config import BrokerConfig
from shopbridge.errors import DryRunRefused, PermanentError
from shopbridge.publisher import OutMessage, Publisher
from shopbridge.settle import H_RESYNC, REPAIR

log = logging.getLogger(__name__)

DELIVERY_COUNT = "x-delivery-count"     # the broker's, set on delivery: not copied


@dataclass
class Borrowed:
    """What a dry run took from the queue: the messages' events in queue order, and the
    lines of those the consumer would dead-letter without applying (undecodable, invalid)."""

    messages: int = 0
    events: list[ev.Event] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    consumers: int = 0      # running consumers of the queue: what they hold is not here

    def batches(self, size: int) -> list[list[ev.Event]]:
        """The events in consumer batches of ``size``, each coalesced as the consumer does."""
        return [ev.coalesce(self.events[i:i + size])
                for i in range(0, len(self.events), size)]


@contextmanager
def borrowed(broker: BrokerConfig, target: topology.Target, *, limit: int
             ) -> Iterator[Borrowed]:
    """Up to ``limit`` messages of the target's work queue, given back afterwards (also when
    the dry run failed).

    Raises:
        BrokerUnavailable: the broker is away or refused a copy.
    """
    queue = topology.work_queue(broker.namespace, target.tenant, target.name)
    with broker_edge.translated(broker):
        conn = broker_edge.connect(broker, targets=[target])
        try:
            channel = conn.channel()
            running = int(channel.queue_declare(queue=queue, passive=True).consumer_count)
            if running:
                # The dry run holds every row it touches until its rollback: a running
                # consumer's writes would wait, time out and count as attempts (review).
                raise DryRunRefused(
                    f"{running} consumer(s) of queue {queue} are running: a dry run holds the "
                    f"rows it touches until its rollback, so their writes would wait and fail; "
                    f"stop the shop's consumer, then run the dry run")
            held: list[Any] = []
            while len(held) < limit:
                message = channel.basic_get(queue, no_ack=False)
                if message is None:
                    break
                held.append(message)
            try:
                taken = _read(held, target)
                taken.consumers = running
                yield taken
            finally:
                if held:
                    _give_back(conn, channel, queue, held)
        finally:
            broker_edge.release(conn)


def _give_back(conn: Any, channel: Any, queue: str, held: list[Any]) -> None:
    publisher = Publisher(conn)
    try:
        publisher.publish(OutMessage(
            routing_key=queue, body=bytes(m.body),
            headers={k: v for k, v in (m.headers or {}).items() if k != DELIVERY_COUNT})
            for m in held)
    finally:
        publisher.close()
    channel.basic_ack(held[-1].delivery_tag, multiple=True)
    log.info("dry run: %d message(s) of %s given back unchanged", len(held), queue)


def _read(held: list[Any], target: topology.Target) -> Borrowed:
    """The events as consumers/runner.py reads them (resync flag, tenant check)."""
    out = Borrowed(messages=len(held))
    for message in held:
        headers = dict(message.headers or {})
        try:
            raws = ev.decode(bytes(message.body))
        except PermanentError as err:
            out.invalid.append(f"a message: {err}")
            continue
        for raw in raws:
            try:
                event = ev.parse(raw, resync=bool(headers.get(H_RESYNC)),
                                 repair=headers.get(H_RESYNC) == REPAIR)
                if event.tenant != target.tenant:
                    raise PermanentError(f"{event}: tenant {event.tenant!r} is not the "
                                         f"tenant {target.tenant!r} of this queue")
            except PermanentError as err:
                out.invalid.append(str(err))
                continue
            out.events.append(event)
    return out
