"""The per-aspect version rule every shop kind applies events by.

Payloads are full state and versions strictly increase per entity (DESIGN 1), so an event
changes nothing when its aspect already holds a version at least as new. Aspects are versioned
apart in the link row (consumers/binder.py): the stock in ``stock_version``, every other aspect
(the entity's state: product, category, manufacturer, customer, order status) in ``version``,
so a stock event can never make a newer text change look stale.

An event that is new may still change nothing: the link row keeps a hash of what was last
written (``content_hash``), and a payload with the same hash is ``unchanged``.

This module is the one place that compares an event's version with an applied one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import orjson
from sqlalchemy.engine import Connection

from shopbridge.events import Event

from .binder import Binder, Link

STOCK = "stock"


class EntityWriter(Protocol):
    """What a shop kind writes one entity type with (manufacturers, categories, customers...)."""

    def apply(self, conn: Connection, events: Sequence[Event], now: datetime) -> list[str]:
        """Apply ``events`` inside the caller's transaction; returns one note per event that
        changed nothing (stale, unchanged, not for this shop)."""
        ...


def applied_version(link: Link, aspect: str) -> int:
    """The version of ``aspect`` the link row records as applied."""
    return link.stock_version if aspect == STOCK else link.version


def is_stale(link: Link, event: Event, aspect: str | None = None) -> bool:
    """Whether ``event`` is no newer than what ``link`` holds for the aspect. A full sync's
    event (``Event.resync``) at the very version applied is not stale: it is applied again.

    Args:
        aspect: which state to judge; None: the event's main aspect (``Event.aspect``).
    """
    applied = applied_version(link, aspect or event.aspect)
    return event.version < applied or (event.version == applied and not event.resync)


def stale_note(link: Link, event: Event, aspect: str | None = None) -> str | None:
    """Why ``event`` changes nothing in this aspect (see ``is_stale``), or None if it is new."""
    aspect = aspect or event.aspect
    if not is_stale(link, event, aspect):
        return None
    what = "stock already applied" if aspect == STOCK else "already applied"
    return f"{what} (v{event.version} <= v{applied_version(link, aspect)})"


def superseded(conn: Connection, binder: Binder, events: Iterable[Event]) -> list[str]:
    """The ids of ``events`` that are stale in every aspect they set (read only): applying
    them would change nothing."""
    events = list(events)
    by_entity: dict[str, set[str]] = {}
    for event in events:
        by_entity.setdefault(event.entity, set()).add(event.entity_key)
    links = {(entity, key): link for entity, keys in by_entity.items()
             for key, link in binder.peek(conn, entity, keys).items()}
    return [event.event_id for event in events
            if (link := links.get((event.entity, event.entity_key))) is not None
            and all(is_stale(link, event, aspect) for aspect in event.aspects)]


def newer(events: Iterable[Event], links: Mapping[str, Link],
          notes: list[str]) -> Iterator[tuple[Event, Link]]:
    """The events that are newer than their link in their main aspect, in the given order,
    each with its link and already recorded as applied (``mark_applied``); a note is
    appended to ``notes`` for each stale one."""
    for event in events:
        link = links[event.entity_key]
        stale = stale_note(link, event)
        if stale:
            notes.append(f"{event}: {stale}")
            continue
        mark_applied(link, event)
        yield event, link


def newer_in_batch(conn: Connection, binder: Binder, entity: str, events: Sequence[Event],
                   notes: list[str], *,
                   keep: Callable[[list[Event], list[str]], Iterable[Event]] | None = None
                   ) -> Iterator[tuple[Event, Link]]:
    """A writer's batch of one entity type, through ``newer``: the link rows locked, the
    events by key and version (each entity's versions oldest first, so the newest wins),
    those ``keep`` keeps (it notes what it drops), each non-stale one with its link. The
    links are saved once the writer has gone through all of them; a writer that raises
    leaves them to the rolled-back transaction."""
    links = binder.lock(conn, entity, (e.entity_key for e in events))
    ordered = sorted(events, key=lambda e: (e.entity_key, e.version))
    yield from newer(keep(ordered, notes) if keep else ordered, links, notes)
    binder.save(conn, links.values())


def mark_applied(link: Link, event: Event) -> None:
    """Record ``event`` as the newest state of its entity (saved with the batch's links)."""
    link.version, link.event_id, link.dirty = event.version, event.event_id, True


def content_hash(data: Any) -> str:
    """The hash of what a writer puts into the shop (a JSON-able value; dict keys sorted)."""
    return hashlib.md5(orjson.dumps(data, option=orjson.OPT_SORT_KEYS),
                       usedforsecurity=False).hexdigest()


def unchanged(link: Link, content: str, event: Event) -> bool:
    """Whether the shop already holds ``content`` (``content_hash``) for this link. Never for
    a full sync's event: it rewrites what the shop may have lost or changed by hand."""
    return content == link.content_hash and link.target_id is not None and not event.resync
