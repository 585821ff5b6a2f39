"""What a VirtueMart shop shows, read from the shop's own PHP: a product synced by the
project's consumer into a shop database, the Joomla 5.2.1 + VirtueMart 4.4.0 site of
SOURCE.txt served on it by PHP's built-in server (tests/joomla_site.py), its product page
fetched over HTTP.

Skips with the reason where PHP, its MySQL driver, the site's source or the reference SQL
is absent.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import urllib.parse
import urllib.request
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from consumers.virtuemart.joomla_users import UNUSABLE_PASSWORD
from shopbridge import events as ev
from tests.conftest import Database
from tests.contract.pipeline import Pipeline
from tests.integration.test_order_status import Inbox
from tests.integration.test_virtuemart_catalogue import COLOURS, NAMES, SIZES, shirt_variants
from tests.joomla_site import (
    browser,
    configure_site,
    fetch,
    free_port,
    install_joomla,
    link_copy,
    served,
    storefront_problem,
    unpack_site,
)
from tests.unit.test_events import product_payload
from tests.virtuemart_db import (
    LANGUAGES,
    PREFIX,
    create_virtuemart,
    drop_virtuemart,
    vm_pipeline,
)

P = PREFIX + "virtuemart_"
SITE_ZONE = zoneinfo.ZoneInfo("Europe/Berlin")


@dataclass(frozen=True)
class Storefront:
    db: Database
    base: str
    pipeline: Pipeline
    log: Path
    site: Path

    def page(self, query: str, opener: urllib.request.OpenerDirector | None = None) -> str:
        url = self.base + "index.php?" + query
        status, body = fetch(url, opener=opener)
        assert status == 200, (status, _error_of(body),
                               self.log.read_text(errors="replace")[-2000:])
        return body

    def product_page(self, sku: str, opener: urllib.request.OpenerDirector | None = None
                     ) -> str:
        product = self.db.scalar(f"SELECT virtuemart_product_id FROM {P}products "
                                 "WHERE product_sku = %s", (sku,))
        return self.page("option=com_virtuemart&view=productdetails"
                         f"&virtuemart_product_id={product}&virtuemart_category_id=0", opener)

    def sync(self, event: dict[str, Any]) -> None:
        tally = self.pipeline.deliver(event)
        assert (tally.applied, tally.dead) == (1, 0), tally


def _error_of(body: str) -> str:
    text = html.unescape(re.sub(r"<[^>]+>", " ", body))
    text = re.sub(r"\s+", " ", text)
    found = re.search(r"report the error below\.(.{0,600})", text)
    return found.group(1) if found else text[:600]


@pytest.fixture(scope="module")
def pristine_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The site's files (160 MB), unpacked once for the module and removed after it."""
    problem = storefront_problem()
    if problem:
        pytest.skip(problem)
    site = tmp_path_factory.mktemp("joomla_site")
    try:
        unpack_site(site)
        yield site
    finally:
        shutil.rmtree(site, ignore_errors=True)


@pytest.fixture
def storefront(pristine_site: Path, tmp_path: Path) -> Iterator[Storefront]:
    site = tmp_path / "site"
    link_copy(pristine_site, site)
    db = create_virtuemart()
    try:
        install_joomla(db, site, languages=LANGUAGES)
        add_vat_rules(db)
        configure_site(site, db)
        log = tmp_path / "php.log"
        with vm_pipeline(db, name="sbtest-vmfront", shopper_groups={"2": 2}) as line, \
                served(site, log) as base:
            yield Storefront(db, base, line, log, site)
    finally:
        drop_virtuemart(db)
        shutil.rmtree(site, ignore_errors=True)


