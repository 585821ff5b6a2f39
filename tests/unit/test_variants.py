"""C8, the pure parts: which article is whose child, the payload, the per-value deltas."""

from __future__ import annotations

from decimal import Decimal

import pytest

from consumers.oscommerce.variants import NO_VARIANTS, Child, map_variants, split_deltas
from producers.cao.variants import Candidate, attach, master_artnums, match
from shopbridge import config as cfg
from shopbridge import schemas
from shopbridge.config import VariantConfig
from shopbridge.errors import ConfigError, MappingError
from shopbridge.events import dims_hash
from tests.unit.test_events import event, product_payload

NAMES = {"A": {"de": "Farbe", "en": "Colour"}, "B": {"de": "Größe"}}


def test_possible_masters_are_the_prefixes_before_each_separator_longest_first():
    assert master_artnums("AB-1-XL", "-") == ["AB-1", "AB"]
    assert master_artnums("AB--XL", "--") == ["AB"]
    assert master_artnums("-AB", "-") == []                 # nothing before the separator
    assert master_artnums("AB-", "-") == []                 # nothing after it


def test_the_longest_existing_article_number_is_the_master_and_chains_end_at_the_top():
    candidates = [Candidate(2, "AB-1", ("Blau", None, None)),
                  Candidate(3, "AB-1-XL", ("Blau", "XL", None)),
                  Candidate(4, "CD-RED", ("Rot", None, None)),      # no article CD
                  Candidate(5, "AB-2", (None, None, None))]         # no DIM value
    children = match(candidates, {"AB": 1, "AB-1": 2}, {}, separator="-", source="both")
    assert children == {2: (1, ("Blau", None, None)), 3: (1, ("Blau", "XL", None))}


def test_artikel_var_rows_come_first_and_each_source_can_be_chosen_alone():
    candidates = [Candidate(3, "AB-XL", (None, "XL", None))]
    slaves = {3: (9, ("Grün", None, None)), 7: (9, (None, None, None))}
    assert match(candidates, {"AB": 1}, slaves, separator="-", source="both") == {
        3: (9, ("Grün", None, None))}
    assert match(candidates, {"AB": 1}, slaves, separator="-", source="artnum") == {
        3: (1, (None, "XL", None))}
    assert match(candidates, {"AB": 1}, slaves, separator="-", source="artikel_var") == {
        3: (9, ("Grün", None, None))}


def _child(rec_id: int, sku: str, a: str | None, b: str | None, vk1: str, stock: str) -> dict:
    row = {"REC_ID": rec_id, "ARTNUM": sku, "dim_a": a, "dim_b": b, "dim_c": None,
           "MENGE_AKT": Decimal(stock)}
    for n in range(1, 6):
        row[f"VK{n}"], row[f"VK{n}B"] = Decimal(vk1), Decimal(vk1) * Decimal("1.19")
    return row


def test_a_masters_payload_lists_its_children_and_its_stock_is_their_sum_at_least_0():
    body = product_payload()
    attach(body, [_child(2, "P-BL", "Blau", "M", "10", "3"),
                  _child(3, "P-RT", "Rot ", None, "11", "-2")], VariantConfig(names=NAMES))
    assert body["stock"] == "3.0000"
    assert body["variant_options"] == NAMES
    assert [v["dims"] for v in body["variants"]] == [{"A": "Blau", "B": "M"}, {"A": "Rot"}]
    assert body["variants"][1]["prices"]["1"]["net"] == "11"
    schemas.validate(event(payload=body))


def test_a_master_without_children_keeps_its_payload():
    body = product_payload()
    attach(body, [], VariantConfig(names=NAMES))
    assert body == product_payload()


