"""shopbridge commands as child processes, as a supervisor runs them, and the log lines
that tell an outage (tests/integration/test_outages.py, test_two_shop_kinds.py)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

UNAVAILABLE = re.compile(r" WARNING .* is unavailable \(")
BACK = re.compile(r" INFO .* is back after (\d+\.\d) s")


class Service:
    """A shopbridge command as a child process; its output goes to files in ``tmp``."""

    def __init__(self, config: Path, args: list[str], tmp: Path, label: str) -> None:
        self.label = label
        self.out, self.err = tmp / f"{label}.out", tmp / f"{label}.err"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "shopbridge", "-c", str(config), *args],
                cwd=REPO, stdout=out, stderr=err, stdin=subprocess.DEVNULL)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        return (self.out.read_text(errors="replace") + self.err.read_text(errors="replace"))

    def lines(self, pattern: re.Pattern[str]) -> list[str]:
        return [line for line in self.log().splitlines() if pattern.search(line)]

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, as a supervisor stops a service; returns the exit code."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise AssertionError(f"{self.label} ignored SIGTERM:\n{self.tail()}") from None

    def tail(self) -> str:
        return f"--- {self.label} ---\n{self.log()[-3000:]}"