def add_vat_rules(db: Database) -> None:
    """The shop's VAT rules that shop_entry's tax_classes name: CAO code 2 -> calc rule 1
    (19 %), code 1 -> calc rule 2 (7 %)."""
    with db.engine.begin() as conn:
        for calc_id, name, rate in ((1, "MwSt 19 %", 19), (2, "MwSt 7 %", 7)):
            conn.exec_driver_sql(
                f"INSERT INTO {P}calcs (virtuemart_calc_id, virtuemart_vendor_id, calc_name, "
                f"calc_kind, calc_value_mathop, calc_value, calc_currency, "
                f"calc_shopper_published, calc_vendor_published, published) "
                f"VALUES (%s, 1, %s, 'VatTax', '+%%', %s, 47, 1, 1, 1)", (calc_id, name, rate))


def upserted(key: int, version: int, **changes: Any) -> dict[str, Any]:
    payload = product_payload(sku=f"S-{key}", erp_id=key, **changes)
    return ev.make_event("product.upserted", tenant="acme", source="cao:test",
                         entity_key=str(key), version=version, payload=payload)


def prices(*nets: str) -> dict[str, dict[str, str]]:
    """Price levels 1, 2, ... with these nets and 19 % VAT."""
    return {str(level): {"net": net, "gross": str(gross(net))}
            for level, net in enumerate(nets, start=1)}


def gross(net: str) -> Decimal:
    return (Decimal(net) * Decimal("1.19")).quantize(Decimal("0.01"), ROUND_HALF_UP)


def shown(amount: Decimal | str) -> str:
    """An amount as the shop's EUR format shows it (install_required_data.sql: 2 decimals,
    comma, symbol after)."""
    return f"{Decimal(amount):.2f}".replace(".", ",") + " €"


def price_of(body: str, kind: str) -> str | None:
    """The text of VirtueMart's price span ``Price<kind>`` (sublayouts/prices.php)."""
    found = re.search(rf'<span class="Price{kind}">([^<]*)</span>', body)
    return html.unescape(found.group(1)).replace("\u00a0", " ") if found else None


def test_a_guest_sees_the_synced_name_and_gross_price(storefront: Storefront) -> None:
    # Given a product synced with its texts and a standard price of 10.00 net
    storefront.sync(upserted(1, 1, texts={"de": {"name": "Gießkanne"},
                                          "en": {"name": "Watering can"}},
                             prices=prices("10.00", "9.00")))
    # When a guest opens its page (the site's language is en-GB)
    body = storefront.product_page("S-1")
    # Then VirtueMart shows the English name and the ERP's gross price, with no discount
    assert re.search(r"<h1>\s*Watering can\s*</h1>", body), _error_of(body)
    assert price_of(body, "salesPrice") == shown("11.90")
    assert price_of(body, "discountAmount") in (None, "")


def test_an_offer_is_the_price_inside_its_window_only(storefront: Storefront) -> None:
    today = datetime.now(SITE_ZONE).date()
    running = {"net": "8.50", "from": str(today - timedelta(days=1)),
               "until": str(today + timedelta(days=1))}
    over = {"net": "8.50", "from": str(today - timedelta(days=9)),
            "until": str(today - timedelta(days=2))}
    # Given one product whose offer runs today and one whose offer is over
    storefront.sync(upserted(2, 1, prices=prices("10.00"), specials=[running]))
    storefront.sync(upserted(3, 1, prices=prices("10.00"), specials=[over]))
    # Then the first shows the offer's gross, the second its standard price
    assert price_of(storefront.product_page("S-2"), "salesPrice") == shown(gross("8.50"))
    assert price_of(storefront.product_page("S-3"), "salesPrice") == shown("11.90")


