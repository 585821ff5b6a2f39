"""The fallback change signal where no triggers are installed: MyISAM's UPDATE_TIME.

MariaDB reports a MyISAM table's UPDATE_TIME from its data file's mtime, so
``information_schema.TABLES`` says, for the price of a few stat() calls, whether any of the
tables a scan reads was written since the scan last ran. An idle CAO then costs one such
query per period instead of a scan of every article. (InnoDB keeps it in memory, NULL after
a restart until the next write, and other servers none at all: such a table always counts
as changed, which is the old polling, never a missed change.)

UPDATE_TIME has whole seconds: a write in the same second as the last look shows the same
value. So a scan is due when the newest UPDATE_TIME is not older than the server's clock
(truncated to the second) at the last look that ran the scan - never a missed write, at
worst one scan too many. Both sides are read in UTC (the session's zone would repeat an hour
when daylight saving ends), and with a second's margin: a file's mtime comes from a coarser
clock than NOW() and can lag it by a tick.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection


class TableClock:
    """Whether any of ``tables`` (real names; None: every table but shopbridge's own) was
    written since ``done`` was last called."""

    def __init__(self, tables: Iterable[str] | None, *, exclude: Iterable[str] = ()) -> None:
        self.tables = None if tables is None else sorted(set(tables))
        self.exclude = sorted(set(exclude))
        self._since: datetime | None = None       # server time of the last completed look
        self._looked: datetime | None = None

    def changed(self, conn: Connection) -> bool:
        """Look (one query); remember the server's time for ``done``."""
        if self.tables is None:
            which = "TABLE_NAME NOT LIKE %s" + "".join(
                " AND TABLE_NAME <> %s" for _ in self.exclude)
            params = ("shopbridge\\_%", *self.exclude)
        else:
            which = f"TABLE_NAME IN ({', '.join(['%s'] * len(self.tables))})"
            params = tuple(self.tables)
        # Views have no UPDATE_TIME and never change by themselves: left out.
        # A NULL of another engine (InnoDB after a restart, or a server that keeps none)
        # says nothing: such a table always counts as changed, as if there were no gate.
        conn.exec_driver_sql("SET @shopbridge_tz = @@session.time_zone, time_zone = '+00:00'")
        try:
            newest, unknown, now = conn.exec_driver_sql(
                f"SELECT MAX(UPDATE_TIME), "
                f"SUM(UPDATE_TIME IS NULL AND ENGINE NOT IN ('MyISAM', 'Aria')), NOW() "
                f"FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
                f"AND TABLE_TYPE = 'BASE TABLE' AND {which}", params).one()
        finally:
            conn.exec_driver_sql("SET time_zone = @shopbridge_tz")
        conn.commit()
        self._looked = now.replace(microsecond=0)
        if self._since is None or unknown:
            return True
        return newest is not None and bool(newest >= self._since - timedelta(seconds=1))

    def done(self) -> None:
        """The scan the last ``changed`` allowed has finished: later looks compare with it."""
        self._since = self._looked

    def reset(self) -> None:
        """Forget: the next look says changed (e.g. after an outage)."""
        self._since = None
