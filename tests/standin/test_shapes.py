"""Every object the stand-in renders has Stripe's published shape (npm ``stripe`` 23 types):
each field Stripe always sends is there, none it does not know, and an optional field is
omitted rather than null, as stripe-python would see it from Stripe.

One scenario on a stand-in of its own renders every kind of object and fires every event
type; the stand-in's source says which kinds and types exist, so one added later without a
rendering here fails the coverage tests."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import stripe

import devstack.stripe_standin as standin_package
from devstack.stripe_standin import StandinConfig
from devstack.stripe_standin.shapes import OBJECTS, generate, problems
from tests.standin.conftest import StandinServer, intent_id, save_card, serving

BASIC, PRO = "price_basic_monthly", "price_pro_monthly"
DAY = 86_400
SOURCE = Path(standin_package.__file__).parent


class Raw:
    """GETs and POSTs as JSON, untouched by the SDK (a POST form is given flattened)."""

    def __init__(self, server: StandinServer) -> None:
        self.url = server.url
        self.headers = {"Authorization": "Bearer sk_test_shapes"}

    def get(self, path: str, **params: Any) -> Any:
        response = requests.get(self.url + path, params=params, headers=self.headers, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str, form: dict[str, str]) -> Any:
        response = requests.post(self.url + path, data=form, headers=self.headers, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()


@dataclass
class World:
    server: StandinServer
    client: stripe.StripeClient
    raw: Raw
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    rendered: list[Any] = field(default_factory=list)

    def customer(self, name: str, card: str | None = "pm_card_visa") -> str:
        params: stripe.params.CustomerCreateParams = {"email": f"{name}-{self.tag}@example.com"}
        if card is not None:
            params["payment_method"] = card
            params["invoice_settings"] = {"default_payment_method": card}
        return self.client.v1.customers.create(params).id

    def subscribe(self, customer: str, price: str, **extra: Any) -> stripe.Subscription:
        params: stripe.params.SubscriptionCreateParams = {
            "customer": customer,
            "items": [{"price": price}],
        }
        params.update(extra)  # type: ignore[typeddict-item]
        return self.client.v1.subscriptions.create(params)


@pytest.fixture(scope="module")
def own_server() -> Iterator[StandinServer]:
    """A stand-in of its own: the event log must hold this scenario's events only."""
    with serving(StandinConfig(), "standin-shapes") as server:
        yield server


