"""raw refuses a parameter stripe-python's ``raw_request`` would keep for itself.

``raw_request(method, path, **params)`` takes the request options (``stripe_account``,
``headers``, ...) and ``base`` and ``usage`` out of ``params`` and sends the rest: a Stripe
parameter of one of those names (SetupIntent's ``usage``) would be dropped silently. Each
``raw`` call must refuse it, naming it, before anything is sent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest
import stripe

from billing.stripe_api import raw


class NothingSent:
    def raw_request(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"sent {args} {kwargs}")


CLIENT = cast(stripe.StripeClient, NothingSent())

CALLS: dict[str, Callable[[dict[str, Any]], object]] = {
    "get": lambda params: raw.get(CLIENT, "/v1/x", **params),
    "get_all": lambda params: raw.get_all(CLIENT, "/v1/x", **params),
    "post": lambda params: raw.post(CLIENT, "/v1/x", **params),
    "post_keyed": lambda params: raw.post_keyed(CLIENT, "/v1/x", params, idempotency_key="k"),
}


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("name", ["usage", "base", "stripe_account", "headers"])
def test_a_parameter_the_sdk_would_not_send_is_refused_by_name(call: str, name: str) -> None:
    with pytest.raises(TypeError, match=name):
        CALLS[call]({"customer": "cus_1", name: "x"})


def test_post_still_takes_its_idempotency_key_as_the_option() -> None:
    seen: dict[str, Any] = {}

    class Sends:
        def raw_request(self, method: str, path: str, **params: Any) -> Any:
            seen.update(params)
            return type("Answer", (), {"data": {"id": "cus_1"}})()

    raw.post(cast(stripe.StripeClient, Sends()), "/v1/customers", email="a", idempotency_key="k")
    assert seen == {"email": "a", "idempotency_key": "k"}
