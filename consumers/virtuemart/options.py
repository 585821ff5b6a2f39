"""The shop's ``[tenants.shops.virtuemart]`` section.

```toml
[tenants.shops.virtuemart]
prefix = "jos_"                    # Joomla's table prefix (required)
vendor_id = 1                      # single-vendor shops: 1
cache_path = "/var/www/shop/cache" # Joomla's cache folder, cleared after catalogue changes
shopper_groups = { 1 = 1, 2 = 1, 5 = 3 }   # shopper group id -> CAO price level VK1..VK5
availability = { 1 = "24h.gif", 2 = "3-5d.gif" }  # CAO delivery time id -> product_availability
timezone = "Europe/Berlin"         # Joomla's site time zone (global config "offset")
gross_prices = true                # the shop shows the ERP's gross as the final price
user_group = 2                     # Joomla user group of synced customers (2 = Registered)

[tenants.shops.virtuemart.order_states]  # CAO shop status id -> VirtueMart order state code
1 = "P"                            # default: 1 pending, 2 confirmed, 3 shipped
2 = "C"
3 = "S"
```

Two settings VirtueMart keeps where the consumer cannot read them, so they are options:
- ``timezone``: VirtueMart compares price publish windows (offers) with the site-local time,
  and Joomla keeps its site time zone (``offset``) in configuration.php, not in the database.
- ``gross_prices``: whether a price row carries the ERP's gross as the final price
  (``override=1``, B2C) or only the net, VM adding its own tax rule (B2B). VirtueMart's config
  decides only which of its computed prices it displays, per shopper group even, so it cannot
  say which of the ERP's prices is meant.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shopbridge.config import ShopConfig, refuse_unknown
from shopbridge.errors import ConfigError

KNOWN = ("prefix", "vendor_id", "cache_path", "shopper_groups", "availability", "timezone",
         "gross_prices", "order_states", "user_group")
REGISTERED = 2                 # Joomla's Registered group (com_users new_usertype default)
DEFAULT_TIMEZONE = "Europe/Berlin"
AVAILABILITY_MAX = 32          # product_availability varchar(32)
# CAO's shop status ids (JOURNAL.SHOP_STATUS, as Phoenix numbers its default states: 1
# pending, 2 processing, 3 delivered) -> VirtueMart's order state codes.
DEFAULT_ORDER_STATES = {1: "P", 2: "C", 3: "S"}
ORDER_STATE_MAX = 3            # orderstates.order_status_code char(3)


@dataclass(frozen=True)
class VirtueMartOptions:
    prefix: str
    vendor_id: int = 1
    cache_path: str | None = None
    # Shopper group id -> CAO price level 1..5 (the prices aspect writes a row per group).
    shopper_groups: Mapping[int, int] = field(default_factory=dict)
    # CAO delivery time id -> product_availability; empty: the column is the shop's own.
    availability: Mapping[int, str] = field(default_factory=dict)
    # IANA name of Joomla's site time zone: offers' publish windows are site-local.
    timezone: str = DEFAULT_TIMEZONE
    # True: rows carry the ERP's gross as the final price (override 1); False: net only.
    gross_prices: bool = True
    # CAO shop status id (order.status_changed status_id) -> VirtueMart order state code.
    order_states: Mapping[int, str] = field(default_factory=lambda: dict(DEFAULT_ORDER_STATES))
    # The Joomla user group a synced customer's account is put in (customers.py).
    user_group: int = REGISTERED


def shop_options(shop: ShopConfig) -> VirtueMartOptions:
    """The shop's VirtueMart options.

    Raises:
        ConfigError: the shop has no [virtuemart] section.
    """
    options = shop.options
    if not isinstance(options, VirtueMartOptions):
        raise ConfigError(f"shop {shop.name!r}: the [virtuemart] section is missing "
                          "(prefix is required)")
    return options


def parse_options(data: Mapping[str, Any]) -> VirtueMartOptions:
    """Raises:
        ConfigError: one problem per line, without the section's name."""
    refuse_unknown(data, KNOWN)
    problems: list[str] = []
    prefix = data.get("prefix")
    # Joomla's installer takes only a prefix that starts with a letter; shopbridge writes
    # the table names unquoted, where a leading digit could read as a number ("1e5_...").
    if not isinstance(prefix, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", prefix):
        problems.append("prefix: the Joomla table prefix is required, e.g. prefix = \"jos_\" "
                        "(a letter, then letters, digits and '_')")
        prefix = ""
    vendor_id = data.get("vendor_id", 1)
    if not isinstance(vendor_id, int) or isinstance(vendor_id, bool) or vendor_id < 1:
        problems.append(f"vendor_id must be a positive integer, got {vendor_id!r}")
        vendor_id = 1
    cache_path = data.get("cache_path")
    if cache_path is not None and (not isinstance(cache_path, str) or not cache_path):
        problems.append("cache_path must be the path of Joomla's cache folder")
        cache_path = None
    groups: dict[int, int] = {}
    for key, level in dict(data.get("shopper_groups", {})).items():
        try:
            group, level_n = int(key), int(level)
        except (TypeError, ValueError):
            problems.append(f"shopper_groups: {key!r} = {level!r} is not group id = level")
            continue
        if not 1 <= level_n <= 5:
            problems.append(f"shopper_groups: group {group} -> level {level_n} must be 1..5 "
                            "(VK1..VK5)")
        groups[group] = level_n
    availability: dict[int, str] = {}
    for key, text in dict(data.get("availability", {})).items():
        try:
            delivery = int(key)
        except (TypeError, ValueError):
            problems.append(f"availability: key {key!r} is not a CAO delivery time id")
            continue
        if not isinstance(text, str) or len(text) > AVAILABILITY_MAX:
            problems.append(f"availability: delivery time {delivery} -> {text!r} must be a "
                            f"text of at most {AVAILABILITY_MAX} characters "
                            "(product_availability)")
            continue
        availability[delivery] = text
    timezone = data.get("timezone", DEFAULT_TIMEZONE)
    if not _is_time_zone(timezone):
        problems.append(f"timezone: {timezone!r} is not an IANA time zone name such as "
                        "\"Europe/Berlin\" (Joomla's site time zone)")
        timezone = DEFAULT_TIMEZONE
    gross_prices = data.get("gross_prices", True)
    if not isinstance(gross_prices, bool):
        problems.append(f"gross_prices must be true or false, got {gross_prices!r}")
        gross_prices = True
    user_group = data.get("user_group", REGISTERED)
    if not isinstance(user_group, int) or isinstance(user_group, bool) or user_group < 1:
        problems.append(f"user_group must be a Joomla user group id, got {user_group!r}")
        user_group = REGISTERED
    order_states = _order_states(data.get("order_states", DEFAULT_ORDER_STATES), problems)
    if problems:
        raise ConfigError("\n".join(problems), problems=problems)
    return VirtueMartOptions(prefix=prefix, vendor_id=vendor_id, cache_path=cache_path,
                             shopper_groups=groups, availability=availability,
                             timezone=timezone, gross_prices=gross_prices,
                             order_states=order_states, user_group=user_group)


def _order_states(data: object, problems: list[str]) -> dict[int, str]:
    """CAO status id -> VirtueMart order state code (whether the shop has the code is
    ``check``'s and the status writer's question: it is in the shop's database)."""
    states: dict[int, str] = {}
    if not isinstance(data, Mapping):
        problems.append("order_states must be a table of CAO status id = VirtueMart code")
        return states
    for key, code in data.items():
        try:
            status_id = int(key)
        except (TypeError, ValueError):
            problems.append(f"order_states: key {key!r} is not a CAO shop status id")
            continue
        if (not isinstance(code, str) or not code.strip() or code != code.strip()
                or len(code) > ORDER_STATE_MAX):
            problems.append(f"order_states: status {status_id} -> {code!r} must be a "
                            f"VirtueMart order state code of 1 to {ORDER_STATE_MAX} "
                            "characters, such as \"S\"")
            continue
        states[status_id] = code
    return states


def _is_time_zone(name: object) -> bool:
    if not isinstance(name, str) or not name:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True
