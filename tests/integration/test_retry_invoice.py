"""retry-invoice: pay an open invoice with one of the caller's saved cards, at most once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.billing_flows import (
    failed_first_payment,
    intent_id,
    saved_card,
    with_stripe_calls,
)
from tests.support.stack_fixtures import StandIn, User

pytestmark = pytest.mark.integration


def test_retry_with_a_good_card_pays_and_activates(user: User, standin: StandIn) -> None:
    failed = failed_first_payment(user, standin)
    card = saved_card(user, standin, "pm_card_visa")
    result, calls = with_stripe_calls(
        standin,
        lambda: user.ok(
            "retry-invoice", {"invoice_id": failed["invoice_id"], "payment_method_id": card}
        ),
    )
    assert result == {"invoice_id": failed["invoice_id"], "status": "paid", "client_secret": None}
    view = user.ok("retrieve-subscription", {"subscription_id": failed["subscription_id"]})
    assert view["status"] == "active"
    assert view["default_payment_method"]["id"] == card
    customer = standin.sdk.v1.customers.retrieve(user.customer())
    assert customer.invoice_settings is not None
    assert customer.invoice_settings.default_payment_method == card
    pays = [c for c in calls if c["path"].endswith("/pay")]
    assert len(pays) == 1
    assert pays[0]["params"]["off_session"] in (False, "false")


def test_a_decline_is_402_with_a_user_safe_message_and_no_new_default(
    user: User, standin: StandIn
) -> None:
    failed = failed_first_payment(user, standin)
    card = saved_card(user, standin, "pm_card_chargeCustomerFail")
    response = user.call(
        "retry-invoice", {"invoice_id": failed["invoice_id"], "payment_method_id": card}
    )
    assert response.status_code == 402
    assert response.json()["error"] == {
        "code": "card_declined",
        "message": "Your card was declined.",
    }
    assert standin.sdk.v1.invoices.retrieve(failed["invoice_id"]).status == "open"
    customer = standin.sdk.v1.customers.retrieve(user.customer())
    assert (
        customer.invoice_settings is None
        or customer.invoice_settings.default_payment_method is None
    )


def test_three_d_secure_hands_back_the_confirmation_secret(user: User, standin: StandIn) -> None:
    failed = failed_first_payment(user, standin)
    card = saved_card(user, standin, "pm_card_authenticationRequired")
    result = user.ok(
        "retry-invoice", {"invoice_id": failed["invoice_id"], "payment_method_id": card}
    )
    assert result["status"] == "requires_action"
    assert "_secret_" in result["client_secret"]
    assert standin.sdk.v1.invoices.retrieve(failed["invoice_id"]).status == "open"
    standin.post(
        f"/_standin/payment_intents/{intent_id(result['client_secret'])}/authenticate",
        {"outcome": "succeed"},
    )
    assert standin.sdk.v1.invoices.retrieve(failed["invoice_id"]).status == "paid"


def test_retrying_twice_pays_once(user: User, standin: StandIn) -> None:
    failed = failed_first_payment(user, standin)
    card = saved_card(user, standin, "pm_card_visa")
    body = {"invoice_id": failed["invoice_id"], "payment_method_id": card}
    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(pool.map(lambda _: user.call("retry-invoice", body), range(2)))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert {r.json()["status"] for r in responses} == {"paid"}
    again = user.ok("retry-invoice", body)
    assert again["status"] == "paid"
    invoice = standin.sdk.v1.invoices.retrieve(failed["invoice_id"])
    assert invoice.amount_paid == invoice.amount_due
    pays = standin.requests(path_prefix=f"/v1/invoices/{failed['invoice_id']}/pay")
    # One real payment; a second /pay, if the double submit got that far, was answered from
    # the idempotency key (replayed) or told to wait (409), never refused as already paid.
    assert [r["replayed"] for r in pays if r["status"] == 200].count(False) == 1
    if len({r["idempotency_key"] for r in pays}) == 1:  # both inside one minute's key bucket
        assert all(r["status"] in (200, 409) for r in pays), pays


def test_an_unsaved_card_is_refused_and_nothing_is_charged(user: User, standin: StandIn) -> None:
    failed = failed_first_payment(user, standin)
    loose = standin.sdk.v1.payment_methods.retrieve("pm_card_visa")
    response = user.call(
        "retry-invoice", {"invoice_id": failed["invoice_id"], "payment_method_id": loose.id}
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "payment_method_not_saved"
    assert standin.sdk.v1.payment_methods.retrieve(loose.id).customer is None
    assert standin.sdk.v1.invoices.retrieve(failed["invoice_id"]).status == "open"


def test_another_users_invoice_or_card_is_404_and_nothing_is_paid(
    user: User, other_user: User, standin: StandIn
) -> None:
    failed = failed_first_payment(user, standin)
    victim_card = saved_card(user, standin, "pm_card_visa")
    own_failed = failed_first_payment(other_user, standin)
    own_card = saved_card(other_user, standin, "pm_card_visa")
    attempts = [
        {"invoice_id": failed["invoice_id"], "payment_method_id": own_card},
        {"invoice_id": own_failed["invoice_id"], "payment_method_id": victim_card},
    ]
    missing = other_user.call(
        "retry-invoice", {"invoice_id": "in_doesnotexist", "payment_method_id": own_card}
    )
    for body in attempts:
        response = other_user.call("retry-invoice", body)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == missing.json()["error"]["code"] == "not_found"
    assert standin.sdk.v1.invoices.retrieve(failed["invoice_id"]).status == "open"
    assert standin.sdk.v1.invoices.retrieve(own_failed["invoice_id"]).status == "open"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"payment_method_id": "pm_card_visa"}, "invoice_id"),
        ({"invoice_id": "in_1"}, "payment_method_id"),
        ({"invoice_id": "sub_1", "payment_method_id": "pm_card_visa"}, "invoice_id"),
    ],
)
def test_bad_input_names_the_field(user: User, body: dict[str, str], field: str) -> None:
    response = user.call("retry-invoice", body)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field


def test_stripe_unavailable_is_503_and_the_invoice_stays_open(user: User, faults: StandIn) -> None:
    failed = failed_first_payment(user, faults)
    card = saved_card(user, faults, "pm_card_visa")
    faults.fault(method="POST", path_prefix="/v1/invoices", kind="error", status=500)
    response = user.call(
        "retry-invoice", {"invoice_id": failed["invoice_id"], "payment_method_id": card}
    )
    assert response.status_code == 503
    faults.clear_faults()
    assert faults.sdk.v1.invoices.retrieve(failed["invoice_id"]).status == "open"


def test_a_user_without_a_customer_gets_404_for_every_id_of_someone_else(
    user: User, other_user: User, standin: StandIn
) -> None:
    failed = failed_first_payment(user, standin)
    pm_id = saved_card(user, standin, "pm_card_visa")
    attempts: list[tuple[str, dict[str, object]]] = [
        ("retrieve-subscription", {"subscription_id": failed["subscription_id"]}),
        (
            "handle-subscription",
            {"subscription_id": failed["subscription_id"], "cancel_at_period_end": True},
        ),
        ("retrieve-payment-method", {"payment_method_id": pm_id}),
        ("update-payment-method", {"payment_method_id": pm_id}),
        ("retry-invoice", {"invoice_id": failed["invoice_id"], "payment_method_id": pm_id}),
    ]
    for function, body in attempts:
        response = other_user.call(function, body)
        assert response.status_code == 404, (function, response.text)
        assert response.json()["error"]["code"] == "not_found"


def test_a_payment_stands_when_making_the_card_default_fails_afterwards(
    user: User, faults: StandIn
) -> None:
    failed = failed_first_payment(user, faults)
    card = saved_card(user, faults, "pm_card_visa")
    faults.fault(method="POST", path_prefix="/v1/customers", kind="error", status=500)
    result = user.ok(
        "retry-invoice", {"invoice_id": failed["invoice_id"], "payment_method_id": card}
    )
    assert result["status"] == "paid"
    faults.clear_faults()
    assert faults.sdk.v1.invoices.retrieve(failed["invoice_id"]).status == "paid"
