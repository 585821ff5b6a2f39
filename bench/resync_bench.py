"""The full sync (``shopbridge sync``, P3) of a synced Phoenix shop with N articles, killed
half-way and run again (issue 13's figure).

    .venv/bin/python bench/resync_bench.py [--articles 100000] [--kill-at 0.5]

In one run, against the local MariaDB and RabbitMQ:

1. Set-up (not timed): CAO with N articles and an empty Phoenix shop (bench/sync_bench.py's
   builders), a consumer process, one initial load; then every German description row is
   deleted in the shop (lost by hand: the regular cycle sends nothing, the ERP did not change).
2. ``shopbridge sync --shop shop --entity products`` as a child process, its progress lines
   kept; SIGKILLed once ``shopbridge_resync`` records ``--kill-at`` of N as published.
3. The same command again: it must continue after the last recorded page (its "resumed: X
   published before" line) and publish N - X, not N; then the consumer applies everything and
   the shop is compared with CAO row by row (sync_bench.verify).
4. Baseline in the same run: the uninterrupted sync of the same shop (the command once more,
   which starts over because the scan finished), for the time a sync of N takes.
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import time

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
    raw_connect,
    scalar,
    wait_until,
)

SHOP, TENANT, AMQP_URL_ENV = "shop", "bench", "SBBENCH_AMQP_URL"
DE = 2
RESUMED = re.compile(r"product: (\d+) event\(s\) republished(?: \(resumed: (\d+) published)?")


def _run_sync(env: sync_bench.Env, name: str, *, kill_at: int | None = None
              ) -> tuple[float, int | None, str]:
    """The sync command as a child; returns (seconds, published when killed, its output)."""
    cao = raw_connect(env.url(env.cao))
    # Not _common.spawn: its children log warnings only, and the progress lines are INFO.
    with (env.tmp / f"{name}.out").open("wb") as out, (env.tmp / f"{name}.err").open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "shopbridge", "-c", str(env.config_path), "sync",
             "--shop", SHOP, "--entity", "products"], cwd=REPO, stdout=out, stderr=err)
    env.children.append(proc)
    started = time.perf_counter()
    killed = None
    try:
        while proc.poll() is None:
            if kill_at is not None and scalar(cao, "SELECT COUNT(*) FROM information_schema."
                                                   "TABLES WHERE TABLE_SCHEMA = DATABASE() AND "
                                                   "TABLE_NAME = 'shopbridge_resync'"):
                done = scalar(cao, "SELECT COALESCE(MAX(published), 0) FROM shopbridge_resync "
                                   "WHERE scan = 'product' AND finished_at IS NULL")
                if done >= kill_at:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    killed = int(scalar(cao, "SELECT published FROM shopbridge_resync "
                                             "WHERE scan = 'product'"))
                    break
            time.sleep(0.01)
        proc.wait()
    finally:
        cao.close()
    env.children.remove(proc)
    said = ((env.tmp / f"{name}.out").read_text(errors="replace")
            + (env.tmp / f"{name}.err").read_text(errors="replace"))
    return time.perf_counter() - started, killed, said


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--kill-at", type=float, default=0.5,
                        help="SIGKILL the first sync when this share is published (default 0.5)")
    add_server_args(parser, amqp_default="amqp://guest:guest@127.0.0.1:5672//")
    add_output_args(parser)
    args = parser.parse_args()
    sync_bench.require_reference()
    command = command_line("bench/resync_bench.py")
    started = time.perf_counter()
    facts = machine_facts()
    n = args.articles
    with sync_bench.environment(args, "sbresync") as env:
        sync_bench.build_databases(env, n)
        _, shop = sync_bench.initial_load(env, n)
        assert env.settings is not None
        log("initial load done; deleting the German description rows")
        with shop.cursor() as cur:
            cur.execute("DELETE FROM products_description WHERE language_id = %s", (DE,))
        shop.commit()

        first_s, killed, first_out = _run_sync(env, "sync-1", kill_at=int(n * args.kill_at))
        log(f"first sync killed after {first_s:.1f} s with {killed} published")
        second_s, _, second_out = _run_sync(env, "sync-2")
        match = RESUMED.search(second_out)
        now = int(match[1]) if match else -1
        before = int(match[2]) if match and match[2] else 0
        applied = wait_until(lambda: sync_bench.german_rows(shop) >= n, timeout=900, interval=0.1)
        checks = sync_bench.verify(env, shop, n)
        base_s, _, base_out = _run_sync(env, "sync-3")
        base = RESUMED.search(base_out)
        progress_lines = [line for line in first_out.splitlines() if "sync shop product:" in line]
        shop.close()

    finish_facts(facts, started)
    ok = (killed is not None and before == killed and before + now == n and applied
          and checks.get("ok") is True)
    text = "\n".join([
        f"## Full sync killed half-way, {n:,} articles ({facts['date']})",
        "",
        f"Command: `{command}`  ",
        f"Machine: {facts['nproc']} cores, {facts['cpu']}; load {facts['load_start']} at "
        f"start, {facts['load_end']} at the end; git {facts['git']}",
        "",
        "| what | figure |",
        "|---|---|",
        f"| first `sync --entity products`, SIGKILLed | after {first_s:.1f} s, "
        f"{killed:,} of {n:,} recorded as published |" if killed is not None else
        "| first sync | not killed (finished first) |",
        f"| second `sync` | {second_s:.1f} s; resumed after {before:,}, republished {now:,} "
        f"(sum {before + now:,}) |",
        f"| shop equal to CAO afterwards (sync_bench.verify) | {checks.get('ok')} "
        f"(mismatches {checks.get('mismatches vs CAO')}) |",
        f"| baseline: an uninterrupted sync of the same shop, same run | {base_s:.1f} s, "
        f"{int(base[1]) if base else -1:,} republished |",
        f"| progress lines the killed run logged (not a terminal) | {len(progress_lines)}, "
        f"e.g. `{progress_lines[-1].split(': ', 1)[-1] if progress_lines else '-'}` |",
        "",
        f"Result: {'OK' if ok else 'FAILED'}: the rerun republished only what the killed run "
        "had not recorded.",
    ])
    publish(text, write_results=not args.no_results, blank_line_before=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
