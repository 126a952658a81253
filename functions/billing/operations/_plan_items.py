"""A plan's subscription items: its licensed price, and the metered prices that come with it.

A plan (a licensed price) may bill usage beyond its quota through metered prices (the
catalog's ``metered_prices``; the functions know their ids from ``METERED_PRICE_IDS``). Every
operation that puts a plan on a subscription puts its metered prices there too:

- subscribing (``create-subscription``, Checkout): one item per metered price, without a
  quantity: Stripe refuses one ("You can only specify a quantity when creating a subscription
  with a recurring[usage_type] of licensed",
  https://docs.stripe.com/billing/subscriptions/quantities#multiple-quantities-sub; Checkout
  answers "Quantity should not be specified where usage_type is `metered`",
  invertase/stripe-firebase-extensions#134);
- changing plan (and its preview): the licensed item's price is swapped, and so is each
  metered item's, for the new plan's price of the same meter. The catalog guarantees that
  plans one can switch between bill the same meters, so a change never adds or removes an
  item: pending updates (the change waits until it is paid) take items' ``price`` and
  ``quantity`` only (https://docs.stripe.com/billing/subscriptions/pending-updates-reference);
- cancelling needs nothing: the metered items end with the subscription, and the period's
  usage is billed on its last invoice.
"""

from __future__ import annotations

from typing import Any

import stripe

from billing.config import BillingSettings
from billing.errors import Conflict
from billing.stripe_api.raw import Json


def is_metered(item: stripe.SubscriptionItem) -> bool:
    recurring = item.price.recurring
    return recurring is not None and recurring.usage_type == "metered"


def licensed_items(sub: stripe.Subscription) -> list[stripe.SubscriptionItem]:
    return [item for item in sub.items.data if not is_metered(item)]


def plan_price(sub: Json) -> str | None:
    """The subscription's plan: the price of its (one) licensed item (from its JSON, with
    ``items.data.price`` as Stripe sends it, unexpanded)."""
    for item in sub["items"]["data"]:
        price = item["price"]
        if (price.get("recurring") or {}).get("usage_type") != "metered":
            return str(price["id"])
    return None


def subscribe_items(settings: BillingSettings, price_id: str) -> list[dict[str, Any]]:
    """``items`` for a new subscription to the plan ``price_id``."""
    metered = settings.metered_price_ids.get(price_id, [])
    return [{"price": price_id}, *({"price": m} for m in metered)]


def checkout_line_items(settings: BillingSettings, price_id: str) -> list[dict[str, Any]]:
    """``line_items`` for a Checkout page selling the plan ``price_id``."""
    metered = settings.metered_price_ids.get(price_id, [])
    return [{"price": price_id, "quantity": 1}, *({"price": m} for m in metered)]


def change_items(
    settings: BillingSettings,
    sub: stripe.Subscription,
    item: stripe.SubscriptionItem,
    price_id: str,
) -> list[dict[str, Any]]:
    """``items`` that move the subscription from its plan (``item``) to ``price_id``: the
    licensed price swapped, and each metered price swapped for the new plan's of the same
    meter; 409 when the subscription's metered items are not the ones its plan has."""
    old = settings.metered_price_ids.get(item.price.id, [])
    new = settings.metered_price_ids.get(price_id, [])
    by_price = {m.price.id: m for m in sub.items.data if is_metered(m)}
    if sorted(by_price) != sorted(old) or len(old) != len(new):
        raise Conflict(
            "This subscription's usage prices do not match what its plan and the new one "
            "include; change it in the billing portal."
        )
    changes: list[dict[str, Any]] = [{"id": item.id, "price": price_id}]
    for before, after in zip(old, new, strict=True):
        if before != after:
            changes.append({"id": by_price[before].id, "price": after})
    return changes
