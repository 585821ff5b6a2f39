"""``orders produce --follow``: one shop's new accounts and final orders to the ERP queue,
every interval, until stopped (any shop kind: its two ``ShopFeed`` producers).

While the shop database or the broker is away (also at the start), the cycle waits and is
tried again with backoff, logged once per outage (``shopbridge.outage``). A page published
but not recorded before the outage is published again; the ERP side deduplicates by
``entity_key``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from shopbridge.errors import BrokerUnavailable, TargetUnavailable
from shopbridge.outage import Outages, ride_out

from .feed import FeedReport, ShopFeed

log = logging.getLogger(__name__)


def follow(orders: ShopFeed[Any], accounts: ShopFeed[Any], *,
           interval_s: float) -> None:
    """Run both producers every ``interval_s`` seconds until ``orders.stop_event`` is set.

    Args:
        orders: the shop's order producer; its stop event stops both.
        accounts: the same shop's account producer (run first: an order's account must
            reach the ERP before the order).
        interval_s: the pause between two cycles.
    """
    stop = accounts.stop_event = orders.stop_event
    outages = Outages(broker=orders.broker.safe, database=orders.what, logger=log)

    def ride(fn: Callable[[], Any]) -> Any:
        try:
            return ride_out(fn, outages=outages, stop_event=stop)
        except (BrokerUnavailable, TargetUnavailable):
            if stop.is_set():
                return None            # stopped while waiting: a clean stop
            raise

    def prepare() -> bool:
        orders.prepare()
        accounts.prepare()
        return True

    def cycle() -> tuple[FeedReport, FeedReport]:
        # The broker first, also when nothing is new: its return is noticed (and logged).
        orders.session.connect()
        accounts.session.connect()
        return accounts.run_once(), orders.run_once()

    if not ride(prepare):
        return
    while not stop.is_set():
        reports = ride(cycle)
        if reports is None:
            return
        registered, report = reports
        if report.published or registered.published:
            log.info("shop %s: sent %d new account(s), %d order(s)", orders.shop.name,
                     registered.published, report.published)
        stop.wait(interval_s)