def test_the_variant_selector_offers_the_erps_variants(storefront: Storefront) -> None:
    # Given a T-shirt in 2 colours x 3 sizes, each child with its own price
    storefront.sync(upserted(7, 1, texts={"en": {"name": "Tee"}}, variants=shirt_variants(),
                             variant_options=NAMES))
    body = storefront.product_page("S-7")
    # Then its page has one chained dropdown per dimension, the first offering the colours
    labels = re.findall(r'<span class="vm-cmv-label" >([^<]*)</span>', body)
    assert labels == ["Farbe", "Größe"], _error_of(body)
    first = re.search(r'<select id="customProductData_[^"]*"[^>]*>(.*?)</select>', body, re.S)
    assert first is not None
    assert re.findall(r'<option value="([^"]+)"', first.group(1)) == list(COLOURS)
    # ... and the combinations its script offers lead to the right children
    found = re.search(r"\{ variants:(\[\[.*?\]\]) \}", body)
    assert found is not None, "no cvFind variants in the page"
    combos = {tuple(values): url for url, *values in json.loads(found.group(1))}
    assert set(combos) == {("", "")} | {(c, s) for c in COLOURS for s in SIZES}
    # ... each child's page showing its own name and price (10.00 + i net)
    for i, (colour, size) in enumerate((c, s) for c in COLOURS for s in SIZES):
        child = storefront.page(combos[(colour, size)].split("?", 1)[1])
        assert re.search(rf"<h1>\s*Tee {colour} / {size}\s*</h1>", child), _error_of(child)
        assert price_of(child, "salesPrice") == shown(gross(str(Decimal("10.00") + i)))


def test_a_logged_in_customer_sees_the_price_of_their_shopper_group(
        storefront: Storefront) -> None:
    # Given a product with level 1 for everyone and level 2 for shopper group 2 (VirtueMart's
    # default group of registered users, mapped to CAO level 2 by the shop's options)
    storefront.sync(upserted(4, 1, prices=prices("10.00", "20.00")))
    # When a registered Joomla user logs in and opens the page
    opener = log_in(storefront, add_user(storefront.db, "kunde", "Geheim-12345!"),
                    "Geheim-12345!")
    body = storefront.product_page("S-4", opener)
    # Then they see level 2's gross price, while a guest sees level 1's
    assert price_of(body, "salesPrice") == shown(gross("20.00")), _error_of(body)
    assert price_of(storefront.product_page("S-4"), "salesPrice") == shown("11.90")


def add_user(db: Database, username: str, password: str) -> str:
    """A Joomla user in the Registered group; the hash from PHP's password_hash, which
    Joomla's authentication plugin verifies."""
    hashed = subprocess.run(["php", "-r", "echo password_hash($argv[1], PASSWORD_BCRYPT);",
                             password], capture_output=True, text=True, check=True).stdout
    with db.engine.begin() as conn:
        conn.exec_driver_sql(
            f"INSERT INTO {PREFIX}users (name, username, email, password, block, sendEmail, "
            f"registerDate, activation, params) VALUES (%s, %s, %s, %s, 0, 0, UTC_TIMESTAMP(), "
            f"'', '{{}}')", (username, username, f"{username}@example.test", hashed))
        user_id = conn.exec_driver_sql("SELECT LAST_INSERT_ID()").scalar()
        conn.exec_driver_sql(f"INSERT INTO {PREFIX}user_usergroup_map (user_id, group_id) "
                             f"VALUES (%s, 2)", (user_id,))
    return username


def log_in(storefront: Storefront, username: str, password: str
           ) -> urllib.request.OpenerDirector:
    """A browser session logged in through Joomla's own login form (com_users)."""
    opener = browser()
    form = storefront.page("option=com_users&view=login", opener)
    token = re.search(r'<input type="hidden" name="([0-9a-f]{32})" value="1"', form)
    assert token is not None, _error_of(form)
    fields = {"username": username, "password": password, token.group(1): "1",
              "option": "com_users", "task": "user.login",
              "return": ""}
    status, body = fetch(storefront.base + "index.php", urllib.parse.urlencode(fields).encode(),
                         opener=opener)
    assert status == 200, (status, _error_of(body))
    check = storefront.page("option=com_users&view=profile", opener)
    assert username in check, ("not logged in", _error_of(check))
    return opener



# -- customers synced from the ERP (K1, K2) -------------------------------------------------

VK3_GROUP = 5


