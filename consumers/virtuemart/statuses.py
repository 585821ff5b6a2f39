"""order.status_changed -> a VirtueMart order's status, as the shop's admin changes it (O4).

What VirtueMart's ``VirtueMartModelOrders::updateStatusForOneOrder`` does (models/orders.php,
NOTES §7 "How the status mail is sent"), replayed in SQL, in one transaction:

1. ``orders.order_status`` (+ ``modified_on``); when the new code is in the shop's config
   ``os_trigger_paid`` (default C) and nothing is paid yet, ``paid = order_total`` and
   ``paid_on`` (``calculatePaidByOS``);
2. every ``order_items.order_status`` (+ ``modified_on``), and for each item the stock move of
   ``handleStockAfterStatusChangedPerProduct`` from the item's old state to the new one, by
   the states' ``order_stock_handle`` (R reserved, A available, O out; ``stock_move``), on
   the ordered product (the variant child), or its parent where the child's
   ``shared_stock`` param is set (``updateStockInDB``), relative: ``product_ordered`` and
   ``product_sales`` always, ``product_in_stock`` only where VirtueMart owns it together
   with the ERP (below);
3. an ``order_histories`` row: the code, ``customer_notified`` 0, the comment with carrier,
   tracking code and link (``nl2br`` as VirtueMart's table check does), ``created_on`` UTC;
4. the customer's e-mail, to the BT e-mail of ``order_userinfos``, in the order's language
   (``order_language`` de-DE -> the "de" templates), through the outbox of
   consumers/mailer.py: ``customer_notified`` becomes 1 only once the SMTP server accepted it
   (``mark_notified``), as VirtueMart sets it only when its mail went out.

Not replayed: payment and shipment plugin triggers, coupon handling, invoice numbers and PDFs
(``inv_os``), the vendor's mail, product bundles' and plugin custom fields' stock, and the
hashes (``oi_hash`` is compared only when an admin edits an item).

The CAO status id becomes a VirtueMart code through the ``[virtuemart] order_states`` option;
an id without a code, or a code the shop's ``orderstates`` lacks, is a MappingError naming
the order and ``payload.status_id`` (dead letter), before anything is written.

Stock and the catalogue's stock writer (store.py ``VmProductStore.orders_reach_erp``): the
catalogue writes ``product_in_stock`` absolutely from the ERP's stock. The ERP records the
outflow of a shipment itself, and VirtueMart's ``product_in_stock -= qty`` at "shipped" would
record it a second time, so which one counts follows the one switch:

- ``orders_reach_erp`` False (CAO, the default): CAO's ``MENGE_AKT`` lacks an order only once
  the CAO user books it (the import writes a draft). in_stock = ERP stock, and only
  ``product_ordered`` deducts an open order. The status writer moves ``product_ordered`` (and
  ``product_sales``) as VirtueMart does and leaves ``product_in_stock`` to the ERP: the
  booking's stock.changed brings the outflow. It usually arrives before the status (the
  stock scan runs every half second, the status scan with the full cycle); a status that
  comes first leaves the q available in the shop until the booking, as it is in the ERP.
  Moving in_stock here as well would count a shipment twice, for good, whenever the
  booking's stock.changed came first.
- ``orders_reach_erp`` True (an ERP whose stock lacks an order from its import on): in_stock
  = ERP stock + ordered, and every move is VirtueMart's own, in_stock included: shipping
  leaves the ERP's stock as it is and takes q out of in_stock and ordered; a cancellation
  gives q back to the ERP's stock and takes it out of ordered. The sum stays ERP stock +
  ordered either way, so the next stock.changed writes what is already there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from shopbridge.config import ShopConfig
from shopbridge.errors import MappingError
from shopbridge.events import Event

from .. import mailer
from ..binder import Binder
from ..order_status import ENTITY, history_comment, status_content, status_mail, tracking_url
from ..plan import newer_in_batch
from .options import VirtueMartOptions
from .params import parse_params
from .shop import Tables, read_config
from .store import VmProductStore

# VirtueMart's default states' names are language keys: what the customer reads instead.
STATUS_NAMES: dict[str, dict[str, str]] = {
    "COM_VIRTUEMART_ORDER_STATUS_PENDING": {"de": "Offen", "en": "Pending"},
    "COM_VIRTUEMART_ORDER_STATUS_CONFIRMED_BY_SHOPPER": {
        "de": "Vom Käufer bestätigt", "en": "Confirmed by shopper"},
    "COM_VIRTUEMART_ORDER_STATUS_CONFIRMED": {"de": "Bestätigt", "en": "Confirmed"},
    "COM_VIRTUEMART_ORDER_STATUS_CANCELLED": {"de": "Storniert", "en": "Cancelled"},
    "COM_VIRTUEMART_ORDER_STATUS_REFUNDED": {"de": "Erstattet", "en": "Refunded"},
    "COM_VIRTUEMART_ORDER_STATUS_SHIPPED": {"de": "Versandt", "en": "Shipped"},
    "COM_VIRTUEMART_ORDER_STATUS_COMPLETED": {"de": "Abgeschlossen", "en": "Completed"},
    "COM_VIRTUEMART_ORDER_STATUS_DENIED": {"de": "Abgelehnt", "en": "Denied"},
}


@dataclass(frozen=True, slots=True)
class OrderState:
    code: str
    name: str             # order_status_name: a language key or the shop's own name
    stock_handle: str     # R reserved, A available, O out

    def shown(self, language: str) -> str:
        """The name the customer reads in ``language`` ('de')."""
        names = STATUS_NAMES.get(self.name)
        if names:
            return names.get(language) or names["en"]
        return self.name or self.code


@dataclass(frozen=True, slots=True)
class StockMove:
    """Signed quantities for one product: ``product_in_stock``, ``product_ordered``; VM's
    ``product_sales`` moves opposite to in_stock."""

    in_stock: int
    ordered: int


def stock_move(old: str, new: str, quantity: int) -> StockMove:
    """``handleStockAfterStatusChangedPerProduct`` for a status change of an item whose
    quantity stays: from stock handle ``old`` to ``new`` (R, A or O)."""
    out = int(new == "O") - int(old == "O")              # becomes out: in_stock down
    reserved = int(new == "R") - int(old == "R")         # becomes reserved: ordered up
    return StockMove(in_stock=-out * quantity, ordered=reserved * quantity)


def read_states(conn: Connection, tables: Tables) -> dict[str, OrderState]:
    """The shop's order states by code (``orderstates``)."""
    return {code: OrderState(code, name or "", handle or "A") for code, name, handle in
            conn.exec_driver_sql(
                f"SELECT order_status_code, order_status_name, order_stock_handle "
                f"FROM {tables.orderstates}")}


