"""create-checkout-session sends its page under a key of the customer's state and choice.

``checkout:{customer}:{newest subscription}:{newest open page}:{price}:{code}``: a retry after
a lost answer sees the same state (the customer's lock makes requests one at a time), shares the
key and gets the one page Stripe made instead of a second payable one. Moving the key from
``options=`` to ``raw.post``'s ``idempotency_key`` left it untested: dropping it passed
tests/integration/test_hosted_pages.py. The fake answers Stripe's JSON through ``raw_request``."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from billing.config import BillingSettings
from billing.operations._one_subscription import Opened
from billing.operations.hosted_pages import CheckoutRequest, _create_checkout_session
from tests.support.fakes import caller_context

ENDED = {"id": "sub_old", "object": "subscription", "status": "canceled"}
PAGE = {
    "id": "cs_new",
    "object": "checkout.session",
    "url": "https://checkout.stripe.com/c/pay/cs_new",
    "expires_at": 1_900_000_000,
    "amount_total": 1000,
    "metadata": {},
}


class Stripe:
    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []

    def raw_request(self, method: str, path: str, **params: Any) -> Any:
        if (method, path) == ("get", "/v1/subscriptions"):
            return SimpleNamespace(data={"object": "list", "data": [ENDED], "has_more": False})
        if (method, path) == ("get", "/v1/checkout/sessions"):
            return SimpleNamespace(data={"object": "list", "data": [], "has_more": False})
        assert (method, path) == ("post", "/v1/checkout/sessions"), (method, path)
        self.created.append(params)
        return SimpleNamespace(data=PAGE)


def test_the_page_is_created_under_the_key_of_the_customers_state_and_choice(
    settings: BillingSettings,
) -> None:
    settings = settings.model_copy(
        update={
            "checkout_success_url": "http://localhost:3000/done",
            "checkout_cancel_url": "http://localhost:3000/cancel",
        }
    )
    fake = Stripe()
    ctx = caller_context(settings, fake)
    body = CheckoutRequest(price_id="price_basic_monthly")
    answer = _create_checkout_session(ctx, body, "cus_1", Opened())
    assert answer.session_id == "cs_new"
    [params] = fake.created
    assert params["idempotency_key"] == "checkout:cus_1:sub_old:none:price_basic_monthly:-"
    assert params["customer"] == "cus_1"