def test_deltas_are_split_per_dimension_and_non_additive_prices_are_found():
    combos = [({"A": "Blau", "B": "M"}, Decimal(0)), ({"A": "Blau", "B": "XL"}, Decimal(2)),
              ({"A": "Rot", "B": "M"}, Decimal(-1)), ({"A": "Rot", "B": "XL"}, Decimal(1))]
    deltas, bad = split_deltas(combos, ["A", "B"])
    assert bad is None
    assert deltas == {("A", "Blau"): 0, ("A", "Rot"): -1, ("B", "M"): 0, ("B", "XL"): 2}
    combos[3] = ({"A": "Rot", "B": "XL"}, Decimal(5))
    assert split_deltas(combos, ["A", "B"])[1] == 3


def _payload(**changes: object) -> dict:
    body = product_payload()
    attach(body, [_child(2, "P-BL", "Blau", None, "12.50", "1"),
                  _child(3, "P-RT", "Rot", None, "9.00", "1")], VariantConfig(names=NAMES))
    body.update(changes)
    return body


def test_the_shop_gets_one_option_per_dimension_named_per_language_with_signed_deltas():
    variants = map_variants(_payload(), price=Decimal("10"), price_level=1,
                            language_ids={"de": 2, "en": 1, "fr": 3}, what="p")
    assert [(o.dim, o.names) for o in variants.options] == [
        ("A", ((1, "Colour"), (2, "Farbe"), (3, "Farbe")))]   # fr: the first text language
    assert [(a.key, a.delta) for a in variants.attributes] == [
        ("A:Blau", Decimal("2.5000")), ("A:Rot", Decimal("-1.0000"))]
    assert map_variants(product_payload(), price=Decimal(1), price_level=1,
                        language_ids={"de": 2}, what="p") == NO_VARIANTS


def test_the_children_are_mapped_with_their_erp_id_and_values_and_are_part_of_the_hash():
    """Their links are rewritten when a child changes, even where the attributes do not."""
    def mapped(body: dict) -> object:
        return map_variants(body, price=Decimal("10"), price_level=1,
                            language_ids={"de": 2}, what="p")

    body = _payload()
    assert mapped(body).children == (Child(2, (("A", "Blau"),)), Child(3, (("A", "Rot"),)))
    before = mapped(body).data()
    body["variants"][1]["erp_id"] = 4                 # Rot is another article now
    assert mapped(body).attributes == mapped(_payload()).attributes
    assert mapped(body).data() != before


def test_the_hash_of_a_variants_values_ignores_their_order_and_sql_can_compute_it():
    assert dims_hash({"B": "XL", "A": "Blau"}) == dims_hash({"A": "Blau", "B": "XL"})
    # SELECT MD5(CONCAT_WS(CHAR(31), 'A=Blau', 'B=XL'))
    assert dims_hash({"A": "Blau", "B": "XL"}) == "de360ab6dfedebdbead710338d468cad"
    assert dims_hash({"A": "Blau"}) != dims_hash({"B": "Blau"})


def test_a_dimension_without_a_name_is_a_mapping_error_naming_the_field():
    with pytest.raises(MappingError, match=r"payload.variant_options.A: .*DIM_A"):
        map_variants(_payload(variant_options={}), price=Decimal(10), price_level=1,
                     language_ids={"de": 2}, what="p")


def test_variant_settings_are_checked_by_name():
    def erp(variants: object) -> dict:
        return {"tenants": [{"name": "acme", "erp": {"url": "mysql://cao@db/cao",
                                                     "variants": variants}}]}

    settings = cfg.parse(erp({"enabled": True, "names": NAMES}))
    assert settings.tenants[0].erp.variants == VariantConfig(enabled=True, names=NAMES)
    assert cfg.parse(erp({})).tenants[0].erp.variants.enabled is False
    with pytest.raises(ConfigError, match=r"names.D: dimensions are A, B and C"):
        cfg.parse(erp({"names": {"D": {"de": "x"}}}))
    with pytest.raises(ConfigError, match=r"separator must be"):
        cfg.parse(erp({"separator": ""}))
    with pytest.raises(ConfigError, match=r"source must be one of"):
        cfg.parse(erp({"source": "magic"}))
