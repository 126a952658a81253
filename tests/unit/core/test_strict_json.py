"""strict_json: RFC 8259 JSON, where no input raises anything but InvalidJson."""

from __future__ import annotations

import pytest

from core.strict_json import MAX_DEPTH, InvalidJson, loads


def _nested(levels: int) -> object:
    value: object = 1
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (b'{"a": 1, "b": [true, null, -0.5e-3, "x"]}', {"a": 1, "b": [True, None, -0.0005, "x"]}),
        (b'"\\ud83d\\ude00"', "\U0001f600"),  # a surrogate pair is one character
        ("[" * (MAX_DEPTH - 1) + "1" + "]" * (MAX_DEPTH - 1), _nested(MAX_DEPTH - 1)),
        (b"9" * 64, int("9" * 64)),
    ],
)
def test_accepts_json(raw: bytes | str, value: object) -> None:
    assert loads(raw) == value


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"[" * 5000 + b"]" * 5000, "nested"),  # past the interpreter's recursion limit
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "nested"),
        (b'{"a": ' + b"1" * 5000 + b"}", "longer than 64"),  # int() refuses 4,300 digits
        (b"1" * 65, "longer than 64"),
        (b"NaN", "NaN is not a JSON value"),
        (b'{"exp": Infinity}', "Infinity"),
        (b'{"exp": -Infinity}', "Infinity"),
        (b'{"exp": 1e400}', "out of range"),
        (b'"\\ud800"', "lone surrogate"),
        (b'{"\\udc00x": 1}', "lone surrogate"),  # in a key too
        (b'["ok", {"deep": ["\\ud800"]}]', "lone surrogate"),
        (b'"\xed\xa0\x80"', "not UTF-8"),  # a surrogate encoded as bytes
        (b"\xff", "not UTF-8"),
        (b"{", "Expecting"),
    ],
)
def test_refuses_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidJson, match=reason):
        loads(raw)