def _payments(w: World) -> None:
    """Cards, 3-D Secure, declines, trials, voids and cancellations."""
    raw, client = w.raw, w.client
    customer = client.v1.customers.create(
        {"email": f"shape-{w.tag}@example.com", "name": "Shape", "metadata": {"a": "b"}}
    )
    card = save_card(client, customer.id, "pm_card_visa")
    client.v1.customers.update(
        customer.id, {"invoice_settings": {"default_payment_method": card.id}}
    )
    paying = w.subscribe(
        customer.id,
        BASIC,
        payment_behavior="default_incomplete",
        payment_settings={"save_default_payment_method": "on_subscription"},
        expand=["latest_invoice.confirmation_secret"],
    )
    invoice = paying.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert invoice.confirmation_secret is not None
    pi = intent_id(invoice.confirmation_secret.client_secret)
    with pytest.raises(stripe.CardError):
        client.v1.payment_intents.confirm(pi, {"payment_method": "pm_card_chargeDeclined"})
    w.rendered.append(raw.get(f"/v1/payment_intents/{pi}"))
    client.v1.payment_intents.confirm(pi, {"payment_method": "pm_card_authenticationRequired"})
    w.rendered.append(raw.get(f"/v1/payment_intents/{pi}"))
    w.server.control("POST", f"/_standin/payment_intents/{pi}/authenticate", {"outcome": "succeed"})
    trial = w.subscribe(
        w.customer("trial", card=None),
        PRO,
        trial_period_days=7,
        payment_behavior="default_incomplete",
    )
    # A SetupIntent that needs 3-D Secure, and one whose card check declines.
    needs_action = client.v1.setup_intents.create({"customer": customer.id})
    client.v1.setup_intents.confirm(
        needs_action.id, {"payment_method": "pm_card_authenticationRequired"}
    )
    failed = client.v1.setup_intents.create({"customer": customer.id})
    with pytest.raises(stripe.CardError):
        client.v1.setup_intents.confirm(failed.id, {"payment_method": "pm_card_chargeDeclined"})
    # An unpaid invoice voided (its PaymentIntent is canceled), a subscription canceled.
    unpaid = w.subscribe(
        w.customer("void", card=None), BASIC, payment_behavior="default_incomplete"
    )
    voided = raw.post(f"/v1/invoices/{unpaid.latest_invoice}/void", {})
    ended = w.subscribe(w.customer("cancel"), BASIC)
    client.v1.subscriptions.cancel(ended.id)
    w.rendered += [
        raw.get(
            f"/v1/customers/{customer.id}",
            **{"expand[]": "invoice_settings.default_payment_method"},
        ),
        raw.get(
            f"/v1/subscriptions/{paying.id}",
            **{
                "expand[0]": "latest_invoice.payments",
                "expand[1]": "items.data.price.product",
                "expand[2]": "default_payment_method",
            },
        ),
        raw.get(
            f"/v1/invoices/{invoice.id}",
            **{
                "expand[0]": "parent.subscription_details.subscription",
                "expand[1]": "confirmation_secret",
            },
        ),
        raw.get(f"/v1/subscriptions/{trial.id}", **{"expand[]": "pending_setup_intent"}),
        raw.get("/v1/subscriptions", customer=customer.id, status="all"),
        raw.get(f"/v1/payment_methods/{card.id}"),
        raw.get(f"/v1/setup_intents/{trial.pending_setup_intent}"),
        raw.get(f"/v1/setup_intents/{needs_action.id}"),
        raw.get(f"/v1/setup_intents/{failed.id}"),
        voided,
        raw.get(
            f"/v1/invoices/{voided['id']}", **{"expand[]": "payments.data.payment.payment_intent"}
        ),
        raw.get(f"/v1/subscriptions/{ended.id}"),
        raw.get("/v1/products/prod_pro", **{"expand[]": "default_price"}),
    ]


def _checkout(w: World) -> None:
    """A Checkout session created with a code, paid on the hosted page; one expired; a portal."""
    raw = w.raw
    customer = w.customer("checkout", card=None)
    base = {
        "mode": "subscription",
        "customer": customer,
        "line_items[0][price]": PRO,
        "line_items[0][quantity]": "1",
        "success_url": "http://localhost:3000/ok?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://localhost:3000/cancel",
        "subscription_data[metadata][firebase_uid]": "user-1",
    }
    opened = raw.post(
        "/v1/checkout/sessions", {**base, "discounts[0][promotion_code]": "promo_welcome20"}
    )
    w.server.control(
        "POST", f"/_standin/checkout/sessions/{opened['id']}/complete", {"card": "pm_card_visa"}
    )
    abandoned = raw.post(
        "/v1/checkout/sessions", {**base, "allow_promotion_codes": "true", "metadata[a]": "b"}
    )
    w.rendered += [
        opened,
        raw.get(
            f"/v1/checkout/sessions/{opened['id']}",
            **{"expand[0]": "subscription.discounts", "expand[1]": "invoice.discounts"},
        ),
        raw.post(f"/v1/checkout/sessions/{abandoned['id']}/expire", {}),
        raw.get("/v1/checkout/sessions", customer=customer),
        raw.post(
            "/v1/billing_portal/sessions",
            {
                "customer": customer,
                "configuration": "bpc_catalog",
                "return_url": "http://localhost:3000/account",
            },
        ),
        raw.post(
            "/v1/billing_portal/sessions",
            {"customer": customer, "configuration": "bpc_catalog", "expand[0]": "configuration"},
        ),
    ]


def _promotions(w: World) -> None:
    """Codes listed (their coupons expanded) and a subscription discounted by one."""
    raw = w.raw
    sub = w.subscribe(w.customer("promo"), PRO, discounts=[{"promotion_code": "promo_pro5off"}])
    w.rendered += [
        raw.get("/v1/promotion_codes"),
        raw.get("/v1/promotion_codes", **{"expand[]": "data.promotion.coupon"}),
        raw.get(
            "/v1/promotion_codes",
            code="PRO5OFF",
            **{"expand[]": "data.promotion.coupon.applies_to"},
        ),
        raw.get(
            f"/v1/subscriptions/{sub.id}",
            **{
                "expand[0]": "discounts.promotion_code",
                "expand[1]": "discounts.source.coupon",
                "expand[2]": "latest_invoice.discounts",
                "expand[3]": "discounts.customer",
            },
        ),
        raw.get(f"/v1/invoices/{sub.latest_invoice}"),
    ]


