"""issue 14: the CAO change signal. ``capture --install/--remove`` are idempotent and leave the
merchant's own triggers alone, ``check`` names a missing trigger, a change reaches the shop
through the signal without a full cycle, and one the signal missed through the rare full
diff."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from consumers import ShopConsumer, make_applier
from producers.cao import CaoProducer, CycleReport, capture
from shopbridge import cli, sample
from shopbridge import config as cfg
from tests.conftest import config_data, fill_cao, settings_for, shop_entry
from tests.helpers import to_toml


def _ours(db: Any) -> set[str]:
    return {str(r[0]) for r in db.rows(
        "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = "
        "DATABASE() AND TRIGGER_NAME LIKE %s", ("shopbridge\\_%",))}


def test_install_and_remove_are_idempotent_leave_other_triggers_and_check_names_a_gap(
        cao_db, phoenix_db, namespace, tmp_path, capsys):
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(config_data(namespace, cao_db, [shop_entry("web", phoenix_db)])))
    fill_cao(cao_db, sample.articles(5), [])
    cao_db.execute("CREATE TABLE merchant_log (n INT) ENGINE=MyISAM")
    cao_db.execute("CREATE TRIGGER merchant_artikel_au AFTER UPDATE ON artikel FOR EACH ROW "
                   "INSERT INTO merchant_log VALUES (NEW.REC_ID)")

    assert cli.main(["-c", str(path), "capture"]) == cli.EXIT_OK
    assert "no triggers installed" in capsys.readouterr().out
    assert cli.main(["-c", str(path), "capture", "--install"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "trigger shopbridge_artikel_au on artikel created" in out
    installed = _ours(cao_db)
    # ARTIKEL, ARTIKEL_LTEXT, ARTIKEL_PREIS, ARTIKEL_TO_KAT, ARTIKEL_VAR x insert/update/delete
    assert len(installed) == 15 and "complete" in out
    assert cli.main(["-c", str(path), "capture", "--install"]) == cli.EXIT_OK
    assert "nothing to do" in capsys.readouterr().out
    assert _ours(cao_db) == installed

    cao_db.execute("UPDATE artikel SET MENGE_AKT = 5 WHERE REC_ID = 2")
    cao_db.execute("INSERT INTO artikel_preis (ARTIKEL_ID, PREIS_TYP, ADRESS_ID, PT2, PREIS) "
                   "VALUES (4, 3, -99, 'AP', 1)")
    cao_db.execute("DELETE FROM artikel WHERE REC_ID = 3")
    assert sorted(cao_db.rows(f"SELECT tbl, rec_id FROM {capture.CHANGE_TABLE}")) == [
        ("ARTIKEL", 2), ("ARTIKEL", 3), ("ARTIKEL_PREIS", 4)]
    assert cao_db.scalar("SELECT COUNT(*) FROM merchant_log") == 1    # theirs fired too

    cao_db.execute("DROP TRIGGER shopbridge_artikel_au")
    assert cli.main(["-c", str(path), "capture"]) == cli.EXIT_PROBLEMS
    assert "missing shopbridge_artikel_au" in capsys.readouterr().out
    cli.main(["-c", str(path), "check"])
    problems = [line for line in capsys.readouterr().out.splitlines()
                if line.startswith("PROBLEM") and "change signal" in line]
    assert len(problems) == 1 and "missing shopbridge_artikel_au" in problems[0]

    # The change table gone under the triggers: the merchant's writes still succeed.
    cao_db.execute(f"DROP TABLE {capture.CHANGE_TABLE}")
    cao_db.execute("UPDATE artikel SET MENGE_AKT = 6 WHERE REC_ID = 2")
    assert cli.main(["-c", str(path), "capture", "--remove"]) == cli.EXIT_OK
    assert cli.main(["-c", str(path), "capture", "--remove"]) == cli.EXIT_OK
    assert "nothing to remove" in capsys.readouterr().out
    assert _ours(cao_db) == set()
    assert {str(r[0]) for r in cao_db.rows(
        "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS "
        "WHERE TRIGGER_SCHEMA = DATABASE()")} == {"merchant_artikel_au"}
    cao_db.execute("UPDATE artikel SET MENGE_AKT = 7 WHERE REC_ID = 2")
    assert cao_db.scalar("SELECT COUNT(*) FROM merchant_log") == 3


@contextmanager
def _following(settings: cfg.Settings, **options: Any) -> Iterator[list[CycleReport]]:
    """The producer following (in a thread) and the shop's consumer; yields the full cycles
    run so far (their reports)."""
    producer = CaoProducer(broker=settings.broker, tenant=settings.tenants[0])
    fulls: list[CycleReport] = []
    real_run_once = producer.run_once

    def run_once(**kw: Any) -> CycleReport:
        report = real_run_once(**kw)
        if kw.get("articles", True):
            fulls.append(report)
        return report

    producer.run_once = run_once            # type: ignore[method-assign]
    shop = settings.tenants[0].shop("web")
    applier = make_applier(shop)
    consumer = ShopConsumer(broker=settings.broker, shop=shop, applier=applier)
    threads = [threading.Thread(target=producer.follow, kwargs=options),
               threading.Thread(target=consumer.run)]
    for thread in threads:
        thread.start()
    try:
        yield fulls
    finally:
        producer.stop_event.set()
        consumer.stop_event.set()
        for thread in threads:
            thread.join(timeout=30)
        producer.close()
        applier.close()


def _wait(what: Callable[[], bool], timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if what():
            return time.monotonic() - started
        time.sleep(0.01)
    raise AssertionError(f"not within {timeout} s")


def _shop_row(db: Any, rec_id: int) -> tuple[Any, Any]:
    row = db.rows("SELECT products_quantity, products_price FROM products "
                  "WHERE products_model = %s", (f"A-{rec_id:06d}",))
    return (row[0][0], row[0][1]) if row else (None, None)


def test_a_change_reaches_the_shop_through_the_signal_without_a_full_cycle(
        cao_db, phoenix_db, namespace):
    fill_cao(cao_db, sample.articles(30), [])
    settings = settings_for(namespace, cao_db, [shop_entry("web", phoenix_db)])
    with cao_db.engine.connect() as conn:
        capture.install(conn)
    with _following(settings, signal="auto", proof_interval_s=3600,
                    full_interval_s=3600) as fulls:
        _wait(lambda: _shop_row(phoenix_db, 30)[0] is not None, 30)
        assert len(fulls) == 1                          # the first, at the start
        cao_db.execute("UPDATE artikel SET MENGE_AKT = 777, VK1 = 12.34 WHERE REC_ID = 5")
        seconds = _wait(lambda: _shop_row(phoenix_db, 5) == (777, Decimal("12.3400")), 10)
        assert len(fulls) == 1, "arrived through a full cycle, not the signal"
        assert seconds < 5
        _wait(lambda: cao_db.scalar(f"SELECT COUNT(*) FROM {capture.CHANGE_TABLE}") == 0, 5)
        with cao_db.engine.connect() as conn:
            capture.remove(conn)                   # while following: the gate takes over
        cao_db.execute("UPDATE artikel SET MENGE_AKT = 778 WHERE REC_ID = 6")
        _wait(lambda: _shop_row(phoenix_db, 6)[0] == 778, 20)


def test_a_change_the_signal_missed_reaches_the_shop_through_the_rare_full_diff(
        cao_db, phoenix_db, namespace):
    fill_cao(cao_db, sample.articles(30), [])
    settings = settings_for(namespace, cao_db, [shop_entry("web", phoenix_db)])
    with cao_db.engine.connect() as conn:
        capture.install(conn)
    with _following(settings, signal="triggers", proof_interval_s=3,
                    full_interval_s=3600) as fulls:
        _wait(lambda: _shop_row(phoenix_db, 30)[0] is not None, 30)
        before = len(fulls)
        cao_db.execute("DROP TRIGGER shopbridge_artikel_au")      # the signal is off ...
        cao_db.execute("UPDATE artikel SET MENGE_AKT = 555, VK1 = 43.21 WHERE REC_ID = 7")
        with cao_db.engine.connect() as conn:
            capture.install(conn)                                # ... and back
        assert cao_db.scalar(f"SELECT COUNT(*) FROM {capture.CHANGE_TABLE}") == 0
        _wait(lambda: _shop_row(phoenix_db, 7) == (555, Decimal("43.2100")), 20)
        _wait(lambda: len(fulls) > before, 10)         # the proof diff found it (and ended)
        assert fulls[-1].published["product.upserted"] == 1


def test_without_triggers_the_gate_scans_only_after_a_write(cao_db, phoenix_db, namespace,
                                                           monkeypatch):
    """The fallback: MyISAM's UPDATE_TIME opens the stock scan; an idle CAO gets none."""
    fill_cao(cao_db, sample.articles(30), [])
    settings = settings_for(namespace, cao_db, [shop_entry("web", phoenix_db)])
    scans: list[float] = []
    real_stock_scan = CaoProducer.stock_scan

    def stock_scan(self: CaoProducer) -> CycleReport:
        scans.append(time.monotonic())
        return real_stock_scan(self)

    monkeypatch.setattr(CaoProducer, "stock_scan", stock_scan)
    with _following(settings, signal="auto", stock_interval_s=0.1, full_interval_s=3600,
                    proof_interval_s=3600) as fulls:
        _wait(lambda: _shop_row(phoenix_db, 30)[0] is not None, 30)
        time.sleep(2.5)                   # a write in the last second may still count
        scans.clear()
        time.sleep(2.0)                   # 20 periods of nothing written
        assert scans == []
        cao_db.execute("UPDATE artikel SET MENGE_AKT = 321 WHERE REC_ID = 9")
        _wait(lambda: _shop_row(phoenix_db, 9)[0] == 321, 10)
        assert scans and len(fulls) == 1


