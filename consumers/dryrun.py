"""Dry run (B2): apply events to a shop inside one transaction, read what changed, roll back.

Every transaction the applier would begin becomes a savepoint of one held transaction (the
core's writers each take their own; a failing one rolls back to its savepoint, as the real
run rolls back its transaction). Work outside the database is described instead of done
(``ShopApplier.dry_outside``: image files, VirtueMart's caches, status e-mails). What the
transaction changed is compared, table by table, with a connection that took a consistent
snapshot before the apply (shopbridge/rowdiff.py); then everything is rolled back.

Refused, before anything is applied, where that would not hold: a table of the shop's
database that is not transactional (MyISAM: a rollback would not undo it), or an own table
of shopbridge missing or outdated (making it is DDL, which commits).

What a rollback leaves behind, as every rolled-back transaction does: InnoDB's
AUTO_INCREMENT counters have moved on, so the real run gives new rows the next free ids, not
the ones the dry run showed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy.engine import Connection

from shopbridge import events as ev
from shopbridge.db import columns_of, translated
from shopbridge.errors import DryRunRefused
from shopbridge.owntables import OwnTable
from shopbridge.rowdiff import DryRunReport, base_tables, compare, not_transactional

from .applying import apply_in_halves
from .history import HISTORY_TABLE
from .shop_applier import ShopApplier

# The record of what became of each event is not the shop's state; the dry run keeps none.
LEFT_OUT = frozenset({HISTORY_TABLE})


class _HeldEngine:
    """Stands in for the applier's engine during a dry run: one connection, one transaction;
    each ``begin`` a savepoint of it."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.conn.begin_nested():
            yield self.conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        yield self.conn

    def dispose(self) -> None:
        pass


def refusal(conn: Connection, shop: str, own_tables: Sequence[OwnTable]) -> str | None:
    """Why a dry run of this shop's database cannot promise to write nothing, or None."""
    loose = not_transactional(base_tables(conn))
    if loose:
        more = f" and {len(loose) - 5} more" if len(loose) > 5 else ""
        return (f"dry run of shop {shop!r} refused: {', '.join(loose[:5])}{more} not "
                f"transactional, a rollback would not undo what the dry run writes (convert "
                f"to InnoDB, or dry-run a copy of the database)")
    missing = [t.name for t in own_tables if t.missing_columns(columns_of(conn, t.name))]
    if missing:
        return (f"dry run of shop {shop!r} refused: shopbridge's table(s) "
                f"{', '.join(missing)} missing or outdated; run 'shopbridge setup' first "
                f"(a dry run creates nothing)")
    return None


def refuse_unless_safe(applier: ShopApplier[Any], own_tables: Sequence[OwnTable]) -> None:
    """Raises DryRunRefused where ``refusal`` finds a reason (before a queue is touched)."""
    with translated(applier.what), applier.engine.connect() as conn:
        why = refusal(conn, applier.shop.name, own_tables)
    if why:
        raise DryRunRefused(why)


def dry_apply(applier: ShopApplier[Any], batches: Sequence[Sequence[ev.Event]], *,
              own_tables: Sequence[OwnTable], report: DryRunReport) -> DryRunReport:
    """Apply ``batches`` (each coalesced) as the consumer would, and roll back; fills
    ``report`` with the rows the apply changed and the work outside the database it would
    have done.

    Raises:
        DryRunRefused: see ``refusal``; nothing was applied.
        TargetUnavailable: the shop's database is away.
    """
    engine = applier.engine
    with translated(applier.what):
        with engine.connect() as conn:
            why = refusal(conn, applier.shop.name, own_tables)
            tables = [t for t in base_tables(conn) if t not in LEFT_OUT]
        if why:
            raise DryRunRefused(why)
        applier.prepare()       # the own tables are complete: reads only
        with engine.connect() as conn:
            made = sorted(set(base_tables(conn)) - set(tables) - LEFT_OUT)
        if made:    # a kind whose own_tables leaves one out: said, not hidden
            report.notes.append(f"the consumer's start made the missing table(s) "
                                f"{', '.join(made)} (empty); run 'shopbridge setup'")
        before = engine.connect().execution_options(isolation_level="REPEATABLE READ")
        held = engine.connect()
        try:
            before.exec_driver_sql("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            outer = held.begin()
            applier.engine = cast(Any, _HeldEngine(held))
            applier.dry_outside = report.outside
            try:
                for batch in batches:
                    _apply(applier, batch, report)
                report.changes = compare(before, held, tables)
            finally:
                applier.engine, applier.dry_outside = engine, None
                outer.rollback()
        finally:
            held.close()
            before.rollback()
            before.close()
    return report


def _apply(applier: ShopApplier[Any], batch: Sequence[ev.Event], report: DryRunReport) -> None:
    """One batch as consumers/runner.py applies it: whole, or in halves when it fails."""
    apply_in_halves(batch, lambda events: _count(applier.apply(events), report),
                    lambda event, err: report.failed.append(
                        f"{event}: {type(err).__name__}: {err}"))


def _count(result: Any, report: DryRunReport) -> None:
    report.applied += result.applied
    report.skipped += result.skipped
