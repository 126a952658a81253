"""Price changes: invoice previews, always_invoice prorations, pending updates, credits."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from stripe.params import SubscriptionUpdateParams

from tests.standin.conftest import StandinServer, active_subscription, intent_id

BASIC, PRO = "price_basic_monthly", "price_pro_monthly"
DAY = 86_400


def _active(client: stripe.StripeClient, email: str, price: str = BASIC) -> stripe.Subscription:
    return active_subscription(client, email, price)


def _halfway(standin_server: StandinServer, sub: stripe.Subscription) -> int:
    """Advances the clock to the middle of the subscription's period; returns that moment."""
    item = sub.items.data[0]
    now = standin_server.control("GET", "/_standin/clock")["now"]
    middle = (item.current_period_start + item.current_period_end) // 2
    standin_server.advance(max(0, middle - now))
    return int(standin_server.control("GET", "/_standin/clock")["now"])


def _change(sub: stripe.Subscription, price: str, **extra: Any) -> SubscriptionUpdateParams:
    params: SubscriptionUpdateParams = {
        "items": [{"id": sub.items.data[0].id, "price": price}],
        "proration_behavior": "always_invoice",
        "payment_behavior": "pending_if_incomplete",
        "expand": ["latest_invoice"],
    }
    params.update(extra)  # type: ignore[typeddict-item]
    return params


def _preview(
    client: stripe.StripeClient, sub: stripe.Subscription, price: str, proration_date: int
) -> stripe.Invoice:
    return client.v1.invoices.create_preview(
        {
            "customer": str(sub.customer),
            "subscription": sub.id,
            "subscription_details": {
                "items": [{"id": sub.items.data[0].id, "price": price}],
                "proration_behavior": "always_invoice",
                "proration_date": proration_date,
            },
        }
    )


def _latest(sub: stripe.Subscription) -> stripe.Invoice:
    assert isinstance(sub.latest_invoice, stripe.Invoice)
    return sub.latest_invoice


def _use_card(
    client: stripe.StripeClient, customer: str, card: str, server: StandinServer | None = None
) -> str:
    """Save ``card`` for the customer (through a SetupIntent) and make it their default."""
    si = client.v1.setup_intents.create({"customer": customer})
    confirmed = client.v1.setup_intents.confirm(si.id, {"payment_method": card})
    if confirmed.status == "requires_action":
        assert server is not None
        server.control("POST", f"/_standin/setup_intents/{si.id}/authenticate", {})
        confirmed = client.v1.setup_intents.retrieve(si.id)
    pm = str(confirmed.payment_method)
    client.v1.customers.update(customer, {"invoice_settings": {"default_payment_method": pm}})
    return pm


def test_upgrade_bills_the_prorated_difference_at_once_and_matches_its_preview(
    client: stripe.StripeClient, email: str, standin_server: StandinServer
) -> None:
    sub = _active(client, email)
    at = _halfway(standin_server, sub)
    item = sub.items.data[0]
    preview = _preview(client, sub, PRO, proration_date=at)
    assert str(preview.id).startswith("upcoming_in_")
    assert "hosted_invoice_url" not in preview
    assert preview.parent is not None
    assert preview.parent.subscription_details is not None
    assert preview.parent.subscription_details.subscription_proration_date == at
    share = (item.current_period_end - at) / (item.current_period_end - item.current_period_start)
    amounts = sorted(line.amount for line in preview.lines.data)
    assert amounts == [-round(999 * share), round(2900 * share)]
    for line in preview.lines.data:
        assert line.parent is not None
        assert line.parent.subscription_item_details is not None
        assert line.parent.subscription_item_details.proration is True
        assert line.discountable is False

    updated = client.v1.subscriptions.update(sub.id, _change(sub, PRO, proration_date=at))
    assert updated.items.data[0].price.id == PRO
    assert updated.pending_update is None
    invoice = _latest(updated)
    assert invoice.billing_reason == "subscription_update"
    assert (invoice.status, invoice.amount_paid) == ("paid", preview.amount_due)
    assert invoice.amount_paid == sum(amounts) > 0


