"""The kind registry: kinds found through entry points, looked up by role, cached; a shop's
own kind section read by that kind, another kind's section refused by name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from shopbridge import config as cfg
from shopbridge import kinds
from shopbridge.errors import ConfigError


def _minimal(**shop: object) -> dict:
    return {"tenants": [{"name": "acme", "erp": {"url": "mysql://cao@db/cao"},
                         "shops": [{"name": "web", "url": "mysql://shop@db/shop", **shop}]}]}


@dataclass(frozen=True)
class _Point:
    name: str
    value: Any
    loads: list[str]

    def load(self) -> Any:
        self.loads.append(self.name)
        return self.value


@dataclass(frozen=True)
class _MartOptions:
    table_prefix: str = "jos_"


class _MartSink:
    """A shop kind with a setting of its own (as VirtueMart's table prefix will be)."""

    def options(self, data: Mapping[str, Any]) -> _MartOptions:
        cfg.refuse_unknown(data, known=("table_prefix",))
        return _MartOptions(**data)


@pytest.fixture
def with_mart(monkeypatch):
    """The installed kinds, plus a shop kind 'mart' registered as a shop sink."""
    def find(group: str) -> list[Any]:
        points = list(kinds._installed(group))
        if group == kinds.SHOP_SINKS:
            points.append(_Point("mart", _MartSink(), []))
        return points

    monkeypatch.setattr(kinds, "registry", kinds.Registry(find))


def test_the_installed_kinds_are_found_by_role():
    """osCommerce and VirtueMart play both shop roles and CAO both ERP roles, each found by
    name."""
    assert kinds.registry.names(kinds.SHOP_SINKS) == ("oscommerce", "virtuemart")
    assert kinds.registry.names(kinds.SHOP_SOURCES) == ("oscommerce", "virtuemart")
    assert kinds.registry.names(kinds.ERP_SOURCES) == ("cao",)
    assert kinds.registry.names(kinds.ERP_SINKS) == ("cao",)
    assert callable(kinds.shop_sink("oscommerce").applier)
    assert callable(kinds.erp_sink("cao").applier)


def test_an_unknown_kind_names_itself_the_role_and_the_known_kinds():
    with pytest.raises(ConfigError) as caught:
        kinds.shop_sink("magento")
    message = str(caught.value)
    assert "'magento'" in message
    assert "shop consumer" in message and kinds.SHOP_SINKS in message
    assert "known: oscommerce" in message


def test_a_kind_of_one_role_is_not_found_in_another():
    """cao is an ERP kind: asking for it as a shop sink fails, naming the shop kinds."""
    with pytest.raises(ConfigError, match=r"'cao' has no shop consumer.*known: oscommerce"):
        kinds.shop_sink("cao")


def test_lookups_read_each_group_once_and_load_each_kind_once():
    finds: list[str] = []
    loads: list[str] = []

    def find(group: str) -> list[_Point]:
        finds.append(group)
        return [_Point("a", object(), loads), _Point("b", object(), loads)]

    registry = kinds.Registry(find)
    first = registry.load(kinds.SHOP_SINKS, "a")
    assert registry.load(kinds.SHOP_SINKS, "a") is first
    registry.load(kinds.SHOP_SINKS, "b")
    assert registry.names(kinds.SHOP_SINKS) == ("a", "b")
    assert finds == [kinds.SHOP_SINKS]
    assert loads == ["a", "b"]


def test_with_no_kinds_installed_the_error_says_how_to_install_them():
    with pytest.raises(ConfigError, match=r"known: none \(is shopbridge installed"):
        kinds.Registry(lambda group: []).load(kinds.ERP_SOURCES, "cao")


# -- per-kind options in the configuration -----------------------------------------------------

def test_a_shop_without_its_kind_section_gets_the_kinds_default_options():
    shop = cfg.parse(_minimal()).tenants[0].shops[0]
    assert shop.options == kinds.shop_sink("oscommerce").options({})


def test_the_shops_own_kind_section_is_accepted_and_read_by_that_kind(with_mart):
    own = cfg.parse(_minimal(oscommerce={})).tenants[0].shops[0]
    assert type(own.options).__name__ == "OsCommerceOptions"
    mart = cfg.parse(_minimal(kind="mart", mart={"table_prefix": "vm_"})).tenants[0].shops[0]
    assert mart.options == _MartOptions(table_prefix="vm_")


def test_a_section_of_another_kind_is_refused_naming_the_section_and_both_kinds(with_mart):
    with pytest.raises(ConfigError) as caught:
        cfg.parse(_minimal(mart={"table_prefix": "vm_"}), source="shopbridge.toml")
    assert list(caught.value.problems) == [
        "shopbridge.toml: [tenants[0].shops[0] (web)] section [mart] belongs to kind 'mart', "
        "but this shop's kind is 'oscommerce'"]


def test_an_erp_kinds_section_on_a_shop_is_refused_by_name():
    with pytest.raises(ConfigError, match=r"section \[cao\] belongs to kind 'cao', but this "
                                          r"shop's kind is 'oscommerce'"):
        cfg.parse(_minimal(cao={}))


def test_an_unknown_key_in_the_kinds_section_is_refused_by_name(with_mart):
    with pytest.raises(ConfigError) as caught:
        cfg.parse(_minimal(kind="mart", mart={"table_prefx": "vm_"}), source="shopbridge.toml")
    assert list(caught.value.problems) == [
        "shopbridge.toml: [tenants[0].shops[0] (web).mart] unknown key(s) table_prefx; "
        "known: table_prefix"]
    with pytest.raises(ConfigError, match=r"\(web\)\.oscommerce\] unknown key\(s\) "
                                          r"prefix; known: \(none\)"):
        cfg.parse(_minimal(oscommerce={"prefix": "x"}))


def test_a_kind_section_that_is_not_a_table_is_refused():
    with pytest.raises(ConfigError, match=r"\(web\)\.oscommerce\] must be a table, got int"):
        cfg.parse(_minimal(oscommerce=1))


def test_a_name_that_is_no_kind_stays_an_unknown_key():
    with pytest.raises(ConfigError, match=r"shops\[0\]\] unknown key\(s\) magento; known:"):
        cfg.parse(_minimal(magento={}))
