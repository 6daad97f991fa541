"""Log lines for operators: one JSON object per line (or plain text), with the request id.

`rilon serve` hands `log_config()` to uvicorn, which applies it in every worker process it
starts, so uvicorn's own loggers and ours write the same format. What goes into a line is
chosen by the code that logs it: nothing here ever reads headers, bodies or query strings.
"""

import json
import logging
import logging.config
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

_request_id: ContextVar[str | None] = ContextVar("rilon_log_request_id", default=None)

# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged,
# except uvicorn's `color_message`: the message again with ANSI colours, for its own formatter.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_DROPPED = _STANDARD | {"color_message", "request_id"}
# Control characters (C0 but tab and newline, DEL, C1) are written as escapes, so no line can
# colour a terminal, move its cursor or forge a line ending: `\x1b` in text, `\u001b` in JSON
# (json.dumps escapes C0 itself, but not DEL and C1 such as U+009B, the one-byte ANSI CSI).
_CONTROLS = [code for code in [*range(0x20), *range(0x7F, 0xA0)] if code not in (9, 10)]
_TEXT_ESCAPES = str.maketrans({code: f"\\x{code:02x}" for code in _CONTROLS})
_JSON_ESCAPES = str.maketrans({code: f"\\u{code:04x}" for code in _CONTROLS if code >= 0x7F})


def bind_request_id(request_id: str | None) -> None:
    """Tag every line logged from now on in this context (one request) with its id."""
    _request_id.set(request_id)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    request_id = getattr(record, "request_id", None) or _request_id.get()
    if request_id:
        fields["request_id"] = request_id
    for key, value in vars(record).items():
        if key not in _DROPPED and not key.startswith("_"):
            fields[key] = value
    return fields


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,  # which uvicorn worker, under `rilon serve --workers N`
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False).translate(_JSON_ESCAPES)


class TextFormatter(logging.Formatter):
    """For a developer's terminal: the same fields, as `key=value` after the message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra = " ".join(f"{key}={value}" for key, value in _fields(record).items())
        line = f"{text} [{extra}]" if extra else text
        return line.translate(_TEXT_ESCAPES)


def log_config(fmt: str = "json", level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` document: everything to stderr in one format.

    uvicorn's access logger is silenced: its line carries the raw query string, which may hold
    anything a caller put there. `rilon.access` (api/observability.py) logs each request instead.
    """
    formatter = JsonFormatter if fmt == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"rilon": {"()": f"{formatter.__module__}.{formatter.__qualname__}"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "rilon",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.error": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "CRITICAL"},
        },
    }


def configure(fmt: str = "json", level: str = "INFO") -> None:
    logging.config.dictConfig(log_config(fmt, level))
