"""Event types the VirtueMart kind does not write yet: order statuses (with VM's stock,
history and mail side effects) are issue 12.

Their writer refuses every event with a ``MappingError`` naming it, so that the event is
dead-lettered (and can be replayed once issue 12 is in) instead of being acknowledged and
lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.engine import Connection

from shopbridge.errors import MappingError
from shopbridge.events import Event

ISSUE = "issue 12"


class NotYetSupported:
    """An ``EntityWriter`` that refuses its events (see the module docstring)."""

    def __init__(self, what: str) -> None:
        self.what = what

    def apply(self, conn: Connection, events: Sequence[Event], now: datetime) -> list[str]:
        """Raises:
            MappingError: always, naming the first event (the runner isolates each)."""
        event = events[0]
        raise MappingError(f"{event}: {self.what} are not supported by virtuemart yet "
                           f"({ISSUE}); the event is kept in the dead-letter queue for replay")
