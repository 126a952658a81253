"""Validate decoded parameters against stripe-python's typed params (``stripe.params``).

The TypedDicts are generated from Stripe's OpenAPI spec for the API version the SDK pins, so
walking them tells us which keys exist, which are required, and which values each accepts.
Keys inherited from ``RequestOptions`` (``api_key``, ``idempotency_key``, ...) are client-side
options, not API parameters, and are rejected like any other unknown key.

The SDK types enums as ``Literal[...] | str`` for forward compatibility; the API itself accepts
only the listed values, so a union of a non-empty ``Literal`` and ``str`` is checked as an enum.

Stripe's documented limits apply too: a string parameter is at most 5,000 characters (the spec's
usual ``maxLength``) or what its docstring says ("This may be up to *150 characters*"),
metadata holds at most 50 keys of at most 40 characters with values of at most 500, and
``expand`` reaches at most four levels deep.
"""

from __future__ import annotations

import ast
import functools
import inspect
import re
import sys
import types
import typing
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, NotRequired, Required, Union, get_args, get_origin

from stripe._request_options import RequestOptions
from stripe._stripe_object import UntypedStripeObject
from typing_extensions import is_typeddict

from devstack.stripe_standin.api_errors import (
    StripeAPIError,
    invalid_request,
    parameter_missing,
    parameter_unknown,
)

_REQUEST_OPTION_KEYS = frozenset(RequestOptions.__annotations__)
_NONE = type(None)

DEFAULT_MAX_LENGTH = 5000
METADATA_MAX_KEYS = 50
METADATA_KEY_MAX_LENGTH = 40
METADATA_VALUE_MAX_LENGTH = 500
EXPAND_MAX_DEPTH = 4
_DOCUMENTED_LENGTH = re.compile(
    r"(?:up to|at most|maximum length is|max length,|maximum)\s*\*?([0-9][0-9,]*) characters",
    re.IGNORECASE,
)


@functools.cache
def _documented_lengths(module_name: str) -> dict[tuple[str, str], int]:
    """(TypedDict name, key) -> the length limit its docstring states, for one params module."""
    limits: dict[tuple[str, str], int] = {}
    tree = ast.parse(inspect.getsource(sys.modules[module_name]))
    for cls in (node for node in tree.body if isinstance(node, ast.ClassDef)):
        for field, doc in zip(cls.body, cls.body[1:], strict=False):
            if (
                isinstance(field, ast.AnnAssign)
                and isinstance(field.target, ast.Name)
                and isinstance(doc, ast.Expr)
                and isinstance(doc.value, ast.Constant)
                and isinstance(doc.value.value, str)
            ):
                found = _DOCUMENTED_LENGTH.search(doc.value.value)
                if found:
                    limits[(cls.name, field.target.id)] = int(found.group(1).replace(",", ""))
    return limits


def max_length(cls: type, key: str) -> int:
    return _documented_lengths(cls.__module__).get((cls.__name__, key), DEFAULT_MAX_LENGTH)


def _check_length(value: Any, limit: int, path: str) -> None:
    if isinstance(value, str) and len(value) > limit:
        raise invalid_request(
            f"Invalid string: {value[:24]}...; must be at most {limit} characters", param=path
        )
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_length(item, limit, _join(path, index))


def _check_metadata(value: Any, path: str) -> None:
    if not isinstance(value, dict):
        return
    if len(value) > METADATA_MAX_KEYS:
        raise invalid_request(
            f"Invalid {path}: you can specify up to {METADATA_MAX_KEYS} keys, but you "
            f"specified {len(value)}.",
            param=path,
        )
    for key, item in value.items():
        if len(key) > METADATA_KEY_MAX_LENGTH:
            raise invalid_request(
                f"Metadata keys can have up to {METADATA_KEY_MAX_LENGTH} characters, but you "
                f"passed in a key that is {len(key)} characters.",
                param=_join(path, key),
            )
        if isinstance(item, str) and len(item) > METADATA_VALUE_MAX_LENGTH:
            raise invalid_request(
                f"Metadata values can have up to {METADATA_VALUE_MAX_LENGTH} characters, but you "
                f"passed in a value that is {len(item)} characters.",
                param=_join(path, key),
            )


