"""The one catalog: what the app sells, declared once in ``catalog.json`` beside this module.

Three readers, one file:

- Terraform (``infra/stripe.tf``, through ``infra/modules/stripe-catalog``) creates it in Stripe
  with the official provider and gives the functions the ids of the offered prices
  (``ALLOWED_PRICE_IDS``) and of the portal configuration (``PORTAL_CONFIGURATION_ID``);
- the local Stripe stand-in seeds itself from it (``devstack.stripe_standin.seed``), and the
  local stack sells the stand-in's ids of the same offered prices;
- the functions may read it here (it ships in the deployed archive: it lives in ``functions/``).

Identity is the key, never a Stripe id: features and prices are keyed by their Stripe
``lookup_key``, products, coupons and meters by a catalog key, promotion codes by the code
customers type. Ids differ per Stripe mode and per stand-in run; keys do not.

The file's keys (JSON; JSON needs no dependency and Terraform reads it with ``jsondecode``):

``features.<lookup_key>``
    ``name``: an Entitlements feature. Access is gated on these lookup keys.
``products.<key>``
    ``name``, ``description`` (optional), ``features`` (lookup keys it carries: Stripe grants
    them to a customer subscribed to any of its prices), ``limits`` (optional, see below).
``prices.<lookup_key>``
    ``product``, ``unit_amount`` (minor units), ``currency``, ``recurring`` (``interval``:
    day/week/month/year, optional ``interval_count``, ``usage_type``: licensed/metered and
    ``meter`` for a metered price), ``nickname`` (optional, never shown to customers),
    ``offered`` (default true: the app sells it; false keeps a price for the subscribers
    already on it without selling it to anyone new), ``metered_prices`` (a licensed price's
    metered companions, below).

Plans with usage. A plan (a licensed price) may bill usage beyond its quota through metered
prices it lists in ``metered_prices``; subscribing to the plan adds one subscription item per
metered price, changing plan swaps them, and the invoice at each period end bills the
period's usage (https://docs.stripe.com/products-prices/pricing-models#usage-based-pricing,
"fixed fee and overage"). A metered price bills from a meter (``recurring.meter``) and has no
``unit_amount`` when it is ``tiers``-priced: graduated tiers (Stripe's ``tiers_mode=graduated``
with ``billing_scheme=tiered``: each unit is priced by the tier it falls in,
https://docs.stripe.com/products-prices/pricing-models#graduated-pricing), each
``{"up_to": int | "inf", "unit_amount": int}``. The rules the loader holds:

- the quota is said once: when the plan's product limits the meter, the metered price's first
  tier is free and ends exactly at that limit (the included units), so what Stripe bills and
  what the quota helper lets through agree; an untiered metered price bills every unit, so
  its product must not include any;
- a metered price is never offered alone (``offered: false``): it comes with its plan, of the
  same product, currency and interval;
- licensed prices of one currency bill the same meters: a plan change (an interval switch
  too) then swaps each metered price for the other plan's, which Stripe can hold until the
  change is paid
  (pending updates change items' ``price`` and ``quantity`` only, never add or remove an item:
  https://docs.stripe.com/billing/subscriptions/pending-updates-reference).
``coupons.<key>``
    ``name``, ``percent_off`` or ``amount_off`` + ``currency``, ``duration`` (once, forever,
    repeating + ``duration_in_months``), optional ``max_redemptions`` and ``applies_to``
    (product keys).
``promotion_codes.<CODE>``
    ``coupon`` (a coupon key), optional ``max_redemptions``, ``first_time_transaction``.
    Only codes the app offers: test fixtures (expired, inactive codes) live with the stand-in.
``portal``
    ``plan_switches`` (offered price lookup keys the billing portal lets a customer switch
    among), ``proration_behavior`` (create_prorations, none, always_invoice; this catalog uses
    always_invoice, as ``change-plan`` does, so a switch in the portal bills the prorated
    difference at once and both ways of changing plan charge alike), ``cancel_mode``
    (at_period_end or immediately).

Usage (meters, quotas, the free plan):

``meters.<key>``
    ``display_name``, ``event_name`` (what meter events are reported as), ``aggregation``
    (sum, count, last; default sum), ``customer_payload_key`` (default ``stripe_customer_id``),
    ``value_payload_key`` (default ``value``). A metered price names its meter key.
``products.<key>.limits.<meter key>``
    How much of a meter a subscriber of that product may use per billing period (a quota).
``free_plan``
    What a user without a subscription gets: ``features`` (lookup keys) and ``limits``.

``python -m billing.catalog`` checks the file and prints what it declares.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.settings import ConfigError

CATALOG_PATH = Path(__file__).with_name("catalog.json")

Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,79}$")]
LookupKey = Annotated[str, Field(pattern=r"^[a-z0-9_]{1,200}$")]
Code = Annotated[str, Field(pattern=r"^[A-Za-z0-9]{3,50}$")]
Currency = Annotated[str, Field(pattern=r"^[a-z]{3}$")]


class CatalogError(ConfigError, ValueError):
    """The catalog file is missing, not JSON, or declares something inconsistent (named).

    A configuration error like a bad setting: an instance whose function loads the catalog at
    start (``billing.usage.plans``) logs it as one CRITICAL line and exits (``app.boot``)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Feature(_Model):
    name: str = Field(min_length=1, max_length=80)


