"""Configuration: one TOML file describing the broker, the tenants, their ERP and their shops.

The file is read once into frozen dataclasses that are passed down; nothing else reads the
environment. Secrets never live in the file: a database password comes from ``password_env``
(an environment variable's name) or ``password_file`` (a path), a whole URL may come from
``url_env``. See docs/configuration.md for every key.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy.engine import URL, make_url

from . import kinds
from .errors import ConfigError
from .keys import PRODUCT_GROUPS, SHOP_CATEGORIES, category_key

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
STOCK_MODES = ("available", "total")
CATEGORY_SOURCES = (SHOP_CATEGORIES, PRODUCT_GROUPS)
DEFAULT_RETRY_TIERS_S = (5, 60, 600)


RABBITMQ = "rabbitmq"
EMBEDDED = "embedded"
BROKER_KINDS = (RABBITMQ, EMBEDDED)


@dataclass(frozen=True)
class DatabaseConfig:
    """Where a database is and how to log in; the password is kept out of repr()."""

    url: str
    password: str | None = field(default=None, repr=False)

    def sqlalchemy_url(self) -> URL:
        url = make_url(self.url)
        if url.drivername in ("mysql", "mariadb"):
            url = url.set(drivername="mysql+pymysql")
        if self.password is not None:
            url = url.set(password=self.password)
        return url

    @property
    def safe(self) -> str:
        """The URL with any password masked: the only form that may reach logs or errors."""
        return self.sqlalchemy_url().render_as_string(hide_password=True)

    @property
    def database(self) -> str:
        return make_url(self.url).database or ""


@dataclass(frozen=True)
class FolderConfig:
    """A folder of image files: a local path or an sftp:// URL (C9).

    The URL never holds a password (refused when the file is read); it comes from
    ``images_password_env`` / ``images_password_file`` and is kept out of repr().
    """

    url: str                             # absolute local path, file:///path or sftp://...
    password: str | None = field(default=None, repr=False)
    known_hosts: str | None = None       # SSH known_hosts file (None: ~/.ssh/known_hosts)

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme or "file"


@dataclass(frozen=True)
class ImageFolders:
    """Where a shop's image files come from (the ERP's folder) and go to (the shop's)."""

    source: FolderConfig
    target: FolderConfig
    scan_s: int = 60                     # how often the ERP folder is listed for changes


@dataclass(frozen=True)
class ShopFilter:
    """Which ERP articles a shop sells (C11); everything else is hidden there."""

    cao_shop_id: int | None = None      # ARTIKEL.SHOP_ID must equal this (None: any shop id)
    require_visible: bool = True         # ARTIKEL.SHOP_VISIBLE = 1
    sku_pattern: str | None = None       # fnmatch pattern on ARTNUM, e.g. "AB-*"
    # Category keys as the events name them ('kat:<SHOP_ID>:<ID>', 'wgr:<ID>'): the article
    # must be linked to one of them or to a category below one (the consumers' in_selection).
    categories: tuple[str, ...] = ()
    # ("05", "1"): CAO USERFELD_05 must be "1"; ("05", None): must be set (not empty, 0 or N).
    flag: tuple[str, str | None] | None = None


# How an imported shop order is stored in CAO: JOURNAL.QUELLE (NOTES 3).
DOCUMENT_QUELLE = {"invoice": 3, "invoice_draft": 13, "order": 8, "order_draft": 18}


UNKNOWN_ARTICLES = ("dead_letter", "free_text")


@dataclass(frozen=True)
class OrderImportConfig:
    """How this shop's orders go into the ERP (O1, O5)."""

    document: str = "invoice_draft"                     # a key of DOCUMENT_QUELLE
    shipping_tax_code: int = 2                          # CAO STEUER_CODE of shipping and fees
    payment_methods: Mapping[str, int] = field(default_factory=dict)   # title -> ZAHLART
    shipping_methods: Mapping[str, int] = field(default_factory=dict)  # title -> LIEFART
    countries: Mapping[str, str] = field(default_factory=dict)         # ISO-2 -> CAO LAND
    # Orders below this shop order id are never sent: set it when switching over from
    # another import, so the shop's history does not flood the ERP.
    first_order_id: int = 1
    first_customer_id: int = 1           # the same for new shop accounts (customer.registered)
    imported_status: int | None = 2      # shop status id once the ERP has the order (O2)
    imported_status_mail: bool = False   # e-mail the customer about that status
    # An order line whose article CAO does not have: "dead_letter" (the order waits for the
    # article, replayable) or "free_text" (a position without article, with an import note).
    unknown_articles: str = "dead_letter"
    # The shop has an [orders] table: it imports orders, so check verifies what CAO needs
    # for that even before the first order.
    configured: bool = False

    @property
    def quelle(self) -> int:
        return DOCUMENT_QUELLE[self.document]


DEFAULT_TEMPLATES = {
    "de": ("Ihre Bestellung {order_id}: {status}",
           "Guten Tag {name},\n\nIhre Bestellung {order_id} hat jetzt den Status "
           "„{status}“.\n{comment}{tracking}\nMit freundlichen Grüßen\n{shop}\n"),
    "en": ("Your order {order_id}: {status}",
           "Hello {name},\n\nyour order {order_id} is now \"{status}\".\n"
           "{comment}{tracking}\nKind regards\n{shop}\n"),
}


@dataclass(frozen=True)
class MailConfig:
    """SMTP for the customer's status e-mail (O4); absent: no e-mail, notified stays 0."""

    host: str
    sender: str
    port: int = 587
    security: str = "starttls"          # starttls, ssl or none
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    language: str = "de"                # templates[language] is used
    templates: Mapping[str, tuple[str, str]] = field(
        default_factory=lambda: dict(DEFAULT_TEMPLATES))
    tracking_urls: Mapping[str, str] = field(default_factory=dict)  # carrier -> URL with {code}


@dataclass(frozen=True)
class OversellConfig:
    """The oversell guard of one shop (B3, producers/cao/guard.py): the stock the shop is sent
    lacks every shop's orders that CAO's stock does not lack yet, and ``buffer`` units more."""

    enabled: bool = False
    buffer: int = 0                  # units held back in this shop on top, per article
    # An order of this shop that has not reached CAO after this long stops reserving (one
    # dead-lettered for good must not hide stock forever).
    pending_hours: int = 72


@dataclass(frozen=True)
class ShopConfig:
    tenant: str
    name: str
    kind: str
    active: bool
    db: DatabaseConfig
    languages: tuple[str, ...]
    price_level: int
    stock_mode: str
    tax_classes: Mapping[int, int]
    filter: ShopFilter
    orders: OrderImportConfig = field(default_factory=OrderImportConfig)
    mail: MailConfig | None = None
    categories: str = "shop_categories"  # CAO ARTIKEL_KAT, or "product_groups" (WARENGRUPPEN)
    images: ImageFolders | None = None   # None: image names only, no file copy (C9)
    # Days the consumer keeps each event's outcome (``shopbridge history``, B4); 0: none.
    history_days: int = 30
    # The kind's own settings, read from the shop's [tenants.shops.<kind>] section by the
    # kind's options parser (``kinds.ShopSink.options``); the kind knows their type.
    options: object = None
    oversell: OversellConfig = field(default_factory=OversellConfig)


VARIANT_DIMENSIONS = ("A", "B", "C")          # CAO ARTIKEL.DIM_A, DIM_B, DIM_C
VARIANT_SOURCES = ("both", "artnum", "artikel_var")


@dataclass(frozen=True)
class VariantConfig:
    """How CAO variant articles (children) are found and named (C8; DESIGN 4a)."""

    enabled: bool = False
    separator: str = "-"             # child ARTNUM = master ARTNUM + separator + suffix
    source: str = "both"             # ARTNUM rule, ARTIKEL_VAR rows, or both
    # Option name per dimension and language code, e.g. {"A": {"de": "Farbe"}}.
    names: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class ErpConfig:
    kind: str
    db: DatabaseConfig
    selection: str = "shop"              # "shop": articles with SHOP_ID > 0; "all": every article
    registry_table: str | None = None    # None: REGISTRY or REGISTERY, whichever exists
    default_language: str = "de"         # the language that lives in ARTIKEL itself
    carrier_column: str | None = "USR1"  # JOURNAL column holding the carrier [I]
    tracking_column: str | None = "USR2"  # JOURNAL column holding the tracking code [I]
    # ARTIKEL column with the date the article can be delivered from; newer CAO versions call
    # it LIEFERTERMIN (NOTES 3, S5), the known DDL has none. Used only where it exists.
    date_available_column: str | None = "LIEFERTERMIN"
    currency: str = "EUR"                # ISO 4217 code of CAO's prices; shops must sell in it
    images: FolderConfig | None = None   # the folder CAO's image file names refer to (C9)
    variants: VariantConfig = field(default_factory=VariantConfig)


@dataclass(frozen=True)
class TenantConfig:
    name: str
    erp: ErpConfig
    shops: tuple[ShopConfig, ...]

    def shop(self, name: str) -> ShopConfig:
        for shop in self.shops:
            if shop.name == name:
                return shop
        raise ConfigError(f"tenant {self.name!r} has no shop {name!r}")


@dataclass(frozen=True)
class BrokerConfig:
    url: str = field(repr=False)
    namespace: str = "shopbridge"        # prefix of the exchange and every queue name
    retry_tiers_s: tuple[int, ...] = DEFAULT_RETRY_TIERS_S
    pack_size: int = 100                 # events per AMQP message on bulk paths (DESIGN 6)
    batch_size: int = 1000               # events per consumer transaction (issue 14)
    batch_wait_ms: int = 200             # how long a consumer waits to fill a batch
    delivery_limit: int = 20             # redeliveries of one message before the broker gives up
    # "rabbitmq", or "embedded": the queues live in shopbridge's own tables of the MariaDB
    # database ``url`` names (shopbridge/embedded.py, B5).
    kind: str = "rabbitmq"

    @property
    def embedded(self) -> bool:
        return self.kind == EMBEDDED

    @property
    def safe(self) -> str:
        if self.embedded:
            return DatabaseConfig(self.url).safe
        return make_url(self.url.replace("amqp://", "mysql://", 1)).render_as_string(
            hide_password=True).replace("mysql://", "amqp://", 1)


@dataclass(frozen=True)
class Settings:
    broker: BrokerConfig
    tenants: tuple[TenantConfig, ...]
    source: str = "<memory>"

    def tenant(self, name: str | None = None) -> TenantConfig:
        if name is None:
            if len(self.tenants) != 1:
                raise ConfigError("several tenants are configured: name one with --tenant")
            return self.tenants[0]
        for tenant in self.tenants:
            if tenant.name == name:
                return tenant
        raise ConfigError(f"no tenant {name!r} in {self.source}")

    def find_shop(self, name: str, tenant: str | None = None) -> ShopConfig:
        matches = [s for t in self.tenants if tenant in (None, t.name) for s in t.shops
                   if s.name == name]
        if not matches:
            raise ConfigError(f"no shop {name!r} in {self.source}")
        if len(matches) > 1:
            raise ConfigError(f"shop {name!r} exists in several tenants: name one with --tenant")
        return matches[0]


def load(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> Settings:
    """Read and check a configuration file.

    Raises:
        ConfigError: naming the file and the key that is wrong.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} not found") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    return parse(data, source=str(path), environ=os.environ if environ is None else environ,
                 base_dir=path.parent)


_SECRETS = {"url", "url_env", "password_env", "password_file", "password"}
_IMAGES = {"images_url", "images_password_env", "images_password_file", "images_password",
           "images_known_hosts"}
FOLDER_SCHEMES = ("file", "sftp")
KNOWN_KEYS = {
    "": {"broker", "tenants"},
    "broker": _SECRETS | {"kind", "namespace", "retry_tiers_s", "pack_size", "batch_size",
                          "batch_wait_ms", "delivery_limit"},
    "tenant": {"name", "erp", "shops"},
    "erp": _SECRETS | _IMAGES | {"kind", "selection", "registry_table", "default_language",
                                 "carrier_column", "tracking_column",
                                 "date_available_column", "variants", "currency"},
    "variants": {"enabled", "separator", "source", "names"},
    "shop": _SECRETS | _IMAGES | {"name", "kind", "active", "languages", "price_level",
                                  "stock_mode", "tax_classes", "filter", "orders", "mail",
                                  "categories", "images_scan_s", "history_days",
                                  "oversell"},
    "orders": {"document", "shipping_tax_code", "payment_methods", "shipping_methods",
               "countries", "first_order_id", "first_customer_id", "imported_status",
               "imported_status_mail", "unknown_articles"},
    "mail": {"host", "port", "security", "username", "password_env", "password_file",
             "password", "sender", "language", "templates", "tracking_urls"},
    "oversell": {"enabled", "buffer", "pending_hours"},
    "filter": {"cao_shop_id", "require_visible", "sku_pattern", "categories", "flag_field",
               "flag_value"},
}


def refuse_unknown(data: Mapping[str, Any], known: Iterable[str]) -> None:
    """Refuse keys of a table that are not ``known``, by name (a typo must not be ignored);
    for a kind's options parser, which reads its own section of a shop.

    Raises:
        ConfigError: naming the unknown keys and the known ones.
    """
    known = set(known)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(known)) or '(none)'}")


def parse(data: Mapping[str, Any], *, source: str = "<memory>",
          environ: Mapping[str, str] | None = None, base_dir: Path | None = None) -> Settings:
    """Check ``data`` and build the settings.

    Raises:
        ConfigError: naming every error of the file, each with where it is (``problems``).
    """
    reader = _Reader(source, environ if environ is not None else os.environ,
                     base_dir or Path.cwd())
    settings = None
    with reader.noting("(top level)"):
        settings = reader.settings(data)
    if reader.errors or settings is None:
        raise ConfigError("\n".join(reader.errors), problems=reader.errors)
    return settings


class _Reader:
    """Reads the file part by part. An error in one part is noted and reading goes on with
    the next (the part's default stands in), so one run reports every error of the file."""

    def __init__(self, source: str, environ: Mapping[str, str], base_dir: Path) -> None:
        self.source = source
        self.environ = environ
        self.base_dir = base_dir
        self.errors: list[str] = []

    def fail(self, where: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.source}: [{where}] {problem}")

    @contextmanager
    def noting(self, where: str, key: str | None = None) -> Iterator[None]:
        """One independent part of the file: its error is noted, not raised."""
        try:
            yield
        except ConfigError as err:
            self.errors.extend(err.problems)
        except (TypeError, ValueError, AttributeError) as err:
            # A value of the wrong type deep inside: a configuration error, not a crash.
            self.errors.append(f"{self.source}: [{where}] {f'{key}: ' if key else ''}"
                               f"a value has the wrong type: {err}")

    def known(self, data: Any, kind: str, where: str,
              sections: Iterable[str] = ()) -> Mapping[str, Any]:
        """Refuse what is not a table; note keys we do not know (a typo must not be ignored).
        ``sections`` are keys read elsewhere (a shop's kind sections)."""
        if not isinstance(data, Mapping):
            raise self.fail(where, f"must be a table, got {type(data).__name__}")
        try:
            refuse_unknown({k: v for k, v in data.items() if k not in set(sections)},
                           KNOWN_KEYS[kind])
        except ConfigError as err:
            self.errors.append(str(self.fail(where, str(err))))
        return data

    def boolean(self, data: Mapping[str, Any], where: str, key: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(where, f"{key} must be true or false, got {value!r}")
        return value

    def settings(self, data: Mapping[str, Any]) -> Settings:
        self.known(data, "", "(top level)")
        broker = BrokerConfig(url="")
        with self.noting("broker"):
            broker = self.broker(self.known(data.get("broker", {}), "broker", "broker"))
        tenants_data = data.get("tenants")
        if not isinstance(tenants_data, list) or not tenants_data:
            raise self.fail("tenants", "at least one [[tenants]] table is required")
        tenants = []
        for i, t in enumerate(tenants_data):
            with self.noting(f"tenants[{i}]"):
                tenants.append(self.tenant(t, i))
        names = [t.name for t in tenants]
        if len(set(names)) != len(names):
            raise self.fail("tenants", "tenant names must be unique")
        if broker.embedded:
            for tenant in tenants:
                for shop in tenant.shops:
                    if shop.oversell.enabled:
                        raise self.fail(
                            f"tenant {tenant.name!r}, shop {shop.name!r}, oversell",
                            "the oversell guard reads its reservation queue from RabbitMQ; "
                            'it does not run on kind = "embedded" yet')
        return Settings(broker=broker, tenants=tuple(tenants), source=self.source)

    def broker(self, data: Mapping[str, Any]) -> BrokerConfig:
        url = "amqp://guest@127.0.0.1:5672//"
        kind = RABBITMQ
        with self.noting("broker", "kind"):
            kind = str(data.get("kind", RABBITMQ))
            if kind not in BROKER_KINDS:
                raise self.fail("broker", f"kind {kind!r}: use one of "
                                          f"{', '.join(repr(k) for k in BROKER_KINDS)}")
        with self.noting("broker"):
            self.refuse_password_in_file(data, "broker")
            given = self.secret_or_value(data, "broker", "url", "url_env")
            url = given or url
            password = self.password(data, "broker")
            if kind == EMBEDDED:
                if not given or not given.startswith(("mysql", "mariadb")):
                    raise self.fail("broker", 'kind = "embedded" keeps the queues in a MariaDB '
                                              'database: url = "mysql://user@host/database"')
                if password is not None:
                    url = DatabaseConfig(url, password).sqlalchemy_url().render_as_string(
                        hide_password=False)
            elif password is not None:
                parsed = make_url(url.replace("amqp://", "mysql://", 1)).set(password=password)
                url = parsed.render_as_string(hide_password=False).replace("mysql://",
                                                                           "amqp://", 1)
        tiers: tuple[int, ...] = DEFAULT_RETRY_TIERS_S
        with self.noting("broker", "retry_tiers_s"):
            raw_tiers = data.get("retry_tiers_s", list(DEFAULT_RETRY_TIERS_S))
            if not isinstance(raw_tiers, list | tuple):
                raise self.fail("broker", "retry_tiers_s must be a list of seconds, e.g. [5, 60]")
            tiers = tuple(int(x) for x in raw_tiers)
            if not tiers or any(t <= 0 for t in tiers) or len(set(tiers)) != len(tiers):
                raise self.fail("broker", "retry_tiers_s must be distinct seconds > 0")
        namespace = "shopbridge"
        with self.noting("broker", "namespace"):
            namespace = str(data.get("namespace", namespace))
            if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", namespace):
                raise self.fail("broker", f"namespace {namespace!r}: use a-z, 0-9, '_' and '-'")
        sizes = {f: getattr(BrokerConfig, f) for f in ("pack_size", "batch_size", "batch_wait_ms",
                                                       "delivery_limit")}
        for key, default in list(sizes.items()):
            with self.noting("broker", key):
                sizes[key] = self.positive(data, "broker", key, default)
        return BrokerConfig(url=url, namespace=namespace, retry_tiers_s=tiers, kind=kind,
                            **sizes)

    def tenant(self, data: Mapping[str, Any], index: int) -> TenantConfig:
        where = f"tenants[{index}]"
        self.known(data, "tenant", where)
        name = "?"
        with self.noting(where, "name"):
            name = self.name(data, where)
        erp_data = data.get("erp")
        if not isinstance(erp_data, Mapping):
            raise self.fail(where, "an [tenants.erp] table is required")
        at = f"{where}.erp"
        self.known(erp_data, "erp", at)
        kind = "cao"
        with self.noting(at, "kind"):
            kind = str(erp_data.get("kind", kind))
            if kind not in (known := kinds.registry.names(kinds.ERP_SOURCES)):
                raise self.fail(at, f"kind {kind!r} is not one of {known}")
        selection = "shop"
        with self.noting(at, "selection"):
            selection = str(erp_data.get("selection", selection))
            if selection not in ("shop", "all"):
                raise self.fail(at, "selection must be 'shop' or 'all'")
        registry = None
        with self.noting(at, "registry_table"):
            registry = erp_data.get("registry_table")
            if registry is not None and not re.fullmatch(r"[A-Za-z0-9_]+", str(registry)):
                raise self.fail(at, f"registry_table {registry!r} is not a table name")
        columns = {}
        for key in ("carrier_column", "tracking_column", "date_available_column"):
            value = erp_data.get(key, ErpConfig.__dataclass_fields__[key].default)
            with self.noting(at, key):
                if value not in (None, "") and not re.fullmatch(r"[A-Za-z0-9_]+", str(value)):
                    raise self.fail(at, f"{key} {value!r} is not a column name")
            columns[key] = str(value) if value else None
        currency = "EUR"
        with self.noting(at, "currency"):
            currency = str(erp_data.get("currency", currency))
            if not re.fullmatch(r"[A-Z]{3}", currency):
                raise self.fail(at, f"currency {currency!r}: an ISO 4217 code like EUR")
        db, images, variants = DatabaseConfig(url=""), None, VariantConfig()
        with self.noting(at):
            db = self.database(erp_data, at)
        with self.noting(at, "images_url"):
            images = self.folder(erp_data, at)
        with self.noting(f"{at}.variants"):
            variants = self.variants(erp_data.get("variants", {}), f"{at}.variants")
        erp = ErpConfig(kind=kind, db=db, currency=currency, selection=selection,
                        registry_table=registry, **columns,
                        default_language=str(erp_data.get("default_language", "de")),
                        images=images, variants=variants)
        shops = []
        for i, s in enumerate(data.get("shops", [])):
            with self.noting(f"{where}.shops[{i}]"):
                shops.append(self.shop(s, name, f"{where}.shops[{i}]", erp.images))
        shop_names = [s.name for s in shops]
        if len(set(shop_names)) != len(shop_names):
            raise self.fail(where, "shop names must be unique within a tenant")
        return TenantConfig(name=name, erp=erp, shops=tuple(shops))

    def shop(self, data: Mapping[str, Any], tenant: str, where: str,
             erp_images: FolderConfig | None = None) -> ShopConfig:
        kind_sections = kinds.registry.all_names()
        self.known(data, "shop", where, sections=kind_sections)
        name = "?"
        with self.noting(where, "name"):
            name = self.name(data, where)
            if name == "erp":
                raise self.fail(where, "the name 'erp' is reserved for the tenant's ERP queue")
        where = f"{where} ({name})"
        kind = "oscommerce"
        options: object = None      # the kind's own settings; None only if the kind is wrong
        with self.noting(where, "kind"):
            kind = str(data.get("kind", kind))
            if kind not in (known := kinds.registry.names(kinds.SHOP_SINKS)):
                raise self.fail(where, f"kind {kind!r} is not one of {known}")
            with self.noting(f"{where}.{kind}"):
                options = self.kind_options(data, where, kind, kind_sections)
        languages: tuple[str, ...] = ("de",)
        with self.noting(where, "languages"):
            languages = tuple(str(code) for code in data.get("languages", languages))
            if not languages or any(not re.fullmatch(r"[a-z]{2}", c) for c in languages):
                raise self.fail(where, "languages must list two-letter codes, e.g. ['de', 'en']")
        level = 1
        with self.noting(where, "price_level"):
            level = int(data.get("price_level", level))
            if level not in range(1, 6):
                raise self.fail(where, f"price_level {level} must be 1..5 (VK1..VK5)")
        stock_mode = "available"
        with self.noting(where, "stock_mode"):
            stock_mode = str(data.get("stock_mode", stock_mode))
            if stock_mode not in STOCK_MODES:
                raise self.fail(where, f"stock_mode must be one of {STOCK_MODES}")
        tax_classes: dict[int, int] = {}
        with self.noting(where, "tax_classes"):
            try:
                tax_classes = {int(k): int(v)
                               for k, v in dict(data.get("tax_classes", {})).items()}
            except (TypeError, ValueError):
                raise self.fail(where, "tax_classes maps CAO STEUER_CODE to tax_class_id, "
                                       "e.g. { 1 = 2, 2 = 1 }") from None
        categories = "shop_categories"
        with self.noting(where, "categories"):
            categories = str(data.get("categories", categories))
            if categories not in CATEGORY_SOURCES:
                raise self.fail(where, f"categories must be one of {CATEGORY_SOURCES}")
        history_days = 30
        with self.noting(where, "history_days"):
            history_days = data.get("history_days", history_days)
            if isinstance(history_days, bool) or not isinstance(history_days, int) \
                    or history_days < 0:
                raise self.fail(where, f"history_days must be a whole number of days, 0 or "
                                       f"more (0: keep no history), not {history_days!r}")
        shop_filter = ShopFilter()
        with self.noting(f"{where}.filter"):
            shop_filter = self.shop_filter(data.get("filter", {}), f"{where}.filter", categories)
        active, db = True, DatabaseConfig(url="")
        with self.noting(where, "active"):
            active = self.boolean(data, where, "active", True)
        with self.noting(where):
            db = self.database(data, where)
        orders, mail, images = OrderImportConfig(), None, None
        if "orders" in data:
            with self.noting(f"{where}.orders"):
                orders = self.orders(data["orders"], f"{where}.orders")
        with self.noting(f"{where}.mail"):
            mail = self.mail(data.get("mail"), f"{where}.mail")
        with self.noting(where, "images_url"):
            images = self.image_folders(data, where, erp_images)
        oversell = OversellConfig()
        with self.noting(f"{where}.oversell"):
            oversell = self.oversell(data.get("oversell", {}), f"{where}.oversell", kind)
            if oversell.enabled and orders.quelle not in (13, 18):
                # CAO moves MENGE_AKT when its user books a draft; a finished document the
                # importer writes is never booked, so the guard could not tell when CAO's
                # stock has the order (it would give the unit back at once).
                raise self.fail(f"{where}.oversell",
                                f"the guard follows order drafts until CAO books them; with "
                                f"orders.document = {orders.document!r} CAO's stock never "
                                f"has the order: use 'invoice_draft' or 'order_draft', or "
                                f"set enabled = false")
        return ShopConfig(tenant=tenant, name=name, kind=kind, active=active, db=db,
                          languages=languages, price_level=level, stock_mode=stock_mode,
                          tax_classes=tax_classes, filter=shop_filter, orders=orders,
                          mail=mail, categories=categories, images=images, options=options,
                          history_days=history_days, oversell=oversell)

    def kind_options(self, data: Mapping[str, Any], where: str, kind: str,
                     sections: Iterable[str]) -> object:
        """The shop's own kind's section, read by that kind; another kind's is refused (it
        would be ignored, and the operator meant something by it)."""
        for other in sorted(set(sections) & set(data) - {kind}):
            self.errors.append(str(self.fail(
                where, f"section [{other}] belongs to kind {other!r}, but this shop's kind "
                       f"is {kind!r}")))
        at = f"{where}.{kind}"
        section = data.get(kind, {})
        if not isinstance(section, Mapping):
            raise self.fail(at, f"must be a table, got {type(section).__name__}")
        try:
            return kinds.shop_sink(kind).options(section)
        except ConfigError as err:
            problems = [str(self.fail(at, problem)) for problem in err.problems]
            raise ConfigError("\n".join(problems), problems=problems) from None

    def shop_filter(self, data: Any, where: str, categories: str) -> ShopFilter:
        f = self.known(data, "filter", where)
        cao_shop_id = None if f.get("cao_shop_id") is None else int(f["cao_shop_id"])
        return ShopFilter(
            cao_shop_id=cao_shop_id,
            require_visible=self.boolean(f, where, "require_visible", True),
            sku_pattern=None if f.get("sku_pattern") is None else str(f["sku_pattern"]),
            categories=self.filter_categories(f, where, categories, cao_shop_id),
            flag=self.filter_flag(f, where),
        )

    def image_folders(self, data: Mapping[str, Any], where: str,
                      source: FolderConfig | None) -> ImageFolders | None:
        target = self.folder(data, where)
        if target is None:
            return None
        if source is None:
            raise self.fail(where, "images_url needs the ERP's image folder too: set "
                                   "images_url in [tenants.erp]")
        scan_s = int(data.get("images_scan_s", 60))
        if scan_s < 0:
            raise self.fail(where, "images_scan_s must be >= 0 (0: at every idle tick)")
        return ImageFolders(source=source, target=target, scan_s=scan_s)

    def folder(self, data: Mapping[str, Any], where: str) -> FolderConfig | None:
        """The images_* keys of an [erp] or shop table; never echoes the URL (secrets)."""
        url = data.get("images_url")
        if url is None:
            return None
        url = str(url)
        try:
            parts = urlsplit(url)
            has_password = parts.password is not None
        except ValueError:
            raise self.fail(where, "images_url is not a valid URL or path") from None
        if has_password:
            raise self.fail(where, "images_url contains a password: use images_password_env "
                                   "or images_password_file")
        scheme = parts.scheme or "file"
        if scheme not in FOLDER_SCHEMES:
            raise self.fail(where, f"images_url: scheme {scheme!r} is not one of "
                                   f"{', '.join(FOLDER_SCHEMES)} (or a plain path)")
        if scheme == "file":
            path = Path(unquote(parts.path))
            if not parts.scheme and not path.is_absolute():
                path = self.base_dir / path
            if not path.is_absolute() or parts.netloc not in ("", "localhost"):
                raise self.fail(where, "images_url: a local folder must be an absolute path")
            url = str(path)
        elif not parts.hostname or not parts.path.startswith("/"):
            raise self.fail(where, "images_url: write sftp://user@host:port/absolute/path")
        secrets = {k.removeprefix("images_"): data[k] for k in
                   ("images_password_env", "images_password_file", "images_password")
                   if k in data}
        known_hosts = data.get("images_known_hosts")
        return FolderConfig(url=url, password=self.password(secrets, f"{where} images"),
                            known_hosts=None if known_hosts is None
                            else str(self.base_dir / str(known_hosts)))

    def filter_categories(self, data: Mapping[str, Any], where: str, source: str,
                          cao_shop_id: int | None) -> tuple[str, ...]:
        """CAO category ids of the shop's tree -> the category keys events carry."""
        ids = data.get("categories", [])
        if not isinstance(ids, list) or not all(isinstance(i, int) and i > 0 for i in ids):
            raise self.fail(where, "categories lists CAO category ids (ARTIKEL_KAT.ID or "
                                   "WARENGRUPPEN.ID), e.g. [10, 12]")
        if source == PRODUCT_GROUPS:
            return tuple(category_key(source, None, i) for i in ids)
        if ids and cao_shop_id is None:
            raise self.fail(where, "categories needs cao_shop_id: shop category ids are "
                                   "numbered per CAO shop")
        return tuple(category_key(source, cao_shop_id, i) for i in ids)

    def filter_flag(self, data: Mapping[str, Any], where: str) -> tuple[str, str | None] | None:
        field_name = data.get("flag_field")
        if field_name is None:
            if "flag_value" in data:
                raise self.fail(where, "flag_value needs flag_field")
            return None
        match = re.fullmatch(r"(?:USERFELD_)?(0[1-9]|10)", str(field_name).upper())
        if not match:
            raise self.fail(where, f"flag_field {field_name!r}: use one of CAO's free fields "
                                   "USERFELD_01 .. USERFELD_10")
        value = data.get("flag_value")
        return match[1], None if value is None else str(value)

    def variants(self, data: Any, where: str) -> VariantConfig:
        self.known(data, "variants", where)
        separator = data.get("separator", "-")
        if not isinstance(separator, str) or not 1 <= len(separator) <= 5:
            raise self.fail(where, "separator must be a string of 1-5 characters, e.g. \"-\"")
        source = str(data.get("source", "both"))
        if source not in VARIANT_SOURCES:
            raise self.fail(where, f"source must be one of {', '.join(VARIANT_SOURCES)}")
        raw_names = data.get("names", {})
        if not isinstance(raw_names, Mapping):
            raise self.fail(where, "names maps a dimension to names per language, "
                                   "e.g. names.A = { de = \"Farbe\", en = \"Colour\" }")
        names: dict[str, dict[str, str]] = {}
        for dim, per_language in raw_names.items():
            if dim not in VARIANT_DIMENSIONS:
                raise self.fail(where, f"names.{dim}: dimensions are A, B and C "
                                       "(CAO DIM_A, DIM_B, DIM_C)")
            if not isinstance(per_language, Mapping) or not per_language:
                raise self.fail(where, f"names.{dim} must be a table of language code -> name")
            for code, name in per_language.items():
                if not re.fullmatch(r"[a-z]{2}", str(code)):
                    raise self.fail(where, f"names.{dim}.{code}: not a two-letter language code")
                if not isinstance(name, str) or not 1 <= len(name.strip()) <= 255:
                    raise self.fail(where, f"names.{dim}.{code} must be a name of 1-255 "
                                           "characters")
            names[dim] = {str(c): n.strip() for c, n in per_language.items()}
        return VariantConfig(enabled=self.boolean(data, where, "enabled", False),
                             separator=separator, source=source, names=names)

    def mail(self, data: Any, where: str) -> MailConfig | None:
        if data is None:
            return None
        self.known(data, "mail", where)
        if not data.get("host") or not data.get("sender"):
            raise self.fail(where, "host and sender are required")
        security = str(data.get("security", "starttls"))
        if security not in ("starttls", "ssl", "none"):
            raise self.fail(where, "security must be starttls, ssl or none")
        templates = dict(DEFAULT_TEMPLATES)
        for language, template in dict(data.get("templates", {})).items():
            if not isinstance(template, Mapping) or set(template) != {"subject", "body"}:
                raise self.fail(where, f"templates.{language} needs subject and body")
            templates[str(language)] = (str(template["subject"]), str(template["body"]))
        return MailConfig(
            host=str(data["host"]), sender=str(data["sender"]),
            port=self.positive(data, where, "port", 465 if security == "ssl" else 587),
            security=security, username=data.get("username"),
            password=self.password(data, where), language=str(data.get("language", "de")),
            templates=templates,
            tracking_urls={str(k): str(v) for k, v in dict(data.get("tracking_urls", {})).items()})

    def oversell(self, data: Any, where: str, kind: str) -> OversellConfig:
        self.known(data, "oversell", where)
        enabled = self.boolean(data, where, "enabled", False)
        numbers = {}
        for key, default, least in (("buffer", 0, 0), ("pending_hours", 72, 1)):
            value = data.get(key, default)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise self.fail(where, f"{key} must be a whole number, {least} or more, "
                                       f"not {value!r}")
            numbers[key] = value
        if enabled and kinds.shop_sink(kind).open_orders_deducted() is None:
            raise self.fail(where, f"shop kind {kind!r} has no oversell guard yet: remove "
                                   f"'enabled' or set it to false")
        return OversellConfig(enabled=enabled, **numbers)

    def orders(self, data: Any, where: str) -> OrderImportConfig:
        self.known(data, "orders", where)
        values: dict[str, Any] = {}

        def read(key: str, convert: Callable[[Any], Any]) -> None:
            """values[key] from the file, where given; its error is noted, not raised."""
            with self.noting(where, key):
                if key in data:
                    values[key] = convert(data[key])

        def countries(value: Any) -> dict[str, str]:
            mapped = {str(k).upper(): str(v) for k, v in dict(value).items()}
            if any(len(k) != 2 or not 1 <= len(v) <= 5 for k, v in mapped.items()):
                raise self.fail(where, "countries maps ISO-2 codes to CAO LAND codes "
                                       "(1-5 chars)")
            return mapped

        read("document", lambda v: self.one_of(where, "document", v, DOCUMENT_QUELLE))
        read("unknown_articles",
             lambda v: self.one_of(where, "unknown_articles", v, UNKNOWN_ARTICLES))
        read("shipping_tax_code", int)
        read("payment_methods", lambda v: {str(k): int(n) for k, n in dict(v).items()})
        read("shipping_methods", lambda v: {str(k): int(n) for k, n in dict(v).items()})
        read("countries", countries)
        read("first_order_id", lambda _: self.positive(data, where, "first_order_id", 1))
        read("first_customer_id", lambda _: self.positive(data, where, "first_customer_id", 1))
        # 0 (TOML has no null): leave the shop's status alone after the import.
        read("imported_status", lambda v: int(v) or None)
        read("imported_status_mail",
             lambda _: self.boolean(data, where, "imported_status_mail", False))
        return OrderImportConfig(**values, configured=True)

    def one_of(self, where: str, key: str, value: Any, choices: Iterable[str]) -> str:
        if str(value) not in choices:
            raise self.fail(where, f"{key} must be one of {', '.join(choices)}")
        return str(value)

    def database(self, data: Mapping[str, Any], where: str) -> DatabaseConfig:
        url = self.secret_or_value(data, where, "url", "url_env")
        if not url:
            raise self.fail(where, "a database 'url' (or 'url_env') is required")
        try:
            make_url(url)
        except Exception:  # SQLAlchemy raises ArgumentError; never echo the URL (password)
            raise self.fail(where, "database url is not a valid URL") from None
        self.refuse_password_in_file(data, where)
        return DatabaseConfig(url=url, password=self.password(data, where))

    def refuse_password_in_file(self, data: Mapping[str, Any], where: str) -> None:
        written = data.get("url")
        if written is None:
            return
        try:
            has_password = bool(make_url(str(written).replace("amqp://", "mysql://", 1)).password)
        except Exception:  # never echo the URL: it may hold a password
            raise self.fail(where, "url is not a valid URL") from None
        if has_password:
            raise self.fail(where, "the url in the file contains a password: use password_env, "
                                   "password_file or url_env")

    def password(self, data: Mapping[str, Any], where: str) -> str | None:
        if "password_env" in data:
            var = str(data["password_env"])
            if var not in self.environ:
                raise self.fail(where, f"environment variable {var} (password_env) is not set")
            return self.environ[var]
        if "password_file" in data:
            path = self.base_dir / str(data["password_file"])
            try:
                return path.read_text(encoding="utf-8").strip()
            except OSError as err:
                raise self.fail(where, f"password_file {path}: {err.strerror}") from None
        if "password" in data:
            raise self.fail(where, "passwords do not belong in the file: use password_env "
                                   "or password_file")
        return None

    def secret_or_value(self, data: Mapping[str, Any], where: str, key: str,
                        env_key: str) -> str | None:
        if env_key in data:
            var = str(data[env_key])
            if var not in self.environ:
                raise self.fail(where, f"environment variable {var} ({env_key}) is not set")
            return self.environ[var]
        value = data.get(key)
        return None if value is None else str(value)

    def name(self, data: Mapping[str, Any], where: str) -> str:
        name = str(data.get("name", ""))
        if not NAME_RE.fullmatch(name):
            raise self.fail(where, f"name {name!r}: use 1-40 of a-z, 0-9, '_', '-' "
                                   "(it becomes part of queue names)")
        return name

    def positive(self, data: Mapping[str, Any], where: str, key: str, default: int) -> int:
        value = int(data.get(key, default))
        if value <= 0:
            raise self.fail(where, f"{key} must be > 0")
        return value
