"""A page of CAO articles -> their product.upserted payloads: the one place that gathers an
article's rows (texts, specials, category links, tiers, variant children) and hands them to
``payload.build``. The producer's article scan and ``shopbridge drift`` (B1) both build
payloads here, so what drift expects of a shop is what the producer publishes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from shopbridge.config import ErpConfig

from . import payload as payloads
from . import variants
from .source import CaoSource


@dataclass(frozen=True)
class Built:
    """One article's payload and the variant children it was built with."""

    body: dict[str, Any]
    children: list[dict[str, Any]]


def build_payloads(conn: Connection, source: CaoSource, erp: ErpConfig, ids: Collection[int],
                   *, codes: Mapping[int, str], rates: Mapping[int, str]) -> list[Built]:
    """The payloads of the articles ``ids`` (those that exist), in REC_ID order.

    Args:
        codes: ``CaoSource.language_codes``; rates: ``CaoSource.vat_rates`` (read once per
            scan, not per page).
    """
    articles, translations = source.load_articles(conn, ids)
    specials = source.load_specials(conn, ids)
    category_keys = source.load_category_keys(conn, ids)
    tiers = source.load_tiers(conn, ids)
    children = source.variants.load(conn, source.t["ARTIKEL"], ids)
    out: list[Built] = []
    for article in articles:
        key = int(article["REC_ID"])
        body = payloads.build(article, translations.get(key, []), language_codes=codes,
                              vat_rates=rates, default_language=erp.default_language,
                              specials=specials.get(key), category_keys=category_keys.get(key),
                              tier_row=tiers.get(key))
        mine = children.get(key, [])
        variants.attach(body, mine, erp.variants)
        out.append(Built(body, mine))
    return out
