"""Orders into CAO a batch at a time (issue 14): each order exactly once and never half, a
refused order dead-lettered alone, customers found as one at a time would find them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from consumers.cao import CaoOrderApplier, importer
from consumers.runner import ShopConsumer
from shopbridge import config as cfg
from shopbridge import dlq, topology
from shopbridge import events as ev
from shopbridge.errors import MappingError, TargetLocked
from tests.conftest import add_cao_articles
from tests.integration.test_order_import import (
    Crash,
    address,
    applier_for,
    order,
    publish_confirmed,
    settings,
)


@pytest.fixture(autouse=True)
def articles(erp: Any) -> None:
    add_cao_articles(erp)


def batch() -> list[ev.Event]:
    """Six orders: two of one new guest (the e-mail in two spellings), two of one
    registered customer, one other registered customer with another delivery address, and
    one more guest."""
    elsewhere = address(name="Bernd Paket", street="Lagerweg 3")
    return [
        order(21, email="gast@example.org", guest=True),
        order(22, email="reg@example.org", customer_id=7),
        order(23, email="GAST@example.org", guest=True),
        order(24, email="reg@example.org", customer_id=7),
        order(25, email="bernd@example.org", customer_id=8,
              addresses={"customer": address(), "billing": address(), "delivery": elsewhere}),
        order(26, email="other@example.org", guest=True),
    ]


def document_facts(erp: Any) -> list[tuple[Any, ...]]:
    return erp.rows(
        "SELECT j.SHOP_ORDERID, j.VRENUM, j.BSUMME, COUNT(p.REC_ID), SUM(p.GPREIS) "
        "FROM journal j LEFT JOIN journalpos p ON p.JOURNAL_ID = j.REC_ID "
        "GROUP BY j.REC_ID ORDER BY j.SHOP_ORDERID")


def test_a_batch_is_imported_once_each_order_with_its_own_number_and_positions(erp, namespace):
    applier = applier_for(settings(namespace, erp), erp)

    first = applier.apply(batch())
    again = applier.apply(batch())                          # the whole batch redelivered

    assert (first.applied, first.skipped) == (6, 0)
    assert (again.applied, again.skipped) == (0, 6)
    facts = document_facts(erp)
    assert [f[0] for f in facts] == [21, 22, 23, 24, 25, 26]
    assert [f[1] for f in facts] == [f"RE-00{n}" for n in range(1001, 1007)]  # in order, no gap
    assert all(f[2] == Decimal("57.10") and f[3] == 3 for f in facts)
    # Each position row belongs to the header of its own order.
    assert erp.scalar("SELECT COUNT(*) FROM journalpos p JOIN journal j ON j.REC_ID = "
                      "p.JOURNAL_ID WHERE p.VRENUM <> j.VRENUM OR p.ADDR_ID <> j.ADDR_ID") == 0
    assert erp.rows("SELECT state, COUNT(*), COUNT(journal_id), COUNT(addr_id) "
                    "FROM shopbridge_order_import GROUP BY state") == [("complete", 6, 6, 6)]
    assert erp.scalar("SELECT COUNT(*) FROM shopbridge_order_import i JOIN journal j ON "
                      "j.REC_ID = i.journal_id AND j.SHOP_ORDERID = i.order_id") == 6
    # One address per customer, as one order at a time makes them.
    assert erp.rows("SELECT EMAIL, KUNNUM1, SHOP_KUNDE_ID FROM adressen ORDER BY REC_ID") == [
        ("GAST@example.org", "50001", -1), ("reg@example.org", "50002", 7),
        ("bernd@example.org", "50003", 8), ("other@example.org", "50004", -1)]
    assert erp.scalar("SELECT COUNT(*) FROM adressen_asp") == 2      # the registered ones
    assert erp.scalar("SELECT COUNT(*) FROM adressen_lief") == 1
    assert erp.scalar("SELECT COUNT(DISTINCT ADDR_ID) FROM journal") == 4


def tricky() -> list[ev.Event]:
    """Orders whose customers depend on what the orders before them in the batch did."""
    lager = address(name="Lager Nord", street="Industriestraße 5")
    shouted = address(name="Lager Nord", street="INDUSTRIESTRASSE 5".replace("SS", "ß"))
    to = {"customer": address(), "billing": address()}
    return [
        order(51, email="neu@example.org", customer_id=9),        # moves 9 to a new e-mail
        order(52, email="neu@example.org", guest=True),           # finds 9 by it
        order(53, email="alt@example.org", guest=True),           # 9's old e-mail: new guest
        order(54, email="x@example.org", customer_id=10, addresses={**to, "delivery": lager}),
        order(55, email="x@example.org", customer_id=10, addresses={**to, "delivery": lager}),
        order(56, email="x@example.org", customer_id=10, addresses={**to, "delivery": shouted}),
    ]


def reset(erp: Any) -> None:
    for table in ("journalpos", "journal", "adressen", "adressen_asp", "adressen_lief",
                  "shopbridge_order_import"):
        erp.execute(f"DELETE FROM {table}")
        if table != "shopbridge_order_import":
            erp.execute(f"ALTER TABLE {table} AUTO_INCREMENT = 1")
    erp.execute("UPDATE registry SET VAL_INT2 = CASE VAL_INT WHEN 10 THEN 1001 "
                "WHEN 99 THEN 50001 ELSE 10001 END WHERE MAINKEY = 'MAIN\\\\NUMBERS'")


@pytest.mark.parametrize("orders", [batch, tricky])
def test_a_batch_matches_one_order_at_a_time(erp, namespace, orders):
    """The batch's customers (read at once, written only where they change, their numbers
    reserved together) end as the same rows as importing the orders one by one."""
    applier = applier_for(settings(namespace, erp), erp)
    before = order(50, email="alt@example.org", customer_id=9)
    for event in [before, *orders()]:
        applier.apply([event])
    one_by_one = snapshot(erp)
    reset(erp)

    applier.apply([before])
    applier.apply(orders())

    assert snapshot(erp) == one_by_one
    # No number reserved and left unused: the ranges go on where the last address stopped.
    kunnums = [int(k) for (k,) in erp.rows("SELECT KUNNUM1 FROM adressen ORDER BY KUNNUM1")]
    assert kunnums == list(range(50001, 50001 + len(kunnums)))
    assert erp.scalar("SELECT VAL_INT2 FROM registry WHERE VAL_INT = 99") == 50001 + len(kunnums)


def snapshot(erp: Any) -> dict[str, Any]:
    return {
        "journal": erp.rows("SELECT SHOP_ORDERID, VRENUM, KUN_NUM, KUN_NAME1, GEGENKONTO, "
                            "BSUMME, ASP_ID > 0, LIEF_ADDR_ID > 0 FROM journal "
                            "ORDER BY SHOP_ORDERID"),
        "adressen": erp.rows("SELECT KUNNUM1, DEB_NUM, EMAIL, NAME1, STRASSE, SHOP_KUNDE, "
                             "SHOP_KUNDE_ID FROM adressen ORDER BY KUNNUM1"),
        "asp": erp.rows("SELECT a.KUNNUM1, p.NAME, p.VORNAME, p.EMAIL FROM adressen_asp p "
                        "JOIN adressen a ON a.REC_ID = p.ADDR_ID ORDER BY a.KUNNUM1"),
        "lief": erp.rows("SELECT a.KUNNUM1, l.NAME1, l.STRASSE FROM adressen_lief l "
                         "JOIN adressen a ON a.REC_ID = l.ADDR_ID ORDER BY a.KUNNUM1"),
    }


def test_a_batch_cut_off_between_headers_and_positions_is_completed_not_duplicated(
        erp, namespace, monkeypatch):
    applier = applier_for(settings(namespace, erp), erp)
    real = CaoOrderApplier._write_positions

    def crash(*args: Any, **kwargs: Any) -> None:
        raise Crash

    monkeypatch.setattr(CaoOrderApplier, "_write_positions", crash)
    with pytest.raises(Crash):
        applier.apply(batch())
    assert erp.scalar("SELECT COUNT(*) FROM journal") == 6
    assert erp.scalar("SELECT COUNT(*) FROM journalpos") == 0
    assert erp.rows("SELECT DISTINCT state FROM shopbridge_order_import") == [("started",)]
    monkeypatch.setattr(CaoOrderApplier, "_write_positions", real)

    # Redelivered in another batch shape: two on their own, the rest with a new order.
    assert applier.apply(batch()[:2]).applied == 2
    result = applier.apply([*batch()[2:], order(27, email="neu@example.org", guest=True)])

    assert result.applied == 5
    facts = document_facts(erp)
    assert [f[0] for f in facts] == [21, 22, 23, 24, 25, 26, 27]
    # The cut-off orders kept the numbers they drew; the new one drew the next.
    assert [f[1] for f in facts] == [f"RE-00{n}" for n in range(1001, 1008)]
    assert all(f[3] == 3 and f[4] is not None for f in facts)
    assert erp.scalar("SELECT COUNT(*) FROM adressen") == 5
    assert erp.rows("SELECT DISTINCT state FROM shopbridge_order_import") == [("complete",)]


def test_orders_already_imported_or_in_cao_are_skipped_inside_a_batch(erp, namespace):
    erp.execute("INSERT INTO journal (QUELLE, VRENUM, RDATUM, SHOP_ID, SHOP_ORDERID) "
                "VALUES (13, 'CAO-1', NOW(), 1, 23)")
    applier = applier_for(settings(namespace, erp), erp)
    applier.apply([order(22, email="reg@example.org", customer_id=7)])

    result = applier.apply(batch())

    assert (result.applied, result.skipped) == (4, 2)
    assert any("23" in n and "imported by something else" in n for n in result.notes)
    assert any("22" in n and "already imported" in n for n in result.notes)
    assert erp.scalar("SELECT COUNT(*) FROM journal WHERE SHOP_ORDERID = 23") == 1
    assert erp.scalar("SELECT COUNT(*) FROM journal WHERE SHOP_ORDERID = 22") == 1


def test_a_batch_with_a_non_ascii_email_finds_customers_by_sql(erp, namespace):
    """Memory cannot compare such an address as CAO's collation does: the batch asks
    MariaDB, one customer at a time, and still makes one address per customer."""
    applier = applier_for(settings(namespace, erp), erp)
    applier.apply([order(30, email="jürgen@example.org", guest=True)])

    result = applier.apply([*batch(), order(31, email="JÜRGEN@example.org", guest=True)])

    assert result.applied == 7
    assert erp.scalar("SELECT COUNT(*) FROM adressen") == 5


def run_consumer(s: cfg.Settings, erp: Any) -> Any:
    applier = CaoOrderApplier(tenant=s.tenants[0], engine=erp.engine)
    return ShopConsumer(broker=s.broker, target=topology.Target.for_erp("acme"),
                        applier=applier).run(idle_exit_s=0.6)


def test_a_refused_order_is_dead_lettered_alone_and_its_batch_imported(erp, namespace):
    """One message, one batch: the order with an unknown article goes to the dead letters
    naming it; the five others are imported, once, also when the message comes again."""
    s = settings(namespace, erp)
    run_consumer(s, erp)                                       # declares the ERP queues
    poisoned = order(40, email="gift@example.org", guest=True)
    poisoned.payload["items"][1]["erp_id"] = 999
    events = batch()
    events.insert(3, poisoned)
    publish_confirmed(namespace, ev.encode([e.raw for e in events[:5]]))
    publish_confirmed(namespace, ev.encode([e.raw for e in events[5:]]))

    stats = run_consumer(s, erp)

    assert (stats.applied, stats.dead) == (6, 1)
    letters = dlq.list_dead(s.broker, topology.Target.for_erp("acme"))
    assert len(letters) == 1
    assert "web:40" in letters[0].error or "40" in letters[0].error
    assert "article 999 not in CAO" in letters[0].error
    assert [f[0] for f in document_facts(erp)] == [21, 22, 23, 24, 25, 26]
    assert erp.scalar("SELECT COUNT(*) FROM shopbridge_order_import WHERE order_id = 40") == 0

    publish_confirmed(namespace, ev.encode([e.raw for e in batch()]))   # all again
    again = run_consumer(s, erp)

    assert (again.applied, again.dead) == (0, 0)
    assert erp.scalar("SELECT COUNT(*) FROM journal") == 6
    assert erp.scalar("SELECT COUNT(*) FROM journalpos") == 18


def test_a_batch_with_an_order_locked_elsewhere_writes_nothing_and_keeps_no_lock(
        erp, namespace):
    applier = applier_for(settings(namespace, erp), erp)
    busy = applier._lock_name("order:web:23")
    with erp.engine.connect() as other:
        assert other.exec_driver_sql("SELECT GET_LOCK(%s, 0)", (busy,)).scalar() == 1
        with pytest.raises(TargetLocked):
            applier.apply(batch())
        assert erp.scalar("SELECT COUNT(*) FROM journal") == 0
        assert erp.scalar("SELECT COUNT(*) FROM shopbridge_order_import") == 0
        free = other.exec_driver_sql("SELECT IS_FREE_LOCK(%s), IS_FREE_LOCK(%s)", (
            applier._lock_name("order:web:21"),
            applier._lock_name("customer:gast@example.org"))).one()
        assert tuple(free) == (1, 1)                    # the batch let go of what it took
        other.exec_driver_sql("SELECT RELEASE_LOCK(%s)", (busy,))

    assert applier.apply(batch()).applied == 6


def test_a_refused_order_in_a_later_chunk_stops_the_call_before_any_write(
        erp, namespace, monkeypatch):
    """A consumer's batch is imported 500 orders at a time: every order is checked before
    the first chunk is written, so the batch the consumer then applies in halves finds
    nothing half done (and counts every order as applied, not as already imported)."""
    monkeypatch.setattr(importer, "ORDER_BATCH", 2)
    applier = applier_for(settings(namespace, erp), erp)
    poisoned = order(40, email="gift@example.org", guest=True, payment="Bitcoin")
    events = [*batch()[:4], poisoned, *batch()[4:]]

    with pytest.raises(MappingError, match="payment method 'Bitcoin'"):
        applier.apply(events)

    assert erp.scalar("SELECT COUNT(*) FROM journal") == 0
    assert erp.scalar("SELECT COUNT(*) FROM adressen") == 0
    assert applier.apply([e for e in events if e is not poisoned]).applied == 6


def test_two_shops_under_one_cao_shop_id_never_lose_an_order_to_each_other(erp, namespace):
    """CAO tells orders apart by SHOP_ID and SHOP_ORDERID only. Two shops configured with
    the same cao_shop_id and the same order id: the first is imported; the second is refused
    by name (a dead letter to replay once the shop has its own id), never skipped as
    "imported by something else" and never taken for its own cut-off rows (deleted)."""
    import copy

    from tests.conftest import config_data, shop_entry
    from tests.integration.test_order_import import ORDERS

    shops = [shop_entry(name, erp, orders=copy.deepcopy(ORDERS)) for name in ("web", "b2b")]
    s = cfg.parse(config_data(namespace, erp, shops), source="test")
    applier = applier_for(s, erp)
    web, b2b = order(801), order(801)
    b2b.payload["shop"] = "b2b"

    with pytest.raises(MappingError, match=r"shop 'b2b'.*share CAO's SHOP_ID 1"):
        applier.apply([web, b2b])                 # one batch: refused before any write
    assert erp.scalar("SELECT COUNT(*) FROM journal") == 0
    assert applier.apply([web]).applied == 1      # the consumer's fallback, web alone
    with pytest.raises(MappingError, match=r"order 801 of shop 'b2b'.*shop 'web'"):
        applier.apply([b2b])
    # Even with b2b's import cut off before (a 'started' row), web's document stays.
    erp.execute("INSERT INTO shopbridge_order_import (shop, order_id, state, vrenum, "
                "event_id, started_at) VALUES ('b2b', 801, 'started', 'RE-009999', 'x', NOW())")
    with pytest.raises(MappingError, match="share CAO's SHOP_ID"):
        applier.apply([b2b])
    assert erp.rows("SELECT SHOP_ORDERID, VRENUM FROM journal") == [(801, "RE-001001")]
    assert erp.scalar("SELECT COUNT(*) FROM journalpos") == 3


def test_invoices_draw_their_numbers_one_order_at_a_time(erp, namespace, monkeypatch):
    """Invoice numbers must have no gaps; a crash between drawing a batch's numbers and
    recording them would lose the batch's, so invoices are imported one by one (review)."""
    erp.execute("INSERT INTO registry (MAINKEY, NAME, VAL_INT, VAL_CHAR, VAL_INT2) VALUES "
                "('MAIN\\\\NUMBERS', 'VRENUM', 3, 'R-000000', 501)")
    applier = applier_for(settings(namespace, erp, document="invoice"), erp)
    sizes: list[int] = []
    real = applier.import_orders

    def spy(plans: Any) -> Any:
        sizes.append(len(plans))
        return real(plans)

    monkeypatch.setattr(applier, "import_orders", spy)
    assert applier.apply(batch()).applied == 6
    assert sizes == [1] * 6
    assert [r[0] for r in erp.rows("SELECT VRENUM FROM journal ORDER BY REC_ID")] == [
        f"R-000{n}" for n in range(501, 507)]
