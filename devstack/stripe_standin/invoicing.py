"""Payments, invoices and subscription life cycles shared by several endpoints and the clock.

All functions expect the caller to hold ``state.lock``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devstack.stripe_standin import (
    discounts,
    dunning,
    ids,
    metered_billing,
    objects,
    pending_updates,
    schedules,
)
from devstack.stripe_standin.api_errors import DOCS, StripeAPIError, card_error, invalid_request
from devstack.stripe_standin.api_errors import resource_missing as missing
from devstack.stripe_standin.periods import DAY, next_period_end, recurring_of
from devstack.stripe_standin.state import (
    AUTOMATIC,
    Coverage,
    Origin,
    PaymentMethodBookkeeping,
    State,
    snapshot,
)
from devstack.stripe_standin.testmode_cards import (
    AUTHENTICATION_FAILURE,
    TEST_CARDS,
    Decline,
    Outcome,
    charge_outcome,
)

JSONDict = dict[str, Any]

INCOMPLETE_EXPIRY = 23 * 3600
TRIAL_WILL_END_NOTICE = 3 * DAY


# --- payment methods -------------------------------------------------------------------------


def resolve_payment_method(
    state: State, reference: str, test_card_ids: dict[str, str], *, param: str
) -> JSONDict:
    """A stored PaymentMethod, or a fresh one for a test id such as ``pm_card_visa``."""
    if reference in test_card_ids:
        return state.data.payment_methods[test_card_ids[reference]]
    profile = TEST_CARDS.get(reference)
    if profile is not None:
        pm = objects.card_payment_method(ids.new_id("pm"), profile, state.now())
        state.data.payment_methods[pm["id"]] = pm
        state.data.pm_info[pm["id"]] = PaymentMethodBookkeeping(profile)
        test_card_ids[reference] = pm["id"]
        return pm
    found = state.data.payment_methods.get(reference)
    if found is None:
        raise missing("payment_method", reference, param=param)
    return found


def attach_payment_method(state: State, pm: JSONDict, customer_id: str, origin: Origin) -> None:
    if pm["customer"] == customer_id:
        return
    if pm["customer"] is not None:
        raise invalid_request(
            "The payment method you provided has already been attached to a customer.",
            param="payment_method",
        )
    check_attachable(state, pm)
    pm["customer"] = customer_id
    state.emit("payment_method.attached", pm, origin)


def check_attachable(state: State, pm: JSONDict) -> None:
    """Attaching runs a card check; Stripe's "declined payments" test cards fail it."""
    decline = state.data.pm_info[pm["id"]].profile.attach_decline
    if decline is not None:
        raise card_error(decline.code, decline.message, decline_code=decline.decline_code)


def require_attached(
    state: State, reference: str, customer_id: str, test_card_ids: dict[str, str], *, param: str
) -> JSONDict:
    """A PaymentMethod that must already belong to ``customer_id`` (defaults, etc.)."""
    pm_id = test_card_ids.get(reference, reference)
    pm = state.data.payment_methods.get(pm_id)
    if pm is None and reference not in TEST_CARDS:
        raise missing("payment_method", reference, param=param)
    if pm is None or pm["customer"] != customer_id:
        raise invalid_request(
            f"The customer does not have a payment method with the ID {reference}. The payment "
            "method must be attached to the customer.",
            param=param,
        )
    return pm


def default_payment_method_id(state: State, sub: JSONDict) -> str | None:
    if sub["default_payment_method"]:
        return str(sub["default_payment_method"])
    customer = state.data.customers[sub["customer"]]
    default = customer["invoice_settings"]["default_payment_method"]
    return str(default) if default else None


# --- periods ---------------------------------------------------------------------------------


def _money(amount: int, currency: str) -> str:
    symbol = "$" if currency == "usd" else ""
    return f"{symbol}{amount / 100:.2f}" + ("" if symbol else f" {currency.upper()}")