def mark_notified_in(tables: Tables) -> mailer.MarkNotified:
    """The ``mailer.MarkNotified`` of this shop: the history row's ``customer_notified``."""
    def mark(conn: Connection, history_id: int) -> None:
        conn.exec_driver_sql(f"UPDATE {tables.order_histories} SET customer_notified = 1 "
                             f"WHERE virtuemart_order_history_id = %s", (history_id,))
    return mark


def mail_language(order_language: str | None) -> str | None:
    """'de-DE' -> 'de' (the templates' keys)."""
    return order_language.split("-")[0].lower() if order_language else None


@dataclass(frozen=True, kw_only=True)
class VmStatusWriter:
    """The ``EntityWriter`` of order.status_changed for VirtueMart (see the module)."""

    shop: ShopConfig
    options: VirtueMartOptions
    tables: Tables
    binder: Binder
    # Whose ``orders_reach_erp`` says who moves ``product_in_stock`` (see the module).
    store: VmProductStore

    def apply(self, conn: Connection, events: Sequence[Event], now: datetime) -> list[str]:
        """Write the newest status of each order; returns notes on what was skipped.

        Raises:
            MappingError: an unmapped status id, a code the shop lacks, an unknown order.
        """
        notes: list[str] = []
        states = read_states(conn, self.tables)
        config = read_config(conn.exec_driver_sql(
            f"SELECT config FROM {self.tables.configs} WHERE virtuemart_config_id = 1"
        ).scalar())
        for event, link in newer_in_batch(conn, self.binder, ENTITY, events, notes):
            content = status_content(event.payload)
            if content == link.content_hash:
                notes.append(f"{event}: status unchanged")
                continue
            link.content_hash = content
            self._write(conn, event, self._state(event, states), states, config, now)
        return notes

    def _state(self, event: Event, states: Mapping[str, OrderState]) -> OrderState:
        status_id = event.payload["status_id"]
        order = event.payload["order_id"]
        code = self.options.order_states.get(status_id)
        if code is None:
            raise MappingError(
                f"{event}: field payload.status_id: CAO status {status_id} of order {order} "
                f"has no VirtueMart order state in [virtuemart] order_states "
                f"({dict(self.options.order_states)})")
        if code not in states:
            raise MappingError(
                f"{event}: field payload.status_id: CAO status {status_id} of order {order} "
                f"maps to VirtueMart order state {code!r}, which {self.tables.orderstates} "
                f"of shop {self.shop.name!r} does not have")
        return states[code]

    def _write(self, conn: Connection, event: Event, state: OrderState,
               states: Mapping[str, OrderState], config: Mapping[str, Any],
               now: datetime) -> None:
        payload = event.payload
        order_id = payload["order_id"]
        t = self.tables
        order = conn.exec_driver_sql(
            f"SELECT order_number, order_language, order_total, paid FROM {t.orders} "
            f"WHERE virtuemart_order_id = %s FOR UPDATE", (order_id,)).first()
        if order is None:
            raise MappingError(f"{event}: field payload.order_id: order {order_id} does not "
                               f"exist in shop {self.shop.name!r}")
        order_number, order_language, total, paid = order
        self._items(conn, order_id, state, states, now)
        paid_on = state.code in _codes(config.get("os_trigger_paid", ["C"])) and not paid
        conn.exec_driver_sql(
            f"UPDATE {t.orders} SET order_status = %s, modified_on = %s"
            + (", paid = %s, paid_on = %s" if paid_on else "")
            + " WHERE virtuemart_order_id = %s",
            (state.code, now, *((total, now) if paid_on else ()), order_id))
        url = tracking_url(self.shop, payload.get("carrier"), payload.get("tracking_code"))
        comment = history_comment(payload, url)
        history_id = conn.exec_driver_sql(
            f"INSERT INTO {t.order_histories} (virtuemart_order_id, order_status_code, "
            f"customer_notified, comments, created_on, modified_on) "
            f"VALUES (%s, %s, 0, %s, %s, %s)",
            (order_id, state.code, stored_comment(comment), now, now)).lastrowid
        mail = self.shop.mail
        if not payload["notify"] or mail is None:
            return
        bt = conn.exec_driver_sql(
            f"SELECT email, first_name, last_name FROM {t.order_userinfos} "
            f"WHERE virtuemart_order_id = %s AND address_type = 'BT' "
            f"ORDER BY virtuemart_order_userinfo_id LIMIT 1", (order_id,)).first()
        if bt is None or not bt[0]:
            return
        language = mail_language(order_language)
        shown_in = language if language and language in mail.templates else mail.language
        subject, body = status_mail(
            mail, language, payload=payload, order=order_number or order_id,
            status=state.shown(shown_in),
            name=" ".join(part for part in (bt[1], bt[2]) if part), url=url,
            shop=self.shop.name)
        mailer.enqueue(conn, history_id=int(history_id), orders_id=order_id, recipient=bt[0],
                       subject=subject, body=body)

    def _items(self, conn: Connection, order_id: int, state: OrderState,
               states: Mapping[str, OrderState], now: datetime) -> None:
        """Every item's status, and its stock move from the item's own old state."""
        t = self.tables
        items = conn.exec_driver_sql(
            f"SELECT i.virtuemart_product_id, i.product_quantity, i.order_status, "
            f"p.product_parent_id, p.product_params FROM {t.order_items} i "
            f"LEFT JOIN {t.products} p ON p.virtuemart_product_id = i.virtuemart_product_id "
            f"WHERE i.virtuemart_order_id = %s ORDER BY i.virtuemart_order_item_id FOR UPDATE",
            (order_id,)).all()
        moves_in_stock = self.store.orders_reach_erp
        for product_id, quantity, old, parent_id, params in items:
            # An item without a state or with one the shop does not know: VirtueMart logs
            # "workflow unknown" and moves no stock (handleStock...); neither does this.
            if old == state.code or old not in states or not product_id or not quantity:
                continue
            move = stock_move(states[old].stock_handle, state.stock_handle, int(quantity))
            if move == StockMove(0, 0):
                continue
            shared = parent_id and parse_params(params).get("shared_stock") in (1, "1", True)
            conn.exec_driver_sql(
                f"UPDATE {t.products} SET product_in_stock = product_in_stock + %s, "
                f"product_sales = product_sales - %s, "
                f"product_ordered = product_ordered + %s WHERE virtuemart_product_id = %s",
                (move.in_stock if moves_in_stock else 0, move.in_stock, move.ordered,
                 parent_id if shared else product_id))
        conn.exec_driver_sql(
            f"UPDATE {t.order_items} SET order_status = %s, modified_on = %s "
            f"WHERE virtuemart_order_id = %s", (state.code, now, order_id))


def _codes(value: object) -> set[str]:
    if isinstance(value, str):
        return {value}
    return {str(v) for v in value} if isinstance(value, list | tuple) else set()


def stored_comment(text: str | None) -> str | None:
    """What VirtueMart's order_histories table check stores: trim(nl2br(comments))."""
    return text.strip().replace("\n", "<br />\n") if text else text
