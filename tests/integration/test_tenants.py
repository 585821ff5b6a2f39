"""P1: two tenants and three shops in one configuration, one shop inactive. Each tenant's
producer and each active shop's consumer run as the commands do (the CLI); every shop gets
exactly its tenant's catalogue, the inactive one nothing, even where two shops share a name."""

from __future__ import annotations

from typing import Any

from shopbridge import cli, sample
from tests.conftest import config_data, fill_cao, shop_entry
from tests.helpers import storefront, to_toml

DE = 2


def test_each_shop_gets_exactly_its_tenants_data(make_db, cao_db, phoenix_factory, namespace,
                                                  tmp_path, capsys):
    from tests.conftest import CAO_NAMES, CAO_SQL, require_reference

    beta_cao = make_db("cao_beta", require_reference(CAO_SQL), charset="latin1")
    with beta_cao.engine.begin() as conn:
        sample.cao_reference_data(conn, CAO_NAMES)
    fill_cao(cao_db, sample.articles(5), [])
    fill_cao(beta_cao, sample.articles(3, start=101, seed=11), [])
    acme_web, acme_outlet, beta_web = phoenix_factory(), phoenix_factory(), phoenix_factory()
    data: dict[str, Any] = config_data(namespace, cao_db, [
        shop_entry("web", acme_web), shop_entry("outlet", acme_outlet, active=False)])
    beta = config_data(namespace, beta_cao, [shop_entry("web", beta_web)])["tenants"][0]
    data["tenants"].append({**beta, "name": "beta"})
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(data))

    def run(*args: str) -> int:
        return cli.main(["-c", str(path), *args])

    for tenant in ("acme", "beta"):
        assert run("produce", "--tenant", tenant) == cli.EXIT_OK
    for tenant in ("acme", "beta"):
        assert run("consume", "--shop", "web", "--tenant", tenant,
                   "--until-idle", "0.5") == cli.EXIT_OK
    assert run("consume", "--shop", "outlet", "--until-idle", "0.5") == cli.EXIT_CONFIG
    assert run("status") == cli.EXIT_OK

    assert set(storefront(acme_web, DE)) == {f"A-{i:06d}" for i in range(1, 6)}
    assert set(storefront(beta_web, DE)) == {f"A-{i:06d}" for i in range(101, 104)}
    assert acme_outlet.scalar("SELECT COUNT(*) FROM products") == 0
    status = capsys.readouterr().out
    for target in ("acme/web", "acme/outlet", "acme/erp", "beta/web", "beta/erp"):
        assert f"\n{target} " in status, status
    assert "inactive" in next(line for line in status.splitlines()
                              if line.startswith("acme/outlet "))
