"""issue 14: ``check`` notes the indexes the order import needs in CAO; ``erp-indexes --add``
adds exactly the missing ones (named shopbridge_*), ``--remove`` drops exactly those, CAO's
own indexes stay; a customer is still found by e-mail in any letter case."""

from __future__ import annotations

from typing import Any

from shopbridge import cli
from tests.conftest import config_data, shop_entry
from tests.helpers import to_toml


def _indexes(db: Any) -> set[tuple[str, str]]:
    return {(str(t), str(i)) for t, i in db.rows(
        "SELECT DISTINCT TABLE_NAME, INDEX_NAME FROM information_schema.STATISTICS "
        "WHERE TABLE_SCHEMA = DATABASE() "
        "AND TABLE_NAME IN ('journal', 'adressen', 'adressen_lief')")}


def test_check_notes_them_and_the_command_adds_and_removes_only_its_own(
        cao_db, phoenix_db, namespace, tmp_path, capsys):
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(config_data(namespace, cao_db, [shop_entry("web", phoenix_db)])))
    own = _indexes(cao_db)

    cli.main(["-c", str(path), "check"])
    notes = [line for line in capsys.readouterr().out.splitlines() if "erp-indexes" in line]
    assert len(notes) == 1 and "journal(SHOP_ID, SHOP_ORDERID)" in notes[0]
    assert "adressen(EMAIL)" in notes[0] and "adressen(SHOP_ID, SHOP_KUNDE_ID)" in notes[0]
    assert "adressen_lief(ADDR_ID)" in notes[0]

    assert cli.main(["-c", str(path), "erp-indexes", "--add"]) == cli.EXIT_OK
    added = _indexes(cao_db) - own
    assert added == {("journal", "shopbridge_shop_order"), ("adressen", "shopbridge_email"),
                     ("adressen", "shopbridge_shop_customer"),
                     ("adressen_lief", "shopbridge_delivery")}
    assert cli.main(["-c", str(path), "erp-indexes"]) == cli.EXIT_OK
    assert capsys.readouterr().out.count(": ours") == 4
    cli.main(["-c", str(path), "check"])
    assert "erp-indexes" not in capsys.readouterr().out
    cao_db.execute("INSERT INTO adressen (EMAIL) VALUES ('a@example.org'), ('B@example.org'), "
                   "('c@example.org')")
    plan = cao_db.rows("EXPLAIN SELECT REC_ID FROM adressen WHERE EMAIL = 'b@EXAMPLE.org'")
    assert cao_db.scalar("SELECT EMAIL FROM adressen WHERE EMAIL = 'b@EXAMPLE.org'") \
        == "B@example.org"                               # CAO's collation ignores case
    assert "shopbridge_email" in str(plan)

    assert cli.main(["-c", str(path), "erp-indexes", "--remove"]) == cli.EXIT_OK
    assert _indexes(cao_db) == own
