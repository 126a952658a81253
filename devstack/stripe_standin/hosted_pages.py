"""The hosted Checkout page, as a person in a browser uses it: type a card, pay, maybe pass
3-D Secure, land on the success URL.

What Stripe's hosted Checkout does (docs.stripe.com/payments/checkout and
docs.stripe.com/testing): the customer enters a card; a declined card shows the decline on
the page and leaves the session open for another card; a card that needs 3-D Secure shows
the bank's challenge, which the customer completes or fails (failing shows "We are unable to
authenticate your payment method..." and the session stays open); a paid session redirects
to ``success_url`` with ``{CHECKOUT_SESSION_ID}`` replaced. The Back link goes to
``cancel_url``. This page takes Stripe's test card numbers only and refuses any other number
by name; it offers cards only (no wallets, no address, no promotion code field).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, redirect, request

from devstack.stripe_standin import metered_billing
from devstack.stripe_standin.api_errors import StripeAPIError
from devstack.stripe_standin.resources import checkout
from devstack.stripe_standin.routing import ApiContext
from devstack.stripe_standin.state import AUTOMATIC
from devstack.stripe_standin.testmode_cards import TEST_CARDS

if TYPE_CHECKING:
    from devstack.stripe_standin.server import Standin

# Stripe's test card numbers (docs.stripe.com/testing) and the test PaymentMethod each is.
TEST_CARD_NUMBERS: dict[str, str] = {
    "4242424242424242": "pm_card_visa",
    "4000056655665556": "pm_card_visa_debit",
    "5555555555554444": "pm_card_mastercard",
    "378282246310005": "pm_card_amex",
    "4000000000000002": "pm_card_chargeDeclined",
    "4000000000009995": "pm_card_chargeDeclinedInsufficientFunds",
    "4000000000000341": "pm_card_chargeCustomerFail",
    "4000002760003184": "pm_card_authenticationRequired",
    "4000002500003155": "pm_card_authenticationRequiredOnSetup",
}

_STYLE = """
body{font-family:system-ui,sans-serif;background:#f6f9fc;color:#1a1f36;margin:0}
main{max-width:440px;margin:3rem auto;background:#fff;border-radius:8px;padding:2rem;
box-shadow:0 1px 3px rgba(0,0,0,.15)}
label{display:block;margin:1rem 0 .3rem}input{width:100%;padding:.5rem;font-size:1rem;
box-sizing:border-box}button{background:#635bff;color:#fff;border:0;border-radius:6px;
padding:.7rem 1.2rem;font-size:1rem;margin-top:1rem;cursor:pointer}
.error{background:#fde8e8;color:#9b1c1c;padding:.7rem;border-radius:6px}
.notice{background:#e6f4ea;color:#1e4620;padding:.7rem;border-radius:6px}
.amount{font-size:1.8rem;font-weight:600}small{color:#697386}
"""


def _page(title: str, body: str, status: int = 200) -> Response:
    text = (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}"
        f"</title><style>{_STYLE}</style></head><body><main>{body}</main></body></html>"
    )
    return Response(text, status=status, mimetype="text/html")


def _money(amount: int | None, currency: str | None) -> str:
    if amount is None or currency is None:
        return ""
    return f"{amount / 100:,.2f} {currency.upper()}"


def hosted_blueprint(standin: Standin) -> Blueprint:
    bp = Blueprint("standin_hosted", __name__, url_prefix="/_standin")
    state = standin.state

    def context() -> ApiContext:
        state.base_url = request.host_url.rstrip("/")
        return ApiContext(state, AUTOMATIC, state.base_url, standin.expander)

    def usage_terms(price: dict[str, Any]) -> str:
        """A metered price's terms, as the customer reads them before paying: the units its
        graduated tiers include free, then the price of each unit beyond (the stand-in's
        wording; Stripe's Checkout lists usage-based line items with their tiers)."""
        meter = state.data.meters.meters.get(str(price["recurring"].get("meter") or ""))
        name = html.escape(str(meter["display_name"])) if meter else "units"
        one = name.removesuffix("s")
        tiers = state.data.price_tiers.get(price["id"]) or []
        included = 0
        beyond = price.get("unit_amount") or 0
        for tier in tiers:
            if tier["unit_amount"] or tier["up_to"] is None:
                beyond = tier["unit_amount"] or 0
                break
            included = int(tier["up_to"])
        each = f"{beyond / 100:,.2f} {str(price['currency']).upper()}"
        interval = html.escape(str(price["recurring"].get("interval", "")))
        start = f"{included:,} {name} included per {interval}, then " if included else ""
        return f"{start}{each} per {one} over the quota, billed at the end of each {interval}"

    def describe(session_id: str) -> str:
        lines = []
        for line in state.data.checkout_lines.get(session_id, []):
            price = state.data.prices[line["price"]]
            product = state.data.products[price["product"]]
            recurring = price.get("recurring") or {}
            if metered_billing.is_metered(price):
                lines.append(f'<span data-testid="usage">Usage: {usage_terms(price)}</span>')
                continue
            lines.append(
                f"{html.escape(product['name'])}: {_money(price['unit_amount'], price['currency'])}"
                f" per {html.escape(str(recurring.get('interval', '')))}"
            )
        return "<br>".join(lines)

    def headline(session_id: str) -> str:
        names = [
            state.data.products[state.data.prices[line["price"]]["product"]]["name"]
            for line in state.data.checkout_lines.get(session_id, [])
            if not metered_billing.is_metered(state.data.prices[line["price"]])
        ]
        return html.escape(" and ".join(dict.fromkeys(names)))

    def checkout_form(session: dict[str, Any], error: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
        session_id = session["id"]
        problem = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
        back = session.get("cancel_url")
        back_link = f'<p><a href="{html.escape(back)}">&larr; Back</a></p>' if back else ""
        body = (
            f'{back_link}<p data-testid="business"><strong>'
            f"{html.escape(standin.config.business_name)}</strong></p>"
            f"<h1>Subscribe to {headline(session_id)}</h1><p>{describe(session_id)}</p>"
            f'<p class="amount" data-testid="amount">'
            f"{_money(session.get('amount_total'), session.get('currency'))}</p>"
            f"<p><small>Stripe stand-in, test mode: no card is charged.</small></p>{problem}"
            f'<form method="post" action="/_standin/checkout/sessions/{session_id}/pay">'
            '<label for="card">Card number</label>'
            '<input id="card" name="card_number" inputmode="numeric" autocomplete="cc-number"'
            ' placeholder="4242 4242 4242 4242" required>'
            '<label for="exp">Expiry (MM / YY)</label><input id="exp" name="exp" value="12 / 34">'
            '<label for="cvc">CVC</label><input id="cvc" name="cvc" value="123">'
            "<button type=submit>Pay and subscribe</button></form>"
            "<p><small>Test cards: 4242 4242 4242 4242 pays; 4000 0027 6000 3184 asks for "
            "3-D Secure; 4000 0000 0000 0002 is declined.</small></p>"
        )
        return _page("Checkout", body, status)

    def challenge(session_id: str, number: str) -> Response:
        body = (
            "<h1>3-D Secure</h1><p>Your bank asks you to confirm this payment.</p>"
            f"<p><small>Stand-in test page: no bank is contacted.</small></p>"
            f'<form method="post" action="/_standin/checkout/sessions/{session_id}/pay">'
            f'<input type="hidden" name="card_number" value="{html.escape(number)}">'
            '<button name="authenticate" value="complete">Complete authentication</button> '
            '<button name="authenticate" value="fail">Fail authentication</button></form>'
        )
        return _page("3-D Secure", body)

    def closed(session: dict[str, Any]) -> Response:
        status = html.escape(str(session["status"]))
        return _page("Checkout", f"<h1>Checkout</h1><p>This page is {status}.</p>", 410)

    @bp.get("/checkout/sessions/<session_id>")
    def checkout_page(session_id: str) -> Response:
        with state.lock:
            if session_id not in state.data.checkout_sessions:
                return _page("Checkout", "<h1>No such Checkout Session</h1>", 404)
            session = checkout.retrieve(context(), {"session": session_id}, {})
            if session["status"] != "open":
                return closed(session)
            return checkout_form(session)  # type: ignore[no-any-return]

    @bp.post("/checkout/sessions/<session_id>/pay")
    def pay(session_id: str) -> Response:
        number = "".join(request.form.get("card_number", "").split())
        authenticate = request.form.get("authenticate")
        with state.lock:
            if session_id not in state.data.checkout_sessions:
                return _page("Checkout", "<h1>No such Checkout Session</h1>", 404)
            session = checkout.retrieve(context(), {"session": session_id}, {})
            if session["status"] != "open":
                return closed(session)
            card = TEST_CARD_NUMBERS.get(number)
            if card is None:
                known = ", ".join(sorted(TEST_CARD_NUMBERS))
                message = (
                    "The Stripe stand-in's Checkout takes only Stripe's test card numbers "
                    f"({known}); it refuses every other number."
                )
                return checkout_form(session, message, 400)  # type: ignore[no-any-return]
            if TEST_CARDS[card].auth != "none" and authenticate is None:
                return challenge(session_id, number)
            try:
                done = checkout.complete(context(), session_id, card, authenticate == "complete")
            except StripeAPIError as error:
                return checkout_form(session, error.message, 402)  # type: ignore[no-any-return]
            finally:
                state.flush_events()
        target = str(done["success_url"]).replace("{CHECKOUT_SESSION_ID}", session_id)
        return redirect(target, 303)  # type: ignore[return-value]

    return bp
