"""Log context: fields bound once per message appear on every line logged inside.

``bound(shop=..., event_id=...)`` sets them for a block and restores the previous ones after;
the filter appends them as ``key=value``. Model: structlog's bound_contextvars.
"""

from __future__ import annotations

import contextvars
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

_fields: contextvars.ContextVar[dict[str, object] | None] = contextvars.ContextVar(
    "shopbridge_log", default=None)


@contextmanager
def bound(**fields: object) -> Iterator[None]:
    token = _fields.set({**(_fields.get() or {}), **fields})
    try:
        yield
    finally:
        _fields.reset(token)


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        fields = _fields.get() or {}
        record.context = "".join(f" {k}={v}" for k, v in fields.items()) if fields else ""
        return True


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is now, not what it was at setup (tests swap it)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def setup(level: str = "INFO") -> None:
    handler = _StderrHandler()
    handler.addFilter(ContextFilter())
    handler.setFormatter(logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s%(context)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries say at INFO what they do on every connection (asyncssh: "Opening SSH
    # connection", "Auth ... succeeded"): only their warnings belong in our output.
    for library in ("amqp", "kombu", "asyncssh"):
        logging.getLogger(library).setLevel(logging.WARNING)
