"""Ending an unfinished checkout when a concurrent request got there first.

``abandon`` voids an unfinished subscription's open invoice, then cancels it; ``expire_page``
expires an open Checkout page. Stripe refuses each once it is done already (a double click, the
other tab), and the operation reads the object again: done meanwhile is what was asked (no
error); paid meanwhile is 409 ``already_subscribed``; anything else is Stripe's refusal. The
fake answers Stripe's JSON through ``raw_request`` and refuses every write."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
import stripe

from billing.errors import Conflict
from billing.operations._one_subscription import abandon, expire_page


class DoneMeanwhile:
    def __init__(self, **statuses: str) -> None:
        self.statuses = statuses  # what a re-read finds: invoice, subscription, session
        self.calls: list[tuple[str, str]] = []

    def raw_request(self, method: str, path: str, **params: Any) -> Any:
        self.calls.append((method, path))
        if method != "get":
            raise stripe.InvalidRequestError("Refused: already done.", None)
        kind = {"invoices": "invoice", "subscriptions": "subscription"}.get(
            path.split("/")[2], "session"
        )
        return SimpleNamespace(data={"id": path.rsplit("/", 1)[1], "status": self.statuses[kind]})

    def client(self) -> stripe.StripeClient:
        return cast(stripe.StripeClient, self)


UNFINISHED = {
    "id": "sub_1",
    "status": "incomplete",
    "latest_invoice": {"id": "in_1", "object": "invoice", "status": "open"},
}


def test_an_unfinished_checkout_ended_meanwhile_is_ended_without_error() -> None:
    fake = DoneMeanwhile(invoice="void", subscription="canceled")
    abandon(fake.client(), UNFINISHED)
    assert fake.calls == [
        ("post", "/v1/invoices/in_1/void"),
        ("get", "/v1/invoices/in_1"),
        ("delete", "/v1/subscriptions/sub_1"),
        ("get", "/v1/subscriptions/sub_1"),
    ]


def test_an_unfinished_checkout_paid_meanwhile_is_409_and_not_cancelled() -> None:
    fake = DoneMeanwhile(invoice="paid", subscription="active")
    with pytest.raises(Conflict) as caught:
        abandon(fake.client(), UNFINISHED)
    assert caught.value.code == "already_subscribed"
    assert ("delete", "/v1/subscriptions/sub_1") not in fake.calls


def test_a_cancel_refused_for_a_subscription_still_live_is_stripe_s_refusal() -> None:
    fake = DoneMeanwhile(invoice="void", subscription="incomplete")
    with pytest.raises(stripe.InvalidRequestError):
        abandon(fake.client(), UNFINISHED)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [("expired", None), ("complete", Conflict), ("open", stripe.InvalidRequestError)],
)
def test_a_page_refused_expiry_is_read_again(status: str, outcome: type[Exception] | None) -> None:
    fake = DoneMeanwhile(session=status)
    if outcome is None:
        expire_page(fake.client(), "cs_1")
    else:
        with pytest.raises(outcome):
            expire_page(fake.client(), "cs_1")
    assert fake.calls == [
        ("post", "/v1/checkout/sessions/cs_1/expire"),
        ("get", "/v1/checkout/sessions/cs_1"),
    ]
