"""order.status_changed -> a Phoenix order's status, history row and customer e-mail (O2, O4).

Written as the shop's admin does it (NOTES 5): ``orders.orders_status`` and ``last_modified``,
then an ``orders_status_history`` row with the comment; ``customer_notified`` stays 0 until
the mail was really accepted (consumers/mailer.py). The carrier and tracking code go into the
history comment, where the customer sees them in the order history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Connection

from shopbridge.config import ShopConfig
from shopbridge.errors import MappingError
from shopbridge.events import Event

from .. import mailer
from ..binder import Binder
from ..order_status import ENTITY, history_comment, status_content, status_mail, tracking_url
from ..plan import newer_in_batch


def mark_notified(conn: Connection, history_id: int) -> None:
    """The customer got the status e-mail of this history row (``mailer.MarkNotified``)."""
    conn.exec_driver_sql("UPDATE orders_status_history SET customer_notified = 1 "
                         "WHERE orders_status_history_id = %s", (history_id,))


@dataclass(frozen=True, kw_only=True)
class StatusWriter:
    """The ``EntityWriter`` of order.status_changed: status, history row, e-mail."""

    shop: ShopConfig
    binder: Binder

    def apply(self, conn: Connection, events: Sequence[Event], now: datetime) -> list[str]:
        """Write the newest status of each order; returns notes on what was skipped."""
        notes: list[str] = []
        for event, link in newer_in_batch(conn, self.binder, ENTITY, events, notes):
            payload = event.payload
            content = status_content(payload)
            if content == link.content_hash:
                notes.append(f"{event}: status unchanged")
                continue
            link.content_hash = content
            self._write(conn, event, now)
        return notes

    def _write(self, conn: Connection, event: Event, now: datetime) -> None:
        payload = event.payload
        order_id = payload["order_id"]
        order = conn.exec_driver_sql(
            "SELECT customers_name, customers_email_address FROM orders WHERE orders_id = %s "
            "FOR UPDATE", (order_id,)).first()
        if order is None:
            raise MappingError(f"{event}: field payload.order_id: order {order_id} does not "
                               f"exist in shop {self.shop.name!r}")
        status_id = payload["status_id"]
        conn.exec_driver_sql("UPDATE orders SET orders_status = %s, last_modified = %s "
                             "WHERE orders_id = %s", (status_id, now, order_id))
        url = tracking_url(self.shop, payload.get("carrier"), payload.get("tracking_code"))
        comment = history_comment(payload, url)
        history_id = conn.exec_driver_sql(
            "INSERT INTO orders_status_history (orders_id, orders_status_id, date_added, "
            "customer_notified, comments) VALUES (%s, %s, %s, %s, %s)",
            (order_id, status_id, now, 0, comment)).lastrowid
        mail = self.shop.mail
        if not payload["notify"] or mail is None or not order[1]:
            return
        status_name = conn.exec_driver_sql(
            "SELECT s.orders_status_name FROM orders_status s JOIN languages l "
            "ON l.languages_id = s.language_id WHERE s.orders_status_id = %s AND l.code = %s",
            (status_id, mail.language)).scalar() or str(status_id)
        subject, body = status_mail(mail, mail.language, payload=payload, order=order_id,
                                    status=status_name, name=order[0], url=url,
                                    shop=self.shop.name)
        mailer.enqueue(conn, history_id=int(history_id), orders_id=order_id,
                       recipient=order[1], subject=subject, body=body)