def test_a_user_without_the_trigger_privilege_sees_whether_they_are_complete(cao_db):
    """information_schema.TRIGGERS hides the statements of triggers from a user without
    TRIGGER: such a producer checks their names and tables, and follows on them."""
    import sqlalchemy as sa

    user = f"sbcap_{cao_db.name[-10:]}"
    cao_db.execute(f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY 'pw'")
    try:
        cao_db.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON `{cao_db.name}`.* "
                       f"TO '{user}'@'127.0.0.1'")
        engine = sa.create_engine(cao_db.url.set(username=user, password="pw"))
        try:
            with engine.connect() as conn:
                assert not capture.state(conn).assumed            # no change table yet
            with cao_db.engine.connect() as conn:
                capture.install(conn)
            with engine.connect() as conn:
                found = capture.state(conn)
                # MariaDB shows it the triggers' names, not their statements.
                assert found.complete and found.blind and not found.outdated
                assert "not visible to this database user" in found.describe()
            cao_db.execute("DROP TRIGGER shopbridge_artikel_au")
            with engine.connect() as conn:
                found = capture.state(conn)
                assert not found.complete and found.missing == ["shopbridge_artikel_au"]
        finally:
            engine.dispose()
    finally:
        cao_db.execute(f"DROP USER '{user}'@'127.0.0.1'")


