"""The [tenants.shops.virtuemart] section: prefix required, unknown keys and bad values
refused by name."""

from __future__ import annotations

import re

import pytest

from consumers.virtuemart.options import VirtueMartOptions, parse_options
from consumers.virtuemart.shop import read_config
from shopbridge.errors import ConfigError


def test_a_full_section_is_read():
    options = parse_options({"prefix": "jos_", "vendor_id": 1, "cache_path": "/srv/cache",
                             "shopper_groups": {"2": 1, "5": 3},
                             "availability": {"1": "24h.gif"}})
    assert options == VirtueMartOptions(prefix="jos_", cache_path="/srv/cache",
                                        shopper_groups={2: 1, 5: 3}, availability={1: "24h.gif"})


@pytest.mark.parametrize(("data", "problem"), [
    ({}, "prefix: the Joomla table prefix is required"),
    ({"prefix": "jos_", "shopper_groups": {"2": 6}}, "must be 1..5"),
    ({"prefix": "jos_", "availability": {"1": "x" * 33}}, "at most 32"),
    ({"prefix": "jos_", "prefixx": 1}, "unknown key(s) prefixx"),
    ({"prefix": "jos_", "user_group": "Registered"}, "user_group must be a Joomla user group"),
])
def test_a_bad_section_is_refused_by_name(data, problem):
    with pytest.raises(ConfigError) as caught:
        parse_options(data)
    assert problem in str(caught.value)


def test_the_config_format_is_read():
    assert read_config('active_languages=["de-DE","en-GB"]|vmlang="de_de"|x=0|broken|') == {
        "active_languages": ["de-DE", "en-GB"], "vmlang": "de_de", "x": 0}


def test_time_zone_and_gross_prices_default_to_a_german_b2c_shop():
    options = parse_options({"prefix": "jos_"})
    assert (options.timezone, options.gross_prices) == ("Europe/Berlin", True)
    assert parse_options({"prefix": "jos_", "timezone": "Europe/Vienna",
                          "gross_prices": False}).gross_prices is False


@pytest.mark.parametrize(("data", "problem"), [
    ({"timezone": "Mars/Olympus"}, "timezone: 'Mars/Olympus' is not an IANA time zone"),
    ({"gross_prices": "yes"}, "gross_prices must be true or false"),
])
def test_a_bad_time_zone_or_gross_flag_is_refused_by_name(data, problem):
    with pytest.raises(ConfigError, match=problem):
        parse_options({"prefix": "jos_", **data})


def test_a_prefix_must_start_with_a_letter_as_joomla_requires() -> None:
    """Table names are written unquoted: '1e5_virtuemart_products' would read as a number."""
    with pytest.raises(ConfigError, match=r"prefix: .*a letter, then letters"):
        parse_options({"prefix": "1e5_"})


def test_synced_customers_join_registered_unless_configured() -> None:
    assert parse_options({"prefix": "jos_"}).user_group == 2
    assert parse_options({"prefix": "jos_", "user_group": 10}).user_group == 10


def test_order_states_default_to_pending_confirmed_shipped_and_a_table_replaces_them():
    assert parse_options({"prefix": "jos_"}).order_states == {1: "P", 2: "C", 3: "S"}
    assert parse_options({"prefix": "jos_", "order_states": {"3": "S", "9": "ABC"}}
                         ).order_states == {3: "S", 9: "ABC"}


@pytest.mark.parametrize(("states", "problem"), [
    ({"x": "S"}, "order_states: key 'x' is not a CAO shop status id"),
    ({"3": "SHIP"}, "order_states: status 3 -> 'SHIP' must be a VirtueMart order state code"),
    ({"3": ""}, "order_states: status 3 -> ''"),
    ({"3": 5}, "order_states: status 3 -> 5"),
    ("S", "order_states must be a table"),
])
def test_a_bad_order_state_is_refused_by_name(states, problem):
    with pytest.raises(ConfigError, match=re.escape(problem)):
        parse_options({"prefix": "jos_", "order_states": states})
