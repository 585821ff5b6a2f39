"""VirtueMart's ``key=<json>|`` params strings (NOTES §1): read as VmTable::bindParameterable
reads them, written as VmTable::storeParams writes them."""

from __future__ import annotations

import json

import pytest

from consumers.virtuemart.params import decode_value, encode_value, format_params, parse_params

# NOTES §1 and install_essential_data.sql (customs 1 and 2).
PRODUCT_PARAMS = ("min_order_level=null|max_order_level=null|step_order_level=null|"
                  "shared_stock=0|product_box=null|")
CUSTOM_1_PARAMS = 'wPrice="1"|wImage="1"|wDescr="1"|'
# install_sample_data.sql, custom 21 ('C', "Multi Variant") and product 300's customfield row
# (the SQL literal's "\\r\\n" is the stored text "\r\n": a JSON escape for CR LF).
CUSTOM_21_PARAMS = ('usecanonical="1"|showlabels="0"|sCustomId="11"|selectoptions="0"|'
                    'clabels="0"|options="0"|')
SAMPLE_300 = (
    'usecanonical=0|showlabels=0|sCustomId=100|selectoptions=[{"voption":"product_width",'
    '"clabel":"1","values":"46.0000\\r\\n51.0000\\r\\n56.0000\\r\\n61.0000"},'
    '{"voption":"clabels","clabel":"Weave","values":"Advanced\\r\\nPremium"}]|clabels=0|'
    'options={"300":["","0"],"301":["46.0000","Advanced"],"302":["46.0000","Premium"]}|')


def test_the_product_params_of_notes_read_as_nulls_and_numbers() -> None:
    assert parse_params(PRODUCT_PARAMS) == {
        "min_order_level": None, "max_order_level": None, "step_order_level": None,
        "shared_stock": 0, "product_box": None}


def test_quoted_numbers_stay_text() -> None:
    """`key="0"` is JSON text "0", not the number 0 (customs 1-2, custom 21)."""
    assert parse_params(CUSTOM_1_PARAMS) == {"wPrice": "1", "wImage": "1", "wDescr": "1"}
    assert parse_params(CUSTOM_21_PARAMS)["selectoptions"] == "0"


def test_the_sample_multi_variant_matrix_reads_as_lists_and_objects() -> None:
    params = parse_params(SAMPLE_300)
    assert params["sCustomId"] == 100
    assert params["selectoptions"][1] == {"voption": "clabels", "clabel": "Weave",
                                          "values": "Advanced\r\nPremium"}
    assert list(params["options"]) == ["300", "301", "302"]
    assert params["options"]["302"] == ["46.0000", "Premium"]


def test_text_that_is_not_json_is_kept_as_text() -> None:
    """safe_json_decode returns the input on a syntax error; '' stays ''."""
    assert parse_params("layout=default|empty=|") == {"layout": "default", "empty": ""}
    assert decode_value("{broken") == "{broken"


def test_an_equals_sign_in_a_value_belongs_to_the_value() -> None:
    assert parse_params('url="a=b"|raw=x=y|') == {"url": "a=b", "raw": "x=y"}


def test_pieces_without_equals_sign_and_empty_input_are_skipped() -> None:
    assert parse_params("junk|a=1||") == {"a": 1}
    assert parse_params("") == {} == parse_params(None)


def test_a_repeated_key_keeps_its_last_value() -> None:
    assert parse_params("a=1|a=2|") == {"a": 2}


def test_writing_matches_php_pretty_printed_json_encode() -> None:
    """json_encode(JSON_PRETTY_PRINT): 4-space indent, escaped '/', \\uXXXX beyond ASCII."""
    assert format_params({"usecanonical": 1, "showlabels": 0, "flag": True, "none": None}) == \
        "usecanonical=1|showlabels=0|flag=true|none=null|"
    assert encode_value(["a/b", "Größe"]) == '[\n    "a\\/b",\n    "Gr\\u00f6\\u00dfe"\n]'
    assert encode_value({"300": ["", ""]}) == '{\n    "300": [\n        "",\n        ""\n    ]\n}'
    assert encode_value([]) == "[]" and encode_value({}) == "{}"
    assert encode_value(10.0) == "10.0"           # JSON_PRESERVE_ZERO_FRACTION


def test_a_pipe_inside_a_value_survives_virtuemarts_split() -> None:
    written = format_params({"values": "S|M", "next": 1})
    assert written.count("|") == 2                # only the two separators
    assert parse_params(written) == {"values": "S|M", "next": 1}
    assert json.loads(encode_value("S|M")) == "S|M"


@pytest.mark.parametrize("compact", [False, True])
def test_written_params_read_back_unchanged(compact: bool) -> None:
    params = {"usecanonical": 1, "sCustomId": 0,
              "selectoptions": [{"voption": "clabels", "clabel": "Farbe",
                                 "values": "Rot\r\nBlau/Grün"}],
              "options": {"7": ["", ""], "8": ["Rot", "x=1|2"]}, "text": "0"}
    assert parse_params(format_params(params, compact=compact)) == params


def test_a_string_virtuemart_wrote_is_written_back_byte_for_byte() -> None:
    stored = ('showlabels=1|selectoptions=[\n    {\n        "voption": "clabels",\n'
              '        "clabel": "Farbe",\n        "values": "Rot\\r\\nBlau"\n    }\n]|'
              'options={\n    "5": [\n        ""\n    ]\n}|')
    assert format_params(parse_params(stored)) == stored


def test_the_compact_form_matches_the_sample_datas_style() -> None:
    params = parse_params(SAMPLE_300)
    assert format_params(params, compact=True) == SAMPLE_300


@pytest.mark.parametrize("key", ["", "a=b", "a|b"])
def test_keys_that_would_not_read_back_are_refused(key: str) -> None:
    with pytest.raises(ValueError, match="cannot be written"):
        format_params({key: 1})
