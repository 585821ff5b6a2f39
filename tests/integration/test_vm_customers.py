"""ERP customers -> VirtueMart shoppers (K1) without a usable password (K2): CAO addresses
produced for real, consumed into a VirtueMart database made from the upstream SQL."""

from __future__ import annotations

from typing import Any

from consumers.virtuemart.joomla_users import UNUSABLE_PASSWORD
from shopbridge import dlq
from tests.conftest import settings_for
from tests.helpers import consume, produce
from tests.integration.test_customers_to_shop import add_erp_customer
from tests.virtuemart_db import PREFIX, shop_entry

EMAIL = "anna@example.org"
VK3_GROUP = 5                      # a shopper group of the shop's own, mapped to VK3
SHOP_HASH = "$2y$10$abcdefghijklmnopqrstuu5xUqWJn2hV0H2X9ZsA8w3JjHqD1gk6S"


def t(name: str) -> str:
    return f"{PREFIX}virtuemart_{name}"


def vm_shop(vm: Any, **options: Any) -> dict[str, Any]:
    """The shop with shopper group 5 for VK3 besides the default group 2 (VK1)."""
    vm.execute(f"INSERT INTO {t('shoppergroups')} (virtuemart_shoppergroup_id, "
               "virtuemart_vendor_id, shopper_group_name, `default`, published) "
               "VALUES (%s, 1, 'Händler', 0, 1)", (VK3_GROUP,))
    return shop_entry("vm", vm, virtuemart={"prefix": PREFIX,
                                            "shopper_groups": {"2": 1, str(VK3_GROUP): 3},
                                            **options})


def user(vm: Any, email: str = EMAIL) -> tuple[Any, ...]:
    return tuple(vm.rows(
        f"SELECT id, name, username, password, block, activation, params, registerDate "
        f"FROM {PREFIX}users WHERE email = %s", (email,))[0])


def bill_to(vm: Any, user_id: int) -> tuple[Any, ...]:
    return tuple(vm.rows(
        f"SELECT i.title, i.first_name, i.last_name, i.company, i.address_1, i.zip, i.city, "
        f"c.country_2_code, i.phone_1 FROM {t('userinfos')} i "
        f"JOIN {t('countries')} c ON c.virtuemart_country_id = i.virtuemart_country_id "
        f"WHERE i.virtuemart_user_id = %s AND i.address_type = 'BT'", (user_id,))[0])


def groups(vm: Any, user_id: int) -> list[int]:
    return [int(r[0]) for r in vm.rows(
        f"SELECT virtuemart_shoppergroup_id FROM {t('vmuser_shoppergroups')} "
        f"WHERE virtuemart_user_id = %s ORDER BY 1", (user_id,))]


def test_an_erp_customer_becomes_a_registered_shopper_without_a_usable_password(
        erp, vm, namespace):
    add_erp_customer(erp, PR_EBENE=1)
    settings = settings_for(namespace, erp, [vm_shop(vm)])

    report = produce(settings)
    stats = consume(settings, "vm")

    assert report.published["customer.upserted"] == 1 and stats.dead == 0
    uid, name, username, password, block, activation, params, registered = user(vm)
    assert (name, username, block, activation, params) == ("Anna Müller", EMAIL, 0, "", "{}")
    assert password == UNUSABLE_PASSWORD and registered is not None
    assert vm.rows(f"SELECT group_id FROM {PREFIX}user_usergroup_map WHERE user_id = %s",
                   (uid,)) == [(2,)]                                    # Registered
    assert vm.rows(f"SELECT virtuemart_vendor_id, user_is_vendor, customer_number "
                   f"FROM {t('vmusers')} WHERE virtuemart_user_id = %s",
                   (uid,)) == [(0, 0, "50001")]
    assert bill_to(vm, uid) == ("Mrs", "Anna", "Müller", None, "Hauptstraße 1", "10115",
                                "Berlin", "DE", "030 1234")
    assert groups(vm, uid) == []             # VK1 is the default group: VM stores no row
    assert vm.scalar(f"SELECT COUNT(*) FROM {t('userinfos')}") == 1


