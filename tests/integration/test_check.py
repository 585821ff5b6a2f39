"""``shopbridge check``: exit 0 when everything fits, one line per problem otherwise."""

from __future__ import annotations

from shopbridge import cli, sample
from tests.conftest import config_data, fill_cao, shop_entry
from tests.helpers import to_toml


def _run(tmp_path, data, capsys) -> tuple[int, list[str]]:
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(data))
    code = cli.main(["-c", str(path), "check"])
    return code, [line for line in capsys.readouterr().out.splitlines()
                  if line.startswith("PROBLEM")]


def test_a_consistent_setup_has_no_problem(cao_db, phoenix_db, namespace, tmp_path, capsys):
    fill_cao(cao_db, sample.articles(3), [])
    code, problems = _run(tmp_path, config_data(namespace, cao_db,
                                                [shop_entry("web", phoenix_db)]), capsys)
    assert (code, problems) == (cli.EXIT_OK, [])


def test_each_problem_is_one_clear_line(cao_db, phoenix_factory, namespace, tmp_path, capsys):
    rows = sample.articles(4)
    rows[0]["STEUER_CODE"] = 3
    rows[1]["ARTNUM"] = rows[2]["ARTNUM"]          # CAO allows duplicate ARTNUMs
    fill_cao(cao_db, rows, [])
    good, broken = phoenix_factory(), phoenix_factory()
    broken.execute("DROP TABLE products_description")
    shops = [shop_entry("web", good, languages=["de", "en", "fr"]),
             shop_entry("other", broken)]

    code, problems = _run(tmp_path, config_data(namespace, cao_db, shops), capsys)

    text = "\n".join(problems)
    assert code == cli.EXIT_PROBLEMS
    assert "shop web: CAO tax code 3 is used by articles but has no entry in tax_classes" in text
    assert "shop web: language 'fr' is configured but not in the shop's languages" in text
    assert "shop other: table products_description missing" in text
    assert "ARTNUM 'A-000003' is used by 2 articles (REC_ID 2, 3)" in text
    assert all(line.count("PROBLEM") == 1 for line in problems)


def test_an_unreachable_database_is_reported_not_raised(cao_db, phoenix_db, namespace, tmp_path,
                                                         capsys):
    entry = shop_entry("web", phoenix_db,
                       url=phoenix_db.url.set(port=1).render_as_string(hide_password=False))
    code, problems = _run(tmp_path, config_data(namespace, cao_db, [entry]), capsys)
    assert code == cli.EXIT_DATABASE          # listed with the rest, and the exit code says so
    assert any(p.startswith("PROBLEM  shop web:") and "MySQL error 2003" in p for p in problems)
