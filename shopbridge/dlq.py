"""Dead letters of a shop or of the ERP: list, show, export, replay, purge.

Reading takes every message present without acknowledging it and then closes the channel,
which puts them all back in order: nothing is lost if the command dies half-way. Replay
publishes each selected message to the work queue (confirmed) before acknowledging it in the
dead-letter queue, so a crash in between duplicates (harmless: versions) rather than loses.
Purge acknowledges only the letters the operator confirmed (by event id), so a letter that
arrives between the listing and the purge is never removed unseen.

On the embedded broker (B5) the letters are rows: reading takes a snapshot of their ids, a
replay moves each row to the work queue in one transaction, purge deletes the chosen ids.

Every command selects letters with one ``Filter``: type, entity key, text of the error, time
of the last failure, event id.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from kombu import Connection

from . import topology
from .broker import connect, translated
from .config import BrokerConfig, ShopConfig
from .embedded import Store
from .errors import PermanentError
from .events import Event, decode, parse
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
    H_RESYNC,
)
from .topology import Target

# Which of the letters' events a newer applied version makes redundant (the target's applier
# answers: ``kinds.Applier.superseded``).
Superseded = Callable[[Sequence[Event]], Collection[str]]


@dataclass(frozen=True)
class DeadLetter:
    event_type: str
    entity_key: str
    event_id: str
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
                "event_id": self.event_id, "error_class": self.error_class,
                "error": self.error, "attempts": self.attempts,
                "first_failure": self.first_failure, "last_failure": self.last_failure,
                "event": payload}

    def events(self) -> list[Event]:
        """The letter's events, validated; empty when it holds anything invalid (such a
        letter is never judged superseded)."""
        resync = bool(self.headers.get(H_RESYNC))     # as the consumer would apply them
        try:
            return [parse(raw, resync=resync) for raw in decode(self.body)]
        except PermanentError:
            return []


@dataclass(frozen=True)
class Filter:
    """Which letters a command takes; every field given must match.

    Args:
        error: text the error class or message contains (case-insensitive).
        since, until: bounds of the last failure (UTC; naive values are UTC).
    """

    event_type: str | None = None
    entity_key: str | None = None
    error: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    event_id: str | None = None

    def matches(self, letter: DeadLetter) -> bool:
        if self.event_type and letter.event_type != self.event_type:
            return False
        if self.entity_key and letter.entity_key != self.entity_key:
            return False
        if self.event_id and letter.event_id != self.event_id:
            return False
        if self.error and self.error.casefold() not in (
                f"{letter.error_class}: {letter.error}").casefold():
            return False
        if self.since or self.until:
            failed = _utc(letter.last_failure)
            if failed is None:
                return False
            if self.since and failed < _naive(self.since):
                return False
            if self.until and failed > _naive(self.until):
                return False
        return True


def _naive(moment: datetime) -> datetime:
    """UTC without tzinfo: aware values are converted, naive ones are taken as UTC."""
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def _utc(text: str) -> datetime | None:
    try:
        return _naive(datetime.fromisoformat(text))
    except ValueError:
        return None


def _describe(body: bytes, headers: dict[str, Any]) -> DeadLetter:
    event_type = str(headers.get(H_EVENT_TYPE, ""))
    entity_key = str(headers.get(H_ENTITY_KEY, ""))
    error_class = str(headers.get(H_ERROR_CLASS, ""))
    error = str(headers.get(H_ERROR, ""))
    event_id = ""
    if not error and headers.get("x-first-death-reason"):
        error_class = "BrokerDeadLettered"
        error = (f"the broker dead-lettered the message: "
                 f"{headers['x-first-death-reason']} (redelivered too often)")
    try:
        data = orjson.loads(body)
        first = data[0] if isinstance(data, list) and data else data
        if isinstance(first, dict):
            event_type = event_type or str(first.get("type", ""))
            entity_key = entity_key or str(first.get("entity_key", ""))
            event_id = str(first.get("event_id", ""))
    except orjson.JSONDecodeError:
        pass
    return DeadLetter(event_type=event_type or "?", entity_key=entity_key or "?",
                      event_id=event_id or "?",
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


def _present(channel: Any, queue: str) -> Iterator[tuple[Any, DeadLetter]]:
    """Each message present when called, at most once: a FIFO queue, and every message stays
    unacknowledged on this channel until acknowledged, so none is fetched twice and letters
    dead-lettered meanwhile (behind them) are not reached."""
    present = channel.queue_declare(queue=queue, passive=True).message_count
    for _ in range(present):
        message = channel.basic_get(queue=queue, no_ack=False)
        if message is None:
            return
        yield message, _describe(bytes(message.body), dict(message.headers or {}))


def list_dead(broker: BrokerConfig, shop: ShopConfig | Target,
              selected: Filter | None = None) -> list[DeadLetter]:
    """The letters present that ``selected`` matches (all without it), in queue order."""
    selected = selected or Filter()
    if broker.embedded:
        return [letter for _, letter in _stored(broker, shop) if selected.matches(letter)]
    with _messages(broker, shop) as (_, channel, queue):
        return [letter for _, letter in _present(channel, queue) if selected.matches(letter)]


def _dead_queue(broker: BrokerConfig, target: ShopConfig | Target) -> str:
    shop = target if isinstance(target, Target) else Target.for_shop(target)
    return topology.dead_letter_queue(broker.namespace, shop.tenant, shop.name)


def _stored(broker: BrokerConfig, target: ShopConfig | Target) -> list[tuple[int, DeadLetter]]:
    """The embedded broker's letters of ``target`` (message id, letter), oldest first."""
    store = Store(broker)
    try:
        store.declare([target])
        return [(message_id, _describe(body, headers)) for message_id, body, headers
                in store.messages(_dead_queue(broker, target))]
    finally:
        store.close()


