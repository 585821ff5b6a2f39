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
from datetime import UTC, datetime
from typing import TextIO

import orjson

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
        record.fields = fields
        record.context = "".join(f" {k}={v}" for k, v in fields.items()) if fields else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, the bound fields
    (tenant, shop, event_type, entity_key, event_id, attempt where known), and the exception
    text if any: for log collectors that index fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
            **{k: v for k, v in getattr(record, "fields", {}).items()},
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is now, not what it was at setup (tests swap it)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def setup(level: str = "INFO", form: str = "text") -> None:
    """Args:
        form: "text" (a line a person reads) or "json" (``JsonFormatter``)."""
    handler = _StderrHandler()
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if form == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s%(context)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries say at INFO what they do on every connection (asyncssh: "Opening SSH
    # connection", "Auth ... succeeded"): only their warnings belong in our output.
    for library in ("amqp", "kombu", "asyncssh"):
        logging.getLogger(library).setLevel(logging.WARNING)
