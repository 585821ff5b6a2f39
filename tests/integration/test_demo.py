"""``shopbridge demo`` end to end, as the README's Quick start runs it, under names of its own.

The demo builds its databases from the project's table facts, not from the upstream SQL, so
this test runs on a clone without ../shared/reference too. It uses a unique prefix (databases,
broker namespace) and a config file in tmp_path, so a user's own demo is left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from shopbridge import cli, demo, dlq
from shopbridge import config as cfg
from tests.conftest import AMQP_URL, MARIADB_URL, unique

ARTICLES = 40


@pytest.fixture
def names(tmp_path: Path) -> Iterator[demo.DemoNames]:
    consumers_level = logging.getLogger("consumers").level   # the demo quietens it
    names = demo.DemoNames(prefix=unique("sbtest_demo"), config_path=tmp_path / "demo.toml")
    yield names
    demo.remove(MARIADB_URL, AMQP_URL, names)
    logging.getLogger("consumers").setLevel(consumers_level)


def test_demo_syncs_catalogue_and_passes_check(names, capsys, caplog):
    caplog.set_level(logging.WARNING)
    assert demo.run_demo(articles=ARTICLES, db_url=MARIADB_URL, amqp_url=AMQP_URL,
                         names=names) == 0
    output = capsys.readouterr().out
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, "\n".join(errors)

    # Two syncs, two shops: every summary line says nothing was dead-lettered.
    summaries = [line for line in output.splitlines() if "dead-lettered" in line]
    assert len(summaries) == 4 and all("0 dead-lettered" in s for s in summaries), output
    settings = cfg.load(names.config_path)
    for shop in settings.tenants[0].shops:
        assert dlq.list_dead(settings.broker, shop) == []

    (_, shop_a), (_, shop_b) = names.shops
    a = demo.shop_counts(MARIADB_URL, shop_a)
    b = demo.shop_counts(MARIADB_URL, shop_b)
    assert a["products"] + b["products"] == ARTICLES
    for counts in (a, b):
        assert counts["visible"] == counts["products"] > 0
        assert counts["categories"] == 3                      # a tree: two top, one child
        assert counts["links"] == counts["products"]          # every article in a category
        assert counts["specials"] == 1
    assert (a["manufacturers"], b["manufacturers"]) == (2, 1)
    assert "categories" in output and "manufacturer(s)" in output and "special(s)" in output

    capsys.readouterr()
    assert cli.main(["-c", str(names.config_path), "check"]) == cli.EXIT_OK
    report = capsys.readouterr().out
    assert "PROBLEM" not in report and report.rstrip().endswith("0 problem(s)"), report
