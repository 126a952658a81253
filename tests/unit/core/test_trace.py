"""Cloud Logging's trace fields, read from the headers as google-cloud-logging reads them.

The header examples are google-cloud-logging's own (tests/unit/handlers/test__helpers.py,
Test__parse_trace_parent and Test__parse_xcloud_trace); the expectations are that library's,
except that a legacy decimal span id is written as the 16 hex digits Cloud Logging wants.
"""

from __future__ import annotations

import json
import logging

import pytest

from core import logs
from core.logs import parse_trace, trace_fields

TRACE = "0af7651916cd43dd8448eb211c80319c"
SPAN = "b7ad6b7169203331"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"00-{TRACE}-{SPAN}-01", (TRACE, SPAN, True)),
        (f"00-{TRACE}-{SPAN}-00", (TRACE, SPAN, False)),
        (f"00-{TRACE}-{SPAN}-09", (TRACE, SPAN, True)),  # sampled among other flags
    ],
)
def test_traceparent_examples(header: str, expected: tuple[str, str, bool]) -> None:
    assert parse_trace({"traceparent": header}) == expected


@pytest.mark.parametrize(
    "header",
    [
        "",
        "test",
        f"ff-{TRACE}-{SPAN}-01",  # invalid version
        f"00-{'0' * 32}-{SPAN}-01",  # invalid trace
        f"00-{TRACE}-{'0' * 16}-01",  # invalid span
        f"00-{TRACE[1:]}-{SPAN}-00",
        f"00-{TRACE}-{SPAN[1:]}-00",
        f"00-{TRACE}-{SPAN}-0",
        f"00-{TRACE}-{SPAN}-",
        f"00-{TRACE}-00",
    ],
)
def test_traceparent_that_does_not_parse_gives_nothing(header: str) -> None:
    assert parse_trace({"traceparent": header}) == (None, None, False)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", (None, None, False)),
        ("12345", ("12345", None, False)),  # no span
        ("/12345", (None, "0000000000003039", False)),  # no trace
        ("12345/67890", ("12345", "0000000000010932", False)),
        ("12345/67890;abc", ("12345", "0000000000010932", False)),  # extra characters
        ("12345/67890;o=0", ("12345", "0000000000010932", False)),
        ("12345/67890;o=1", ("12345", "0000000000010932", True)),
        # The span as Cloud Logging wants it: 16 hex digits, never decimal.
        (f"{TRACE}/18446744073709551615;o=1", (TRACE, "ffffffffffffffff", True)),
        (f"{TRACE}/18446744073709551616;o=1", (TRACE, None, True)),  # not 64-bit: dropped
        (f"{TRACE}/0;o=1", (TRACE, None, True)),  # all zeros is no span
        (f"{TRACE}/abc;o=1", (TRACE, None, True)),  # not a number
    ],
)
def test_x_cloud_trace_context_examples(
    header: str, expected: tuple[str | None, str | None, bool]
) -> None:
    assert parse_trace({"x-cloud-trace-context": header}) == expected


def test_traceparent_wins_over_the_legacy_header_even_when_it_does_not_parse() -> None:
    legacy = {"x-cloud-trace-context": f"{TRACE}/1;o=1"}
    assert parse_trace(legacy | {"traceparent": f"00-{TRACE}-{SPAN}-00"}) == (TRACE, SPAN, False)
    assert parse_trace(legacy | {"traceparent": "garbage"}) == (None, None, False)


def test_the_fields_cloud_logging_reads() -> None:
    assert trace_fields("p", {"traceparent": f"00-{TRACE}-{SPAN}-01"}) == {
        "logging.googleapis.com/trace": f"projects/p/traces/{TRACE}",
        "logging.googleapis.com/spanId": SPAN,
        "logging.googleapis.com/trace_sampled": True,
    }
    assert trace_fields("p", {"x-cloud-trace-context": f"{TRACE}/4096;o=0"}) == {
        "logging.googleapis.com/trace": f"projects/p/traces/{TRACE}",
        "logging.googleapis.com/spanId": "0000000000001000",
        "logging.googleapis.com/trace_sampled": False,
    }
    assert trace_fields("p", {"x-cloud-trace-context": "12345"}) == {
        "logging.googleapis.com/trace": "projects/p/traces/12345",
        "logging.googleapis.com/trace_sampled": False,
    }
    assert trace_fields("p", {}) == {}


def test_an_all_digit_span_reaches_the_log_line_unredacted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # 16 digits look like a card number to the scrubber; a span id is never one.
    logs.configure("INFO")
    with logs.context(**trace_fields("p", {"x-cloud-trace-context": f"{TRACE}/4096;o=1"})):
        logging.getLogger("t").info("hello")
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["logging.googleapis.com/spanId"] == "0000000000001000"
    assert line["logging.googleapis.com/trace_sampled"] is True
    assert line["logging.googleapis.com/trace"] == f"projects/p/traces/{TRACE}"