def test_a_declined_upgrade_waits_in_pending_update_until_paid(
    client: stripe.StripeClient, email: str, standin_server: StandinServer
) -> None:
    sub = _active(client, email)
    _use_card(client, str(sub.customer), "pm_card_chargeCustomerFail")
    updated = client.v1.subscriptions.update(sub.id, _change(sub, PRO))
    assert updated.status == "active"
    assert updated.items.data[0].price.id == BASIC
    assert updated.pending_update is not None
    assert updated.pending_update.subscription_items is not None
    assert updated.pending_update.subscription_items[0].price.id == PRO
    invoice = _latest(updated)
    assert invoice.status == "open"
    # Paying the open invoice with a good card applies the change.
    visa = _use_card(client, str(sub.customer), "pm_card_visa")
    client.v1.invoices.pay(invoice.id or "", {"payment_method": visa})
    after = client.v1.subscriptions.retrieve(sub.id)
    assert after.items.data[0].price.id == PRO
    assert after.pending_update is None
    applied = client.v1.events.list(
        {"type": "customer.subscription.pending_update_applied", "limit": 100}
    ).data
    [event] = [e for e in applied if e.data.object["id"] == sub.id]
    assert event.data.object["items"]["data"][0]["price"]["id"] == PRO


def test_an_upgrade_needing_3ds_applies_once_authenticated(
    client: stripe.StripeClient, email: str, standin_server: StandinServer
) -> None:
    sub = _active(client, email)
    _use_card(client, str(sub.customer), "pm_card_authenticationRequired", standin_server)
    params = _change(sub, PRO)
    params["expand"] = ["latest_invoice.confirmation_secret"]
    updated = client.v1.subscriptions.update(sub.id, params)
    assert updated.pending_update is not None
    secret = _latest(updated).confirmation_secret
    assert secret is not None
    pi = client.v1.payment_intents.retrieve(intent_id(secret.client_secret))
    assert pi.status == "requires_action"
    standin_server.control("POST", f"/_standin/payment_intents/{pi.id}/authenticate", {})
    after = client.v1.subscriptions.retrieve(sub.id)
    assert (after.items.data[0].price.id, after.pending_update) == (PRO, None)


def test_an_unpaid_pending_update_expires_and_the_plan_stays(
    client: stripe.StripeClient, email: str, standin_server: StandinServer
) -> None:
    sub = _active(client, email)
    _use_card(client, str(sub.customer), "pm_card_chargeCustomerFail")
    updated = client.v1.subscriptions.update(sub.id, _change(sub, PRO))
    assert updated.pending_update is not None
    standin_server.advance(updated.pending_update.expires_at - updated.created + DAY)
    after = client.v1.subscriptions.retrieve(sub.id)
    assert (after.items.data[0].price.id, after.pending_update) == (BASIC, None)


def test_a_pending_update_near_the_period_end_expires_with_it_and_its_invoice_is_voided(
    client: stripe.StripeClient, email: str, standin_server: StandinServer
) -> None:
    """Issue 15, point 6: it lapses at the earliest of period end, trial end and 23 hours, and
    its invoice can no longer be paid for a change that will never happen."""
    sub = _active(client, email)
    _use_card(client, str(sub.customer), "pm_card_chargeCustomerFail")
    end = sub.items.data[0].current_period_end
    now = standin_server.control("GET", "/_standin/clock")["now"]
    standin_server.advance(end - now - 3600)  # one hour before the period ends
    updated = client.v1.subscriptions.update(sub.id, _change(sub, PRO))
    assert updated.pending_update is not None
    assert updated.pending_update.expires_at == end
    invoice = _latest(updated)
    assert invoice.status == "open"
    standin_server.advance(3600 + 60)
    after = client.v1.subscriptions.retrieve(sub.id)
    assert (after.items.data[0].price.id, after.pending_update) == (BASIC, None)
    assert client.v1.invoices.retrieve(invoice.id).status == "void"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.pay(invoice.id, {"payment_method": "pm_card_visa"})


def test_a_lasting_discount_discounts_the_proration_and_the_preview_equals_the_charge(
    client: stripe.StripeClient, email: str, standin_server: StandinServer
) -> None:
    """Flexible billing mode, ``proration_discounts=included``: the debit line is net of the
    subscription's 10 % discount, listed with amount 0; the credit gives back what was paid."""
    customer = client.v1.customers.create(
        {
            "email": email,
            "payment_method": "pm_card_visa",
            "invoice_settings": {"default_payment_method": "pm_card_visa"},
        }
    )
    sub = client.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": BASIC}],
            "payment_behavior": "allow_incomplete",
            "discounts": [{"promotion_code": "promo_team10"}],
        }
    )
    first = client.v1.invoices.retrieve(str(sub.latest_invoice))
    assert first.amount_paid == 899  # 999 less 10 %
    at = _halfway(standin_server, sub)
    item = sub.items.data[0]
    share = (item.current_period_end - at) / (item.current_period_end - item.current_period_start)
    preview = _preview(client, sub, PRO, proration_date=at)
    debit = next(line for line in preview.lines.data if line.amount > 0)
    credit = next(line for line in preview.lines.data if line.amount < 0)
    assert debit.amount == round((2900 - 290) * share)  # not 2900 * share
    assert credit.amount == -round(899 * share)
    assert [(d.amount, d.discount) for d in debit.discount_amounts or []] == [(0, sub.discounts[0])]
    assert [d.amount for d in preview.total_discount_amounts or []] == [0]
    assert preview.total == debit.amount + credit.amount

    updated = client.v1.subscriptions.update(sub.id, _change(sub, PRO, proration_date=at))
    invoice = _latest(updated)
    assert (invoice.status, invoice.amount_paid) == ("paid", preview.amount_due)
    assert updated.discounts == sub.discounts  # a forever discount stays


