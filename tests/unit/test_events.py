"""Envelope, schemas, versions, codec and coalescing."""

from __future__ import annotations

import copy

import jsonschema
import pytest

from shopbridge import events as ev
from shopbridge import schemas
from shopbridge.errors import InvalidEvent, UnknownEventType


def product_payload(**changes: object) -> dict:
    payload = {
        "sku": "A-1", "erp_id": 1, "article_type": "N",
        "texts": {"de": {"name": "Gießkanne", "short_description": None,
                         "description": "<p>Text</p>", "meta_title": None,
                         "meta_description": None, "meta_keywords": None}},
        "prices": {str(n): {"net": "10.0000", "gross": "11.9000"} for n in range(1, 6)},
        "tax": {"code": 2, "rate": "19"}, "stock": "5.0000",
        "shop": {"id": 1, "visible": True, "delete_flag": False},
        "weight": "0.500", "ean": None, "manufacturer_id": None, "product_group_id": 1,
        "delivery_time_id": 1, "images": [],
    }
    payload.update(changes)
    return payload


def event(type_: str = "product.upserted", version: int = 1, key: str = "1",
          payload: dict | None = None) -> dict:
    return ev.make_event(type_, tenant="acme", source="cao:test", entity_key=key,
                         version=version, payload=payload or product_payload())


def test_schema_files_are_valid_draft_2020_12_and_agree_with_the_fast_validator():
    registry_docs = schemas.documents()
    for document in registry_docs.values():
        jsonschema.Draft202012Validator.check_schema(document)
    from referencing import Registry, Resource

    registry = Registry().with_resources(
        (d["$id"], Resource.from_contents(d)) for d in registry_docs.values())
    for version in (1, 2):   # v1 events (in queues, dead letters) stay valid
        good = event()
        good["schema_version"] = version
        if version == 2:
            good["payload"].update(
                tiers=[{"min_qty": 10, "prices": copy.deepcopy(good["payload"]["prices"])}],
                user_fields={"03": "web"}, date_available="2027-01-31")
        bad = copy.deepcopy(good)
        bad["payload"]["prices"]["1"]["net"] = "10,00"
        validator = jsonschema.Draft202012Validator(
            registry_docs[f"product.upserted.v{version}.json"], registry=registry)
        assert validator.is_valid(good) and not validator.is_valid(bad)
        schemas.validate(good)
        with pytest.raises(InvalidEvent):
            schemas.validate(bad)
        if version == 2:
            bad = copy.deepcopy(good)
            bad["payload"]["tiers"][0]["prices"]["1"]["net"] = "x"
            assert not validator.is_valid(bad)
            with pytest.raises(InvalidEvent, match=r"payload\.tiers"):
                schemas.validate(bad)


def test_an_invalid_event_names_the_entity_and_the_field():
    bad = event()
    bad["payload"]["texts"]["de"]["name"] = "x" * 300
    with pytest.raises(InvalidEvent, match=r"product.upserted 1 \(SKU A-1\): field "
                                           r"payload.texts.de.name"):
        schemas.validate(bad)


def test_unknown_types_and_non_json_bodies_are_permanent_errors():
    with pytest.raises(UnknownEventType):
        schemas.validate({**event(), "type": "product.exploded"})
    with pytest.raises(InvalidEvent):
        ev.decode(b"{not json")
    with pytest.raises(InvalidEvent):
        ev.decode(b"[]")
    assert len(ev.decode(ev.encode([event(), event()]))) == 2
    assert len(ev.decode(b'{"a": 1}')) == 1


def test_versions_strictly_increase_even_when_the_clock_is_behind():
    far_future = 10**17
    assert ev.next_version(far_future) == far_future + 1
    first = ev.next_version(None)
    assert ev.next_version(first) > first


def test_coalesce_keeps_the_newest_per_entity_and_aspect():
    events = [ev.parse(e) for e in (
        event(version=1), event(version=3), event(version=2),
        event("stock.changed", 5, payload={"erp_id": 1, "sku": "A-1", "stock": "1"}),
        event("stock.changed", 4, payload={"erp_id": 1, "sku": "A-1", "stock": "2"}),
        event(version=1, key="2"),
    )]
    kept = {(e.entity_key, e.type): e.version for e in ev.coalesce(events)}
    assert kept == {("1", "product.upserted"): 3, ("1", "stock.changed"): 5,
                    ("2", "product.upserted"): 1}


def test_event_ids_are_uuid4_shaped_and_unique_within_and_across_processes():
    import multiprocessing
    import re
    import uuid

    pattern = re.compile(schemas.documents()["envelope.v1.json"]["properties"]["event_id"]
                         ["pattern"].replace("$", r"\Z"))
    ids = [ev.make_event("stock.changed", tenant="acme", source="t", entity_key="1", version=1,
                         payload={})["event_id"] for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    for event_id in ids[:100]:
        parsed = uuid.UUID(event_id)
        assert pattern.match(event_id) and parsed.version == 4 and str(parsed) == event_id
    # A forked child (and any other process) draws its own prefix and counter start.
    with multiprocessing.get_context("fork").Pool(2) as pool:
        children = pool.map(_ids, [1000, 1000])
    assert len({*ids, *children[0], *children[1]}) == len(ids) + 2000


def _ids(n: int) -> list[str]:
    return [ev.new_event_id() for _ in range(n)]


def test_occurred_at_is_now_in_utc_to_the_microsecond():
    from datetime import UTC, datetime

    def text(when: datetime) -> str:
        return when.isoformat(timespec="microseconds").replace("+00:00", "Z")

    before = text(datetime.now(UTC))
    made = event()["occurred_at"]
    after = text(datetime.now(UTC))
    assert before <= made <= after and len(made) == len(before)
    given = ev.make_event("stock.changed", tenant="acme", source="t", entity_key="1", version=1,
                          payload={}, occurred_at=datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert given["occurred_at"] == "2027-01-02T03:04:05.000000Z"