def _change_form(sub: stripe.Subscription, price: str, behavior: str) -> dict[str, str]:
    return {
        "subscription": sub.id,
        "subscription_details[items][0][id]": sub.items.data[0].id,
        "subscription_details[items][0][price]": price,
        "subscription_details[proration_behavior]": behavior,
    }


def _plan_changes(w: World) -> stripe.Subscription:
    """Previews, an upgrade, a downgrade crediting the balance, and a pending update."""
    raw, client = w.raw, w.client
    sub = w.subscribe(w.customer("upgrade"), BASIC)
    w.rendered += [
        raw.post("/v1/invoices/create_preview", _change_form(sub, PRO, "always_invoice")),
        raw.post(
            "/v1/invoices/create_preview",
            {**_change_form(sub, PRO, "none"), "discounts[0][promotion_code]": "promo_welcome20"},
        ),
    ]
    change: stripe.params.SubscriptionUpdateParams = {
        "items": [{"id": sub.items.data[0].id, "price": PRO}],
        "proration_behavior": "always_invoice",
        "payment_behavior": "pending_if_incomplete",
    }
    client.v1.subscriptions.update(sub.id, change)
    down = w.subscribe(w.customer("downgrade"), PRO)
    client.v1.subscriptions.update(
        down.id, {**change, "items": [{"id": down.items.data[0].id, "price": BASIC}]}
    )
    pending = w.subscribe(w.customer("pending"), BASIC)
    failing = save_card(client, str(pending.customer), "pm_card_chargeCustomerFail")
    client.v1.customers.update(
        str(pending.customer), {"invoice_settings": {"default_payment_method": failing.id}}
    )
    client.v1.subscriptions.update(
        pending.id, {**change, "items": [{"id": pending.items.data[0].id, "price": PRO}]}
    )
    applied = w.subscribe(w.customer("applied"), BASIC)
    failing = save_card(client, str(applied.customer), "pm_card_chargeCustomerFail")
    client.v1.customers.update(
        str(applied.customer), {"invoice_settings": {"default_payment_method": failing.id}}
    )
    waiting = client.v1.subscriptions.update(
        applied.id, {**change, "items": [{"id": applied.items.data[0].id, "price": PRO}]}
    )
    visa = save_card(client, str(applied.customer), "pm_card_visa")
    client.v1.invoices.pay(str(waiting.latest_invoice), {"payment_method": visa.id})
    w.rendered += [
        raw.get(f"/v1/subscriptions/{sub.id}", **{"expand[]": "latest_invoice"}),
        raw.get(f"/v1/customers/{down.customer}"),
        raw.get(f"/v1/invoices/{client.v1.subscriptions.retrieve(down.id).latest_invoice}"),
        raw.get(
            f"/v1/subscriptions/{pending.id}",
            **{"expand[]": "latest_invoice"},
        ),
        raw.post(
            "/v1/invoices/create_preview",
            {"customer": str(pending.customer), **_change_form(pending, PRO, "none")},
        ),
    ]
    return pending


def _entitlements(w: World) -> None:
    """A feature created and attached to a product; a subscriber's active entitlements."""
    raw = w.raw
    customer = w.customer("entitled")
    w.subscribe(customer, PRO)
    feature = raw.post(
        "/v1/entitlements/features",
        {"name": "Exports", "lookup_key": f"exports_{w.tag}", "metadata[a]": "b"},
    )
    w.rendered += [
        feature,
        raw.post("/v1/products/prod_pro/features", {"entitlement_feature": feature["id"]}),
        raw.get("/v1/entitlements/active_entitlements", customer=customer),
    ]


def _every(w: World, path: str, **params: str) -> list[Any]:
    """Every page of a list."""
    found: list[Any] = []
    after: dict[str, str] = {}
    while True:
        page = w.raw.get(path, limit="100", **params, **after)
        found += page["data"]
        if not page["has_more"]:
            return found
        after = {"starting_after": page["data"][-1]["id"]}


