"""make_default converges: whatever interleaving, subscriptions end on the customer's default."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest
import stripe

from billing.config import BillingSettings
from billing.context import Context
from billing.errors import Conflict
from billing.operations._cards import CONVERGE_ATTEMPTS, make_default
from billing.runtime import Runtime


class FakeAccount:
    """One customer and its subscriptions, as Stripe keeps them; ``between`` runs a
    concurrent request's writes right after a given call of ours."""

    def __init__(self) -> None:
        self.customer_default: str | None = "pm_old"
        self.subs: dict[str, str | None] = {"sub_1": "pm_old"}
        self.calls: list[str] = []
        self.between: dict[int, Callable[[], None]] = {}

    def _called(self, name: str) -> None:
        self.calls.append(name)
        hook = self.between.pop(len(self.calls), None)
        if hook is not None:
            hook()

    def update_customer(self, customer: str, params: dict[str, Any]) -> None:
        self.customer_default = params["invoice_settings"]["default_payment_method"]
        self._called("customers.update")

    def retrieve_customer(self, customer: str) -> stripe.Customer:
        self._called("customers.retrieve")
        return stripe.Customer.construct_from(
            {
                "id": customer,
                "object": "customer",
                "invoice_settings": {"default_payment_method": self.customer_default},
            },
            "k",
        )

    def list_subs(self, params: dict[str, Any]) -> Any:
        data = [
            {"id": sub, "object": "subscription", "status": "active", "default_payment_method": pm}
            for sub, pm in self.subs.items()
        ]
        self._called("subscriptions.list")
        return stripe.ListObject.construct_from({"object": "list", "data": data}, "k")

    def update_sub(self, sub: str, params: dict[str, Any]) -> None:
        self.subs[sub] = params["default_payment_method"]
        self._called("subscriptions.update")

    def client(self) -> stripe.StripeClient:
        account = self

        class Customers:
            update = staticmethod(account.update_customer)
            retrieve = staticmethod(account.retrieve_customer)

        class Subscriptions:
            list = staticmethod(account.list_subs)
            update = staticmethod(account.update_sub)

        class V1:
            customers = Customers
            subscriptions = Subscriptions

        class Client:
            v1 = V1

        return cast(stripe.StripeClient, Client())


@pytest.fixture
def account() -> FakeAccount:
    return FakeAccount()


@pytest.fixture
def ctx(settings: BillingSettings, account: FakeAccount) -> Context:
    return Context(runtime=Runtime(settings, stripe_client=account.client()), request_id="r")


def test_without_contention_both_defaults_change_and_are_checked_once(
    ctx: Context, account: FakeAccount
) -> None:
    assert make_default(ctx, "cus_1", "pm_new") == ["sub_1"]
    assert (account.customer_default, account.subs) == ("pm_new", {"sub_1": "pm_new"})
    assert account.calls == [
        "customers.update",
        "subscriptions.list",
        "subscriptions.update",
        "customers.retrieve",
    ]


def test_a_card_set_concurrently_after_ours_wins_everywhere(
    ctx: Context, account: FakeAccount
) -> None:
    def other_request() -> None:
        # It sets the customer and the subscription, and finishes, before our write lands.
        account.customer_default = "pm_other"
        account.subs["sub_1"] = "pm_other"

    account.between[2] = other_request  # after our list, before our stale subscription write
    assert make_default(ctx, "cus_1", "pm_new") == []
    assert (account.customer_default, account.subs) == ("pm_other", {"sub_1": "pm_other"})


def test_a_request_that_never_holds_still_is_told_to_retry(
    ctx: Context, account: FakeAccount
) -> None:
    def flip(card: str) -> Callable[[], None]:
        def change() -> None:
            account.customer_default = card

        return change

    for call in range(1, 4 * CONVERGE_ATTEMPTS + 2):
        account.between[call] = flip(f"pm_{call}")
    with pytest.raises(Conflict) as caught:
        make_default(ctx, "cus_1", "pm_new")
    assert caught.value.code == "in_progress"