def period_line_description(state: State, price_obj: JSONDict, quantity: int) -> str:
    """A regular subscription line's wording: quantity, product, price and interval."""
    product_name = state.data.products[price_obj["product"]]["name"]
    interval = price_obj["recurring"]["interval"]
    return (
        f"{quantity} × {product_name} "  # noqa: RUF001 - Stripe's wording
        f"(at {_money(int(price_obj['unit_amount']), price_obj['currency'])} / {interval})"
    )


def create_invoice(
    state: State,
    sub: JSONDict,
    billing_reason: str,
    period_start: int,
    period_end: int,
    origin: Origin,
    *,
    trial: bool = False,
    finalizes_at: int | None = None,
    usage_period: tuple[int, int] | None = None,
    licensed: bool = True,
) -> JSONDict:
    """A draft invoice for the subscription's current item periods (``invoice.created``):
    licensed items in advance (unless ``licensed`` is false), metered items' usage of
    ``usage_period`` in arrears (metered_billing; none on a first invoice);
    ``finalizes_at``: when automatic collection finalizes and charges it (a renewal's)."""
    invoice_id = ids.new_id("in")
    lines, in_arrears = [], set()
    for item in sub["items"]["data"]:
        price_obj = item["price"]
        if metered_billing.is_metered(price_obj):
            if usage_period is not None:
                lines.append(metered_billing.line(state, invoice_id, sub, item, *usage_period))
                in_arrears.add(lines[-1]["id"])
            continue
        if not licensed:
            continue
        product_name = state.data.products[price_obj["product"]]["name"]
        quantity = int(item["quantity"])
        if trial:
            amount, description = 0, f"Trial period for {product_name}"
        else:
            amount = int(price_obj["unit_amount"]) * quantity
            description = period_line_description(state, price_obj, quantity)
        lines.append(
            objects.invoice_line(
                invoice_id,
                sub["id"],
                item,
                amount,
                description,
                int(item["current_period_start"]),
                int(item["current_period_end"]),
            )
        )
    customer = state.data.customers[sub["customer"]]
    invoice = objects.invoice(
        invoice_id, customer, sub, billing_reason, lines, period_start, period_end, state.now()
    )
    if sub["discounts"] and not trial:
        discounts.apply(state, invoice, discounts.of_subscription(state, sub))
        discounts.used_up(state, sub, invoice)
    for line in lines:
        item_id = line["parent"]["subscription_item_details"]["subscription_item"]
        if line["id"] in in_arrears:
            continue  # usage billed in arrears covers nothing ahead
        # What this period was charged, net of discounts: a later plan change credits a share.
        net = int(line["amount"]) - sum(d["amount"] for d in line["discount_amounts"])
        state.data.coverage[item_id] = Coverage(net, line["period"]["start"], line["period"]["end"])
    invoice["automatically_finalizes_at"] = finalizes_at
    state.data.invoices[invoice_id] = invoice
    sub["latest_invoice"] = invoice_id
    state.emit("invoice.created", invoice, origin)
    return invoice


