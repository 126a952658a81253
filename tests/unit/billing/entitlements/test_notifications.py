"""What an event tells the customer: only what is still true of the objects re-read from Stripe."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
import pytest
import stripe

from billing.config import BillingSettings
from billing.context import Context
from billing.entitlements.notifications import build
from billing.entitlements.sync import Entitlement
from billing.runtime import Runtime

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[4] / "schemas" / "notification.v1.json").read_text()
)
CUSTOMER = "cus_alice"


def _invoice(
    status: str,
    *,
    customer: str = CUSTOMER,
    amount_paid: int = 999,
    billing_reason: str = "subscription_cycle",
) -> dict[str, Any]:
    return {
        "id": "in_1", "object": "invoice", "status": status, "customer": customer,
        "billing_reason": billing_reason,
        "number": "A-1", "currency": "jpy", "amount_due": 999, "amount_paid": amount_paid,
        "hosted_invoice_url": "https://invoice.stripe.com/i/1", "invoice_pdf": None,
        "next_payment_attempt": None, "attempt_count": 1,
        "parent": {"type": "subscription_details",
                   "subscription_details": {"subscription": "sub_1"}},
        "lines": {"object": "list", "data": [{"id": "il_1", "object": "line_item",
                                             "period": {"start": 1, "end": 2}}]},
    }  # fmt: skip


def _subscription(status: str, *, customer: str = CUSTOMER) -> dict[str, Any]:
    return {
        "id": "sub_1", "object": "subscription", "status": status, "customer": customer,
        "cancel_at_period_end": False, "ended_at": None, "trial_end": 5,
        "items": {"object": "list", "data": [{"id": "si_1", "object": "subscription_item",
                                             "current_period_end": 9}]},
    }  # fmt: skip


class FakeStripe:
    """Answers the reads ``build`` makes, from the objects given (missing: resource_missing).
    ``paid_invoices``: what listing the subscription's paid invoices finds."""

    def __init__(self, paid_invoices: int = 1, **objects: dict[str, Any]) -> None:
        def read(kind: str) -> Any:
            def retrieve(object_id: str, *_: Any, **__: Any) -> stripe.StripeObject:
                if kind not in objects:
                    raise stripe.InvalidRequestError(
                        f"No such {kind}", param="id", code="resource_missing"
                    )
                return stripe.StripeObject.construct_from(objects[kind], "sk_test_unit")

            return SimpleNamespace(retrieve=retrieve)

        def list_invoices(params: dict[str, Any]) -> stripe.StripeObject:
            assert params["status"] == "paid"
            found = [{"id": f"in_paid{n}", "object": "invoice"} for n in range(paid_invoices)]
            return stripe.StripeObject.construct_from({"data": found}, "sk_test_unit")

        invoices = read("invoice")
        invoices.list = list_invoices
        self.v1 = SimpleNamespace(
            invoices=invoices,
            subscriptions=read("subscription"),
            customers=read("customer"),
            products=read("product"),
        )


def _ctx(settings: BillingSettings, paid_invoices: int = 1, **objects: dict[str, Any]) -> Context:
    objects.setdefault("customer", {"id": CUSTOMER, "email": "a@example.com", "name": "<b>A</b>"})
    objects.setdefault("product", {"id": "prod_pro", "name": "Pro"})
    fake = FakeStripe(paid_invoices, **objects)
    rt = Runtime(settings, stripe_client=fake)  # type: ignore[arg-type]
    return Context(runtime=rt, request_id="test")


STATE = Entitlement(
    "alice", CUSTOMER, True, "active", "sub_1", "price_pro_monthly", "prod_pro", 9, False, None,
    None, 9, ["reports"],
)  # fmt: skip


def _event(event_type: str, obj_id: str) -> dict[str, Any]:
    return {
        "id": "evt_1", "type": event_type, "created": 100, "livemode": False,
        "data": {"object": {"id": obj_id, "customer": CUSTOMER}},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("event_type", "objects", "kind"),
    [
        ("invoice.paid", {"invoice": _invoice("paid")}, "payment_succeeded"),
        ("invoice.payment_failed", {"invoice": _invoice("open", amount_paid=0)}, "payment_failed"),
        ("invoice.payment_action_required", {"invoice": _invoice("open")}, "payment_action_required"),
        ("customer.subscription.deleted", {"subscription": _subscription("canceled")},
         "subscription_canceled"),
        ("customer.subscription.trial_will_end", {"subscription": _subscription("trialing")},
         "trial_will_end"),
    ],
)  # fmt: skip
def test_each_notification_follows_the_contract(
    event_type: str, objects: dict[str, Any], kind: str, settings: BillingSettings
) -> None:
    obj_id = "in_1" if event_type.startswith("invoice.") else "sub_1"
    message = build(_ctx(settings, **objects), _event(event_type, obj_id), STATE)
    assert message is not None
    jsonschema.validate(message, SCHEMA)
    assert message["type"] == kind
    assert message["notification_id"] == f"evt_1:{kind}"
    assert (message["email"], message["customer_name"]) == ("a@example.com", "<b>A</b>")


