"""Events: the envelope, strictly increasing versions, and the AMQP body codec.

A body is one event object or a JSON array of complete events (packing, DESIGN 6); each event
in it is valid and appliable on its own.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from . import schemas
from .errors import InvalidEvent, PermanentError

# Which states ("aspects") of an entity an event type sets. The product state and the stock
# are versioned apart: a product.upserted also carries the stock, product.deleted does not.
ASPECTS = {
    "product.upserted": ("product", "stock"),
    "product.deleted": ("product",),
    "stock.changed": ("stock",),
    "manufacturer.upserted": ("manufacturer",),
    "manufacturer.deleted": ("manufacturer",),
    "category.upserted": ("category",),
    "category.deleted": ("category",),
}

# The entity an event type is about (stock is a property of the ERP article).
ENTITY = {
    "product.upserted": "product",
    "product.deleted": "product",
    "stock.changed": "product",
    "order.status_changed": "order_status",   # the order itself is the shop's, not ours
}


@dataclass(frozen=True, slots=True)
class Event:
    """A validated event. ``raw`` is the decoded dict, re-encoded unchanged for retries."""

    event_id: str
    type: str
    tenant: str
    source: str
    entity_key: str
    version: int
    payload: dict[str, Any]
    raw: dict[str, Any]
    # Republished by a full sync (``shopbridge sync``, message header H_RESYNC): applied again
    # at the version the target already holds, and written even where it looks unchanged.
    resync: bool = False
    # Republished by ``drift --repair`` (H_RESYNC = REPAIR): the stock is written again also
    # where a sync leaves the shop's own checkout decrements alone (ProductPlanner).
    repair: bool = False

    @property
    def entity(self) -> str:
        return ENTITY.get(self.type, self.type.split(".", 1)[0])

    @property
    def aspect(self) -> str:
        """The main state this event sets (the first of its aspects)."""
        return self.aspects[0]

    @property
    def aspects(self) -> tuple[str, ...]:
        return ASPECTS.get(self.type, (self.type,))

    def __str__(self) -> str:
        return f"{schemas.describe(self.raw)} v{self.version}"


# The schema version producers write, per event type (consumers accept every version that
# has a file in schemas/). A new optional field is a new version: the files say
# additionalProperties false, so an old strict consumer would refuse it.
CURRENT_SCHEMA_VERSION = {"product.upserted": 2, "order.placed": 3, "stock.changed": 2,
                          "customer.upserted": 2}


class _EventIds:
    """Event ids in the form of random (version 4) UUIDs, without a system call and a UUID
    object per event (``uuid.uuid4()`` was 6 % of the producer's CPU in an initial load).

    Per process 60 random bits (the first 64 bits less the version digit), then 62 bits that
    start at a random value and count up: two processes (or one after a restart, or a forked
    child, which draws anew) share an id only if they drew the same 60 bits and their counters
    meet, about as unlikely as two ``uuid4()`` being equal.
    """

    _LOW_MASK = (1 << 62) - 1
    _VARIANT = 0b10 << 62                # RFC 4122 variant bits of the 4th group

    def __init__(self) -> None:
        self.reseed()
        os.register_at_fork(after_in_child=self.reseed)

    def reseed(self) -> None:
        high = int.from_bytes(os.urandom(8))
        prefix = f"{high:016x}"
        self.prefix = f"{prefix[:8]}-{prefix[8:12]}-4{prefix[13:16]}-"
        self.counter = itertools.count(int.from_bytes(os.urandom(8)) & self._LOW_MASK)

    def __call__(self) -> str:
        low = f"{self._VARIANT | (next(self.counter) & self._LOW_MASK):016x}"
        return f"{self.prefix}{low[:4]}-{low[4:]}"


new_event_id = _EventIds()


def _utc_text(when: datetime) -> str:
    """'2026-12-07T05:40:01.123456Z' (another offset as '+01:00')."""
    return when.isoformat(timespec="microseconds").replace("+00:00", "Z")


class _Clock:
    """Now as ``_utc_text`` writes it, in a third of the time: the date and time of day are
    formatted once per second, only the microseconds per event."""

    def __init__(self) -> None:
        self.second = (-1, "")

    def __call__(self) -> str:
        second, micro = divmod(time.time_ns() // 1000, 1_000_000)
        cached = self.second
        if cached[0] != second:
            cached = self.second = (second, time.strftime("%Y-%m-%dT%H:%M:%S",
                                                          time.gmtime(second)))
        return f"{cached[1]}.{micro:06d}Z"


_now_text = _Clock()


def make_event(type: str, *, tenant: str, source: str, entity_key: str, version: int,
               payload: dict[str, Any], occurred_at: datetime | None = None) -> dict[str, Any]:
    """Build an envelope dict (not validated here: ``publish`` validates)."""
    return {
        "event_id": new_event_id(),
        "type": type,
        "schema_version": CURRENT_SCHEMA_VERSION.get(type, 1),
        "tenant": tenant,
        "source": source,
        "entity_key": entity_key,
        "version": version,
        "occurred_at": (_utc_text(occurred_at) if occurred_at is not None
                        else _now_text()),
        "payload": payload,
    }


def next_version(last: int | None) -> int:
    """A version above ``last`` that a restarted producer can never reuse.

    'last + 1' is wrong: after a crash between publish and store the next change would reuse
    the published number with other content and be skipped as stale (DESIGN 1). The detection
    time in microseconds, bumped above the last stored version, cannot repeat.
    """
    return max(time.time_ns() // 1000, (last or 0) + 1)


def dims_hash(dims: Mapping[str, str]) -> str:
    """Fingerprint of a variant's values per dimension ({"A": "Blau", "B": "XL"}).

    The key that joins a product.upserted child (``variants[].dims``) to an ordered option
    combination: the osCommerce consumer stores it with each child's link, the order producer
    computes it from the ordered values. Canonical form: ``A=Blau<US>B=XL`` (dimensions in
    order, US = the ASCII unit separator, which no DIM value holds), so SQL can compute it too:
    ``MD5(CONCAT_WS(CHAR(31), 'A=Blau', 'B=XL'))``.
    """
    canonical = "\x1f".join(f"{dim}={dims[dim]}" for dim in sorted(dims))
    return hashlib.md5(canonical.encode("utf-8"), usedforsecurity=False).hexdigest()


def encode(events: Iterable[dict[str, Any]]) -> bytes:
    """One AMQP body: a JSON array of events."""
    return orjson.dumps(list(events))


def decode(body: bytes) -> list[Any]:
    """The events of a body, not yet validated.

    Raises:
        InvalidEvent: the body is not JSON, or neither an object nor an array.
    """
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise InvalidEvent(f"message body is not JSON: {err}") from None
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list) and data:
        return data
    raise InvalidEvent("message body must be an event object or a non-empty array of events")


def parse(raw: Any, *, resync: bool = False, repair: bool = False) -> Event:
    """Validate one decoded event and wrap it (``resync``, ``repair``: see ``Event``; given
    here, not by ``dataclasses.replace``, which built every event of a full sync twice).

    Raises:
        InvalidEvent, UnknownEventType: both permanent.
    """
    schemas.validate(raw)
    try:
        return Event(event_id=raw["event_id"], type=raw["type"], tenant=raw["tenant"],
                     source=raw["source"], entity_key=raw["entity_key"],
                     version=raw["version"], payload=raw["payload"], raw=raw,
                     resync=resync, repair=repair)
    except KeyError as err:  # pragma: no cover - the schema requires every key
        raise PermanentError(f"event lacks {err}") from None


def coalesce(events: Iterable[Event]) -> list[Event]:
    """Drop events that are superseded in every aspect they set; keep arrival order.

    Payloads are full state, so the newest event of an aspect makes older ones redundant
    for that aspect. An older product.upserted survives a newer product.deleted because its
    stock may still be the newest stock.
    """
    batch = list(events)
    newest: dict[tuple[str, str, str], Event] = {}
    for event in batch:
        for aspect in event.aspects:
            key = (event.entity, event.entity_key, aspect)
            held = newest.get(key)
            # At a tie a full sync's event wins: it must be applied even where the other
            # one would look unchanged.
            if held is None or (event.version, event.resync) > (held.version, held.resync):
                newest[key] = event
    keep = {id(e) for e in newest.values()}
    kept, seen = [], set()
    for event in batch:
        if id(event) in keep and id(event) not in seen:
            seen.add(id(event))
            kept.append(event)
    return kept
