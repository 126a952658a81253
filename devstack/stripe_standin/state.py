"""All API state, guarded by one re-entrant lock.

Every API operation runs under ``State.lock`` so each is atomic; the webhook worker and control
endpoints take the same lock. Events produced by an operation wait in an outbox until the
operation has finished, then go to the webhook dispatcher in the order they were created.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devstack.stripe_standin import ids, objects
from devstack.stripe_standin.api_errors import invalid_request, resource_missing
from devstack.stripe_standin.clock import Clock
from devstack.stripe_standin.dunning import DunningSettings
from devstack.stripe_standin.meters import MeterBook
from devstack.stripe_standin.options import API_VERSION
from devstack.stripe_standin.testmode_cards import CardProfile

JSONDict = dict[str, Any]

# id prefix -> (collection attribute, object name)
PREFIXES: dict[str, tuple[str, str]] = {
    "cus": ("customers", "customer"),
    "prod": ("products", "product"),
    "price": ("prices", "price"),
    "pm": ("payment_methods", "payment_method"),
    "seti": ("setup_intents", "setup_intent"),
    "pi": ("payment_intents", "payment_intent"),
    "sub": ("subscriptions", "subscription"),
    "sub_sched": ("subscription_schedules", "subscription_schedule"),
    "in": ("invoices", "invoice"),
    "evt": ("events", "event"),
    "feat": ("features", "entitlements.feature"),
    "promo": ("promotion_codes", "promotion_code"),
    "di": ("discounts", "discount"),
    "cs": ("checkout_sessions", "checkout.session"),
    "bps": ("portal_sessions", "billing_portal.session"),
    "bpc": ("portal_configurations", "billing_portal.configuration"),
}


@dataclass(frozen=True)
class Origin:
    """What caused a change: an API request (for ``event.request``) or the stand-in itself."""

    request_id: str | None = None
    idempotency_key: str | None = None


AUTOMATIC = Origin()


@dataclass
class SubscriptionBookkeeping:
    """Facts about a subscription that Stripe keeps but does not expose."""

    payment_behavior: str = "allow_incomplete"
    trial_will_end_sent: bool = False


@dataclass
class PaymentMethodBookkeeping:
    profile: CardProfile
    set_up: bool = False


@dataclass(frozen=True)
class Coverage:
    """What was debited for a subscription item, and for which span: credit prorations give
    back a share of it (flexible billing mode credits what was charged, not the list price)."""

    net_amount: int
    start: int
    end: int


@dataclass
class PendingChange:
    """A plan change waiting for its invoice to be paid (``pending_if_incomplete``)."""

    subscription: str
    prices: dict[str, str]  # subscription item id -> the price it gets
    discounts: list[str] | None  # the subscription's discounts once applied (None: unchanged)
    coverage: dict[str, Coverage]
    # A change of billing interval restarts the period: (new billing_cycle_anchor, period end).
    period: tuple[int, int] | None = None
    at: int = 0  # the moment it is made for (proration date): metered items count from then


@dataclass
class Data:
    customers: dict[str, JSONDict] = field(default_factory=dict)
    products: dict[str, JSONDict] = field(default_factory=dict)
    prices: dict[str, JSONDict] = field(default_factory=dict)
    payment_methods: dict[str, JSONDict] = field(default_factory=dict)
    setup_intents: dict[str, JSONDict] = field(default_factory=dict)
    payment_intents: dict[str, JSONDict] = field(default_factory=dict)
    subscriptions: dict[str, JSONDict] = field(default_factory=dict)
    subscription_schedules: dict[str, JSONDict] = field(default_factory=dict)
    invoices: dict[str, JSONDict] = field(default_factory=dict)
    events: dict[str, JSONDict] = field(default_factory=dict)
    features: dict[str, JSONDict] = field(default_factory=dict)
    # product id -> its product_feature objects, in attachment order
    product_features: dict[str, list[JSONDict]] = field(default_factory=dict)
    # customer id -> (feature id -> active entitlement), as last announced by a summary event
    entitlements: dict[str, dict[str, JSONDict]] = field(default_factory=dict)
    coupons: dict[str, JSONDict] = field(default_factory=dict)
    promotion_codes: dict[str, JSONDict] = field(default_factory=dict)
    discounts: dict[str, JSONDict] = field(default_factory=dict)
    checkout_sessions: dict[str, JSONDict] = field(default_factory=dict)
    portal_sessions: dict[str, JSONDict] = field(default_factory=dict)
    # Saved billing portal configurations: none on a fresh account (resources/billing_portal.py).
    portal_configurations: dict[str, JSONDict] = field(default_factory=dict)
    # Links and facts Stripe does not expose in this API version.
    pm_info: dict[str, PaymentMethodBookkeeping] = field(default_factory=dict)
    sub_info: dict[str, SubscriptionBookkeeping] = field(default_factory=dict)
    invoice_pi: dict[str, str] = field(default_factory=dict)
    pi_invoice: dict[str, str] = field(default_factory=dict)
    si_subscription: dict[str, str] = field(default_factory=dict)
    coupon_applies_to: dict[str, list[str]] = field(default_factory=dict)  # expandable only
    price_tiers: dict[str, list[JSONDict]] = field(default_factory=dict)  # expandable only
    # metered subscription item id -> when its price last changed: usage counts from then on
    metered_since: dict[str, int] = field(default_factory=dict)
    # (subscription item, product, period start) -> the product's feature ids at that period's
    # start: what the item provisions until its next period (active_entitlements.py)
    feature_snapshots: dict[tuple[str, str, int], list[str]] = field(default_factory=dict)
    coverage: dict[str, Coverage] = field(default_factory=dict)  # subscription item id ->
    pending_changes: dict[str, PendingChange] = field(default_factory=dict)  # invoice id ->
    checkout_lines: dict[str, list[JSONDict]] = field(default_factory=dict)  # session id ->
    meters: MeterBook = field(default_factory=MeterBook)  # billing meters and their events
    checkout_subscription_metadata: dict[str, JSONDict] = field(default_factory=dict)


class State:
    def __init__(
        self,
        clock: Clock,
        seed: Callable[[State], None],
        event_sink: Callable[[list[JSONDict]], None],
        webhook_endpoints: Callable[[], int],
        before_flush: Callable[[State], None] = lambda state: None,
    ) -> None:
        """``seed`` fills a fresh state (at start and on every reset); ``before_flush`` runs
        under the lock before an operation's events leave, to add the events Stripe derives
        from it (active entitlements). Both are passed in, so this module depends on no
        module that builds on it."""
        self.lock = threading.RLock()
        self.clock = clock
        self._seed = seed
        self._before_flush = before_flush
        self._event_sink = event_sink
        self._webhook_endpoints = webhook_endpoints
        self._outbox: list[JSONDict] = []
        # Where the stand-in is reachable, for URLs in objects (hosted invoice, 3-D Secure).
        self.base_url = "http://127.0.0.1"
        # The account's retry schedule and end of dunning (the stand-in's options set it).
        self.dunning = DunningSettings()
        # Whether a subscription's new invoices are limited (10 a minute, 20 a day).
        self.invoice_limits = False
        self.data = Data()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.data = Data()
            self._outbox = []
            self._seed(self)

    def now(self) -> int:
        return self.clock.now()

    def collection(self, name: str) -> dict[str, JSONDict]:
        collection: dict[str, JSONDict] = getattr(self.data, name)
        return collection

    def lookup(self, object_id: str) -> JSONDict | None:
        """Find any stored object by id (prices and products may have custom ids)."""
        for prefix, (name, _) in PREFIXES.items():
            if object_id.startswith(prefix + "_"):
                found = self.collection(name).get(object_id)
                if found is not None:
                    return found
        return self.data.coupons.get(object_id)  # coupons have ids of their own choosing

    def emit(
        self,
        event_type: str,
        obj: JSONDict,
        origin: Origin,
        previous_attributes: JSONDict | None = None,
    ) -> JSONDict:
        event = objects.event(
            ids.new_id("evt"),
            event_type,
            snapshot(obj),
            previous_attributes,
            self.now(),
            origin.request_id,
            origin.idempotency_key,
            API_VERSION,
        )
        event["pending_webhooks"] = self._webhook_endpoints()
        self.data.events[event["id"]] = event
        self._outbox.append(event)
        return event

    def emit_update(
        self, event_type: str, obj: JSONDict, before: JSONDict, origin: Origin
    ) -> JSONDict | None:
        """Emit ``event_type`` with ``previous_attributes`` if ``obj`` changed since ``before``."""
        previous = diff_previous(before, obj)
        if not previous:
            return None
        return self.emit(event_type, obj, origin, previous)

    def flush_events(self) -> None:
        with self.lock:
            self._before_flush(self)
            outbox, self._outbox = self._outbox, []
            if outbox:
                self._event_sink(outbox)


def get_param_object(
    state: State, collection: str, kind: str, object_id: str, param: str
) -> JSONDict:
    """An object named by a body parameter: missing means 400 with that ``param``."""
    found = state.collection(collection).get(object_id)
    if found is None:
        raise resource_missing(kind, object_id, param=param)
    return found


def check_item_price(sub: JSONDict, price: JSONDict, param: str) -> None:
    """A price a subscription's item may take (an item change here, a schedule's phase there):
    active, recurring, and in the subscription's currency, as Stripe refuses otherwise."""
    if not price["active"] or price["type"] != "recurring":
        raise invalid_request("The price specified is inactive or not recurring.", param=param)
    if price["currency"] != sub["currency"]:
        raise invalid_request(
            "All prices on a subscription must have the same currency.", param=param
        )


def snapshot(obj: JSONDict) -> JSONDict:
    return copy.deepcopy(obj)


def diff_previous(before: JSONDict, after: JSONDict) -> JSONDict:
    """Stripe's ``previous_attributes``: old values of what changed, nested for plain hashes."""
    changed: JSONDict = {}
    keys = list(before) + [key for key in after if key not in before]
    for key in keys:
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict) and "id" not in old:
            changed[key] = diff_previous(old, new)
        else:
            changed[key] = old
    return changed
