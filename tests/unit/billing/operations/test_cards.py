"""make_default converges: whatever interleaving, subscriptions end on the customer's default.
own_payment_method owns: another customer's card is 404, an unattached one is refused.

The fake answers Stripe's JSON through ``raw_request``, as the card paths read it: a field
Stripe omits is absent, an expandable one is an id or an object."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, cast

import pytest
import stripe

from billing.config import BillingSettings
from billing.context import Context
from billing.errors import Conflict, NotFound
from billing.operations._cards import (
    CONVERGE_ATTEMPTS,
    make_default,
    own_payment_method,
    payment_method_reader,
)
from billing.runtime import Runtime


class FakeAccount:
    """One customer, its subscriptions and cards, as Stripe keeps them; ``between`` runs a
    concurrent request's writes right after a given call of ours."""

    def __init__(self) -> None:
        self.customer_default: str | None = "pm_old"
        self.subs: dict[str, str | None] = {"sub_1": "pm_old"}
        self.statuses: dict[str, str] = {}  # a subscription not named here is active
        self.cards: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []
        self.between: dict[int, Callable[[], None]] = {}

    def _called(self, name: str) -> None:
        self.calls.append(name)
        hook = self.between.pop(len(self.calls), None)
        if hook is not None:
            hook()

    def update_customer(self, params: dict[str, Any]) -> dict[str, Any]:
        self.customer_default = params["invoice_settings"]["default_payment_method"]
        self._called("customers.update")
        return {"id": "cus_1", "object": "customer"}

    def retrieve_customer(self, customer: str) -> dict[str, Any]:
        self._called("customers.retrieve")
        if self.customer_default is None:  # Stripe sends no invoice_settings default then
            return {"id": customer, "object": "customer", "invoice_settings": {}}
        return {
            "id": customer,
            "object": "customer",
            "invoice_settings": {"default_payment_method": self.customer_default},
        }

    def list_subs(self, params: dict[str, Any]) -> dict[str, Any]:
        assert params["customer"] == "cus_1"
        ids = list(self.subs)
        start = ids.index(params["starting_after"]) + 1 if "starting_after" in params else 0
        page = ids[start : start + params["limit"]]
        data = [
            {
                "id": sub,
                "object": "subscription",
                "status": self.statuses.get(sub, "active"),
                "default_payment_method": self.subs[sub],
            }
            for sub in page
        ]
        self._called("subscriptions.list")
        return {"object": "list", "data": data, "has_more": start + len(page) < len(ids)}

    def update_sub(self, sub: str, params: dict[str, Any]) -> dict[str, Any]:
        assert set(params) == {"default_payment_method"}
        self.subs[sub] = params["default_payment_method"]
        self._called("subscriptions.update")
        return {"id": sub, "object": "subscription"}

    def retrieve_card(self, card: str) -> dict[str, Any]:
        self._called("payment_methods.retrieve")
        if card not in self.cards:
            raise stripe.InvalidRequestError(
                f"No such PaymentMethod: '{card}'", "id", code="resource_missing"
            )
        return {"id": card, "object": "payment_method", "type": "card", **self.cards[card]}

    def raw_request(self, method: str, path: str, **params: Any) -> Any:
        kind, *rest = path.removeprefix("/v1/").split("/")
        if (method, kind) == ("post", "customers"):
            data = self.update_customer(params)
        elif (method, kind) == ("get", "customers"):
            data = self.retrieve_customer(rest[0])
        elif (method, kind, rest) == ("get", "subscriptions", []):
            data = self.list_subs(params)
        elif (method, kind) == ("post", "subscriptions"):
            data = self.update_sub(rest[0], params)
        elif (method, kind) == ("get", "payment_methods"):
            data = self.retrieve_card(rest[0])
        else:
            raise AssertionError(f"unexpected {method} {path}")
        return SimpleNamespace(data=data)

    def client(self) -> stripe.StripeClient:
        return cast(stripe.StripeClient, self)


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
    assert caught.value.headers == {"Retry-After": "1"}


def test_only_live_subscriptions_switch_and_are_returned(
    ctx: Context, account: FakeAccount
) -> None:
    statuses = ["active", "trialing", "past_due", "unpaid", "paused", "canceled",
                "incomplete", "incomplete_expired"]  # fmt: skip
    account.subs = {f"sub_{status}": "pm_old" for status in statuses}
    account.statuses = {f"sub_{status}": status for status in statuses}
    live = [f"sub_{status}" for status in statuses[:5]]
    assert make_default(ctx, "cus_1", "pm_new") == live
    assert {sub for sub, card in account.subs.items() if card == "pm_new"} == set(live)


def test_every_page_of_subscriptions_switches(ctx: Context, account: FakeAccount) -> None:
    account.subs = {f"sub_{n:03}": "pm_old" for n in range(150)}
    account.subs["sub_149"] = "pm_new"  # already charging it: not written again
    assert make_default(ctx, "cus_1", "pm_new") == list(account.subs)
    assert set(account.subs.values()) == {"pm_new"}
    assert account.calls.count("subscriptions.list") == 2
    assert account.calls.count("subscriptions.update") == 149


def test_one_subscription_only_switches_that_one(ctx: Context, account: FakeAccount) -> None:
    account.subs = {"sub_1": "pm_old", "sub_2": "pm_old"}
    assert make_default(ctx, "cus_1", "pm_new", only="sub_1") == ["sub_1"]
    assert account.subs == {"sub_1": "pm_new", "sub_2": "pm_old"}
    assert "subscriptions.list" not in account.calls


def test_a_default_removed_meanwhile_is_not_pushed_to_subscriptions(
    ctx: Context, account: FakeAccount
) -> None:
    # Another request removed the default after ours was set: no card follows it out.
    def remove() -> None:
        account.customer_default = None

    account.between[1] = remove
    assert make_default(ctx, "cus_1", "pm_new") == []
    assert account.subs == {"sub_1": "pm_new"}  # written before the removal was seen
    assert account.calls.count("subscriptions.update") == 1


CARD = {"card": {"brand": "visa", "last4": "4242", "exp_month": 1, "exp_year": 2030}}


@pytest.mark.parametrize(
    "customer", ["cus_1", {"id": "cus_1", "object": "customer"}], ids=["id", "expanded"]
)
def test_a_card_of_the_callers_is_theirs(
    ctx: Context, account: FakeAccount, customer: object
) -> None:
    account.cards["pm_mine"] = {**CARD, "customer": customer}
    pm = own_payment_method(payment_method_reader(ctx, "pm_mine"), "cus_1")
    assert (pm["id"], pm["card"]["last4"]) == ("pm_mine", "4242")


@pytest.mark.parametrize("card", ["pm_theirs", "pm_missing"])
def test_another_customers_card_is_404_like_a_missing_one(
    ctx: Context, account: FakeAccount, card: str
) -> None:
    account.cards["pm_theirs"] = {**CARD, "customer": "cus_2"}
    with pytest.raises(NotFound) as caught:
        own_payment_method(payment_method_reader(ctx, card), "cus_1")
    assert str(caught.value) == "No such payment method."


@pytest.mark.parametrize("attached", [{"customer": None}, {}], ids=["null", "absent"])
def test_an_unattached_card_is_refused_not_saved(
    ctx: Context, account: FakeAccount, attached: dict[str, Any]
) -> None:
    account.cards["pm_loose"] = {**CARD, **attached}
    with pytest.raises(Conflict) as caught:
        own_payment_method(payment_method_reader(ctx, "pm_loose"), "cus_1")
    assert caught.value.code == "payment_method_not_saved"