def test_a_childs_change_reaches_its_master_through_the_signal(cao_db, phoenix_db, namespace):
    """Variants: a child's stock (the master's sum) and a new child (a new option value)
    through the signal, without a full cycle."""
    from tests.integration.test_variants import DE, attributes
    from tests.integration.test_variants import articles as variant_articles
    from tests.integration.test_variants import settings as variant_settings

    fill_cao(cao_db, variant_articles(), [])
    settings = variant_settings(namespace, cao_db, [shop_entry("web", phoenix_db)])
    with cao_db.engine.connect() as conn:
        capture.install(conn)

    def master_stock() -> Any:
        return phoenix_db.scalar("SELECT products_quantity FROM products "
                                 "WHERE products_model = 'SHIRT'")

    with _following(settings, signal="triggers", proof_interval_s=3600,
                    full_interval_s=3600) as fulls:
        _wait(lambda: master_stock() == 3 + 2 + 5 + 0, 30)
        _wait(lambda: len(fulls) == 1, 10)
        cao_db.execute("UPDATE artikel SET MENGE_AKT = 13 WHERE ARTNUM = 'SHIRT-RT-M'")
        _wait(lambda: master_stock() == 3 + 2 + 13 + 0, 10)
        cao_db.execute("INSERT INTO artikel (REC_ID, ARTNUM, KURZNAME, DIM_A, DIM_B, VK1, "
                       "VK2, MENGE_AKT, SHOP_ID) VALUES (50, 'SHIRT-GN-M', 'T-Shirt grün', "
                       "'Grün', 'M', 20.00, 18.00, 4, -1)")
        _wait(lambda: ("Farbe", "Grün") in attributes(phoenix_db, "SHIRT", DE), 10)
        _wait(lambda: master_stock() == 3 + 2 + 13 + 0 + 4, 10)
        assert len(fulls) == 1


