"""Promotion codes and coupons seeded from the catalog, and the discounts they become."""

from __future__ import annotations

import pytest
import stripe

from tests.standin.conftest import StandinServer


def _customer(client: stripe.StripeClient, email: str) -> stripe.Customer:
    return client.v1.customers.create(
        {
            "email": email,
            "payment_method": "pm_card_visa",
            "invoice_settings": {"default_payment_method": "pm_card_visa"},
        }
    )


def _subscribe(
    client: stripe.StripeClient,
    customer: str,
    promotion_code: str,
    price: str = "price_pro_monthly",
) -> stripe.Subscription:
    return client.v1.subscriptions.create(
        {
            "customer": customer,
            "items": [{"price": price}],
            "payment_behavior": "allow_incomplete",
            "discounts": [{"promotion_code": promotion_code}],
            "expand": ["latest_invoice"],
        }
    )


def test_a_code_is_found_by_what_the_customer_typed_whatever_its_case(
    client: stripe.StripeClient,
) -> None:
    found = client.v1.promotion_codes.list(
        {"code": "welcome20", "active": True, "expand": ["data.promotion.coupon.applies_to"]}
    ).data
    assert [p.code for p in found] == ["WELCOME20"]
    coupon = found[0].promotion.coupon
    assert isinstance(coupon, stripe.Coupon)
    assert (coupon.percent_off, coupon.duration, coupon.valid) == (20, "once", True)
    assert coupon.applies_to is not None
    assert coupon.applies_to.products == []
    # applies_to is only there when expanded, as on Stripe.
    assert "applies_to" not in client.v1.promotion_codes.list({"code": "PRO5OFF"}).data[0].promotion
    assert client.v1.promotion_codes.list({"code": "RETIRED10", "active": True}).data == []
    assert client.v1.promotion_codes.list({"code": "NOSUCHCODE"}).data == []


def test_restricted_and_expired_codes_say_so(
    client: stripe.StripeClient, standin_server: StandinServer
) -> None:
    restricted = client.v1.promotion_codes.list(
        {"code": "PRO5OFF", "expand": ["data.promotion.coupon.applies_to"]}
    ).data[0]
    assert isinstance(restricted.promotion.coupon, stripe.Coupon)
    assert restricted.promotion.coupon.applies_to is not None
    assert restricted.promotion.coupon.applies_to.products == ["prod_pro"]
    [expired] = client.v1.promotion_codes.list({"code": "SUMMER2020"}).data
    now = standin_server.control("GET", "/_standin/clock")["now"]
    assert expired.expires_at is not None
    assert expired.expires_at < now


