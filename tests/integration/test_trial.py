"""A trial comes from configuration only: a second create-subscription with TRIAL_DAYS=14.

It shares the session stack's emulators and Stripe stand-in, as a second deployment of the
same function with another setting would.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest
import requests

from devstack.stack import Stack
from tests.support.billing_flows import OTHER_PRICE, with_stripe_calls
from tests.support.stack_fixtures import StandIn, User, extra_function

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def trial_url(running_stack: Stack) -> Iterator[str]:
    with extra_function(running_stack, "create_subscription", {"TRIAL_DAYS": "14"}) as url:
        yield url


def test_trial_subscription_hands_back_the_setup_intent_secret(
    trial_url: str, user: User, standin: StandIn
) -> None:
    user.customer()
    response = user.post(trial_url, {"price_id": OTHER_PRICE})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "trialing"
    assert body["client_secret_type"] == "setup"
    assert body["client_secret"].startswith("seti_")
    sub = standin.sdk.v1.subscriptions.retrieve(body["subscription_id"])
    assert sub.trial_end is not None
    assert sub.trial_start is not None
    assert sub.trial_end - sub.trial_start == 14 * 86400


def test_the_request_cannot_choose_a_trial(user: User) -> None:
    user.customer()
    response = user.call("create-subscription", {"price_id": OTHER_PRICE, "trial_period_days": 365})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "trial_period_days"


def _trial(trial_url: str, user: User) -> requests.Response:
    return user.post(trial_url, {"price_id": OTHER_PRICE})


def test_a_double_click_on_a_trial_returns_the_same_setup_secret(
    trial_url: str, user: User
) -> None:
    user.customer()
    first = _trial(trial_url, user).json()
    second = _trial(trial_url, user).json()
    assert second["subscription_id"] == first["subscription_id"]
    assert second["client_secret"] == first["client_secret"]
    assert second["created"] is False


def test_only_the_first_subscription_gets_a_trial(
    trial_url: str, user: User, standin: StandIn
) -> None:
    user.customer()
    first = _trial(trial_url, user).json()
    assert first["status"] == "trialing"
    standin.sdk.v1.subscriptions.cancel(first["subscription_id"])
    again = _trial(trial_url, user)
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "incomplete"
    assert again.json()["client_secret_type"] == "payment"


def test_a_trialing_subscription_cannot_change_plan(
    trial_url: str, user: User, standin: StandIn
) -> None:
    # A plan change bills the prorated difference now: during a trial that would charge for
    # time given free, so it waits until the trial has ended and the subscription is active.
    user.customer()
    created = user.post(trial_url, {"price_id": OTHER_PRICE}).json()
    assert created["status"] == "trialing"
    body = {"subscription_id": created["subscription_id"], "price_id": "price_pro_monthly"}
    for function in ("preview-plan-change", "change-plan"):
        response, calls = with_stripe_calls(standin, functools.partial(user.call, function, body))
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "subscription_not_active"
        assert "trialing" in response.json()["error"]["message"]
        assert [c for c in calls if c["method"] == "POST"] == []
    sub = standin.sdk.v1.subscriptions.retrieve(created["subscription_id"])
    assert sub.items.data[0].price.id == OTHER_PRICE