@pytest.mark.parametrize(
    ("event_type", "objects"),
    [
        # Late after an outage: the invoice has been paid since, or was never paid.
        ("invoice.payment_failed", {"invoice": _invoice("paid")}),
        ("invoice.payment_action_required", {"invoice": _invoice("paid")}),
        ("invoice.paid", {"invoice": _invoice("open", amount_paid=0)}),
        # A receipt for nothing charged (a trial's first invoice).
        ("invoice.paid", {"invoice": _invoice("paid", amount_paid=0)}),
        # The subscription was resumed, or the trial converted, since.
        ("customer.subscription.deleted", {"subscription": _subscription("active")}),
        ("customer.subscription.trial_will_end", {"subscription": _subscription("active")}),
        # Another customer's object named in this customer's event.
        ("invoice.paid", {"invoice": _invoice("paid", customer="cus_bob")}),
        ("customer.subscription.deleted", {"subscription": _subscription("canceled",
                                                                          customer="cus_bob")}),
        # Gone from Stripe.
        ("invoice.paid", {}),
        ("customer.subscription.deleted", {}),
    ],
)  # fmt: skip
def test_nothing_is_sent_that_is_no_longer_true(
    event_type: str, objects: dict[str, Any], settings: BillingSettings
) -> None:
    obj_id = "in_1" if event_type.startswith("invoice.") else "sub_1"
    assert build(_ctx(settings, **objects), _event(event_type, obj_id), STATE) is None


def test_events_that_notify_nobody_make_no_stripe_call(settings: BillingSettings) -> None:
    ctx = _ctx(settings)  # no invoice or subscription: any read would raise
    assert build(ctx, _event("customer.subscription.updated", "sub_1"), STATE) is None


@pytest.mark.parametrize(
    "event_type", ["invoice.payment_failed", "invoice.payment_action_required"]
)
def test_a_first_payment_on_the_form_sends_no_mail(
    event_type: str, settings: BillingSettings
) -> None:
    """The payment form shows a decline or a 3-D Secure step of the first invoice itself."""
    first = _invoice("open", amount_paid=0, billing_reason="subscription_create")
    assert build(_ctx(settings, invoice=first), _event(event_type, "in_1"), STATE) is None
    later = _invoice("open", amount_paid=0, billing_reason="subscription_cycle")
    assert build(_ctx(settings, invoice=later), _event(event_type, "in_1"), STATE) is not None


def test_a_subscription_that_never_started_ends_without_a_mail(settings: BillingSettings) -> None:
    """An abandoned checkout (cancelled while incomplete, no invoice ever paid) or one that
    expired unpaid says nothing; one that was paid for once says it ended."""
    deleted = _event("customer.subscription.deleted", "sub_1")
    canceled = {"subscription": _subscription("canceled")}
    expired = {"subscription": _subscription("incomplete_expired")}
    assert build(_ctx(settings, paid_invoices=0, **canceled), deleted, STATE) is None
    assert build(_ctx(settings, paid_invoices=1, **expired), deleted, STATE) is None
    assert build(_ctx(settings, paid_invoices=1, **canceled), deleted, STATE) is not None


def _failure(attempt: int, next_attempt: int | None) -> dict[str, Any]:
    """invoice.payment_failed as Stripe sends it for one attempt of a renewal."""
    event = _event("invoice.payment_failed", "in_1")
    event["data"]["object"] |= {"attempt_count": attempt, "next_payment_attempt": next_attempt}
    return event


def _open_renewal(attempt: int, next_attempt: int | None) -> dict[str, Any]:
    invoice = _invoice("open", amount_paid=0)
    return invoice | {"attempt_count": attempt, "next_payment_attempt": next_attempt}


def test_a_renewal_failure_is_mailed_on_the_first_attempt_and_the_last(
    settings: BillingSettings,
) -> None:
    """docs/emails.md, "Failed renewals": first and last, not each retry in between."""
    running = {"subscription": _subscription("past_due")}

    def mailed(attempt: int, next_attempt: int | None, **objects: Any) -> bool:
        ctx = _ctx(settings, invoice=_open_renewal(attempt, next_attempt), **objects)
        return build(ctx, _failure(attempt, next_attempt), STATE) is not None

    assert mailed(1, 1_000, **running)
    assert mailed(1, None, **running)  # no retry at all (no schedule, or a hard decline)
    assert not mailed(2, 2_000, **running)
    assert not mailed(3, 3_000, **running)
    assert mailed(4, None, **running)
    # The last failure canceled the subscription: "subscription canceled" says it.
    assert not mailed(4, None, subscription=_subscription("canceled"))


def test_which_attempt_is_read_from_the_event_not_the_invoice_as_it_is_now(
    settings: BillingSettings,
) -> None:
    """The first failure's event delivered late, after a retry failed too, is still mailed;
    the mail gives the next attempt as Stripe now plans it."""
    ctx = _ctx(settings, invoice=_open_renewal(2, 5_000), subscription=_subscription("past_due"))
    message = build(ctx, _failure(1, 1_000), STATE)
    assert message is not None
    assert message["invoice"]["next_payment_attempt"] == 5_000
