"""Decode Stripe's form encoding (``a[b][0]=x``) into nested dicts.

Indexed arrays arrive as dicts with digit keys (``{"0": ...}``); ``params.validate`` turns them
into lists where the endpoint's typed params say a list is expected, since ``metadata[0]`` is a
legitimate hash key. ``key[]=v`` (the other array style Stripe accepts) becomes a list directly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


class FormDecodeError(Exception):
    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


def split_key(key: str) -> list[str]:
    """``items[0][price]`` -> ``["items", "0", "price"]``; ``expand[]`` -> ``["expand", ""]``."""
    head, bracket, _ = key.partition("[")
    if not bracket:
        return [key]
    rest = key[len(head) :]
    segments = _SEGMENT.findall(rest)
    if "".join(f"[{s}]" for s in segments) != rest or not head:
        raise FormDecodeError(f"Invalid parameter name: {key}", key)
    return [head, *segments]


def decode_pairs(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for key, value in pairs:
        segments = split_key(key)
        if segments[-1] == "":
            # ``key[]=v``: append to the list named by the previous segment.
            parent = _walk(root, segments[:-2], key)
            list_key = segments[-2]
            holder = parent.setdefault(list_key, [])
            if not isinstance(holder, list):
                param = _param_name(segments[:-1])
                raise FormDecodeError(f"Invalid array: {param}", param)
            holder.append(value)
            continue
        node = _walk(root, segments[:-1], key)
        existing = node.get(segments[-1])
        if isinstance(existing, dict | list):
            param = _param_name(segments)
            raise FormDecodeError(f"Invalid hash: {param}", param)
        node[segments[-1]] = value
    return root


def _walk(root: dict[str, Any], path: list[str], key: str) -> dict[str, Any]:
    node = root
    for depth, segment in enumerate(path):
        if segment == "":
            raise FormDecodeError(f"Invalid array: {key}", key)
        child = node.get(segment)
        if child is None:
            child = {}
            node[segment] = child
        elif not isinstance(child, dict):
            param = _param_name(path[: depth + 1])
            raise FormDecodeError(f"Invalid hash: {param}", param)
        node = child
    return node


def decode_form(body: str) -> dict[str, Any]:
    return decode_pairs(parse_qsl(body, keep_blank_values=True))


def _param_name(segments: list[str]) -> str:
    head, *rest = segments
    return head + "".join(f"[{s}]" for s in rest)
