"""Serving the app: one process, or several worker processes sharing the port."""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import signal
import sys
import time
from collections.abc import Sequence
from multiprocessing.process import BaseProcess
from types import FrameType

from config.settings import Settings
from server.log_masking import ACCESS_LOG_FORMAT, install_log_masking

log = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(process)d %(name)s %(message)s"
_STOP_SECONDS = 15.0  # shutdown_timeout plus the cleanup contexts


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (its sockets cost less CPU per request), else asyncio's."""
    try:
        import uvloop
    except ImportError:  # Windows: no uvloop
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


async def _freeze_heap(_app: object) -> None:
    # What start-up built (modules, mappers, pools, caches) lives as long as the process:
    # moved out of the collector's sight, a full collection no longer walks it mid-request.
    gc.collect()
    gc.freeze()


def serve_one(settings: Settings, *, reuse_port: bool = False) -> None:
    """Run the app in this process until it is told to stop."""
    from aiohttp import web

    from server.app import create_app

    # Every unit of work leaves some forty objects in reference cycles (SQLAlchemy's session,
    # transaction and event dispatch), freed only by the collector. The default threshold (700)
    # collects every few requests; 50,000 made each young collection a 30-90 ms pause (tens of
    # thousands of cycles to free). 10,000: about 5 ms each, and less time in all
    # (docs/performance.md).
    gc.set_threshold(10_000, 50, 100)
    app = create_app(settings)
    app.on_startup.append(_freeze_heap)
    # Open keep-alive and event-stream connections get 10 s to finish, not the default 60.
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        shutdown_timeout=10,
        reuse_port=reuse_port or None,
        access_log=logging.getLogger("aiohttp.access") if settings.access_log else None,
        access_log_format=ACCESS_LOG_FORMAT,
        loop=new_event_loop(),
        print=None if reuse_port else print,
    )


def _worker(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level, format=LOG_FORMAT)
    install_log_masking()
    serve_one(settings, reuse_port=True)


def serve(settings: Settings) -> int:
    """Serve with `settings.workers` processes; when one dies the others are stopped too."""
    if settings.workers == 1:
        serve_one(settings)
        return 0
    if not settings.redis_url:
        log.warning(
            "%d workers without Redis: each keeps its own live availability, which catches up "
            "with the others' events only at its refresh (every %s s)",
            settings.workers,
            settings.availability_refresh_seconds,
        )
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
