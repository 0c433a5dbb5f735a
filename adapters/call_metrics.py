"""Latency and outcome of every call to WeChat and WeChat Pay, timed once at the adapters."""

from __future__ import annotations

import re
import time
from types import TracebackType

from prometheus_client import Histogram

# Process-wide by Prometheus' design; see server/metrics.py for multiprocess mode.
EXTERNAL_SECONDS = Histogram(
    "parking_external_call_seconds",
    "Calls to WeChat and WeChat Pay by service, operation and outcome (ok, rejected, error).",
    ["service", "operation", "outcome"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
# A path segment that names one object (an order, a fapiao application): not a label value.
_OBJECT_SEGMENT = re.compile(r"^(?!v\d+$)(?=.*\d).+$|^.{24,}$")


def operation_of(name: str) -> str:
    """A bounded label for a call: a method name as it is, a path without ids or query."""
    if not name.startswith("/"):
        return name
    path = name.split("?", 1)[0]
    return "/".join("{id}" if _OBJECT_SEGMENT.match(s) else s for s in path.split("/"))


class ExternalCall:
    """Times the block as one call; its outcome is "error" unless the caller sets another."""

    def __init__(self, service: str, operation: str) -> None:
        self.service = service
        self.operation = operation_of(operation)
        self.outcome = "error"
        self._began = 0.0

    def __enter__(self) -> ExternalCall:
        self._began = time.perf_counter()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        elapsed = time.perf_counter() - self._began
        EXTERNAL_SECONDS.labels(self.service, self.operation, self.outcome).observe(elapsed)
