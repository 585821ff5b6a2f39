"""What ``shopbridge check`` asks of a system kind, and what the kind hands back.

``check`` (the frame) connects, loops over tenants and shops, and compares the config's
mappings with facts; everything that reads one system's own tables is a *probe* of that
system's kind, one per role:

==================  =======================================  ============================
role                probe                                    today
==================  =======================================  ============================
ERP source          ``ErpSourceProbe``: catalogue side       ``producers/cao/probes.py``
ERP sink            ``ErpSinkProbe``: order-import facts     ``consumers/cao/probes.py``
shop sink           ``ShopSinkProbe``: the shop's catalogue  ``consumers/oscommerce/probes.py``
shop source         ``ShopSourceProbe``: the shop's orders   ``producers/oscommerce/probes.py``
==================  =======================================  ============================

A probe writes its own lines to the ``CheckReport`` (one subject each, as ``check`` words
them) or returns facts for the frame to compare; the frame decides where they go, so the
output reads the same whichever kind wrote a line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from sqlalchemy import Table
from sqlalchemy.engine import Connection as DbConnection

from .config import FolderConfig, ShopConfig, TenantConfig
from .db import TableNames, columns_of
from .errors import BrokerUnavailable, ShopbridgeError, TargetUnavailable

T = TypeVar("T")


@dataclass
class CheckReport:
    problems: list[str] = field(default_factory=list)
    ok: list[str] = field(default_factory=list)
    # What works but not the way the ERP has it (e.g. prices a shop cannot show): no failure.
    notes: list[str] = field(default_factory=list)
    # A broker or database that could not be reached at all: decides the exit code (3, 4).
    unreachable: list[ShopbridgeError] = field(default_factory=list)

    def guard(self, what: str, fn: Callable[[], T]) -> T | None:
        """Run ``fn``; an exception becomes one problem line (never a crash), its result None."""
        try:
            return fn()
        except ShopbridgeError as err:
            self.problems.append(prefixed(what, one_line(err)))
            if isinstance(err, (BrokerUnavailable, TargetUnavailable)):
                self.unreachable.append(err)
        except Exception as err:
            # SQLAlchemy's text adds the statement and a link on further lines: the driver's
            # own error (code and message) is the part that says what is wrong.
            self.problems.append(prefixed(what, f"{type(err).__name__}: "
                                                f"{one_line(getattr(err, 'orig', None) or err)}"))
        return None

    def needs(self, where: str, check: Callable[[DbConnection, Any], list[str]],
              conn: DbConnection, config: Any) -> None:
        """Own tables and grants one service needs in this database (``shopbridge.needs``)."""
        problems = self.guard(where, lambda: check(conn, config))
        self.problems += [f"{where}: {p}" for p in problems or []]

    def tables(self, where: str, conn: DbConnection, names: TableNames,
               tables: Iterable[Table], *, hint: str = "") -> bool:
        """A problem per table or column of ``tables`` the database lacks (a shop kind's
        table facts); returns whether every table is there.

        Args:
            hint: appended to a missing table's line, e.g. what may be misconfigured.
        """
        complete = True
        for table in tables:
            real = names.find(table.name)
            if real is None:
                self.problems.append(f"{where}: table {table.name} missing{hint}")
                complete = False
                continue
            have = columns_of(conn, real)
            self.problems += [f"{where}: column {table.name}.{column.name} missing"
                              for column in table.columns if column.name.upper() not in have]
        return complete


def one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


def prefixed(what: str, message: str) -> str:
    """``what: message``, naming the subject once: a translated database error already
    starts with it ("shop web: database mysql://...: MySQL error 2003 ...")."""
    subject = what.split(": ", 1)[0] + ": "
    return f"{what}: {message.removeprefix(subject)}"


# -- facts a probe hands to the frame ----------------------------------------------------------

@dataclass
class ErpOrderFacts:
    """What the order import needs from one tenant's ERP database; None: not readable."""

    # shop name -> what stops the import of its orders in the ERP (tables, columns, grants,
    # number ranges), as problem lines without the shop's prefix.
    import_problems: dict[str, list[str]] = field(default_factory=dict)
    vat_rates: dict[int, Decimal] | None = None  # the ERP's VAT table: code -> rate (%)
    # The rates the importer falls back to for a code the ERP's table lacks.
    fallback_vat: Mapping[int, Decimal] = field(default_factory=dict)
    lands: set[str] | None = None               # the ERP's country ids
    payment_ids: set[int] | None = None         # the ERP's payment method ids (none: None)
    import_notes: dict[str, Any] = field(default_factory=dict)  # shop -> ImportNotes
    notes: list[str] = field(default_factory=list)   # the tenant's ERP: what to look at


