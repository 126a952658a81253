"""A versioned JSON message contract (``schemas/*.v1.json``) read with strict pydantic models.

Pydantic rather than a JSON Schema validator at run time: it is already loaded, and the schema
files are not part of the deployed source. Each contract's tests run its model and its schema
on the same messages and require the same verdict (tests/unit/mailer/test_contract.py,
tests/unit/billing/usage/test_contract.py).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, StrictInt, ValidationError

from core.pubsub_push import Unprocessable


def json_integer(value: object) -> object:
    # JSON Schema's "integer" is a number with no fraction, 1.0 included; true is not one.
    if isinstance(value, bool):
        raise ValueError("Input should be a valid integer")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Integer = Annotated[StrictInt, BeforeValidator(json_integer)]


class Strict(BaseModel):
    """No field beyond the schema's, no coercion, immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def problems(error: ValidationError) -> str:
    """What is wrong, by field path and rule: never the values (addresses, names, uids)."""
    parts = []
    for item in error.errors(include_input=False, include_url=False, include_context=False):
        where = ".".join(str(part) for part in item["loc"]) or "message"
        parts.append(f"{where}: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts[:5]) + (f" (and {len(parts) - 5} more)" if len(parts) > 5 else "")


def json_object(data: bytes, version: int) -> dict[str, Any]:
    """A message's data as a JSON object of ``version`` (or with none, for the model to name),
    or :class:`Unprocessable` saying why not."""
    try:
        document: Any = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise Unprocessable("not_utf8", "the message data is not UTF-8 text") from None
    except (ValueError, RecursionError):
        raise Unprocessable("not_json", "the message data is not JSON") from None
    if not isinstance(document, dict):
        raise Unprocessable("schema", "the message data is not a JSON object")
    if "version" in document and document["version"] != version:
        shown = json.dumps(document["version"])[:40]
        raise Unprocessable("unknown_version", f"version {shown} is not one this function reads")
    return document


def validate[M: BaseModel](model: type[M], document: dict[str, Any], name: str) -> M:
    """``document`` as ``model``, or :class:`Unprocessable` ("schema") naming what is wrong."""
    try:
        return model.model_validate(document)
    except ValidationError as error:
        raise Unprocessable("schema", f"not a {name}: {problems(error)}") from None
