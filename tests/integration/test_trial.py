"""A trial comes from configuration only: a second create-subscription with TRIAL_DAYS=14.

It shares the session stack's emulators and Stripe stand-in, as a second deployment of the
same function with another setting would.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devstack import procs
from devstack.stack import AUTH_EMULATOR_HOST, STANDIN_SECRET_KEY, StackInfo, function_env
from tests.integration.conftest import STATE_DIR, StandIn, User

pytestmark = pytest.mark.integration

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


@pytest.fixture(scope="module")
def trial_url(stack: StackInfo) -> Iterator[str]:
    port = procs.free_port()
    env = function_env(
        {
            "GOOGLE_CLOUD_PROJECT": stack.project_id,
            "FIRESTORE_EMULATOR_HOST": stack.firestore_emulator_host,
            "PUBSUB_EMULATOR_HOST": stack.pubsub_emulator_host,
            "FIREBASE_AUTH_EMULATOR_HOST": AUTH_EMULATOR_HOST,
            "STRIPE_SECRET_KEY": STANDIN_SECRET_KEY,
            "STRIPE_API_BASE": stack.stripe.api_base,
        },
        env_dir=STATE_DIR / "env",
        overrides={
            "TRIAL_DAYS": "14",
            "FUNCTION_TARGET": "create_subscription",
            "PYTHONPATH": str(FUNCTIONS),
        },
    )
    child = procs.spawn(
        "create-subscription-trial",
        [
            str(Path(sys.executable).parent / "functions-framework"),
            "--source",
            str(FUNCTIONS / "main.py"),
            "--target",
            "create_subscription",
            "--host",
            procs.LOCALHOST,
            "--port",
            str(port),
        ],
        env={"PATH": "/usr/bin:/bin", **env},
        cwd=FUNCTIONS.parent,
        log_path=STATE_DIR / "logs" / "create-subscription-trial.log",
    )
    try:
        deadline = time.monotonic() + 60
        while not procs.tcp_accepts(procs.LOCALHOST, port):
            assert child.exited() is None, procs.tail(child.log_path)
            assert time.monotonic() < deadline, "trial function did not start"
            time.sleep(0.1)
        yield f"http://{procs.LOCALHOST}:{port}"
    finally:
        procs.stop_children([child])


def test_trial_subscription_hands_back_the_setup_intent_secret(
    trial_url: str, user: User, standin: StandIn
) -> None:
    user.customer()
    response = requests.post(
        trial_url,
        json={"price_id": "price_pro_monthly"},
        headers={"Authorization": f"Bearer {user.token}"},
        timeout=30,
    )
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
    response = user.call(
        "create-subscription", {"price_id": "price_pro_monthly", "trial_period_days": 365}
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "trial_period_days"


def _trial(trial_url: str, user: User) -> requests.Response:
    return requests.post(
        trial_url,
        json={"price_id": "price_pro_monthly"},
        headers={"Authorization": f"Bearer {user.token}"},
        timeout=30,
    )


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
