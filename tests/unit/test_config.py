"""Configuration: secrets from the environment or files only, clear errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopbridge import config as cfg
from shopbridge.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def _minimal(**shop: object) -> dict:
    return {"tenants": [{"name": "acme", "erp": {"url": "mysql://cao@db/cao"},
                         "shops": [{"name": "web", "url": "mysql://shop@db/shop", **shop}]}]}


def test_the_example_config_loads_with_its_secrets_from_env_and_file(tmp_path):
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "shop-de.password").write_text("s3cret-from-file\n")
    example = (REPO / "shopbridge.example.toml").read_text()
    path = tmp_path / "shopbridge.toml"
    path.write_text(example)
    env = {"SHOPBRIDGE_AMQP_PASSWORD": "amqp-pw", "CAO_DB_PASSWORD": "cao-pw",
           "SHOP_DE_SMTP_PASSWORD": "smtp-pw",
           "SHOP_B2B_DB_URL": "mysql+pymysql://b2b:pw@db/b2b"}

    settings = cfg.load(path, environ=env)

    tenant = settings.tenant("acme")
    shop = tenant.shop("shop-de")
    assert shop.db.password == "s3cret-from-file"
    assert tenant.erp.db.password == "cao-pw"
    assert shop.tax_classes == {1: 2, 2: 1}
    assert shop.filter.cao_shop_id == 1
    assert tenant.shop("shop-b2b").stock_mode == "total"
    assert shop.oversell == cfg.OversellConfig(enabled=True, buffer=0, pending_hours=72)
    assert tenant.shop("shop-b2b").oversell.enabled is False
    assert "amqp-pw" in settings.broker.url


def test_secrets_never_appear_in_repr_or_safe_urls():
    settings = cfg.parse(_minimal(password_env="PW"), environ={"PW": "topsecret"})
    shop = settings.tenants[0].shops[0]
    assert "topsecret" not in repr(settings)
    assert "topsecret" not in shop.db.safe
    assert shop.db.sqlalchemy_url().password == "topsecret"


def test_a_password_written_in_the_file_is_refused():
    with pytest.raises(ConfigError, match="contains a password"):
        cfg.parse(_minimal(url="mysql://shop:pw@db/shop"))
    with pytest.raises(ConfigError, match="do not belong in the file"):
        cfg.parse(_minimal(password="pw"))


def test_a_missing_environment_variable_is_named():
    with pytest.raises(ConfigError, match="NOPE"):
        cfg.parse(_minimal(password_env="NOPE"), environ={})


@pytest.mark.parametrize(("shop", "message"), [
    ({"price_level": 6}, "price_level 6"),
    ({"stock_mode": "some"}, "stock_mode"),
    ({"languages": ["deu"]}, "languages"),
    ({"name": "Web Shop"}, "name 'Web Shop'"),
    ({"kind": "magento"}, "kind 'magento'"),
    ({"tax_classes": {"x": 1}}, "tax_classes"),
    ({"oversell": {"enabled": True, "buffer": -1}}, r"oversell.*buffer must be a whole number"),
    ({"oversell": {"pending_hours": 0}}, "pending_hours must be a whole number, 1 or more"),
    ({"oversell": {"enabled": "yes"}}, "enabled must be true or false"),
    ({"oversell": {"bufer": 2}}, r"unknown key.*bufer"),
])
def test_wrong_values_are_reported_with_their_key(shop, message):
    with pytest.raises(ConfigError, match=message):
        cfg.parse(_minimal(**shop))


def test_unknown_keys_and_wrong_types_are_config_errors_not_crashes():
    with pytest.raises(ConfigError, match=r"unknown key.*pricelevel"):
        cfg.parse(_minimal(pricelevel=2))
    with pytest.raises(ConfigError, match="active must be true or false"):
        cfg.parse(_minimal(active="false"))
    with pytest.raises(ConfigError, match="wrong type"):
        cfg.parse(_minimal(price_level="two"))
    with pytest.raises(ConfigError, match=r"filter.*must be a table"):
        cfg.parse(_minimal(filter="all"))


def test_a_password_in_the_broker_url_is_refused_too():
    data = _minimal()
    data["broker"] = {"url": "amqp://user:pw@rabbit//"}
    with pytest.raises(ConfigError, match=r"\[broker\].*contains a password"):
        cfg.parse(data)


def test_the_example_mail_settings_are_read(tmp_path):
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "shop-de.password").write_text("x")
    path = tmp_path / "shopbridge.toml"
    path.write_text((REPO / "shopbridge.example.toml").read_text())
    settings = cfg.load(path, environ={"SHOPBRIDGE_AMQP_PASSWORD": "a", "CAO_DB_PASSWORD": "b",
                                       "SHOP_DE_SMTP_PASSWORD": "smtp-secret",
                                       "SHOP_B2B_DB_URL": "mysql+pymysql://u@db/b2b"})
    mail = settings.tenants[0].shop("shop-de").mail
    assert mail is not None and mail.password == "smtp-secret"
    assert "smtp-secret" not in repr(mail)
    assert "{code}" in mail.tracking_urls["DHL"]
    assert settings.tenants[0].shop("shop-b2b").mail is None
    assert settings.tenants[0].erp.tracking_column == "USR2"


def test_filter_categories_become_event_keys_of_the_shops_tree_and_flags_are_free_fields():
    shop = cfg.parse(_minimal(filter={"cao_shop_id": 2, "categories": [10, 11],
                                      "flag_field": "USERFELD_05", "flag_value": "web"})
                     ).tenants[0].shops[0]
    assert shop.filter.categories == ("kat:2:10", "kat:2:11")
    assert shop.filter.flag == ("05", "web")
    groups = cfg.parse(_minimal(categories="product_groups", filter={"categories": [3]}))
    assert groups.tenants[0].shops[0].filter.categories == ("wgr:3",)


@pytest.mark.parametrize(("filter_", "message"), [
    ({"categories": [10]}, "categories needs cao_shop_id"),
    ({"cao_shop_id": 1, "categories": ["Garten"]}, "categories lists CAO category ids"),
    ({"flag_field": "KURZNAME"}, "USERFELD_01 .. USERFELD_10"),
    ({"flag_value": "1"}, "flag_value needs flag_field"),
])
def test_wrong_filters_are_named(filter_, message):
    with pytest.raises(ConfigError, match=message):
        cfg.parse(_minimal(filter=filter_))


def test_every_error_of_a_file_is_reported_in_one_run():
    data = _minimal(price_level=7, stock_mode="some", pricelevel=2, active="false",
                    orders={"document": "letter", "countries": {"Germany": "D"},
                            "first_order_id": 0, "payment_methods": {"Vorkasse": "one"}})
    data["broker"] = {"namespace": "Shop Bridge", "retry_tiers_s": [5, 5]}
    data["tenants"][0]["erp"]["currency"] = "euro"
    data["tenants"][0]["shops"].append({"name": "b2b", "kind": "magento",
                                        "url": "mysql://shop@db/b2b"})

    with pytest.raises(ConfigError) as caught:
        cfg.parse(data, source="shopbridge.toml")

    web = "shopbridge.toml: [tenants[0].shops[0] (web)"
    assert list(caught.value.problems) == [
        "shopbridge.toml: [broker] retry_tiers_s must be distinct seconds > 0",
        "shopbridge.toml: [broker] namespace 'Shop Bridge': use a-z, 0-9, '_' and '-'",
        "shopbridge.toml: [tenants[0].erp] currency 'euro': an ISO 4217 code like EUR",
        "shopbridge.toml: [tenants[0].shops[0]] unknown key(s) pricelevel; known: "
        + ", ".join(sorted(cfg.KNOWN_KEYS["shop"])),
        f"{web}] price_level 7 must be 1..5 (VK1..VK5)",
        f"{web}] stock_mode must be one of ('available', 'total')",
        f"{web}] active must be true or false, got 'false'",
        f"{web}.orders] document must be one of invoice, invoice_draft, order, order_draft",
        f"{web}.orders] payment_methods: a value has the wrong type: invalid literal for "
        "int() with base 10: 'one'",
        f"{web}.orders] countries maps ISO-2 codes to CAO LAND codes (1-5 chars)",
        f"{web}.orders] first_order_id must be > 0",
        "shopbridge.toml: [tenants[0].shops[1] (b2b)] kind 'magento' is not one of "
        "('oscommerce', 'virtuemart')",
    ]
    assert str(caught.value) == "\n".join(caught.value.problems)


def test_the_command_prints_each_configuration_error_on_its_own_line(tmp_path, capsys):
    from shopbridge import cli

    path = tmp_path / "shopbridge.toml"
    path.write_text('[[tenants]]\nname = "acme"\n[tenants.erp]\nurl = "mysql://cao@db/cao"\n'
                    'currency = "euro"\n[[tenants.shops]]\nname = "web"\n'
                    'url = "mysql://shop@db/shop"\nprice_level = 9\nstock_mode = "some"\n')

    assert cli.main(["-c", str(path), "check"]) == cli.EXIT_CONFIG

    lines = capsys.readouterr().err.splitlines()
    assert [line.rsplit("] ", 1)[1] for line in lines] == [
        "currency 'euro': an ISO 4217 code like EUR", "price_level 9 must be 1..5 (VK1..VK5)",
        "stock_mode must be one of ('available', 'total')"]
    assert all(line.startswith(f"configuration error: {path}: [") for line in lines)


def test_a_shop_with_an_orders_table_imports_orders_one_without_does_not_say_so():
    with_table = cfg.parse(_minimal(orders={})).tenants[0].shops[0]
    without = cfg.parse(_minimal()).tenants[0].shops[0]
    assert with_table.orders.configured and not without.orders.configured
    assert with_table.orders.quelle == without.orders.quelle == 13


def test_the_embedded_broker_takes_a_mariadb_url_with_its_password_from_the_environment():
    data = {**_minimal(), "broker": {"kind": "embedded", "url": "mysql://sb@db/broker",
                                     "password_env": "BROKER_PW"}}
    broker = cfg.parse(data, environ={"BROKER_PW": "p@ss"}).broker
    assert broker.embedded and broker.kind == "embedded"
    assert "p%40ss" in broker.url and "p@ss" not in broker.safe and "***" in broker.safe
    assert broker.safe.startswith("mysql+pymysql://sb:***@db/broker")
    assert not cfg.parse(_minimal()).broker.embedded          # RabbitMQ stays the default


@pytest.mark.parametrize(("broker", "message"), [
    ({"kind": "kafka"}, "kind 'kafka': use one of 'rabbitmq', 'embedded'"),
    ({"kind": "embedded"}, 'kind = "embedded" keeps the queues in a MariaDB database'),
    ({"kind": "embedded", "url": "amqp://guest@mq//"}, "keeps the queues in a MariaDB"),
])
def test_a_wrong_broker_kind_or_url_is_named(broker, message):
    with pytest.raises(ConfigError, match=message):
        cfg.parse({**_minimal(), "broker": broker})


def test_the_oversell_guard_is_refused_on_the_embedded_broker_by_name():
    data = {**_minimal(oversell={"enabled": True}),
            "broker": {"kind": "embedded", "url": "mysql://sb@db/broker"}}
    with pytest.raises(ConfigError, match=r"shop 'web', oversell.*not run on kind = \"embedded\""):
        cfg.parse(data)
    data["tenants"][0]["shops"][0]["oversell"] = {"enabled": False, "buffer": 2}
    assert cfg.parse(data).broker.embedded


def test_the_oversell_guard_needs_drafts_cao_books():
    for document in ("invoice", "order"):
        with pytest.raises(ConfigError, match=rf"orders.document = '{document}'.*invoice_draft"):
            cfg.parse(_minimal(oversell={"enabled": True}, orders={"document": document}))
    assert cfg.parse(_minimal(oversell={"enabled": True}, orders={"document": "order_draft"}))
