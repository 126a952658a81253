"""list_plans: the plans the app sells, read from Stripe's catalog, for a pricing page.

Public (no sign-in: a visitor sees prices before an account exists) and cacheable. The
offered prices are the ALLOWED_PRICE_IDS allowlist, the same list every operation that
subscribes checks; their amounts, intervals, product names and features come from Stripe,
so a price or feature changed in the Dashboard reaches the page without a deploy.

Freshness: an instance keeps what it read for PRICING_CACHE_SECONDS (default 300) and
answers ``Cache-Control: public, max-age=<what is left of that>``, so a change in Stripe
shows within PRICING_CACHE_SECONDS of being made, browser caches included. Stripe is read at
most once per instance per period: a pricing page under load costs Stripe nothing more.

Stripe down or slow (core.refreshing): one request at a time re-reads the catalog, without
holding a lock during the read, while the others get the copy already held; when the read
fails, the last good copy (up to STALE_LIMIT_SECONDS old) is answered with ``stale: true``
and its ``age``, and Stripe is tried again after RETRY_AFTER_FAILURE_SECONDS. The request
that re-reads waits for Stripe at most REFRESH_WAIT_SECONDS when a copy is held, then is
answered that copy (``stale: true``) while the read finishes behind it: a hanging Stripe
(minutes with the client's retries) never holds a pricing page. Only an instance that never
read the catalog answers 503 (or waits for Stripe, within the function's timeout).

Usage beyond a plan's quota: each plan lists the metered prices that come with it
(METERED_PRICE_IDS), read from Stripe with their tiers, so a page can say "1,000 API calls
included, then $0.02 per call" before anyone pays. A metered price's ``tiers`` are in Stripe's
answer only when asked for with ``expand[]=tiers``
(https://docs.stripe.com/api/prices/object#price_object-tiers), and its meter's names come
from the meter (https://docs.stripe.com/api/billing/meter/object).

A price that is archived (``active: false``), not recurring, or whose product is archived
is left out, with a warning in the log: the allowlist names it, but Stripe would refuse to
sell it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from decimal import Decimal
from functools import partial
from typing import Any

import stripe
from pydantic import Field

from billing.context import Context, RequestModel, ResponseModel
from billing.stripe_api import raw
from billing.translate import is_resource_missing
from core import parallel
from core.refreshing import RefreshingCache

log = logging.getLogger(__name__)


class PricingRequest(RequestModel):
    pass


class PlanFeature(ResponseModel):
    lookup_key: str = Field(description="Stripe Entitlements feature lookup key.")
    name: str


class MeteredTier(ResponseModel):
    up_to: int | None = Field(description="The last unit of this tier; null: every unit beyond.")
    unit_amount_decimal: str = Field(
        description="Per unit, in the currency's smallest unit (may have decimals: 0.5)."
    )
    flat_amount: int = Field(description="Charged once when usage reaches this tier (cents).")


class MeteredPrice(ResponseModel):
    """Usage billed in arrears, after the period, on top of the plan's price."""

    price_id: str
    meter: str = Field(description="The meter's event_name: what usage is reported under.")
    meter_name: str = Field(description="The meter's display name, e.g. 'API calls'.")
    currency: str
    included: int = Field(description="Units per period at no charge (leading free tiers).")
    unit_amount_decimal: str = Field(
        description="What each unit beyond `included` costs, per `per_units` units, in the "
        "currency's smallest unit (may have decimals)."
    )
    per_units: int = Field(
        description="The units `unit_amount_decimal` is for (Stripe's transform_quantity)."
    )
    tiers: list[MeteredTier] = Field(
        description="Stripe's graduated tiers as they are; empty for a per-unit price."
    )


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
    metered: list[MeteredPrice] = Field(
        description="The usage prices that come with the plan (charged beyond its quota)."
    )


class PlanList(ResponseModel):
    plans: list[Plan] = Field(description="In the order of ALLOWED_PRICE_IDS.")
    fetched_at: int = Field(description="When these were read from Stripe (Unix seconds).")
    age: int = Field(description="Seconds since these were read from Stripe.")
    stale: bool = Field(
        description="True when Stripe could not be read just now (it failed, or is slower "
        "than a few seconds) and this is the last good copy (`age` says how old); a page may "
        "say prices are being refreshed."
    )
    max_age: int = Field(description="Seconds until this answer may be stale.")


# A catalog older than this is not served even when Stripe is down (503 instead): prices a
# day old are still what a visitor would most likely pay; older ones may mislead.
STALE_LIMIT_SECONDS = 86_400
# After a failed read, Stripe is not asked again for this long (the stale copy is answered,
# and browsers may keep it as long).
RETRY_AFTER_FAILURE_SECONDS = 15
# With a copy held, the request that re-reads Stripe waits this long at most before it is
# answered that copy (the read goes on and serves the next request).
REFRESH_WAIT_SECONDS = 5