def test_a_one_shot_produce_consumes_the_change_rows_its_diff_covered(cao_db, phoenix_db,
                                                                      namespace):
    """Without a following producer (a cron job), each full diff empties the change table
    of what it covered, so the table stays short."""
    from tests.helpers import produce

    fill_cao(cao_db, sample.articles(10), [])
    settings = settings_for(namespace, cao_db, [shop_entry("web", phoenix_db)])
    with cao_db.engine.connect() as conn:
        capture.install(conn)
    cao_db.execute("UPDATE artikel SET MENGE_AKT = MENGE_AKT + 1")
    assert cao_db.scalar(f"SELECT COUNT(*) FROM {capture.CHANGE_TABLE}") == 10
    report = produce(settings)
    assert report.published["product.upserted"] == 10
    assert cao_db.scalar(f"SELECT COUNT(*) FROM {capture.CHANGE_TABLE}") == 0


def test_a_page_of_stock_only_changes_does_not_hide_a_price_change_behind_it(
        cao_db, phoenix_db, namespace, monkeypatch):
    """Review: the signal's article diff went by pages of named ids and stopped at the first
    page without a changed hash, so a price change behind a page of stock bookings waited for
    the proof diff while its change row was consumed."""
    from producers.cao import producer as producer_module
    from tests.helpers import produce

    monkeypatch.setattr(producer_module, "PAGE", 5)
    fill_cao(cao_db, sample.articles(12), [])
    settings = settings_for(namespace, cao_db, [shop_entry("web", phoenix_db)])
    produce(settings)
    with cao_db.engine.connect() as conn:
        capture.install(conn)
    cao_db.execute("UPDATE artikel SET MENGE_AKT = MENGE_AKT + 1 WHERE REC_ID <= 5")
    cao_db.execute("UPDATE artikel SET VK1 = 99.99 WHERE REC_ID = 11")
    made = CaoProducer(broker=settings.broker, tenant=settings.tenants[0],
                       engine=cao_db.engine)
    try:
        report = made.signal_cycle()
    finally:
        made.close()
    assert report.published["product.upserted"] == 1
    assert report.published["stock.changed"] == 5
    assert cao_db.scalar(f"SELECT COUNT(*) FROM {capture.CHANGE_TABLE}") == 0


def test_the_triggers_insert_by_values_and_an_update_that_keeps_the_key_writes_one_row(
        cao_db):
    """Review: INSERT ... SELECT in a trigger holds the change table's AUTO-INC lock until the
    merchant's statement ends (lock mode 1); the bodies insert a VALUES list."""
    fill_cao(cao_db, sample.articles(3), [])
    with cao_db.engine.connect() as conn:
        capture.install(conn)
    bodies = [str(r[0]) for r in cao_db.rows(
        "SELECT ACTION_STATEMENT FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = "
        "DATABASE() AND TRIGGER_NAME LIKE %s", ("shopbridge\\_%",))]
    assert bodies and all("VALUES" in b and "SELECT" not in b for b in bodies)
    cao_db.execute("UPDATE artikel SET MENGE_AKT = 5 WHERE REC_ID = 2")
    cao_db.execute("UPDATE artikel SET REC_ID = 40 WHERE REC_ID = 3")
    assert cao_db.rows(f"SELECT tbl, rec_id FROM {capture.CHANGE_TABLE} ORDER BY id") == [
        ("ARTIKEL", 2), ("ARTIKEL", 40), ("ARTIKEL", 3)]
