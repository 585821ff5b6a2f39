"""``shopbridge check``: exit 0 when everything fits, one line per problem otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from shopbridge import cli, sample
from tests.conftest import config_data, fill_cao, shop_entry
from tests.helpers import to_toml
from tests.sftp_server import SftpServer

REPO = Path(__file__).resolve().parents[2]


def _lines(tmp_path, data, capsys) -> tuple[int, list[str]]:
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(data))
    code = cli.main(["-c", str(path), "check"])
    return code, capsys.readouterr().out.splitlines()


def _run(tmp_path, data, capsys) -> tuple[int, list[str]]:
    code, lines = _lines(tmp_path, data, capsys)
    return code, [line for line in lines if line.startswith("PROBLEM")]


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

    code, lines = _lines(tmp_path, config_data(namespace, cao_db, shops), capsys)

    problems = [line for line in lines if line.startswith("PROBLEM")]
    text = "\n".join(problems)
    assert code == cli.EXIT_PROBLEMS
    assert "shop web: CAO tax code 3 is used by articles but has no entry in tax_classes" in text
    assert "shop web: language 'fr' is configured but not in the shop's languages" in text
    assert "shop other: table products_description missing" in text
    assert all(line.count("PROBLEM") == 1 for line in problems)
    assert ("note     tenant acme: ARTNUM 'A-000003' is used by 2 articles (REC_ID 2, 3): shops "
            "get duplicate models") in lines


def test_data_to_look_at_is_a_note_and_passes_the_check(cao_db, phoenix_db, namespace, tmp_path,
                                                        capsys):
    """A deploy gate: the merchant's data (an ARTNUM used twice, an article without one)
    is printed as a note; only PROBLEM lines (the sync cannot run correctly) fail it."""
    rows = sample.articles(4)
    rows[1]["ARTNUM"] = rows[2]["ARTNUM"]
    rows[3]["ARTNUM"] = None
    fill_cao(cao_db, rows, [])

    code, lines = _lines(tmp_path, config_data(namespace, cao_db,
                                               [shop_entry("web", phoenix_db)]), capsys)

    assert code == cli.EXIT_OK, "\n".join(lines)
    notes = [line for line in lines if line.startswith("note") and "erp-indexes" not in line
             and "change signal" not in line]
    assert notes == [
        "note     tenant acme: ARTNUM 'A-000003' is used by 2 articles (REC_ID 2, 3): shops "
        "get duplicate models",
        "note     tenant acme: article REC_ID 4 has no ARTNUM and is not published"]
    assert lines[-1] == "0 problem(s)"
    assert all(line.startswith(("ok       ", "note     ")) for line in lines[:-1])


def test_an_unreachable_database_is_reported_not_raised(cao_db, phoenix_db, namespace, tmp_path,
                                                         capsys):
    entry = shop_entry("web", phoenix_db,
                       url=phoenix_db.url.set(port=1).render_as_string(hide_password=False))
    code, problems = _run(tmp_path, config_data(namespace, cao_db, [entry]), capsys)
    assert code == cli.EXIT_DATABASE          # listed with the rest, and the exit code says so
    assert any(p.startswith("PROBLEM  shop web:") and "MySQL error 2003" in p for p in problems)


def test_each_line_names_its_subject_once(cao_db, phoenix_db, namespace, tmp_path, capsys):
    """A database error already names its database: the line does not say "shop web: shop
    web:" (nor "tenant acme: tenant acme:")."""
    entry = shop_entry("web", phoenix_db,
                       url=phoenix_db.url.set(port=1).render_as_string(hide_password=False))
    data = config_data(namespace, cao_db, [entry])
    absent = cao_db.url.set(database=f"{cao_db.name}_absent")
    data["tenants"][0]["erp"]["url"] = absent.render_as_string(hide_password=False)

    code, problems = _run(tmp_path, data, capsys)

    assert code == cli.EXIT_DATABASE            # an unreachable database decides the code
    assert (f"PROBLEM  tenant acme: CAO database {absent}: MySQL error 1049: Unknown "
            f"database '{absent.database}'") in problems
    shop = [p for p in problems if p.startswith("PROBLEM  shop web: database ")]
    assert shop and "MySQL error 2003" in shop[0], problems
    for line in problems:
        subject = line.removeprefix("PROBLEM  ").split(": ", 1)[0] + ": "
        assert line.count(subject) == 1, line


def test_check_prints_its_own_lines_only_no_library_info(cao_db, phoenix_db, namespace,
                                                          tmp_path):
    """Image folders on SFTP: asyncssh logs every connection at INFO; none of it reaches
    check's output (a real process, without the test suite's logging set-up)."""
    fill_cao(cao_db, sample.articles(2), [])
    server = SftpServer(tmp_path / "sftp")
    for folder in ("erp", "shop"):
        (server.root / folder).mkdir(parents=True)
    server.start()
    try:
        secret = {"images_password_env": "SFTP_PW",
                  "images_known_hosts": str(server.known_hosts(tmp_path / "known_hosts"))}
        data = config_data(namespace, cao_db, [shop_entry(
            "web", phoenix_db, images_url=server.url("shop"), **secret)])
        data["tenants"][0]["erp"].update(images_url=server.url("erp"), **secret)
        path = tmp_path / "shopbridge.toml"
        path.write_text(to_toml(data))
        run = subprocess.run(
            [sys.executable, "-m", "shopbridge", "-c", str(path), "check"], cwd=REPO,
            env={**os.environ, "SFTP_PW": server.password, "SHOPBRIDGE_LOG_LEVEL": "INFO"},
            capture_output=True, text=True, timeout=60, check=False)
    finally:
        server.close()

    assert run.returncode == cli.EXIT_OK, run.stdout + run.stderr
    assert run.stderr == ""
    assert f"ok       shop web: image folder {server.url('shop')} reachable" in run.stdout
    assert all(line.startswith(("ok ", "note ", "PROBLEM ")) for line in
               run.stdout.splitlines()[:-1]), run.stdout


def test_a_kind_without_probes_is_one_problem_line(cao_db, phoenix_db, namespace):
    """The kinds' probes are looked up by name; one the lookup lacks is named, not a crash
    (the config refuses such kinds today, so the settings are edited after reading)."""
    import dataclasses

    from shopbridge import check
    from tests.conftest import settings_for

    fill_cao(cao_db, sample.articles(2), [])
    settings = settings_for(namespace, cao_db, [shop_entry("web", phoenix_db)])
    tenant = settings.tenants[0]
    shop = dataclasses.replace(tenant.shops[0], kind="magento")
    settings = dataclasses.replace(settings, tenants=(dataclasses.replace(tenant,
                                                                          shops=(shop,)),))

    report = check.run(settings)

    assert report.problems == [
        "shop web: kind 'magento' has no shop consumer (catalogue into the shop) "
        "(entry-point group shopbridge.shop_sinks); known: oscommerce, virtuemart"]
    assert not any(line.startswith("shop web:") for line in report.ok + report.notes)
