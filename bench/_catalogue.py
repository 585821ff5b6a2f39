"""A CAO-Faktura catalogue for the sync benchmark, generated on the server in a few statements.

The tables come from the upstream DDL (../shared/reference/cao-faktura/schema.sql: lower-case
names, MyISAM, latin1), the rows from ``INSERT ... SELECT`` over MariaDB's sequence engine
(``seq_1_to_<n>``), so 300,000 articles take seconds and no Python memory. What an article has:

- German texts in ARTIKEL (umlauts; a ~20 kB long description for every 50th), English ones in
  ARTIKEL_LTEXT (SPRACHEN 1 = en, 2 = de, as CAO ships them);
- prices on all five levels (net and gross), VAT code 2 (19 %) or every 7th 1 (7 %), stock;
- a shop category of shop 1 (ARTIKEL_KAT: 10 top-level nodes with 9 children each; the article
  sits in a child, ARTIKEL_TO_KAT);
- a manufacturer (HERSTELLER of shop 1, with a URL per language in HERSTELLER_INFO);
- every 10th article a special offer: ARTIKEL_PREIS PT2 'AP', no customer, 20 % off VK1, valid
  from 10 days ago until 30 days ahead (so it is on in the shop now).

Only the shop (SHOP_ID 1) is configured; every article is selected and visible.
"""

from __future__ import annotations

import os
from pathlib import Path

import pymysql
from _common import REPO

REFERENCE = Path(os.environ.get("SHOPBRIDGE_REFERENCE_DIR", REPO.parent / "shared" / "reference"))
CAO_SQL = REFERENCE / "cao-faktura" / "schema.sql"
PHOENIX_SQL = REFERENCE / "oscommerce" / "phoenix.sql"

TOP_CATEGORIES = 10
CHILDREN = 9                      # per top-level category: 90 leaf categories
MANUFACTURERS = 50
SPECIAL_EVERY = 10                # 10 % of the articles
LONG_TEXT_EVERY = 50

# (Python-side constants only: the statements take no user input.)
_WORDS_DE = ("Schraubendreher", "Gartenschlauch", "Kühlschrank", "Größenverstellung", "Bürste",
             "Säge", "Öllampe", "Würfel", "Maßband", "Fußmatte", "Schlüssel", "Tür",
             "Gießkanne")
_WORDS_EN = ("screwdriver", "garden hose", "fridge", "size adjuster", "brush", "saw",
             "oil lamp", "dice", "tape measure", "doormat", "key", "door", "watering can")
_ADJ_DE = ("Robuste", "Kleine", "Große", "Grüne", "Blaue", "Weiße", "Schöne")
_ADJ_EN = ("Sturdy", "Small", "Large", "Green", "Blue", "White", "Fine")


def _elt(index_sql: str, words: tuple[str, ...]) -> str:
    quoted = ", ".join("'" + w.replace("'", "''") + "'" for w in words)
    return f"ELT(1 + ({index_sql}) % {len(words)}, {quoted})"


def leaf_category(rec_id: int) -> int:
    """The ARTIKEL_KAT.ID the generator puts article ``rec_id`` in."""
    return TOP_CATEGORIES + 1 + rec_id % (TOP_CATEGORIES * CHILDREN)


def manufacturer_of(rec_id: int) -> int:
    return 1 + rec_id % MANUFACTURERS


def expected_rows(n: int) -> dict[str, int]:
    """Rows each shop table should hold after a full sync of ``n`` generated articles."""
    categories = TOP_CATEGORIES * (1 + CHILDREN)
    return {"products": n, "products_description": 2 * n, "products_to_categories": n,
            "specials": n // SPECIAL_EVERY, "categories": categories,
            "categories_description": 2 * categories, "manufacturers": MANUFACTURERS,
            "manufacturers_info": 2 * MANUFACTURERS}