def finalize_invoice(state: State, invoice: JSONDict, sub: JSONDict, origin: Origin) -> None:
    """Open the invoice (number, hosted URL, PaymentIntent); a $0 invoice is paid at once."""
    now = state.now()
    customer = state.data.customers[invoice["customer"]]
    sequence = int(customer["next_invoice_sequence"])
    customer["next_invoice_sequence"] = sequence + 1
    base = state.base_url
    # The customer's balance (negative: credit, e.g. from a downgrade) pays what it can.
    balance = int(customer["balance"])
    due = max(0, int(invoice["total"]) + balance)
    if int(invoice["total"]) + balance - due != balance:
        before = snapshot(customer)
        customer["balance"] = int(invoice["total"]) + balance - due
        state.emit_update("customer.updated", customer, before, origin)
    invoice.update(
        {
            "number": f"{customer['invoice_prefix']}-{sequence:04d}",
            "status": "open",
            "effective_at": now,
            "starting_balance": balance,
            "ending_balance": customer["balance"],
            "amount_due": due,
            "amount_remaining": due,
            "hosted_invoice_url": f"{base}/_standin/invoices/{invoice['id']}/hosted",
            "invoice_pdf": f"{base}/_standin/invoices/{invoice['id']}/pdf",
        }
    )
    invoice["status_transitions"]["finalized_at"] = now
    invoice["automatically_finalizes_at"] = None
    if int(invoice["amount_due"]) == 0:
        state.emit("invoice.finalized", invoice, origin)
        _mark_paid(state, invoice, origin, now)
        return
    pi = objects.payment_intent(
        ids.new_id("pi"), int(invoice["amount_due"]), invoice["currency"], customer["id"], now
    )
    pi["description"] = (
        "Subscription creation"
        if invoice["billing_reason"] == "subscription_create"
        else "Subscription update"
    )
    if sub["payment_settings"]["save_default_payment_method"] == "on_subscription":
        pi["setup_future_usage"] = "off_session"
    state.data.payment_intents[pi["id"]] = pi
    state.data.invoice_pi[invoice["id"]] = pi["id"]
    state.data.pi_invoice[pi["id"]] = invoice["id"]
    state.emit("payment_intent.created", pi, origin)
    state.emit("invoice.finalized", invoice, origin)


def _mark_paid(state: State, invoice: JSONDict, origin: Origin, now: int) -> None:
    invoice["status"] = "paid"
    invoice["amount_paid"] = invoice["amount_due"]
    invoice["amount_remaining"] = 0
    invoice["status_transitions"]["paid_at"] = now
    invoice["next_payment_attempt"] = None
    state.emit("invoice.paid", invoice, origin)
    state.emit("invoice.payment_succeeded", invoice, origin)
    pending_updates.invoice_paid(state, invoice, origin)


def invoice_payment_intent(state: State, invoice: JSONDict) -> JSONDict | None:
    pi_id = state.data.invoice_pi.get(invoice["id"])
    return state.data.payment_intents.get(pi_id) if pi_id else None


def subscription_of_invoice(state: State, invoice: JSONDict) -> JSONDict | None:
    parent = invoice.get("parent") or {}
    details = parent.get("subscription_details") or {}
    sub_id = details.get("subscription")
    return state.data.subscriptions.get(sub_id) if sub_id else None


# --- invoices --------------------------------------------------------------------------------


@dataclass
class PaymentResult:
    outcome: Outcome
    decline: Decline | None
    payment_intent: JSONDict | None
    payment_method: JSONDict | None


def pay_invoice(
    state: State,
    invoice: JSONDict,
    pm: JSONDict | None,
    origin: Origin,
    *,
    quiet_subscription: bool = False,
    automatic: bool = False,
) -> PaymentResult:
    """Attempt to collect an open invoice with ``pm`` (None: no payment method on file).
    ``automatic``: Stripe's own attempt (a renewal or a scheduled retry), which schedules the
    next retry or ends dunning when it fails."""
    pi = invoice_payment_intent(state, invoice)
    if pi is None:  # nothing to collect
        return PaymentResult("succeeded", None, None, pm)
    if pm is None:
        # Nothing to charge: the attempt fails without touching the PaymentIntent, and Stripe
        # does not retry ("No payment methods are available").
        invoice["attempt_count"] = int(invoice["attempt_count"]) + 1
        invoice["attempted"] = True
        if automatic:
            invoice["next_payment_attempt"] = None
        state.emit("invoice.payment_failed", invoice, origin)
        _renewal_went_unpaid(state, invoice, origin, quiet_subscription)
        return PaymentResult("declined", None, pi, None)
    return attempt_payment(
        state, pi, pm, origin, quiet_subscription=quiet_subscription, automatic=automatic
    )


