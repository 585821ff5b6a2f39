"""docker-compose.yml and the Dockerfile agree with the CLI and the example configuration.

No Docker and no YAML library: the compose file keeps to a plain, indentation-structured
subset of YAML (two-space steps, ``<<: *anchor`` merges, every ``command`` a JSON-compatible
flow sequence), which the small reader below walks strictly.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from shopbridge.cli import _parser

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
EXAMPLE = REPO / "shopbridge.example.toml"
CONFIG_IN_CONTAINER = PurePosixPath("/etc/shopbridge/shopbridge.toml")

KEY_RE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.<-]+):(?:\s+(?P<value>.*))?$")
REQUIRED_VAR_RE = re.compile(r"^\$\{(?P<name>[A-Z_][A-Z0-9_]*):\?[^}]*\}$")


# -- a strict reader for the subset of YAML the compose file uses -----------------------------

def _lines(text: str) -> list[str]:
    """Lines without comments and blank lines (no '#' appears inside a value here)."""
    out = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if line:
            assert "\t" not in line, f"tab in {raw!r}"
            out.append(line)
    return out


def _blocks(lines: list[str], indent: int) -> dict[str, list[str]]:
    """The keys at exactly ``indent`` spaces, each with the lines nested below it."""
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        depth = len(line) - len(line.lstrip(" "))
        assert depth >= indent, f"unexpected dedent: {line!r}"
        if depth == indent:
            match = KEY_RE.match(line)
            assert match, f"not a 'key:' line: {line!r}"
            key = match["key"]
            assert key not in blocks, f"duplicate key {key!r}"
            current = blocks[key] = [line]
        else:
            assert current is not None, f"line outside any key: {line!r}"
            current.append(line)
    return blocks


def _value(line: str) -> str:
    match = KEY_RE.match(line)
    assert match, line
    return (match["value"] or "").strip()


class Compose:
    def __init__(self, text: str) -> None:
        self.top = _blocks(_lines(text), 0)
        self.anchors: dict[str, list[str]] = {}
        for block in self.top.values():
            anchor = re.fullmatch(r"&([A-Za-z0-9_-]+)", _value(block[0]))
            if anchor:
                self.anchors[anchor[1]] = block[1:]
        assert "services" in self.top, "no top-level 'services:'"

    def service_names(self) -> list[str]:
        return list(_blocks(self.top["services"][1:], 2))

    def service(self, name: str) -> list[tuple[str, bool]]:
        """A service's lines, ``<<: *anchor`` merges expanded and re-indented to 4 spaces;
        each with whether it came from the anchor."""
        lines: list[tuple[str, bool]] = []
        for line in _blocks(self.top["services"][1:], 2)[name][1:]:
            merge = re.fullmatch(r" {4}<<: \*([A-Za-z0-9_-]+)", line)
            if merge:
                assert merge[1] in self.anchors, f"unknown anchor {merge[1]!r}"
                lines += [("  " + anchored, True) for anchored in self.anchors[merge[1]]]
            else:
                lines.append((line, False))
        return lines

    def keys(self, name: str) -> dict[str, list[str]]:
        """A service's keys after merging: its own win over the anchor's, as in YAML."""
        merged: dict[str, list[str]] = {}
        own: dict[str, list[str]] = {}
        current: list[str] = []
        for line, from_anchor in self.service(name):
            if len(line) - len(line.lstrip(" ")) == 4:
                key = KEY_RE.match(line)
                assert key, f"not a 'key:' line in {name}: {line!r}"
                target = merged if from_anchor else own
                assert key["key"] not in target, f"{name}: duplicate key {key['key']!r}"
                current = target[key["key"]] = [line]
            else:
                current.append(line)
        return merged | own

    def command(self, name: str) -> list[str]:
        lines = self.keys(name).get("command")
        assert lines, f"service {name} has no command"
        assert len(lines) == 1, f"{name}: write command as one flow sequence line"
        command = json.loads(_value(lines[0]))
        assert isinstance(command, list), name
        assert all(isinstance(arg, str) for arg in command), name
        return command

    def shopbridge_services(self) -> list[str]:
        return [n for n in self.service_names() if "command" in self.keys(n)]

    def environment(self, name: str) -> dict[str, str]:
        env = {}
        for line in self.keys(name).get("environment", [])[1:]:
            key, _, value = line.strip().partition(": ")
            env[key] = value.strip()
        return env


@pytest.fixture(scope="module")
def compose() -> Compose:
    return Compose(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def example() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))


def _example_shops(example: dict[str, Any]) -> list[str]:
    return [shop["name"] for tenant in example["tenants"] for shop in tenant.get("shops", [])]


def _walk(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, dict):
        yield data
        for value in data.values():
            yield from _walk(value)
    elif isinstance(data, list):
        for item in data:
            yield from _walk(item)


# -- the compose services --------------------------------------------------------------------

def test_the_reader_understands_the_file(compose):
    assert {"rabbitmq", "mariadb", "producer"} <= set(compose.service_names())
    assert compose.command("producer") == ["produce", "--follow"]


def test_every_shop_of_the_example_has_a_consumer_service(compose, example):
    for shop in _example_shops(example):
        name = f"consumer-{shop}"
        assert name in compose.service_names(), f"no service {name} for shop {shop}"
        args = _parser().parse_args(["-c", "x.toml", *compose.command(name)])
        assert (args.command, args.shop) == ("consume", shop)


def test_every_consumer_service_names_a_shop_of_the_example_or_the_erp(compose, example):
    shops = set(_example_shops(example))
    erp = []
    for name in compose.shopbridge_services():
        args = _parser().parse_args(["-c", "x.toml", *compose.command(name)])
        if args.command == "consume" and args.erp:
            erp.append(name)
        elif args.command == "consume":
            assert args.shop in shops, f"{name} consumes unknown shop {args.shop}"
            assert name == f"consumer-{args.shop}"
        elif args.command == "orders":
            assert args.shop in shops and args.follow, f"{name}: orders of {args.shop}"
    assert len(erp) == 1, "one ERP importer per tenant"


def test_every_shop_of_the_example_sends_its_orders(compose, example):
    commands = [compose.command(n) for n in compose.shopbridge_services()]
    for shop in _example_shops(example):
        assert ["orders", "produce", "--shop", shop, "--follow"] in commands


def test_every_command_parses_with_the_real_cli(compose):
    services = compose.shopbridge_services()
    assert len(services) >= 3
    for name in services:
        command = compose.command(name)
        try:
            _parser().parse_args(["-c", "x.toml", *command])
        except SystemExit as exit_:  # argparse's way of refusing
            pytest.fail(f"service {name}: shopbridge {' '.join(command)} is refused ({exit_})")


def test_the_producer_follows(compose):
    args = _parser().parse_args(["-c", "x.toml", *compose.command("producer")])
    assert args.command == "produce"
    assert args.follow


def test_no_service_pins_a_container_name_so_scaling_works(compose):
    for name in compose.service_names():
        assert "container_name" not in compose.keys(name), f"{name}: --scale would fail"


def test_shopbridge_services_wait_for_healthy_dependencies_and_restart(compose):
    for name in ("rabbitmq", "mariadb"):
        assert "healthcheck" in compose.keys(name), f"{name} has no healthcheck"
    for name in compose.shopbridge_services():
        keys = compose.keys(name)
        assert [_value(line) for line in keys["restart"]] == ["unless-stopped"], name
        depends = _blocks(keys["depends_on"][1:], 6)
        assert set(depends) == {"rabbitmq", "mariadb"}, name
        for dependency, lines in depends.items():
            assert [line.strip() for line in lines[1:]] == ["condition: service_healthy"], \
                f"{name} -> {dependency}"


def test_shopbridge_services_read_the_mounted_config(compose):
    for name in compose.shopbridge_services():
        assert compose.environment(name)["SHOPBRIDGE_CONFIG"] == str(CONFIG_IN_CONTAINER)
        volumes = [line.strip() for line in compose.keys(name)["volumes"][1:]]
        assert f"- ./shopbridge.toml:{CONFIG_IN_CONTAINER}:ro" in volumes, name


def test_every_secret_the_example_names_reaches_every_shopbridge_service(compose, example):
    env_vars = {str(table[key]) for table in _walk(example)
                for key in ("password_env", "url_env") if key in table}
    files = {str(CONFIG_IN_CONTAINER.parent / table["password_file"])
             for table in _walk(example) if "password_file" in table}
    assert env_vars and files
    for name in compose.shopbridge_services():
        env = compose.environment(name)
        for var in env_vars:  # the whole file is read, so every process needs every secret
            assert var in env, f"{name} lacks {var}"
            match = REQUIRED_VAR_RE.match(env[var])
            assert match and match["name"] == var, f"{name}: {var} must be ${{{var}:?...}}"
        targets = {_value(line) for line in compose.keys(name).get("secrets", [])
                   if line.strip().startswith("target:")}
        assert files <= targets, f"{name} lacks secret files {files - targets}"


def test_no_literal_password_in_the_compose_file():
    secret_key = re.compile(r"(PASS|PASSWORD|SECRET|TOKEN|_URL)$", re.IGNORECASE)
    for line in _lines(COMPOSE.read_text(encoding="utf-8")):
        assert not re.search(r"://[^/\s:@]+:[^@\s]+@", line), f"credentials in a URL: {line}"
        item = re.fullmatch(r"\s*-?\s*([A-Za-z_][A-Za-z0-9_]*)\s*[:=]\s*(\S.*)", line)
        if item and secret_key.search(item[1]):
            assert REQUIRED_VAR_RE.match(item[2].strip("\"'")), \
                f"{item[1]} must be a required ${{VAR:?...}} reference, not {item[2]!r}"


# -- the image --------------------------------------------------------------------------------

def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip())
            for line in (raw.strip() for raw in text.splitlines())
            if line and not line.startswith("#")]


def test_the_image_runs_shopbridge_as_an_unprivileged_user():
    instructions = _instructions()
    entrypoints = [json.loads(arg) for op, arg in instructions if op == "ENTRYPOINT"]
    assert entrypoints == [["shopbridge"]]
    assert [json.loads(arg) for op, arg in instructions if op == "CMD"] == [["--help"]]
    assert instructions[0] == ("FROM", "python:3.11-slim")
    users = [arg for op, arg in instructions if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")


def test_the_image_copies_everything_the_wheel_is_built_from():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    wheel = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]
    needed = {"pyproject.toml", pyproject["project"]["readme"], *wheel["packages"],
              *wheel["force-include"]}
    copied = {source.rstrip("/") for op, arg in _instructions() if op == "COPY"
              for source in arg.split()[:-1]}
    assert needed <= copied, f"not copied into the image: {needed - copied}"
    ignored = {line.strip().rstrip("/") for line in
               (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
               if line.strip() and not line.startswith("#")}
    assert not needed & ignored, f".dockerignore hides {needed & ignored}"
    assert {".venv", ".git", "bench/out", ".demo"} <= ignored
    assert any(op == "RUN" and "pip install ." in arg for op, arg in _instructions())


def test_every_service_is_checked_through_its_health_endpoint(compose):
    """/healthz (shopbridge/health.py) on the port every service gets in its environment."""
    for name in compose.shopbridge_services():
        port = compose.environment(name)["SHOPBRIDGE_HTTP_PORT"].strip('"')
        test = " ".join(line.strip() for line in compose.keys(name)["healthcheck"])
        assert f"http://127.0.0.1:{port}/healthz" in test, name
