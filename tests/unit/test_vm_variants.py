"""C8 for VirtueMart, planned without a database: one multi-variant field on the parent whose
matrix (selectoptions, options keyed by child id strings) offers each child, in the ERP's
order (consumers/virtuemart/variants.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from consumers.virtuemart.params import parse_params
from consumers.virtuemart.variants import (
    NO_VARIANTS,
    PARAMS_MAX_BYTES,
    VariantPlan,
    child_name,
    php_loose_equal,
    plan_variants,
)
from shopbridge.errors import MappingError

NAMES = {"A": {"de": "Farbe", "en": "Colour"}, "B": {"de": "Größe", "en": "Size"}}


def child(erp_id: int, sku: str, **dims: str) -> dict[str, Any]:
    return {"erp_id": erp_id, "sku": sku, "dims": dims, "prices": {}, "stock": "1"}


# colour x size, 6 children, listed in CAO's REC_ID order (not sorted by value).
SIX = [child(11, "TS-RS", A="Rot", B="S"), child(12, "TS-BS", A="Blau", B="S"),
       child(13, "TS-RM", A="Rot", B="M"), child(14, "TS-BM", A="Blau", B="M"),
       child(15, "TS-RL", A="Rot", B="L"), child(16, "TS-BL", A="Blau", B="L")]


def payload(variants: list[dict[str, Any]], names: Any = NAMES) -> dict[str, Any]:
    return {"sku": "TS", "variants": variants, "variant_options": names}


def plan(variants: list[dict[str, Any]] = SIX, **kw: Any) -> Any:
    return plan_variants(payload(variants, **kw), language="de", what="product TS")


def test_a_product_without_variants_plans_nothing() -> None:
    assert plan([]) is NO_VARIANTS
    assert not plan_variants({"sku": "X"}, language="de", what="x")


def test_dimensions_carry_the_shop_language_label_and_values_in_erp_order() -> None:
    p = plan()
    assert [(d.letter, d.label, d.values) for d in p.dimensions] == [
        ("A", "Farbe", ("Rot", "Blau")), ("B", "Größe", ("S", "M", "L"))]


def test_a_label_falls_back_to_the_first_name_the_erp_gives() -> None:
    p = plan_variants(payload(SIX), language="fr", what="x")
    assert [d.label for d in p.dimensions] == ["Farbe", "Größe"]


def test_children_are_ordered_by_value_positions_with_dense_pordering() -> None:
    """Dropdowns list values in options order, so options follow the ERP's value order."""
    p = plan()
    assert [(c.sku, c.values, c.pordering) for c in p.children] == [
        ("TS-RS", ("Rot", "S"), 0), ("TS-RM", ("Rot", "M"), 1), ("TS-RL", ("Rot", "L"), 2),
        ("TS-BS", ("Blau", "S"), 3), ("TS-BM", ("Blau", "M"), 4), ("TS-BL", ("Blau", "L"), 5)]


def test_the_plan_is_the_same_for_the_same_payload() -> None:
    assert plan() == plan()
    assert plan().data() == plan().data()


def test_the_matrix_names_each_child_by_its_product_id_with_its_values() -> None:
    p = plan()
    ids = {11: 101, 12: 102, 13: 103, 14: 104, 15: 105, 16: 106}
    params = parse_params(p.field_params(100, ids))
    assert params["selectoptions"] == [
        {"voption": "clabels", "clabel": "Farbe", "values": "Rot\r\nBlau"},
        {"voption": "clabels", "clabel": "Größe", "values": "S\r\nM\r\nL"}]
    assert params["options"] == {
        "100": ["", ""], "101": ["Rot", "S"], "103": ["Rot", "M"], "105": ["Rot", "L"],
        "102": ["Blau", "S"], "104": ["Blau", "M"], "106": ["Blau", "L"]}
    # parent first (the empty "choose" entry), then the dropdowns' order
    assert list(params["options"]) == ["100", "101", "103", "105", "102", "104", "106"]
    assert (params["usecanonical"], params["showlabels"], params["sCustomId"]) == (1, 1, 0)


