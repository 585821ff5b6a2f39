"""Issue 8: a shop order lands in CAO as the shop charged it, booking articles CAO has.

Against the real CAO DDL in MariaDB. The shop's ``orders_total`` rows come from
``tests/phoenix_checkout.py``, which computes them as Phoenix's PHP does; the CAO document's
gross total, VAT per rate and every position must equal them to the cent.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumers.cao import CaoOrderApplier
from consumers.runner import ShopConsumer
from shopbridge import dlq, topology
from shopbridge import events as ev
from shopbridge.errors import MappingError
from tests.integration.test_order_import import address, applier_for, publish_confirmed
from tests.integration.test_order_import import settings as order_settings
from tests.phoenix_checkout import Checkout, Line

RATE_CODE = {Decimal(0): 0, Decimal(7): 1, Decimal(19): 2}
_ids = itertools.count(1000)

ARTICLES = [  # REC_ID, ARTNUM, ARTIKELTYP
    (1, "A-000001", "N"), (2, "A-000002", "N"), (3, "A-000003", "N"),
    (10, "TS-100", "N"), (11, "TS-100-BLAU-XL", "N"), (12, "TS-100-ROT-XL", "N"),
]


@pytest.fixture
def cao(erp):
    erp.execute("INSERT INTO artikel (REC_ID, ARTNUM, ARTIKELTYP, KURZNAME, MENGE_AKT) "
                "VALUES (%s, %s, %s, %s, 5)", [(*a, a[1]) for a in ARTICLES])
    return erp


def payload_items(checkout: Checkout) -> list[dict[str, Any]]:
    return [{"line": i, "shop_product_id": 100 + i, "erp_id": 1 + (i - 1) % 3,
             "sku": f"A-00000{1 + (i - 1) % 3}", "name": f"Artikel {i}",
             "quantity": line.quantity, "price_net": str(line.final_price),
             "final_price_net": str(line.final_price), "tax_rate": f"{line.tax:.4f}",
             "attributes": []}
            for i, line in enumerate(checkout.lines, start=1)]


def order_event(checkout: Checkout, *, items: list[dict[str, Any]] | None = None,
                order_id: int | None = None) -> ev.Event:
    payload = {
        "shop": "web", "order_id": order_id or next(_ids), "placed_at": "2026-11-20T14:03:00",
        "currency": "EUR", "currency_value": "1.000000",
        "prices_include_tax": checkout.gross, "status_id": 1, "language": "de",
        "customer": {"shop_customer_id": 5, "email": "anna@example.org",
                     "telephone": None, "guest": False},
        "addresses": {"customer": address(), "billing": address(), "delivery": address()},
        "payment_method": "Cash on Delivery",
        "shipping_method": "Flat Rate" if checkout.shipping_cost else None,
        "items": items if items is not None else payload_items(checkout),
        "totals": [{"class": c, "title": t, "value": str(v), "sort_order": s}
                   for c, t, v, s in checkout.rows],
        "comment": None,
    }
    return ev.parse(ev.make_event("order.placed", tenant="acme", source="oscommerce:web",
                                  entity_key=f"web:{payload['order_id']}", version=1,
                                  payload=payload))


def document(db: Any, order_id: int) -> dict[str, Any]:
    header = db.rows("SELECT REC_ID, BSUMME, MSUMME, NSUMME, BRUTTO_FLAG, MSUMME_0, MSUMME_1, "
                     "MSUMME_2, BSUMME_0, BSUMME_1, BSUMME_2, NSUMME_0, NSUMME_1, NSUMME_2 "
                     "FROM journal WHERE SHOP_ORDERID = %s", (order_id,))
    assert len(header) == 1, f"order {order_id}: {len(header)} documents"
    (rec_id, gross, vat, net, brutto, *sums) = header[0]
    positions = db.rows("SELECT ARTIKEL_ID, ARTNUM, ARTIKELTYP, BEZEICHNUNG, MENGE, EPREIS, "
                        "GPREIS, STEUER_CODE, BRUTTO_FLAG FROM journalpos WHERE JOURNAL_ID = %s "
                        "ORDER BY POSITION", (rec_id,))
    return {"gross": gross, "vat": vat, "net": net, "brutto": brutto,
            "vat_by_code": dict(zip((0, 1, 2), sums[0:3], strict=True)),
            "gross_by_code": dict(zip((0, 1, 2), sums[3:6], strict=True)),
            "net_by_code": dict(zip((0, 1, 2), sums[6:9], strict=True)),
            "positions": positions}


def assert_as_charged(db: Any, order_id: int, checkout: Checkout) -> dict[str, Any]:
    """Gross total, VAT per rate and the positions equal the shop's rows to the cent."""
    doc = document(db, order_id)
    assert doc["gross"] == checkout.charged
    rates = {line.tax for line in checkout.lines} | {checkout.shipping_tax}
    for rate in rates:
        assert doc["vat_by_code"][RATE_CODE[rate]] == checkout.vat(rate), f"VAT at {rate} %"
    assert doc["vat"] == sum(doc["vat_by_code"].values())
    assert doc["gross"] == doc["net"] + doc["vat"]
    for code in (0, 1, 2):
        assert doc["gross_by_code"][code] == doc["net_by_code"][code] + doc["vat_by_code"][code]
    items = doc["positions"][:len(checkout.lines)]
    if checkout.gross:    # the lines the customer saw are the positions, gross
        assert [p[6] for p in items] == checkout.line_shown
        assert {p[8] for p in doc["positions"]} == {"Y"} and doc["brutto"] == "Y"
    else:
        assert [p[6] for p in items] == checkout.line_shown
        assert doc["brutto"] == "N"
    if checkout.shipping_cost:
        shipping = doc["positions"][len(checkout.lines)]
        assert shipping[6] == checkout.text["Pauschale Versandkosten:"]
        assert shipping[7] == RATE_CODE[checkout.shipping_tax]
    return doc


