"""What ``produce --follow`` runs at each tick, by how it learns of changes (issue 14).

- triggers (capture.py complete): every ``signal_interval_s`` the change table is read and
  only the articles it names are diffed; the other entities (manufacturers, categories,
  order statuses, customers) every ``full_interval_s`` when a CAO table was written since
  (gate.py); the full snapshot diff every ``proof_interval_s``, the proof that nothing was
  missed (a trigger dropped for a while, a write the handler swallowed).
- gate (no triggers): the stock scan every ``stock_interval_s`` and the full cycle every
  ``full_interval_s``, each only when UPDATE_TIME says a table it reads was written; the
  full cycle also every ``proof_interval_s`` regardless.
- off: the stock scan and the full cycle on their periods, whatever changed (as before).

The mode is chosen again every ``full_interval_s``: triggers installed or dropped while
following take effect then, and a change of mode runs the full cycle first, so that nothing
written between the modes is lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlalchemy as sa

from shopbridge.db import translated
from shopbridge.errors import TargetLocked

from . import capture
from .gate import TableClock

if TYPE_CHECKING:
    from .producer import CaoProducer, CycleReport

log = logging.getLogger(__name__)
BROKER_CHECK_S = 0.5
NO_SUCH_TABLE = 1146


@dataclass
class Follow:
    producer: CaoProducer
    signal: str = "auto"                # producer.SIGNALS
    stock_interval_s: float = 0.5
    full_interval_s: float = 10.0
    signal_interval_s: float = 0.05
    proof_interval_s: float = 900.0
    mode: str = ""                      # triggers, gate, off: the one in use
    next_full: float = 0.0
    next_proof: float = 0.0
    next_choice: float = 0.0
    stock_gate: TableClock | None = None
    all_gate: TableClock = field(default_factory=lambda: TableClock(None))
    other_gate: TableClock | None = None
    next_broker_check: float = 0.0
    next_guard: float = 0.0
    _poll: sa.Connection | None = None

    @property
    def period_s(self) -> float:
        return self.signal_interval_s if self.mode == "triggers" else self.stock_interval_s

    def tick(self) -> CycleReport:
        report = self._tick()
        now = time.monotonic()
        # The oversell guard (B3) on the stock period: the stock scan of "off" refreshes it
        # itself; with triggers or the gate, no CAO write tells of a new reservation.
        if self.mode != "off" and self.producer.guard.enabled and now >= self.next_guard:
            self.next_guard = now + self.stock_interval_s
            report.merge(self.producer.guard_cycle())
        return report

    def _tick(self) -> CycleReport:
        from .producer import CycleReport

        p = self.producer
        now = time.monotonic()
        # The broker first, also when nothing will be published: a broker that is back must
        # be noticed (and logged) as such, and one that is away stops the cycle early. At
        # most twice a second: the change table's 20 reads a second need not ask it each.
        if now >= self.next_broker_check or self.mode != "triggers":
            p.session.connect()
            self.next_broker_check = now + BROKER_CHECK_S
        if now >= self.next_choice:
            self._choose()
            self.next_choice = now + self.full_interval_s
        if self.mode == "off":
            if now >= self.next_full:
                self.next_full = now + self.full_interval_s
                return self._full(articles=True)
            return p.stock_scan()
        if now >= self.next_proof:
            return self._full(articles=True)
        report = CycleReport()
        if self.mode == "triggers":
            if self._waiting():
                p.session.connect()
                report = p.signal_cycle()
            if now >= self.next_full:
                self.next_full = now + self.full_interval_s
                assert self.other_gate is not None
                if self._looked(self.other_gate):
                    report.merge(self._full(articles=False))
            return report
        if now >= self.next_full:
            self.next_full = now + self.full_interval_s
            if self._looked(self.all_gate):
                return self._full(articles=True)
        assert self.stock_gate is not None
        if self._looked(self.stock_gate):
            report = p.stock_scan()
            self.stock_gate.done()
        return report

    def _waiting(self) -> bool:
        """Whether the change table holds a row: one primary-key read on a connection kept
        open (autocommit: each read sees the newest rows, no COMMIT round trip)."""
        p = self.producer
        try:
            if self._poll is None:
                self._poll = p.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            with translated(p.what):
                try:
                    return capture.waiting(self._poll)
                except sa.exc.ProgrammingError as err:
                    if getattr(err.orig, "args", (None,))[0] != NO_SUCH_TABLE:
                        raise
                    log.warning("%s: table %s was removed: choosing the change signal again",
                                p.what, capture.CHANGE_TABLE)
                    self.next_choice = 0.0
                    return False
        except Exception:
            self.close()          # a fresh connection after an outage
            raise

    def close(self) -> None:
        if self._poll is not None:
            with suppress(Exception):
                self._poll.close()
            self._poll = None

    def _looked(self, gate: TableClock) -> bool:
        with translated(self.producer.what), self.producer.engine.connect() as conn:
            return gate.changed(conn)

    def _choose(self) -> None:
        p = self.producer
        with translated(p.what), p.engine.connect() as conn:
            if not p.source.t:
                p.source.resolve(conn)
            found = capture.state(conn)
            conn.commit()
        if self.stock_gate is None:
            self.stock_gate = TableClock([p.source.t["ARTIKEL"].strip("`")])
        if self.signal in ("off", "gate"):
            mode = self.signal
        else:
            mode = "triggers" if found.complete or found.assumed else "gate"
        if self.other_gate is None:     # the tables the triggers do not watch
            self.other_gate = TableClock(None, exclude=[t.table for t in found.wanted])
        if self.signal == "triggers" and not found.complete and mode != self.mode:
            log.warning("%s: %s; following with the UPDATE_TIME gate until they are "
                        "complete ('shopbridge capture --install')", p.what, found.describe())
        if mode != self.mode:
            if self.mode:
                log.info("%s: change signal now %s (was %s): %s", p.what, mode, self.mode,
                         found.describe())
            else:
                log.info("%s: following with change signal %s (%s)", p.what, mode,
                         found.describe())
            self.mode = mode
            p.signalled = mode == "triggers"
            self.next_proof = 0.0       # the full cycle first: nothing between the modes lost
            for gate in (self.all_gate, self.stock_gate, self.other_gate):
                if gate is not None:
                    gate.reset()

    def _full(self, *, articles: bool) -> CycleReport:
        """The full cycle (``articles``; it consumes the change rows it covered) or the
        other entities' part of it."""
        p = self.producer
        gates = [g for g in (self.all_gate, self.other_gate,
                             self.stock_gate if articles else None) if g is not None]
        with translated(p.what), p.engine.connect() as conn:
            for gate in gates:
                gate.changed(conn)      # the look the scan's "done" compares with
        try:
            # No waiting: the ticks of this loop must not stop behind a sync's cycle.
            report = p.run_once(lock_wait_s=0, articles=articles)
        except TargetLocked as err:
            log.info("full cycle skipped: %s", err)
            return p.signal_cycle() if self.mode == "triggers" else p.stock_scan()
        for gate in gates:
            gate.done()
        if articles:
            self.next_proof = time.monotonic() + self.proof_interval_s
        self.next_full = time.monotonic() + self.full_interval_s
        return report


def run(follow: Follow, *, stop_wait: Callable[[float], object],
        ride: Callable[[Callable[[], CycleReport]], CycleReport | None],
        on_cycle: Callable[[CycleReport], None] | None) -> None:
    """Tick until stopped (``ride`` returns None); the period is a period, not a pause."""
    try:
        while not follow.producer.stop_event.is_set():
            now = time.monotonic()
            report = ride(follow.tick)
            if report is None:
                return
            if on_cycle is not None:       # every cycle, also one that found nothing
                on_cycle(report)
            stop_wait(max(0.0, follow.period_s - (time.monotonic() - now)))
    finally:
        follow.close()