@dataclass(frozen=True)
class ReplayReport:
    moved: int          # back in the work queue
    superseded: int     # left in the dead-letter queue: a newer version is applied already


def superseded_ids(letters: Sequence[DeadLetter], superseded: Superseded | None) -> set[str]:
    """Event ids of the letters whose every event a newer applied version makes redundant."""
    if superseded is None:
        return set()
    judged = {id(letter): letter.events() for letter in letters}
    events = [event for found in judged.values() for event in found]
    if not events:
        return set()
    redundant = set(superseded(events))
    return {letter.event_id for letter in letters
            if judged[id(letter)]
            and all(event.event_id in redundant for event in judged[id(letter)])}


def replay(broker: BrokerConfig, shop: ShopConfig | Target, *,
           selected: Filter | None = None, superseded: Superseded | None = None
           ) -> ReplayReport:
    """Move matching dead letters back into the target's work queue.

    Takes the letters present when it starts, each at most once: a running consumer may
    dead-letter a replayed event again while this runs, and it lands behind them; a letter
    that carries this run's mark is left alone. Letters a newer applied version supersedes
    (``superseded``) would change nothing: they stay in the dead-letter queue, counted, for
    ``purge`` (replaying them would only log them as stale).
    """
    selected = selected or Filter()
    skip = superseded_ids(list_dead(broker, shop, selected), superseded)
    moved = skipped = 0
    run_id = uuid.uuid4().hex
    if broker.embedded:
        # One transaction per letter moves it: no window in which it is in both queues.
        work = _dead_queue(broker, shop).removesuffix(".dead")
        store = Store(broker)
        try:
            for message_id, letter in _stored(broker, shop):
                if not selected.matches(letter):
                    continue
                if letter.event_id in skip:
                    skipped += 1
                    continue
                moved += store.move(message_id, work, _replayed(letter, run_id))
        finally:
            store.close()
        return ReplayReport(moved=moved, superseded=skipped)
    with _messages(broker, shop) as (conn, channel, queue):
        publisher = Publisher(conn)
        work = queue.removesuffix(".dead")
        for message, letter in _present(channel, queue):
            if letter.headers.get(H_REPLAY_RUN) == run_id or not selected.matches(letter):
                continue   # replayed by this run and failed again: the next run's business
            if letter.event_id in skip:
                skipped += 1
                continue
            headers = _replayed(letter, run_id)
            publisher.publish([OutMessage(routing_key=work, body=letter.body, headers=headers)])
            channel.basic_ack(message.delivery_tag)
            moved += 1
        publisher.close()
    return ReplayReport(moved=moved, superseded=skipped)


def _replayed(letter: DeadLetter, run_id: str) -> dict[str, Any]:
    """The headers a replayed letter goes back to work with."""
    headers = {k: v for k, v in letter.headers.items() if not k.startswith("x-death")
               and not k.startswith("x-first-death") and not k.startswith("x-last-death")}
    # A replay is a fresh start: the event gets the full retry ladder again.
    headers[H_ATTEMPTS] = 0
    headers[H_REPLAYED] = 1
    headers[H_REPLAY_RUN] = run_id
    return headers


def purge(broker: BrokerConfig, shop: ShopConfig | Target,
          confirmed: Sequence[DeadLetter]) -> int:
    """Remove the letters the operator confirmed (as listed: each removed once, matched by
    event id and body, so a letter that arrived after the listing stays); returns how many."""
    wanted = Counter((letter.event_id, letter.body) for letter in confirmed)
    removed = 0
    if broker.embedded:
        chosen = []
        for message_id, letter in _stored(broker, shop):
            if wanted[(letter.event_id, letter.body)] > 0:
                wanted[(letter.event_id, letter.body)] -= 1
                chosen.append(message_id)
        store = Store(broker)
        try:
            return store.remove(chosen)
        finally:
            store.close()
    with _messages(broker, shop) as (_, channel, queue):
        for message, letter in _present(channel, queue):
            if wanted[(letter.event_id, letter.body)] > 0:
                wanted[(letter.event_id, letter.body)] -= 1
                channel.basic_ack(message.delivery_tag)
                removed += 1
    return removed