def test_two_of_a_variant_at_a_shown_18_45_land_as_41_90_not_41_89(cao, namespace):
    """The reported case: net 15.5042 (gross 18.449998, shown 18.45) x 2 + 5.00 untaxed
    shipping in a gross-priced shop: the customer paid 41.90."""
    applier = applier_for(order_settings(namespace, cao), cao)
    checkout = Checkout([Line(Decimal("15.5042"), Decimal(19), 2)], gross=True,
                        shipping_cost=Decimal("5.00"))
    assert checkout.charged == Decimal("41.90")

    applier.apply([order_event(checkout, order_id=41)])

    doc = assert_as_charged(cao, 41, checkout)
    assert doc["positions"][0][5:7] == (Decimal("18.4500"), Decimal("36.90"))
    assert (doc["gross"], doc["vat"]) == (Decimal("41.90"), Decimal("5.89"))
    assert doc["positions"][1][7] == 0       # the untaxed flat rate is booked untaxed


@pytest.mark.parametrize("gross", [True, False], ids=["gross-shop", "net-shop"])
@pytest.mark.parametrize("shipping_tax", [Decimal(19), Decimal(7), Decimal(0)],
                         ids=["shipping-19", "shipping-7", "shipping-untaxed"])
def test_a_mixed_7_and_19_percent_cart_with_taxed_or_untaxed_shipping(
        cao, namespace, gross, shipping_tax):
    applier = applier_for(order_settings(namespace, cao), cao)
    checkout = Checkout([Line(Decimal("15.5042"), Decimal(19), 2),
                         Line(Decimal("4.6729"), Decimal(7), 3),
                         Line(Decimal("0.8361"), Decimal(19), 7)],
                        gross=gross, shipping_cost=Decimal("4.20"), shipping_tax=shipping_tax)
    event = order_event(checkout)

    result = applier.apply([event])

    assert result.applied == 1
    assert_as_charged(cao, event.payload["order_id"], checkout)


def test_an_order_that_records_no_vat_books_shipping_at_the_configured_code(cao, namespace):
    """A shop with the ot_tax module switched off: the charges' VAT cannot be read from the
    order, so orders.shipping_tax_code decides, and the import note says so."""
    applier = applier_for(order_settings(namespace, cao, shipping_tax_code=1), cao)
    checkout = Checkout([Line(Decimal("10.0000"), Decimal(19), 1)], gross=True,
                        shipping_cost=Decimal("5.00"), shipping_tax=Decimal(7))
    event = order_event(checkout)
    event.payload["totals"] = [t for t in event.payload["totals"] if t["class"] != "ot_tax"]

    applier.apply([event])

    doc = document(cao, event.payload["order_id"])
    assert doc["positions"][1][7] == 1 and doc["gross"] == checkout.charged
    assert "orders.shipping_tax_code 1" in cao.scalar(
        "SELECT notes FROM shopbridge_order_import WHERE order_id = %s",
        (event.payload["order_id"],))


PRICES = st.decimals(min_value=Decimal("0.0100"), max_value=Decimal("999.9999"), places=4)
RATES = st.sampled_from([Decimal(0), Decimal(7), Decimal(19)])
LINES = st.builds(Line, final_price=PRICES, tax=RATES, quantity=st.integers(1, 12))
CARTS = st.builds(Checkout, lines=st.lists(LINES, min_size=1, max_size=6), gross=st.booleans(),
                  shipping_cost=st.one_of(st.none(), st.decimals(
                      min_value=Decimal("0.01"), max_value=Decimal("49.99"), places=2)),
                  shipping_tax=RATES)
