"""devstack.stripejs: the README's way to finish a payment or save a card without a frontend."""

from __future__ import annotations

import pytest

from devstack import stripejs
from tests.support.billing_flows import PRICE
from tests.support.mode import AGAINST_STRIPE, STANDIN_ONLY
from tests.support.stack_fixtures import STATE_DIR, User

# The CLI plays Stripe.js against the stand-in (and completes 3-D Secure through its controls).
pytestmark = [pytest.mark.integration, pytest.mark.skipif(AGAINST_STRIPE, reason=STANDIN_ONLY)]


def test_confirm_payment_then_setup_as_stripe_js_would(
    user: User, capsys: pytest.CaptureFixture[str]
) -> None:
    user.customer()
    created = user.ok("create-subscription", {"price_id": PRICE})
    stack_file = str(STATE_DIR / "stack.json")
    stripejs.main(["--stack", stack_file, "confirm-payment", created["client_secret"]])
    assert "succeeded" in capsys.readouterr().out
    view = user.ok("retrieve-subscription", {"subscription_id": created["subscription_id"]})
    assert view["status"] == "active"

    intent = user.ok("create-setup-intent", {})
    stripejs.main(
        [
            "--stack",
            stack_file,
            "confirm-setup",
            intent["client_secret"],
            "--card",
            "pm_card_authenticationRequired",
            "--authenticate",
        ]
    )
    out = capsys.readouterr().out
    assert "succeeded" in out
    pm_id = out.strip().rsplit("payment_method_id=", 1)[1]
    card = user.ok("retrieve-payment-method", {"payment_method_id": pm_id})
    assert card["last4"] == "3184"


def test_a_declined_card_says_why(user: User) -> None:
    user.customer()
    created = user.ok("create-subscription", {"price_id": PRICE})
    with pytest.raises(SystemExit, match="declined: card_declined"):
        stripejs.main(
            [
                "--stack",
                str(STATE_DIR / "stack.json"),
                "confirm-payment",
                created["client_secret"],
                "--card",
                "pm_card_chargeDeclined",
            ]
        )
