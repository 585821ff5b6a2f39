"""What happened to each event a target's consumer took (B4): the entries the consume loop
hands its applier after each batch, and what ``shopbridge history`` reads back.

The consume loop (consumers/runner.py) knows each event's outcome; a shop's applier keeps
the entries in a bounded table beside its link table (consumers/history.py). The core knows
only these types: it never imports a kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .events import ENTITY, Event

# What happened to an event, as the history table stores it.
APPLIED = "applied"          # written to the target
SKIPPED = "skipped"          # changed nothing: stale, unchanged, not in the selection (why)
COALESCED = "coalesced"      # a newer version of the entity in the same batch replaced it
RETRIED = "retried"          # failed, sent to a retry tier (the error)
DEAD = "dead_lettered"       # failed for good, in the dead-letter queue (the error)
OUTCOMES = (APPLIED, SKIPPED, COALESCED, RETRIED, DEAD)

DETAIL_MAX = 500             # characters of the reason or error kept


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One event's outcome in one batch."""

    entity_type: str          # "product", "category", "order_status", ...
    entity_key: str
    event_id: str
    event_type: str
    version: int
    arrived_at: datetime      # when the consumer took the batch (UTC, naive)
    outcome: str              # one of OUTCOMES
    detail: str = ""          # the reason (skipped, coalesced) or the error (retried, dead)
    sku: str | None = None    # products: the SKU in the payload, where it names one

    @classmethod
    def of_event(cls, event: Event, *, arrived_at: datetime, outcome: str, detail: str = ""
                 ) -> HistoryEntry:
        sku = event.payload.get("sku")
        return cls(entity_type=event.entity, entity_key=event.entity_key,
                   event_id=event.event_id, event_type=event.type, version=event.version,
                   arrived_at=arrived_at, outcome=outcome, detail=detail,
                   sku=str(sku) if sku else None)

    @classmethod
    def of_raw(cls, raw: Any, *, arrived_at: datetime, outcome: str, detail: str
               ) -> HistoryEntry | None:
        """The entry of an event that failed validation, from what its dict names (None:
        it names no entity, e.g. a body that is not JSON)."""
        if not isinstance(raw, dict) or not raw.get("entity_key") or not raw.get("type"):
            return None
        event_type = str(raw["type"])
        payload = raw.get("payload")
        sku = payload.get("sku") if isinstance(payload, dict) else None
        version = raw.get("version")
        return cls(entity_type=ENTITY.get(event_type, event_type.split(".", 1)[0]),
                   entity_key=str(raw["entity_key"])[:64], event_id=str(raw.get("event_id", "")),
                   event_type=event_type[:64],
                   version=version if isinstance(version, int) else 0,
                   arrived_at=arrived_at, outcome=outcome, detail=detail,
                   sku=str(sku) if sku else None)


@dataclass(frozen=True, slots=True)
class LinkState:
    """The entity's link row now (consumers/binder.py ``shopbridge_link``)."""

    entity_type: str
    entity_key: str
    target_id: int | None
    version: int
    stock_version: int
    event_id: str | None
    applied_at: datetime | None


@dataclass(frozen=True, slots=True)
class History:
    """``shopbridge history``: the entity's events, oldest first, and its link rows."""

    entries: tuple[HistoryEntry, ...]
    links: tuple[LinkState, ...]


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """Which entity: by SKU (products), or by entity type and key."""

    sku: str | None = None
    entity_type: str | None = None    # None with a key: any entity type
    entity_key: str | None = None
