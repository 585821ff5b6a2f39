"""Grants: the error table's access denials, SHOW GRANTS parsing, own-table columns."""

import re
from pathlib import Path

import pymysql
import pytest

from shopbridge.db import translate
from shopbridge.errors import AccessDenied, TargetUnavailable
from shopbridge.grants import Grants, describe_missing
from shopbridge.owntables import OwnTable
from shopbridge.settle import decide

TIERS = (5, 60, 600)


@pytest.mark.parametrize(("code", "message", "grant"), [
    (1142, "UPDATE command denied to user 'sb'@'10.0.0.5' for table `shop`.`products`",
     "UPDATE on `shop`.`products`"),
    (1142, "INSERT command denied to user 'sb'@'localhost' for table 'specials'",
     "INSERT on 'specials'"),
    (1143, "SELECT command denied to user 'sb'@'%' for column 'VK1' in table 'ARTIKEL'",
     "SELECT on column 'VK1' of 'ARTIKEL'"),
    (1370, "execute command denied to user 'sb'@'%' for routine 'cao.f'",
     "EXECUTE on 'cao.f'"),
    (1227, "Access denied; you need (at least one of) the SUPER privilege(s) for this "
           "operation", "SUPER"),
    (1044, "Access denied for user 'sb'@'%' to database 'shop'", "access to database 'shop'"),
    (1045, "Access denied for user 'sb'@'localhost' (using password: YES)", None),
])
def test_an_access_denial_names_the_grant_and_pauses_instead_of_dead_lettering(
        code, message, grant):
    err = translate(pymysql.err.OperationalError(code, message), "shop 'web' database")
    assert isinstance(err, AccessDenied) and isinstance(err, TargetUnavailable)
    assert err.grant == grant
    assert f"MySQL error {code}" in str(err)
    decisions = [decide(err, attempts_before=n, tiers=TIERS).action for n in range(4)]
    assert set(decisions) == {"retry"}


MARIADB = [
    "GRANT `sb_role` TO `sb`@`%`",
    "GRANT USAGE ON *.* TO `sb`@`%` IDENTIFIED BY PASSWORD '*D821809F681A40A6E379B50D0463EFA'",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON `cao\\_%`.* TO `sb`@`%`",
    "GRANT SELECT, INSERT, UPDATE (`products_status`), DELETE ON `shop`.`products` TO `sb`@`%`",
    "GRANT SELECT ON `shop`.* TO `sb`@`%`",
    "GRANT EXECUTE ON PROCEDURE `shop`.`p` TO `sb`@`%`",
    "GRANT USAGE ON *.* TO `sb_role`",
    "GRANT DELETE ON `shop`.`specials` TO `sb_role`",
]


def test_show_grants_lines_of_user_and_role_are_read():
    grants = Grants.parse(MARIADB, "sb@%")
    assert grants.allows("UPDATE", "cao_acme", "ARTIKEL")        # \_ is a literal _
    assert not grants.allows("UPDATE", "caoXacme", "ARTIKEL")
    assert grants.allows("UPDATE", "shop", "PRODUCTS")           # a column grant counts
    assert grants.allows("DELETE", "shop", "specials")           # through the role
    assert not grants.allows("INSERT", "shop", "specials")
    assert not grants.allows("CREATE", "shop", "shopbridge_link")
    assert Grants.parse(["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT "
                         "OPTION"]).allows("CREATE", "any", "thing")


def test_missing_grants_are_one_line_per_set_of_privileges_with_the_fix():
    grants = Grants.parse(["GRANT SELECT ON `shop`.* TO `sb`@`%`"])
    missing = grants.missing("shop", {"products": ["SELECT", "INSERT", "UPDATE"],
                                      "specials": ["SELECT", "INSERT", "UPDATE"],
                                      "orders": ["SELECT", "UPDATE"], "languages": ["SELECT"]})
    lines = describe_missing(missing, database="shop", user="'sb'@'%'", service="consume")
    assert lines == [
        "database user 'sb'@'%' lacks UPDATE on orders (consume needs it): "
        "GRANT UPDATE ON `shop`.`orders` TO 'sb'@'%'",
        "database user 'sb'@'%' lacks INSERT, UPDATE on products, specials (consume needs "
        "it): GRANT INSERT, UPDATE ON `shop`.<each table> TO 'sb'@'%'"]


def test_an_own_tables_columns_are_read_from_its_ddl():
    table = OwnTable("t", """
CREATE TABLE IF NOT EXISTS t (
  entity_type VARCHAR(32) CHARACTER SET ascii NOT NULL,
  version BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (entity_type),
  KEY idx_t (version)
) ENGINE=InnoDB
""")
    assert table.columns == ("entity_type", "version")
    assert table.missing_columns({"ENTITY_TYPE": "varchar(32)"}) == ["version"]


_WRITE = re.compile(r"(INSERT (?:IGNORE )?INTO|UPDATE|DELETE FROM) "
                    r"(?:\{self\.t\['(?P<cao>\w+)'\]\}|\{t\['(?P<cao2>\w+)'\]\}|(?P<shop>[a-z_]+)\b)")
_VERB = {"INSERT INTO": "INSERT", "INSERT IGNORE INTO": "INSERT", "UPDATE": "UPDATE",
         "DELETE FROM": "DELETE"}


def _written(folder: Path) -> dict[str, set[str]]:
    """Table -> privileges, from the SQL text of every module in ``folder``."""
    found: dict[str, set[str]] = {}
    for path in folder.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        for m in _WRITE.finditer(text):
            table = m["cao"] or m["cao2"] or m["shop"]     # own tables: {NAME}, not matched
            if m["shop"] and (m[1] == "UPDATE" and not re.match(r"\s*SET\b",
                                                                text[m.end():])):
                continue                       # "UPDATE" as a word in prose or ON DUPLICATE
            privileges = found.setdefault(table, set())
            privileges.add(_VERB[m[1]])
            statement = text[m.end():m.end() + 600].split("exec_driver_sql", 1)[0]
            if m[1].startswith("INSERT") and "ON DUPLICATE KEY UPDATE" in statement:
                privileges.add("UPDATE")
    return found


def test_writes_names_every_table_and_privilege_the_sql_needs():
    """``check`` compares WRITES with the user's grants, so a statement added to a consumer
    must be declared there too (own tables need all four anyway)."""
    from consumers.cao.importer import WRITES as CAO_WRITES
    from consumers.oscommerce.tables import WRITES as SHOP_WRITES

    root = Path(__file__).resolve().parents[2] / "consumers"
    shop = _written(root / "oscommerce")
    for table, privileges in _written(root).items():     # the mailer, the image files
        shop.setdefault(table, set()).update(privileges)
    cao = _written(root / "cao")
    # The number ranges the importer draws are CAO facts (systems/cao/numbers.py).
    for table, privileges in _written(root.parent / "systems" / "cao").items():
        cao.setdefault(table, set()).update(privileges)
    for table, privileges in shop.items():
        assert privileges <= set(SHOP_WRITES.get(table, ())), (table, privileges)
    for table, privileges in cao.items():
        assert privileges <= set(CAO_WRITES.get(table, ())), (table, privileges)
    assert {"products", "specials", "orders_status_history"} <= set(shop)   # the scan works
    assert {"JOURNAL", "ADRESSEN", "REGISTRY"} <= set(cao)
