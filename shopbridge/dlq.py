"""Dead letters of a shop: list them, replay them into the work queue.

Listing reads every message without acknowledging it and then closes the channel, which puts
them all back in order: nothing is lost if the command dies half-way. Replay publishes each
selected message to the work queue (confirmed) before acknowledging it in the dead-letter
queue, so a crash in between duplicates (harmless: versions) rather than loses.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from kombu import Connection

from . import topology
from .broker import connect, translated
from .config import BrokerConfig, ShopConfig
from .publisher import OutMessage, Publisher
from .settle import (
    H_ATTEMPTS,
    H_ENTITY_KEY,
    H_ERROR,
    H_ERROR_CLASS,
    H_EVENT_TYPE,
    H_FIRST_FAILURE,
    H_LAST_FAILURE,
    H_REPLAY_RUN,
    H_REPLAYED,
)
from .topology import Target


@dataclass(frozen=True)
class DeadLetter:
    event_type: str
    entity_key: str
    error_class: str
    error: str
    attempts: int
    first_failure: str
    last_failure: str
    body: bytes
    headers: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        try:
            payload: Any = orjson.loads(self.body)
        except orjson.JSONDecodeError:
            payload = self.body.decode("utf-8", "replace")
        return {"type": self.event_type, "entity_key": self.entity_key,
                "error_class": self.error_class, "error": self.error,
                "attempts": self.attempts, "first_failure": self.first_failure,
                "last_failure": self.last_failure, "event": payload}


def _describe(body: bytes, headers: dict[str, Any]) -> DeadLetter:
    event_type = str(headers.get(H_EVENT_TYPE, ""))
    entity_key = str(headers.get(H_ENTITY_KEY, ""))
    error_class = str(headers.get(H_ERROR_CLASS, ""))
    error = str(headers.get(H_ERROR, ""))
    if not error and headers.get("x-first-death-reason"):
        error_class = "BrokerDeadLettered"
        error = (f"the broker dead-lettered the message: "
                 f"{headers['x-first-death-reason']} (redelivered too often)")
    if not event_type:
        try:
            data = orjson.loads(body)
            first = data[0] if isinstance(data, list) and data else data
            if isinstance(first, dict):
                event_type = str(first.get("type", ""))
                entity_key = str(first.get("entity_key", ""))
        except orjson.JSONDecodeError:
            pass
    return DeadLetter(event_type=event_type or "?", entity_key=entity_key or "?",
                      error_class=error_class or "?", error=error,
                      attempts=int(headers.get(H_ATTEMPTS, 0) or 0),
                      first_failure=str(headers.get(H_FIRST_FAILURE, "")),
                      last_failure=str(headers.get(H_LAST_FAILURE, "")), body=body,
                      headers=headers)


@contextmanager
def _messages(broker: BrokerConfig, target: ShopConfig | Target
              ) -> Iterator[tuple[Connection, Any, str]]:
    """An open channel on the target's dead-letter queue; broker errors leave it as
    BrokerUnavailable naming the broker."""
    shop = target if isinstance(target, Target) else Target.for_shop(target)
    conn = connect(broker)
    try:
        with translated(broker):
            topology.declare(conn, broker, [shop])
            channel = conn.channel()
            try:
                yield conn, channel, topology.dead_letter_queue(broker.namespace, shop.tenant,
                                                                shop.name)
            finally:
                channel.close()  # unacknowledged messages go back to the queue, in order
    finally:
        conn.release()


def list_dead(broker: BrokerConfig, shop: ShopConfig | Target) -> list[DeadLetter]:
    found = []
    with _messages(broker, shop) as (_, channel, queue):
        while True:
            message = channel.basic_get(queue=queue, no_ack=False)
            if message is None:
                break
            found.append(_describe(bytes(message.body), dict(message.headers or {})))
    return found


def replay(broker: BrokerConfig, shop: ShopConfig | Target, *,
           event_type: str | None = None, entity_key: str | None = None) -> int:
    """Move matching dead letters back into the shop's work queue; returns how many.

    Takes the letters present when it starts, each at most once: a running consumer may
    dead-letter a replayed event again while this runs, and it lands behind them. So at most
    as many messages are taken as the queue held at the start (a FIFO queue, and skipped
    letters stay unacknowledged on this channel, so none is fetched twice), and a letter that
    carries this run's mark is left alone.
    """
    moved = 0
    run_id = uuid.uuid4().hex
    with _messages(broker, shop) as (conn, channel, queue):
        publisher = Publisher(conn)
        work = queue.removesuffix(".dead")
        present = channel.queue_declare(queue=queue, passive=True).message_count
        for _ in range(present):
            message = channel.basic_get(queue=queue, no_ack=False)
            if message is None:
                break
            letter = _describe(bytes(message.body), dict(message.headers or {}))
            if letter.headers.get(H_REPLAY_RUN) == run_id:
                continue   # replayed by this run and failed again: the next run's business
            if event_type and letter.event_type != event_type:
                continue
            if entity_key and letter.entity_key != entity_key:
                continue
            headers = {k: v for k, v in letter.headers.items() if not k.startswith("x-death")
                       and not k.startswith("x-first-death") and not k.startswith(
                           "x-last-death")}
            # A replay is a fresh start: the event gets the full retry ladder again.
            headers[H_ATTEMPTS] = 0
            headers[H_REPLAYED] = 1
            headers[H_REPLAY_RUN] = run_id
            publisher.publish([OutMessage(routing_key=work, body=letter.body, headers=headers)])
            channel.basic_ack(message.delivery_tag)
            moved += 1
        publisher.close()
    return moved