EXAMPLES = 300


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(checkout=CARTS)
def test_any_cart_lands_in_cao_as_the_shop_charged_it(cao, namespace, checkout):
    """Random carts (net prices with four decimals, quantities, 0/7/19 % and shipping taxed
    at any of them or not, gross- and net-priced shops) imported into the real CAO tables."""
    applier = applier_for(order_settings(namespace, cao), cao)
    event = order_event(checkout)

    assert applier.apply([event]).applied == 1

    assert_as_charged(cao, event.payload["order_id"], checkout)


# -- which article a line books ---------------------------------------------------------------

def variant_item(erp_id: int | None, dims: dict[str, str]) -> dict[str, Any]:
    return {"line": 1, "shop_product_id": 50, "erp_id": 10, "sku": "TS-100",
            "name": "T-Shirt", "quantity": 2, "price_net": "15.5042",
            "final_price_net": "15.5042", "tax_rate": "19.0000",
            "attributes": [{"option": "Farbe", "value": dims["A"], "price_net": "0.0000",
                            "prefix": "+"},
                           {"option": "Größe", "value": dims["B"], "price_net": "0.0000",
                            "prefix": "+"}],
            "variant": {"erp_id": erp_id, "dims": dims}}


def test_a_bought_variant_books_the_child_article_and_keeps_the_options_as_text(cao, namespace):
    applier = applier_for(order_settings(namespace, cao), cao)
    checkout = Checkout([Line(Decimal("15.5042"), Decimal(19), 2)], gross=True)
    master_before = cao.rows("SELECT * FROM artikel WHERE REC_ID = 10")
    event = order_event(checkout, items=[variant_item(11, {"A": "Blau", "B": "XL"})])

    applier.apply([event])

    [position] = document(cao, event.payload["order_id"])["positions"]
    assert position[:3] == (11, "TS-100-BLAU-XL", "N")
    assert position[3] == "T-Shirt\nFarbe: Blau\nGröße: XL"
    assert cao.rows("SELECT * FROM artikel WHERE REC_ID = 10") == master_before
    assert cao.scalar("SELECT COUNT(*) FROM journalpos WHERE ARTIKEL_ID = 10") == 0


def test_a_combination_without_a_child_books_the_master_with_a_note(cao, namespace):
    applier = applier_for(order_settings(namespace, cao), cao)
    checkout = Checkout([Line(Decimal("15.5042"), Decimal(19), 2)], gross=True)
    event = order_event(checkout, items=[variant_item(None, {"A": "Grün", "B": "XXL"})])

    assert applier.apply([event]).applied == 1

    [position] = document(cao, event.payload["order_id"])["positions"]
    assert position[:2] == (10, "TS-100")
    assert "Variante A=Grün / B=XXL hat keinen eigenen Artikel in CAO" in position[3]
    notes = cao.scalar("SELECT notes FROM shopbridge_order_import")
    assert "payload.items[0]: SKU TS-100: Variante A=Grün / B=XXL" in notes


def nope_item() -> dict[str, Any]:
    return {"line": 1, "shop_product_id": 77, "erp_id": 999999, "sku": "NOPE-999",
            "name": "Gibt es nicht", "quantity": 1, "price_net": "10.0000",
            "final_price_net": "10.0000", "tax_rate": "19.0000", "attributes": []}


def test_an_article_cao_lacks_is_dead_lettered_naming_the_line_and_replayed_once_it_exists(
        cao, namespace):
    s = order_settings(namespace, cao)
    target = topology.Target.for_erp("acme")
    checkout = Checkout([Line(Decimal("10.0000"), Decimal(19), 1)], gross=False)
    event = order_event(checkout, items=[nope_item()])

    def run() -> Any:
        applier = CaoOrderApplier(tenant=s.tenants[0], engine=cao.engine)
        return ShopConsumer(broker=s.broker, target=target, applier=applier).run(
            idle_exit_s=0.6)

    run()                                                      # declares the ERP queues
    publish_confirmed(namespace, ev.encode([event.raw]))
    assert run().dead == 1
    [letter] = dlq.list_dead(s.broker, target)
    assert "payload.items[0]: SKU NOPE-999 / article 999999 not in CAO" in letter.error
    assert cao.scalar("SELECT COUNT(*) FROM journal") == 0     # no reference to nothing

    cao.execute("INSERT INTO artikel (REC_ID, ARTNUM, KURZNAME) VALUES (999999, 'NOPE-999', "
                "'Jetzt da')")
    assert dlq.replay(s.broker, target).moved == 1
    assert run().applied == 1
    [position] = document(cao, event.payload["order_id"])["positions"]
    assert position[:2] == (999999, "NOPE-999")


