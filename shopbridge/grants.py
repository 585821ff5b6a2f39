"""What the current database user may do, read from SHOW GRANTS, against what a service needs.

SHOW GRANTS is read rather than information_schema.*_PRIVILEGES because MariaDB shows there
only the user's own grants, not those of its (default) role. Read only for ``shopbridge
check``: a service finds a missing grant when the server refuses a statement
(``errors.AccessDenied``, which pauses it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy.engine import Connection

DML = ("SELECT", "INSERT", "UPDATE", "DELETE")

_IDENT = r"(?:\*|`(?:[^`]|``)*`|[A-Za-z0-9_$\\%]+)"
_LINE = re.compile(rf"^GRANT (?P<privs>.+?) ON (?:TABLE )?(?P<db>{_IDENT})\.(?P<table>{_IDENT}) "
                   r"TO ")


@dataclass(frozen=True)
class Grant:
    """One GRANT line on tables: privileges (upper case, "ALL" for ALL PRIVILEGES), on a
    database pattern (None: every database) and a table (None: every table)."""

    privileges: frozenset[str]
    database: str | None
    table: str | None

    def covers(self, privilege: str, database: str, table: str) -> bool:
        if "ALL" not in self.privileges and privilege not in self.privileges:
            return False
        if self.database is not None and not _like(self.database, database):
            return False
        return self.table is None or self.table.lower() == table.lower()


class Grants:
    """The privileges of the session's user (and its enabled roles) on tables."""

    def __init__(self, grants: Iterable[Grant], user: str = "") -> None:
        self.grants = list(grants)
        self.user = user

    @classmethod
    def read(cls, conn: Connection) -> Grants:
        lines = [r[0] for r in conn.exec_driver_sql("SHOW GRANTS")]
        user = conn.exec_driver_sql("SELECT CURRENT_USER()").scalar() or ""
        return cls.parse(lines, user)

    @classmethod
    def parse(cls, lines: Iterable[str], user: str = "") -> Grants:
        grants = []
        for line in lines:
            m = _LINE.match(line)
            if m is None:       # role membership, routines, proxies
                continue
            grants.append(Grant(_privileges(m["privs"]), _name(m["db"]), _name(m["table"])))
        return cls(grants, user)

    def allows(self, privilege: str, database: str, table: str) -> bool:
        return any(g.covers(privilege, database, table) for g in self.grants)

    def missing(self, database: str, needs: Mapping[str, Iterable[str]]
                ) -> dict[str, tuple[str, ...]]:
        """Table -> the privileges of ``needs`` (table -> privileges) the user lacks."""
        out = {}
        for table, privileges in needs.items():
            lacking = tuple(p for p in privileges if not self.allows(p, database, table))
            if lacking:
                out[table] = lacking
        return out


def describe_missing(missing: Mapping[str, tuple[str, ...]], *, database: str, user: str,
                     service: str) -> list[str]:
    """One line per set of missing privileges, naming the tables and the GRANT that fixes it."""
    by_privileges: dict[tuple[str, ...], list[str]] = {}
    for table, privileges in sorted(missing.items()):
        by_privileges.setdefault(privileges, []).append(table)
    lines = []
    for privileges, tables in by_privileges.items():
        names = ", ".join(tables)
        on = f"`{database}`.`{tables[0]}`" if len(tables) == 1 else f"`{database}`.<each table>"
        lines.append(f"database user {user} lacks {', '.join(privileges)} on {names} "
                     f"({service} needs it): GRANT {', '.join(privileges)} ON {on} TO {user}")
    return lines


def _privileges(text: str) -> frozenset[str]:
    """'SELECT, UPDATE (`a`, `b`), ALL PRIVILEGES' -> {SELECT, UPDATE, ALL}.

    A column grant counts as the privilege on the table: shopbridge cannot tell here which
    columns a statement touches, and the server names a missing one when it refuses.
    """
    text = re.sub(r"\([^)]*\)", "", text)
    names = {" ".join(p.split()).upper() for p in text.split(",")}
    return frozenset("ALL" if n.startswith("ALL") else n for n in names if n)


def _name(ident: str) -> str | None:
    if ident == "*":
        return None
    if ident.startswith("`"):
        return ident[1:-1].replace("``", "`")
    return ident


def _like(pattern: str, name: str) -> bool:
    """A database-level grant's name is a LIKE pattern: _ and % are wildcards, \\_ is _."""
    regex, i = "", 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            regex += re.escape(pattern[i + 1])
            i += 2
            continue
        regex += "." if char == "_" else ".*" if char == "%" else re.escape(char)
        i += 1
    return re.fullmatch(regex, name, re.IGNORECASE) is not None
