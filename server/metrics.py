"""The service's Prometheus instruments and the one-line calls that feed them."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from aiohttp import web
from prometheus_client import Counter, Histogram

# Instruments are process-wide by Prometheus' design (one registry per process). Created at
# import, in multiprocess mode they write to PROMETHEUS_MULTIPROC_DIR, which the parent of
# the workers sets before it spawns them (server/workers.py).
HTTP_SECONDS = Histogram(
    "parking_http_request_seconds",
    "Time to answer a request, by route template (not the raw path), method and status.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
LANE_DECISION_SECONDS = Histogram(
    "parking_lane_decision_seconds",
    "Time from a lane's plate read to its committed decision, by transport and outcome.",
    ["transport", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
DEVICE_EVENTS = Counter(
    "parking_device_events_ingested",
    "Device events taken in by the device bridge, by kind and outcome.",
    ["kind", "outcome"],
)
DEVICE_EVENTS_REFUSED = Counter(
    "parking_device_events_refused",
    "Device events or messages the device bridge refused, by kind and error code.",
    ["kind", "code"],
)
BERTH_EVENT_GROUPS = Histogram(
    "parking_berth_event_group_size",
    "Single berth events applied together in one transaction (group commit), by outcome.",
    ["outcome"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 500),
)
JOB_RUNS = Counter(
    "parking_job_runs", "Background job runs, by job and outcome.", ["job", "outcome"]
)
JOB_SECONDS = Histogram(
    "parking_job_run_seconds",
    "Time a background job run took, by job.",
    ["job"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0),
)
UNMATCHED_ROUTE = "unmatched"


def observe_job_run(name: str, outcome: str, seconds: float) -> None:
    """Count one run of a background job ("ok", "failed", ...) and how long it took."""
    JOB_RUNS.labels(name, outcome).inc()
    JOB_SECONDS.labels(name).observe(seconds)


@contextmanager
def job_run(name: str) -> Iterator[None]:
    """Time the block as one run of `name`: "ok", or "failed" when it raises."""
    began = time.perf_counter()
    outcome = "failed"
    try:
        yield
        outcome = "ok"
    finally:
        observe_job_run(name, outcome, time.perf_counter() - began)


def observe_lane_decision(transport: str, outcome: str, seconds: float) -> None:
    """One lane decision ("http" or "mqtt"; "applied", "duplicate", ...)."""
    LANE_DECISION_SECONDS.labels(transport, outcome).observe(seconds)


def observe_device_event(kind: str, outcome: str) -> None:
    """One device event applied, found a duplicate, or sent to review."""
    DEVICE_EVENTS.labels(kind, outcome).inc()


def observe_berth_group(size: int, split: bool) -> None:
    """One group of single berth events: "committed", or "split" (failed, re-run alone)."""
    BERTH_EVENT_GROUPS.labels("split" if split else "committed").observe(size)


def observe_refused_event(kind: str, code: str) -> None:
    """One device event or message refused (the DomainError's code)."""
    DEVICE_EVENTS_REFUSED.labels(kind, code).inc()


def route_template(request: web.Request) -> str:
    """The matched route's template with its sub-app prefix, e.g. /mp/plates/{plate}/stays."""
    match = request.match_info
    resource = match.route.resource
    if resource is None or match.http_exception is not None:  # 404, 405: no route matched
        return UNMATCHED_ROUTE
    return resource.canonical


@web.middleware
async def metrics_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Time every request under its route template."""
    began = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        elapsed = time.perf_counter() - began
        HTTP_SECONDS.labels(route_template(request), request.method, str(status)).observe(elapsed)