def test_a_once_code_given_with_the_change_is_used_up_by_its_proration(
    client: stripe.StripeClient, email: str, standin_server: StandinServer
) -> None:
    sub = _active(client, email)
    at = _halfway(standin_server, sub)
    item = sub.items.data[0]
    share = (item.current_period_end - at) / (item.current_period_end - item.current_period_start)
    code = {"discounts": [{"promotion_code": "promo_welcome20"}]}
    updated = client.v1.subscriptions.update(sub.id, _change(sub, PRO, proration_date=at, **code))
    debit = next(line for line in _latest(updated).lines.data if line.amount > 0)
    assert debit.amount == round((2900 - 580) * share)
    assert updated.discounts == []  # "once": spent on this invoice, not on the renewal


def test_a_downgrade_credits_the_unused_time_to_the_balance_and_renewals_use_it(
    client: stripe.StripeClient, email: str, standin_server: StandinServer
) -> None:
    sub = _active(client, email, PRO)
    _halfway(standin_server, sub)
    updated = client.v1.subscriptions.update(sub.id, _change(sub, BASIC))
    invoice = _latest(updated)
    assert updated.items.data[0].price.id == BASIC
    assert invoice.total < 0
    assert (invoice.status, invoice.amount_due, invoice.ending_balance) == (
        "paid",
        0,
        invoice.total,
    )
    customer = client.v1.customers.retrieve(str(sub.customer))
    assert customer.balance == invoice.total
    now = standin_server.control("GET", "/_standin/clock")["now"]
    # Past the period end and the hour the renewal draft waits before it is finalized.
    standin_server.advance(sub.items.data[0].current_period_end - now + 3600 + 60)
    renewal = client.v1.invoices.retrieve(
        str(client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    )
    assert renewal.billing_reason == "subscription_cycle"
    assert renewal.starting_balance == invoice.total
    assert renewal.amount_due == max(0, 999 + invoice.total)


def test_a_renewal_preview_shows_the_new_price_and_a_promotion_codes_discount(
    client: stripe.StripeClient, email: str
) -> None:
    sub = _active(client, email)
    redeemed = client.v1.promotion_codes.list({"code": "WELCOME20"}).data[0].times_redeemed
    preview = client.v1.invoices.create_preview(
        {
            "subscription": sub.id,
            "subscription_details": {
                "items": [{"id": sub.items.data[0].id, "price": PRO}],
                "proration_behavior": "none",
            },
            "discounts": [{"promotion_code": "promo_welcome20"}],
        }
    )
    assert preview.billing_reason == "subscription_cycle"
    assert preview.subtotal == 2900
    assert [d.amount for d in preview.total_discount_amounts or []] == [580]
    assert preview.total == 2320
    assert preview.period_end == sub.items.data[0].current_period_end
    # A preview changes nothing and redeems nothing.
    assert client.v1.subscriptions.retrieve(sub.id).items.data[0].price.id == BASIC
    assert client.v1.promotion_codes.list({"code": "WELCOME20"}).data[0].times_redeemed == redeemed


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"description": "x"}, "description"),
        ({"proration_behavior": "create_prorations"}, "proration_behavior"),
        ({"payment_behavior": "allow_incomplete"}, "payment_behavior"),
        ({"billing_cycle_anchor": "now"}, "billing_cycle_anchor"),
    ],
)
def test_item_changes_refuse_what_is_not_implemented_or_not_allowed(
    client: stripe.StripeClient, email: str, extra: dict[str, Any], param: str
) -> None:
    sub = _active(client, email)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.subscriptions.update(sub.id, _change(sub, PRO, **extra))
    assert caught.value.param == param
    assert client.v1.subscriptions.retrieve(sub.id).items.data[0].price.id == BASIC


