"""A person's name as CAO holds it -> first and last name of a shop account (K1). Pure.

CAO keeps a person in one line of free text where a letter needs it: ADRESSEN.NAME1 of a
private address, NAME2 or NAME3 of a company, typed as the merchant writes an envelope
("z. Hd. Frau Petra Schmidt"). A shop account needs first and last name apart: Phoenix
greets "Sehr geehrte Frau <last name>" and names an order "<first> <last>".

Rules, applied at the start of the line, in any order and repeatedly:

- Attention markers are dropped: "z. Hd.", "z.Hd.", "z. Hd", "zHd", "z. H.", "z. Hdn.",
  "zu Händen", "zu Haenden", "Attn.", "Attention", with a "von" after them when a name of
  more than one word follows ("zu Händen von Frau Schulz"; "z. Hd. von Stein" keeps it).
  "c/o" is not one: it names whoever passes the mail on, not the addressee (``is_care_of``).
- Salutations are dropped and give the gender: "Frau", "Fr." -> 'f'; "Herr", "Herrn",
  "Hr.", "Hrn." -> 'm'; "Mr", "Mrs", "Ms" likewise; "Familie" gives none. A ":" or ","
  after a marker or salutation goes with it.
- Academic titles are dropped ("Dr.", "Prof.", "Dipl.-Ing.", "Dr.-Ing.", "Mag.", with the
  lower-case parts after them: "Dr. med.", "Dr. rer. nat.", "Dr. h.c."). Phoenix has no
  title field, and neither name can hold one: a first name "Dr. Petra" is read in every
  greeting, a last name "Dr. Schmidt" turns the order's name into "Petra Dr. Schmidt".

Then "Schmidt, Petra" is last name, first name; after a full name a comma starts something
else ("Petra Schmidt, Einkauf" -> the department is dropped). The last word is the last
name, with the name particles before it ("Anna von der Heide" -> "Anna", "von der Heide");
one word is a last name only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A marker ends with its own dot, or before a separator: "Frau" is not the start of "Frauke".
_END = r"(?:(?<=\.)|(?=[\s:,]|$))"
_SEP = r"[\s:,]*"
_ATTENTION = re.compile(
    r"(?i:z\.?\s?h(?:dn?)?\.?|zu\s+h(?:ä|ae|a)nden|attn\.?|attention)" + _END + _SEP
    # "zu Händen von Frau Schulz": the "von" belongs to the marker when a name of two or
    # more words follows; "z. Hd. von Stein" names a person called von Stein.
    + r"(?:(?:von|v\.)\s+(?=[A-ZÄÖÜ]\S*\s+\S))?")
_SALUTATION = re.compile(r"(?i:(frau|fr|herrn?|hrn?|mrs?|ms|familie|fam)\.?)" + _END + _SEP)
_TITLE = re.compile(r"(?i:(?:prof|dr|dipl|mag|ing)\.?(?:-[^\W\d_]+\.?)*)" + _END + _SEP
                    # the faculty after a doctor's title: "Dr. med.", "Dr. rer. nat."
                    + r"(?:[a-zäöü]+\.\s*)*")
_CARE_OF = re.compile(r"(?i:c\s?/\s?o|c\.\s?o\.)" + _END)
_FIRMA = re.compile(r"(?i:firma)" + _END + _SEP)
_GENDER = {"frau": "f", "fr": "f", "mrs": "f", "ms": "f",
           "herr": "m", "herrn": "m", "hr": "m", "hrn": "m", "mr": "m"}
# Lower-case words that belong to the last name they precede ("von der Heide").
PARTICLES = frozenset({"von", "vom", "van", "de", "der", "den", "zu", "zum", "zur", "ten",
                       "ter", "di", "da", "del", "della", "du", "dos"})


@dataclass(frozen=True)
class PersonName:
    first: str | None
    last: str | None
    gender: str | None       # 'm' / 'f' from a salutation, None when there was none


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


def _strip_prefixes(text: str) -> tuple[str, str | None]:
    """Attention markers, salutations and titles at the start: (the rest, gender)."""
    gender = None
    while True:
        if match := _ATTENTION.match(text):
            pass
        elif match := _SALUTATION.match(text):
            gender = gender or _GENDER.get(match[1].lower())
        elif not (match := _TITLE.match(text)):
            return text.strip(" ,:"), gender
        text = text[match.end():]


def _name(first: str, last: str, gender: str | None) -> PersonName:
    first, last = first.strip(" ,"), last.strip(" ,")
    if not last:
        first, last = "", first
    return PersonName(first or None, last or None, gender)


def _is_last_name(words: list[str]) -> bool:
    """One word, perhaps after name particles: what stands before the comma of "Schmidt,
    Petra" and "von der Heide, Anna"."""
    return bool(words) and all(w in PARTICLES for w in words[:-1])


def gender_of(salutation: str | None) -> str | None:
    """'m' / 'f' of a salutation field (CAO ANREDE: 'Frau', 'Herr', 'Herrn', ...), else None."""
    return _strip_prefixes(_clean(salutation))[1]


def split_person_name(text: str | None, *, salutation: str | None = None) -> PersonName:
    """One line naming a person -> first name, last name, gender (the module's rules).

    Args:
        text: the line, e.g. "z. Hd. Frau Petra Schmidt" or "Schmidt, Petra".
        salutation: the address's own salutation field; its gender comes before the one
            found in the line.

    Returns:
        The name; ``last`` is None when the line holds no name at all (e.g. "z. Hd.").
    """
    rest, gender = _strip_prefixes(_clean(text))
    gender = gender_of(salutation) or gender
    head, comma, tail = rest.partition(",")
    if comma and _is_last_name(head.split()):
        first, also = _strip_prefixes(tail.strip())     # "Meier, Dr. Hans"
        return _name(first, head, gender or also)
    # After a full name, a comma starts something else: "Petra Schmidt, Einkauf".
    words = head.split()
    cut = len(words) - 1
    while cut > 0 and words[cut - 1] in PARTICLES:
        cut -= 1
    return _name(" ".join(words[:cut]), " ".join(words[cut:]), gender)


def contact_name(first: str | None, last: str | None, salutation: str | None) -> PersonName:
    """A contact person (ADRESSEN_ASP VORNAME, NAME, ANREDE) -> PersonName.

    CAO keeps first and last name apart here, so they stay apart (a double last name
    without hyphen stays whole); prefixes are dropped from each. A contact with no first
    name has its NAME read as one line.
    """
    given, gender = _strip_prefixes(_clean(first))
    if not given:
        return split_person_name(last, salutation=salutation)
    family, also = _strip_prefixes(_clean(last))
    return _name(given, family, gender_of(salutation) or gender or also)


def is_attention_line(text: str | None) -> bool:
    """True for a line that starts with an attention marker ("z. Hd. ...")."""
    return bool(_ATTENTION.match(_clean(text)))


def is_care_of(text: str | None) -> bool:
    """True for a "c/o ..." line: the person who passes the mail on, not the addressee."""
    return bool(_CARE_OF.match(_clean(text)))


def without_firma(text: str) -> tuple[str, bool]:
    """"Firma Müller GmbH" -> ("Müller GmbH", True): CAO's company salutation typed into
    the name line; any other text comes back unchanged with False."""
    match = _FIRMA.match(text)
    return (text[match.end():], True) if match and text[match.end():] else (text, False)
