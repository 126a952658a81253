"""JSON as RFC 8259 defines it, parsed so that no input can raise anything but :class:`InvalidJson`.

Python's ``json`` is lenient where an attacker can exploit it: it accepts ``NaN`` and
``Infinity``, turns ``1e400`` into infinity, raises ``ValueError`` (not ``JSONDecodeError``) for
an integer of more than 4,300 digits, ``RecursionError`` for deep nesting, and hands back lone
surrogates (``"\\ud800"``) that fail later, when a string is encoded for Firestore or Stripe.
Every request body and token segment goes through :func:`loads`, which refuses all of these
with a message fit for a 400 or 401.
"""

from __future__ import annotations

import json
import math
from typing import Any

# No field of this API is a number anywhere near this long; Python refuses 4,300 digits.
MAX_NUMBER_CHARS = 64
# Request bodies and tokens are shallow; this is far above any legitimate one and far below
# the interpreter's recursion limit.
MAX_DEPTH = 32


class InvalidJson(ValueError):
    """The text is not acceptable JSON; ``str(exc)`` says why, safe to show a caller."""


def _number(text: str) -> None:
    if len(text) > MAX_NUMBER_CHARS:
        raise InvalidJson(f"a number is longer than {MAX_NUMBER_CHARS} characters")


def _integer(text: str) -> int:
    _number(text)
    return int(text)


def _float(text: str) -> float:
    _number(text)
    value = float(text)
    if not math.isfinite(value):
        raise InvalidJson(f"the number {text} is out of range")
    return value


def _constant(text: str) -> Any:
    raise InvalidJson(f"{text} is not a JSON value")


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidJson("a string holds a lone surrogate, which is not Unicode text") from None


def _check_tree(value: Any) -> None:
    """Depth and lone surrogates, walked without recursion."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, str):
            _check_text(node)
        elif isinstance(node, dict | list):
            if depth >= MAX_DEPTH:
                raise InvalidJson(f"it is nested more than {MAX_DEPTH} levels deep")
            if isinstance(node, dict):
                for key, item in node.items():
                    _check_text(key)
                    pending.append((item, depth + 1))
            else:
                pending.extend((item, depth + 1) for item in node)


def loads(raw: bytes | str) -> Any:
    """The JSON value in ``raw`` (UTF-8 when bytes), or :class:`InvalidJson` saying why not."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise InvalidJson("it is not UTF-8") from None
    try:
        value = json.loads(text, parse_int=_integer, parse_float=_float, parse_constant=_constant)
    except InvalidJson:
        raise
    except json.JSONDecodeError as exc:
        raise InvalidJson(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise InvalidJson(f"it is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError:  # anything else json or int() may raise on hostile input
        raise InvalidJson("it is not valid JSON") from None
    _check_tree(value)
    return value
