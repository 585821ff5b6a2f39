"""The CAO change signal (issue 14): triggers on the article tables write the REC_IDs they
touch into ``shopbridge_change``, so that an idle follow mode asks one small table every
50 ms instead of hashing 100,000 articles every 10 s.

What it changes in the merchant's database (``shopbridge capture --install``): the table
``shopbridge_change`` and AFTER INSERT/UPDATE/DELETE triggers named ``shopbridge_<table>_<ai|
au|ad>`` on ARTIKEL, ARTIKEL_LTEXT, ARTIKEL_PREIS, ARTIKEL_TO_KAT (and ARTIKEL_VAR where it
exists): the tables the producer's article hash and stock scan read. MariaDB >= 10.2 keeps
several triggers per table and event, so the merchant's own stay as they are; ours are found
and removed by name only. ``--remove`` drops exactly these triggers, then the table.

Each trigger body runs under a CONTINUE HANDLER: a missing change table or an error of its
own INSERT does not fail the merchant's write (the change is then missed by the signal and
found by the rare full diff, which stays the proof of completeness), and it inserts a VALUES
list, which takes no table-level AUTO-INC lock. What the handler cannot cover, because
MariaDB checks it before the body runs: a DEFINER that no longer exists (error 1449) or that
lost the TRIGGER privilege (error 1142) fails every write to the watched tables. So remove
the triggers before dropping that user or revoking its TRIGGER privilege.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.engine import Connection

from shopbridge.db import TableNames, has_table, quote_ident
from shopbridge.grants import Grants
from shopbridge.owntables import OwnTable, ensure

CHANGE_TABLE = "shopbridge_change"
PREFIX = "shopbridge_"

DDL = f"""
CREATE TABLE IF NOT EXISTS {CHANGE_TABLE} (
  id BIGINT NOT NULL AUTO_INCREMENT,
  tbl VARCHAR(32) CHARACTER SET ascii NOT NULL,
  rec_id BIGINT NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=latin1
"""
# InnoDB: the merchant's trigger inserts and the producer's deletes lock rows, not the table.
TABLE = OwnTable(CHANGE_TABLE, DDL)

# Logical CAO table -> the columns holding the article's REC_ID (both, for ARTIKEL_VAR: a
# child's change changes its master). Optional tables get triggers where they exist.
WATCHED: dict[str, tuple[str, ...]] = {
    "ARTIKEL": ("REC_ID",),
    "ARTIKEL_LTEXT": ("ARTIKEL_ID",),
    "ARTIKEL_PREIS": ("ARTIKEL_ID",),
    "ARTIKEL_TO_KAT": ("ARTIKEL_ID",),
    "ARTIKEL_VAR": ("SLAVE_ARTIKEL_ID", "MASTER_ARTIKEL_ID"),
}
OPTIONAL = frozenset({"ARTIKEL_VAR"})
EVENTS = {"ai": "INSERT", "au": "UPDATE", "ad": "DELETE"}


@dataclass(frozen=True)
class Trigger:
    name: str
    table: str           # the real table name
    event: str           # INSERT, UPDATE, DELETE
    body: str

    @property
    def ddl(self) -> str:
        return (f"CREATE TRIGGER {quote_ident(self.name)} AFTER {self.event} ON "
                f"{quote_ident(self.table)} FOR EACH ROW {self.body}")


@dataclass
class CaptureState:
    """What ``information_schema.TRIGGERS`` says about our triggers."""

    wanted: list[Trigger] = field(default_factory=list)
    present: list[str] = field(default_factory=list)     # ours, as they should be
    missing: list[str] = field(default_factory=list)
    outdated: list[str] = field(default_factory=list)    # ours by name, other body or table
    table: bool = False                                  # the change table exists
    # The user may not see triggers (information_schema.TRIGGERS shows only those on tables
    # the user has the TRIGGER privilege for): none of ours visible means nothing then.
    # (MariaDB shows it the names without the statements, MySQL nothing at all.)
    blind: bool = False

    @property
    def complete(self) -> bool:
        return bool(self.wanted) and not self.missing and not self.outdated and self.table

    @property
    def assumed(self) -> bool:
        """The change table is there and the triggers cannot be seen: follow on it; the full
        diff every proof interval is then the only check."""
        return self.blind and self.table and not self.present and not self.outdated

    @property
    def absent(self) -> bool:
        return not self.present and not self.outdated

    def describe(self) -> str:
        if self.assumed:
            return (f"change signal: table {CHANGE_TABLE} present, triggers not visible to "
                    f"this database user (it lacks the TRIGGER privilege): assumed complete")
        if self.complete:
            return (f"change signal: {len(self.present)} trigger(s) on "
                    f"{', '.join(sorted({t.table for t in self.wanted}))} complete"
                    + (" (their statements are not visible to this database user, which "
                       "lacks the TRIGGER privilege: names and tables checked)"
                       if self.blind else ""))
        if self.absent:
            return "change signal: no triggers installed"
        parts = []
        if self.missing:
            parts.append(f"missing {', '.join(self.missing)}")
        if self.outdated:
            parts.append(f"outdated {', '.join(self.outdated)}")
        if not self.table:
            parts.append(f"table {CHANGE_TABLE} missing")
        return f"change signal: triggers incomplete ({'; '.join(parts)})"


def _body(logical: str, event: str) -> str:
    keys = WATCHED[logical]

    def insert(*sides: str) -> str:
        values = ", ".join(f"('{logical}', {side}.{k})" for side in sides for k in keys)
        return f"INSERT INTO {CHANGE_TABLE} (tbl, rec_id) VALUES {values};"

    # A VALUES list is a "simple insert": its AUTO_INCREMENT comes from a mutex. INSERT ...
    # SELECT would hold the change table's AUTO-INC lock until the merchant's statement
    # ends, so a long write on one watched table stalled writes on the others and could
    # fail them (1467) past the lock wait timeout, outside the handler's reach (review).
    if event == "INSERT":
        body = insert("NEW")
    elif event == "DELETE":
        body = insert("OLD")
    else:                       # an update that keeps the key writes one row, not two
        same = " AND ".join(f"NEW.{k} <=> OLD.{k}" for k in keys)
        body = f"IF {same} THEN {insert('NEW')} ELSE {insert('NEW', 'OLD')} END IF;"
    return f"BEGIN DECLARE CONTINUE HANDLER FOR SQLEXCEPTION BEGIN END; {body} END"


def wanted(conn: Connection) -> list[Trigger]:
    """Our triggers for this CAO database (its real table names)."""
    names = TableNames.read(conn)
    out = []
    for logical in WATCHED:
        real = names.find(logical)
        if real is None:
            continue        # a required table missing is check's problem, not ours
        for suffix, event in EVENTS.items():
            out.append(Trigger(f"{PREFIX}{logical.lower()}_{suffix}", real, event,
                               _body(logical, event)))
    return out


def _ours(conn: Connection) -> dict[str, tuple[str, str, str | None]]:
    """Our triggers in the database: name -> (table, event, body). The body is None for a
    user without the TRIGGER privilege (MariaDB shows the name, not the statement)."""
    rows = conn.exec_driver_sql(
        "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, EVENT_MANIPULATION, ACTION_STATEMENT "
        "FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() "
        "AND TRIGGER_NAME LIKE %s", (PREFIX.replace("_", "\\_") + "%",))
    return {str(n): (str(t), str(e), None if b is None else str(b)) for n, t, e, b in rows}


def state(conn: Connection) -> CaptureState:
    want = wanted(conn)
    have = _ours(conn)
    out = CaptureState(wanted=want, table=bool(conn.exec_driver_sql(
        "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
        "AND TABLE_NAME = %s", (CHANGE_TABLE,)).scalar()))
    if not have and want:
        database = str(conn.exec_driver_sql("SELECT DATABASE()").scalar())
        out.blind = not Grants.read(conn).allows("TRIGGER", database, want[0].table)
    for trigger in want:
        found = have.get(trigger.name)
        if found is None:
            out.missing.append(trigger.name)
        elif found[2] is None and found[:2] == (trigger.table, trigger.event):
            out.present.append(trigger.name)      # its body hidden from this user
            out.blind = True
        elif found != (trigger.table, trigger.event, trigger.body):
            out.outdated.append(trigger.name)
        else:
            out.present.append(trigger.name)
    return out


def install(conn: Connection) -> list[str]:
    """The change table, then every trigger that is missing or outdated; idempotent.
    Returns one line per thing done."""
    done = []
    if ensure(conn, TABLE):
        done.append(f"table {CHANGE_TABLE} created")
    have = _ours(conn)
    for trigger in wanted(conn):
        found = have.get(trigger.name)
        if found == (trigger.table, trigger.event, trigger.body):
            continue
        if found is not None:       # ours by name, but not as this version writes it
            conn.exec_driver_sql(f"DROP TRIGGER {quote_ident(trigger.name)}")
        conn.exec_driver_sql(trigger.ddl)
        done.append(f"trigger {trigger.name} on {trigger.table} "
                    f"{'replaced' if found else 'created'}")
    conn.commit()
    return done


def remove(conn: Connection) -> list[str]:
    """Drop our triggers (by name, nobody else's), then the change table; idempotent."""
    done = []
    for name in sorted(_ours(conn)):
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {quote_ident(name)}")
        done.append(f"trigger {name} dropped")
    if state(conn).table:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {CHANGE_TABLE}")
        done.append(f"table {CHANGE_TABLE} dropped")
    conn.commit()
    return done


def command(conn: Connection, action: str) -> list[str]:
    """``shopbridge capture``: ``install``, ``remove`` or ``status``; lines to print."""
    if action == "install":
        lines = install(conn) or ["nothing to do"]
    elif action == "remove":
        lines = remove(conn) or ["nothing to remove"]
    else:
        lines = []
    now = state(conn)
    pending = (conn.exec_driver_sql(f"SELECT COUNT(*) FROM {CHANGE_TABLE}").scalar()
               if now.table else 0)
    conn.commit()
    return [*lines, now.describe() + (f", {pending} change(s) waiting" if now.table else "")]


# -- the producer's side ---------------------------------------------------------------------

@dataclass(frozen=True)
class Pending:
    ids: tuple[int, ...]           # the change rows read: consumed once published
    rec_ids: frozenset[int]
    tables: frozenset[str]         # logical tables the changes came from


def pending(conn: Connection, limit: int = 5000) -> Pending | None:
    """The oldest waiting changes (None: nothing waits). The cheap poll of the idle producer:
    one primary-key read of an empty InnoDB table."""
    rows: Sequence[tuple[int, str, int]] = conn.exec_driver_sql(
        f"SELECT id, tbl, rec_id FROM {CHANGE_TABLE} ORDER BY id LIMIT %s", (limit,)).all()
    conn.commit()
    if not rows:
        return None
    return Pending(ids=tuple(int(r[0]) for r in rows),
                   rec_ids=frozenset(int(r[2]) for r in rows),
                   tables=frozenset(str(r[1]) for r in rows))


def waiting(conn: Connection) -> bool:
    """Whether any change waits (``conn`` in autocommit: no transaction to end)."""
    return conn.exec_driver_sql(f"SELECT 1 FROM {CHANGE_TABLE} LIMIT 1").first() is not None


def consume(conn: Connection, ids: Sequence[int]) -> None:
    """Forget these change rows: their articles were diffed and published.

    By id, not "up to the last one read": a long statement's rows commit at its end with
    lower ids than a short one's that committed before, and must not be deleted unread.
    """
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        conn.exec_driver_sql(f"DELETE FROM {CHANGE_TABLE} WHERE id IN "
                             f"({', '.join(['%s'] * len(chunk))})", tuple(chunk))
    conn.commit()


def present(conn: Connection) -> tuple[int, ...]:
    """The ids of the changes there now (none, or no change table: empty): a full diff that
    starts now covers them, so ``consume`` may forget exactly these once it is done. By id,
    not "up to the newest": a row with a lower id that commits later was not read (review)."""
    if not has_table(conn, CHANGE_TABLE):
        return ()
    ids = tuple(int(r[0]) for r in conn.exec_driver_sql(f"SELECT id FROM {CHANGE_TABLE}"))
    conn.commit()
    return ids