def _time_passes(w: World, pending: stripe.Subscription) -> None:
    """The trial's end announced, the pending update expired; dunning, a pause, renewals."""
    paused = w.client.v1.subscriptions.create(
        {
            "customer": w.client.v1.customers.create({"email": f"pause-{w.tag}@example.com"}).id,
            "items": [{"price": BASIC}],
            "trial_period_days": 1,
            "trial_settings": {"end_behavior": {"missing_payment_method": "pause"}},
        }
    )
    w.server.advance(5 * DAY)
    w.rendered.append(w.raw.get(f"/v1/subscriptions/{pending.id}"))
    w.rendered.append(w.raw.get(f"/v1/subscriptions/{paused.id}"))
    for status in ("past_due", "paused"):
        sub = w.subscribe(w.customer(status), BASIC)
        w.server.control("POST", f"/_standin/subscriptions/{sub.id}/status", {"status": status})
    w.server.advance(30 * DAY)
    w.rendered += _every(w, "/v1/subscriptions", status="all")
    w.rendered += _every(w, "/v1/invoices")


def _meters(w: World) -> None:
    """A meter, an event reported to it, and its summary for the customer."""
    meter = w.raw.post(
        "/v1/billing/meters",
        {
            "display_name": "Calls",
            "event_name": f"calls_{w.tag}",
            "default_aggregation[formula]": "sum",
        },
    )
    customer = w.customer("metered")
    w.rendered.append(meter)
    w.rendered.append(
        w.raw.post(
            "/v1/billing/meter_events",
            {
                "event_name": f"calls_{w.tag}",
                "payload[stripe_customer_id]": customer,
                "payload[value]": "3",
            },
        )
    )
    now = int(w.client.v1.customers.retrieve(customer).created)
    start = now - now % 60
    w.rendered.append(
        w.raw.get(
            f"/v1/billing/meters/{meter['id']}/event_summaries",
            customer=customer,
            start_time=str(start - 3600),
            end_time=str(start + 60),
        )
    )


def _schedules(w: World) -> list[str]:
    """A downgrade scheduled at period end (applied when time passes), one released at once,
    and one whose subscription ends without paying (the schedule is aborted)."""
    raw = w.raw
    made = []
    for name in ("scheduled", "released"):
        sub = w.subscribe(w.customer(name), PRO)
        schedule = raw.post("/v1/subscription_schedules", {"from_subscription": sub.id})
        phase = schedule["phases"][0]
        w.rendered.append(schedule)
        w.rendered.append(
            raw.post(
                f"/v1/subscription_schedules/{schedule['id']}",
                {
                    "end_behavior": "release",
                    "phases[0][start_date]": str(phase["start_date"]),
                    "phases[0][end_date]": str(phase["end_date"]),
                    "phases[0][items][0][price]": PRO,
                    "phases[0][items][0][quantity]": "1",
                    "phases[1][items][0][price]": BASIC,
                    "phases[1][items][0][quantity]": "1",
                    "phases[1][duration][interval]": "month",
                    "phases[1][proration_behavior]": "none",
                },
            )
        )
        made.append(schedule["id"])
    w.rendered.append(raw.post(f"/v1/subscription_schedules/{made[1]}/release", {}))
    trial = w.subscribe(
        w.client.v1.customers.create({"email": f"abort-{w.tag}@example.com"}).id,
        BASIC,
        trial_period_days=1,
        trial_settings={"end_behavior": {"missing_payment_method": "cancel"}},
    )
    made.append(raw.post("/v1/subscription_schedules", {"from_subscription": trial.id})["id"])
    return made


@pytest.fixture(scope="module")
def world(own_server: StandinServer) -> World:
    w = World(own_server, own_server.client(), Raw(own_server))
    _payments(w)
    _checkout(w)
    _promotions(w)
    _entitlements(w)
    _meters(w)
    scheduled = _schedules(w)
    _time_passes(w, _plan_changes(w))
    w.rendered += [w.raw.get(f"/v1/subscription_schedules/{s}") for s in scheduled]
    w.rendered.append(w.raw.get("/v1/test_helpers/test_clocks/clock_standin"))
    w.rendered += _every(w, "/v1/events")
    return w


