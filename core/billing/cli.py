"""`parking quote`: price a stay from a tariff file and print the quote as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime

from core.billing.day_calendar import ChineseDayCalendar, DayType
from core.billing.errors import BillingError
from core.billing.pricing import quote_lost_ticket, quote_stay
from core.billing.tariff_parser import load_tariff_file


def _aware(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a UTC offset, e.g. +08:00")
    return value


def _override(text: str) -> tuple[date, DayType]:
    try:
        day, kind = text.split("=")
        return date.fromisoformat(day), DayType(kind)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not DATE=DAYTYPE") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parking quote", description="Price one stay.")
    parser.add_argument("--tariff", required=True, help="tariff file (.toml or .json)")
    parser.add_argument("--entry", type=_aware, help="entry time, ISO 8601 with offset")
    parser.add_argument("--exit", required=True, type=_aware, help="exit time, ISO 8601")
    parser.add_argument("--vehicle-class", default="small", help="small, large, new_energy, …")
    parser.add_argument("--lost-ticket", action="store_true", help="add the lost-ticket fee")
    parser.add_argument(
        "--day-type",
        action="append",
        type=_override,
        default=[],
        metavar="DATE=TYPE",
        help="calendar override, e.g. 2027-01-01=holiday (repeatable)",
    )
    return parser


def run_quote(argv: list[str]) -> int:
    """Run `parking quote ...` (argv without the program name); print JSON; return exit code."""
    if argv[:1] == ["quote"]:
        argv = argv[1:]
    args = _parser().parse_args(argv)
    calendar = ChineseDayCalendar(dict(args.day_type))
    try:
        tariff = load_tariff_file(args.tariff)
        if args.entry is None:
            if not args.lost_ticket:
                print("error: --entry is required unless --lost-ticket is given", file=sys.stderr)
                return 2
            result = quote_lost_ticket(
                tariff, args.exit, vehicle_class=args.vehicle_class, calendar=calendar
            )
        else:
            result = quote_stay(
                tariff,
                args.entry,
                args.exit,
                vehicle_class=args.vehicle_class,
                calendar=calendar,
                lost_ticket=args.lost_ticket,
            )
    except (OSError, BillingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_quote(sys.argv[1:]))
