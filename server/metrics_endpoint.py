"""GET /metrics: every worker's instruments and the stored state's gauges, for Prometheus."""

from __future__ import annotations

import hmac
import ipaddress
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from aiohttp import web
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from core.errors import AuthenticationError, PermissionDeniedError
from core.operations import OperationalCounts
from server.resources import SETTINGS_KEY, read_unit_of_work

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess_dir() -> tuple[Path, bool]:
    """The emptied folder the workers' metrics go to, and whether it was made here."""
    # Files an earlier run left would be added to this run's counts for ever: deleted.
    given = os.environ.get(MULTIPROC_ENV)
    folder = Path(given) if given else Path(tempfile.mkdtemp(prefix="parking-metrics-"))
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(folder)  # inherited by the spawned workers
    return folder, not given


def forget_worker(pid: int, folder: Path) -> None:
    """A worker ended: drop its live gauges (its counters stay, as Prometheus expects)."""
    mark_process_dead(pid, str(folder))  # type: ignore[no-untyped-call]  # untyped upstream


def remove_multiprocess_dir(folder: Path) -> None:
    """Remove a metrics folder this process made."""
    shutil.rmtree(folder, ignore_errors=True)


class _Snapshot(Collector):
    """Gauges of counts read from the database at scrape time (one worker answers)."""

    def __init__(self, counts: OperationalCounts) -> None:
        self._counts = counts

    def collect(self) -> Iterable[Metric]:
        counts = self._counts
        yield _single(
            "parking_lane_outbox_depth", "Lane commands waiting for the broker.", counts.lane_outbox
        )
        yield _single(
            "parking_notices_pending", "Driver notices not sent yet.", counts.notices_pending
        )
        yield _by_state("parking_payments", "Payments by status.", counts.payments)
        yield _by_state("parking_refunds", "Refunds by status.", counts.refunds)
        yield _by_state(
            "parking_deductions", "Parking-service deductions by state.", counts.deductions
        )


def _single(name: str, documentation: str, value: int) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _by_state(name: str, documentation: str, counts: dict[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=["state"])
    for state, count in sorted(counts.items()):
        family.add_metric([state], count)
    return family


def _check_access(request: web.Request) -> None:
    """Raise unless the caller may scrape: the bearer token, or else an internal address."""
    token = request.app[SETTINGS_KEY].metrics_token
    if token is not None:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
            raise AuthenticationError(detail="metrics: no or wrong bearer token")
    elif not is_internal(request.remote):
        raise PermissionDeniedError(detail=f"metrics: {request.remote} is not internal")


def is_internal(remote: str | None) -> bool:
    """Whether a client address is loopback or private (a scraper inside the network)."""
    try:
        address = ipaddress.ip_address(remote or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # a dual-stack socket's view of an IPv4 client
    return address.is_loopback or address.is_private


def _instruments() -> bytes:
    if MULTIPROC_ENV in os.environ:
        registry = CollectorRegistry()
        # Every worker's files, added up (the library leaves this one untyped).
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


async def metrics(request: web.Request) -> web.Response:
    """The Prometheus text exposition; open to internal addresses or a bearer token."""
    _check_access(request)
    async with read_unit_of_work(request) as uow:
        counts = await uow.operations.counts()
    snapshot = CollectorRegistry()
    snapshot.register(_Snapshot(counts))
    body = _instruments() + generate_latest(snapshot)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
