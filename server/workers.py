"""Serving the app: one process, or several worker processes sharing the port."""

from __future__ import annotations

import asyncio
import errno
import gc
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType

from aiohttp import web

from config.settings import Settings
from server.log_format import configure_logging
from server.log_masking import ACCESS_LOG_FORMAT
from server.metrics_endpoint import (
    forget_worker,
    prepare_multiprocess_dir,
    remove_multiprocess_dir,
)
from server.request_ids import RequestAccessLogger

log = logging.getLogger(__name__)

_STOP_SECONDS = 15.0  # shutdown_timeout plus the cleanup contexts


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (its sockets cost less CPU per request), else asyncio's."""
    try:
        import uvloop
    except ImportError:  # Windows: no uvloop
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def collect_rarely() -> None:
    """The collector's thresholds for a centre process (the benches set the same)."""
    # Every unit of work leaves some forty objects in reference cycles (SQLAlchemy's session,
    # transaction and event dispatch), freed only by the collector. The default threshold (700)
    # collects every few requests; 50,000 made each young collection a 30-90 ms pause (tens of
    # thousands of cycles to free). 10,000: about 5 ms each, and less time in all
    # (docs/performance.md).
    gc.set_threshold(10_000, 50, 100)


async def _freeze_heap(_app: object) -> None:
    # What start-up built (modules, mappers, pools, caches) lives as long as the process:
    # moved out of the collector's sight, a full collection no longer walks it mid-request.
    gc.collect()
    gc.freeze()


class StartError(Exception):
    """The server could not start (a port taken, a service refused): one line says why."""


def serve_one(settings: Settings, *, reuse_port: bool = False) -> int:
    """Run the app in this process until SIGTERM or SIGINT; 1 when it could not start."""
    from server.app import create_app

    collect_rarely()
    app = create_app(settings)
    app.on_startup.append(_freeze_heap)
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    code = 1
    try:
        loop.run_until_complete(_serve_until_stopped(app, settings, reuse_port=reuse_port))
        code = 0
    except StartError as exc:
        log.error("parking serve could not start: %s", exc)
    finally:
        # Whatever a failed start left running (pool threads) must not keep the process alive.
        _exit_soon(_STOP_SECONDS, code)
        loop.close()
    return code


async def _serve_until_stopped(
    app: web.Application, settings: Settings, *, reuse_port: bool
) -> None:
    """Start, serve until a signal, then drain: open connections get a few seconds to finish."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    main = asyncio.current_task()
    assert main is not None
    started = False

    def on_signal() -> None:
        log.info("stopping")
        _exit_soon(_STOP_SECONDS)  # a drain that hangs must not keep the process alive
        if started:
            stop.set()
        else:
            main.cancel()  # still starting (a database that does not answer): give up

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal)
    access_log = logging.getLogger("aiohttp.access") if settings.access_log else None
    # Open keep-alive and event-stream connections get 10 s to finish, not the default 60.
    runner = web.AppRunner(
        app,
        shutdown_timeout=10,
        access_log=access_log,
        access_log_class=RequestAccessLogger,
        access_log_format=ACCESS_LOG_FORMAT,
    )
    try:
        try:
            await runner.setup()  # the cleanup contexts: database, brokers, the sandbox
            site = web.TCPSite(runner, settings.host, settings.port, reuse_port=reuse_port or None)
            await site.start()
        except asyncio.CancelledError:
            raise StartError("stopped by a signal while starting") from None
        except Exception as exc:
            log.debug("start failed", exc_info=True)
            raise StartError(_reason(exc)) from None
        started = True
        if not reuse_port:
            print(f"======== Running on http://{settings.host}:{settings.port} ========")
        await stop.wait()
    finally:
        await runner.cleanup()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return f"{exc.strerror} (is another instance running?)"
    return f"{type(exc).__name__}: {exc}"


def _exit_soon(seconds: float, code: int = 1) -> None:
    """End the process after `seconds`, with `code`, unless it has ended by then."""

    def watch() -> None:
        time.sleep(seconds)
        print(f"parking serve did not stop within {seconds:.0f}s; exiting", file=sys.stderr)
        os._exit(code)

    threading.Thread(target=watch, name="exit-watchdog", daemon=True).start()


def _worker(settings: Settings) -> None:
    configure_logging(settings)
    sys.exit(serve_one(settings, reuse_port=True))


def serve(settings: Settings) -> int:
    """Serve with `settings.workers` processes; when one dies the others are stopped too."""
    if settings.workers == 1:
        return serve_one(settings)
    if not settings.redis_url:
        log.warning(
            "%d workers without Redis: each keeps its own live availability, which catches up "
            "with the others' events only at its refresh (every %s s)",
            settings.workers,
            settings.availability_refresh_seconds,
        )
    # Before any worker starts: they inherit the folder their metrics go to (server/metrics.py).
    metrics_dir, made_here = prepare_multiprocess_dir()
    try:
        return _supervise(settings, metrics_dir)
    finally:
        if made_here:
            remove_multiprocess_dir(metrics_dir)


def _supervise(settings: Settings, metrics_dir: Path) -> int:
    context = multiprocessing.get_context("spawn")  # nothing of this process is inherited
    workers = [
        context.Process(target=_worker, args=(worker_settings(settings, n),), name=f"worker-{n}")
        for n in range(settings.workers)
    ]
    for worker in workers:
        worker.start()
    print(f"======== {len(workers)} workers on http://{settings.host}:{settings.port} ========")
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping and all(worker.is_alive() for worker in workers):
        time.sleep(0.2)
    failed = [worker.name for worker in workers if not worker.is_alive()]
    if failed and not stopping:
        log.error("worker %s stopped; stopping the others", ", ".join(failed))
    _stop(workers)
    for worker in workers:
        if worker.pid is not None:
            forget_worker(worker.pid, metrics_dir)
    return 1 if failed and not stopping else 0


def worker_settings(settings: Settings, n: int) -> Settings:
    """A worker's settings: its own MQTT client ids, and device topics shared by the workers."""
    # Two clients with one id push each other off the broker; without a share group every
    # worker would receive (and race to apply) every device message.
    return settings.model_copy(
        update={
            "mqtt_client_id": f"{settings.mqtt_client_id}-w{n}",
            "mqtt_share_group": settings.mqtt_share_group or "centre",
        }
    )


def _stop(workers: Sequence[BaseProcess]) -> None:
    for worker in workers:
        if worker.is_alive():
            worker.terminate()  # SIGTERM: aiohttp shuts down gracefully
    deadline = time.monotonic() + _STOP_SECONDS
    for worker in workers:
        worker.join(max(deadline - time.monotonic(), 0.1))
        if worker.is_alive():
            print(f"{worker.name} did not stop; killing it", file=sys.stderr)
            worker.kill()
            worker.join()
