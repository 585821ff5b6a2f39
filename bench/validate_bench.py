"""Parse + validate of incoming events, before/after the fast schema check (issues 11, 14).

    .venv/bin/python bench/validate_bench.py [--events 2000] [--rounds 15] [--no-results]

What the consumer does per event before any database work (consumers/runner.py ``_process``):
``events.decode`` of an AMQP body (orjson; bodies of 100 events, the default pack_size), then
``events.parse`` of each event: the JSON Schema check and the ``Event`` wrapper.

Payloads are real: product.upserted v2 from ``producers.cao.payload.build`` on the sample
articles (German from ARTIKEL, English from an ARTIKEL_LTEXT row, 5 price levels, 3 category
keys; every 50th with a long description, as bench/_catalogue.py makes them), stock.changed v2
without and with 3 variant children. "before" = fastjsonschema alone
(``schemas.validate(fast=False)``, the code before the check existed), "after" = the default
path (schemacheck's yes/no first). Both run in the same process, interleaved round by round;
the table gives the best round (least disturbed by other work) and the median, per event.

Appends its section to bench/RESULTS.md (``--no-results``: print only). No database needed.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from _common import command_line, finish_facts, log, machine_facts, publish

from producers.cao.payload import build
from shopbridge import events as ev
from shopbridge import schemas
from shopbridge.errors import InvalidEvent
from shopbridge.sample import articles

PACK = 100      # events per AMQP body: the default pack_size


def product_events(n: int) -> list[dict[str, Any]]:
    out = []
    for row in articles(n):
        english = {"ARTIKEL_ID": row["REC_ID"], "SPRACHE_ID": 1,
                   "KURZNAME": f"Item {row['REC_ID']}", "SHOP_LANGTEXT": None, "LANGNAME": None}
        wgr = row["WARENGRUPPE"]
        payload = build(row, [english], language_codes={1: "en", 2: "de"},
                        vat_rates={1: "7", 2: "19"},
                        category_keys=[f"kat:1:{100 + wgr}", f"kat:1:{200 + wgr}"])
        out.append(ev.make_event("product.upserted", tenant="bench", source="cao:bench",
                                 entity_key=str(row["REC_ID"]), version=ev.next_version(None),
                                 payload=payload))
    return out


def stock_events(n: int, *, variants: int) -> list[dict[str, Any]]:
    out = []
    for i in range(1, n + 1):
        payload: dict[str, Any] = {"erp_id": i, "sku": f"A-{i:06d}", "stock": f"{i % 500}.0000"}
        if variants:
            payload["variants"] = [{"erp_id": 10 * i + k, "stock": f"{k}.0000"}
                                   for k in range(variants)]
        out.append(ev.make_event("stock.changed", tenant="bench", source="cao:bench",
                                 entity_key=str(i), version=ev.next_version(None),
                                 payload=payload))
    return out


def bodies(events: list[dict[str, Any]]) -> list[bytes]:
    return [ev.encode(events[i:i + PACK]) for i in range(0, len(events), PACK)]


def consume(bodies_: list[bytes], *, fast: bool) -> None:
    """What runner._process does per body before the database: decode, then parse each."""
    for body in bodies_:
        for raw in ev.decode(body):
            schemas.validate(raw, fast=fast)
            ev.Event(event_id=raw["event_id"], type=raw["type"], tenant=raw["tenant"],
                     source=raw["source"], entity_key=raw["entity_key"],
                     version=raw["version"], payload=raw["payload"], raw=raw)


def validate_only(events: list[dict[str, Any]], *, fast: bool) -> None:
    for raw in events:
        schemas.validate(raw, fast=fast)


def refuse_all(events: list[dict[str, Any]], *, fast: bool) -> None:
    for raw in events:
        try:
            schemas.validate(raw, fast=fast)
        except InvalidEvent:
            continue
        raise AssertionError("an invalid event passed")


def timed_us(func: Callable[[], None], count: int) -> float:
    started = time.perf_counter()
    func()
    return (time.perf_counter() - started) / count * 1e6


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=2000, help="events per case")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved before/after rounds")
    parser.add_argument("--no-results", action="store_true", help="do not touch RESULTS.md")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    command = command_line("bench/validate_bench.py")
    started = time.perf_counter()
    facts = machine_facts()
    n = args.events
    products = product_events(n)
    broken = [dict(e, payload={**e["payload"], "stock": "12,5"}) for e in products[:n // 4]]
    cases: dict[str, tuple[list[dict[str, Any]], str]] = {
        "product.upserted v2": (products, "consume"),
        "stock.changed v2": (stock_events(n, variants=0), "consume"),
        "stock.changed v2, 3 variants": (stock_events(n, variants=3), "consume"),
        "product.upserted v2, validation alone": (products, "validate"),
        "product.upserted v2, invalid (payload.stock '12,5'): refused": (broken, "refuse"),
    }
    sizes = {name: sum(len(b) for b in bodies(events)) // len(events)
             for name, (events, _) in cases.items()}
    schemas.validate(products[0])       # compile outside the timing
    results: dict[str, dict[bool, list[float]]] = {name: {False: [], True: []} for name in cases}
    for r in range(args.rounds):
        for name, (events, how) in cases.items():
            packed = bodies(events)
            for fast in (False, True) if r % 2 == 0 else (True, False):
                work: Callable[[], None]
                if how == "consume":
                    work = functools.partial(consume, packed, fast=fast)
                elif how == "validate":
                    work = functools.partial(validate_only, events, fast=fast)
                else:
                    work = functools.partial(refuse_all, events, fast=fast)
                results[name][fast].append(timed_us(work, len(events)))
        log(f"round {r + 1}/{args.rounds}")
    finish_facts(facts, started)

    rows = []
    for name, by in results.items():
        before, after = min(by[False]), min(by[True])
        rows.append(f"| {name} (avg. {sizes[name]:,} bytes) | {before:.1f} "
                    f"({statistics.median(by[False]):.1f}) | {after:.1f} "
                    f"({statistics.median(by[True]):.1f}) | **{before / after:.2f}x** |")
        log(f"{name}: before {before:.1f} us, after {after:.1f} us per event")
    text = "\n".join([
        f"## Event parse + validate, per event - {facts['date']}",
        "",
        f"- Command: `{command}`",
        f"- Machine: {facts['nproc']} cores ({facts['cpu']}), shared with other work; load "
        f"average at start {facts['load_start']}, at end {facts['load_end']}; Python "
        f"{facts['python']}; commit {facts['git']}",
        f"- {n:,} events per case, {args.rounds} rounds, before/after interleaved in one "
        f"process; \"consume\" rows = `events.decode` of bodies of {PACK} events + "
        f"`schemas.validate` + `Event(...)`, as consumers/runner.py does per event.",
        "- before = fastjsonschema alone (`schemas.validate(fast=False)`), after = the "
        "compiled yes/no check of shopbridge/schemacheck.py first, fastjsonschema only for "
        "what it doubts (wording the error).",
        f"- Whole run: {facts['wall']} s",
        "",
        "| per event, us: best round (median) | before | after | speed-up |",
        "|---|---|---|---|",
        *rows,
    ])
    publish(text, write_results=not args.no_results, blank_line_before=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
