"""What ``sync --dry-run`` (B2) costs against the real sync of the same shop (N articles).

    .venv/bin/python bench/dryrun_bench.py [--articles 10000]

In one run, against the local MariaDB and RabbitMQ:

1. Set-up (not timed): CAO with N articles and an empty Phoenix shop (bench/sync_bench.py's
   builders), a consumer process, one initial load; then every German description row is
   deleted in the shop (lost by hand), so that a sync has N rows to write back.
2. ``shopbridge sync --shop shop --entity products --dry-run --format json`` as a child:
   wall time, its peak memory (ru_maxrss), the diff's counts; CHECKSUM TABLE of every shop
   table before and after (must be equal).
3. Baseline in the same run: the real ``sync --entity products`` and the running consumer
   until the shop has its N German rows again.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

import sync_bench
from _common import (
    REPO,
    add_output_args,
    add_server_args,
    command_line,
    finish_facts,
    log,
    machine_facts,
    publish,
    wait_until,
)

SHOP, TENANT, AMQP_URL_ENV = "shop", "bench", "SBBENCH_AMQP_URL"
DE = 2


def _checksums(conn: Any) -> dict[str, Any]:
    with conn.cursor() as cur:
        cur.execute("SELECT TABLE_NAME FROM information_schema.TABLES "
                    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'")
        tables = [r[0] for r in cur.fetchall()]
        cur.execute("CHECKSUM TABLE " + ", ".join(f"`{t}`" for t in tables))
        return {str(r[0]): r[1] for r in cur.fetchall()}


def _run(env: sync_bench.Env, name: str, *extra: str) -> tuple[float, int, str, str]:
    """The sync command as a child: (seconds, peak RSS in MB, stdout, stderr)."""
    with (env.tmp / f"{name}.out").open("wb") as out, (env.tmp / f"{name}.err").open("wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "shopbridge", "-c", str(env.config_path), "sync",
             "--shop", SHOP, "--entity", "products", *extra], cwd=REPO, stdout=out, stderr=err)
        env.children.append(proc)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
    env.children.remove(proc)
    return (seconds, usage.ru_maxrss // 1024, (env.tmp / f"{name}.out").read_text(),
            (env.tmp / f"{name}.err").read_text(errors="replace"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--articles", type=int, default=10_000)
    add_server_args(parser, amqp_default="amqp://guest:guest@127.0.0.1:5672//")
    add_output_args(parser)
    args = parser.parse_args()
    sync_bench.require_reference()
    command = command_line("bench/dryrun_bench.py")
    started = time.perf_counter()
    facts = machine_facts()
    n = args.articles
    with sync_bench.environment(args, "sbdryrun") as env:
        sync_bench.build_databases(env, n)
        _, shop = sync_bench.initial_load(env, n)
        assert env.settings is not None
        log("initial load done; deleting the German description rows")
        with shop.cursor() as cur:
            cur.execute("DELETE FROM products_description WHERE language_id = %s", (DE,))
        shop.commit()

        before = _checksums(shop)
        dry_s, dry_mb, dry_out, dry_err = _run(env, "dry", "--dry-run", "--format", "json")
        unchanged = _checksums(shop) == before and sync_bench.german_rows(shop) == 0
        try:
            dry = json.loads(dry_out.splitlines()[-1])
        except (ValueError, IndexError):
            log(f"dry run printed no JSON: {dry_err[-2000:]}")
            dry = {"counts": {}, "events": 0}
        log(f"dry run {dry_s:.1f} s, {dry_mb} MB, counts {dry['counts']}")

        real_started = time.perf_counter()
        real_s, real_mb, _, _ = _run(env, "real")
        applied = wait_until(lambda: sync_bench.german_rows(shop) >= n, timeout=900, interval=0.1)
        real_applied_s = time.perf_counter() - real_started
        shop.close()
    finish_facts(facts, started)
    inserted = dry["counts"].get("insert", 0)
    ok = unchanged and applied and inserted >= n
    text = "\n".join([
        f"## Dry run of a full sync (B2), {n:,} articles ({facts['date']})",
        "",
        f"Command: `{command}`  ",
        f"Machine: {facts['nproc']} cores, {facts['cpu']}; load {facts['load_start']} at "
        f"start, {facts['load_end']} at the end (other helpers' work on the machine); "
        f"git {facts['git']}",
        "",
        "| what | figure |",
        "|---|---|",
        f"| `sync --entity products --dry-run --format json` (apply, diff, rollback) | "
        f"{dry_s:.1f} s, peak RSS {dry_mb} MB; {dry.get('events', 0):,} events; rows "
        f"{dry['counts']} |",
        f"| shop tables' CHECKSUM equal before and after the dry run | {unchanged} |",
        f"| baseline, same run: the real `sync --entity products` (publishing only) | "
        f"{real_s:.1f} s, peak RSS {real_mb} MB |",
        f"| ... and the running consumer until all {n:,} German rows are back | "
        f"{real_applied_s:.1f} s from the sync's start{'' if applied else ' (NOT reached)'} |",
        "",
        f"Result: {'OK' if ok else 'FAILED'}: the dry run wrote nothing and showed the "
        f"{n:,} rows the real sync then wrote back.",
    ])
    publish(text, write_results=not args.no_results, blank_line_before=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
