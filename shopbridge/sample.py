"""Sample catalogue data and database set-up shared by the demo, the tests and the benchmarks.

Everything here writes only to databases it is told to create; names are chosen by callers.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pymysql
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

WORDS_DE = ["Schraubendreher", "Gartenschlauch", "Kühlschrank", "Größenverstellung", "Bürste",
            "Säge", "Öllampe", "Würfel", "Maßband", "Fußmatte", "Schlüssel", "Tür", "Gießkanne"]
WORDS_EN = ["screwdriver", "garden hose", "fridge", "size adjuster", "brush", "saw",
            "oil lamp", "dice", "tape measure", "doormat", "key", "door", "watering can"]
ADJ_DE = ["robuste", "kleine", "große", "grüne", "blaue", "weiße", "schöne"]
ADJ_EN = ["sturdy", "small", "large", "green", "blue", "white", "fine"]


def server_url(url: str | URL) -> URL:
    return make_url(url).set(database=None)


def create_database(url: str | URL, name: str, *, charset: str = "utf8mb4") -> URL:
    """(Re)create database ``name`` on the server of ``url``; returns its URL."""
    engine = sa.create_engine(server_url(url))
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET {charset}")
    engine.dispose()
    return make_url(url).set(database=name)


def drop_database(url: str | URL, name: str) -> None:
    engine = sa.create_engine(server_url(url))
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
    engine.dispose()


def run_sql_file(url: URL, sql: str, *, sql_mode: str | None = None) -> None:
    """Run a whole install script (many statements) the way ``mariadb DB < file`` does.

    Args:
        sql_mode: the session's sql_mode for the script (e.g. a shop's strict one); None:
            the server's default.
    """
    conn = pymysql.connect(host=url.host or "127.0.0.1", port=url.port or 3306,
                           user=url.username or "root", password=url.password or "",
                           database=url.database, charset="utf8mb4",
                           client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS)
    try:
        with conn.cursor() as cur:
            if sql_mode is not None:
                cur.execute("SET SESSION sql_mode = %s", (sql_mode,))
            cur.execute(sql)
            while cur.nextset():
                pass
        conn.commit()
    finally:
        conn.close()


def articles(n: int, *, seed: int = 7, shop_ids: Sequence[int] = (1,), start: int = 1,
             long_description_every: int = 50) -> list[dict[str, Any]]:
    """``n`` ARTIKEL rows with German texts (umlauts), prices on all levels, stock."""
    rnd = random.Random(seed)  # noqa: S311 - reproducible sample data, not secrets
    rows = []
    for i in range(start, start + n):
        k = rnd.randrange(len(WORDS_DE))
        adj = rnd.randrange(len(ADJ_DE))
        net = Decimal(rnd.randrange(199, 99999)) / 100
        long_text = "<p>" + " ".join([f"Beschreibung für Artikel {i} – Qualität „gut“."] *
                                      (400 if i % long_description_every == 0 else 3)) + "</p>"
        row: dict[str, Any] = {
            "REC_ID": i,
            "ARTNUM": f"A-{i:06d}",
            "MATCHCODE": f"{WORDS_DE[k].upper()}-{i}",
            "WARENGRUPPE": 1 + i % 5,
            "BARCODE": f"{4000000000000 + i}",
            "ARTIKELTYP": "N",
            "KURZNAME": f"{ADJ_DE[adj].capitalize()} {WORDS_DE[k]} Nr. {i}",
            "LANGNAME": f"{WORDS_DE[k]} – Langname {i}",
            "GEWICHT": Decimal(rnd.randrange(1, 50000)) / 1000,
            "STEUER_CODE": 2 if i % 7 else 1,
            "VK_LIEFERZEIT_ID": 1,
            "MENGE_AKT": Decimal(rnd.randrange(-3, 500)),
            "HERSTELLER_ID": -1,
            "SHOP_ID": shop_ids[i % len(shop_ids)],
            "SHOP_KURZTEXT": f"Kurztext {i}: {WORDS_DE[k]}",
            "SHOP_LANGTEXT": long_text,
            "SHOP_VISIBLE": 1,
            "SHOP_DEL_FLAG": "N",
        }
        for level in range(1, 6):
            price = net * (Decimal(1) - Decimal(level - 1) / 20)
            row[f"VK{level}"] = price.quantize(Decimal("0.0001"))
            rate = Decimal("1.19") if row["STEUER_CODE"] == 2 else Decimal("1.07")
            row[f"VK{level}B"] = (price * rate).quantize(Decimal("0.0001"))
        rows.append(row)
    return rows


def translations(rows: Iterable[dict[str, Any]], *, language_id: int = 1,
                 every: int = 1) -> list[dict[str, Any]]:
    """English ARTIKEL_LTEXT rows for every ``every``-th article."""
    out = []
    for row in rows:
        i = row["REC_ID"]
        if i % every:
            continue
        k = i % len(WORDS_EN)
        out.append({"ARTIKEL_ID": i, "SPRACHE_ID": language_id,
                    "KURZNAME": f"{ADJ_EN[i % len(ADJ_EN)].capitalize()} {WORDS_EN[k]} no. {i}",
                    "SHOP_LANGTEXT": f"<p>Description of article {i}.</p>"})
    return out


def insert_rows(conn: sa.Connection, table: str, rows: Sequence[dict[str, Any]],
                chunk: int = 1000) -> None:
    """Multi-row INSERT of dicts that share their keys (``table`` is a trusted name)."""
    if not rows:
        return
    columns = list(rows[0])
    sql = (f"INSERT INTO `{table}` ({', '.join(f'`{c}`' for c in columns)}) VALUES "
           f"({', '.join(['%s'] * len(columns))})")
    for start in range(0, len(rows), chunk):
        conn.exec_driver_sql(sql, [tuple(r[c] for c in columns) for r in rows[start:start + chunk]])


def cao_reference_data(conn: sa.Connection, names: dict[str, str]) -> None:
    """Languages (1 = en, 2 = de as in CAO) and VAT rates in REGISTRY MAIN\\MWST."""
    insert_rows(conn, names["SPRACHEN"], [
        {"SPRACH_ID": 1, "NAME": "Englisch", "CODE": "en", "DEFAULT_FLAG": "N"},
        {"SPRACH_ID": 2, "NAME": "Deutsch", "CODE": "de", "DEFAULT_FLAG": "Y"},
    ])
    insert_rows(conn, names["REGISTRY"], [
        {"MAINKEY": "MAIN\\MWST", "NAME": str(code), "VAL_DOUBLE": rate}
        for code, rate in ((0, 0.0), (1, 7.0), (2, 19.0), (3, 0.0))
    ])


# What a CAO installation has for the order import (NOTES 3), as tests/conftest.py's ``erp``:
# the number ranges of drafts (10), customer numbers (99) and debtor numbers (31), as
# (NAME, VAL_INT, format VAL_CHAR, next number VAL_INT2); countries; payment methods.
CAO_NUMBER_RANGES = (("EDI", 10, "RE-000000", 1001), ("KUNNUM", 99, "00000", 50001),
                     ("DEBNUM", 31, None, 10001))
CAO_LANDS = (("D", "Deutschland", "DEU"), ("AT", "Österreich", "AUT"))
CAO_PAYMENTS = ((1, "Vorkasse"), (2, "Rechnung"), (3, "Nachnahme"))


def cao_order_reference_data(conn: sa.Connection, names: dict[str, str]) -> None:
    """Number ranges (REGISTRY MAIN\\NUMBERS), LAND and ZAHLUNGSARTEN rows for the import."""
    insert_rows(conn, names["REGISTRY"], [
        {"MAINKEY": "MAIN\\NUMBERS", "NAME": name, "VAL_INT": key, "VAL_CHAR": fmt,
         "VAL_INT2": next_number} for name, key, fmt, next_number in CAO_NUMBER_RANGES])
    insert_rows(conn, names["LAND"], [{"ID": i, "NAME": n, "ISO_CODE_3": iso3}
                                      for i, n, iso3 in CAO_LANDS])
    insert_rows(conn, names["ZAHLUNGSARTEN"], [{"REC_ID": i, "NAME": n} for i, n in CAO_PAYMENTS])


def phoenix_reference_data(conn: sa.Connection, *, languages: Sequence[tuple[int, str, str]] = (
        (1, "English", "en"), (2, "Deutsch", "de")), currency: str = "EUR") -> None:
    """Shop languages, two tax classes (1 = 19 %, 2 = 7 %), replacing what is there, and
    ``currency`` as the default currency."""
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    conn.exec_driver_sql("DELETE FROM languages")
    insert_rows(conn, "languages", [
        {"languages_id": lid, "name": name, "code": code, "image": "icon.gif",
         "directory": name.lower(), "sort_order": lid} for lid, name, code in languages])
    conn.exec_driver_sql("DELETE FROM tax_class")
    insert_rows(conn, "tax_class", [
        {"tax_class_id": 1, "tax_class_title": "Standard 19 %",
         "tax_class_description": "Regelsteuersatz", "date_added": now},
        {"tax_class_id": 2, "tax_class_title": "Ermäßigt 7 %",
         "tax_class_description": "ermäßigter Steuersatz", "date_added": now},
    ])
    # A German shop sells in EUR: the default currency, with value 1 (NOTES 1).
    conn.exec_driver_sql(
        "INSERT INTO configuration (configuration_title, configuration_key, configuration_value,"
        " configuration_description, configuration_group_id, date_added) VALUES "
        "('Default Currency', 'DEFAULT_CURRENCY', %s, 'Default Currency', 6, %s) "
        "ON DUPLICATE KEY UPDATE configuration_value = VALUES(configuration_value)",
        (currency, now))
    if not conn.exec_driver_sql("UPDATE currencies SET value = 1 WHERE code = %s",
                                (currency,)).rowcount:
        conn.exec_driver_sql(
            "INSERT INTO currencies (title, code, symbol_right, decimal_point, thousands_point,"
            " decimal_places, value, last_updated) VALUES (%s, %s, %s, ',', '.', '2', 1, %s)",
            (currency, currency, currency, now))


ORDER_STATUSES = {"en": ("Pending", "Processing", "Delivered"),
                  "de": ("Offen", "In Bearbeitung", "Versendet")}


def phoenix_order_reference_data(conn: sa.Connection,
                                 languages: Sequence[tuple[int, str, str]]) -> None:
    """What a fresh shop has for orders: statuses 1-3 per language, Germany and Austria.

    For a database built from the project's table facts (the upstream install SQL fills
    these itself); ids as upstream: Germany 81, Austria 14.
    """
    insert_rows(conn, "orders_status", [
        {"orders_status_id": sid, "language_id": lid, "orders_status_name": name}
        for lid, _, code in languages
        for sid, name in enumerate(ORDER_STATUSES.get(code, ORDER_STATUSES["en"]), start=1)])
    insert_rows(conn, "countries", [
        {"countries_id": 81, "countries_name": "Deutschland", "countries_iso_code_2": "DE",
         "countries_iso_code_3": "DEU", "address_format_id": 5},
        {"countries_id": 14, "countries_name": "Österreich", "countries_iso_code_2": "AT",
         "countries_iso_code_3": "AUT", "address_format_id": 5}])


# Per CAO shop: (ID, TOP_ID, NAME); -1 = top level. Every shop gets the same small tree.
CAO_CATEGORIES = ((1, -1, "Garten"), (2, 1, "Gießkannen & Schläuche"), (3, -1, "Werkzeug"))
# (SHOP_ID, HERSTELLER_ID, HERSTELLER_NAME); HERSTELLER_ID is unique across CAO shops.
CAO_MANUFACTURERS = ((1, 1, "Gartenwerk Süd"), (1, 2, "Müller Werkzeugbau"),
                     (2, 3, "Gartenwerk Süd"))


def cao_catalogue(conn: sa.Connection, names: dict[str, str], rows: Sequence[dict[str, Any]],
                  *, specials: Sequence[int], today: date) -> None:
    """Shop categories with article links, manufacturers and special offers for ``rows``.

    ``rows`` are ARTIKEL rows already inserted (``articles``); each article is linked to one
    category of its CAO shop and made by a manufacturer of that shop. The articles in
    ``specials`` get a special offer (80 % of VK1, net) valid from a week ago for a month.
    """
    shops = sorted({int(r["SHOP_ID"]) for r in rows})
    insert_rows(conn, names["ARTIKEL_KAT"], [
        {"SHOP_ID": shop, "ID": kat, "TOP_ID": top, "SORT_NUM": kat, "NAME": name,
         "VISIBLE_FLAG": "Y", "DEL_FLAG": "N"}
        for shop in shops for kat, top, name in CAO_CATEGORIES])
    insert_rows(conn, names["ARTIKEL_TO_KAT"], [
        {"SHOP_ID": r["SHOP_ID"], "ARTIKEL_ID": r["REC_ID"],
         "KAT_ID": CAO_CATEGORIES[r["REC_ID"] % len(CAO_CATEGORIES)][0], "DEL_FLAG": "N"}
        for r in rows])
    makers = [m for m in CAO_MANUFACTURERS if m[0] in shops]
    insert_rows(conn, names["HERSTELLER"], [
        {"SHOP_ID": shop, "HERSTELLER_ID": mid, "HERSTELLER_NAME": name, "DEL_FLAG": "N"}
        for shop, mid, name in makers])
    insert_rows(conn, names["HERSTELLER_INFO"], [
        {"SHOP_ID": shop, "HERSTELLER_ID": mid, "SPRACHE_ID": language,
         "HERSTELLER_URL": f"https://hersteller-{mid}.example/{code}"}
        for shop, mid, _ in makers for language, code in ((1, "en"), (2, "de"))])
    made_by: dict[int, list[int]] = {}
    for shop in shops:
        own = [mid for s, mid, _ in makers if s == shop]
        for i, rec_id in enumerate(r["REC_ID"] for r in rows if r["SHOP_ID"] == shop):
            if own:
                made_by.setdefault(own[i % len(own)], []).append(rec_id)
    for mid, ids in made_by.items():
        conn.exec_driver_sql(f"UPDATE `{names['ARTIKEL']}` SET HERSTELLER_ID = %s WHERE REC_ID "
                             f"IN ({', '.join(['%s'] * len(ids))})", (mid, *ids))
    by_id = {r["REC_ID"]: r for r in rows}
    insert_rows(conn, names["ARTIKEL_PREIS"], [
        {"ARTIKEL_ID": rec_id, "ADRESS_ID": -1, "PREIS_TYP": 0, "PT2": "AP",
         "PREIS": (by_id[rec_id]["VK1"] * Decimal("0.8")).quantize(Decimal("0.01")),
         "GUELTIG_VON": today - timedelta(days=7), "GUELTIG_BIS": today + timedelta(days=30)}
        for rec_id in specials])