def statements(n: int) -> list[str]:
    """The INSERTs that fill an empty CAO database (tables from the DDL) with ``n`` articles."""
    seq = f"seq_1_to_{n}"
    net = "(199 + (seq * 7919) % 99800) / 100"            # 1.99 .. 999.99, scattered
    rate = "IF(seq % 7, 1.19, 1.07)"
    prices = ", ".join(f"ROUND({net} * {1 - (level - 1) / 20:.2f}, 4), "
                       f"ROUND({net} * {1 - (level - 1) / 20:.2f} * {rate}, 4)"
                       for level in range(1, 6))
    vk_columns = ", ".join(f"VK{level}, VK{level}B" for level in range(1, 6))
    word_de, word_en = _elt("seq", _WORDS_DE), _elt("seq", _WORDS_EN)
    long_text = ("CONCAT('<p>', REPEAT(CONCAT('Beschreibung für Artikel ', seq, "
                 "' – Qualität „gut“. '), IF(seq % " + str(LONG_TEXT_EVERY) + " = 0, 400, 3)), "
                 "'</p>')")
    leaves = TOP_CATEGORIES * CHILDREN
    return [
        # Languages and VAT rates as a CAO installation has them.
        "INSERT INTO sprachen (SPRACH_ID, NAME, CODE, DEFAULT_FLAG) VALUES "
        "(1, 'Englisch', 'en', 'N'), (2, 'Deutsch', 'de', 'Y')",
        "INSERT INTO registry (MAINKEY, NAME, VAL_DOUBLE) VALUES "
        "('MAIN\\\\MWST', '0', 0), ('MAIN\\\\MWST', '1', 7), ('MAIN\\\\MWST', '2', 19), "
        "('MAIN\\\\MWST', '3', 0)",
        # Shop categories: 10 top-level nodes (ID 1..10), each with 9 children (ID 11..100).
        f"INSERT INTO artikel_kat (SHOP_ID, ID, TOP_ID, SORT_NUM, NAME, BESCHREIBUNG) "
        f"SELECT 1, seq, -1, seq, CONCAT('Abteilung ', seq, ' – Küche & Gärten'), "
        f"CONCAT('Alles für Abteilung ', seq) FROM seq_1_to_{TOP_CATEGORIES}",
        f"INSERT INTO artikel_kat (SHOP_ID, ID, TOP_ID, SORT_NUM, NAME) "
        f"SELECT 1, seq, 1 + seq % {TOP_CATEGORIES}, seq, "
        f"CONCAT('Regal ', seq, ' – Größe ', seq % 5) "
        f"FROM seq_{TOP_CATEGORIES + 1}_to_{TOP_CATEGORIES + leaves}",
        f"INSERT INTO hersteller (SHOP_ID, HERSTELLER_ID, HERSTELLER_NAME, HERSTELLER_IMAGE) "
        f"SELECT 1, seq, CONCAT('Hersteller ', seq, ' Größl GmbH'), "
        f"CONCAT('hersteller_', seq, '.png') FROM seq_1_to_{MANUFACTURERS}",
        f"INSERT INTO hersteller_info (SHOP_ID, HERSTELLER_ID, SPRACHE_ID, HERSTELLER_URL) "
        f"SELECT 1, h.seq, l.seq, CONCAT('https://hersteller', h.seq, '.example/', "
        f"IF(l.seq = 1, 'en', 'de')) FROM seq_1_to_{MANUFACTURERS} h JOIN seq_1_to_2 l",
        f"INSERT INTO artikel (REC_ID, ARTNUM, MATCHCODE, WARENGRUPPE, BARCODE, ARTIKELTYP, "
        f"KURZNAME, LANGNAME, GEWICHT, {vk_columns}, STEUER_CODE, VK_LIEFERZEIT_ID, "
        f"MENGE_AKT, HERSTELLER_ID, SHOP_ID, SHOP_KURZTEXT, SHOP_LANGTEXT, SHOP_VISIBLE, "
        f"SHOP_DEL_FLAG) "
        f"SELECT seq, CONCAT('A-', LPAD(seq, 6, '0')), CONCAT(UPPER({word_de}), '-', seq), "
        f"1 + seq % 5, CAST(4000000000000 + seq AS CHAR), 'N', "
        f"CONCAT({_elt('seq * 3', _ADJ_DE)}, ' ', {word_de}, ' Nr. ', seq), "
        f"CONCAT({word_de}, ' – Langname ', seq), (1 + (seq * 37) % 50000) / 1000, {prices}, "
        f"IF(seq % 7, 2, 1), 1, CAST((seq * 7919) % 503 AS SIGNED) - 3, "
        f"1 + seq % {MANUFACTURERS}, 1, "
        f"CONCAT('Kurztext ', seq, ': ', {word_de}), {long_text}, 1, 'N' FROM {seq}",
        f"INSERT INTO artikel_ltext (ARTIKEL_ID, SPRACHE_ID, KURZNAME, SHOP_KURZTEXT, "
        f"SHOP_LANGTEXT) SELECT seq, 1, "
        f"CONCAT({_elt('seq * 3', _ADJ_EN)}, ' ', {word_en}, ' no. ', seq), "
        f"CONCAT('Short text ', seq), CONCAT('<p>Description of article ', seq, '.</p>') "
        f"FROM {seq}",
        f"INSERT INTO artikel_to_kat (SHOP_ID, ARTIKEL_ID, KAT_ID) "
        f"SELECT 1, seq, {TOP_CATEGORIES + 1} + seq % {leaves} FROM {seq}",
        f"INSERT INTO artikel_preis (ARTIKEL_ID, ADRESS_ID, PREIS_TYP, PT2, PREIS, "
        f"GUELTIG_VON, GUELTIG_BIS) SELECT seq, -1, 0, 'AP', ROUND({net} * 0.8, 4), "
        f"CURDATE() - INTERVAL 10 DAY, CURDATE() + INTERVAL 30 DAY FROM {seq} "
        f"WHERE seq % {SPECIAL_EVERY} = 0",
    ]


def fill(conn: pymysql.Connection, n: int) -> None:
    """Run ``statements(n)`` on ``conn`` (a connection to the empty CAO database)."""
    with conn.cursor() as cur:
        for sql in statements(n):
            cur.execute(sql)
    conn.commit()
