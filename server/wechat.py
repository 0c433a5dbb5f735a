"""Builds the WeChat and WeChat Pay adapters from settings, with the local sandbox when asked."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import SecretStr

from adapters.wechat import MiniProgramClient
from adapters.wechatpay import PRODUCTION_BASE_URL, WeChatPayConfig, WeChatPayGateway
from adapters.wechatpay_bills import WeChatPayBills
from adapters.wechatpay_complaints import WeChatPayComplaints
from adapters.wechatpay_micropay import MicropayTiming, WeChatPayMicropay
from adapters.wechatpay_parking import WeChatPayParking
from adapters.wechatpay_profitsharing import WeChatPayProfitSharing
from config.settings import Settings, SettingsError
from core.clock import Clock, SystemClock
from core.notices import APPEAL_OUTCOME, STAY_FEE, STAY_OPENED
from core.payment_gateway import GatewayNotConfiguredError
from core.services import auto_pay
from core.services.auto_pay import AutoPayPorts
from core.services.micropay import MicropayPorts
from core.services.payment_sweep import sweep_all
from core.services.payments import PaymentSetup
from core.services.refunds import DUPLICATE_REFUNDED
from core.store.unit_of_work import UnitOfWork
from ops_api.cashier import MICROPAY_KEY
from sandbox import server as sandbox_server
from sandbox.wechatpay.keys import MERCHANT_KEY_FILE, SandboxKeys
from server.lane_publishing import (
    LANE_PUBLISHER_KEY,
    publish_app_lane_commands,
    publish_commands,
)
from server.resources import CLOCK_KEY, DATABASE_KEY, SETTINGS_KEY

log = logging.getLogger(__name__)

NOTIFY_PATH = "/mp/wechatpay/notify"
# What the sandbox plays when the settings name no real account.
SANDBOX_SP_MCHID = "1900000100"
SANDBOX_APPID = "wx5a0db0c0e0f1a2b3"
SANDBOX_SECRET = "5a0db0c0e0f1a2b3sandbox0secret00"
SANDBOX_REFUND_TEMPLATE = "sandbox-refund-template"
SANDBOX_ENTRY_TEMPLATE = "sandbox-entry-template"
SANDBOX_FEE_TEMPLATE = "sandbox-fee-template"
SANDBOX_ARREARS_TEMPLATE = "sandbox-arrears-template"
SANDBOX_APPEAL_TEMPLATE = "sandbox-appeal-template"
# The Official Account the sandbox plays (bot/account.py), when the settings name none.
SANDBOX_OA_APPID = "wx0a1b2c3d4e5f6a7b"
SANDBOX_OA_SECRET = "0a1b2c3d4e5f6a7bsandbox0oa0secret"
SANDBOX_OA_TOKEN = "sandbox-oa-token"
SANDBOX_OA_AES_KEY = "c2FuZGJveC1vZmZpY2lhbC1hY2NvdW50LWFlcy1rZXk"
_PAYMENT_SETTINGS = (
    "wechatpay_sp_mchid",
    "wechatpay_api_v3_key",
    "wechatpay_private_key_path",
    "wechatpay_cert_serial_no",
    "miniprogram_appid",
    "miniprogram_secret",
)


@dataclass(frozen=True, slots=True)
class WeChatServices:
    """The ports the mini-program routes use, built once per process."""

    gateway: WeChatPayGateway
    miniprogram: MiniProgramClient
    setup: PaymentSetup
    micropay: WeChatPayMicropay
    auto_pay_result_minutes: int = 30
    # Auto-pay entries and deductions started by lane reads, running beside the lane's answer.
    lane_tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def micropay_ports(self) -> MicropayPorts:
        """What the cashier's payment-code route needs."""
        return MicropayPorts(
            self.micropay, self.gateway, self.setup.appid, self.setup.refund_notify_url
        )

    @property
    def auto_pay_ports(self) -> AutoPayPorts:
        """What auto-pay and combined payments need, through the same client."""
        parking = WeChatPayParking(self.gateway)
        return AutoPayPorts(
            parking,
            self.gateway,
            self.miniprogram,
            self.setup,
            result_minutes=self.auto_pay_result_minutes,
        )

    @property
    def bills(self) -> WeChatPayBills:
        """The trade bills of the sub-merchants, through the same client."""
        return WeChatPayBills(self.gateway)

    @property
    def profit_sharing(self) -> WeChatPayProfitSharing:
        """分账 of the sub-merchants' payments, through the same client."""
        return WeChatPayProfitSharing(self.gateway)

    @property
    def complaints(self) -> WeChatPayComplaints:
        """消费者投诉 2.0 of the sub-merchants, through the same client."""
        return WeChatPayComplaints(self.gateway)

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self.gateway.aclose()


WECHAT_SERVICES_KEY = web.AppKey("wechat_services", WeChatServices)


def wechat(request: web.Request) -> WeChatServices:
    """The WeChat adapters, or a 503 when this deployment has none configured."""
    services = request.config_dict.get(WECHAT_SERVICES_KEY)
    if services is None:
        raise GatewayNotConfiguredError(detail="WeChat Pay / mini-program not configured")
    return services


