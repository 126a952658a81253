"""Plays the frontend's part of Stripe.js against the running local stack.

The functions hand a frontend a client secret; Stripe.js then confirms the payment or the
card setup in the browser. Without a frontend, this does the same from a shell:

    python -m devstack.stripejs confirm-payment pi_..._secret_... --card pm_card_visa
    python -m devstack.stripejs confirm-setup seti_..._secret_... --card pm_card_mastercard
    python -m devstack.stripejs complete-checkout <url or cs_...> --card pm_card_visa
    python -m devstack.stripejs advance-clock 2678400      # stand-in only: a month passes

Test cards: pm_card_visa, pm_card_mastercard, pm_card_chargeDeclined,
pm_card_chargeDeclinedInsufficientFunds, pm_card_chargeCustomerFail (saves, then declines),
pm_card_authenticationRequired (3-D Secure; completed here with --authenticate).
It reads .devstack/stack.json; with real Stripe test mode it uses STRIPE_SECRET_KEY.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import requests
import stripe

from devstack.stack import STANDIN_SECRET_KEY, StackInfo

STACK_FILE = Path(__file__).resolve().parent.parent / ".devstack" / "stack.json"


def _client(info: StackInfo) -> stripe.StripeClient:
    if info.stripe.api_base:
        return stripe.StripeClient(STANDIN_SECRET_KEY, base_addresses={"api": info.stripe.api_base})
    key = os.environ.get("STRIPE_SECRET_KEY", "")
    if not key.startswith("sk_test_"):
        sys.exit("real Stripe test mode: export STRIPE_SECRET_KEY=sk_test_...")
    return stripe.StripeClient(key)


def _authenticate(info: StackInfo, kind: str, intent_id: str) -> None:
    if not info.stripe.control_url:
        sys.exit("3-D Secure can only be completed here with the stand-in; use a browser")
    requests.post(
        f"{info.stripe.control_url}/_standin/{kind}/{intent_id}/authenticate",
        json={"outcome": "succeed"},
        timeout=10,
    ).raise_for_status()


def complete_checkout(info: StackInfo, session: str, card: str, *, authenticate: bool) -> None:
    """What the customer does on the hosted Checkout page: enter a card and pay."""
    if not info.stripe.control_url:
        sys.exit("Stripe's Checkout page needs a browser: open the session's url")
    session_id = session.rstrip("/").rsplit("/", 1)[-1]
    response = requests.post(
        f"{info.stripe.control_url}/_standin/checkout/sessions/{session_id}/complete",
        json={"card": card, "authenticate": authenticate},
        timeout=30,
    )
    if response.status_code == 402:
        error = response.json()["error"]
        sys.exit(f"declined: {error.get('code')} ({error.get('message')})")
    if response.status_code in (400, 404):
        sys.exit(f"refused: {response.json()['error'].get('message')}")
    response.raise_for_status()
    done = response.json()
    print(f"checkout {done['id']}: {done['status']}; subscription={done['subscription']}")  # noqa: T201


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", type=Path, default=STACK_FILE, help="stack.json to use")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("confirm-payment", "confirm-setup"):
        command = commands.add_parser(name)
        command.add_argument("client_secret")
        command.add_argument("--card", default="pm_card_visa")
        command.add_argument("--authenticate", action="store_true", help="complete 3-D Secure")
    checkout = commands.add_parser(
        "complete-checkout", help="pay on a Checkout page (stand-in only: Stripe's needs a browser)"
    )
    checkout.add_argument("session", help="the url create-checkout-session answered, or its id")
    checkout.add_argument("--card", default="pm_card_visa")
    checkout.add_argument("--authenticate", action="store_true", help="complete 3-D Secure")
    clock = commands.add_parser("advance-clock")
    clock.add_argument("seconds", type=int)
    args = parser.parse_args(argv)
    info = StackInfo.load(args.stack)

    if args.command == "complete-checkout":
        complete_checkout(info, args.session, args.card, authenticate=args.authenticate)
        return
    if args.command == "advance-clock":
        if not info.stripe.control_url:
            sys.exit("only the stand-in's clock can be advanced")
        response = requests.post(
            f"{info.stripe.control_url}/_standin/clock/advance",
            json={"seconds": args.seconds},
            timeout=30,
        )
        response.raise_for_status()
        print(response.text)  # noqa: T201
        return

    client = _client(info)
    intent_id = args.client_secret.split("_secret_")[0]
    try:
        if args.command == "confirm-payment":
            pi = client.v1.payment_intents.confirm(intent_id, {"payment_method": args.card})
            if pi.status == "requires_action" and args.authenticate:
                _authenticate(info, "payment_intents", pi.id)
                pi = client.v1.payment_intents.retrieve(pi.id)
            print(f"payment {pi.id}: {pi.status}")  # noqa: T201
        else:
            si = client.v1.setup_intents.confirm(intent_id, {"payment_method": args.card})
            if si.status == "requires_action" and args.authenticate:
                _authenticate(info, "setup_intents", si.id)
                si = client.v1.setup_intents.retrieve(si.id)
            print(f"setup {si.id}: {si.status}; payment_method_id={si.payment_method}")  # noqa: T201
    except stripe.CardError as exc:
        sys.exit(f"declined: {exc.code} ({exc.user_message})")


if __name__ == "__main__":
    main()
