"""ERP variants -> one VirtueMart multi-variant field on the parent (C8; NOTES §3, §10). Pure.

VirtueMart has variant articles: a child is a product of its own (``product_parent_id`` =
the parent) with its own SKU, stock, prices, language row and slug. What makes the shop front
offer them is a customfield of type ``C`` (multi variant) on the **parent** whose
``customfield_params`` hold the whole matrix; children carry no customfields (they inherit the
parent's) and no category rows (or they are listed as products of their own).

The matrix, as VirtueMart 4.4.0 reads it (components/com_virtuemart/sublayouts/customfield.php,
``case 'C'``) and its sample data writes it (administrator/components/com_virtuemart/install/
install_sample_data.sql, product 300 with custom 21):

- ``selectoptions``: one entry per dropdown, ``{"voption": "clabels", "clabel": <label>,
  "values": <choices joined by "\\r\\n">}``. ``clabels`` means free values with a label (the
  other voptions are product columns such as ``product_width``, which ERP dimensions are not).
- ``options``: child product id **as a string** -> one value per dropdown. The parent comes
  first with empty values, as VirtueMart's own admin stores it: on the parent's page every
  dropdown then starts at the empty "choose" entry and the parent is not orderable.

What the front end does with it, and what that asks of the plan:

- Dropdown k lists, in the order of ``options``, the k-th value of every published child whose
  earlier values equal the current product's. So ``options`` is ordered by the ERP's value
  order (first seen in the payload, which lists children in CAO's REC_ID order) and the
  dropdowns show sizes as the ERP orders them (S, M, L), not alphabetically.
- Values are compared with PHP's loose ``==`` / ``in_array`` after ``trim``: ``"1"`` and
  ``"01"`` are the same value, so two such values in one dimension are refused.
- Each child's values are printed into an inline script unescaped (``'["'.$url.'","'.
  implode('","',$variants).'"]'``): a ``"``, a backslash or a line break would break the page,
  so such values are refused.

Ordering: ``pordering`` 0..n-1 in the options order (dense; stable while the ERP's set stays).
Labels: VirtueMart has one ``clabel`` per dropdown (``vmText::_`` translates it only if it is a
Joomla language key), so the label is the dimension's name in the shop's default language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shopbridge.config import VARIANT_DIMENSIONS
from shopbridge.errors import MappingError

from .params import format_params

VALUE_SEPARATOR = "\r\n"               # selectoptions[].values; VM splits on \r\n|\r|\n
PARAMS_MAX_BYTES = 65535               # product_customfields.customfield_params is TEXT
_UNSAFE = re.compile(r'["\\\x00-\x1f\x7f]')
# PHP 8's numeric string (Zend is_numeric_string): optional whitespace, sign, digits with an
# optional fraction, optional exponent, optional trailing whitespace.
_PHP_NUMERIC = re.compile(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*")


@dataclass(frozen=True, slots=True)
class Dimension:
    """One dropdown: the ERP dimension (A, B, C), its label and its values in ERP order."""

    letter: str
    label: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """One child as the shop needs it; the product store turns it into a product id."""

    erp_id: int
    sku: str
    values: tuple[str, ...]            # one per dimension of the plan, in its order
    pordering: int                     # dense 0..n-1, the options order


@dataclass(frozen=True, slots=True)
class VariantPlan:
    """A parent's multi-variant field and children (no dimensions: the product has none)."""

    dimensions: tuple[Dimension, ...] = ()
    children: tuple[ChildSpec, ...] = ()          # in options (= pordering) order

    def __bool__(self) -> bool:
        return bool(self.children)

    def data(self) -> list[Any]:
        """Plain data for a product's content hash."""
        return [[[d.letter, d.label, list(d.values)] for d in self.dimensions],
                [[c.erp_id, c.sku, list(c.values), c.pordering] for c in self.children]]

    @classmethod
    def from_data(cls, data: Any) -> VariantPlan:
        """The plan ``data()`` describes (a product row carries its plan as that data)."""
        dimensions, children = data
        return cls(tuple(Dimension(letter, label, tuple(values))
                         for letter, label, values in dimensions),
                   tuple(ChildSpec(int(erp_id), sku, tuple(values), int(pordering))
                         for erp_id, sku, values, pordering in children))

    def field_params(self, parent_id: int, child_ids: Mapping[int, int]) -> str:
        """The parent's ``customfield_params``: the multi-variant matrix.

        Args:
            child_ids: ERP id -> virtuemart_product_id of every child.
        Raises:
            MappingError: the matrix does not fit the TEXT column even written compactly.
        """
        options: dict[str, list[str]] = {str(parent_id): [""] * len(self.dimensions)}
        for child in self.children:
            options[str(child_ids[child.erp_id])] = list(child.values)
        # Key order as VirtueMart's getVarsToPush('C') lists them (models/custom.php), which
        # is the order VmTable::storeParams writes: a field saved in the admin reads the same.
        params = {
            "usecanonical": 1,          # child pages name the parent as canonical URL
            "showlabels": 1,            # the label ("Farbe") before each dropdown
            "browseajax": 0,
            "sCustomId": 0,             # no type-S copies of the values on the children
            "selectType": 0,            # dropdowns, not radio buttons
            "withImage": 0,
            "selectoptions": [{"voption": "clabels", "clabel": d.label,
                               "values": VALUE_SEPARATOR.join(d.values)}
                              for d in self.dimensions],
            "clabels": 0,
            "options": options,
        }
        for compact in (False, True):
            text = format_params(params, compact=compact)
            if len(text.encode("utf-8")) <= PARAMS_MAX_BYTES:
                return text
        raise MappingError(f"the variant matrix of {len(self.children)} children needs "
                           f"{len(text.encode('utf-8'))} bytes; customfield_params holds "
                           f"{PARAMS_MAX_BYTES}")