def _kinds(value: Any, into: set[str]) -> set[str]:
    if isinstance(value, list):
        for item in value:
            _kinds(item, into)
    elif isinstance(value, dict):
        if isinstance(value.get("object"), str):
            into.add(value["object"])
        for item in value.values():
            _kinds(item, into)
    return into


def _in_source(pattern: str) -> set[str]:
    found: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        found.update(re.findall(pattern, path.read_text()))
    return found


def test_every_rendered_object_has_stripes_shape(world: World) -> None:
    found = [problem for obj in world.rendered for problem in problems(obj)]
    assert found == [], "\n".join(found)


def test_every_kind_of_object_the_standin_builds_is_rendered_and_has_a_shape(
    world: World,
) -> None:
    built = _in_source(r'"object": "([a-z_.]+)"') - {"list"}
    rendered = _kinds(world.rendered, set()) - {"list"}
    assert built - rendered == set()
    # A kind without a shape would pass problems() unchecked.
    assert rendered - set(OBJECTS) == set()


def test_every_event_type_the_standin_emits_is_rendered(world: World) -> None:
    emitted = _in_source(r'emit(?:_update)?\(\s*"([a-z_.]+)"')
    assert len(emitted) > 20
    rendered = {obj["type"] for obj in world.rendered if obj.get("object") == "event"}
    assert emitted - rendered == set()


def test_the_check_catches_a_null_where_stripe_omits_the_field() -> None:
    event: dict[str, Any] = {
        "id": "evt_1",
        "object": "event",
        "api_version": None,
        "context": None,
        "created": 1,
        "data": {"object": {}},
        "livemode": False,
        "pending_webhooks": 0,
        "request": None,
        "type": "x",
    }
    assert problems(event) == ["$.context: null, where Stripe omits the field (EventBase)"]
    del event["context"], event["created"]
    assert problems(event) == ["$.created: missing (EventBase always has it)"]


def test_the_check_catches_a_field_stripe_does_not_have_in_a_folder_resource() -> None:
    session: dict[str, Any] = {"id": "bps_1", "object": "billing_portal.session", "flow": None}
    found = problems(session)
    assert "$.flow: null, where" not in " ".join(found)
    assert "$.url: missing (BillingPortal.Session always has it)" in found
    session["invented"] = 1
    assert "$.invented: not a field of BillingPortal.Session" in problems(session)


def test_the_extractor_qualifies_folders_and_resolves_types_as_typescript_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "Checkout").mkdir()
    (tmp_path / "BillingPortal").mkdir()
    (tmp_path / "Discounts.d.ts").write_text(
        "export interface Discount {\n    object: 'discount';\n    id: string;\n}\n"
    )
    (tmp_path / "Checkout" / "Sessions.d.ts").write_text(
        "import { Discount as _Discount } from './../Discounts.js';\n"
        "export interface Session {\n"
        "    object: 'checkout.session';\n"
        "    total_details: Session.TotalDetails | null;\n"
        "    discount?: _Discount;\n"
        "}\n"
        "export declare namespace Session {\n"
        "    interface TotalDetails {\n"
        "        amount_tax: number;\n"
        "    }\n"
        "}\n"
    )
    (tmp_path / "BillingPortal" / "Sessions.d.ts").write_text(
        "export interface Session {\n    object: 'billing_portal.session';\n    url: string;\n}\n"
    )
    monkeypatch.setattr(
        "devstack.stripe_standin.shapes.OBJECTS",
        ("checkout.session", "billing_portal.session", "discount"),
    )
    shapes = generate(tmp_path)
    assert shapes["objects"] == {
        "billing_portal.session": "BillingPortal.Session",
        "checkout.session": "Checkout.Session",
        "discount": "Discount",
    }
    session = shapes["interfaces"]["Checkout.Session"]
    assert session["total_details"] == {
        "optional": False,
        "nullable": True,
        "ref": "Checkout.Session.TotalDetails",
    }
    assert session["discount"] == {"optional": True, "nullable": False, "ref": "Discount"}
    assert shapes["interfaces"]["BillingPortal.Session"]["url"]["optional"] is False