SANDBOX_KEY = web.AppKey("wechat_sandbox", sandbox_server.RunningSandbox)


async def wechat_services(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: start the sandbox if configured, build the adapters, close them."""
    settings, clock = app[SETTINGS_KEY], app[CLOCK_KEY]
    running = None
    if settings.wechat_sandbox:
        running, settings = await _start_sandbox(settings, clock)
        if running is not None:
            app[SANDBOX_KEY] = running
    services = build_services(settings, clock)
    sweeper = None
    if services is not None:
        app[WECHAT_SERVICES_KEY] = services
        app[MICROPAY_KEY] = services.micropay_ports
        if settings.payments_sweep_seconds > 0:
            sweeper = asyncio.create_task(
                _sweep_forever(app, services, settings.payments_sweep_seconds)
            )
    try:
        yield
    finally:
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
        if services is not None:
            for task in list(services.lane_tasks):
                task.cancel()
            await asyncio.gather(*services.lane_tasks, return_exceptions=True)
            await services.aclose()
        if running is not None:
            await running.stop()


async def _sweep_forever(app: web.Application, services: WeChatServices, every: float) -> None:
    """Every `every` seconds, settle or close forgotten orders and resend stuck refunds."""
    while True:
        await asyncio.sleep(every)
        try:
            await sweep_once(app, services)
        except Exception:  # one bad round (database or WeChat down) must not end the loop
            log.exception("payment sweep failed; trying again in %s s", every)


async def sweep_once(app: web.Application, services: WeChatServices) -> None:
    """One round of the payment sweeps; the lanes of stays found paid open after the commits."""
    database, clock = app[DATABASE_KEY], app[CLOCK_KEY]

    def uows() -> UnitOfWork:
        return UnitOfWork(database.sessions)

    commands = await sweep_all(uows, clock, services.auto_pay_ports)
    await publish_app_lane_commands(app, commands)


def after_lane_decision(config: Mapping[Any, Any], stay_ref: str, *, exiting: bool) -> None:
    """Tell WeChat Pay of an entry, or ask an exit's deduction, beside the lane's answer.

    The lane never waits for it. `config` is the request's config_dict; a stay whose plate is
    not authorised costs one read.
    """
    services = config.get(WECHAT_SERVICES_KEY)
    if services is None:
        return
    task = asyncio.create_task(_auto_pay_now(config, services, stay_ref, exiting=exiting))
    services.lane_tasks.add(task)
    task.add_done_callback(services.lane_tasks.discard)


async def _auto_pay_now(
    config: Mapping[Any, Any], services: WeChatServices, stay_ref: str, *, exiting: bool
) -> None:
    database, clock = config[DATABASE_KEY], config[CLOCK_KEY]

    def uows() -> UnitOfWork:
        return UnitOfWork(database.sessions)

    ports = services.auto_pay_ports
    try:
        if not exiting:
            await auto_pay.enter_stay(uows, clock, ports, stay_ref)
            return
        commands = await auto_pay.deduct_stay(uows, clock, ports, stay_ref)
        await publish_commands(config.get(LANE_PUBLISHER_KEY), commands)
    except Exception:  # the sweep does it again; at the exit the car can still scan
        log.exception("auto-pay for %s after the lane failed; the sweep tries again", stay_ref)


def build_services(settings: Settings, clock: Clock) -> WeChatServices | None:
    """The adapters for the configured accounts; None when payments are not configured."""
    missing = [name for name in _PAYMENT_SETTINGS if not getattr(settings, name)]
    if len(missing) == len(_PAYMENT_SETTINGS):
        log.info("WeChat Pay not configured: mini-program payments answer 503")
        return None
    if missing:
        names = ", ".join(f"PARKING_{name.upper()}" for name in missing)
        raise SettingsError(f"WeChat Pay is partly configured; also set {names}")
    assert settings.wechatpay_sp_mchid and settings.wechatpay_api_v3_key
    assert settings.wechatpay_private_key_path and settings.wechatpay_cert_serial_no
    assert settings.miniprogram_appid and settings.miniprogram_secret
    key_path = Path(settings.wechatpay_private_key_path)
    if not key_path.is_file():
        raise SettingsError(f"PARKING_WECHATPAY_PRIVATE_KEY_PATH: no file {key_path}")
    notify_url = settings.wechatpay_notify_url or (
        f"http://{settings.host}:{settings.port}{NOTIFY_PATH}"
    )
    if not notify_url.startswith("https://") and not settings.wechat_sandbox:
        log.warning("WeChat Pay only notifies https URLs; %s will not be reached", notify_url)
    config = WeChatPayConfig(
        sp_mchid=settings.wechatpay_sp_mchid,
        sp_appid=settings.miniprogram_appid,
        private_key_pem=key_path.read_text(encoding="utf-8"),
        cert_serial_no=settings.wechatpay_cert_serial_no,
        api_v3_key=settings.wechatpay_api_v3_key.get_secret_value(),
        base_url=settings.wechatpay_base_url or PRODUCTION_BASE_URL,
        cert_dir=settings.wechatpay_cert_dir,
    )
    templates = (
        {DUPLICATE_REFUNDED: settings.refund_template_id} if settings.refund_template_id else {}
    )
    if settings.entry_template_id:  # driver features: "your car parked" notices
        templates[STAY_OPENED] = settings.entry_template_id
    if settings.fee_template_id:  # "your car left; the fee is" notices
        templates[STAY_FEE] = settings.fee_template_id
    if settings.appeal_template_id:  # "your appeal was answered" notices
        templates[APPEAL_OUTCOME] = settings.appeal_template_id
    miniprogram = MiniProgramClient(
        settings.miniprogram_appid,
        settings.miniprogram_secret.get_secret_value(),
        base_url=settings.wechat_api_base_url,
        templates=templates,
    )
    setup = PaymentSetup(settings.miniprogram_appid, notify_url, notify_url)
    gateway = WeChatPayGateway(config, clock)
    timing = MicropayTiming(settings.micropay_poll_seconds, settings.micropay_timeout_seconds)
    return WeChatServices(
        gateway,
        miniprogram,
        setup,
        WeChatPayMicropay(gateway, timing),
        auto_pay_result_minutes=settings.auto_pay_result_minutes,
    )


def sandbox_app(settings: Settings, clock: Clock, keys: SandboxKeys) -> web.Application:
    """The stand-ins playing the accounts the settings name (or the sandbox's own)."""
    appid, secret = _sandbox_miniprogram(settings)
    apps = {appid: secret}
    oa_secret = settings.wechat_secret.get_secret_value() if settings.wechat_secret else None
    apps[settings.wechat_appid or SANDBOX_OA_APPID] = oa_secret or SANDBOX_OA_SECRET
    sp_mchid = settings.wechatpay_sp_mchid or SANDBOX_SP_MCHID
    return sandbox_server.create_app(
        keys,
        sp_mchid=sp_mchid,
        apps=apps,
        clock=clock,
        refund_delay=1.0,
        deduction_delay=settings.sandbox_deduction_seconds,
    )


async def serve_sandbox(settings: Settings) -> None:
    """Serve the stand-ins alone until SIGTERM or SIGINT (`parking sandbox`)."""
    keys = SandboxKeys.load_or_create(Path(settings.sandbox_keys_dir))
    app = sandbox_app(settings, SystemClock(), keys)
    running = await sandbox_server.serve(app, settings.sandbox_host, settings.sandbox_port)
    print(f"======== WeChat sandbox on {running.base_url} ========", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await running.stop()


def _sandbox_miniprogram(settings: Settings) -> tuple[str, str]:
    appid = settings.miniprogram_appid or SANDBOX_APPID
    secret = settings.miniprogram_secret
    return appid, secret.get_secret_value() if secret else SANDBOX_SECRET


async def _start_sandbox(
    settings: Settings, clock: Clock
) -> tuple[sandbox_server.RunningSandbox | None, Settings]:
    """Serve the stand-ins (or use those at sandbox_url) and point the settings at them."""
    folder = Path(settings.sandbox_keys_dir)
    running = None
    if settings.sandbox_url:  # `parking sandbox` elsewhere made the keys: use the same ones
        keys = SandboxKeys.load(folder)
        base_url = settings.sandbox_url.rstrip("/")
    else:
        keys = SandboxKeys.load_or_create(folder)
        app = sandbox_app(settings, clock, keys)
        running = await sandbox_server.serve(app, settings.sandbox_host, settings.sandbox_port)
        base_url = running.base_url
    log.info("WeChat and WeChat Pay sandbox on %s (keys in %s)", base_url, folder)
    appid, secret = _sandbox_miniprogram(settings)
    sp_mchid = settings.wechatpay_sp_mchid or SANDBOX_SP_MCHID
    effective = settings.model_copy(
        update={
            "wechatpay_base_url": base_url,
            "wechat_api_base_url": base_url,
            "wechatpay_sp_mchid": sp_mchid,
            "wechatpay_api_v3_key": SecretStr(keys.api_v3_key),
            "wechatpay_private_key_path": str(folder / MERCHANT_KEY_FILE),
            "wechatpay_cert_serial_no": keys.merchant_serial_no,
            "miniprogram_appid": appid,
            "miniprogram_secret": SecretStr(secret),
            "refund_template_id": settings.refund_template_id or SANDBOX_REFUND_TEMPLATE,
            "entry_template_id": settings.entry_template_id or SANDBOX_ENTRY_TEMPLATE,
            "fee_template_id": settings.fee_template_id or SANDBOX_FEE_TEMPLATE,
            "arrears_template_id": settings.arrears_template_id or SANDBOX_ARREARS_TEMPLATE,
            "appeal_template_id": settings.appeal_template_id or SANDBOX_APPEAL_TEMPLATE,
        }
    )
    return running, effective
