"""One entity per event type, as the contract tests drive it, in shop-neutral terms.

A subject builds the events of its type for one entity of its own (unique keys, so tests can
share a shop) and says what the shop must show after them:

- ``event(v)``: the event type under test, at version ``v``;
- ``before(v)``: an event that gives the entity an earlier state (for an ``*.upserted`` type
  that is the same type; for a ``*.deleted`` type the upsert that makes the entity shown);
- ``shows_before(v)`` / ``shows(v, before=b)``: what the shop shows after ``before(v)``, and
  after ``event(v)`` when ``before(b)`` was applied earlier (``b`` None: nothing was);
- ``invalid(v)``: an event of the type that fails its schema, and the field it names;
- ``unmappable(v)`` (some types): a valid event no shop can express (a tax code without a tax
  class, an order the shop does not have), and the field it names;
- ``prepare()``: events the shop needs first (a product's category, the product of a stock);
- a hiding subject also has ``hide(v)`` and ``show(v)``.

Every state carries its version in a name, price or comment, so a late old event that were
applied would show.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any, ClassVar

from shopbridge import events as ev
from shopbridge.keys import SHOP_CATEGORIES, category_key
from tests.contract.shop import (
    HIDDEN,
    Category,
    Customer,
    Manufacturer,
    Order,
    Product,
    ShopDriver,
    Shown,
)
from tests.unit.test_events import product_payload

TENANT = "acme"
CAO_SHOP_ID = 1                 # the shop's filter.cao_shop_id (tests/conftest.py shop_entry)
_numbers = itertools.count(1)   # every subject its own ERP ids, SKUs and e-mail addresses


def make(type_: str, key: str, version: int, payload: dict[str, Any]) -> dict[str, Any]:
    return ev.make_event(type_, tenant=TENANT, source="cao:contract", entity_key=key,
                         version=version, payload=payload)


def prices(net: str) -> dict[str, dict[str, str]]:
    gross = str((Decimal(net) * Decimal("1.19")).quantize(Decimal("0.0001")))
    return {str(level): {"net": net, "gross": gross} for level in range(1, 6)}


def category_payload(erp_id: int, name: str, *, parent: int | None = None,
                     visible: bool = True) -> dict[str, Any]:
    return {"erp_id": erp_id, "source": SHOP_CATEGORIES, "shop_id": CAO_SHOP_ID,
            "parent_erp_id": parent, "sort_order": 0, "name": name, "description": None,
            "image": None, "visible": visible}


def manufacturer_payload(erp_id: int, name: str, url: str) -> dict[str, Any]:
    return {"erp_id": erp_id, "shop_id": CAO_SHOP_ID, "name": name, "image": None,
            "urls": {"de": url}}


def _invalidated(event: dict[str, Any], **payload: Any) -> dict[str, Any]:
    event["payload"].update(payload)
    return event


class Subject:
    type: ClassVar[str]

    def __init__(self, driver: ShopDriver, shop: str) -> None:
        self.driver = driver
        self.shop = shop
        self.n = next(_numbers)
        self.key = str(self.n)

    def prepare(self) -> list[dict[str, Any]]:
        return []

    def before(self, v: int) -> dict[str, Any]:
        return self.event(v)

    def shows(self, v: int, *, before: int | None) -> Shown:
        return self.shows_before(v)

    def event(self, v: int) -> dict[str, Any]:
        raise NotImplementedError

    def shows_before(self, v: int) -> Shown:
        raise NotImplementedError

    def invalid(self, v: int) -> tuple[dict[str, Any], str]:
        raise NotImplementedError

    def unmappable(self, v: int) -> tuple[dict[str, Any], str] | None:
        return None

    def shown(self) -> Shown:
        raise NotImplementedError


class Hiding(Subject):
    """A subject whose entity the ERP can take out of the shop and bring back."""

    def show(self, v: int) -> dict[str, Any]:
        return self.before(v)

    def hide(self, v: int) -> dict[str, Any]:
        raise NotImplementedError


# -- products ------------------------------------------------------------------------------


class _Product(Subject):
    """A product of its own category and manufacturer; its name and price carry the version."""

    def __init__(self, driver: ShopDriver, shop: str) -> None:
        super().__init__(driver, shop)
        self.sku = f"C-{self.n}"

    def upserted(self, v: int, *, visible: bool = True, stock: str = "5") -> dict[str, Any]:
        return make("product.upserted", self.key, v, product_payload(
            sku=self.sku, erp_id=self.n, prices=prices(f"{v}.5"), stock=stock,
            texts={"de": {"name": f"Gießkanne {self.n} v{v}", "short_description": None,
                          "description": f"<p>Stand v{v}</p>", "meta_title": None,
                          "meta_description": None, "meta_keywords": None}},
            shop={"id": CAO_SHOP_ID, "visible": visible, "delete_flag": False},
            categories=self.categories(), manufacturer_id=self.manufacturer_id()))

    def stock_changed(self, v: int) -> dict[str, Any]:
        """The stock alone, versioned apart from the product's state; the stock is ``v``."""
        return make("stock.changed", self.key, v,
                    {"erp_id": self.n, "sku": self.sku, "stock": f"{v}.000"})

    def categories(self) -> list[str]:
        return []

    def manufacturer_id(self) -> int | None:
        return None

    def product(self, v: int, *, quantity: int = 5, manufacturer: str | None = None
                ) -> Product:
        return Product(name=f"Gießkanne {self.n} v{v}", price=Decimal(f"{v}.5"),
                       quantity=quantity, categories=frozenset(self.categories()),
                       manufacturer=manufacturer)

    def shown(self) -> Shown:
        return self.driver.product(self.sku)