def _check_expand(value: Any, path: str) -> None:
    for index, item in enumerate(value if isinstance(value, list) else []):
        if isinstance(item, str) and item.count(".") >= EXPAND_MAX_DEPTH:
            raise invalid_request(
                f"You cannot expand more than {EXPAND_MAX_DEPTH} levels of a property. "
                f"Property: {item}",
                param=_join(path, index),
            )


class _Mismatch(Exception):
    """One union member did not accept the value; carries the error it would have raised."""

    def __init__(self, error: StripeAPIError) -> None:
        super().__init__(error.message)
        self.error = error


@functools.cache
def type_hints(cls: type) -> dict[str, Any]:
    """Resolved annotations of a params TypedDict, without the request-option keys."""
    annotations = {
        key: value for key, value in cls.__annotations__.items() if key not in _REQUEST_OPTION_KEYS
    }
    holder = type("_Hints", (), {"__annotations__": annotations, "__module__": cls.__module__})
    module_globals = vars(sys.modules[cls.__module__])
    return typing.get_type_hints(holder, globalns=module_globals, include_extras=True)


def required_keys(cls: type) -> frozenset[str]:
    keys: frozenset[str] = getattr(cls, "__required_keys__", frozenset())
    return keys - _REQUEST_OPTION_KEYS


def validate(raw: dict[str, Any], params_type: object) -> dict[str, Any]:
    """Check ``raw`` (from ``formcodec``) against ``params_type``; return coerced values.

    Raises ``StripeAPIError`` (400) naming the offending parameter.
    """
    if not isinstance(params_type, type) or not is_typeddict(params_type):
        raise TypeError(f"{params_type!r} is not a TypedDict")
    return _typed_dict(raw, params_type, "")


def _join(path: str, key: str | int) -> str:
    return str(key) if not path else f"{path}[{key}]"


