"""retry-invoice: pay an open invoice with a new card, at most once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.billing_flows import failed_first_payment, intent_id, with_stripe_calls
from tests.integration.conftest import StandIn, User

pytestmark = pytest.mark.integration


def test_retry_with_a_good_card_pays_and_activates(user: User, standin: StandIn) -> None:
    failed = failed_first_payment(user, standin)
    result, calls = with_stripe_calls(
        standin,
        lambda: user.ok(
            "retry-invoice",
            {"invoice_id": failed["invoice_id"], "payment_method_id": "pm_card_visa"},
        ),
    )
    assert result == {"invoice_id": failed["invoice_id"], "status": "paid", "client_secret": None}
    view = user.ok("retrieve-subscription", {"subscription_id": failed["subscription_id"]})
    assert view["status"] == "active"
    assert view["default_payment_method"]["last4"] == "4242"
    pays = [c for c in calls if c["path"].endswith("/pay")]
    assert len(pays) == 1


def test_a_decline_is_402_with_a_user_safe_message(user: User, standin: StandIn) -> None:
    failed = failed_first_payment(user, standin)
    response = user.call(
        "retry-invoice",
        {
            "invoice_id": failed["invoice_id"],
            "payment_method_id": "pm_card_chargeDeclinedInsufficientFunds",
        },
    )
    assert response.status_code == 402
    assert response.json()["error"] == {
        "code": "insufficient_funds",
        "message": "Your card has insufficient funds.",
    }
    invoice = standin.sdk.v1.invoices.retrieve(failed["invoice_id"])
    assert invoice.status == "open"
    customer = standin.sdk.v1.customers.retrieve(user.customer())
    assert (
        customer.invoice_settings is None
        or customer.invoice_settings.default_payment_method is None
    )


def test_three_d_secure_hands_back_the_confirmation_secret(user: User, standin: StandIn) -> None:
    failed = failed_first_payment(user, standin)
    result = user.ok(
        "retry-invoice",
        {"invoice_id": failed["invoice_id"], "payment_method_id": "pm_card_authenticationRequired"},
    )
    assert result["status"] == "requires_action"
    assert "_secret_" in result["client_secret"]
    standin.post(
        f"/_standin/payment_intents/{intent_id(result['client_secret'])}/authenticate",
        {"outcome": "succeed"},
    )
    assert standin.sdk.v1.invoices.retrieve(failed["invoice_id"]).status == "paid"


def test_retrying_twice_pays_once(user: User, standin: StandIn) -> None:
    failed = failed_first_payment(user, standin)
    body = {"invoice_id": failed["invoice_id"], "payment_method_id": "pm_card_visa"}
    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(pool.map(lambda _: user.call("retry-invoice", body), range(2)))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert {r.json()["status"] for r in responses} == {"paid"}
    again = user.ok("retry-invoice", body)
    assert again["status"] == "paid"
    invoice = standin.sdk.v1.invoices.retrieve(failed["invoice_id"])
    assert invoice.amount_paid == invoice.amount_due
    paid = [
        r
        for r in standin.requests(path_prefix=f"/v1/invoices/{failed['invoice_id']}/pay")
        if r["status"] == 200 and not r["replayed"]
    ]
    assert len(paid) == 1


def test_another_users_invoice_is_404_and_not_paid(
    user: User, other_user: User, standin: StandIn
) -> None:
    failed = failed_first_payment(user, standin)
    other_user.customer()
    response = other_user.call(
        "retry-invoice", {"invoice_id": failed["invoice_id"], "payment_method_id": "pm_card_visa"}
    )
    assert response.status_code == 404
    missing = other_user.call(
        "retry-invoice", {"invoice_id": "in_doesnotexist", "payment_method_id": "pm_card_visa"}
    )
    assert response.json() == missing.json()
    assert standin.sdk.v1.invoices.retrieve(failed["invoice_id"]).status == "open"


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
    faults.fault(method="POST", path_prefix="/v1/invoices", kind="error", status=500)
    response = user.call(
        "retry-invoice", {"invoice_id": failed["invoice_id"], "payment_method_id": "pm_card_visa"}
    )
    assert response.status_code == 503
    faults.clear_faults()
    assert faults.sdk.v1.invoices.retrieve(failed["invoice_id"]).status == "open"


def test_a_user_without_a_customer_gets_404_for_every_id_of_someone_else(
    user: User, other_user: User, standin: StandIn
) -> None:
    failed = failed_first_payment(user, standin)
    view = user.ok("retrieve-subscription", {"subscription_id": failed["subscription_id"]})
    pm_id = standin.sdk.v1.payment_methods.attach(
        "pm_card_visa", params={"customer": user.customer()}
    ).id
    attempts: list[tuple[str, dict[str, object]]] = [
        ("retrieve-subscription", {"subscription_id": view["subscription_id"]}),
        (
            "handle-subscription",
            {"subscription_id": view["subscription_id"], "cancel_at_period_end": True},
        ),
        ("retrieve-payment-method", {"payment_method_id": pm_id}),
        ("update-payment-method", {"payment_method_id": pm_id}),
        ("retry-invoice", {"invoice_id": failed["invoice_id"], "payment_method_id": pm_id}),
    ]
    for function, body in attempts:
        response = other_user.call(function, body)
        assert response.status_code == 404, (function, response.text)
        assert response.json()["error"]["code"] == "not_found"
