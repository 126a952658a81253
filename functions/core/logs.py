"""Structured JSON logs that Cloud Logging understands, scrubbed of secrets.

One JSON object per line on stdout: ``severity``, ``message``, the request's trace
(``logging.googleapis.com/trace``, ``/spanId`` as 16 hex digits, ``/trace_sampled`` as a
boolean; read from ``traceparent`` or ``X-Cloud-Trace-Context`` as google-cloud-logging reads
them), the function name and the caller's uid. A filter removes
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


SPAN_ID = "logging.googleapis.com/spanId"


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
            if key != SPAN_ID:  # 16 hex digits by construction, and often all digits
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


# W3C traceparent: a version other than ff, a trace id and a parent (span) id that are not all
# zeros, the flags, and whatever a later version appends. The pattern google-cloud-logging reads
# it with (google/cloud/logging_v2/handlers/_helpers.py, _parse_trace_parent).
_TRACEPARENT = re.compile(
    r"^\s?(?!ff)[a-f\d]{2}-((?![0]{32})[a-f\d]{32})-((?![0]{16})[a-f\d]{16})-([a-f\d]{2})(-.*)?\s?$"
)
# Google's legacy X-Cloud-Trace-Context: TRACE_ID/SPAN_ID;o=OPTIONS (same library,
# _parse_xcloud_trace). Its span id is a decimal number.
_XCLOUD = re.compile(r"([\w-]+)?(\/?([\w-]+))?(;?o=(\d))?")
_DECIMAL_SPAN = re.compile(r"[0-9]{1,20}")


def parse_trace(headers: Mapping[str, str]) -> tuple[str | None, str | None, bool]:
    """(trace id, span id as 16 hex digits, sampled) from the request's headers (lower-case
    names), read as google-cloud-logging reads them: ``traceparent`` when the request has one
    (even one that does not parse: then nothing), else ``X-Cloud-Trace-Context``.

    Where this differs from that library, it is for Cloud Logging's sake: the legacy header's
    decimal span id is written as the 16 hex digits ``logging.googleapis.com/spanId`` wants,
    and dropped when it is not a 64-bit number other than zero.
    """
    header = headers.get("traceparent", "")
    if header:
        match = _TRACEPARENT.match(header)
        if match is None:
            return None, None, False
        return match.group(1), match.group(2), bool(int(match.group(3), 16) & 1)
    header = headers.get("x-cloud-trace-context", "")
    if not header:
        return None, None, False
    match = _XCLOUD.match(header)
    assert match is not None  # every part of the pattern is optional
    span = match.group(3)
    span_hex = None
    if span and _DECIMAL_SPAN.fullmatch(span) and 0 < int(span) < 2**64:
        span_hex = f"{int(span):016x}"
    return match.group(1), span_hex, match.group(5) == "1"


def trace_fields(project_id: str, headers: Mapping[str, str]) -> dict[str, str | bool]:
    """Cloud Logging's trace correlation fields for a request (``headers`` with lower-case
    names): the trace's resource name, the span as 16 hex digits, and whether it is sampled."""
    trace_id, span_id, sampled = parse_trace(headers)
    if not trace_id:
        return {}
    fields: dict[str, str | bool] = {
        "logging.googleapis.com/trace": f"projects/{project_id}/traces/{trace_id}",
        "logging.googleapis.com/trace_sampled": sampled,
    }
    if span_id:
        fields[SPAN_ID] = span_id
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
