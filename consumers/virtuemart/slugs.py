"""URL slugs as VirtueMart makes them: lower-case ASCII words joined by '-', unique per
language table by appending -1, -2, ... (VmTable::checkCreateUnique; NOTES 2, 10). A slug that
collides makes the whole insert fail with a duplicate key, so every writer takes its slugs
from here."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from sqlalchemy.engine import Connection

from shopbridge.db import marks

_CHUNK = 500                     # bases per read of their -n families

# Joomla's de-DE transliteration writes these as two letters, not the bare vowel.
_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "ae", "Ö": "oe", "Ü": "ue",
                         "ß": "ss"})


def slugify(text: str, *, fallback: str = "item", max_length: int = 255) -> str:
    """'Gießkanne „Classic“ 10 l' -> 'giesskanne-classic-10-l'."""
    ascii_text = unicodedata.normalize("NFKD", text.translate(_GERMAN)).encode(
        "ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or fallback
    # Room for a '-NNN' suffix keeps a unique slug inside the column.
    return slug[:max(1, max_length - 8)].rstrip("-") or fallback


def unique_slugs(conn: Connection, table: str, wanted: Sequence[str],
                 *, keep: Iterable[str] = ()) -> list[str]:
    """A unique slug for each wanted base slug, in order: the base itself where the table
    and the earlier ones leave it free, else base-1, base-2, ...

    Args:
        keep: slugs that are free even though the table has them (the rows being rewritten).
    """
    bases = sorted(set(wanted))
    if not bases:
        return []
    rows = conn.exec_driver_sql(
        f"SELECT slug FROM {table} WHERE slug IN ({marks(bases)})", tuple(bases)).all()
    colliding = {str(r[0]).lower() for r in rows} - {k.lower() for k in keep}
    # The -n family of every base that needs a suffix, in one read per chunk of bases
    # (not one per base: an initial load of many similar names would pay a round trip each).
    families = sorted(colliding | _repeated(wanted))
    taken: set[str] = set()
    for start in range(0, len(families), _CHUNK):
        part = families[start:start + _CHUNK]
        taken |= {str(r[0]).lower() for r in conn.exec_driver_sql(
            f"SELECT slug FROM {table} WHERE slug IN ({marks(part)}) OR "
            + " OR ".join(["slug LIKE %s ESCAPE '!'"] * len(part)),
            (*part, *(_like(base) + "-%" for base in part)))}
    taken -= {k.lower() for k in keep}
    result = []
    for base in wanted:
        slug, n = base, 0
        while slug.lower() in taken:
            n += 1
            slug = f"{base}-{n}"
        taken.add(slug.lower())
        result.append(slug)
    return result


def _repeated(wanted: Sequence[str]) -> set[str]:
    seen: set[str] = set()
    repeated: set[str] = set()
    for slug in wanted:
        (repeated if slug in seen else seen).add(slug)
    return repeated


def _like(text: str) -> str:
    # '!' named as the escape character (ESCAPE '!'): the applier's connections run under
    # NO_BACKSLASH_ESCAPES (``db.quote_escaping``), where MySQL's LIKE has no default escape
    # (MariaDB's keeps the backslash).
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")
