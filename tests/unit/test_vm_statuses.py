"""VirtueMart's status change, the parts without a database: the stock move of
handleStockAfterStatusChangedPerProduct by stock handle, the names the customer reads, the
language of an order's mail, the comment as VirtueMart stores it."""

from __future__ import annotations

import pytest

from consumers.virtuemart.statuses import (
    OrderState,
    StockMove,
    mail_language,
    stock_move,
    stored_comment,
)


@pytest.mark.parametrize(("old", "new", "move"), [
    ("R", "O", StockMove(in_stock=-3, ordered=-3)),     # reserved -> shipped
    ("R", "A", StockMove(in_stock=0, ordered=-3)),      # reserved -> cancelled
    ("O", "R", StockMove(in_stock=3, ordered=3)),
    ("O", "A", StockMove(in_stock=3, ordered=0)),
    ("A", "R", StockMove(in_stock=0, ordered=3)),
    ("A", "O", StockMove(in_stock=-3, ordered=0)),
    ("R", "R", StockMove(0, 0)), ("A", "A", StockMove(0, 0)), ("O", "O", StockMove(0, 0)),
])
def test_the_stock_move_follows_the_stock_handles(old, new, move):
    assert stock_move(old, new, 3) == move


def test_default_states_read_as_words_and_a_shops_own_name_as_it_is():
    shipped = OrderState("S", "COM_VIRTUEMART_ORDER_STATUS_SHIPPED", "O")
    assert (shipped.shown("de"), shipped.shown("en"), shipped.shown("fr")) == (
        "Versandt", "Shipped", "Shipped")
    assert OrderState("K", "Beim Kurier", "O").shown("en") == "Beim Kurier"
    assert OrderState("K", "", "O").shown("de") == "K"


def test_the_orders_language_picks_the_templates_and_comments_are_stored_with_br():
    assert (mail_language("de-DE"), mail_language("en-GB"), mail_language(None)) == (
        "de", "en", None)
    assert stored_comment(" a\nb ") == "a<br />\nb" and stored_comment(None) is None