NO_VARIANTS = VariantPlan()


def plan_variants(payload: Mapping[str, Any], *, language: str, what: str) -> VariantPlan:
    """The multi-variant plan of a product.upserted payload.

    Args:
        language: the shop's default language code ("de"): the labels' language, falling
            back to the first name the ERP gives.
        what: names the product in error messages (e.g. "product 4711").
    Raises:
        MappingError: a dimension in use without a name, a child without a value for a
            dimension another child uses, two children with the same values, or a value the
            shop front cannot carry (see the module docstring).
    """
    variants = payload.get("variants") or []
    if not variants:
        return NO_VARIANTS
    letters = [d for d in VARIANT_DIMENSIONS if any(d in v["dims"] for v in variants)]
    names = payload.get("variant_options") or {}
    seen: dict[str, dict[str, int]] = {d: {} for d in letters}     # value -> first position
    rows: list[tuple[int, str, tuple[str, ...]]] = []
    combos: dict[tuple[str, ...], str] = {}
    for i, child in enumerate(variants):
        values = []
        for letter in letters:
            value = str(child["dims"].get(letter, "")).strip()
            field = f"payload.variants[{i}].dims.{letter}"
            if not value:
                raise MappingError(f"{what}: field {field}: variant {child['sku']} has no "
                                   f"value for dimension {letter}, which other variants use")
            _check_value(value, f"{what}: field {field}")
            _check_loose_duplicate(seen[letter], value, f"{what}: field {field}")
            seen[letter].setdefault(value, len(seen[letter]))
            values.append(value)
        combo = tuple(values)
        if combo in combos:
            raise MappingError(f"{what}: field payload.variants[{i}].dims: variants "
                               f"{combos[combo]} and {child['sku']} have the same values "
                               f"{list(combo)}; the shop could offer only one of them")
        combos[combo] = child["sku"]
        rows.append((int(child["erp_id"]), str(child["sku"]), combo))
    dimensions = tuple(Dimension(letter, _label(names, letter, language, what),
                                 tuple(seen[letter])) for letter in letters)
    rows.sort(key=lambda r: (tuple(seen[d][v] for d, v in zip(letters, r[2], strict=True)),
                             r[0]))
    return VariantPlan(dimensions, tuple(ChildSpec(erp_id, sku, values, position)
                                         for position, (erp_id, sku, values) in enumerate(rows)))


def child_name(parent_name: str, child: ChildSpec) -> str:
    """A child's product name: the parent's and its values ("T-Shirt Rot / XL")."""
    return f"{parent_name} {' / '.join(child.values)}".strip()


def php_loose_equal(a: str, b: str) -> bool:
    """PHP 8's ``a == b`` for two strings: numerically when both are numeric strings."""
    if a == b:
        return True
    if _PHP_NUMERIC.fullmatch(a) and _PHP_NUMERIC.fullmatch(b):
        return float(a) == float(b)
    return False


def _label(names: Mapping[str, Mapping[str, str]], letter: str, language: str,
           what: str) -> str:
    per_language = names.get(letter)
    if not per_language:
        raise MappingError(f"{what}: field payload.variant_options.{letter}: the variants use "
                           f"dimension {letter} (CAO DIM_{letter}) but it has no option name "
                           f"(set [tenants.erp.variants.names] {letter})")
    label = (per_language.get(language) or next(iter(per_language.values()))).strip()
    _check_value(label, f"{what}: field payload.variant_options.{letter}")
    return label


def _check_value(value: str, where: str) -> None:
    if _UNSAFE.search(value):
        raise MappingError(f"{where}: {value!r} holds a quote, backslash or control "
                           "character, which VirtueMart's variant selector prints into its "
                           "script unescaped")


def _check_loose_duplicate(seen: Mapping[str, int], value: str, where: str) -> None:
    if value in seen:
        return
    for other in seen:
        if php_loose_equal(other, value):
            raise MappingError(f"{where}: {value!r} and {other!r} are one value to "
                               "VirtueMart's selector (PHP compares numeric text as numbers)")
