"""Structured JSON logs that Cloud Logging understands, scrubbed of secrets.

One JSON object per line on stdout: ``severity``, ``message``, the request's trace
(``logging.googleapis.com/trace``), the function name and the caller's uid. A filter removes
anything shaped like a token, key, client secret or card number from every string, so a
careless ``log.info(f"... {obj}")`` cannot leak one.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pythonjsonlogger.json import JsonFormatter

_context: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "billing_log_context", default=None
)

_REDACTIONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(sk|rk|pk)_(live|test)_[A-Za-z0-9_]+"), r"\1_\2_[REDACTED]"),
    (re.compile(r"\bwhsec_[A-Za-z0-9_]+"), "whsec_[REDACTED]"),
    (
        re.compile(r"\b((?:pi|seti|cs|in)_[A-Za-z0-9]+)_secret_[A-Za-z0-9_]+"),
        r"\1_secret_[REDACTED]",
    ),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"), "Bearer [REDACTED]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*"), "[REDACTED_JWT]"),
    (re.compile(r"\b(?:\d[ -]?){12,18}\d\b"), "[REDACTED_NUMBER]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {key: _scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


class CloudLoggingFormatter(JsonFormatter):
    """Adds Cloud Logging's special fields and the request context; scrubs every string."""

    def __init__(self) -> None:
        super().__init__(
            "%(message)s",
            rename_fields={"levelname": "severity", "name": "logger"},
            static_fields={},
            timestamp="time",
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data["severity"] = "WARNING" if record.levelname == "WARN" else record.levelname
        log_data.pop("exc_info", None)
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            # No stack trace: only where it was raised, so logs cannot carry locals or payloads.
            tb = exc.__traceback__
            while tb is not None and tb.tb_next is not None:
                tb = tb.tb_next
            where = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb else "?"
            log_data["error"] = {"type": type(exc).__name__, "message": str(exc), "at": where}
        for key, value in (_context.get() or {}).items():
            log_data.setdefault(key, value)
        for key in list(log_data):
            log_data[key] = _scrub(log_data[key])

    def formatException(self, ei: Any) -> str:  # never a stack trace in a log
        return ""


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout`` is at the time (test runners swap it)."""

    @property
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure(level: str = "INFO") -> None:
    """Route the root logger to stdout as JSON; idempotent."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, CloudLoggingFormatter) for h in root.handlers):
        root.setLevel(level)
        return
    handler = _StdoutHandler()
    handler.setFormatter(CloudLoggingFormatter())
    root.handlers[:] = [handler]
    root.setLevel(level)
    # stripe-python logs request details at INFO/DEBUG when enabled; keep it quiet.
    logging.getLogger("stripe").setLevel(logging.WARNING)


def trace_fields(project_id: str, headers: Mapping[str, str]) -> dict[str, str]:
    """Cloud Logging's trace correlation from X-Cloud-Trace-Context or W3C traceparent.

    ``headers`` has lower-case names.
    """
    trace_id = span_id = None
    cloud = headers.get("x-cloud-trace-context", "")
    if cloud:
        match = re.match(r"^([0-9a-fA-F]{32})(?:/(\d+))?", cloud)
        if match:
            trace_id, span_id = match.group(1), match.group(2)
    if trace_id is None:
        match = re.match(
            r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$",
            headers.get("traceparent", ""),
        )
        if match:
            trace_id, span_id = match.group(1), match.group(2)
    fields: dict[str, str] = {}
    if trace_id:
        fields["logging.googleapis.com/trace"] = f"projects/{project_id}/traces/{trace_id}"
        if span_id:
            fields["logging.googleapis.com/spanId"] = span_id
    return fields


@contextmanager
def context(**fields: Any) -> Iterator[None]:
    """Adds ``fields`` to every log line written inside the block (per request/thread)."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: Any) -> None:
    """Adds fields to the current context (e.g. the uid once the token is verified)."""
    _context.set({**(_context.get() or {}), **fields})
