"""The broker seam: what the commands need of a broker, for either kind (B5).

``[broker] kind = "rabbitmq"`` goes through kombu (``broker``, ``publisher``, ``topology``),
unchanged; ``kind = "embedded"`` through shopbridge's own tables (``embedded``). Callers that
need only these operations (probe, declare, delete, publish, depth) use this module and never
ask which kind it is; the consume loop and the dead-letter commands, whose RabbitMQ paths use
AMQP channel details, branch on ``BrokerConfig.embedded`` themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from . import broker as broker_edge
from . import topology
from .config import BrokerConfig
from .embedded import Store
from .publisher import Publisher, Publishing


def probe(broker: BrokerConfig, *, retries: int = broker_edge.CONNECT_RETRIES) -> None:
    """Reach the broker and let go again.

    Raises:
        BrokerUnavailable: it cannot be reached or refused the login.
    """
    if broker.embedded:
        store = Store(broker)
        try:
            store.ping()        # reach only: its tables are check's and setup's business
        finally:
            store.close()
        return
    broker_edge.release(broker_edge.connect(broker, retries=retries))


def declare(broker: BrokerConfig, targets: Iterable[Any]) -> None:
    """The exchange and the queues of ``targets`` (shops or ``topology.Target``s)."""
    wanted = list(targets)
    if broker.embedded:
        store = Store(broker)
        try:
            store.declare(wanted)
        finally:
            store.close()
        return
    broker_edge.release(broker_edge.connect(broker, targets=wanted))


def delete(broker: BrokerConfig, targets: Iterable[Any]) -> None:
    """Remove the queues of ``targets`` with their messages (tests, the demo's clean start)."""
    wanted = list(targets)
    if broker.embedded:
        store = Store(broker)
        try:
            store.delete(wanted)
        finally:
            store.close()
        return
    conn = broker_edge.connect(broker)
    try:
        with broker_edge.translated(broker):
            topology.delete(conn, broker, wanted)
    finally:
        broker_edge.release(conn)


@contextmanager
def publishing(broker: BrokerConfig, targets: Iterable[Any] = ()) -> Iterator[Publishing]:
    """A publisher with confirms (RabbitMQ) or commits (embedded), the queues of ``targets``
    declared first."""
    wanted = list(targets)
    if broker.embedded:
        store = Store(broker)
        try:
            if wanted:
                store.declare(wanted)
            yield store
        finally:
            store.close()
        return
    conn = broker_edge.connect(broker, targets=wanted)
    publisher = Publisher(conn)
    try:
        yield publisher
    finally:
        publisher.close()
        broker_edge.release(conn)


def depths(broker: BrokerConfig, queues: Iterable[str]) -> dict[str, int | None]:
    """Messages in each queue; None for a queue that does not exist (no consumer ran yet)."""
    names = list(queues)
    if broker.embedded:
        store = Store(broker)
        try:
            return {name: store.depth(name) for name in names}
        finally:
            store.close()
    conn = broker_edge.connect(broker)
    try:
        with broker_edge.translated(broker):
            found: dict[str, int | None] = {}
            for name in names:
                found[name] = _amqp_depth(conn, name)
            return found
    finally:
        broker_edge.release(conn)


def _amqp_depth(conn: Any, queue: str) -> int | None:
    import amqp

    channel = conn.channel()
    try:
        return int(channel.queue_declare(queue=queue, passive=True).message_count)
    except amqp.exceptions.NotFound:
        return None
    finally:
        if channel.is_open:     # a NotFound closed it already
            channel.close()