class Product(_Model):
    name: str = Field(min_length=1, max_length=250)
    description: str | None = None
    features: tuple[LookupKey, ...] = ()
    limits: dict[Key, int] = Field(default_factory=dict)


class Recurring(_Model):
    interval: Literal["day", "week", "month", "year"]
    interval_count: int | None = Field(default=None, ge=1, le=365)
    usage_type: Literal["licensed", "metered"] | None = None
    meter: Key | None = None

    @model_validator(mode="after")
    def _meter_iff_metered(self) -> Self:
        if (self.usage_type == "metered") != (self.meter is not None):
            raise ValueError("a metered price names its meter, and only a metered price does")
        return self


class Tier(_Model):
    up_to: int | Literal["inf"]
    unit_amount: int = Field(ge=0)

    @model_validator(mode="after")
    def _positive(self) -> Self:
        if isinstance(self.up_to, int) and self.up_to < 1:
            raise ValueError("up_to is a positive number of units or 'inf'")
        return self


class Price(_Model):
    product: Key
    unit_amount: int | None = Field(default=None, ge=0)
    currency: Currency
    recurring: Recurring | None = None
    tiers: tuple[Tier, ...] = ()
    nickname: str | None = None
    offered: bool = True
    metered_prices: tuple[LookupKey, ...] = ()

    @property
    def metered(self) -> bool:
        return self.recurring is not None and self.recurring.usage_type == "metered"

    @property
    def meter(self) -> str | None:
        return self.recurring.meter if self.recurring else None

    @model_validator(mode="after")
    def _priced_once(self) -> Self:
        if self.tiers:
            if not self.metered:
                raise ValueError("tiers price metered usage: only a metered price has them")
            if self.unit_amount is not None:
                raise ValueError("a tiered price has tiers and no unit_amount")
            bounds = [t.up_to for t in self.tiers]
            if bounds[-1] != "inf" or "inf" in bounds[:-1]:
                raise ValueError("tiers end with one up_to 'inf', the last")
            finite = [b for b in bounds if isinstance(b, int)]
            if finite != sorted(set(finite)):
                raise ValueError("tiers' up_to increase")
        elif self.unit_amount is None:
            raise ValueError("a price has a unit_amount (or tiers, when metered)")
        if self.metered and self.offered:
            raise ValueError("a metered price comes with a plan (metered_prices): offered false")
        if self.metered and self.metered_prices:
            raise ValueError("metered_prices belong to a licensed price")
        return self


