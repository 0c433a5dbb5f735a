"""The WeChat and WeChat Pay stand-ins served together on their own local port."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from core.clock import Clock, SystemClock
from sandbox.wechat import app as wechat_app
from sandbox.wechat.directory import Directory
from sandbox.wechatpay import app as wechatpay_app
from sandbox.wechatpay.keys import SandboxKeys
from server.log_masking import ACCESS_LOG_FORMAT


def create_app(
    keys: SandboxKeys,
    *,
    sp_mchid: str,
    apps: dict[str, str],
    clock: Clock | None = None,
    refund_delay: float | None = None,
    wall_clock: Clock | None = None,
    deduction_delay: float | None = None,
) -> web.Application:
    """One application answering both api.weixin.qq.com and api.mch.weixin.qq.com paths."""
    directory = Directory(dict(apps))
    app = wechatpay_app.create_app(
        keys,
        sp_mchid=sp_mchid,
        clock=clock,
        directory=directory,
        refund_delay=refund_delay,
        wall_clock=wall_clock,
        deduction_delay=deduction_delay,
    )
    app[wechat_app.WECHAT_KEY] = wechat_app.WeChatSandbox(directory, clock or SystemClock())
    wechat_app.install(app)
    return app


@dataclass(frozen=True, slots=True)
class RunningSandbox:
    """A started sandbox and the base URL clients should use."""

    runner: web.AppRunner
    base_url: str

    async def stop(self) -> None:
        """Stop serving and clean the application up."""
        await self.runner.cleanup()


async def serve(app: web.Application, host: str, port: int) -> RunningSandbox:
    """Serve the sandbox on host:port (0 picks a free port)."""
    # Its request lines carry secret=, js_code= and access_token=: masked (server.log_masking).
    runner = web.AppRunner(app, handle_signals=False, access_log_format=ACCESS_LOG_FORMAT)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise OSError(
            exc.errno, f"the WeChat sandbox cannot listen on {host}:{port}: {exc.strerror}"
        ) from exc
    sockets = [s for s in runner.addresses if isinstance(s, tuple)]
    actual_port = sockets[0][1] if sockets else port
    return RunningSandbox(runner, f"http://{host}:{actual_port}")