class ProductUpserted(_Product, Hiding):
    type = "product.upserted"

    def prepare(self) -> list[dict[str, Any]]:
        return [make("category.upserted", self.categories()[0], 1,
                     category_payload(self.n, f"Gartengeräte {self.n}")),
                make("manufacturer.upserted", str(self.n), 1,
                     manufacturer_payload(self.n, self.maker, "https://example.org"))]

    @property
    def maker(self) -> str:
        return f"Hersteller {self.n}"

    def categories(self) -> list[str]:
        return [category_key(SHOP_CATEGORIES, CAO_SHOP_ID, self.n)]

    def manufacturer_id(self) -> int | None:
        return self.n

    def event(self, v: int) -> dict[str, Any]:
        return self.upserted(v)

    def hide(self, v: int) -> dict[str, Any]:
        return self.upserted(v, visible=False)      # deselected in the ERP

    def shows_before(self, v: int) -> Shown:
        return self.product(v, manufacturer=self.maker)

    def invalid(self, v: int) -> tuple[dict[str, Any], str]:
        event = self.upserted(v)
        event["payload"]["texts"]["de"]["name"] = "x" * 300
        return event, "payload.texts.de.name"

    def unmappable(self, v: int) -> tuple[dict[str, Any], str] | None:
        event = self.upserted(v)
        event["payload"]["tax"] = {"code": 3, "rate": "0"}     # the shop maps codes 1 and 2
        return event, "payload.tax.code"


class ProductDeleted(_Product, Hiding):
    type = "product.deleted"

    def event(self, v: int) -> dict[str, Any]:
        return make(self.type, self.key, v,
                    {"erp_id": self.n, "sku": self.sku, "reason": "deleted"})

    def before(self, v: int) -> dict[str, Any]:
        return self.upserted(v)

    def hide(self, v: int) -> dict[str, Any]:
        return self.event(v)

    def shows_before(self, v: int) -> Shown:
        return self.product(v)

    def shows(self, v: int, *, before: int | None) -> Shown:
        return HIDDEN if before is not None else None

    def invalid(self, v: int) -> tuple[dict[str, Any], str]:
        return _invalidated(self.event(v), reason="gone"), "payload.reason"