@pytest.mark.parametrize("outside", ["before", "after"])
def test_a_proration_date_outside_the_period_is_refused(
    client: stripe.StripeClient, email: str, outside: str
) -> None:
    sub = _active(client, email)
    item = sub.items.data[0]
    moment = item.current_period_start - DAY if outside == "before" else item.current_period_end + 1
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.subscriptions.update(sub.id, _change(sub, PRO, proration_date=moment))
    assert caught.value.param == "proration_date"


def test_a_future_proration_date_within_the_period_is_accepted_as_stripe_does(
    client: stripe.StripeClient, email: str
) -> None:
    """Stripe prorates as though the change happened then: near the period end an upgrade
    costs almost nothing, which is why the product refuses such dates before calling Stripe."""
    sub = _active(client, email)
    item = sub.items.data[0]
    now = _preview(client, sub, PRO, proration_date=item.current_period_start)
    late = _preview(client, sub, PRO, proration_date=item.current_period_end - 3600)
    assert 0 < late.amount_due < now.amount_due // 100
    updated = client.v1.subscriptions.update(
        sub.id, _change(sub, PRO, proration_date=item.current_period_end - 3600)
    )
    assert isinstance(updated.latest_invoice, stripe.Invoice)
    assert updated.latest_invoice.amount_due == late.amount_due


# --- a change of billing interval (https://docs.stripe.com/billing/subscriptions/upgrade-downgrade,
# "Billing periods": the new price is billed at the new interval, starting on the day of the change)

YEARLY = "price_pro_yearly"


def _now(standin_server: StandinServer) -> int:
    return int(standin_server.control("GET", "/_standin/clock")["now"])


def _split(invoice: stripe.Invoice) -> tuple[list[Any], list[Any]]:
    """(proration lines, regular lines)."""
    prorations: list[Any] = []
    regular: list[Any] = []
    for line in invoice.lines.data:
        assert line.parent is not None
        assert line.parent.subscription_item_details is not None
        (prorations if line.parent.subscription_item_details.proration else regular).append(line)
    return prorations, regular