class Coupon(_Model):
    name: str = Field(min_length=1, max_length=40)
    percent_off: float | None = Field(default=None, gt=0, le=100)
    amount_off: int | None = Field(default=None, gt=0)
    currency: Currency | None = None
    duration: Literal["once", "forever", "repeating"]
    duration_in_months: int | None = Field(default=None, ge=1)
    max_redemptions: int | None = Field(default=None, ge=1)
    applies_to: tuple[Key, ...] = ()

    @model_validator(mode="after")
    def _one_discount(self) -> Self:
        if (self.percent_off is None) == (self.amount_off is None):
            raise ValueError("a coupon has exactly one of percent_off and amount_off")
        if (self.amount_off is not None) != (self.currency is not None):
            raise ValueError("amount_off needs a currency, and only amount_off does")
        if (self.duration == "repeating") != (self.duration_in_months is not None):
            raise ValueError("duration_in_months goes with duration 'repeating', and only there")
        return self


class PromotionCode(_Model):
    coupon: Key
    max_redemptions: int | None = Field(default=None, ge=1)
    first_time_transaction: bool | None = None


class Portal(_Model):
    plan_switches: tuple[LookupKey, ...] = ()
    proration_behavior: Literal["create_prorations", "none", "always_invoice"] = "create_prorations"
    cancel_mode: Literal["at_period_end", "immediately"] = "at_period_end"


class Meter(_Model):
    display_name: str = Field(min_length=1, max_length=250)
    event_name: str = Field(pattern=r"^[a-z][a-z0-9_.]{0,99}$")
    aggregation: Literal["sum", "count", "last"] = "sum"
    customer_payload_key: str = "stripe_customer_id"
    value_payload_key: str = "value"


class FreePlan(_Model):
    features: tuple[LookupKey, ...] = ()
    limits: dict[Key, int] = Field(default_factory=dict)


