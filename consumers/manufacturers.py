"""How every shop kind applies a batch of manufacturer events (C2); a kind supplies its rows.

``manufacturer.deleted`` deletes nothing in any shop: products (and through them past orders)
reference the manufacturer. Only the event's version is recorded (``plan.newer`` does so
even where the shop's rows stay as they are), so that an older ``manufacturer.upserted``
arriving late cannot bring back a stale state (R3). A manufacturer of another CAO shop is
skipped; one that moves to another CAO shop likewise stays.

A manufacturer's URL per shop language follows one rule in every shop (``language_urls``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection

from shopbridge.config import ShopConfig
from shopbridge.events import Event

from .binder import Binder, Link
from .plan import content_hash, newer_in_batch, unchanged

ENTITY = "manufacturer"
DELETED = "manufacturer.deleted"


def apply_manufacturers(conn: Connection, events: Sequence[Event], *, shop: ShopConfig,
                        binder: Binder, languages: Any,
                        write: Callable[[Event, Link], None]) -> list[str]:
    """Apply a batch of manufacturer events in the caller's transaction; returns notes on
    what changed nothing.

    Args:
        languages: the shop's languages as the kind knows them (JSON-able). They are part
            of what is written: a language added to the shop makes the next event write
            its row.
        write: writes one new or changed manufacturer and sets ``link.target_id``.
    """
    notes: list[str] = []
    for event, link in newer_in_batch(conn, binder, ENTITY, events, notes):
        if event.type == DELETED:
            link.content_hash = None
            notes.append(f"{event}: kept in the shop (products may reference it)")
            continue
        payload = event.payload
        wanted = shop.filter.cao_shop_id
        if wanted is not None and payload["shop_id"] != wanted:
            notes.append(f"{event}: a manufacturer of CAO shop {payload['shop_id']}, "
                         "not this one")
            continue
        content = content_hash({"payload": payload, "languages": languages})
        if unchanged(link, content, event):
            notes.append(f"{event}: unchanged")
            continue
        write(event, link)
        link.content_hash = content
    return notes


def language_urls(urls: Mapping[str, str], codes: Sequence[str]) -> list[str]:
    """The manufacturer's URL for each shop language code, in order: the payload's URL of
    that language, else of the shop's first language that has one, else the first URL of the
    payload (by language code), else '' (shops keep the column NOT NULL)."""
    fallback = next((urls[c] for c in codes if urls.get(c)), None)
    if fallback is None:
        fallback = next((urls[c] for c in sorted(urls) if urls[c]), "")
    return [urls.get(code) or fallback for code in codes]