def attempt_payment(
    state: State,
    pi: JSONDict,
    pm: JSONDict,
    origin: Origin,
    *,
    quiet_subscription: bool = False,
    automatic: bool = False,
) -> PaymentResult:
    """Confirm ``pi`` with ``pm``; updates its invoice and subscription by the outcome."""
    invoice_id = state.data.pi_invoice.get(pi["id"])
    invoice = state.data.invoices[invoice_id] if invoice_id else None
    if invoice is not None:
        invoice["attempt_count"] = int(invoice["attempt_count"]) + 1
        invoice["attempted"] = True
    pi["payment_method"] = pm["id"]
    info = state.data.pm_info[pm["id"]]
    outcome, decline = charge_outcome(info.profile, set_up=info.set_up)
    if outcome == "succeeded":
        _payment_succeeded(state, invoice, pi, pm, origin, quiet_subscription)
    elif outcome == "declined" and decline is not None:
        if invoice is not None and automatic:
            _schedule_retry(state, invoice, decline)
        _payment_failed(state, invoice, pi, pm, decline, origin, quiet_subscription)
        if invoice is not None and automatic and invoice["next_payment_attempt"] is None:
            _end_dunning(state, invoice, decline, origin)
    else:
        _requires_action(state, invoice, pi, origin, quiet_subscription)
    return PaymentResult(outcome, decline, pi, pm)


def complete_authentication(
    state: State, pi: JSONDict, succeed: bool, origin: Origin
) -> PaymentResult:
    """The customer finished (or failed) 3-D Secure for a PaymentIntent in requires_action."""
    if pi["status"] != "requires_action":
        raise invalid_request(
            f"This PaymentIntent's status is {pi['status']}; only a PaymentIntent in "
            "requires_action can be authenticated.",
            code="payment_intent_unexpected_state",
        )
    pm = state.data.payment_methods[pi["payment_method"]]
    invoice_id = state.data.pi_invoice.get(pi["id"])
    invoice = state.data.invoices[invoice_id] if invoice_id else None
    profile = state.data.pm_info[pm["id"]].profile
    if not succeed:
        _payment_failed(state, invoice, pi, pm, AUTHENTICATION_FAILURE, origin, False)
        return PaymentResult("declined", AUTHENTICATION_FAILURE, pi, pm)
    if profile.charge_decline is not None:
        _payment_failed(state, invoice, pi, pm, profile.charge_decline, origin, False)
        return PaymentResult("declined", profile.charge_decline, pi, pm)
    _payment_succeeded(state, invoice, pi, pm, origin, False)
    return PaymentResult("succeeded", None, pi, pm)


def payment_error(decline: Decline, pi: JSONDict | None, pm: JSONDict | None) -> StripeAPIError:
    """The 402 a declined payment answers with, carrying the PaymentIntent as Stripe does."""
    extra: JSONDict = {}
    if pi is not None:
        extra["payment_intent"] = snapshot(pi)
    if pm is not None:
        extra["payment_method"] = snapshot(pm)
    return card_error(decline.code, decline.message, decline_code=decline.decline_code, extra=extra)


def last_payment_error(decline: Decline, pm: JSONDict | None) -> JSONDict:
    error: JSONDict = {"code": decline.code}
    if decline.decline_code:
        error["decline_code"] = decline.decline_code
    error["doc_url"] = f"{DOCS}#{decline.code.replace('_', '-')}"
    error["message"] = decline.message
    if pm is not None:
        error["payment_method"] = snapshot(pm)
    authentication = decline.code.endswith("authentication_failure")
    error["type"] = "invalid_request_error" if authentication else "card_error"
    return error