def customer_event(erp_id: int, email: str, *, price_level: int | None = None
                   ) -> dict[str, Any]:
    return ev.make_event("customer.upserted", tenant="acme", source="cao:test",
                         entity_key=str(erp_id), version=1, payload={
                             "erp_id": erp_id, "customer_number": f"K{erp_id}", "shop_id": 1,
                             "shop_customer_id": None, "email": email, "gender": "f",
                             "firstname": "Erika", "lastname": "Mustermann", "company": None,
                             "telephone": None, "date_of_birth": None, "newsletter": False,
                             "price_level": price_level,
                             "address": {"street": "Heideweg 1", "postcode": "51147",
                                         "city": "Köln", "country_iso3": "DEU",
                                         "erp_country": "D"}})


def form_token(body: str) -> str:
    token = re.search(r'<input type="hidden" name="([0-9a-f]{32})" value="1"', body)
    assert token is not None, _error_of(body)
    return token.group(1)


# Joomla's mail template of the reset link (installation/sql/mysql/base.sql): the test site's
# SQL has no mail templates, and without one Joomla sends no reset mail.
MAIL_TEMPLATES = """
CREATE TABLE IF NOT EXISTS `{p}mail_templates` (
  `template_id` varchar(127) NOT NULL DEFAULT '',
  `extension` varchar(127) NOT NULL DEFAULT '',
  `language` char(7) NOT NULL DEFAULT '',
  `subject` varchar(255) NOT NULL DEFAULT '',
  `body` TEXT NOT NULL,
  `htmlbody` MEDIUMTEXT NOT NULL,
  `attachments` TEXT NOT NULL,
  `params` TEXT NOT NULL,
  PRIMARY KEY (`template_id`, `language`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 DEFAULT COLLATE=utf8mb4_unicode_ci
"""
RESET_TEMPLATE = ("com_users.password_reset", "com_users", "",
                  "COM_USERS_EMAIL_PASSWORD_RESET_SUBJECT", "COM_USERS_EMAIL_PASSWORD_RESET_BODY",
                  "", "", '{"tags":["name","email","sitename","link_text","link_html","token"]}')


@contextmanager
def mailing_site(storefront: Storefront) -> Iterator[Inbox]:
    """The storefront's Joomla sending its mail over SMTP to a real server (aiosmtpd), with
    the reset mail's template."""
    from aiosmtpd.controller import Controller

    storefront.db.execute(MAIL_TEMPLATES.format(p=PREFIX))
    storefront.db.execute(f"INSERT INTO {PREFIX}mail_templates VALUES "
                          f"(%s, %s, %s, %s, %s, %s, %s, %s)", RESET_TEMPLATE)
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        configure_site(storefront.site, storefront.db, extra={
            "mailer": "smtp", "smtphost": "127.0.0.1", "smtpport": port, "smtpauth": 0,
            "smtpsecure": "none", "mailonline": True, "mailfrom": "shop@example.test",
            "fromname": "Test-Shop"})
        yield inbox
    finally:
        controller.stop()


def test_the_shops_own_password_reset_accepts_a_synced_customer(
        storefront: Storefront) -> None:
    # Given a customer synced from the ERP, with no usable password
    email = "erika@example.org"
    storefront.sync(customer_event(11, email))
    with mailing_site(storefront) as inbox:
        # When they ask for a new password on Joomla's own "forgot your password" form
        opener = browser()
        form = storefront.page("option=com_users&view=reset", opener)
        fields = {"jform[email]": email, form_token(form): "1", "option": "com_users",
                  "task": "reset.request"}
        status, body = fetch(storefront.base + "index.php",
                             urllib.parse.urlencode(fields).encode(), opener=opener)
    # Then Joomla accepted the request: it passed the user's checks (exists, not blocked, no
    # super user, Joomla's user check on save), stored the hashed confirmation token ...
    assert status == 200, (status, _error_of(body))
    activation, block, username = storefront.db.rows(
        f"SELECT activation, block, username FROM {PREFIX}users WHERE email = %s", (email,))[0]
    assert activation.startswith("$2y$"), (activation, _error_of(body),
                                           storefront.log.read_text(errors="replace")[-2000:])
    assert block == 0
    # ... mailed the customer the code and link, which the SMTP server accepted ...
    assert [m.rcpt_tos for m in inbox.messages] == [[email]], (
        _error_of(body), storefront.log.read_text(errors="replace")[-2000:])
    text = inbox.messages[0].content.decode("utf-8", "replace")
    assert "view=reset&layout=confirm&token=" in text.replace("&amp;", "&").replace("=\r\n", "")
    # ... and shows the confirmation step, which asks for the username: the e-mail
    assert 'name="jform[token]"' in body and username == email, _error_of(body)