def _typed_dict(value: Any, cls: type, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid_request(f"Invalid object: {path}", param=path)
    hints = type_hints(cls)
    result: dict[str, Any] = {}
    for key, item in value.items():
        param = _join(path, key)
        if key not in hints:
            raise parameter_unknown(param)
        result[key] = _check(item, hints[key], param)
        if key == "metadata":
            _check_metadata(result[key], param)
        elif key == "expand":
            _check_expand(result[key], param)
        _check_length(result[key], max_length(cls, key), param)
    for key in sorted(required_keys(cls)):
        if key not in value:
            raise parameter_missing(_join(path, key))
    return result


def _unwrap(tp: Any) -> Any:
    while get_origin(tp) in (NotRequired, Required, typing.Annotated):
        tp = get_args(tp)[0]
    return tp


def _check(value: Any, tp: Any, path: str) -> Any:
    tp = _unwrap(tp)
    origin = get_origin(tp)
    if tp is Any or tp is object:
        return value
    if origin is Union or origin is types.UnionType:
        return _union(value, list(get_args(tp)), path)
    if origin is Literal:
        return _literal(value, get_args(tp), path)
    if tp is str:
        return _string(value, path)
    if tp is bool:
        return _boolean(value, path)
    if tp is int:
        return _integer(value, path)
    if tp is float:
        return _decimal(value, path, as_float=True)
    if tp is Decimal:
        return _decimal(value, path, as_float=False)
    if origin is list:
        return _list(value, get_args(tp)[0], path)
    if origin is dict:
        return _mapping(value, get_args(tp)[1], path)
    if origin is UntypedStripeObject or tp is UntypedStripeObject:
        args = get_args(tp)
        return _mapping(value, args[0] if args else Any, path)
    if isinstance(tp, type) and is_typeddict(tp):
        return _typed_dict(value, tp, path)
    if tp is _NONE:
        raise invalid_request(f"Invalid {path}", param=path)
    return value


def _union(value: Any, members: list[Any], path: str) -> Any:
    members = [_unwrap(m) for m in members]
    literals: list[Any] = []
    for member in members:
        if get_origin(member) is Literal:
            literals.extend(get_args(member))
    if value == "" and "" in literals:
        return ""
    enum_values = [v for v in literals if v != ""]
    candidates = [m for m in members if m is not _NONE]
    if enum_values and str in candidates:
        # ``Literal['a', 'b'] | str`` is an enum the SDK leaves open; the API does not.
        candidates = [m for m in candidates if m is not str]
    errors: list[StripeAPIError] = []
    for member in _by_shape(value, candidates):
        try:
            return _try(value, member, path)
        except _Mismatch as mismatch:
            errors.append(mismatch.error)
    if isinstance(value, str) and value and enum_values and not _looks_numeric(value):
        raise _enum_error(path, enum_values)
    if errors:
        raise errors[0]
    raise invalid_request(f"Invalid {path}", param=path)


def _try(value: Any, member: Any, path: str) -> Any:
    try:
        return _check(value, member, path)
    except StripeAPIError as error:
        if error.code == "parameter_unknown" or error.code == "parameter_missing":
            raise  # a structural error deep inside the right member is the answer
        raise _Mismatch(error) from error


def _looks_numeric(value: str) -> bool:
    try:
        Decimal(value)
    except InvalidOperation:
        return False
    return True


def _by_shape(value: Any, members: list[Any]) -> list[Any]:
    """Order union members so the one matching the value's shape is tried first."""

    def is_container(tp: Any) -> bool:
        origin = get_origin(tp)
        return (
            origin in (list, dict, UntypedStripeObject)
            or tp is UntypedStripeObject
            or (isinstance(tp, type) and is_typeddict(tp))
        )

    containers = [m for m in members if is_container(m)]
    scalars = [m for m in members if not is_container(m)]
    return containers + scalars if isinstance(value, dict | list) else scalars + containers


def _enum_error(path: str, values: list[Any]) -> StripeAPIError:
    names = [str(v) for v in values]
    if not names:
        return invalid_request(f"Invalid {path}", param=path)
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + f", or {names[-1]}"
    return invalid_request(f"Invalid {path}: must be one of {listed}", param=path)


def _literal(value: Any, allowed: tuple[Any, ...], path: str) -> Any:
    for option in allowed:
        if isinstance(option, bool):
            if isinstance(value, str) and value == str(option).lower():
                return option
        elif isinstance(option, int):
            if isinstance(value, str) and value.lstrip("-").isdigit() and int(value) == option:
                return option
        elif value == option:
            return option
    if value == "":
        raise _empty(path)
    raise _enum_error(path, [v for v in allowed if v != ""])


def _empty(path: str) -> StripeAPIError:
    return invalid_request(
        f"You passed an empty string for '{path}'. We assume empty values are an attempt to "
        f"unset a parameter; however '{path}' cannot be unset. You should remove '{path}' from "
        "your request or supply a non-empty value.",
        param=path,
        code="parameter_invalid_empty",
    )


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise invalid_request(f"Invalid string: {path}", param=path)
    if value == "":
        raise _empty(path)
    return value


def _boolean(value: Any, path: str) -> bool:
    if value == "true":
        return True
    if value == "false":
        return False
    if value == "":
        raise _empty(path)
    raise invalid_request(f"Invalid boolean: {_show(value)}", param=path)


def _integer(value: Any, path: str) -> int:
    if isinstance(value, str) and value:
        digits = value[1:] if value[0] in "+-" else value
        if digits.isdigit():
            return int(value)
    if value == "":
        raise _empty(path)
    raise invalid_request(
        f"Invalid integer: {_show(value)}", param=path, code="parameter_invalid_integer"
    )


def _decimal(value: Any, path: str, *, as_float: bool) -> Any:
    if value == "":
        raise _empty(path)
    if isinstance(value, str):
        try:
            number = Decimal(value)
        except InvalidOperation:
            number = None
        if number is not None and number.is_finite():
            return float(number) if as_float else value
    raise invalid_request(f"Invalid decimal: {_show(value)}", param=path)


def _list(value: Any, item_type: Any, path: str) -> list[Any]:
    if isinstance(value, dict) and all(isinstance(k, str) and k.isdigit() for k in value):
        items = [value[k] for k in sorted(value, key=int)]
    elif isinstance(value, list):
        items = value
    else:
        if value == "":
            raise _empty(path)
        raise invalid_request(f"Invalid array: {path}", param=path)
    return [_check(item, item_type, _join(path, index)) for index, item in enumerate(items)]


def _mapping(value: Any, value_type: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        if value == "":
            raise _empty(path)
        raise invalid_request(f"Invalid object: {path}", param=path)
    result: dict[str, Any] = {}
    for key, item in value.items():
        # In hashes such as metadata an empty value unsets that key.
        result[key] = "" if item == "" else _check(item, value_type, _join(path, key))
    return result


def _show(value: Any) -> str:
    return value if isinstance(value, str) else type(value).__name__