class StockChanged(_Product):
    type = "stock.changed"

    def prepare(self) -> list[dict[str, Any]]:
        return [self.upserted(1, stock="3")]

    def event(self, v: int) -> dict[str, Any]:
        return self.stock_changed(v)

    def shows_before(self, v: int) -> Shown:
        return self.product(1, quantity=v)

    def invalid(self, v: int) -> tuple[dict[str, Any], str]:
        return _invalidated(self.event(v), stock="viel"), "payload.stock"


# -- categories ----------------------------------------------------------------------------


class _Category(Subject):
    """A category below a parent of its own; its name carries the version."""

    def __init__(self, driver: ShopDriver, shop: str) -> None:
        super().__init__(driver, shop)
        self.key = category_key(SHOP_CATEGORIES, CAO_SHOP_ID, self.n)
        self.parent = 900_000 + self.n
        self.parent_key = category_key(SHOP_CATEGORIES, CAO_SHOP_ID, self.parent)

    def prepare(self) -> list[dict[str, Any]]:
        return [make("category.upserted", self.parent_key, 1,
                     category_payload(self.parent, f"Garten {self.n}"))]

    def upserted(self, v: int, *, visible: bool = True) -> dict[str, Any]:
        return make("category.upserted", self.key, v, category_payload(
            self.n, f"Kannen {self.n} v{v}", parent=self.parent, visible=visible))

    def shows_before(self, v: int) -> Shown:
        return Category(name=f"Kannen {self.n} v{v}", parent=self.parent_key)

    def shown(self) -> Shown:
        return self.driver.category(self.key)


class CategoryUpserted(_Category, Hiding):
    type = "category.upserted"

    def event(self, v: int) -> dict[str, Any]:
        return self.upserted(v)

    def hide(self, v: int) -> dict[str, Any]:
        return self.upserted(v, visible=False)

    def invalid(self, v: int) -> tuple[dict[str, Any], str]:
        return _invalidated(self.upserted(v), name=""), "payload.name"


class CategoryDeleted(_Category, Hiding):
    type = "category.deleted"

    def event(self, v: int) -> dict[str, Any]:
        return make(self.type, self.key, v, {"erp_id": self.n, "source": SHOP_CATEGORIES,
                                             "shop_id": CAO_SHOP_ID, "reason": "deleted"})

    def before(self, v: int) -> dict[str, Any]:
        return self.upserted(v)

    def hide(self, v: int) -> dict[str, Any]:
        return self.event(v)

    def shows(self, v: int, *, before: int | None) -> Shown:
        return HIDDEN if before is not None else None

    def invalid(self, v: int) -> tuple[dict[str, Any], str]:
        return _invalidated(self.event(v), reason="gone"), "payload.reason"


# -- manufacturers -------------------------------------------------------------------------


class _Manufacturer(Subject):
    def upserted(self, v: int) -> dict[str, Any]:
        return make("manufacturer.upserted", self.key, v, manufacturer_payload(
            self.n, f"Hersteller {self.n} v{v}", f"https://hersteller-{self.n}.example/v{v}"))

    def shows_before(self, v: int) -> Shown:
        return Manufacturer(name=f"Hersteller {self.n} v{v}",
                            url=f"https://hersteller-{self.n}.example/v{v}")

    def shown(self) -> Shown:
        return self.driver.manufacturer(self.key)


class ManufacturerUpserted(_Manufacturer):
    type = "manufacturer.upserted"

    def event(self, v: int) -> dict[str, Any]:
        return self.upserted(v)

    def invalid(self, v: int) -> tuple[dict[str, Any], str]:
        return _invalidated(self.upserted(v), name=""), "payload.name"


class ManufacturerDeleted(_Manufacturer):
    """Deleting keeps the manufacturer as it was (products and orders reference it); a
    manufacturer deleted before it arrived is never created."""

    type = "manufacturer.deleted"

    def event(self, v: int) -> dict[str, Any]:
        return make(self.type, self.key, v, {"erp_id": self.n, "reason": "deleted"})

    def before(self, v: int) -> dict[str, Any]:
        return self.upserted(v)

    def shows(self, v: int, *, before: int | None) -> Shown:
        return self.shows_before(before) if before is not None else None

    def invalid(self, v: int) -> tuple[dict[str, Any], str]:
        return _invalidated(self.event(v), reason="gone"), "payload.reason"