def test_a_synced_customer_cannot_log_in_before_setting_a_password(
        storefront: Storefront) -> None:
    # Given a customer synced from the ERP
    email = "ohne@example.org"
    storefront.sync(customer_event(13, email))
    # When someone tries the stored marker itself, the postcode or the customer number,
    # Then Joomla's own authentication refuses each
    for guess in (UNUSABLE_PASSWORD, "51147", "K13"):
        assert not logs_in(storefront, email, guess), guess
    # ... while the same form logs in with a password the customer set
    set_password(storefront.db, email, "Selbst-gesetzt-1!")
    assert logs_in(storefront, email, "Selbst-gesetzt-1!")


def logs_in(storefront: Storefront, username: str, password: str) -> bool:
    """Whether Joomla's login form lets ``username`` in with ``password``."""
    opener = browser()
    form = storefront.page("option=com_users&view=login", opener)
    fields = {"username": username, "password": password, form_token(form): "1",
              "option": "com_users", "task": "user.login", "return": ""}
    fetch(storefront.base + "index.php", urllib.parse.urlencode(fields).encode(), opener=opener)
    return username in storefront.page("option=com_users&view=profile", opener)


def test_a_vk3_customer_logged_in_sees_vk3_prices(storefront: Storefront) -> None:
    # Given a shop whose shopper group 5 has CAO's VK3 prices (a consumer of its own, with
    # that mapping), a product with levels 1..3, and a VK3 customer synced from the ERP
    storefront.db.execute(
        f"INSERT INTO {P}shoppergroups (virtuemart_shoppergroup_id, virtuemart_vendor_id, "
        f"shopper_group_name, `default`, published) VALUES (%s, 1, 'Händler', 0, 1)",
        (VK3_GROUP,))
    email = "haendler@example.org"
    with vk3_pipeline(storefront) as line:
        for event in (upserted(8, 1, prices=prices("10.00", "20.00", "30.00")),
                      customer_event(12, email, price_level=3)):
            tally = line.deliver(event)
            assert (tally.applied, tally.dead) == (1, 0), tally
    # When the customer logs in (a password set only in this test database)
    set_password(storefront.db, email, "Geheim-12345!")
    opener = log_in(storefront, email, "Geheim-12345!")
    # Then they see VK3's gross price, a guest VK1's
    body = storefront.product_page("S-8", opener)
    assert price_of(body, "salesPrice") == shown(gross("30.00")), _error_of(body)
    assert price_of(storefront.product_page("S-8"), "salesPrice") == shown("11.90")


@contextmanager
def vk3_pipeline(storefront: Storefront) -> Iterator[Pipeline]:
    """A consumer of the storefront's database whose options map group 5 to VK3."""
    with vm_pipeline(storefront.db, name="sbtest-vmvk3",
                     shopper_groups={"2": 2, str(VK3_GROUP): 3}) as line:
        yield line


def set_password(db: Database, email: str, password: str) -> None:
    hashed = subprocess.run(["php", "-r", "echo password_hash($argv[1], PASSWORD_BCRYPT);",
                             password], capture_output=True, text=True, check=True).stdout
    db.execute(f"UPDATE {PREFIX}users SET password = %s WHERE email = %s", (hashed, email))