def test_erp_changes_update_the_account_and_never_the_password_the_shop_set(
        erp, vm, namespace):
    add_erp_customer(erp, PR_EBENE=1)
    settings = settings_for(namespace, erp, [vm_shop(vm)])
    produce(settings)
    consume(settings, "vm")
    uid = user(vm)[0]
    vm.execute(f"UPDATE {PREFIX}users SET password = %s", (SHOP_HASH,))

    erp.execute("UPDATE adressen SET STRASSE = 'Neuer Weg 5', NAME1 = 'Anna Schulz', "
                "EMAIL = 'anna.schulz@example.org', PR_EBENE = 3")
    report = produce(settings)
    consume(settings, "vm")

    assert report.published["customer.upserted"] == 1
    assert user(vm, "anna.schulz@example.org")[:4] == (uid, "Anna Schulz", EMAIL, SHOP_HASH)
    assert bill_to(vm, uid)[2:5] == ("Schulz", None, "Neuer Weg 5")
    assert groups(vm, uid) == [VK3_GROUP]                    # VK3 -> the group mapped to VK3
    assert vm.scalar(f"SELECT COUNT(*) FROM {PREFIX}users") == 1
    assert vm.scalar(f"SELECT COUNT(*) FROM {t('userinfos')}") == 1

    erp.execute("UPDATE adressen SET PR_EBENE = 1")          # back to the default group
    produce(settings)
    consume(settings, "vm")
    assert groups(vm, uid) == []
    assert produce(settings).published["customer.upserted"] == 0     # idle: nothing


def test_groups_the_option_does_not_name_are_the_shops_and_stay(erp, vm, namespace):
    add_erp_customer(erp, PR_EBENE=3)
    settings = settings_for(namespace, erp, [vm_shop(vm)])
    produce(settings)
    consume(settings, "vm")
    uid = user(vm)[0]
    vm.execute(f"INSERT INTO {t('vmuser_shoppergroups')} (virtuemart_user_id, "
               "virtuemart_shoppergroup_id) VALUES (%s, 9)", (uid,))

    erp.execute("UPDATE adressen SET PR_EBENE = 2")          # a level no group is mapped to
    produce(settings)
    consume(settings, "vm")

    assert groups(vm, uid) == [9]


def test_an_existing_shop_account_with_the_same_email_is_adopted_not_duplicated(
        erp, vm, namespace):
    vm.execute(f"INSERT INTO {PREFIX}users (name, username, email, password, registerDate, "
               f"params) VALUES ('A M', 'anna', 'Anna@Example.org', %s, UTC_TIMESTAMP(), '{{}}')",
               (SHOP_HASH,))
    uid = vm.scalar(f"SELECT id FROM {PREFIX}users")
    vm.execute(f"INSERT INTO {t('vmusers')} (virtuemart_user_id, customer_number) "
               "VALUES (%s, 'AN1234567')", (uid,))
    add_erp_customer(erp, PR_EBENE=3)
    settings = settings_for(namespace, erp, [vm_shop(vm)])

    produce(settings)
    consume(settings, "vm")

    assert vm.scalar(f"SELECT COUNT(*) FROM {PREFIX}users") == 1
    assert user(vm)[:4] == (uid, "Anna Müller", "anna", SHOP_HASH)     # login kept
    assert vm.scalar(f"SELECT customer_number FROM {t('vmusers')}") == "50001"
    assert groups(vm, uid) == [VK3_GROUP]
    assert bill_to(vm, uid)[4] == "Hauptstraße 1"


def test_an_unknown_country_or_an_overlong_phone_is_dead_lettered_naming_the_field(
        erp, vm, namespace):
    erp.execute("INSERT INTO land (ID, NAME, ISO_CODE_3) VALUES ('XX', 'Nirgendwo', 'XXX')")
    add_erp_customer(erp, 1, LAND="XX")
    # CAO's TELE1 is varchar(100), VirtueMart's phone_1 varchar(32)
    add_erp_customer(erp, 2, EMAIL="lang@example.org",
                     TELE1="030 1234567 (Zentrale), mobil 0171 7654321")
    add_erp_customer(erp, 3, EMAIL="gut@example.org")
    settings = settings_for(namespace, erp, [vm_shop(vm)])

    produce(settings)
    stats = consume(settings, "vm")

    assert (stats.applied, stats.dead) == (1, 2)
    letters = {d.entity_key: d for d in dlq.list_dead(settings.broker,
                                                      settings.tenants[0].shop("vm"))}
    assert letters["1"].error_class == "MappingError"
    assert "payload.address.country_iso3" in letters["1"].error
    assert "'XXX'" in letters["1"].error
    assert "payload.telephone" in letters["2"].error
    assert "phone_1 varchar(32)" in letters["2"].error
    assert vm.scalar(f"SELECT email FROM {PREFIX}users") == "gut@example.org"


