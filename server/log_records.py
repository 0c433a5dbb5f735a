"""Steps every log record goes through when it is made, whichever logger makes it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

RecordStep = Callable[[logging.LogRecord], None]
_installed: set[RecordStep] = set()


def add_record_step(step: RecordStep) -> None:
    """Run `step` on each new record from now on (idempotent: once per process and step)."""
    if step in _installed:
        return
    make = logging.getLogRecordFactory()

    def made(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        step(record)
        return record

    logging.setLogRecordFactory(made)
    _installed.add(step)