def _payment_succeeded(
    state: State,
    invoice: JSONDict | None,
    pi: JSONDict,
    pm: JSONDict,
    origin: Origin,
    quiet_subscription: bool,
) -> None:
    now = state.now()
    pi.update(
        {
            "status": "succeeded",
            "amount_received": pi["amount"],
            "last_payment_error": None,
            "next_action": None,
            "payment_method": pm["id"],
        }
    )
    info = state.data.pm_info[pm["id"]]
    if pi["setup_future_usage"]:
        info.set_up = True
        if pm["customer"] is None and pi["customer"]:
            pm["customer"] = pi["customer"]
            state.emit("payment_method.attached", pm, origin)
    state.emit("payment_intent.succeeded", pi, origin)
    if invoice is None:
        return
    _mark_paid(state, invoice, origin, now)
    sub = subscription_of_invoice(state, invoice)
    if sub is None:
        return
    before = snapshot(sub)
    reactivate(sub, invoice)
    if sub["payment_settings"]["save_default_payment_method"] == "on_subscription":
        if pm["customer"] is None:
            pm["customer"] = sub["customer"]
            state.emit("payment_method.attached", pm, origin)
        if pm["customer"] == sub["customer"]:
            sub["default_payment_method"] = pm["id"]
    if not quiet_subscription:
        state.emit_update("customer.subscription.updated", sub, before, origin)


def _payment_failed(
    state: State,
    invoice: JSONDict | None,
    pi: JSONDict,
    pm: JSONDict | None,
    decline: Decline,
    origin: Origin,
    quiet_subscription: bool,
) -> None:
    pi.update(
        {
            "status": "requires_payment_method",
            "last_payment_error": last_payment_error(decline, pm),
            "next_action": None,
        }
    )
    state.emit("payment_intent.payment_failed", pi, origin)
    if invoice is None:
        return
    state.emit("invoice.payment_failed", invoice, origin)
    _renewal_went_unpaid(state, invoice, origin, quiet_subscription)


def _requires_action(
    state: State, invoice: JSONDict | None, pi: JSONDict, origin: Origin, quiet: bool
) -> None:
    pi["status"] = "requires_action"
    pi["last_payment_error"] = None
    pi["next_action"] = objects.next_action_3ds(
        state.base_url, f"/_standin/payment_intents/{pi['id']}/authenticate"
    )
    state.emit("payment_intent.requires_action", pi, origin)
    if invoice is None:
        return
    state.emit("invoice.payment_action_required", invoice, origin)
    _renewal_went_unpaid(state, invoice, origin, quiet)


def _renewal_went_unpaid(state: State, invoice: JSONDict, origin: Origin, quiet: bool) -> None:
    sub = subscription_of_invoice(state, invoice)
    if sub is None or invoice["billing_reason"] == "subscription_create":
        return  # a first invoice leaves the subscription incomplete
    if pending_updates.is_pending(state, invoice):
        return  # a pending update's invoice leaves the subscription as it was
    if sub["status"] in ("active", "trialing"):
        before = snapshot(sub)
        sub["status"] = "past_due"
        if not quiet:
            state.emit_update("customer.subscription.updated", sub, before, origin)


def void_invoice(state: State, invoice: JSONDict, origin: Origin) -> None:
    invoice["status"] = "void"
    invoice["status_transitions"]["voided_at"] = state.now()
    invoice["next_payment_attempt"] = None
    state.emit("invoice.voided", invoice, origin)
    pi = invoice_payment_intent(state, invoice)
    if pi is not None and pi["status"] not in ("succeeded", "canceled"):
        pi.update(
            {
                "status": "canceled",
                "canceled_at": state.now(),
                "cancellation_reason": "void_invoice",
            }
        )
        pi["next_action"] = None
        state.emit("payment_intent.canceled", pi, origin)


# --- subscription life cycle -----------------------------------------------------------------


def cancel_subscription(state: State, sub: JSONDict, origin: Origin, *, at: int) -> None:
    """End the subscription now (``customer.subscription.deleted``)."""
    sub["status"] = "canceled"
    sub["ended_at"] = at
    if not sub["canceled_at"]:
        sub["canceled_at"] = at
    if not sub["cancellation_details"]["reason"]:
        sub["cancellation_details"]["reason"] = "cancellation_requested"
    sub["pending_setup_intent"] = None
    schedules.abort_for(state, sub, origin)
    state.emit("customer.subscription.deleted", sub, origin)