def test_a_second_customer_with_a_taken_username_gets_another_one(erp, vm, namespace):
    vm.execute(f"INSERT INTO {PREFIX}users (name, username, email, password, registerDate, "
               f"params) VALUES ('X', 'ANNA@example.org', 'x@example.org', '', UTC_TIMESTAMP(), "
               f"'{{}}')")
    add_erp_customer(erp)
    settings = settings_for(namespace, erp, [vm_shop(vm)])

    produce(settings)
    consume(settings, "vm")

    assert user(vm)[2] == "anna@example.org-2"


def ship_to(vm: Any, user_id: int) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in vm.rows(
        f"SELECT i.address_type_name, i.company, i.first_name, i.last_name, i.address_1, "
        f"i.zip, i.city, c.country_2_code FROM {t('userinfos')} i "
        f"JOIN {t('countries')} c ON c.virtuemart_country_id = i.virtuemart_country_id "
        f"WHERE i.virtuemart_user_id = %s AND i.address_type = 'ST' "
        f"ORDER BY i.virtuemart_userinfo_id", (user_id,))]


def add_delivery(erp: Any, rec_id: int, addr_id: int = 1, **changes: Any) -> None:
    row = {"REC_ID": rec_id, "ADDR_ID": addr_id, "ANREDE": "Firma", "NAME1": "Müller Lager",
           "NAME2": "z. Hd. Herrn Peter Meier", "STRASSE": "Lagerweg 9", "PLZ": "1010",
           "ORT": "Wien", "LAND": "AT"}
    row.update(changes)
    erp.execute(f"INSERT INTO adressen_lief ({', '.join(row)}) VALUES "
                f"({', '.join(['%s'] * len(row))})", tuple(row.values()))
    erp.execute("UPDATE adressen SET DEFAULT_LIEFANSCHRIFT_ID = %s WHERE REC_ID = %s",
                (rec_id, addr_id))


def test_a_differing_default_delivery_address_is_a_ship_to_row_the_erp_keeps(
        erp, vm, namespace):
    add_erp_customer(erp)
    add_delivery(erp, 7)
    settings = settings_for(namespace, erp, [vm_shop(vm)])
    produce(settings)
    consume(settings, "vm")
    uid = user(vm)[0]
    assert ship_to(vm, uid) == [("Lieferanschrift", "Müller Lager", "Peter", "Meier",
                                 "Lagerweg 9", "1010", "Wien", "AT")]
    # The customer's own shipping address in the shop
    vm.execute(f"INSERT INTO {t('userinfos')} (virtuemart_user_id, address_type, "
               f"address_type_name, last_name, address_1, zip, city, virtuemart_country_id) "
               f"SELECT %s, 'ST', 'Büro', 'Müller', 'Amtsweg 1', '10117', 'Berlin', "
               f"virtuemart_country_id FROM {t('countries')} WHERE country_2_code = 'DE'", (uid,))

    erp.execute("UPDATE adressen_lief SET STRASSE = 'Lagerweg 10'")
    produce(settings)
    consume(settings, "vm")
    assert [r[4] for r in ship_to(vm, uid)] == ["Lagerweg 10", "Amtsweg 1"]

    # The delivery address becomes the customer's own address: no ST row of the ERP's
    erp.execute("UPDATE adressen_lief SET ANREDE = NULL, NAME1 = 'Anna Müller', NAME2 = NULL, "
                "STRASSE = 'Hauptstraße 1', PLZ = '10115', ORT = 'Berlin', LAND = 'D'")
    produce(settings)
    consume(settings, "vm")
    assert [r[0] for r in ship_to(vm, uid)] == ["Büro"]
    assert len(bill_to(vm, uid)) == 9


def test_a_delivery_address_in_an_unknown_country_is_dead_lettered_naming_the_field(
        erp, vm, namespace):
    erp.execute("INSERT INTO land (ID, NAME, ISO_CODE_3) VALUES ('XX', 'Nirgendwo', 'XXX')")
    add_erp_customer(erp)
    add_delivery(erp, 7, LAND="XX")
    settings = settings_for(namespace, erp, [vm_shop(vm)])
    produce(settings)

    assert consume(settings, "vm").dead == 1
    (letter,) = dlq.list_dead(settings.broker, settings.tenants[0].shop("vm"))
    assert "payload.delivery_address.country_iso3" in letter.error