@dataclass
class OrderUsage:
    """What a shop's recent orders need mapped: value -> number of orders using it."""

    orders: int = 0
    payments: Counter[str] = field(default_factory=Counter)
    shippings: Counter[str] = field(default_factory=Counter)
    countries: Counter[str] = field(default_factory=Counter)   # ISO-2 codes
    nameless: Counter[str] = field(default_factory=Counter)    # country names without ISO-2


@dataclass(frozen=True)
class CatalogueLimits:
    """What a shop kind cannot show of the ERP's catalogue, in the words the ERP's check
    notes end with ("osCommerce core has no tier prices"); None: the kind shows it.

    The ERP's probe counts what its data has of it (articles with tier prices, customers on
    other price levels) and notes it only for shops whose kind cannot show it.
    """

    tier_prices: str | None = None          # quantity tiers (C5)
    customer_groups: str | None = None      # a price level per customer (C7)


@dataclass
class ShopFacts:
    """What the frame compares the shop's config with after the order import."""

    order_status_ids: set[int] | None = None     # None: the shop has no order statuses table


@dataclass
class ShopOrders:
    """A shop's orders as its order producer sees them, for the order import check."""

    usage: OrderUsage = field(default_factory=OrderUsage)
    # Lines without the shop's prefix (the frame adds it). What stops reading the orders at
    # all (a table missing):
    problems: list[str] = field(default_factory=list)
    # The kind's own remarks, shown once the import is checked (e.g. shipping modules' tax):
    notes: list[str] = field(default_factory=list)
    ok: list[str] = field(default_factory=list)


# -- the probes ----------------------------------------------------------------------------------

class ErpSourceProbe(Protocol):
    """The ERP's catalogue side of one tenant: what its producer needs (tables, columns,
    grants) and the merchant's data worth a look, written to ``report`` as "tenant <name>:"
    lines (or "shop <name>:" for what one shop cannot show).

    Returns the tax codes of the articles the producer publishes (empty: not readable).
    """

    def __call__(self, conn: DbConnection, tenant: TenantConfig,
                 report: CheckReport) -> set[int]: ...


class ErpSinkProbe(Protocol):
    """What the order import needs from one tenant's ERP database, read once per tenant.

    Raises: whatever reading fails with; the frame makes it one problem line.
    """

    def __call__(self, conn: DbConnection, tenant: TenantConfig) -> ErpOrderFacts: ...


class ShopSinkProbe(Protocol):
    """A shop's catalogue side: the tables and grants its consumer needs, its currency and
    its languages and tax classes against the config and ``tax_codes`` (the ERP's), written
    to ``report`` as "shop <name>:" lines.

    Returns the facts the frame compares after the order import.
    """

    def __call__(self, conn: DbConnection, shop: ShopConfig, report: CheckReport, *,
                 tax_codes: set[int], currency: str) -> ShopFacts: ...


class ShopSourceProbe(Protocol):
    """A shop's orders side: the ``sample`` most recent orders' payment and shipping
    methods and countries, and the kind's own remarks against ``erp`` (None: unreadable).

    Raises: whatever reading fails with; the frame makes it one problem line.
    """

    def __call__(self, conn: DbConnection, shop: ShopConfig, erp: ErpOrderFacts | None, *,
                 sample: int) -> ShopOrders: ...


# Raises when the folder does not answer (check's line names the folder by its URL).
FolderProbe = Callable[[FolderConfig], object]


@dataclass(frozen=True)
class ErpProbes:
    """An ERP kind's probes."""

    source: ErpSourceProbe
    sink: ErpSinkProbe


@dataclass(frozen=True)
class ShopProbes:
    """A shop kind's probes; ``image_folder`` is its consumer's image-folder probe;
    ``source`` is None for a kind that sends no orders (no shop source registered)."""

    sink: ShopSinkProbe
    source: ShopSourceProbe | None
    image_folder: FolderProbe


Probes = ErpProbes | ShopProbes