# -- customers and orders ------------------------------------------------------------------


class CustomerUpserted(Subject):
    type = "customer.upserted"

    @property
    def email(self) -> str:
        return f"kundin-{self.n}@example.org"

    def event(self, v: int) -> dict[str, Any]:
        return make(self.type, self.key, v, {
            "erp_id": self.n, "customer_number": f"K{self.n}", "shop_id": CAO_SHOP_ID,
            "shop_customer_id": None, "email": self.email, "gender": "f",
            "firstname": "Erika", "lastname": f"Muster v{v}", "company": None,
            "telephone": None, "date_of_birth": None, "newsletter": False,
            "price_level": None,
            "address": {"street": f"Heideweg {v}", "postcode": "51147", "city": "Köln",
                        "country_iso3": "DEU", "erp_country": "D"}})

    def shows_before(self, v: int) -> Shown:
        return Customer(firstname="Erika", lastname=f"Muster v{v}", street=f"Heideweg {v}",
                        postcode="51147", city="Köln", country_iso3="DEU")

    def invalid(self, v: int) -> tuple[dict[str, Any], str]:
        return _invalidated(self.event(v), email="x"), "payload.email"

    def unmappable(self, v: int) -> tuple[dict[str, Any], str] | None:
        event = self.event(v)
        event["payload"]["address"]["country_iso3"] = "ZZZ"     # no such country in the shop
        return event, "payload.address.country_iso3"

    def shown(self) -> Shown:
        return self.driver.customer(self.email)


class OrderStatusChanged(Subject):
    """A status change of an order placed in the shop; the comment carries the version."""

    type = "order.status_changed"

    def __init__(self, driver: ShopDriver, shop: str) -> None:
        super().__init__(driver, shop)
        self.order_id = driver.place_order()
        self.key = f"{shop}:{self.order_id}"       # as the CAO status scan keys it

    @staticmethod
    def status(v: int) -> int:
        return 1 + (v // 10) % 3      # Pending, Processing, Delivered: each version another

    def event(self, v: int) -> dict[str, Any]:
        return make(self.type, self.key, v, {
            "shop": self.shop, "order_id": self.order_id, "status_id": self.status(v),
            "comment": f"Stand v{v}", "carrier": None, "tracking_code": None,
            "notify": False, "erp_document": None, "changed_at": None})

    def shows_before(self, v: int) -> Shown:
        return self.shows(v, before=None)

    def shows(self, v: int, *, before: int | None) -> Shown:
        changes = [b for b in (before, v) if b is not None]
        return Order(status=self.status(v),
                     history=tuple((self.status(c), f"Stand v{c}") for c in changes))

    def invalid(self, v: int) -> tuple[dict[str, Any], str]:
        return _invalidated(self.event(v), status_id=-1), "payload.status_id"

    def unmappable(self, v: int) -> tuple[dict[str, Any], str] | None:
        missing = 2_000_000_000                                   # an order the shop lacks
        event = self.event(v)
        event["entity_key"] = f"{self.shop}:{missing}"
        event["payload"]["order_id"] = missing
        return event, "payload.order_id"

    def shown(self) -> Shown:
        return self.driver.order(self.order_id)


SUBJECTS: dict[str, type[Subject]] = {s.type: s for s in (
    ProductUpserted, ProductDeleted, StockChanged, CategoryUpserted, CategoryDeleted,
    ManufacturerUpserted, ManufacturerDeleted, CustomerUpserted, OrderStatusChanged)}
EVENT_TYPES = list(SUBJECTS)
HIDING_TYPES = [t for t, s in SUBJECTS.items() if issubclass(s, Hiding)]
DELETED_TYPES = [t for t in SUBJECTS if t.endswith(".deleted")]
UNMAPPABLE_TYPES = [t for t, s in SUBJECTS.items() if s.unmappable is not Subject.unmappable]
