"""List endpoints: newest first, ``limit`` / ``starting_after`` / ``ending_before``, ``created``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from devstack.stripe_standin import objects
from devstack.stripe_standin.api_errors import invalid_request

JSONDict = dict[str, Any]


def created_matches(obj: JSONDict, created: Any, field: str = "created") -> bool:
    """Apply a ``created`` filter: an exact timestamp or ``{gt, gte, lt, lte}``."""
    if created is None:
        return True
    value = int(obj[field])
    if isinstance(created, int):
        return value == created
    checks = {
        "gt": lambda bound: value > bound,
        "gte": lambda bound: value >= bound,
        "lt": lambda bound: value < bound,
        "lte": lambda bound: value <= bound,
    }
    return all(checks[op](int(bound)) for op, bound in created.items() if op in checks)


def paginate(items: Iterable[JSONDict], params: JSONDict, url: str) -> JSONDict:
    """``items`` newest first; returns a list object (not yet expanded)."""
    ordered = list(items)
    limit = int(params.get("limit", 10))
    if not 1 <= limit <= 100:
        raise invalid_request("Invalid limit: must be between 1 and 100", param="limit")
    starting_after = params.get("starting_after")
    ending_before = params.get("ending_before")
    index = {obj["id"]: position for position, obj in enumerate(ordered)}
    if starting_after is not None:
        if starting_after not in index:
            raise invalid_request(
                f"No such object: '{starting_after}'",
                param="starting_after",
                code="resource_missing",
            )
        window = ordered[index[starting_after] + 1 :]
        page, has_more = window[:limit], len(window) > limit
    elif ending_before is not None:
        if ending_before not in index:
            raise invalid_request(
                f"No such object: '{ending_before}'",
                param="ending_before",
                code="resource_missing",
            )
        window = ordered[: index[ending_before]]
        page, has_more = window[-limit:], len(window) > limit
    else:
        page, has_more = ordered[:limit], len(ordered) > limit
    return objects.list_object(page, url, has_more=has_more)


def newest_first(items: Iterable[JSONDict]) -> list[JSONDict]:
    """Stored dicts keep insertion order; Stripe lists newest first."""
    return sorted(reversed(list(items)), key=lambda obj: -int(obj.get("created", 0)))
