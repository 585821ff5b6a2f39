"""Fitting shop text into CAO-Faktura's latin1 columns. Pure.

CAO's tables are latin1, which MariaDB implements as Windows-1252: umlauts, „“ and – fit,
emoji and most non-Latin scripts do not. Text that does not fit is transliterated (é stays,
ł becomes l, an emoji is dropped) and cut to the column's length; each change is recorded so
the operator can see it, and never fails the order.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

_REPLACEMENTS = {"ß": "ss", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ø": "o", "Ø": "O",
                 "\u00a0": " ", "\u2028": " ", "\u2029": " "}


def _fits(char: str) -> bool:
    try:
        char.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def transliterate(text: str) -> str:
    """Text that Windows-1252 can hold, as close to the original as it gets."""
    out = []
    for char in text:
        if _fits(char):
            out.append(char)
            continue
        if char in _REPLACEMENTS and _fits(_REPLACEMENTS[char]):
            out.append(_REPLACEMENTS[char])
            continue
        decomposed = unicodedata.normalize("NFKD", char)
        base = "".join(c for c in decomposed if not unicodedata.combining(c) and _fits(c))
        out.append(base)  # an emoji or a CJK character has no Latin base: dropped
    return "".join(out)


@dataclass
class Fitter:
    """Fits values into columns and keeps a note of every change."""

    lengths: dict[str, int]               # "TABLE.COLUMN" -> max characters (None: unlimited)
    notes: list[str] = field(default_factory=list)

    def __call__(self, column: str, value: object, *, label: str | None = None) -> str | None:
        if value is None:
            return None
        text = str(value)
        fitted = transliterate(text)
        changed = fitted != text
        limit = self.lengths.get(column.upper())
        if limit is not None and len(fitted) > limit:
            fitted = fitted[:limit].rstrip()
            changed = True
        if changed:
            self.notes.append(f"{label or column}: {text!r} stored as {fitted!r}")
        return fitted
