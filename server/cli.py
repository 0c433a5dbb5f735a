"""The `parking` console script: serve, migrate, seed the demo city, quote, audit, staff."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import date
from typing import Any

from config.settings import Settings, SettingsError, load_settings
from server.log_format import configure_logging


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run one subcommand."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["quote"]:
        # The billing engine owns the quote options; pass them through untouched.
        from core.billing.cli import run_quote

        return int(run_quote(arguments[1:]))
    args = _parser().parse_args(arguments)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"parking: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings)
    return int(args.run(settings, args))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parking", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--workers", type=int, help="worker processes (default PARKING_WORKERS, 1)")
    serve.set_defaults(run=_serve)
    info = commands.add_parser("console-info", help="print the console's address, demo accounts")
    info.set_defaults(run=_console_info)
    migrate = commands.add_parser("migrate", help="migrate the database (default: to head)")
    migrate.add_argument("--revision", default="head")
    migrate.add_argument("--down", action="store_true", help="downgrade to --revision")
    migrate.set_defaults(run=_migrate)
    seed = commands.add_parser("seed-demo", help="load the demo city")
    seed.add_argument("--if-empty", action="store_true", help="do nothing if data exists")
    seed.set_defaults(run=_seed_demo)
    commands.add_parser("quote", help="price a stay with a tariff file (parking quote --help)")
    audit = commands.add_parser("audit", help="audit log tools")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    audit_commands.add_parser("verify", help="check the hash chain").set_defaults(run=_audit_verify)
    tariff = commands.add_parser("tariff", help="tariff versions")
    tariff_commands = tariff.add_subparsers(dest="tariff_command", required=True)
    publish = tariff_commands.add_parser("publish", help="store a tariff file as a new version")
    publish.add_argument("file")
    publish.add_argument("--reason", required=True)
    publish.set_defaults(run=_tariff_publish)
    sandbox = commands.add_parser("sandbox", help="serve the WeChat sandbox alone (compose.yaml)")
    sandbox.set_defaults(run=_sandbox)
    keys = commands.add_parser("sandbox-keys", help="make the WeChat Pay sandbox keys")
    keys.add_argument("--force", action="store_true", help="replace keys that exist")
    keys.set_defaults(run=_sandbox_keys)
    staff = commands.add_parser("staff", help="staff accounts")
    staff_commands = staff.add_subparsers(dest="staff_command", required=True)
    create = staff_commands.add_parser("create", help="create a staff account")
    create.add_argument("username")
    create.add_argument("--role", required=True)
    create.add_argument("--password", required=True)
    create.add_argument("--scope", action="append", default=[], help="kind:code, repeatable")
    create.add_argument("--merchant", default=None, help="merchant code (role merchant only)")
    create.set_defaults(run=_staff_create)
    _settlement_parser(commands)
    network = commands.add_parser("network", help="networked lots (docs/networking.md)")
    network_commands = network.add_subparsers(dest="network_command", required=True)
    register = network_commands.add_parser("register", help="register a lot from a JSON file")
    register.add_argument("file")
    register.set_defaults(run=_network_register)
    rotate = network_commands.add_parser("rotate-key", help="issue a new key for a lot")
    rotate.add_argument("code")
    rotate.set_defaults(run=_network_rotate)
    listing = network_commands.add_parser("list", help="the register; flags silent lots first")
    listing.set_defaults(run=_network_list)
    agent = commands.add_parser("lane-agent", help="run a lot's lane agent (docs/lane-agent.md)")
    agent.add_argument("--lot", required=True)
    agent.add_argument("--centre", default="http://127.0.0.1:8080")
    agent.add_argument("--journal", help="default: var/lane-agent-<lot>.db")
    agent.add_argument("--port", type=int, default=8181)
    agent.add_argument("--username", help="staff account with lane_control (password in env)")
    agent.set_defaults(run=_lane_agent)
    _add_report_commands(commands)
    simulate = commands.add_parser("simulate", help="drive a running server with a synthetic day")
    from sandbox.traffic_cli import add_arguments as add_simulate_arguments

    add_simulate_arguments(simulate)
    simulate.set_defaults(run=_simulate)
    from bot.cli import add_arguments as add_bot_arguments

    add_bot_arguments(commands)  # chat, wechat menu push
    return parser


def _settlement_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    settle = commands.add_parser("settlement", help="statements, hand-over files, profit sharing")
    settle_commands = settle.add_subparsers(dest="settlement_command", required=True)
    statement = settle_commands.add_parser("statement", help="an operator's monthly statement")
    statement.add_argument("operator")
    statement.add_argument("--month", required=True, help="YYYY-MM (Beijing)")
    statement.add_argument("--out", required=True, help="a .xlsx or .csv file")
    statement.set_defaults(run=_settlement_statement)
    handover = settle_commands.add_parser("handover", help="a hand-over batch as a file")
    handover.add_argument("ref")
    handover.add_argument("--out", required=True, help="a .xlsx or .csv file")
    handover.set_defaults(run=_settlement_handover)
    written = settle_commands.add_parser("write-offs", help="a month's approved write-offs")
    written.add_argument("--month", required=True, help="YYYY-MM (Beijing)")
    written.add_argument("--out", required=True, help="a .xlsx or .csv file")
    written.set_defaults(run=_settlement_write_offs)
    share = settle_commands.add_parser("share", help="run one day's profit sharing (idempotent)")
    share.add_argument("--date", required=True, help="YYYY-MM-DD (Beijing)")
    share.set_defaults(run=_settlement_share)


def _settlement_statement(settings: Settings, args: argparse.Namespace) -> int:
    from ops_api.settlement_commands import statement_command

    return asyncio.run(statement_command(settings, args.operator, args.month, args.out))


def _settlement_handover(settings: Settings, args: argparse.Namespace) -> int:
    from ops_api.settlement_commands import handover_command

    return asyncio.run(handover_command(settings, args.ref, args.out))


def _settlement_write_offs(settings: Settings, args: argparse.Namespace) -> int:
    from ops_api.settlement_commands import write_offs_command

    return asyncio.run(write_offs_command(settings, args.month, args.out))


def _settlement_share(settings: Settings, args: argparse.Namespace) -> int:
    from ops_api.settlement_commands import share_command

    return asyncio.run(share_command(settings, args.date))


def _add_report_commands(commands: Any) -> None:
    from ops_api.report_commands import FORMATS

    report = commands.add_parser("report", help="a report from the daily roll-ups")
    report.add_argument("name", help="revenue, occupancy, arrears-ageing, passes, ...")
    report.add_argument("--from", dest="first", required=True, type=date.fromisoformat)
    report.add_argument("--to", dest="last", required=True, type=date.fromisoformat)
    report.add_argument("--format", choices=FORMATS, default="json")
    report.add_argument(
        "--by", help="revenue: day, lot, zone, operator, ...; occupancy: place, hour"
    )
    report.add_argument("--out", help="file to write (default: standard output)")
    report.set_defaults(run=_report)
    jobs = commands.add_parser("jobs", help="scheduled jobs")
    job_commands = jobs.add_subparsers(dest="jobs_command", required=True)
    run = job_commands.add_parser("run", help="run a job for one period by hand")
    run.add_argument("name")
    run.add_argument("--date", required=True, type=date.fromisoformat, help="a day of the period")
    run.add_argument("--force", action="store_true", help="run again a period that succeeded")
    run.set_defaults(run=_jobs_run)
    job_commands.add_parser("list", help="the registered jobs").set_defaults(run=_jobs_list)


def _report(settings: Settings, args: argparse.Namespace) -> int:
    from core.errors import DomainError
    from core.reports.periods import DateRange
    from ops_api.report_commands import report_command

    try:
        period = DateRange(args.first, args.last)
    except DomainError as exc:
        print(f"parking report: {exc.message_zh}", file=sys.stderr)
        return 2
    return report_command(settings, args.name, period, args.format, by=args.by, out=args.out)


def _jobs_run(settings: Settings, args: argparse.Namespace) -> int:
    from ops_api.report_commands import run_job_command

    return asyncio.run(run_job_command(settings, args.name, args.date, force=args.force))


def _jobs_list(settings: Settings, _: argparse.Namespace) -> int:
    from ops_api.report_commands import list_jobs_command

    return list_jobs_command(settings)


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from config.production import check_production_settings
    from server.workers import serve

    try:
        check_production_settings(settings)
    except SettingsError as exc:
        print(f"parking: {exc}", file=sys.stderr)
        return 2
    _console_info(settings, args)
    if args.workers is not None:
        if not 1 <= args.workers <= 64:
            print("parking: --workers must be from 1 to 64", file=sys.stderr)
            return 2
        settings = settings.model_copy(update={"workers": args.workers})
    return serve(settings)


def _console_info(settings: Settings, _: argparse.Namespace) -> int:
    from console.banner import banner

    print("\n".join(banner(settings)), flush=True)
    return 0


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from core.store import migration

    if args.down:
        migration.downgrade(settings.database_url, args.revision)
    else:
        migration.upgrade(settings.database_url, args.revision)
    return 0


def _seed_demo(settings: Settings, args: argparse.Namespace) -> int:
    from sandbox.demo_city import seed_demo_city

    return asyncio.run(seed_demo_city(settings, if_empty=args.if_empty))


def _tariff_publish(settings: Settings, args: argparse.Namespace) -> int:
    from ops_api.tariff_commands import publish_tariff_command

    return asyncio.run(publish_tariff_command(settings, args.file, args.reason))


def _audit_verify(settings: Settings, _: argparse.Namespace) -> int:
    from ops_api.commands import verify_audit_command

    return asyncio.run(verify_audit_command(settings))


def _sandbox(settings: Settings, _: argparse.Namespace) -> int:
    from server.wechat import serve_sandbox

    asyncio.run(serve_sandbox(settings))
    return 0


def _sandbox_keys(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from sandbox.wechatpay.keys import MERCHANT_KEY_FILE, generate_keys

    folder = Path(settings.sandbox_keys_dir)
    if (folder / MERCHANT_KEY_FILE).exists() and not args.force:
        print(f"sandbox keys already in {folder} (--force replaces them)")
        return 0
    generate_keys().save(folder)
    print(f"sandbox keys written to {folder}")
    return 0


def _staff_create(settings: Settings, args: argparse.Namespace) -> int:
    from ops_api.commands import create_staff_command

    return asyncio.run(
        create_staff_command(
            settings, args.username, args.password, args.role, args.scope, merchant=args.merchant
        )
    )


def _network_register(settings: Settings, args: argparse.Namespace) -> int:
    from ops_api.network_commands import load_registration, register_command

    lot = load_registration(args.file)
    return 1 if lot is None else asyncio.run(register_command(settings, lot))


def _network_rotate(settings: Settings, args: argparse.Namespace) -> int:
    from ops_api.network_commands import rotate_command

    return asyncio.run(rotate_command(settings, args.code))


def _network_list(settings: Settings, _: argparse.Namespace) -> int:
    from ops_api.network_commands import list_command

    return asyncio.run(list_command(settings))


def _lane_agent(settings: Settings, args: argparse.Namespace) -> int:
    from device_bridge.agent.app import run_agent_command

    return run_agent_command(settings, args)


def _simulate(settings: Settings, args: argparse.Namespace) -> int:
    from sandbox.traffic_cli import run_simulate

    return asyncio.run(run_simulate(args))


if __name__ == "__main__":
    sys.exit(main())