def test_the_matrix_keys_come_in_virtuemarts_own_order() -> None:
    """getVarsToPush('C') order, as VmTable::storeParams writes a field saved in the admin."""
    text = plan().field_params(1, {c: c for c in range(11, 17)})
    assert list(parse_params(text)) == ["usecanonical", "showlabels", "browseajax",
                                        "sCustomId", "selectType", "withImage",
                                        "selectoptions", "clabels", "options"]


def test_one_and_three_dimensions() -> None:
    one = plan([child(1, "a", B="S"), child(2, "b", B="M")])
    assert [d.letter for d in one.dimensions] == ["B"]
    three = plan([child(1, "a", A="Rot", B="S", C="Baumwolle")],
                 names={**NAMES, "C": {"de": "Material"}})
    assert [d.label for d in three.dimensions] == ["Farbe", "Größe", "Material"]
    assert parse_params(three.field_params(9, {1: 10}))["options"] == {
        "9": ["", "", ""], "10": ["Rot", "S", "Baumwolle"]}


def test_values_are_trimmed_as_the_front_end_trims_them() -> None:
    p = plan([child(1, "a", A=" Rot "), child(2, "b", A="Blau")])
    assert p.dimensions[0].values == ("Rot", "Blau")


def test_a_dimension_without_name_is_a_mapping_error() -> None:
    with pytest.raises(MappingError, match=r"variant_options\.B.*no option name"):
        plan(names={"A": {"de": "Farbe"}})


def test_a_child_missing_a_dimension_others_use_is_a_mapping_error() -> None:
    with pytest.raises(MappingError, match=r"variants\[1\]\.dims\.B.*no value"):
        plan([child(1, "a", A="Rot", B="S"), child(2, "b", A="Blau")])


def test_two_children_with_the_same_values_are_a_mapping_error() -> None:
    with pytest.raises(MappingError, match="a and b have the same values"):
        plan([child(1, "a", A="Rot"), child(2, "b", A="Rot")])


@pytest.mark.parametrize("value", ['12"', "a\\b", "a\nb"])
def test_values_the_selector_script_cannot_carry_are_refused(value: str) -> None:
    with pytest.raises(MappingError, match="unescaped"):
        plan([child(1, "a", A=value)])


def test_values_php_compares_as_equal_numbers_are_refused() -> None:
    with pytest.raises(MappingError, match="'01' and '1' are one value"):
        plan([child(1, "a", A="1"), child(2, "b", A="01")])


def test_php_loose_equality_of_strings() -> None:
    assert php_loose_equal("1", "1.0") and php_loose_equal("1e1", "10")
    assert not php_loose_equal("1", "1a") and not php_loose_equal("S", "s")


def test_a_huge_matrix_is_written_compactly_and_refused_beyond_the_column() -> None:
    many = [child(i, f"s{i}", A=f"{'x' * 40}{i:05d}") for i in range(1, 600)]
    text = plan(many, names={"A": {"de": "Farbe"}}).field_params(
        10**6, {i: 10**6 + i for i in range(1, 600)})
    assert "\n" not in text and len(text.encode()) <= PARAMS_MAX_BYTES
    too_many = [child(i, f"s{i}", A=f"{'x' * 45}{i:05d}") for i in range(1, 700)]
    with pytest.raises(MappingError, match="customfield_params holds"):
        plan(too_many, names={"A": {"de": "Farbe"}}).field_params(
            10**6, {i: 10**6 + i for i in range(1, 700)})


def test_child_name_appends_the_values() -> None:
    assert child_name("T-Shirt", plan().children[0]) == "T-Shirt Rot / S"


def test_a_plan_reads_back_from_its_hash_data_unchanged() -> None:
    """A product row carries its plan as data (content hash); the writer rebuilds it."""
    assert VariantPlan.from_data(json.loads(json.dumps(plan().data()))) == plan()
