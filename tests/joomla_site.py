"""A real VirtueMart 4.4 storefront for tests: the Joomla 5.2.1 site of SOURCE.txt's repository,
served by PHP's built-in server on a shop database of tests/virtuemart_db.py.

The site's PHP runs unchanged; only its database is ours. The repository holds no Joomla
install SQL, so the core tables a front-end page reads come from ``joomla_site.sql`` (columns
as in Joomla's base.sql, rows a minimal site: en-GB, one home menu item, no modules). The
VirtueMart language tables VirtueMart makes at runtime for vendors and payment/shipment
methods come from ``joomla_site_vm_languages.sql``, and the shop's config row starts from
the defaults VirtueMart's installer stores (the site's own ``virtuemart.cfg``).

Where PHP, its MySQL driver, the site's source or the reference SQL is missing,
``storefront_problem`` says which, and the tests skip with that reason.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import pymysql

from shopbridge import sample
from tests.conftest import Database
from tests.virtuemart_db import PREFIX, reference_problem

HERE = Path(__file__).parent
CORE_SQL = HERE / "joomla_site.sql"
VM_LANGUAGE_SQL = HERE / "joomla_site_vm_languages.sql"
# The site repository (tahiriqbalnajam/joomla_zakeke, SOURCE.txt): a bare git mirror, or an
# unpacked tree.
SITE_GIT = Path(os.environ.get("SHOPBRIDGE_VM_SITE_GIT",
                               "/work/.mirror/tahiriqbalnajam+joomla_zakeke/repo"))
SITE_DIR = os.environ.get("SHOPBRIDGE_VM_SITE_DIR")
VM_CFG = "administrator/components/com_virtuemart/virtuemart.cfg"
START_TIMEOUT_S = 15.0


def php_problem() -> str | None:
    """Why PHP cannot serve the site, or None."""
    php = shutil.which("php")
    if php is None:
        return "php binary absent (e.g. apt-get install php-cli php-mysql php-xml php-mbstring)"
    modules = subprocess.run([php, "-m"], capture_output=True, text=True, check=False).stdout
    missing = [m for m in ("mysqli", "mbstring", "SimpleXML", "json")
               if m.lower() not in modules.lower()]
    if missing:
        return f"PHP extension(s) {', '.join(missing)} absent (php-mysql, php-mbstring, php-xml)"
    return None


def source_problem() -> str | None:
    """Why the site's source cannot be had, or None."""
    if SITE_DIR:
        if not (Path(SITE_DIR) / "index.php").is_file():
            return f"SHOPBRIDGE_VM_SITE_DIR={SITE_DIR} holds no Joomla site (no index.php)"
        return None
    if not (SITE_GIT / "HEAD").is_file():
        return (f"Joomla+VirtueMart site source absent: no git mirror of "
                f"tahiriqbalnajam/joomla_zakeke at {SITE_GIT} (set SHOPBRIDGE_VM_SITE_GIT or "
                f"SHOPBRIDGE_VM_SITE_DIR)")
    if shutil.which("git") is None:
        return "git absent: the site's mirror cannot be unpacked"
    return None


def storefront_problem() -> str | None:
    """Why the storefront test cannot run here, or None."""
    return php_problem() or source_problem() or reference_problem() or next(
        (f"{path.name} absent beside {__file__}" for path in (CORE_SQL, VM_LANGUAGE_SQL)
         if not path.is_file()), None)


def unpack_site(dest: Path) -> None:
    """The site's files into ``dest``: every blob of the mirror's HEAD that the mirror holds
    (it may lack a few large ones, e.g. old logs), or a copy of SHOPBRIDGE_VM_SITE_DIR."""
    if SITE_DIR:
        shutil.copytree(SITE_DIR, dest, dirs_exist_ok=True)
    else:
        _unpack_git(SITE_GIT, dest)
    # Caches of the site's own machine (a namespace map with Windows paths, VM's menus)
    for cache in ("administrator/cache", "cache"):
        path = dest / cache
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir()
    (dest / "administrator" / "logs").mkdir(parents=True, exist_ok=True)
    (dest / "tmp").mkdir(exist_ok=True)


def link_copy(pristine: Path, dest: Path) -> None:
    """A copy of an unpacked site made of hard links (fast; PHP only reads the files). Write
    a file of the copy only by replacing it, as ``configure_site`` does."""
    shutil.copytree(pristine, dest, copy_function=os.link, dirs_exist_ok=True)


