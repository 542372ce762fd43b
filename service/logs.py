"""Structured logging: one configuration, JSON off a terminal, no IIN in any line.

Every value of every event (exception text included) passes through ``redact_iins`` after
exceptions are formatted and before rendering, so an IIN that slips into a message, a
library's error or a traceback still never reaches the output, whichever way it is written
(grouped, dashed, in other digit families, with invisible characters: ``service.domain.iin_text``).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog
from structlog.types import EventDict, FilteringBoundLogger, Processor, WrappedLogger

from service.domain.iin_text import holds_iin_shaped, redact_iin_shaped

REDACTED = "[REDACTED-IIN]"
_TWELVE_DIGITS = 10**11


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return redact_iin_shaped(value, REDACTED)
    if isinstance(value, int) and not isinstance(value, bool):
        # Most logged numbers are small, and fewer than twelve digits are never IIN-shaped.
        return REDACTED if abs(value) >= _TWELVE_DIGITS and holds_iin_shaped(str(value)) else value
    if isinstance(value, MutableMapping):
        return {_redact(k): _redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact(v) for v in value]
    if isinstance(value, bytes):
        return _redact(value.decode("utf-8", "replace"))
    if value is None or isinstance(value, bool | float):
        return value
    return _redact(str(value))


def redact_iins(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    return {key: _redact(value) for key, value in event_dict.items()}


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        redact_iins,
    ]


class _StderrLogger:
    """A structlog logger writing each rendered line to whatever sys.stderr is now."""

    def __init__(self, name: str = "service") -> None:
        self.name = name

    def msg(self, message: str) -> None:
        stream = sys.stderr
        stream.write(message + "\n")
        stream.flush()

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


class _CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is now, so a replaced stream is never written closed."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _json_line(event: Any, **_options: Any) -> str:
    # orjson: several times faster than json.dumps, and every request writes a line. Values
    # are already strings, numbers, lists or dicts here (``_redact`` made them so).
    return orjson.dumps(event, default=str).decode()


def configure_logging(*, json_output: bool | None = None, level: int = logging.INFO) -> None:
    """Route structlog and the standard library (uvicorn, httpx) through one pipeline."""
    use_json = (not sys.stderr.isatty()) if json_output is None else json_output
    renderer: Processor = (
        structlog.processors.JSONRenderer(serializer=_json_line)
        if use_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    # Our own events go straight to stderr: no stdlib LogRecord, no caller lookup (a stack
    # walk per line), no handler chain. Libraries' stdlib logging goes through the same
    # processors and renderer on the root handler below.
    structlog.configure(
        processors=[*_shared_processors(), renderer],
        logger_factory=_StderrLogger,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = _CurrentStderrHandler()
    handler.setFormatter(formatter)
    # A failing handler would otherwise print the raw record (unredacted) to stderr.
    logging.raiseExceptions = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Our own canonical request line replaces uvicorn's access log; httpx logs request URLs
    # at INFO, which is noise at best.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def get_logger(name: str) -> FilteringBoundLogger:
    logger: FilteringBoundLogger = structlog.get_logger(name)
    return logger