def start_new_period(sub: JSONDict, boundary: int) -> None:
    interval, count = recurring_of(sub)
    anchor = int(sub["billing_cycle_anchor"])
    end = next_period_end(anchor, interval, count, boundary)
    for item in sub["items"]["data"]:
        item["current_period_start"] = boundary
        item["current_period_end"] = end
        item["billed_until"] = end


def bill_new_period(state: State, sub: JSONDict, boundary: int, origin: Origin) -> None:
    """Renewal (or end of trial): new period, new invoice, charge the default PaymentMethod."""
    before = snapshot(sub)
    previous_start = min(int(i["current_period_start"]) for i in sub["items"]["data"])
    ending_trial = sub["status"] == "trialing"
    start_new_period(sub, boundary)
    pm_id = default_payment_method_id(state, sub)
    if ending_trial:
        missing_pm = sub["trial_settings"]["end_behavior"]["missing_payment_method"]
        if pm_id is None and missing_pm == "cancel":
            sub["canceled_at"] = boundary
            sub["cancellation_details"]["reason"] = "cancellation_requested"
            cancel_subscription(state, sub, origin, at=boundary)
            return
        if pm_id is None and missing_pm == "pause":
            # "customer.subscription.paused: Occurs whenever a customer's subscription is paused.
            # Only applies when subscriptions enter status=paused"
            # (https://docs.stripe.com/api/events/types), as a trial ending without a payment
            # method into a pause does (https://docs.stripe.com/billing/subscriptions/trials).
            sub["status"] = "paused"
            state.emit_update("customer.subscription.updated", sub, before, origin)
            state.emit("customer.subscription.paused", sub, origin)
            return
        sub["status"] = "active"
    unpaid = sub["status"] == "unpaid"
    finalizes_at = None if unpaid else boundary + dunning.FINALIZE_DELAY
    # Usage of the period that ends is billed with the next one (not a trial's: not modelled).
    usage = None if ending_trial else (previous_start, boundary)
    invoice = create_invoice(
        state, sub, "subscription_cycle", previous_start, boundary, origin,
        finalizes_at=finalizes_at, usage_period=usage,
    )  # fmt: skip
    if unpaid:
        # "For unpaid subscriptions, the latest invoice remains open but payments aren't
        # attempted. Invoices continue to be generated each billing cycle and remain in draft
        # state." To come back, the customer's latest invoice is finalized and paid
        # (https://docs.stripe.com/billing/subscriptions/overview#unpaid-subscriptions).
        invoice["auto_advance"] = False
    # Otherwise the draft waits about an hour (collect_renewal, run by the clock).
    state.emit_update("customer.subscription.updated", sub, before, origin)


def collect_renewal(state: State, invoice: JSONDict, origin: Origin) -> None:
    """Automatic collection of a renewal draft, an hour after it was created: finalize it and
    charge the subscription's default PaymentMethod (dunning.py)."""
    sub = subscription_of_invoice(state, invoice)
    if sub is None:
        return
    before = snapshot(sub)
    finalize_invoice(state, invoice, sub, origin)
    pm_id = default_payment_method_id(state, sub)
    pm = state.data.payment_methods.get(pm_id) if pm_id else None
    pay_invoice(state, invoice, pm, origin, quiet_subscription=True, automatic=True)
    state.emit_update("customer.subscription.updated", sub, before, origin)


def retry_payment(state: State, invoice: JSONDict, origin: Origin) -> None:
    """A scheduled retry of a failed renewal, with the subscription's default PaymentMethod as
    it is now (a card the customer changed since is the one charged)."""
    sub = subscription_of_invoice(state, invoice)
    if sub is None or sub["status"] in ("canceled", "unpaid"):
        # Nothing left to collect for, or an unpaid subscription: "payments aren't attempted"
        # (https://docs.stripe.com/billing/subscriptions/overview#unpaid-subscriptions).
        invoice["next_payment_attempt"] = None
        return
    before = snapshot(sub)
    pm_id = default_payment_method_id(state, sub)
    pm = state.data.payment_methods.get(pm_id) if pm_id else None
    pay_invoice(state, invoice, pm, origin, quiet_subscription=True, automatic=True)
    state.emit_update("customer.subscription.updated", sub, before, origin)


