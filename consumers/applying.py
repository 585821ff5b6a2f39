"""What every applier is to the consume loop: the ``Applier`` protocol and its ``ApplyResult``.

A shop kind's applier (consumers/shop_applier.py and its kinds) and the ERP's order applier
(consumers/cao/) both satisfy ``Applier``; ``consumers/runner.py`` knows nothing else of them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from shopbridge.events import Event


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

    def count(self, event: Event, note: str | None) -> None:
        """Count one event: applied where ``note`` is None, else skipped for that reason."""
        if note is None:
            self.applied += 1
        else:
            self.skipped += 1
            self.notes.append(f"{event}: {note}")

    def count_batch(self, events: Sequence[Event], notes: Sequence[str]) -> None:
        """Count a writer's batch: each note (already naming its event) is one event that
        changed nothing, the others were applied."""
        self.skipped += len(notes)
        self.applied += len(events) - len(notes)
        self.notes += notes


class Applier(Protocol):
    """Applies a target's events to its database (a shop's, or the tenant's ERP)."""

    @property
    def what(self) -> str:
        """Names the target database in log lines, e.g. "database of shop 'web' (...)"."""
        ...

    def prepare(self) -> None:
        """Make sure of the own tables and read what applying needs from the target.

        Raises:
            ConfigError: the target lacks what the configuration names.
            TargetUnavailable: the database is away (the consumer waits for it).
        """
        ...

    def apply(self, events: Sequence[Event]) -> ApplyResult:
        """Apply coalesced events (each newest of its entity and aspect).

        Raises:
            ShopbridgeError: the batch failed; the consumer applies its events one by one.
        """
        ...

    def idle(self) -> None:
        """Time-driven work (specials due, unsent e-mails, changed image files); the
        consumer calls it every few seconds, busy or not. May do nothing."""
        ...

    def close(self) -> None:
        """Release the database connections."""
        ...