def test_a_shop_may_import_unknown_articles_as_free_text_with_a_note(cao, namespace):
    applier = applier_for(order_settings(namespace, cao, unknown_articles="free_text"), cao)
    checkout = Checkout([Line(Decimal("10.0000"), Decimal(19), 1)], gross=False)
    event = order_event(checkout, items=[nope_item()])

    assert applier.apply([event]).applied == 1

    [position] = document(cao, event.payload["order_id"])["positions"]
    assert position[:3] == (-1, "NOPE-999", "F")
    assert "SKU NOPE-999 / article 999999 not in CAO: imported as a free-text position" in (
        cao.scalar("SELECT notes FROM shopbridge_order_import"))


def test_a_line_without_erp_link_books_the_article_with_its_sku(cao, namespace):
    applier = applier_for(order_settings(namespace, cao), cao)
    checkout = Checkout([Line(Decimal("10.0000"), Decimal(19), 1)], gross=False)
    item = {**nope_item(), "erp_id": None, "sku": "A-000003"}

    applier.apply([order_event(checkout, items=[item], order_id=77)])

    assert document(cao, 77)["positions"][0][:2] == (3, "A-000003")


def test_an_unlinked_line_whose_sku_cao_lacks_is_refused_naming_it(cao, namespace):
    applier = applier_for(order_settings(namespace, cao), cao)
    checkout = Checkout([Line(Decimal("10.0000"), Decimal(19), 1)], gross=False)
    item = {**nope_item(), "erp_id": None}

    with pytest.raises(MappingError, match=r"payload.items\[0\]: SKU NOPE-999 / shop product "
                                           r"77 is linked to no ERP article"):
        applier.apply([order_event(checkout, items=[item])])


def test_free_text_imports_are_shown_by_orders_count_and_check(
        cao, phoenix_db, namespace, tmp_path, capsys):
    from shopbridge import cli
    from tests.conftest import config_data, shop_entry
    from tests.helpers import to_toml
    from tests.integration.test_order_import import ORDERS

    orders = {**ORDERS, "unknown_articles": "free_text"}
    data = config_data(namespace, cao, [shop_entry("web", phoenix_db, orders=orders)])
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(data))
    s = order_settings(namespace, cao, unknown_articles="free_text")
    checkout = Checkout([Line(Decimal("10.0000"), Decimal(19), 1)], gross=False)
    applier_for(s, cao).apply([order_event(checkout, items=[nope_item()], order_id=88)])

    assert cli.main(["-c", str(path), "orders", "count", "--shop", "web"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "1 imported order(s) with import notes" in out
    assert ("order 88 (CAO RE-001001): payload.items[0]: SKU NOPE-999 / article 999999 not "
            "in CAO: imported as a free-text position") in out
    cli.main(["-c", str(path), "check"])
    out = capsys.readouterr().out
    assert "shop web: 1 order imported with import notes" in out and "NOPE-999" in out


def test_a_gross_shops_order_reaches_cao_as_charged_through_the_orders_import_command(
        cao, phoenix_db, namespace, tmp_path, capsys):
    """Shop -> producer -> queue -> CAO with the real command: the producer reads the shop's
    DISPLAY_PRICE_WITH_TAX, so the importer rounds the lines as the shop did."""
    from shopbridge import cli
    from tests.conftest import config_data, shop_entry
    from tests.helpers import to_toml
    from tests.integration.test_order_import import ORDERS
    from tests.integration.test_order_producer import Item, Order, add_order

    phoenix_db.execute("UPDATE configuration SET configuration_value = 'true' "
                       "WHERE configuration_key = 'DISPLAY_PRICE_WITH_TAX'")
    checkout = Checkout([Line(Decimal("15.5042"), Decimal(19), 2),
                         Line(Decimal("4.6729"), Decimal(7), 3)], gross=True,
                        shipping_cost=Decimal("4.20"), shipping_tax=Decimal(19))
    items = (Item(7, "T-Shirt", Decimal("15.5042"), Decimal("15.5042"), quantity=2,
                  model="A-000001"),
             Item(8, "Buch", Decimal("4.6729"), Decimal("4.6729"), quantity=3,
                  tax=Decimal("7.0000"), model="A-000002"))
    orders_id = add_order(phoenix_db, Order(items=items, totals=checkout.rows))
    orders = {**ORDERS, "shipping_methods": {"Pauschale Versandkosten": 2}}
    data = config_data(namespace, cao, [shop_entry("web", phoenix_db, orders=orders)])
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(data))

    assert cli.main(["-c", str(path), "orders", "import", "--shop", "web"]) == cli.EXIT_OK

    doc = assert_as_charged(cao, orders_id, checkout)
    assert doc["gross"] == Decimal("56.90") and doc["brutto"] == "Y"   # 36.90 + 15.00 + 5.00