def _schedule_retry(state: State, invoice: JSONDict, decline: Decline) -> None:
    """Before ``invoice.payment_failed`` leaves: when Stripe tries again, if it does."""
    attempts = int(invoice["attempt_count"])
    if invoice["billing_reason"] != "subscription_cycle" or not dunning.retryable(
        decline.decline_code, decline.code
    ):
        invoice["next_payment_attempt"] = None
        return
    invoice["next_payment_attempt"] = state.dunning.next_attempt(attempts, state.now())


def _end_dunning(state: State, invoice: JSONDict, decline: Decline, origin: Origin) -> None:
    """Every retry of a renewal failed: the account's "Subscription status" setting decides."""
    sub = subscription_of_invoice(state, invoice)
    if (
        sub is None
        or invoice["billing_reason"] != "subscription_cycle"
        or not dunning.retryable(decline.decline_code, decline.code)
        or sub["status"] != "past_due"
        or sub["latest_invoice"] != invoice["id"]
    ):
        return
    end = state.dunning.end
    if end == "canceled":
        now = state.now()
        sub["canceled_at"] = now
        sub["cancellation_details"]["reason"] = "payment_failed"
        cancel_subscription(state, sub, origin, at=now)
    elif end == "unpaid":
        before = snapshot(sub)
        sub["status"] = "unpaid"
        state.emit_update("customer.subscription.updated", sub, before, origin)


def bill_final_usage(state: State, sub: JSONDict, at: int, origin: Origin) -> None:
    """A subscription ending at its period end bills that period's metered usage in a final
    invoice (metered_billing); nothing when there was none."""
    if sub["status"] == "trialing":
        return
    start = min(int(i["current_period_start"]) for i in sub["items"]["data"])
    if not metered_billing.has_usage(state, sub, start, at):
        return
    invoice = create_invoice(
        state, sub, "subscription_cycle", start, at, origin, usage_period=(start, at),
        licensed=False,
    )  # fmt: skip
    finalize_invoice(state, invoice, sub, origin)
    pm_id = default_payment_method_id(state, sub)
    pm = state.data.payment_methods.get(pm_id) if pm_id else None
    pay_invoice(state, invoice, pm, origin, quiet_subscription=True)


def reactivate(sub: JSONDict, invoice: JSONDict) -> None:
    """Paying the subscription's most recent invoice makes it active again; paying an older
    one does not ("pay the most recent invoice before its due date to update the
    subscription's status to active",
    https://docs.stripe.com/billing/subscriptions/overview#unpaid-subscriptions)."""
    if sub["status"] in ("incomplete", "past_due", "unpaid") and (
        sub["latest_invoice"] == invoice["id"]
    ):
        sub["status"] = "active"


def expire_incomplete(state: State, sub: JSONDict, origin: Origin) -> None:
    before = snapshot(sub)
    now = state.now()
    sub["status"] = "incomplete_expired"
    sub["ended_at"] = now
    sub["canceled_at"] = now
    invoice = state.data.invoices.get(sub["latest_invoice"] or "")
    if invoice is not None and invoice["status"] == "open":
        void_invoice(state, invoice, origin)
    state.emit_update("customer.subscription.updated", sub, before, origin)


def _due(state: State, sub: JSONDict) -> tuple[int, str] | None:
    regular = _regular_due(state, sub)
    pending = sub["pending_update"]
    # An update expiring at the period end expires before that renewal runs.
    if pending is not None and (regular is None or int(pending["expires_at"]) <= regular[0]):
        return int(pending["expires_at"]), "expire_pending_update"
    return regular