def test_a_once_code_discounts_the_first_invoice_only(
    client: stripe.StripeClient, email: str, standin_server: StandinServer
) -> None:
    customer = _customer(client, email)
    sub = _subscribe(client, customer.id, "promo_welcome20")
    invoice = sub.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert (invoice.subtotal, invoice.total, invoice.amount_paid) == (2900, 2320, 2320)
    assert [d.amount for d in invoice.total_discount_amounts or []] == [580]
    line_discounts = invoice.lines.data[0].discount_amounts or []
    assert [(d.amount, d.discount) for d in line_discounts] == [
        (580, (invoice.total_discount_amounts or [])[0].discount)
    ]
    expanded = client.v1.invoices.retrieve(invoice.id or "", {"expand": ["discounts"]})
    discount = expanded.discounts[0]
    assert isinstance(discount, stripe.Discount)
    assert (discount.promotion_code, discount.source.coupon) == ("promo_welcome20", "welcome20")
    assert discount.subscription == sub.id
    after = client.v1.subscriptions.retrieve(sub.id)
    assert after.discounts == []  # used up by the first invoice
    now = standin_server.control("GET", "/_standin/clock")["now"]
    # Past the period end and the hour the renewal draft waits before it is charged.
    standin_server.advance(sub.items.data[0].current_period_end - now + 3600 + 60)
    renewal = client.v1.invoices.retrieve(
        str(client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    )
    assert (renewal.total, renewal.total_discount_amounts) == (2900, [])


def test_a_product_restricted_amount_off_code_discounts_only_that_product(
    client: stripe.StripeClient, email: str
) -> None:
    pro = _subscribe(client, _customer(client, email).id, "promo_pro5off")
    assert isinstance(pro.latest_invoice, stripe.Invoice)
    assert pro.latest_invoice.total == 2400
    basic = _subscribe(
        client, _customer(client, "b" + email).id, "promo_pro5off", "price_basic_monthly"
    )
    assert isinstance(basic.latest_invoice, stripe.Invoice)
    assert basic.latest_invoice.total == 999


@pytest.mark.parametrize("promo", ["promo_retired10", "promo_summer2020", "promo_nosuch"])
def test_inactive_expired_and_unknown_codes_are_refused(
    client: stripe.StripeClient, email: str, promo: str
) -> None:
    customer = _customer(client, email)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        _subscribe(client, customer.id, promo)
    assert caught.value.param == "discounts[0][promotion_code]"
    assert client.v1.subscriptions.list({"customer": customer.id, "status": "all"}).data == []


def test_only_promotion_code_discounts_are_implemented(
    client: stripe.StripeClient, email: str
) -> None:
    customer = _customer(client, email)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.subscriptions.create(
            {
                "customer": customer.id,
                "items": [{"price": "price_pro_monthly"}],
                "discounts": [{"coupon": "welcome20"}],
            }
        )
    assert caught.value.param == "discounts[0][coupon]"


def test_a_first_time_code_is_refused_once_the_customer_has_any_invoice(
    client: stripe.StripeClient, email: str
) -> None:
    """Stripe counts an unpaid checkout's open invoice, and a trial's $0 paid one."""
    fresh = _customer(client, email)
    assert _subscribe(client, fresh.id, "promo_firsttime").status == "active"
    unpaid = client.v1.customers.create({"email": email})
    client.v1.subscriptions.create(
        {
            "customer": unpaid.id,
            "items": [{"price": "price_basic_monthly"}],
            "payment_behavior": "default_incomplete",
        }
    )
    trialing = client.v1.customers.create({"email": email})
    client.v1.subscriptions.create(
        {
            "customer": trialing.id,
            "items": [{"price": "price_basic_monthly"}],
            "trial_period_days": 7,
            "payment_behavior": "default_incomplete",
        }
    )
    for customer in (fresh, unpaid, trialing):
        with pytest.raises(stripe.InvalidRequestError) as caught:
            _subscribe(client, customer.id, "promo_firsttime")
        assert "prior transactions" in caught.value.user_message
        assert caught.value.param == "discounts[0][promotion_code]"


def test_a_minimum_amount_code_needs_that_much_billed_first(
    client: stripe.StripeClient, email: str
) -> None:
    [promo] = client.v1.promotion_codes.list({"code": "BIGPLAN"}).data
    assert (promo.restrictions.minimum_amount, promo.restrictions.minimum_amount_currency) == (
        2000,
        "usd",
    )
    customer = _customer(client, email)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        _subscribe(client, customer.id, "promo_bigplan", price="price_basic_monthly")
    assert caught.value.param == "discounts[0][promotion_code]"
    with pytest.raises(stripe.InvalidRequestError):  # a trial bills $0 first
        client.v1.subscriptions.create(
            {
                "customer": customer.id,
                "items": [{"price": "price_pro_monthly"}],
                "trial_period_days": 7,
                "discounts": [{"promotion_code": "promo_bigplan"}],
            }
        )
    assert client.v1.subscriptions.list({"customer": customer.id}).data == []
    sub = _subscribe(client, customer.id, "promo_bigplan")
    assert isinstance(sub.latest_invoice, stripe.Invoice)
    assert sub.latest_invoice.amount_paid == 2320
