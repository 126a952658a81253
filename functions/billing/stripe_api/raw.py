"""Stripe calls answered as the JSON the API sent, not as the SDK's typed objects.

The SDK turns every answer into typed objects, recursively; for a subscription with its
price, product, invoice and cards expanded that costs more CPU than the rest of the request
(``make bench``). A call whose answer only feeds a view, a rule or the entitlement rules
takes the JSON instead: the same client, so the same retries, timeouts, call counts and
errors (a missing object still raises ``stripe.InvalidRequestError``), and for a POST the
same idempotency: stripe-python sends an ``Idempotency-Key`` with every POST, generated
when the caller gives none, so its own retries of a call never repeat its effect.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import stripe

type Json = Mapping[str, Any]  # a Stripe object as the JSON the API sent

# Names ``StripeClient.raw_request`` takes out of its keyword arguments for itself and never
# sends to Stripe (stripe-python 16's ``_stripe_client.py``: ``extract_options_from_dict``,
# then ``base`` and ``usage``). A Stripe parameter of one of these names, SetupIntent's
# ``usage`` for one, would be dropped without a word: it is refused here instead, and such a
# call goes through the SDK's typed service, which sends parameters and options apart.
_TAKEN_BY_THE_SDK = frozenset(
    {
        "api_key",
        "stripe_version",
        "stripe_account",
        "stripe_context",
        "max_network_retries",
        "idempotency_key",
        "content_type",
        "headers",
        "base",
        "usage",
    }
)


def _sent(params: Mapping[str, Any], *, options: frozenset[str] = frozenset()) -> None:
    taken = sorted(set(params) & (_TAKEN_BY_THE_SDK - options))
    if taken:
        raise TypeError(
            f"raw_request would not send {', '.join(taken)} to Stripe (stripe-python takes "
            "these names for itself): call the SDK's typed service for this request"
        )


def get(client: stripe.StripeClient, path: str, **params: Any) -> Json:
    _sent(params)
    data: Json = client.raw_request("get", path, **params).data
    return data


def post(client: stripe.StripeClient, path: str, **params: Any) -> Json:
    """A create, an update or an action. ``idempotency_key=`` is stripe-python's request
    option (sent as the header), not a parameter; the SDK makes one up when it is absent."""
    _sent(params, options=frozenset({"idempotency_key"}))
    data: Json = client.raw_request("post", path, **params).data
    return data


def post_keyed(
    client: stripe.StripeClient, path: str, params: Mapping[str, Any], *, idempotency_key: str
) -> tuple[Json, bool]:
    """A POST under the caller's idempotency key, and whether Stripe answered it with the
    stored result of an earlier request with that key (``Idempotent-Replayed: true``) rather
    than performing it: a retry after a lost answer learns it did not make what it asked for.
    """
    _sent(params)
    response = client.raw_request("post", path, **params, idempotency_key=idempotency_key)
    data: Json = response.data
    return data, response.headers.get("Idempotent-Replayed") == "true"


def delete(client: stripe.StripeClient, path: str) -> Json:
    data: Json = client.raw_request("delete", path).data
    return data


def get_all(client: stripe.StripeClient, path: str, **params: Any) -> list[Json]:
    """Every object of a list endpoint, page after page (``limit`` per page, 100 at most).

    A list answer stops at ``limit`` and says ``has_more``; the next page starts after the
    last id seen (https://docs.stripe.com/api/pagination). Reading only the first page
    silently drops the rest: a customer with more than 100 features would lose some."""
    _sent(params)
    found: list[Json] = []
    cursor: str | None = None
    while True:
        page = get(client, path, **params, **({"starting_after": cursor} if cursor else {}))
        data = list(page["data"])
        found.extend(data)
        if not page.get("has_more") or not data:
            return found
        cursor = str(data[-1]["id"])


def id_of(field: Any) -> str | None:
    """The id of an expandable field, expanded (an object) or not (its id)."""
    if field is None or isinstance(field, str):
        return field
    return str(field["id"])