def _regular_due(state: State, sub: JSONDict) -> tuple[int, str] | None:
    status = sub["status"]
    info = state.data.sub_info[sub["id"]]
    if status == "incomplete":
        return int(sub["created"]) + INCOMPLETE_EXPIRY, "expire"
    if status == "trialing":
        trial_end = int(sub["trial_end"])
        if not info.trial_will_end_sent:
            notice = max(
                int(sub["trial_start"] or sub["created"]), trial_end - TRIAL_WILL_END_NOTICE
            )
            return notice, "trial_will_end"
        return trial_end, "cancel" if sub["cancel_at_period_end"] else "renew"
    if status in ("active", "past_due", "unpaid"):
        period_end = min(int(i["current_period_end"]) for i in sub["items"]["data"])
        return period_end, "cancel" if sub["cancel_at_period_end"] else "renew"
    return None


def _invoice_due(invoice: JSONDict) -> tuple[int, str] | None:
    """Automatic collection's next step for an invoice: finalize a renewal draft, or retry."""
    if not invoice["auto_advance"]:
        return None
    if invoice["status"] == "draft" and invoice["automatically_finalizes_at"] is not None:
        return int(invoice["automatically_finalizes_at"]), "finalize_and_charge"
    if invoice["status"] == "open" and invoice["next_payment_attempt"] is not None:
        return int(invoice["next_payment_attempt"]), "retry_payment"
    return None


def advance_clock(state: State, seconds: int) -> list[JSONDict]:
    """Move time forward, running each renewal, renewal charge and retry, trial end,
    cancellation and expiry in order."""
    target = state.now() + seconds
    performed: list[JSONDict] = []
    for _ in range(100_000):
        due = [
            (when, sub_id, kind)
            for sub_id, sub in state.data.subscriptions.items()
            if (found := _due(state, sub)) is not None
            for when, kind in [found]
            if when <= target
        ] + [
            (when, invoice_id, kind)
            for invoice_id, invoice in state.data.invoices.items()
            if (found := _invoice_due(invoice)) is not None
            for when, kind in [found]
            if when <= target
        ]
        if not due:
            break
        when, object_id, kind = min(due)
        with state.clock.held_at(when):
            _run_due(state, when, object_id, kind, performed)
    state.clock.advance_to(target)
    return performed


def _run_due(state: State, when: int, object_id: str, kind: str, performed: list[JSONDict]) -> None:
    """One scheduled step, run with the clock standing at ``when``."""
    if kind in ("finalize_and_charge", "retry_payment"):
        invoice = state.data.invoices[object_id]
        sub_of = subscription_of_invoice(state, invoice)
        performed.append(
            {
                "at": when,
                "subscription": sub_of["id"] if sub_of else None,
                "invoice": object_id,
                "action": kind,
            }
        )
        if kind == "finalize_and_charge":
            collect_renewal(state, invoice, AUTOMATIC)
        else:
            retry_payment(state, invoice, AUTOMATIC)
        return
    sub_id = object_id
    sub = state.data.subscriptions[sub_id]
    performed.append({"at": when, "subscription": sub_id, "action": kind})
    if kind == "expire":
        expire_incomplete(state, sub, AUTOMATIC)
    elif kind == "trial_will_end":
        state.data.sub_info[sub_id].trial_will_end_sent = True
        state.emit("customer.subscription.trial_will_end", sub, AUTOMATIC)
    elif kind == "expire_pending_update":
        # The expired update's invoice is voided: "the pending update expires ... and its
        # invoice is voided" (flexible billing mode; see subscription_updates.expires_at).
        for invoice_id in pending_updates.expire(state, sub, AUTOMATIC):
            pending = state.data.invoices.get(invoice_id)
            if pending is not None and pending["status"] == "open":
                void_invoice(state, pending, AUTOMATIC)
    elif kind == "cancel":
        bill_final_usage(state, sub, when, AUTOMATIC)
        cancel_subscription(state, sub, AUTOMATIC, at=when)
    else:
        # A schedule's phase starting at this renewal: its plan is what the renewal bills.
        schedules.enter_licensed(state, sub, when)
        bill_new_period(state, sub, when, AUTOMATIC)
        schedules.after_renewal(state, sub, when, AUTOMATIC)
