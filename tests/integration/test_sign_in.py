"""Sign-in as in production: users of the local Firebase Auth emulator, not minted tokens.

A user signs up (accounts:signUp), verifies their address with the code the emulator mailed
(accounts:sendOobCode, then accounts:update with the code, as the mail's link does), signs in
(accounts:signInWithPassword), and calls the functions with the token the emulator issued.
"""

from __future__ import annotations

from devstack.stack import StackInfo
from tests.support.auth_emulator import AuthEmulator, new_email, token_claims
from tests.support.billing_flows import PRICE, intent_id
from tests.support.stack_fixtures import Api, EmulatorUser, StandIn


def test_the_stack_file_names_the_auth_emulator(stack: StackInfo, auth: AuthEmulator) -> None:
    assert stack.auth_emulator_host is not None
    email = new_email()
    signed_up = auth.sign_up(email)
    assert auth.user(signed_up["localId"])["email"] == email


def test_a_verified_emulator_user_gets_a_customer_and_a_subscription(
    api: Api, auth: AuthEmulator, standin: StandIn
) -> None:
    user = EmulatorUser(api, auth)
    claims = token_claims(user.token)
    assert claims["email_verified"] is True
    assert claims["sub"] == user.uid

    created = user.ok("create-customer", {"name": "Ada"})
    assert created["created"] is True
    customer = standin.sdk.v1.customers.retrieve(created["customer_id"])
    assert customer.email == user.email
    subscription = user.ok("create-subscription", {"price_id": PRICE})
    standin.sdk.v1.payment_intents.confirm(
        intent_id(subscription["client_secret"]), params={"payment_method": "pm_card_visa"}
    )
    retrieved = user.ok(
        "retrieve-subscription", {"subscription_id": subscription["subscription_id"]}
    )
    assert retrieved["status"] == "active"


def test_an_unverified_emulator_user_gets_no_customer(api: Api, auth: AuthEmulator) -> None:
    user = EmulatorUser(api, auth, verified=False)
    assert token_claims(user.token)["email_verified"] is False
    refused = user.call("create-customer", {"name": "Ada"})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "email_unverified"


def test_a_token_from_before_verification_stays_unverified_until_refreshed(
    api: Api, auth: AuthEmulator
) -> None:
    email = new_email()
    signed_up = auth.sign_up(email)
    auth.verify_email(signed_up["idToken"], email)
    # The token minted at sign-up still says unverified: only a new token carries the change.
    stale = api.call("create-customer", {}, token=signed_up["idToken"])
    assert stale.json()["error"]["code"] == "email_unverified"
    fresh = api.call("create-customer", {}, token=auth.sign_in(email))
    assert fresh.status_code == 200, fresh.text
