"""One shop's customer producer: new CE Phoenix accounts become ``customer.registered`` events (K3).

An account is complete once it has its ``customers_info`` row: Phoenix's registration
(``customer_data::create``) inserts ``customers``, then ``address_book``, then sets
``customers_default_address_id``, and writes ``customers_info`` last (NOTES 4). An account
without that row is waited for (counted, never published), as an order without its first
status-history row is.

Accounts shopbridge itself created from the ERP (a ``shopbridge_link`` row of entity type
'customer' whose target_id is the customers_id) are never published: they came from the ERP
and must not come back to it as new customers.

Each page is published (packed, windowed confirms) and only then recorded in
``shopbridge_customer_out``, so a crash re-publishes rather than loses; the ERP side finds the
address again by shop customer id, so a re-published account updates, never duplicates.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from shopbridge import events as ev
from shopbridge import schemas, topology
from shopbridge.config import BrokerConfig, ShopConfig
from shopbridge.db import create_engine, has_table, rows_by_name, translated
from shopbridge.errors import PermanentError
from shopbridge.publisher import BrokerSession, pack

from .orders import LINK_TABLE
from .published import PublishedLog

log = logging.getLogger(__name__)

PAGE = 200                       # accounts per page (one read, one publish, one INSERT)
PUBLISHED = PublishedLog("shopbridge_customer_out", "customers_id", "c")
EVENT_TYPE = "customer.registered"
NAME_LENGTH = 255                # orders.billing_name: the shop cuts "first last" to this


_COMPLETE = "EXISTS (SELECT 1 FROM customers_info i WHERE i.customers_info_id = c.customers_id)"
_FROM_ERP = (f"EXISTS (SELECT 1 FROM {LINK_TABLE} l WHERE l.entity_type = 'customer' "
             "AND l.target_id = c.customers_id)")

_LOAD = (
    "SELECT c.customers_id, c.customers_gender, c.customers_firstname, c.customers_lastname, "
    "c.customers_dob, c.customers_email_address, c.customers_telephone, "
    "c.customers_newsletter, i.customers_info_date_account_created AS registered_at, "
    "ab.address_book_id, ab.entry_company, ab.entry_firstname, ab.entry_lastname, "
    "ab.entry_street_address, ab.entry_suburb, ab.entry_postcode, ab.entry_city, "
    "ab.entry_state, z.zone_name, co.countries_name, co.countries_iso_code_2 "
    "FROM customers c JOIN customers_info i ON i.customers_info_id = c.customers_id "
    # The default entry must belong to the customer: the column is a plain int, no FK.
    "LEFT JOIN address_book ab ON ab.address_book_id = c.customers_default_address_id "
    "AND ab.customers_id = c.customers_id "
    "LEFT JOIN countries co ON co.countries_id = ab.entry_country_id "
    "LEFT JOIN zones z ON z.zone_id = ab.entry_zone_id AND ab.entry_zone_id <> 0 "
    "WHERE c.customers_id IN ({marks}) ORDER BY c.customers_id")


@dataclass(frozen=True)
class CustomerCount:
    new: int        # complete (has customers_info), not from the ERP, not yet published
    waiting: int    # no customers_info row yet: registration still running


@dataclass
class CustomerCycleReport:
    published: int = 0
    waiting: int = 0
    rejected: list[str] = field(default_factory=list)
    messages: int = 0
    seconds: float = 0.0



def _text(value: str | None) -> str | None:
    """Optional text: the shop stores '' for "not given"."""
    return value if value else None


def build_payload(shop: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """The customer.registered payload of one account row (pure, not validated).

    The address name is "first last" of the default entry, cut to 255 characters as the shop
    cuts it into ``orders.billing_name``: the ERP then sees the same name in the account and
    in its orders. A state is the free-text ``entry_state``, else the zone's name.
    """
    dob, registered = row["customers_dob"], row["registered_at"]
    name = f"{row['entry_firstname'] or ''} {row['entry_lastname'] or ''}".strip()
    return {
        "shop": shop,
        "shop_customer_id": row["customers_id"],
        "email": row["customers_email_address"],
        "gender": _text(row["customers_gender"]),
        "firstname": row["customers_firstname"],
        "lastname": row["customers_lastname"],
        # PyMySQL hands over a zero date ('0000-00-00') as text: no date.
        "date_of_birth": dob.isoformat() if isinstance(dob, date) else None,
        "telephone": _text(row["customers_telephone"]),
        "newsletter": row["customers_newsletter"] == "1",
        "address": {
            "name": name[:NAME_LENGTH],
            "company": _text(row["entry_company"]),
            "street": row["entry_street_address"],
            "suburb": _text(row["entry_suburb"]),
            "postcode": row["entry_postcode"],
            "city": row["entry_city"],
            "state": _text(row["entry_state"]) or _text(row["zone_name"]),
            "country": row["countries_name"],
            "country_iso2": _text(row["countries_iso_code_2"]),
        },
        "registered_at": (registered.strftime("%Y-%m-%dT%H:%M:%S")
                          if isinstance(registered, datetime) else None),
    }


class PhoenixCustomerProducer:
    """Args:
        broker: broker settings.
        shop: the shop whose accounts are read.
        engine: an engine on the shop database (default: one made from ``shop.db``).
        first_customer_id: accounts below this customers_id are never sent (switching over
            from another import: the shop's existing accounts must not flood the ERP).
    """

    def __init__(self, *, broker: BrokerConfig, shop: ShopConfig,
                 engine: sa.Engine | None = None, first_customer_id: int = 1) -> None:
        self.broker = broker
        self.shop = shop
        self.engine = engine or create_engine(shop.db)
        self.first_customer_id = first_customer_id
        self.what = f"database of shop {shop.name!r} ({shop.db.safe})"
        self.source_name = f"oscommerce:{shop.name}"
        self.session = BrokerSession(broker, [topology.Target.for_erp(shop.tenant)])
        self.stop_event = threading.Event()

    def close(self) -> None:
        self.session.close()
        self.engine.dispose()

    # -- reading ---------------------------------------------------------------------------


    def _not_from_erp(self, conn: sa.Connection) -> str:
        """The filter on accounts shopbridge created itself (none while no link table)."""
        return f" AND NOT {_FROM_ERP}" if has_table(conn, LINK_TABLE) else ""

    def _count(self, conn: sa.Connection, *, published_known: bool) -> CustomerCount:
        mine = self._not_from_erp(conn)
        unpublished = f" AND {PUBLISHED.unpublished}" if published_known else ""
        counts = {}
        for name, state in (("new", _COMPLETE), ("waiting", f"NOT {_COMPLETE}")):
            counts[name] = int(conn.exec_driver_sql(
                f"SELECT COUNT(*) FROM customers c WHERE c.customers_id >= %s AND {state}"
                f"{mine}{unpublished}", (self.first_customer_id,)).scalar_one())
        return CustomerCount(**counts)

    def _page(self, conn: sa.Connection, after: int, mine: str) -> list[int]:
        rows = conn.exec_driver_sql(
            f"SELECT c.customers_id FROM customers c WHERE c.customers_id > %s AND {_COMPLETE} "
            f"AND {PUBLISHED.unpublished}{mine} ORDER BY c.customers_id LIMIT %s", (after, PAGE))
        return [r[0] for r in rows]

    def _load(self, conn: sa.Connection, ids: Sequence[int]) -> list[Mapping[str, Any]]:
        sql = _LOAD.format(marks=", ".join(["%s"] * len(ids)))
        return rows_by_name(conn.exec_driver_sql(sql, tuple(ids)))

    # -- cycles ----------------------------------------------------------------------------

    def prepare(self) -> None:
        with translated(self.what), self.engine.begin() as conn:
            PUBLISHED.ensure(conn)

    def count(self) -> CustomerCount:
        """New (complete, unpublished) and waiting (no customers_info yet) accounts; read-only."""
        with translated(self.what), self.engine.connect() as conn:
            return self._count(conn, published_known=PUBLISHED.exists(conn))

    def run_once(self) -> CustomerCycleReport:
        """Publish every complete account not published yet, page by page.

        Raises:
            BrokerUnavailable: publishing failed; the page was not recorded (retried next
                cycle), earlier pages stay recorded.
            TargetUnavailable, TransientDatabaseError: the shop database failed.
        """
        started = time.monotonic()
        report = CustomerCycleReport()
        with translated(self.what), self.engine.connect() as conn:
            PUBLISHED.ensure(conn)
            conn.commit()
            mine = self._not_from_erp(conn)
            after = self.first_customer_id - 1
            while not self.stop_event.is_set():
                ids = self._page(conn, after, mine)
                if not ids:
                    break
                after = ids[-1]
                rows = self._load(conn, ids)
                conn.commit()  # end the read: the InnoDB snapshot stays short
                published = self._publish(rows, report)
                PUBLISHED.record(conn, published)
                conn.commit()
            report.waiting = self._count(conn, published_known=True).waiting
            conn.commit()
        report.seconds = time.monotonic() - started
        if report.waiting:
            log.info("shop %s: %d accounts wait for their customers_info row",
                     self.shop.name, report.waiting)
        return report

    def _publish(self, rows: Sequence[Mapping[str, Any]],
                 report: CustomerCycleReport) -> list[tuple[int, str]]:
        """Validate, pack and publish; returns (customers_id, event_id) of what was published."""
        valid: list[tuple[int, dict[str, Any]]] = []
        for row in rows:
            customers_id = row["customers_id"]
            what = f"customer {customers_id} of shop {self.shop.name}"
            event = ev.make_event(EVENT_TYPE, tenant=self.shop.tenant, source=self.source_name,
                                  entity_key=f"{self.shop.name}:{customers_id}",
                                  version=ev.next_version(None),
                                  payload=build_payload(self.shop.name, row))
            try:
                if row["address_book_id"] is None:
                    raise PermanentError("field payload.address: the account has no default "
                                         "address-book entry (customers_default_address_id)")
                schemas.validate(event)
            except PermanentError as err:
                # Not recorded: the account is tried again next cycle (e.g. after a fix).
                report.rejected.append(f"{what}: {err}")
                log.warning("%s not published: %s", what, err)
                continue
            valid.append((customers_id, event))
        if not valid:
            return []
        key = topology.routing_key(self.shop.tenant, EVENT_TYPE)
        events = [event for _, event in valid]
        messages = pack(events, exchange=topology.exchange_name(self.broker.namespace),
                        routing_key=key, size=self.broker.pack_size)
        report.messages += self.session.publish(messages)
        report.published += len(valid)
        return [(customers_id, event["event_id"]) for customers_id, event in valid]

