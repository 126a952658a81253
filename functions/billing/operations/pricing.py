"""list_plans: the plans the app sells, read from Stripe's catalog, for a pricing page.

Public (no sign-in: a visitor sees prices before an account exists) and cacheable. The
offered prices are the ALLOWED_PRICE_IDS allowlist, the same list every operation that
subscribes checks; their amounts, intervals, product names and features come from Stripe,
so a price or feature changed in the Dashboard reaches the page without a deploy.

Freshness: an instance keeps what it read for PRICING_CACHE_SECONDS (default 300) and
answers ``Cache-Control: public, max-age=<what is left of that>``, so a change in Stripe
shows within PRICING_CACHE_SECONDS of being made, browser caches included. Stripe is read at
most once per instance per period: a pricing page under load costs Stripe nothing more.

A price that is archived (``active: false``), not recurring, or whose product is archived
is left out, with a warning in the log: the allowlist names it, but Stripe would refuse to
sell it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from typing import Any

import stripe
from pydantic import Field

from billing.context import Context, RequestModel, ResponseModel
from billing.stripe_api import raw
from billing.translate import is_resource_missing
from core import parallel

log = logging.getLogger(__name__)


class PricingRequest(RequestModel):
    pass


class PlanFeature(ResponseModel):
    lookup_key: str = Field(description="Stripe Entitlements feature lookup key.")
    name: str


class Plan(ResponseModel):
    price_id: str
    product_id: str
    product_name: str
    product_description: str | None
    unit_amount: int | None = Field(description="In the currency's smallest unit (cents).")
    currency: str
    interval: str = Field(description="day, week, month or year.")
    interval_count: int
    features: list[PlanFeature]


class PlanList(ResponseModel):
    plans: list[Plan] = Field(description="In the order of ALLOWED_PRICE_IDS.")
    fetched_at: int = Field(description="When these were read from Stripe (Unix seconds).")
    max_age: int = Field(description="Seconds until this answer may be stale.")


@dataclass(frozen=True)
class _Cached:
    plans: list[Plan]
    fetched_at: float
    expires_at: float


_cache: dict[tuple[str, ...], _Cached] = {}
_lock = threading.Lock()


def _all[T](calls: list[Callable[[], T]]) -> list[T]:
    with ExitStack() as stack:
        pending = [stack.enter_context(parallel.Background(call)) for call in calls]
        return [each.result() for each in pending]


def _features(client: stripe.StripeClient, product_id: str) -> list[PlanFeature]:
    attached = raw.get_all(client, f"/v1/products/{product_id}/features", limit=100)
    return [
        PlanFeature(
            lookup_key=entry["entitlement_feature"]["lookup_key"],
            name=entry["entitlement_feature"]["name"],
        )
        for entry in attached
        if entry["entitlement_feature"].get("active", True)
    ]


def _price(client: stripe.StripeClient, price_id: str) -> Mapping[str, Any] | None:
    try:
        return raw.get(client, f"/v1/prices/{price_id}", expand=["product"])
    except stripe.InvalidRequestError as exc:
        if not is_resource_missing(exc):
            raise
        log.warning("an offered price does not exist in Stripe", extra={"price_id": price_id})
        return None


def _sellable(price: Mapping[str, Any] | None) -> bool:
    if price is None:
        return False
    product = price["product"]
    ok = bool(price["active"]) and price.get("recurring") is not None and bool(product["active"])
    if not ok:
        log.warning("an offered price is not for sale in Stripe", extra={"price_id": price["id"]})
    return ok


def read_plans(client: stripe.StripeClient, price_ids: list[str]) -> list[Plan]:
    """The offered prices as Stripe has them now: the prices at once, then each product's
    features at once."""
    prices = [
        price for price in _all([partial(_price, client, p) for p in price_ids]) if _sellable(price)
    ]
    product_ids = sorted({price["product"]["id"] for price in prices if price is not None})
    features = dict(
        zip(
            product_ids,
            _all([partial(_features, client, p) for p in product_ids]),
            strict=True,
        )
    )
    plans = []
    for price in prices:
        assert price is not None
        product = price["product"]
        plans.append(
            Plan(
                price_id=price["id"],
                product_id=product["id"],
                product_name=product["name"],
                product_description=product.get("description"),
                unit_amount=price.get("unit_amount"),
                currency=price["currency"],
                interval=price["recurring"]["interval"],
                interval_count=price["recurring"]["interval_count"],
                features=features[product["id"]],
            )
        )
    return plans


def list_plans(ctx: Context, body: PricingRequest) -> PlanList:
    """The plans the app sells, with amounts and features from Stripe (public, cacheable)."""
    settings = ctx.runtime.settings
    key = tuple(settings.allowed_price_ids)
    now = time.time()
    cached = _cache.get(key)
    if cached is None or cached.expires_at <= now:
        with _lock:
            cached = _cache.get(key)
            if cached is None or cached.expires_at <= now:
                plans = read_plans(ctx.runtime.stripe, list(key))
                now = time.time()
                cached = _Cached(plans, now, now + settings.pricing_cache_seconds)
                _cache[key] = cached
    return PlanList(
        plans=cached.plans,
        fetched_at=int(cached.fetched_at),
        max_age=max(0, int(cached.expires_at - now)),
    )
