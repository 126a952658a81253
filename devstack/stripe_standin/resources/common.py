"""Small helpers shared by the resource handlers."""

from __future__ import annotations

from typing import Any

from devstack.stripe_standin.api_errors import resource_missing
from devstack.stripe_standin.state import State, get_param_object

__all__ = ["LIST_PAGING", "get_or_404", "get_param_object", "merge_metadata", "unset_or"]

JSONDict = dict[str, Any]

# What every list endpoint implements (see listing.paginate and listing.created_matches).
LIST_PAGING = ("limit", "starting_after", "ending_before", "created")


def get_or_404(state: State, collection: str, kind: str, object_id: str) -> JSONDict:
    found = state.collection(collection).get(object_id)
    if found is None:
        raise resource_missing(kind, object_id)
    return found


def merge_metadata(current: JSONDict, update: Any) -> JSONDict:
    """Stripe's metadata rules: ``""`` clears all, a key set to ``""`` is removed."""
    if update == "":
        return {}
    merged = dict(current)
    for key, value in dict(update).items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def unset_or(value: Any) -> Any:
    return None if value == "" else value
