"""CAO person name lines -> first and last name, gender (K1)."""

from __future__ import annotations

import pytest

from systems.cao.names import PersonName, contact_name, split_person_name


@pytest.mark.parametrize(("line", "first", "last", "gender"), [
    ("z. Hd. Frau Petra Schmidt", "Petra", "Schmidt", "f"),
    ("z.Hd. Herrn Dr. Hans Meier", "Hans", "Meier", "m"),
    ("z. Hd Frau Petra Schmidt", "Petra", "Schmidt", "f"),
    ("zHd Herr Meier", None, "Meier", "m"),
    ("z. H. Frau Schmidt", None, "Schmidt", "f"),
    ("z.Hd.Frau Schmidt", None, "Schmidt", "f"),
    ("zu Händen von Frau Anna Lena Schulz", "Anna Lena", "Schulz", "f"),
    ("zu Haenden Herrn Meier", None, "Meier", "m"),
    ("Attn. Mr John Smith", "John", "Smith", "m"),
    ("Frau Petra Schmidt", "Petra", "Schmidt", "f"),
    ("Frau: Petra Schmidt", "Petra", "Schmidt", "f"),
    ("Fr. Petra Schmidt", "Petra", "Schmidt", "f"),
    ("Herr Schmidt", None, "Schmidt", "m"),
    ("Hr. Meier", None, "Meier", "m"),
    ("Hrn. Hans Meier", "Hans", "Meier", "m"),
    ("Herrn, Dr. med. Hans Meier", "Hans", "Meier", "m"),
    ("Prof. Dr. Petra Schmidt", "Petra", "Schmidt", None),
    ("Dipl.-Ing. Hans Meier", "Hans", "Meier", None),
    ("Dr. h.c. mult. Hans Meier", "Hans", "Meier", None),
    ("Petra Schmidt", "Petra", "Schmidt", None),
    ("Schmidt, Petra", "Petra", "Schmidt", None),
    ("Meier, Dr. Hans", "Hans", "Meier", None),
    ("von der Heide, Anna", "Anna", "von der Heide", None),
    ("Anna von der Heide", "Anna", "von der Heide", None),
    ("z. Hd. von Stein", None, "von Stein", None),
    ("Petra Schmidt, Einkauf", "Petra", "Schmidt", None),
    ("Familie Schmidt", None, "Schmidt", None),
    # Names that only begin like a salutation or title keep it.
    ("Frauke Herrmann", "Frauke", "Herrmann", None),
    ("Ingrid Drews", "Ingrid", "Drews", None),
    ("z. Hd.", None, None, None),
])
def test_a_name_line_loses_attention_salutation_and_title(line, first, last, gender):
    assert split_person_name(line) == PersonName(first, last, gender)


def test_the_salutation_field_gives_the_gender_before_the_line():
    assert split_person_name("Petra Schmidt", salutation="Frau").gender == "f"
    assert split_person_name("Herr Schmidt", salutation="Frau").gender == "f"
    assert split_person_name("Petra Schmidt", salutation="Firma").gender is None


@pytest.mark.parametrize(("vorname", "name", "anrede", "expected"), [
    ("Petra", "Schmidt", "Frau", PersonName("Petra", "Schmidt", "f")),
    ("Dr. Petra", "Schmidt", None, PersonName("Petra", "Schmidt", None)),
    ("Hans", "Müller Lüdenscheidt", "Herr", PersonName("Hans", "Müller Lüdenscheidt", "m")),
    ("", "Frau Petra Schmidt", None, PersonName("Petra", "Schmidt", "f")),
    ("", "Schmidt", "Herrn", PersonName(None, "Schmidt", "m")),
])
def test_a_contact_keeps_caos_first_and_last_name_apart(vorname, name, anrede, expected):
    assert contact_name(vorname, name, anrede) == expected
