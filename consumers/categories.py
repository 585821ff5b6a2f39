"""How every shop kind applies a batch of category events (C1); a kind supplies only its rows.

The flow is the same in every shop: events of another CAO shop are skipped, a wrong
``entity_key`` or a category that is its own parent is refused, per category only the batch's
newest event counts, parents are written before their children whatever the arrival order
(``batch_depths``), stale events are skipped (``plan.newer``), and a hidden, deleted or
not-shown category keeps its shop row (products and child categories keep their ids) but is
hidden the shop's way. A parent that is neither in the shop nor in the batch raises
``DependencyMissing`` (the consumer retries later).

The shop kind supplies ``upsert`` (write one category below a known parent id, 0 at the top)
and ``hide`` (make an existing shop category invisible); see ``apply_categories``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from sqlalchemy.engine import Connection

from shopbridge.config import ShopConfig
from shopbridge.errors import DependencyMissing, MappingError
from shopbridge.events import Event, coalesce
from shopbridge.keys import SHOP_CATEGORIES, category_key

from .binder import Binder, Link
from .catalogue import CATEGORY, batch_depths, parent_key
from .plan import newer

UPSERTED, DELETED = "category.upserted", "category.deleted"

# (event, its link, the shop id of its parent or 0) -> a note if nothing changed, else None
Upsert = Callable[[Event, Link, int], str | None]
# shop category id -> None: the category exists in the shop and is to be hidden
Hide = Callable[[int], None]


def apply_categories(conn: Connection, events: Sequence[Event], *, shop: ShopConfig,
                     binder: Binder, shown: Callable[[Event], bool], upsert: Upsert,
                     hide: Hide) -> list[str]:
    """Apply a batch of category events in the caller's transaction; returns notes on what
    was skipped.

    Args:
        shown: whether this shop shows the event's category tree (``payload.source``); a
            category of the other tree is hidden if the shop has it (after a switch) and
            otherwise not created.
        upsert: writes one shown ``category.upserted``; sets ``link.target_id`` and
            ``link.content_hash`` or returns a note (e.g. "unchanged").
        hide: hides a category the shop has (``category.deleted``, or not shown).
    Raises:
        DependencyMissing: a parent is neither in the shop nor in ``events``.
        MappingError: the payload cannot be expressed in this shop.
    """
    notes: list[str] = []
    mine = []
    for event in events:
        note = foreign_note(event, shop)
        if note:
            notes.append(f"{event}: {note}")
        else:
            mine.append(event)
    # Payloads are full state: per category only the newest event of the batch counts
    # (keyed in order of first arrival).
    latest = {e.entity_key: e for e in coalesce(mine)}
    newest = {e.entity_key: latest[e.entity_key] for e in mine}
    notes += [f"{e}: superseded in this batch by v{newest[e.entity_key].version}"
              for e in mine if e is not newest[e.entity_key]]
    parents = {key: parent_key(e.payload) for key, e in newest.items()
               if e.type == UPSERTED and shown(e)}
    depth = batch_depths(parents)
    links = binder.lock(conn, CATEGORY, set(newest) |
                        {p for p in parents.values() if p is not None})
    for event, link in newer(sorted(newest.values(), key=lambda e: (
            depth.get(e.entity_key, 0), e.entity_key)), links, notes):
        if not shown(event) or event.type == DELETED:
            note = _hide(link, hide)
            if note and not shown(event):
                note = f"{event.payload['source']} are not shown in this shop"
        else:
            note = upsert(event, link, parent_id(event, links, shop))
        if note:
            notes.append(f"{event}: {note}")
    binder.save(conn, links.values())
    return notes


def foreign_note(event: Event, shop: ShopConfig) -> str | None:
    """Why this shop ignores the category event, or None.

    Raises:
        MappingError: the entity_key does not match the payload, or the category is its
            own parent.
    """
    p = event.payload
    wanted = shop.filter.cao_shop_id
    if p["source"] == SHOP_CATEGORIES and wanted is not None and p["shop_id"] != wanted:
        return f"a category of CAO shop {p['shop_id']}, not this one"
    expected = category_key(p["source"], p["shop_id"], p["erp_id"])
    if event.entity_key != expected:
        # Children find their parent by this key: a different one would never resolve.
        raise MappingError(f"{event}: entity_key must be {expected!r} for this payload")
    if event.type == UPSERTED and parent_key(p) == expected:
        raise MappingError(f"{event}: field payload.parent_erp_id: the category "
                           f"{p['name']!r} is its own parent")
    return None


def parent_id(event: Event, links: Mapping[str, Link], shop: ShopConfig) -> int:
    """The shop id of the category's parent; 0 for a top-level category.

    Raises:
        DependencyMissing: the parent has no shop id yet.
    """
    key = parent_key(event.payload)
    if key is None:
        return 0
    parent = links[key].target_id
    if parent is None:
        raise DependencyMissing(
            f"{event}: the parent category {key} of {event.payload['name']!r} is not in "
            f"shop {shop.name!r} yet")
    return int(parent)


MAX_DEPTH = 100         # ancestors walked when checking a move for a loop


def refuse_loop(event: Event, category_id: int, parent_id: int, shop: ShopConfig,
                parent_of: Callable[[int], int | None]) -> None:
    """Refuse to move ``category_id`` below ``parent_id`` while that parent is still below
    it in the shop: shops walk the parents up to the top without a guard (Phoenix's pages,
    VirtueMart's category tree), so a loop would hang them. A later event that moves the
    parent first resolves it.

    Args:
        parent_of: a category's parent id in the shop (0 at the top; None: not there).

    Raises:
        DependencyMissing: the move would make a loop (retried: the parent's move may come).
    """
    current: int | None = parent_id
    for _ in range(MAX_DEPTH):
        if current == category_id:
            raise DependencyMissing(
                f"{event}: moving {event.payload['name']!r} below its parent "
                f"{parent_key(event.payload)} would make a loop, because that parent is "
                f"still below it in shop {shop.name!r}; waiting for the parent's move")
        if not current:
            return
        current = parent_of(current)


def _hide(link: Link, hide: Hide) -> str | None:
    # Never deleted: products may be linked to it, and children keep their parent.
    link.content_hash = None
    if link.target_id is None:
        return "not in the shop; remembered as deleted"
    hide(int(link.target_id))
    return None