def test_monthly_to_yearly_restarts_the_period_and_bills_the_year_less_the_unused_month(
    client: stripe.StripeClient, email: str, standin_server: StandinServer
) -> None:
    sub = _active(client, email)
    at = _halfway(standin_server, sub)
    item = sub.items.data[0]
    preview = _preview(client, sub, YEARLY, proration_date=at)
    share = (item.current_period_end - at) / (item.current_period_end - item.current_period_start)
    credits, regular = _split(preview)
    assert [line.amount for line in credits] == [-round(999 * share)]
    [year] = regular
    assert year.amount == 29000
    assert year.period.start == at
    assert year.period.end - year.period.start in (365 * DAY, 366 * DAY)
    assert preview.amount_due == 29000 - round(999 * share)

    updated = client.v1.subscriptions.update(sub.id, _change(sub, YEARLY, proration_date=at))
    new_item = updated.items.data[0]
    assert new_item.price.id == YEARLY
    # The period restarts when the change is made: between the preview's moment and now (the
    # stand-in's clock runs on, so on a loaded machine a second can pass), a year long.
    assert at <= updated.billing_cycle_anchor <= _now(standin_server)
    assert updated.billing_cycle_anchor == new_item.current_period_start
    assert (
        new_item.current_period_end - new_item.current_period_start
        == year.period.end - year.period.start
    )
    invoice = _latest(updated)
    assert (invoice.billing_reason, invoice.status) == ("subscription_update", "paid")
    assert invoice.amount_paid == preview.amount_due
    # The old month's end passes without a renewal; the next invoice is a year after the change.
    standin_server.advance(item.current_period_end - _now(standin_server) + DAY)
    assert client.v1.subscriptions.retrieve(sub.id).latest_invoice == invoice.id
    standin_server.advance(new_item.current_period_end - _now(standin_server) + 60)
    renewal = client.v1.invoices.retrieve(
        str(client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    )
    assert (renewal.billing_reason, renewal.total) == ("subscription_cycle", 29000)


def test_yearly_to_monthly_restarts_the_period_and_keeps_the_unused_year_as_credit(
    client: stripe.StripeClient, email: str, standin_server: StandinServer
) -> None:
    sub = _active(client, email, YEARLY)
    standin_server.advance(30 * DAY)
    at = _now(standin_server)
    preview = _preview(client, sub, PRO, proration_date=at)
    credits, regular = _split(preview)
    [credit] = credits
    assert -credit.amount > 29000 * 0.9
    assert [line.amount for line in regular] == [2900]
    assert (preview.amount_due, preview.total) == (0, 2900 + credit.amount)

    updated = client.v1.subscriptions.update(sub.id, _change(sub, PRO, proration_date=at))
    new_item = updated.items.data[0]
    assert new_item.price.id == PRO
    # The period restarts when the change is made (the stand-in's clock runs on: a second can
    # pass between the preview's moment and the update on a loaded machine).
    assert at <= updated.billing_cycle_anchor <= _now(standin_server)
    assert new_item.current_period_start == updated.billing_cycle_anchor
    assert 28 * DAY <= new_item.current_period_end - new_item.current_period_start <= 31 * DAY
    invoice = _latest(updated)
    assert (invoice.status, invoice.amount_paid, invoice.total) == ("paid", 0, preview.total)
    customer = client.v1.customers.retrieve(str(sub.customer))
    assert customer.balance == preview.total


def test_a_declined_interval_change_keeps_the_old_period_until_paid(
    client: stripe.StripeClient, email: str, standin_server: StandinServer
) -> None:
    sub = _active(client, email)
    _use_card(client, str(sub.customer), "pm_card_chargeCustomerFail")
    at = _now(standin_server)
    updated = client.v1.subscriptions.update(sub.id, _change(sub, YEARLY))
    assert updated.pending_update is not None
    anchor = updated.pending_update.billing_cycle_anchor
    assert anchor is not None
    assert at <= anchor <= _now(standin_server)
    old = sub.items.data[0]
    assert updated.items.data[0].current_period_end == old.current_period_end
    assert updated.billing_cycle_anchor == sub.billing_cycle_anchor
    visa = _use_card(client, str(sub.customer), "pm_card_visa")
    client.v1.invoices.pay(_latest(updated).id or "", {"payment_method": visa})
    after = client.v1.subscriptions.retrieve(sub.id)
    assert (after.items.data[0].price.id, after.billing_cycle_anchor) == (YEARLY, anchor)
    assert after.items.data[0].current_period_end - anchor in (365 * DAY, 366 * DAY)


def test_an_interval_change_without_prorations_bills_the_new_period_in_full(
    client: stripe.StripeClient, email: str
) -> None:
    sub = _active(client, email)
    preview = client.v1.invoices.create_preview(
        {
            "subscription": sub.id,
            "subscription_details": {
                "items": [{"id": sub.items.data[0].id, "price": YEARLY}],
                "proration_behavior": "none",
            },
        }
    )
    assert (preview.billing_reason, preview.total) == ("subscription_update", 29000)
    # Not modelled for the update itself, and refused naming it.
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.subscriptions.update(sub.id, _change(sub, YEARLY, proration_behavior="none"))
    assert caught.value.param == "proration_behavior"
    assert client.v1.subscriptions.retrieve(sub.id).items.data[0].price.id == BASIC


def test_an_interval_change_discounts_the_new_period_and_the_preview_equals_the_charge(
    client: stripe.StripeClient, email: str, standin_server: StandinServer
) -> None:
    """The new period's line is a regular one: a lasting discount reduces it as it would a
    renewal; the credit gives back the unused share of what was paid, net."""
    customer = client.v1.customers.create(
        {
            "email": email,
            "payment_method": "pm_card_visa",
            "invoice_settings": {"default_payment_method": "pm_card_visa"},
        }
    )
    sub = client.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": BASIC}],
            "payment_behavior": "allow_incomplete",
            "discounts": [{"promotion_code": "promo_team10"}],
        }
    )
    at = _halfway(standin_server, sub)
    item = sub.items.data[0]
    share = (item.current_period_end - at) / (item.current_period_end - item.current_period_start)
    preview = _preview(client, sub, YEARLY, proration_date=at)
    [credit], [year] = _split(preview)
    assert credit.amount == -round(899 * share)
    assert [d.amount for d in year.discount_amounts or []] == [2900]  # 10 % of 29000
    assert preview.total == 29000 - 2900 + credit.amount

    updated = client.v1.subscriptions.update(sub.id, _change(sub, YEARLY, proration_date=at))
    invoice = _latest(updated)
    assert (invoice.status, invoice.amount_paid) == ("paid", preview.amount_due)
    assert updated.discounts == sub.discounts  # a forever discount stays
    # A change back a month later credits the unused share of the 26,100 paid, not 29,000.
    month = 30 * DAY
    standin_server.advance(month)
    moment = _now(standin_server)
    new = updated.items.data[0]
    back = _preview(client, updated, BASIC, proration_date=moment)
    [credit_back], _ = _split(back)
    unused = (new.current_period_end - moment) / (new.current_period_end - new.current_period_start)
    assert credit_back.amount == -round(26100 * unused)