def new_cache() -> RefreshingCache[tuple[str, ...], list[Plan]]:
    """The catalog's cache for ONE runtime (``Runtime.held``), not one per process: what it
    holds is what one Stripe account (one key, one API base) answered for one configuration's
    price ids. A module global keyed by price ids alone served one runtime's copy to another
    in the same process: two apps built by a test against two stand-ins, whose catalogs use
    the same ids (price_basic_monthly) with different amounts, or a key switched from test to
    live mode. Deployed, each instance has one runtime, so nothing changes there."""
    return RefreshingCache(
        stale_limit=STALE_LIMIT_SECONDS,
        retry_after_failure=RETRY_AFTER_FAILURE_SECONDS,
        refresh_wait=REFRESH_WAIT_SECONDS,
    )


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


def _price(
    client: stripe.StripeClient, price_id: str, expand: tuple[str, ...] = ("product",)
) -> Mapping[str, Any] | None:
    try:
        return raw.get(client, f"/v1/prices/{price_id}", expand=list(expand))
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


def _free(tier: Mapping[str, Any]) -> bool:
    return Decimal(tier.get("unit_amount_decimal") or tier.get("unit_amount") or 0) == 0 and not (
        tier.get("flat_amount") or 0
    )


def metered_price(
    price: Mapping[str, Any], meters: Mapping[str, Mapping[str, Any]]
) -> MeteredPrice:
    """A metered price as a page shows it: the units included (the leading free tiers of a
    graduated price) and what each unit beyond costs."""
    tiers = [
        MeteredTier(
            up_to=tier.get("up_to"),
            unit_amount_decimal=str(
                tier.get("unit_amount_decimal") or tier.get("unit_amount") or 0
            ),
            flat_amount=int(tier.get("flat_amount") or 0),
        )
        for tier in price.get("tiers") or []
    ]
    included, beyond = 0, str(price.get("unit_amount_decimal") or price.get("unit_amount") or 0)
    raw_tiers = list(price.get("tiers") or [])
    for tier, shown in zip(raw_tiers, tiers, strict=True):
        if not _free(tier) or shown.up_to is None:
            beyond = shown.unit_amount_decimal
            break
        included = shown.up_to
    meter = meters.get(str(price["recurring"].get("meter")), {})
    transform = price.get("transform_quantity") or {}
    return MeteredPrice(
        price_id=price["id"],
        meter=str(meter.get("event_name") or price["recurring"].get("meter")),
        meter_name=str(meter.get("display_name") or meter.get("event_name") or "units"),
        currency=price["currency"],
        included=included,
        unit_amount_decimal=beyond,
        per_units=int(transform.get("divide_by") or 1),
        tiers=tiers,
    )


def _meters(client: stripe.StripeClient) -> dict[str, Mapping[str, Any]]:
    return {meter["id"]: meter for meter in raw.get_all(client, "/v1/billing/meters", limit=100)}


def read_plans(
    client: stripe.StripeClient,
    price_ids: list[str],
    metered_ids: Mapping[str, list[str]] | None = None,
) -> list[Plan]:
    """The offered prices as Stripe has them now: the prices, their metered prices and the
    meters at once, then each product's features at once."""
    metered_ids = metered_ids or {}
    usage_ids = sorted({m for p in price_ids for m in metered_ids.get(p, [])})
    calls: list[Callable[[], Any]] = [partial(_price, client, p) for p in price_ids]
    calls += [partial(_price, client, m, ("tiers",)) for m in usage_ids]
    if usage_ids:
        calls.append(partial(_meters, client))
    answers = _all(calls)
    usage_prices = dict(
        zip(usage_ids, answers[len(price_ids) : len(price_ids) + len(usage_ids)], strict=True)
    )
    meters: dict[str, Mapping[str, Any]] = answers[-1] if usage_ids else {}
    prices = [price for price in answers[: len(price_ids)] if _sellable(price)]
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
                metered=[
                    metered_price(found, meters)
                    for m in metered_ids.get(price["id"], [])
                    if (found := usage_prices[m]) is not None
                ],
            )
        )
    return plans


def list_plans(ctx: Context, body: PricingRequest) -> PlanList:
    """The plans the app sells, with amounts and features from Stripe (public, cacheable)."""
    settings = ctx.runtime.settings
    key = tuple(settings.allowed_price_ids)
    metered = settings.metered_price_ids
    cache = ctx.runtime.held("list-plans", new_cache)
    held = cache.get(
        (*key, repr(sorted(metered.items()))),
        lambda: read_plans(ctx.runtime.stripe, list(key), metered),
        settings.pricing_cache_seconds,
    )
    now = time.time()
    # Fresh: browsers may keep it for what is left of its period. Stale: until Stripe is tried
    # again after a failure, or not at all while another request is refreshing it.
    until = held.retry_at if held.stale else held.expires_at
    return PlanList(
        plans=held.value,
        fetched_at=int(held.fetched_at),
        age=max(0, int(now - held.fetched_at)),
        stale=held.stale,
        max_age=max(0, int(until - now)),
    )
