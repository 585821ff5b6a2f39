"""CAO addresses and contact persons -> the name, company and gender of an account (K1)."""

from __future__ import annotations

from typing import Any

import pytest

from producers.cao.customers import main_contact, payload
from shopbridge import schemas
from shopbridge.events import make_event


def _contact(rec_id: int, vorname: str, name: str, email: str | None = None,
             anrede: str | None = None) -> dict[str, Any]:
    return {"ADDR_ID": 1, "REC_ID": rec_id, "ANREDE": anrede, "VORNAME": vorname,
            "NAME": name, "EMAIL": email}


def test_the_contact_with_the_accounts_email_wins_else_the_first():
    first = _contact(3, "Hans", "Meier", "hans@example.org")
    petra = _contact(7, "Petra", "Schmidt", " Info@Example.org ")
    nameless = _contact(1, "", "", "x@example.org")

    assert main_contact("info@example.org", [first, petra, nameless]) is petra
    assert main_contact("other@example.org", [petra, first, nameless]) is first
    assert main_contact("x@example.org", [nameless]) is None      # no name, no person


def _address(**changes: Any) -> dict[str, Any]:
    row = {"REC_ID": 1, "KUNNUM1": "50001", "ANREDE": "Firma", "GESCHLECHT": "-",
           "NAME1": "Müller GmbH", "NAME2": None, "NAME3": None, "STRASSE": "Hauptstraße 1",
           "PLZ": "10115", "ORT": "Berlin", "LAND": "D", "ISO3": "DEU", "TELE1": None,
           "EMAIL": "info@example.org", "KUN_GEBDATUM": None, "SHOP_NEWSLETTER": "N",
           "SHOP_ID": 1, "SHOP_KUNDE_ID": -1, "PR_EBENE": 5}
    row.update(changes)
    return row


def _names(body: dict[str, Any]) -> tuple[Any, ...]:
    return body["firstname"], body["lastname"], body["company"], body["gender"]


@pytest.mark.parametrize(("changes", "expected"), [
    ({"NAME2": "z. Hd. Frau Petra Schmidt"}, ("Petra", "Schmidt", "Müller GmbH", "f")),
    ({"NAME2": "Petra Schmidt"}, ("Petra", "Schmidt", "Müller GmbH", None)),
    # The attention line, wherever it is, and not NAME2 that continues the company name.
    ({"NAME2": "Holzbau KG", "NAME3": "z. Hd. Herrn Meier"},
     (None, "Meier", "Müller GmbH", "m")),
    # An attention line says NAME1 is an organisation, also without ANREDE 'Firma'.
    ({"ANREDE": None, "NAME2": "z.Hd. Herrn Dr. Hans Meier"},
     ("Hans", "Meier", "Müller GmbH", "m")),
    ({"ANREDE": None, "NAME1": "Firma Müller GmbH"}, (None, "Müller GmbH", "Müller GmbH", None)),
    ({"NAME2": "c/o Steuerbüro Lange"}, (None, "Müller GmbH", "Müller GmbH", None)),
    ({"ANREDE": "Frau", "NAME1": "Petra Schmidt"}, ("Petra", "Schmidt", None, "f")),
    ({"ANREDE": None, "NAME1": "Schmidt, Petra", "GESCHLECHT": "W"},
     ("Petra", "Schmidt", None, "f")),
])
def test_which_address_field_names_the_account(changes, expected):
    body = payload(_address(**changes))

    assert _names(body) == expected
    schemas.validate(make_event("customer.upserted", tenant="acme", source="t",
                                entity_key="1", version=1, payload=body))


def test_a_companys_contact_person_names_the_account_before_name2():
    contacts = [_contact(4, "Petra", "Schmidt", "info@example.org", anrede="Frau")]

    body = payload(_address(NAME2="z. Hd. Herrn Meier"), contacts)

    assert _names(body) == ("Petra", "Schmidt", "Müller GmbH", "f")


def test_a_private_address_is_its_own_person_whatever_its_contacts():
    contacts = [_contact(4, "Hans", "Schmidt", "hans@example.org", anrede="Herr")]

    body = payload(_address(ANREDE="Frau", NAME1="Petra Schmidt"), contacts)

    assert _names(body) == ("Petra", "Schmidt", None, "f")


def test_the_default_delivery_address_travels_named_like_an_address_and_validates():
    row = _address(LIEF_ANREDE="Firma", LIEF_NAME1="Müller Lager",
                   LIEF_NAME2="z. Hd. Frau Dr. Eva Roth", LIEF_NAME3=None,
                   LIEF_STRASSE="Lagerweg 9", LIEF_PLZ="1010", LIEF_ORT="Wien", LIEF_LAND="AT",
                   LIEF_ISO3="AUT")
    body = payload(row)
    assert body["delivery_address"] == {
        "company": "Müller Lager", "firstname": "Eva", "lastname": "Roth",
        "street": "Lagerweg 9", "postcode": "1010", "city": "Wien", "country_iso3": "AUT",
        "erp_country": "AT"}
    event = make_event("customer.upserted", tenant="acme", source="cao:test", entity_key="1",
                       version=1, payload=body)
    assert event["schema_version"] == 2
    schemas.validate(event)


def test_without_a_default_delivery_address_the_payload_has_none():
    assert "delivery_address" not in payload(_address())
    assert "delivery_address" not in payload(_address(LIEF_NAME1=None, LIEF_STRASSE=None))
