"""What every applier returns to the consume loop (``ApplyResult``), and how a batch that
fails whole is applied in parts (``apply_in_halves``: the consumer and the dry run).

A shop kind's applier (consumers/shop_applier.py and its kinds) and the ERP's order applier
(consumers/cao/) both satisfy ``Applier``; ``consumers/runner.py`` knows nothing else of them.
The protocol lives in the core (``shopbridge.kinds``), which hands a kind's applier to its
consumer; it is re-exported here for the consumers' own use.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from shopbridge.errors import TargetLocked, TargetUnavailable, TransientDatabaseError
from shopbridge.events import Event
from shopbridge.kinds import Applied, Applier

__all__ = ["Applied", "Applier", "ApplyResult", "apply_in_halves"]


@dataclass
class ApplyResult:
    """The tally of one ``Applier.apply`` call: each event counts once, applied or skipped."""

    applied: int = 0
    skipped: int = 0
    # One line per skipped event: "<event>: why it changed nothing".
    notes: list[str] = field(default_factory=list)
    # Parts of the ERP's data this shop cannot express, counted per product event (e.g.
    # 'tier prices'); the consumer reports them, `shopbridge check` explains them.
    unsupported: Counter[str] = field(default_factory=Counter)
    # (event type, "applied" | "skipped") -> events: the metrics' breakdown.
    by_type: Counter[tuple[str, str]] = field(default_factory=Counter)

    def count(self, event: Event, note: str | None) -> None:
        """Count one event: applied where ``note`` is None, else skipped for that reason."""
        if note is None:
            self.applied += 1
            self.by_type[(event.type, "applied")] += 1
        else:
            self.skipped += 1
            self.by_type[(event.type, "skipped")] += 1
            self.notes.append(f"{event}: {note}")

    def add(self, other: ApplyResult) -> None:
        """Count ``other``'s events too (a part of the batch tallied on its own)."""
        self.applied += other.applied
        self.skipped += other.skipped
        self.notes += other.notes
        self.unsupported.update(other.unsupported)
        self.by_type.update(other.by_type)

    def count_batch(self, events: Sequence[Event], notes: Sequence[str]) -> None:
        """Count a writer's batch: each note (already naming its event) is one event that
        changed nothing, the others were applied."""
        self.skipped += len(notes)
        self.applied += len(events) - len(notes)
        self.notes += notes
        types = {e.type for e in events}
        skipped: Counter[str] = Counter()
        if len(types) == 1:
            skipped[types.pop()] = len(notes)
        else:       # mixed (upserted and deleted): each note begins with its event
            named = {f"{event}:": event.type for event in events}
            for note in notes:
                skipped[next((t for prefix, t in named.items() if note.startswith(prefix)),
                             events[0].type)] += 1
        for event_type, n in Counter(e.type for e in events).items():
            self.by_type[(event_type, "skipped")] += skipped[event_type]
            self.by_type[(event_type, "applied")] += n - skipped[event_type]


# Events that fail alone before the rest of a batch goes one event at a time: halving finds a
# few poison events cheaply, but many of them (a whole product group with an unmapped tax
# code) cost more calls halved than one by one.
HALVING_FAILURES = 2


def apply_in_halves(events: Sequence[Event], apply: Callable[[Sequence[Event]], object],
                    failed: Callable[[Event, Exception], None], *,
                    split: Callable[[Sequence[Event], Exception], None] | None = None) -> None:
    """Apply ``events`` in one call; where that fails, each half in a call of its own, and so
    on down to the single events that fail by themselves, which go to ``failed``.

    A batch fails whole when one event cannot be applied (an unmapped tax code; a product
    whose category another consumer has not committed yet). Applying every event of it alone
    cost one transaction per event: a poison event in a batch of 500 now costs about
    2 x log2(500) = 19 calls. Halves keep the batch's order, as the one-by-one fallback did.
    Where halving stops paying, a failed part is applied one event at a time instead:

    - once ``HALVING_FAILURES`` events have failed alone (many poison events: at most about
      n + 2 x log2(n) calls for n events, where every event fails);
    - for a lock held elsewhere or a lock wait that outlasted the in-process retries
      (``TargetLocked``, ``TransientDatabaseError``): every part holding that event would
      wait for it again.

    Args:
        apply: one call of the applier (or the consumer's wrapper of it).
        failed: an event that failed alone, and why.
        split: told of each failed call of more than one event before it is divided.

    Raises:
        TargetUnavailable: from ``apply``; the database is away, no event is at fault.
    """
    # A work list, not a recursive closure: a closure that calls itself is a reference cycle
    # that kept every batch's events alive until the collector's next full pass.
    failures = 0
    waiting: list[Sequence[Event]] = [events] if events else []    # the next part last
    while waiting:
        part = waiting.pop()
        try:
            apply(part)
            continue
        except TargetUnavailable:
            raise
        except Exception as err:
            if len(part) == 1:
                failures += 1
                failed(part[0], err)
                continue
            if split is not None:
                split(part, err)
            one_by_one = (failures >= HALVING_FAILURES
                          or isinstance(err, TargetLocked | TransientDatabaseError))
        if one_by_one:
            waiting += [[event] for event in reversed(part)]
        else:
            half = (len(part) + 1) // 2
            waiting += [part[half:], part[:half]]