def _unpack_git(git_dir: Path, dest: Path) -> None:
    git = ["git", f"--git-dir={git_dir}"]
    listing = subprocess.run([*git, "ls-tree", "-r", "-z", "HEAD"], capture_output=True,
                             check=True).stdout.split(b"\0")
    entries: list[tuple[bytes, bytes, str]] = []
    for line in filter(None, listing):
        meta, raw_path = line.split(b"\t", 1)
        mode, kind, oid = meta.split()
        if kind == b"blob":
            entries.append((mode, oid, raw_path.decode()))
    batch = subprocess.Popen([*git, "cat-file", "--batch"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
    assert batch.stdin is not None and batch.stdout is not None
    try:
        for mode, oid, path in entries:
            batch.stdin.write(oid + b"\n")
            batch.stdin.flush()
            header = batch.stdout.readline().split()
            if header[-1] == b"missing":
                continue
            data = batch.stdout.read(int(header[2]))
            batch.stdout.read(1)                      # the newline after each object
            target = dest / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if mode == b"120000":
                target.symlink_to(data.decode())
            else:
                target.write_bytes(data)
    finally:
        batch.stdin.close()
        batch.wait()


def configure_site(site: Path, db: Database, *, prefix: str = PREFIX,
                   extra: Mapping[str, object] | None = None) -> None:
    """Point the site's configuration.php at ``db``: no caching, sessions on disk, no SEF
    rewriting (plain index.php URLs), errors shown; ``extra``: more settings (e.g. mail)."""
    url = db.url
    values = {
        "host": f"{url.host or '127.0.0.1'}:{url.port or 3306}", "user": url.username or "root",
        "password": url.password or "", "db": db.name, "dbprefix": prefix,
        "log_path": str(site / "administrator" / "logs"), "tmp_path": str(site / "tmp"),
        "session_handler": "filesystem", "caching": 0, "sef": False, "sef_rewrite": False,
        "live_site": "", "offset": "Europe/Berlin", "debug": False,
        "error_reporting": "maximum", "lifetime": 15, "force_ssl": 0,
        **(extra or {}),
    }
    lines = [f"\tpublic ${key} = {_php(value)};" for key, value in values.items()]
    text = (site / "configuration.php").read_text(encoding="utf-8")
    for key in values:
        text = re.sub(rf"\n\s*public \${key} = .*?;", "", text)
    text = text.replace("class JConfig {", "class JConfig {\n" + "\n".join(lines), 1)
    target = site / "configuration.php"
    target.unlink()                      # a hard link to the pristine copy: replace, not edit
    target.write_text(text, encoding="utf-8")


def _php(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def install_joomla(db: Database, site: Path, *, languages: Sequence[str],
                   prefix: str = PREFIX) -> None:
    """Joomla's core tables and VirtueMart's runtime tables and defaults into a shop
    database made by tests/virtuemart_db.py."""
    script = CORE_SQL.read_text(encoding="utf-8")
    template = VM_LANGUAGE_SQL.read_text(encoding="utf-8")
    for tag in languages:
        script += "\n" + template.replace("_xx_xx`", f"_{tag.lower().replace('-', '_')}`")
    sample.run_sql_file(db.url, script.replace("#__", prefix))
    conn = _connect(db)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT config FROM {prefix}virtuemart_configs "
                        "WHERE virtuemart_config_id = 1")
            (ours,) = _one(cur.fetchone())
            # The installer's defaults first; the test shop's own values win
            config = vm_defaults(site / VM_CFG) + str(ours or "")
            cur.execute(f"UPDATE {prefix}virtuemart_configs SET config = %s "
                        "WHERE virtuemart_config_id = 1", (config,))
            cur.execute(f"SELECT vendor_name FROM {prefix}virtuemart_vendors "
                        "WHERE virtuemart_vendor_id = 1")
            (vendor,) = _one(cur.fetchone())
            for tag in languages:
                suffix = tag.lower().replace("-", "_")
                cur.execute(f"INSERT INTO {prefix}virtuemart_vendors_{suffix} "
                            "(virtuemart_vendor_id, vendor_store_name, slug) VALUES (1, %s, %s)",
                            (vendor, re.sub(r"[^a-z0-9]+", "-", str(vendor).lower())))
        conn.commit()
    finally:
        conn.close()


def _one(row: tuple[object, ...] | None) -> tuple[object, ...]:
    if row is None:
        raise RuntimeError("the shop database lacks the config or vendor row "
                           "tests/virtuemart_db.py writes")
    return row


def vm_defaults(cfg: Path) -> str:
    """The ``[config]`` section of virtuemart.cfg in the shop's ``key=<json>|`` format, read
    the way VirtueMartModelConfig::readConfigFile reads it (values stay strings)."""
    out = []
    in_config = False
    for raw in cfg.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            in_config = line.upper() == "[CONFIG]"
            continue
        if not in_config or "=" not in line:
            continue
        line = line.split("//", 1)[0].strip()
        key, _, value = line.partition("=")
        value = value.split("=", 1)[0]             # readConfigFile keeps the part before a 2nd =
        parsed: object = value.split("|") if value.startswith("array:") else value
        if isinstance(parsed, list):
            parsed[0] = parsed[0][len("array:"):]
        out.append(f"{key}={json.dumps(parsed)}|")
    return "".join(out)


def _connect(db: Database) -> pymysql.Connection:
    url = db.url
    return pymysql.connect(host=url.host or "127.0.0.1", port=url.port or 3306,
                           user=url.username or "root", password=url.password or "",
                           database=db.name, charset="utf8mb4")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(site: Path, log: Path) -> Iterator[str]:
    """PHP's built-in server on the site; yields its base URL and stops it afterwards."""
    port = free_port()
    with log.open("wb") as out:
        server = subprocess.Popen(
            ["php", "-d", "memory_limit=512M", "-S", f"127.0.0.1:{port}", "-t", str(site)],
            cwd=site, stdout=out, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}/"
            _wait_until_listening(port, server)
            yield base
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _wait_until_listening(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"php -S exited with {server.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"php -S did not listen on port {port} within {START_TIMEOUT_S}s")


def browser() -> urllib.request.OpenerDirector:
    """An HTTP client keeping cookies, as a browser session does."""
    return urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def fetch(url: str, data: bytes | None = None, *,
          opener: urllib.request.OpenerDirector | None = None, timeout: float = 60.0
          ) -> tuple[int, str]:
    """(status, body) of a GET (a POST with ``data``); an HTTP error status is returned, not
    raised. ``url`` is always the local server's."""
    client = opener or urllib.request.build_opener()
    try:
        with client.open(url, data, timeout=timeout) as response:
            return int(response.status), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return int(err.code), err.read().decode("utf-8", "replace")