class Catalog(_Model):
    comment: str | None = Field(default=None, alias="//")
    features: dict[LookupKey, Feature]
    products: dict[Key, Product]
    prices: dict[LookupKey, Price]
    coupons: dict[Key, Coupon] = Field(default_factory=dict)
    promotion_codes: dict[Code, PromotionCode] = Field(default_factory=dict)
    portal: Portal = Portal()
    meters: dict[Key, Meter] = Field(default_factory=dict)
    free_plan: FreePlan | None = None

    @model_validator(mode="after")
    def _references_resolve(self) -> Self:
        problems = []
        for key, product in self.products.items():
            problems += [
                f"products.{key}.features: no feature {feature!r}"
                for feature in product.features
                if feature not in self.features
            ]
            problems += [
                f"products.{key}.limits: no meter {meter!r}"
                for meter in product.limits
                if meter not in self.meters
            ]
        for key, price in self.prices.items():
            if price.product not in self.products:
                problems.append(f"prices.{key}.product: no product {price.product!r}")
            meter = price.recurring.meter if price.recurring else None
            if meter is not None and meter not in self.meters:
                problems.append(f"prices.{key}.recurring.meter: no meter {meter!r}")
            problems += self._metered_problems(key, price)
        for key, coupon in self.coupons.items():
            problems += [
                f"coupons.{key}.applies_to: no product {product!r}"
                for product in coupon.applies_to
                if product not in self.products
            ]
        for code, promo in self.promotion_codes.items():
            if promo.coupon not in self.coupons:
                problems.append(f"promotion_codes.{code}.coupon: no coupon {promo.coupon!r}")
        if len({code.upper() for code in self.promotion_codes}) != len(self.promotion_codes):
            problems.append("promotion_codes: codes differ only in case (Stripe ignores case)")
        for key in self.portal.plan_switches:
            if key not in self.prices or not self.prices[key].offered:
                problems.append(f"portal.plan_switches: {key!r} is not an offered price")
        if (
            len({self.prices[k].product for k in self.portal.plan_switches if k in self.prices})
            > 10
        ):
            problems.append("portal.plan_switches: Stripe's portal takes at most 10 products")
        if self.free_plan is not None:
            problems += [
                f"free_plan.features: no feature {feature!r}"
                for feature in self.free_plan.features
                if feature not in self.features
            ]
            problems += [
                f"free_plan.limits: no meter {meter!r}"
                for meter in self.free_plan.limits
                if meter not in self.meters
            ]
        if not self.offered_prices():
            problems.append("prices: none is offered")
        problems += self._switchable_problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _metered_problems(self, key: str, price: Price) -> list[str]:
        problems = []
        where = f"prices.{key}.metered_prices"
        for other in price.metered_prices:
            metered = self.prices.get(other)
            if metered is None or not metered.metered:
                problems.append(f"{where}: {other!r} is not a metered price")
                continue
            if _shared(metered) != _shared(price):
                problems.append(
                    f"{where}: {other!r} differs in product, currency or interval "
                    "(a plan's items share them)"
                )
        meters = [self.prices[m].meter for m in price.metered_prices if m in self.prices]
        if len(set(meters)) != len(meters):
            problems.append(f"{where}: two prices bill the same meter")
        meter = price.meter
        if price.metered and meter is not None and meter in self.meters:
            included = self.products[price.product].limits.get(meter, 0)
            first = price.tiers[0] if price.tiers else None
            if included and (first is None or (first.up_to, first.unit_amount) != (included, 0)):
                problems.append(
                    f"prices.{key}.tiers: the first tier is free up to the quota of "
                    f"products.{price.product}.limits.{meter} ({included})"
                )
        return problems

    def _switchable_problems(self) -> list[str]:
        groups: dict[str, dict[str, tuple[str, ...]]] = {}
        for key, price in self.prices.items():
            if price.recurring is None or price.metered:
                continue
            groups.setdefault(price.currency, {})[key] = self.meters_billed(key)
        problems = []
        for currency, billed in sorted(groups.items()):
            if len(set(billed.values())) > 1:
                problems.append(
                    f"prices: the {currency} plans bill different meters "
                    f"({', '.join(f'{k}: {list(v)}' for k, v in sorted(billed.items()))}); "
                    "a plan change swaps metered prices, it cannot add or remove one"
                )
        return problems

    def meters_billed(self, key: str) -> tuple[str, ...]:
        """The meter keys a licensed price bills usage of, sorted."""
        return tuple(
            sorted(
                self.prices[m].meter or ""
                for m in self.prices[key].metered_prices
                if m in self.prices and self.prices[m].metered
            )
        )

    def metered_prices_of(self, key: str) -> list[str]:
        """A licensed price's metered prices, in the order of the meters they bill."""
        price = self.prices[key]
        return sorted(
            price.metered_prices,
            key=lambda m: self.prices[m].meter or "",
        )

    def offered_prices(self) -> list[str]:
        """Lookup keys of the prices the app sells, sorted (Terraform sorts them the same)."""
        return sorted(key for key, price in self.prices.items() if price.offered)

    def features_of(self, product: str) -> tuple[str, ...]:
        return self.products[product].features


def _shared(price: Price) -> tuple[object, ...]:
    """What a plan's items have in common: product, currency and billing interval."""
    recurring = price.recurring
    interval = (recurring.interval, recurring.interval_count or 1) if recurring else None
    return (price.product, price.currency, interval)


def parse(text: str, source: str = "catalog.json") -> Catalog:
    """The catalog in ``text``; a CatalogError naming the place of every problem otherwise."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogError(f"{source}: not JSON: {exc}") from None
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc'])) or '(top)'}: {error['msg']}"
            for error in exc.errors()
        )
        raise CatalogError(f"{source}: {problems}") from None


@functools.cache
def load(path: Path = CATALOG_PATH) -> Catalog:
    """The catalog file, parsed once per process."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"{path}: cannot be read: {exc.strerror}") from None
    return parse(text, source=str(path))


def main() -> None:
    try:
        catalog = load()
    except CatalogError as exc:
        sys.exit(str(exc))
    offered = catalog.offered_prices()
    sys.stdout.write(
        f"{len(catalog.products)} products, {len(catalog.prices)} prices "
        f"({len(offered)} offered: {', '.join(offered)}), {len(catalog.features)} features, "
        f"{len(catalog.coupons)} coupons, {len(catalog.promotion_codes)} promotion codes, "
        f"{len(catalog.meters)} meters\n"
    )


if __name__ == "__main__":
    main()
