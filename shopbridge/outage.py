"""Riding out outages: a long-running command waits for its broker or database and says so
once per outage.

When RabbitMQ or a database goes away, every try fails the same way until it is back, so a
long-running command (``produce --follow``, ``orders produce --follow``, ``consume``) waits
with exponential backoff instead of exiting, and logs one warning when the outage starts
(naming what is away and why) and one info line when it is over (with its duration); the
tries in between are silent. One-shot commands do not use this: they fail fast with the
exit code (broker 3, database 4).

Usage: one ``Outages`` per process names its broker and database; ``ride_out(fn, ...)`` calls
``fn`` until it gets through. Model: kombu's ``Connection.ensure`` (retry with an errback per
failure) and dramatiq's ``RabbitmqBroker`` reconnect loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    wait_exponential,
)

from .errors import AccessDenied, BrokerUnavailable, TargetUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

BACKOFF_FIRST_S = 0.5          # first pause after a failed try
BACKOFF_MAX_S = 15.0           # longest pause between two tries: the outage ends this late at most
AWAY = (BrokerUnavailable, TargetUnavailable)

BROKER = "broker"
DATABASE = "database"


def kind_of(err: BaseException | type[BaseException]) -> str:
    """Which side an outage error (or error class) is about: ``broker`` or ``database``."""
    cls = err if isinstance(err, type) else type(err)
    return BROKER if issubclass(cls, BrokerUnavailable) else DATABASE


class Outages:
    """What is away right now, and since when; says so once per outage.

    Args:
        broker: how log lines name the broker (a URL with the password masked).
        database: how log lines name the database (e.g. "CAO database of tenant 'acme'
            (mysql+pymysql://shopbridge:***@db/cao)").
        logger: where the two lines of an outage go.
    """

    def __init__(self, *, broker: str, database: str,
                 logger: logging.Logger | None = None) -> None:
        self.names = {BROKER: f"broker {broker}", DATABASE: database}
        self.log = logger or log
        self._since: dict[str, float] = {}
        self.count = 0             # outages started (for tests and summaries)

    @property
    def away(self) -> frozenset[str]:
        return frozenset(self._since)

    def begin(self, err: BaseException) -> None:
        """A try failed because ``err``'s side is away: a warning if this starts an outage."""
        kind = kind_of(err)
        if kind in self._since:
            return
        self._since[kind] = time.monotonic()
        self.count += 1
        name = self.names[kind]
        reason = str(err).removeprefix(f"{name}: ")   # database errors start with the name
        if isinstance(err, AccessDenied):
            # Not an outage a wait ends: someone must act, so say what to do.
            self.log.warning("paused, a grant is missing%s (%s); nothing is dead-lettered: "
                             "GRANT it and this resumes by itself",
                             f": {err.grant}" if err.grant else "", reason)
            return
        self.log.warning("%s is unavailable (%s); waiting for it, retrying with backoff "
                         "(at most every %.0f s)", name, reason, BACKOFF_MAX_S)

    def end(self, *kinds: str) -> None:
        """The sides ``kinds`` (default: all) answered again: an info line per outage ended."""
        for kind in kinds or tuple(self._since):
            since = self._since.pop(kind, None)
            if since is not None:
                self.log.info("%s is back after %.1f s", self.names[kind],
                              time.monotonic() - since)


def ride_out(fn: Callable[[], T], *, outages: Outages, stop_event: threading.Event,
             away: tuple[type[BaseException], ...] = AWAY,
             on_retry: Callable[[BaseException], None] | None = None,
             first_s: float = BACKOFF_FIRST_S, max_s: float = BACKOFF_MAX_S) -> T:
    """Call ``fn`` until it returns without one of the ``away`` errors, with backoff.

    Each failure of a kind not already away starts an outage (one warning); success ends
    the outages of the kinds ``fn`` waits for (one info line each).

    Args:
        fn: one unit of work that either gets through or fails as a whole (one producer
            cycle, one batch, one connect).
        outages: the process's outage book.
        stop_event: set by a signal handler; the backoff sleeps on it, and once it is set
            the last error is raised instead of another try.
        away: the errors that mean "wait for it"; anything else propagates at once.
        on_retry: called with each error before the pause (e.g. to count the pauses).
        first_s, max_s: the first and the longest pause; the pauses double in between.

    Raises:
        the last ``away`` error, when ``stop_event`` was set during the outage.
    """

    def before_sleep(state: RetryCallState) -> None:
        assert state.outcome is not None
        err = state.outcome.exception()
        assert err is not None
        outages.begin(err)
        if on_retry is not None:
            on_retry(err)

    def pause(seconds: float) -> None:  # a signal ends the pause at once
        stop_event.wait(seconds)

    retrying = Retrying(
        retry=retry_if_exception_type(away),
        wait=wait_exponential(multiplier=first_s, min=first_s, max=max_s),
        stop=lambda state: stop_event.is_set(),
        sleep=pause,
        before_sleep=before_sleep,
        reraise=True,
    )
    result = retrying(fn)
    outages.end(*{kind_of(cls) for cls in away})
    return result
