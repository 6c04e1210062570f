"""Logs: one JSON object a line, or a readable line on a terminal, each carrying the request id
of the request that wrote it (stdlib logging; a context variable carries the id). The access
log (``dingstore.access``, api/middleware.py) is one line per request."""

from __future__ import annotations

import contextvars
import logging
import sys
import time
from typing import TextIO

import orjson

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "color_message",
    "requestid",
}


def stamp_request_ids() -> None:
    """Give every log record the current request id (``record.requestid``), whichever handler
    formats it. Idempotent."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "stamps_request_ids", False):
        return

    def make_record(*args: object, **kwargs: object) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        record.requestid = request_id.get()
        return record

    make_record.stamps_request_ids = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make_record)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "requestid", None)
        if rid:
            entry["requestid"] = rid
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """``time LEVEL logger [requestid]: message``, the request id only when there is one."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        head = f"{record.asctime} {record.levelname} {record.name}"
        rid = getattr(record, "requestid", None)
        return f"{head} [{rid}]: {record.message}" if rid else f"{head}: {record.message}"

    def usesTime(self) -> bool:
        return True


def formatter_for(stream: TextIO, json: bool | None) -> logging.Formatter:
    """JSON when asked, or when not asked (None) and ``stream`` is not a terminal."""
    if json is None:
        json = not stream.isatty()
    if not json:
        return TextFormatter()
    formatter = JsonFormatter()
    formatter.converter = time.gmtime
    return formatter


def configure(level: str = "INFO", *, json: bool | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter_for(sys.stderr, json))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
