"""How log lines are written: one JSON object a line, or the human format in development."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from config.production import is_development
from config.settings import Settings
from server.log_masking import install_log_masking, mask
from server.request_ids import install_request_id_records

TEXT_FORMAT = "%(asctime)s %(levelname)s %(process)d %(name)s %(message)s"


class JsonFormatter(logging.Formatter):
    """A record as one JSON line: time, level, logger, process, request id, message, error."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "process": record.process,
            "message": record.getMessage(),  # masked when the record was made
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            line["request_id"] = request_id
        if record.exc_info:
            # A traceback repeats the values it failed on: masked like a message.
            line["error"] = mask(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


def log_format(settings: Settings) -> str:
    """ "json" or "text": as set, else text in development and json otherwise."""
    if settings.log_format is not None:
        return settings.log_format
    return "text" if is_development(settings) else "json"


def configure_logging(settings: Settings) -> None:
    """Set the root logger's level and format; records masked and carrying the request id."""
    install_log_masking()
    install_request_id_records()
    handler = logging.StreamHandler()
    if log_format(settings) == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=settings.log_level, handlers=[handler])
