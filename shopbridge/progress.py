"""Progress of a long command (``shopbridge sync``): a bar with rate and ETA per scan on a
terminal (tqdm), plain log lines (at most one every ``LOG_EVERY_S``, and the last) anywhere
else, so that container logs show how far a sync is without a wall of carriage returns."""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

log = logging.getLogger(__name__)
LOG_EVERY_S = 5.0


@dataclass
class _Line:
    started: float
    start_done: int
    last_log: float = 0.0


@dataclass
class Progress:
    """``update(scan, done, total)`` after each page; ``close()`` at the end."""

    what: str
    terminal: bool = field(default_factory=lambda: sys.stderr.isatty())
    _bars: dict[str, Any] = field(default_factory=dict)
    _lines: dict[str, _Line] = field(default_factory=dict)

    def update(self, scan: str, done: int, total: int) -> None:
        if self.terminal:
            bar = self._bars.get(scan)
            if bar is None:
                bar = self._bars[scan] = tqdm(total=max(total, done), initial=done,
                                              desc=f"{self.what} {scan}", unit="event",
                                              dynamic_ncols=True, file=sys.stderr)
            bar.total = max(bar.total or 0, total, done)
            bar.update(done - bar.n)
            return
        now = time.monotonic()
        line = self._lines.get(scan)
        if line is None:
            line = self._lines[scan] = _Line(started=now, start_done=done)
        if now - line.last_log < LOG_EVERY_S and done < total:
            return
        line.last_log = now
        rate = (done - line.start_done) / max(now - line.started, 1e-6)
        eta = f", ETA {(total - done) / rate:.0f} s" if rate > 0 and total > done else ""
        percent = f" ({100 * done / total:.0f} %)" if total else ""
        log.info("%s %s: %d/%d%s, %.0f/s%s", self.what, scan, done, total, percent, rate, eta)

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()
