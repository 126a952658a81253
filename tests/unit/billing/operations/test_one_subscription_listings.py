"""The one-subscription rule reads every page of the customer's subscriptions and open
Checkout pages, each page with the same expansions.

A live subscription (or a payable Checkout page) past the first page must still refuse a new
checkout; a listing that stopped at the first page would let a second subscription be paid.
The fake serves Stripe's list JSON two objects a page (``has_more``, ``starting_after``,
https://docs.stripe.com/api/pagination), whatever ``limit`` asks."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
import stripe

from billing.errors import Conflict
from billing.operations._one_subscription import (
    open_checkout_pages,
    refuse_if_subscribed,
    subscriptions_of,
)

PAGE = 2


class Lists:
    def __init__(self, objects: dict[str, list[dict[str, Any]]]) -> None:
        self.objects = objects
        self.asked: list[tuple[str, dict[str, Any]]] = []

    def raw_request(self, method: str, path: str, **params: Any) -> Any:
        assert method == "get"
        self.asked.append((path, params))
        found = self.objects[path]
        ids = [obj["id"] for obj in found]
        start = ids.index(params["starting_after"]) + 1 if "starting_after" in params else 0
        data = found[start : start + PAGE]
        more = start + len(data) < len(found)
        return SimpleNamespace(data={"object": "list", "data": data, "has_more": more})

    def client(self) -> stripe.StripeClient:
        return cast(stripe.StripeClient, self)


def _sub(sub_id: str, status: str) -> dict[str, Any]:
    return {"id": sub_id, "object": "subscription", "status": status}


def test_a_live_subscription_past_the_first_page_refuses_a_new_checkout() -> None:
    subs = [_sub(f"sub_{n}", "canceled") for n in range(5)] + [_sub("sub_live", "active")]
    stripe_ = Lists({"/v1/subscriptions": subs})
    found = subscriptions_of(stripe_.client(), "cus_1")
    assert [sub["id"] for sub in found] == [sub["id"] for sub in subs]
    with pytest.raises(Conflict) as refused:
        refuse_if_subscribed(found)
    assert refused.value.code == "already_subscribed"
    # Every page asks for the same customer, statuses and expansions (``data.``-prefixed, as a
    # list's expansions are), and each continues after the last id of the one before.
    assert [params.get("starting_after") for _, params in stripe_.asked] == [
        None,
        "sub_1",
        "sub_3",
    ]
    for _, params in stripe_.asked:
        assert params["customer"] == "cus_1"
        assert params["status"] == "all"
        assert "data.latest_invoice.confirmation_secret" in params["expand"]
        assert "data.latest_invoice.discounts" in params["expand"]


def test_an_open_checkout_page_past_the_first_page_is_listed() -> None:
    pages = [{"id": f"cs_{n}", "object": "checkout.session"} for n in range(5)]
    stripe_ = Lists({"/v1/checkout/sessions": pages})
    found = open_checkout_pages(stripe_.client(), "cus_1")
    assert [page["id"] for page in found] == [f"cs_{n}" for n in range(5)]
    assert all(params["status"] == "open" for _, params in stripe_.asked)
