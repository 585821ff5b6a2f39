"""The ``shopbridge`` command: parse, build, run, exit with a named code."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from . import __version__, dlq_cli, drift, dryrun_cli, history_cli, kinds, logs, topology
from . import config as cfg
from .cli_common import TENANT_HELP, confirmed
from .errors import (
    BrokerUnavailable,
    ConfigError,
    DryRunRefused,
    ShopbridgeError,
    TargetUnavailable,
)

EXIT_OK = 0           # done, nothing wrong
EXIT_PROBLEMS = 1     # the command ran and found problems (check), a cycle rejected events, a
                      # consumer dead-lettered events, or drift found differences
EXIT_CONFIG = 2       # the configuration file is missing or wrong
EXIT_BROKER = 3       # the broker (RabbitMQ or the embedded one's database) unreachable
EXIT_DATABASE = 4     # a database unreachable
EXIT_REFUSED = 5      # a dry run refused: the shop's database cannot promise to write nothing
EXIT_INTERRUPTED = 130
# `sync --entity` -> the snapshot entity types it republishes.
SYNC_ENTITIES = {"products": ("product",), "categories": ("category",),
                 "manufacturers": ("manufacturer",), "customers": ("customer",),
                 "all": ("product", "category", "manufacturer", "customer")}

log = logging.getLogger("shopbridge")

EXIT_HELP = """exit status:
  0  done, nothing wrong
  1  problems found (check), events rejected (produce, orders), events dead-lettered
     (consume, orders import), events that would fail (--dry-run), differences found
     (drift; also when --repair republished them)
  2  configuration missing or wrong
  3  broker (RabbitMQ, or the embedded broker's database) unreachable or login refused
  4  database unreachable or login refused
  5  dry run refused (a table a rollback cannot undo, setup not run, no dry run for the kind)
  130  interrupted (Ctrl-C)"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shopbridge", description=(
        "Keeps CAO-Faktura and online shops in sync through RabbitMQ."), epilog=EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-c", "--config", default=os.environ.get("SHOPBRIDGE_CONFIG",
                                                                 "shopbridge.toml"),
                        help="configuration file (default: $SHOPBRIDGE_CONFIG or "
                             "./shopbridge.toml)")
    parser.add_argument("--log-level", type=str.upper,
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        default=os.environ.get("SHOPBRIDGE_LOG_LEVEL", "INFO").upper(),
                        help="how much to log on stderr (default: $SHOPBRIDGE_LOG_LEVEL or INFO)")
    parser.add_argument("--log-format", choices=["text", "json"],
                        default=os.environ.get("SHOPBRIDGE_LOG_FORMAT", "text"),
                        help="text lines, or one JSON object per line with tenant, shop, event "
                             "type, key, event id and attempt as fields (default: "
                             "$SHOPBRIDGE_LOG_FORMAT or text)")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("check", help="check broker, databases, tables, grants and mappings")

    setup = sub.add_parser("setup", help=(
        "create and upgrade shopbridge's own tables; run once (and after upgrades) with a "
        "database user that may create tables, so the services need only DML grants"))
    setup.add_argument("--tenant", help="only this tenant (default: every tenant)")
    which = setup.add_mutually_exclusive_group()
    which.add_argument("--shop", help="only this shop's database")
    which.add_argument("--erp", action="store_true", help="only the tenant's CAO database")
    setup.add_argument("--db-user", metavar="USER",
                       help="log in as this database user instead of the configured ones")
    setup.add_argument("--db-password-env", metavar="VAR",
                       help="environment variable holding --db-user's password")

    produce = sub.add_parser("produce", help="publish ERP changes (one cycle, or --follow)")
    produce.add_argument("--tenant", help=TENANT_HELP)
    produce.add_argument("--follow", action="store_true", help="keep running")
    _http_port_option(produce)
    produce.add_argument("--stock-interval", type=float, default=0.5,
                         help="seconds between stock scans in --follow (default 0.5)")
    produce.add_argument("--full-interval", type=float, default=10.0,
                         help="seconds between full scans in --follow (default 10); with "
                              "the change signal, between looks at the other entities")
    produce.add_argument("--signal", choices=["auto", "triggers", "gate", "off"],
                         default=os.environ.get("SHOPBRIDGE_SIGNAL", "auto"),
                         help="how --follow learns of ERP changes: triggers ('shopbridge "
                              "capture --install'), gate (scan only tables written since), "
                              "off (scan on the intervals), auto: triggers where complete, "
                              "else gate (default: $SHOPBRIDGE_SIGNAL or auto)")
    produce.add_argument("--signal-interval", type=float, default=0.05,
                         help="seconds between reads of the change table (default 0.05)")
    produce.add_argument("--proof-interval", type=float, default=900.0,
                         help="seconds between full snapshot diffs with the change signal or "
                              "gate, the proof nothing was missed (default 900)")

    capture = sub.add_parser(
        "capture", help="install, remove or show the ERP change signal that --follow reads",
        description="Shows, installs (--install) or removes (--remove) the triggers that "
                    "write changed article ids into shopbridge_change in the ERP database, "
                    "so that 'produce --follow' diffs only what changed (docs/architecture.md,"
                    " \"Change signal\"). Named shopbridge_*, they sit beside the merchant's "
                    "own triggers; an error of theirs does not fail the merchant's write, but "
                    "their installing user must keep existing and keep TRIGGER, or every "
                    "write to the article tables fails: --remove first. Needs TRIGGER and "
                    "CREATE: --db-user as for setup.",
        epilog="exit status: 0 done (or the signal complete or absent), 1 the signal is "
               "incomplete, 2 configuration, 4 database unreachable")
    capture.add_argument("--tenant", help=TENANT_HELP)
    action = capture.add_mutually_exclusive_group()
    action.add_argument("--install", action="store_true",
                        help="create the change table and the missing triggers")
    action.add_argument("--remove", action="store_true",
                        help="drop shopbridge's triggers and the change table")
    capture.add_argument("--db-user", metavar="USER",
                         help="log in as this database user (one that may CREATE TRIGGER)")
    capture.add_argument("--db-password-env", metavar="VAR",
                         help="environment variable holding --db-user's password")

    consume = sub.add_parser(
        "consume", help="apply events to one shop, or to the ERP",
        description="Apply the events of one shop's (or the ERP's) work queue.",
        epilog="exit status: 0 nothing dead-lettered, 1 some events dead-lettered (see "
               "'shopbridge dlq list'), 2 configuration, 3 broker, 4 database unreachable, "
               "5 dry run refused")
    which = consume.add_mutually_exclusive_group(required=True)
    which.add_argument("--shop", help="the shop whose queue to consume")
    which.add_argument("--erp", action="store_true",
                       help="the tenant's ERP queue: shop orders into CAO-Faktura")
    consume.add_argument("--tenant", help=TENANT_HELP)
    consume.add_argument("--until-idle", type=float, metavar="SECONDS",
                         help="stop after the queue has been empty this long")
    _http_port_option(consume)
    consume.add_argument("--ready-max-lag", type=float, default=60.0, metavar="SECONDS",
                         help="/readyz fails while messages wait and the last batch's lag is "
                              "over this (default 60)")
    dryrun_cli.add_options(consume, queue=True)

    orders = sub.add_parser("orders", help="shop orders into the ERP: count, import, produce")
    orders_sub = orders.add_subparsers(dest="orders_command", required=True)
    for name, text in (("count", "new orders not yet sent to the ERP, and unpaid ones"),
                       ("import", "send new orders and import them into the ERP now"),
                       ("produce", "send new orders to the ERP queue (one cycle, or --follow)")):
        command = orders_sub.add_parser(name, help=text)
        command.add_argument("--shop", required=True,
                             help="the shop (its name in the configuration)")
        command.add_argument("--tenant", help=TENANT_HELP)
        if name == "produce":
            _http_port_option(command)
            command.add_argument("--follow", action="store_true", help="keep running")
            command.add_argument("--interval", type=float, default=5.0,
                                 help="seconds between cycles in --follow (default 5)")

    sync = sub.add_parser(
        "sync", help="full sync: republish the whole current state to a shop (resumable)",
        description="Runs a regular producer cycle, then republishes every published entity "
                    "into the shop's own queue, applied again by its consumer even where the "
                    "shop seems to have it (a language added, a filter changed, a shop made "
                    "active, rows edited by hand). An interrupted sync continues where it "
                    "stopped. Needs the shop's consumer running (or run it afterwards).")
    sync.add_argument("--shop", help="the shop to sync (without it: every active shop of the "
                                     "tenant)")
    sync.add_argument("--tenant", help=TENANT_HELP)
    sync.add_argument("--entity", choices=sorted(SYNC_ENTITIES), default="all",
                      help="what to republish (default all)")
    dryrun_cli.add_options(sync, queue=False)

    erp_indexes = sub.add_parser(
        "erp-indexes", help="show, add or remove the indexes the order import needs in CAO",
        description="CAO's own DDL has no index on the columns the order import looks orders "
                    "and customers up by, so imports slow down as CAO grows. --add creates the "
                    "missing ones (named shopbridge_*, no data changes; MyISAM locks each table "
                    "while it is rebuilt: run it when nobody books); --remove drops exactly "
                    "those. Needs ALTER: --db-user as for setup.")
    erp_indexes.add_argument("--tenant", help=TENANT_HELP)
    action = erp_indexes.add_mutually_exclusive_group()
    action.add_argument("--add", action="store_true", help="add the missing indexes")
    action.add_argument("--remove", action="store_true", help="remove shopbridge's indexes")
    erp_indexes.add_argument("--db-user", metavar="USER",
                             help="log in as this database user (one that may ALTER)")
    erp_indexes.add_argument("--db-password-env", metavar="VAR",
                             help="environment variable holding --db-user's password")

    reset = sub.add_parser(
        "reset", help="forget a shop's links, so that the next sync re-links by SKU and name",
        description="Deletes the shop's link rows of the entity (nothing else): the next "
                    "'shopbridge sync' takes over the shop's products by SKU, categories by "
                    "name and parent, manufacturers by name, customers by e-mail, instead of "
                    "creating them twice. Asks first; --yes skips the question.")
    reset.add_argument("--shop", required=True, help="the shop whose links to forget")
    reset.add_argument("--tenant", help=TENANT_HELP)
    reset.add_argument("--entity", choices=sorted(SYNC_ENTITIES), default="all",
                       help="which links (default all)")
    reset.add_argument("--yes", action="store_true", help="do not ask")

    dlq_cli.add_parser(sub)
    history_cli.add_parser(sub)
    drift.add_parser(sub)

    status = sub.add_parser("status", help="per shop and ERP: messages waiting, dead letters, "
                                           "what was applied last and how long ago")
    status.add_argument("--tenant", help="only this tenant")
    status.add_argument("--shop", help="only this shop")

    demo = sub.add_parser("demo", help="build demo databases and run one full sync")
    demo.add_argument("--articles", type=int, default=200,
                      help="sample articles in the demo CAO database (default 200)")
    demo.add_argument("--db-url", default=os.environ.get("SHOPBRIDGE_DEMO_DB_URL",
                                                         "mysql+pymysql://root@127.0.0.1:3306/"),
                      help="MariaDB server, without password (default: "
                           "$SHOPBRIDGE_DEMO_DB_URL or mysql+pymysql://root@127.0.0.1:3306/)")
    demo.add_argument("--amqp-url", default=os.environ.get(
        "SHOPBRIDGE_DEMO_AMQP_URL", "amqp://guest@127.0.0.1:5672//"),
        help="RabbitMQ, without password (default: $SHOPBRIDGE_DEMO_AMQP_URL or "
             "amqp://guest@127.0.0.1:5672//)")
    demo.add_argument("--broker", choices=("auto", "rabbitmq", "embedded"), default="auto",
                      help="auto (default): RabbitMQ when it answers, else the embedded broker "
                           "in MariaDB; rabbitmq: fail without it; embedded: never RabbitMQ")
    return parser


