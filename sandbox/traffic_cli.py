"""`parking simulate`: drive a running server with a synthetic day over HTTP or MQTT."""

from __future__ import annotations

import argparse
import asyncio
import json
import time as wall
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote

from sandbox.driver_services import AUTO_DEDUCT_PLATES, DEMO_REGISTER
from sandbox.traffic import DaySpec, LotSpec, SimEvent, generate_day, summary

DEMO_LOTS = {
    "LOT-TIANYI": ("浙B88888", "浙B5N111", "浙B5N222", "浙B66666", "浙B6R101", "浙B77777"),
    "LOT-HOSP": ("浙B11111",),
}
DEMO_BERTHS = tuple(f"{zone}-{n:03d}" for zone in ("HS1", "HS2", "JB3") for n in range(1, 21))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `parking simulate`."""
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the server to drive")
    parser.add_argument("--seed", type=int, default=1, help="same seed, same day")
    parser.add_argument("--lot", help="one lot (default: the whole demo city)")
    parser.add_argument("--cars", type=int, default=150, help="cars per lot")
    parser.add_argument("--day", help="YYYY-MM-DD (default: yesterday, so no time is ahead)")
    parser.add_argument("--speed", type=float, default=0.0, help="x real time; 0: at once")
    parser.add_argument("--transport", choices=("http", "mqtt"), default="http")
    parser.add_argument("--mqtt-url", default="mqtt://127.0.0.1:1883")
    parser.add_argument("--mqtt-prefix", default="parking/v1")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    parser.add_argument(
        "--auto-deduct-share",
        type=float,
        default=0.0,
        help="share of lot cars whose plate has WeChat Pay auto-deduct on (0..1)",
    )
    parser.add_argument(
        "--sandbox-url",
        default="http://127.0.0.1:8090",
        help="the WeChat sandbox of the server (to turn auto-deduct on for those plates)",
    )


def day_spec(args: argparse.Namespace, today: date) -> DaySpec:
    """The day the options describe (the demo city's lots and berths)."""
    day = date.fromisoformat(args.day) if args.day else today - timedelta(days=1)
    codes = [args.lot] if args.lot else sorted(DEMO_LOTS)
    lots = tuple(LotSpec(code, args.cars, DEMO_LOTS.get(code, ())) for code in codes)
    if not 0 <= args.auto_deduct_share <= 1:
        raise SystemExit("--auto-deduct-share must be between 0 and 1")
    return DaySpec(
        day=day,
        lots=lots,
        berths=() if args.lot else DEMO_BERTHS,
        auto_deduct_share=args.auto_deduct_share,
        auto_deduct_plates=AUTO_DEDUCT_PLATES,
    )


async def run_simulate(args: argparse.Namespace) -> int:
    """Generate the day and send it; print each event and a summary of what came back."""
    import aiohttp

    events = generate_day(day_spec(args, date.today()), args.seed)
    outcomes: Counter[str] = Counter()
    started = wall.monotonic()
    first = events[0].send_at if events else datetime.now()
    plates = sorted({e.payload["plate"] for e in events if "auto_deduct" in e.tags})
    async with aiohttp.ClientSession() as session, _mqtt(args) as mqtt:
        for plate in plates:
            await _authorise(session, args, plate)
        for event in events:
            if args.speed > 0:
                due = (event.send_at - first).total_seconds() / args.speed
                await asyncio.sleep(max(due - (wall.monotonic() - started), 0))
            outcome = await _send(session, mqtt, args, event)
            outcomes[f"{event.kind}:{outcome}"] += 1
            if not args.quiet:
                print(_line(event, outcome))
    print(
        json.dumps(
            {
                "seed": args.seed,
                "sent": summary(events),
                "outcomes": dict(outcomes),
                "auto_deduct_plates": len(plates),
            },
            ensure_ascii=False,
            sort_keys=True,
        )
    )
    return 0


async def _authorise(session: Any, args: argparse.Namespace, plate: str) -> None:
    """A driver binds and verifies the plate and turns auto-deduct on in WeChat (the sandbox)."""
    from server.wechat import SANDBOX_APPID

    url, sandbox = args.url.rstrip("/"), args.sandbox_url.rstrip("/")
    person = {"appid": SANDBOX_APPID, "person": f"auto-{plate}"}
    issued = await _post(session, f"{sandbox}/sandbox/wechat/login", person)
    token = (await _post(session, f"{url}/mp/login", {"code": issued["code"]}))["token"]
    headers = {"Authorization": f"Bearer {token}"}
    await _post(session, f"{url}/mp/me/plates", {"plate": plate}, headers, ok=(200, 201, 409))
    vin, owner = DEMO_REGISTER[plate]
    licence = {"vin": vin, "owner_name": owner}
    await _post(session, f"{url}/mp/me/plates/{quote(plate)}/licence", licence, headers)
    service = {
        "plate_number": plate,
        "plate_color": "BLUE",
        "openid": issued["openid"],
        "state": "NORMAL",
    }
    await _post(session, f"{sandbox}/sandbox/wechatpay/parking/plates", service)
    await _post(session, f"{url}/mp/me/plates/{quote(plate)}/auto-pay", None, headers)


async def _post(
    session: Any,
    url: str,
    body: dict[str, Any] | None,
    headers: dict[str, str] | None = None,
    *,
    ok: tuple[int, ...] = (200, 201),
) -> Any:
    async with session.post(url, json=body, headers=headers) as response:
        answer = await response.json(content_type=None)
        if response.status not in ok:
            raise SystemExit(f"{url}: {response.status} {answer}")
        return answer


class _NoMqtt:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


def _mqtt(args: argparse.Namespace) -> Any:
    if args.transport != "mqtt":
        return _NoMqtt()
    from urllib.parse import urlsplit

    import aiomqtt

    url = urlsplit(args.mqtt_url)
    host, port = url.hostname or "127.0.0.1", url.port or 1883
    return aiomqtt.Client(hostname=host, port=port, identifier=f"parking-simulate-{args.seed}")


async def _send(session: Any, mqtt: Any, args: argparse.Namespace, event: SimEvent) -> str:
    if event.kind == "berth_event" and mqtt is not None:
        topic = f"{args.mqtt_prefix}/sensors/{event.device}/events"
        await mqtt.publish(topic, json.dumps(event.payload, ensure_ascii=False), qos=1)
        return "published"
    # Lane reads go over HTTP in both modes: the centre's MQTT transport routes no lane topic yet.
    path = "/devices/lanes/reads" if event.kind == "lane_read" else "/devices/sensors/events"
    async with session.post(args.url.rstrip("/") + path, json=event.payload) as response:
        body = await response.json(content_type=None)
        if response.status >= 400:
            return f"{response.status}:{body.get('code')}"
        action = body.get("action")
        return f"{body.get('outcome')}/{action}" if action else str(body.get("outcome"))


def _line(event: SimEvent, outcome: str) -> str:
    what = event.payload.get("plate") or event.payload.get("state") or "-"
    tags = ",".join(event.tags)
    stamp = event.send_at.strftime("%H:%M:%S")
    return f"{stamp} {event.kind:<11} {event.device:<26} {what:<10} {tags:<16} -> {outcome}"
