"""``shopbridge sync --dry-run`` (B2): the events a full sync of one shop would republish,
built as ``CaoProducer.resync`` builds them and kept in memory. Nothing is published, no
progress is recorded in ``shopbridge_resync``, the snapshot is not touched.

Unlike the real sync, no regular producer cycle runs first: that cycle publishes to every
shop. The republished events carry the ERP's current data (at the version the shops have),
so changed articles are covered; new articles that were never published, and deletions, are
what only that cycle would bring (``produce`` publishes them).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any, cast

from sqlalchemy.engine import Connection

from shopbridge import events as ev
from shopbridge.config import ShopConfig
from shopbridge.db import has_table, translated
from shopbridge.errors import ConfigError
from shopbridge.publisher import OutMessage

from .producer import CaoProducer, CycleReport, ResyncRun
from .resync import ResyncProgress, ScanProgress
from .snapshot import SNAPSHOT_TABLE


class _Kept:
    """Stands in for the producer's broker session: keeps what would be published."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def publish(self, messages: Iterable[OutMessage]) -> int:
        count = 0
        for message in messages:
            self.events += ev.decode(message.body)
            count += 1
        return count

    def connect(self) -> None:
        pass

    def close(self) -> None:
        pass


class _Unrecorded(ResyncProgress):
    """Progress kept in memory: every scan from the start, nothing written."""

    def begin(self, conn: Connection, entities: Iterable[str]) -> bool:
        return False

    def start(self, conn: Connection, scan: str) -> ScanProgress:
        self.scans[scan] = ScanProgress(scan)
        return self.scans[scan]

    def page(self, conn: Connection, scan: str, after: int, published: int) -> None:
        progress = self.scans[scan]
        progress.after, progress.now = after, progress.now + published

    def finish(self, conn: Connection, scan: str) -> None:
        pass


def resync_events(producer: CaoProducer, shop: ShopConfig, entities: Collection[str]
                  ) -> tuple[list[dict[str, Any]], list[str]]:
    """The events ``shopbridge sync --shop`` would republish into the shop's queue, and the
    lines of those the producer would reject.

    Raises:
        ConfigError: the shop is inactive.
        TargetUnavailable: the CAO database is away.
    """
    if not shop.active:
        raise ConfigError(f"shop {shop.name!r} is inactive (active = false)")
    kept = _Kept()
    producer.session = cast(Any, kept)
    report = CycleReport()
    with translated(producer.what), producer.engine.connect() as conn:
        if not has_table(conn, SNAPSHOT_TABLE):
            return [], []       # nothing was ever published: a sync republishes nothing
        producer.source.resolve(conn)
        producer.guard.read_open(conn)     # B3: the stock the sync would send, reserved
        conn.commit()
        producer._resync = ResyncRun(
            queue="", entities=frozenset(entities), progress=_Unrecorded(shop.name),
            totals={}, on_page=lambda scan, done, total: None)
        try:
            for scan in _SCANS:
                scan(producer, conn, report)
        finally:
            producer._resync = None
    return kept.events, list(report.rejected)


# The resync's own scans, in its order (``CaoProducer.resync``), driven with a progress that
# writes nothing and a session that publishes nothing.
_SCANS: Sequence[Any] = (CaoProducer._scan_manufacturers,
                         CaoProducer._scan_categories,
                         CaoProducer._scan_articles,
                         CaoProducer._scan_customers)