def _http_port_option(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get("SHOPBRIDGE_HTTP_PORT", "")
    parser.add_argument(
        "--http-port", type=int, metavar="PORT", default=int(env) if env.isdigit() else None,
        help="serve /metrics (Prometheus), /healthz and /readyz on this port while running "
             "(default: $SHOPBRIDGE_HTTP_PORT; none: no endpoint)")


def _serve(port: int | None, checks: Mapping[str, Callable[[], str | None]],
           ready: Callable[[], str | None] | None = None) -> Any:
    """The service's HTTP endpoint (shopbridge/health.py), or None without a port."""
    if port is None:
        return None
    from .health import HealthServer, ready_always

    return HealthServer(port=port, checks=checks, ready=ready or ready_always).start()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logs.setup(args.log_level.upper(), args.log_format)
    try:
        return _dispatch(args)
    except ConfigError as err:
        for problem in err.problems:     # every error of the file, one line each
            print(f"configuration error: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    except BrokerUnavailable as err:
        print(f"broker unavailable: {err}", file=sys.stderr)
        return EXIT_BROKER
    except TargetUnavailable as err:
        print(f"database unavailable: {err}", file=sys.stderr)
        return EXIT_DATABASE
    except DryRunRefused as err:
        print(f"refused: {err}", file=sys.stderr)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except ShopbridgeError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_PROBLEMS


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from .demo import run_demo

        return run_demo(articles=args.articles, db_url=args.db_url, amqp_url=args.amqp_url,
                        broker_kind=args.broker)
    settings = cfg.load(args.config)
    if args.command == "check":
        return _check(settings)
    if args.command == "setup":
        return _setup(settings, args)
    if args.command == "produce":
        return _produce(settings, args)
    if args.command == "consume":
        return _consume(settings, args)
    if args.command == "dlq":
        return _dlq(settings, args)
    if args.command == "status":
        return _status(settings, args)
    if args.command == "history":
        return _history(settings, args)
    if args.command == "sync":
        return _sync(settings, args)
    if args.command == "drift":
        return _drift(settings, args)
    if args.command == "reset":
        return _reset(settings, args)
    if args.command == "erp-indexes":
        return _erp_indexes(settings, args)
    if args.command == "capture":
        return _capture(settings, args)
    if args.command == "orders":
        where = settings.find_shop(args.shop, args.tenant)
        with logs.bound(tenant=where.tenant, shop=where.name):  # on every log line
            return _orders(settings, args)
    raise ConfigError(f"unknown command {args.command}")  # pragma: no cover


def _check(settings: cfg.Settings) -> int:
    from .check import run

    report = run(settings)
    for line in report.ok:
        print(f"ok       {line}")
    for line in report.notes:
        print(f"note     {line}")
    for line in report.problems:
        print(f"PROBLEM  {line}")
    print(f"{len(report.problems)} problem(s)")
    if report.unreachable:
        # A server that cannot be reached outranks the rest: main() ends with its one line
        # and exit code, the broker's before a database's.
        raise sorted(report.unreachable, key=lambda e: not isinstance(e, BrokerUnavailable))[0]
    return EXIT_PROBLEMS if report.problems else EXIT_OK


def _setup(settings: cfg.Settings, args: argparse.Namespace) -> int:
    from . import setup

    login = _login(args)
    for line in setup.run(settings, tenant=args.tenant, shop=args.shop, erp_only=args.erp,
                          login=login):
        print(line)
    print("setup done: the services need SELECT, INSERT, UPDATE and DELETE only")
    return EXIT_OK


def _login(args: argparse.Namespace) -> Any:
    """``--db-user`` / ``--db-password-env`` as a ``setup.Login``, or None."""
    from . import setup

    if args.db_password_env and not args.db_user:
        raise ConfigError("--db-password-env needs --db-user")
    if not args.db_user:
        return None
    password = None
    if args.db_password_env:
        password = os.environ.get(args.db_password_env)
        if password is None:
            raise ConfigError(f"environment variable {args.db_password_env} "
                              "(--db-password-env) is not set")
    return setup.Login(args.db_user, password)


def _erp_indexes(settings: cfg.Settings, args: argparse.Namespace) -> int:
    from .db import create_engine, translated

    tenant = settings.tenant(args.tenant)
    login = _login(args)
    db = login.apply(tenant.erp.db) if login is not None else tenant.erp.db
    action = "add" if args.add else "remove" if args.remove else "show"
    engine = create_engine(db)
    try:
        with translated(f"tenant {tenant.name}: CAO database {db.safe}"), \
                engine.connect() as conn:
            lines = kinds.erp_sink(tenant.erp.kind).indexes(conn, tenant, action)
    finally:
        engine.dispose()
    for line in lines:
        print(line)
    print(f"erp-indexes of tenant {tenant.name}: {action} done")
    return EXIT_OK


def _capture(settings: cfg.Settings, args: argparse.Namespace) -> int:
    from .db import create_engine, translated

    tenant = settings.tenant(args.tenant)
    login = _login(args)
    db = login.apply(tenant.erp.db) if login is not None else tenant.erp.db
    action = "install" if args.install else "remove" if args.remove else "status"
    source = kinds.erp_source(tenant.erp.kind)
    engine = create_engine(db)
    try:
        with translated(f"tenant {tenant.name}: CAO database {db.safe}"), \
                engine.connect() as conn:
            lines = source.capture(conn, tenant, action)
            complete = source.capture_complete(conn, tenant)
    finally:
        engine.dispose()
    for line in lines[:-1]:
        print(line)
    print(f"capture of tenant {tenant.name}: {action} done; {lines[-1]}")
    return EXIT_PROBLEMS if complete is False else EXIT_OK


def _stop_on_signals(target: kinds.Producer | kinds.Consumer) -> None:
    def handler(signum: int, frame: object) -> None:
        log.info("signal %d: finishing the current batch, then stopping", signum)
        target.stop_event.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _produce(settings: cfg.Settings, args: argparse.Namespace) -> int:
    tenant = settings.tenant(args.tenant)
    source = kinds.erp_source(tenant.erp.kind)
    producer = source.producer(broker=settings.broker, tenant=tenant)
    _stop_on_signals(producer)
    with logs.bound(tenant=tenant.name):
        return _run_producer(settings, args, producer, source, tenant)


def _run_producer(settings: cfg.Settings, args: argparse.Namespace,
                  producer: kinds.CatalogueProducer, source: kinds.ErpSource,
                  tenant: cfg.TenantConfig) -> int:
    try:
        if args.follow:     # prepares itself, and waits for whatever is away
            from .health import reachable
            from .metrics import producer_cycle

            def on_cycle(report: kinds.CatalogueReport) -> None:
                producer_cycle(tenant.name, "erp", report.published, report.seconds)
                if report.events:
                    log.info("published %s in %.2f s", dict(report.published),
                             report.seconds)

            http = _serve(args.http_port, reachable(
                settings.broker, {f"CAO database of tenant {tenant.name!r}": tenant.erp.db}))
            try:
                producer.follow(stock_interval_s=args.stock_interval,
                                full_interval_s=args.full_interval, on_cycle=on_cycle,
                                signal=args.signal, signal_interval_s=args.signal_interval,
                                proof_interval_s=args.proof_interval)
            finally:
                if http is not None:
                    http.close()
            return EXIT_OK
        producer.prepare()
        producer.session.connect()   # broker down: exit 3 even with nothing to publish
        report = producer.run_once()
    finally:
        producer.close()
    published = ", ".join(f"{n} {t}" for t, n in sorted(report.published.items())) or "nothing"
    print(f"published {published} in {report.messages} message(s), {report.seconds:.2f} s")
    for line in source.warnings(report):
        print(f"warning: {line}")
    for line in report.rejected:
        print(f"rejected: {line}")
    return EXIT_PROBLEMS if report.rejected else EXIT_OK


def _target(settings: cfg.Settings, args: argparse.Namespace) -> topology.Target:
    if getattr(args, "erp", False):
        return topology.Target.for_erp(settings.tenant(args.tenant).name)
    return topology.Target.for_shop(settings.find_shop(args.shop, args.tenant))


def _consume(settings: cfg.Settings, args: argparse.Namespace) -> int:
    if args.dry_run:
        return _print(dryrun_cli.consume(settings, args))
    target = _target(settings, args)
    sink: kinds.ShopSink | kinds.ErpSink
    if args.erp:
        tenant = settings.tenant(args.tenant)
        sink = kinds.erp_sink(tenant.erp.kind)
        applier = sink.applier(tenant)
    else:
        shop = settings.find_shop(args.shop, args.tenant)
        if not shop.active:
            raise ConfigError(f"shop {shop.name!r} is inactive (active = false)")
        sink = kinds.shop_sink(shop.kind)
        applier = sink.applier(shop)
    consumer = sink.consumer(broker=settings.broker, target=target, applier=applier)
    _stop_on_signals(consumer)
    http = _serve(args.http_port, consumer.health_checks(),
                  consumer.ready_check(args.ready_max_lag))
    try:
        stats = consumer.run(idle_exit_s=args.until_idle)
    finally:
        if http is not None:
            http.close()
        applier.close()
    print(f"{target.tenant}/{target.name}: {stats.events} event(s) in {stats.messages} message(s): "
          f"{stats.applied} applied, {stats.skipped} skipped (unchanged, stale or not "
          f"selected), {stats.retried} to "
          f"retry, {stats.dead} dead-lettered")
    for what, count in sorted(stats.unsupported.items()):
        print(f"  {count} product event(s) carried {what}, which this shop cannot show "
              "(see 'shopbridge check')")
    return EXIT_PROBLEMS if stats.dead else EXIT_OK


def _print_import_notes(settings: cfg.Settings, shop: cfg.ShopConfig) -> None:
    """What the ERP side recorded about this shop's imported orders (free-text positions,
    fitted text): a count without CAO's answer is still a count, so CAO being away is said,
    not fatal."""
    from .db import create_engine, translated

    tenant = next(t for t in settings.tenants if t.name == shop.tenant)
    sink = kinds.erp_sink(tenant.erp.kind)
    what = f"CAO database of tenant {tenant.name!r} ({tenant.erp.db.safe})"
    engine = create_engine(tenant.erp.db)
    try:
        with translated(what), engine.connect() as conn:
            notes = sink.import_notes(conn, shop.name)
    except ShopbridgeError as err:
        print(f"shop {shop.name}: import notes not read: {err}")
        return
    finally:
        engine.dispose()
    print(f"shop {shop.name}: {notes.orders} imported order(s) with import notes"
          + (":" if notes.orders else ""))
    for order_id, number, text in notes.newest:
        for line in text.splitlines():
            print(f"  order {order_id} (CAO {number}): {line}")


def _orders(settings: cfg.Settings, args: argparse.Namespace) -> int:
    shop = settings.find_shop(args.shop, args.tenant)
    source = kinds.shop_source(shop.kind)
    producer = source.order_producer(broker=settings.broker, shop=shop)
    accounts = source.account_producer(broker=settings.broker, shop=shop)
    try:
        if args.orders_command == "count":
            count = producer.count()
            print(f"shop {shop.name}: {count.new} new order(s) not yet sent to the ERP, "
                  f"{count.waiting} waiting for payment (not final in the shop yet)")
            _print_import_notes(settings, shop)
            return EXIT_OK
        if args.orders_command == "produce" and args.follow:
            from .health import reachable

            _stop_on_signals(producer)
            http = _serve(args.http_port, reachable(
                settings.broker, {f"database of shop {shop.name!r}": shop.db}))
            try:
                source.follow(producer, accounts, interval_s=args.interval)  # rides outages
            finally:
                if http is not None:
                    http.close()
            return EXIT_OK
        producer.prepare()
        accounts.prepare()
        producer.session.connect()   # broker down: exit 3 even with nothing to send
        registered = accounts.run_once()
        report = producer.run_once()
    finally:
        producer.close()
        accounts.close()
    print(f"shop {shop.name}: sent {registered.published} new account(s) and "
          f"{report.published} order(s) to the ERP queue; {report.waiting} waiting for payment")
    for line in [*registered.rejected, *report.rejected]:
        print(f"rejected: {line}")
    dead = 0
    if args.orders_command == "import":
        tenant = settings.tenant(shop.tenant)
        sink = kinds.erp_sink(tenant.erp.kind)
        applier = sink.applier(tenant)
        consumer = sink.consumer(broker=settings.broker, applier=applier,
                                 target=topology.Target.for_erp(tenant.name))
        try:
            stats = consumer.run(idle_exit_s=1.0)
        finally:
            applier.close()
        print(f"ERP of tenant {tenant.name}: {stats.applied} order(s)/account(s) imported, "
              f"{stats.skipped} already there, {stats.retried} to retry, "
              f"{stats.dead} dead-lettered (see 'shopbridge dlq list --erp')")
        dead = stats.dead
    return EXIT_PROBLEMS if report.rejected or registered.rejected or dead else EXIT_OK


def _dlq(settings: cfg.Settings, args: argparse.Namespace) -> int:
    return dlq_cli.run(settings, args, _target(settings, args), ok=EXIT_OK,
                       problems=EXIT_PROBLEMS)


def _history(settings: cfg.Settings, args: argparse.Namespace) -> int:
    _, lines = history_cli.run(settings, args)
    for line in lines:
        print(line)
    return EXIT_OK


def _drift(settings: cfg.Settings, args: argparse.Namespace) -> int:
    report, _ = drift.run(settings, args, say=print)
    return EXIT_PROBLEMS if report.total else EXIT_OK


def _status(settings: cfg.Settings, args: argparse.Namespace) -> int:
    from . import status

    rows = status.collect(settings, tenant=args.tenant, shop=args.shop)
    for line in status.render(rows):
        print(line)
    away = [r for r in rows if r.problem]
    if away:
        print(f"database unavailable: {away[0].problem}"
              + (f" (and {len(away) - 1} more)" if len(away) > 1 else ""), file=sys.stderr)
        return EXIT_DATABASE
    return EXIT_OK


def _print(out: tuple[Sequence[str], bool]) -> int:
    """A dry run's lines; exit 1 where an event would fail, as the real run's would."""
    lines, failing = out
    for line in lines:
        print(line)
    return EXIT_PROBLEMS if failing else EXIT_OK


def _sync(settings: cfg.Settings, args: argparse.Namespace) -> int:
    from .progress import Progress

    if args.dry_run:
        return _print(dryrun_cli.sync(settings, args, SYNC_ENTITIES[args.entity]))
    if not args.shop:
        tenant = settings.tenant(args.tenant)
        shops = [s for s in tenant.shops if s.active]
    else:
        shops = [settings.find_shop(args.shop, args.tenant)]
        tenant = settings.tenant(shops[0].tenant)
    source = kinds.erp_source(tenant.erp.kind)
    rejected = 0
    for shop in shops:
        producer = source.producer(broker=settings.broker, tenant=tenant)
        _stop_on_signals(producer)
        progress = Progress(f"sync {shop.name}")
        try:
            producer.prepare()
            report = producer.resync(shop, SYNC_ENTITIES[args.entity], progress.update)
        finally:
            progress.close()
            producer.close()
        rejected += len(report.rejected)
        for scan in report.scans:
            resumed = f" (resumed: {scan.before} published before)" if scan.before else ""
            print(f"{tenant.name}/{shop.name} {scan.scan}: {scan.now} event(s) "
                  f"republished{resumed}")
        stopped = producer.stop_event.is_set()
        print(f"sync of {tenant.name}/{shop.name} "
              f"{'interrupted: run it again to continue' if stopped else 'done'}: "
              f"{sum(s.now for s in report.scans)} event(s) in {report.seconds:.1f} s"
              + (f", {len(report.rejected)} rejected" if report.rejected else ""))
        if stopped:
            return EXIT_INTERRUPTED
    return EXIT_PROBLEMS if rejected else EXIT_OK


def _reset(settings: cfg.Settings, args: argparse.Namespace) -> int:
    shop = settings.find_shop(args.shop, args.tenant)
    entities = SYNC_ENTITIES[args.entity]
    where = f"{shop.tenant}/{shop.name}"
    if not confirmed(yes=args.yes,
                     action=f"reset would forget {where}'s links of {', '.join(entities)}",
                     question=f"forget {where}'s links of {', '.join(entities)}? The shop's "
                              f"rows stay; run 'shopbridge sync --shop {shop.name}' next. "
                              f"[y/N] "):
        print(f"reset of {where}: not confirmed, nothing forgotten")
        return EXIT_OK
    forgotten = kinds.shop_sink(shop.kind).reset(shop, entities)
    print(f"reset of {where}: forgot "
          + ", ".join(f"{n} {entity} link(s)" for entity, n in forgotten.items())
          + f"; now run 'shopbridge sync --shop {shop.name}'")
    return EXIT_OK
