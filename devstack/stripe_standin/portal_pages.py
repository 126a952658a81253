"""The hosted billing portal, as a person in a browser uses it: what the session's saved
configuration allows, and nothing more.

What Stripe's portal does (https://docs.stripe.com/customer-management, and the configuration's
``features``: https://docs.stripe.com/api/customer_portal/configurations/object): it shows the
customer's subscriptions, payment methods and invoice history; with ``subscription_cancel``
(mode ``at_period_end``) a customer cancels at the end of the period and can renew a plan that
is set to cancel; with ``subscription_update`` the customer switches among the configuration's
``products[].prices`` with its ``proration_behavior``; with ``payment_method_update`` the
customer adds a card that becomes the default for invoices and subscriptions. Each change is a
subscription or customer update, so the webhooks are Stripe's own for it
(``customer.subscription.updated``, ``payment_method.attached``, ``customer.updated``, and the
invoice events of a prorated switch). A paid switch uses pending updates
(https://docs.stripe.com/billing/subscriptions/pending-updates): a declined card leaves the plan
as it was.

Refused by name (400), as the stand-in implements only what the product's tests use: immediate
cancellation (``mode=immediately``), cancellation reasons, customer detail updates, cards that
need 3-D Secure to be saved, quantities, and any switch the subscription update code refuses
(interval changes, ``create_prorations``). A subscription with several items (a plan with its
metered prices) can only be canceled in the portal, never updated: "If subscriptions use any
of the following, customers can only cancel them in the portal: multiple products, usage-based
billing" (https://docs.stripe.com/billing/subscriptions/integrating-customer-portal,
"Limitations"). Portal sessions do not expire here (Stripe's are
short-lived); the Back link goes to the session's ``return_url``.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, redirect, request

from devstack.stripe_standin import invoicing
from devstack.stripe_standin.api_errors import StripeAPIError
from devstack.stripe_standin.hosted_pages import TEST_CARD_NUMBERS, _money, _page
from devstack.stripe_standin.resources import customers, subscriptions
from devstack.stripe_standin.routing import ApiContext
from devstack.stripe_standin.state import AUTOMATIC
from devstack.stripe_standin.testmode_cards import TEST_CARDS

if TYPE_CHECKING:
    from devstack.stripe_standin.server import Standin

JSONDict = dict[str, Any]

# The subscriptions the portal shows as the customer's plan.
SHOWN = frozenset({"active", "trialing", "past_due", "unpaid", "paused"})
NOTICES = {
    "canceled": "Your plan will be canceled at the end of the billing period.",
    "renewed": "Your plan will renew.",
    "switched": "Your plan was changed.",
    "card": "Your card was saved.",
}


class Refusal(Exception):
    """What the portal refuses, with the HTTP status of the page that says so."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _date(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%B %-d, %Y")


def portal_blueprint(standin: Standin) -> Blueprint:
    bp = Blueprint("standin_portal", __name__, url_prefix="/_standin/billing_portal")
    state = standin.state

    def context() -> ApiContext:
        state.base_url = request.host_url.rstrip("/")
        return ApiContext(state, AUTOMATIC, state.base_url, standin.expander)

    def features(session: JSONDict) -> JSONDict:
        configuration = state.data.portal_configurations.get(session["configuration"])
        if configuration is None or not configuration["active"]:
            # Deleted or deactivated since: Stripe's portal stops offering what it offered.
            raise Refusal("This portal's configuration is no longer active.", 410)
        found: JSONDict = configuration["features"]
        return found

    def running(customer: str) -> list[JSONDict]:
        return [
            sub
            for sub in state.data.subscriptions.values()
            if sub["customer"] == customer and sub["status"] in SHOWN
        ]

    def offered(allowed: JSONDict) -> list[str]:
        if not allowed["subscription_update"]["enabled"]:
            return []
        return [p for entry in allowed["subscription_update"]["products"] for p in entry["prices"]]

    def price_label(price_id: str) -> str:
        price = state.data.prices[price_id]
        product = state.data.products[price["product"]]
        interval = (price.get("recurring") or {}).get("interval", "")
        amount = _money(price["unit_amount"], price["currency"])
        return f"{html.escape(product['name'])}: {amount} per {html.escape(str(interval))}"

    def updatable(sub: JSONDict) -> bool:
        return len(sub["items"]["data"]) == 1  # Stripe: several items (usage) cancel only

    def subscription_section(session_id: str, sub: JSONDict, allowed: JSONDict) -> str:
        item = sub["items"]["data"][0]
        current = item["price"]["id"]
        period_end = int(item["current_period_end"])
        base = f"/_standin/billing_portal/sessions/{session_id}/subscriptions/{sub['id']}"
        cancel = allowed["subscription_cancel"]["enabled"]
        parts = [
            f'<section data-testid="subscription"><h2>Current plan</h2><p>{price_label(current)}'
            f"</p><p><small>Status: {html.escape(sub['status'])}</small></p>"
        ]
        if sub["cancel_at_period_end"]:
            parts.append(
                f'<p data-testid="cancels">Your plan will be canceled on '
                f"{_date(int(sub['cancel_at'] or period_end))}.</p>"
            )
            if cancel:
                parts.append(
                    f'<form method="post" action="{base}/renew">'
                    "<button type=submit>Renew plan</button></form>"
                )
        else:
            parts.append(f"<p>Renews on {_date(period_end)}.</p>")
            if cancel:
                parts.append(
                    f'<form method="post" action="{base}/cancel">'
                    "<button type=submit>Cancel plan</button></form>"
                )
        choices = [price for price in offered(allowed) if price != current]
        if choices and not updatable(sub):
            parts.append(
                '<p data-testid="cancel-only">This plan can be canceled here; '
                "change it in the app.</p>"
            )
        elif choices and sub["status"] == "active" and not sub["cancel_at_period_end"]:
            parts.append("<h3>Switch plan</h3>")
            for price in choices:
                parts.append(
                    f'<form method="post" action="{base}/switch">'
                    f'<input type="hidden" name="price" value="{html.escape(price)}">'
                    f"<p>{price_label(price)} <button type=submit "
                    f'aria-label="Switch to {html.escape(price)}">Select</button></p></form>'
                )
        parts.append("</section>")
        return "".join(parts)

    def card_section(session_id: str, customer: JSONDict, subs: list[JSONDict]) -> str:
        # The card a subscription is charged with: its own default_payment_method first, else
        # the customer's invoice_settings default (https://docs.stripe.com/api/subscriptions/
        # object#subscription_object-default_payment_method). Checkout sets the subscription's.
        defaults = [sub.get("default_payment_method") for sub in subs]
        defaults.append(customer["invoice_settings"]["default_payment_method"])
        cards = [
            state.data.payment_methods[pm_id]["card"]
            for pm_id in dict.fromkeys(d for d in defaults if d)
            if pm_id in state.data.payment_methods
        ]
        if cards:
            shown = "".join(
                f'<p data-testid="card">{html.escape(card["brand"].title())} '
                f"&bull;&bull;&bull;&bull; {html.escape(card['last4'])}</p>"
                for card in cards
            )
        else:
            shown = '<p data-testid="card">No card saved.</p>'
        return (
            f"<section><h2>Payment method</h2>{shown}"
            f'<form method="post" action="/_standin/billing_portal/sessions/{session_id}/'
            'payment_method"><label for="card">New card number</label>'
            '<input id="card" name="card_number" inputmode="numeric" required>'
            "<button type=submit>Save card</button></form></section>"
        )

    def invoice_section(customer_id: str) -> str:
        rows = []
        invoices = [
            invoice
            for invoice in state.data.invoices.values()
            if invoice["customer"] == customer_id and invoice["status"] != "draft"
        ]
        for invoice in sorted(invoices, key=lambda i: int(i["created"]), reverse=True):
            link = invoice.get("hosted_invoice_url")
            label = html.escape(str(invoice["number"]))
            name = f'<a href="{html.escape(link)}">{label}</a>' if link else label
            rows.append(
                f"<li>{_date(int(invoice['created']))} {name} "
                f"{_money(invoice['total'], invoice['currency'])} {html.escape(invoice['status'])}"
                "</li>"
            )
        return f"<section><h2>Invoice history</h2><ul>{''.join(rows)}</ul></section>"

    def portal_page(session: JSONDict, error: str | None = None, status: int = 200) -> Response:
        allowed = features(session)
        customer = state.data.customers[session["customer"]]
        back = session.get("return_url")
        parts = [f'<p><a href="{html.escape(back)}">&larr; Return</a></p>' if back else ""]
        parts.append("<h1>Billing</h1>")
        parts.append(
            f"<p><small>{html.escape(str(customer.get('email') or customer['id']))} "
            "(Stripe stand-in, test mode)</small></p>"
        )
        notice = NOTICES.get(request.args.get("done", ""))
        if notice and error is None:
            parts.append(f'<p class="notice" role="status">{notice}</p>')
        if error:
            parts.append(f'<p class="error" role="alert">{html.escape(error)}</p>')
        subs = running(customer["id"])
        parts += [subscription_section(session["id"], sub, allowed) for sub in subs]
        if not subs:
            parts.append("<p>No current plan.</p>")
        if allowed["payment_method_update"]["enabled"]:
            parts.append(card_section(session["id"], customer, subs))
        if allowed["invoice_history"]["enabled"]:
            parts.append(invoice_section(customer["id"]))
        return _page("Billing portal", "".join(parts), status)

    def own_subscription(session: JSONDict, sub_id: str) -> JSONDict:
        sub = state.data.subscriptions.get(sub_id)
        if sub is None or sub["customer"] != session["customer"] or sub["status"] not in SHOWN:
            raise Refusal("No such subscription for this customer.", 404)
        return sub

    def require(allowed: JSONDict, feature: str, what: str) -> JSONDict:
        entry: JSONDict = allowed[feature]
        if not entry["enabled"]:
            raise Refusal(f"This portal's configuration does not allow {what}.", 403)
        return entry

    def cancel(session: JSONDict, sub: JSONDict) -> str:
        settings = require(features(session), "subscription_cancel", "cancellation")
        if settings["mode"] != "at_period_end":
            raise Refusal(
                "The Stripe stand-in's portal does not implement subscription_cancel "
                f"mode={settings['mode']} (only at_period_end)."
            )
        subscriptions.update(context(), {"subscription": sub["id"]}, {"cancel_at_period_end": True})
        return "canceled"

    def renew(session: JSONDict, sub: JSONDict) -> str:
        require(features(session), "subscription_cancel", "renewing a canceled plan")
        if not sub["cancel_at_period_end"]:
            raise Refusal("This plan is not set to cancel.")
        params = {"cancel_at_period_end": False}
        subscriptions.update(context(), {"subscription": sub["id"]}, params)
        return "renewed"

    def switch(session: JSONDict, sub: JSONDict) -> str:
        allowed = features(session)
        settings = require(allowed, "subscription_update", "switching plans")
        price = request.form.get("price", "")
        if price not in offered(allowed):
            raise Refusal(f"This portal does not offer the price {price!r}.")
        items = sub["items"]["data"]
        if not updatable(sub):
            raise Refusal(
                "This subscription has several items (usage-based billing): the portal can "
                "only cancel it."
            )
        if items[0]["price"]["id"] == price:
            raise Refusal("This is already your plan.")
        params = {
            "items": [{"id": items[0]["id"], "price": price}],
            "proration_behavior": settings["proration_behavior"],
            "payment_behavior": "pending_if_incomplete",
        }
        subscriptions.update(context(), {"subscription": sub["id"]}, params)
        if sub["pending_update"] is not None:
            raise Refusal("Your card was declined; your plan was not changed.", 402)
        return "switched"

    def save_card(session: JSONDict) -> str:
        require(features(session), "payment_method_update", "updating the card")
        number = "".join(request.form.get("card_number", "").split())
        card = TEST_CARD_NUMBERS.get(number)
        if card is None:
            known = ", ".join(sorted(TEST_CARD_NUMBERS))
            raise Refusal(
                "The Stripe stand-in's portal takes only Stripe's test card numbers "
                f"({known}); it refuses every other number."
            )
        if TEST_CARDS[card].auth != "none":
            raise Refusal(
                "The Stripe stand-in's portal does not implement 3-D Secure when saving a card."
            )
        ctx = context()
        customer_id = session["customer"]
        pm = invoicing.resolve_payment_method(state, card, ctx.test_card_ids, param="card")
        invoicing.attach_payment_method(state, pm, customer_id, ctx.origin)
        settings = {"invoice_settings": {"default_payment_method": pm["id"]}}
        customers.update(ctx, {"customer": customer_id}, settings)
        for sub in running(customer_id):
            if sub["default_payment_method"]:
                params = {"default_payment_method": pm["id"]}
                subscriptions.update(ctx, {"subscription": sub["id"]}, params)
        return "card"

    def act(session_id: str, action: Any, sub_id: str | None = None) -> Response:
        with state.lock:
            session = state.data.portal_sessions.get(session_id)
            if session is None:
                return _page("Billing portal", "<h1>No such portal session</h1>", 404)
            try:
                if sub_id is None:
                    done = action(session)
                else:
                    done = action(session, own_subscription(session, sub_id))
            except Refusal as refusal:
                return refused(session, refusal.message, refusal.status)
            except StripeAPIError as error:
                return refused(session, error.message, error.status)
            finally:
                state.flush_events()
        return redirect(f"/_standin/billing_portal/sessions/{session_id}?done={done}", 303)  # type: ignore[return-value]

    def refused(session: JSONDict, message: str, status: int) -> Response:
        try:
            return portal_page(session, message, status)
        except Refusal as refusal:
            return _page("Billing portal", f"<h1>{html.escape(refusal.message)}</h1>", status)

    @bp.get("/sessions/<session_id>")
    def page(session_id: str) -> Response:
        with state.lock:
            session = state.data.portal_sessions.get(session_id)
            if session is None:
                return _page("Billing portal", "<h1>No such portal session</h1>", 404)
            try:
                return portal_page(session)
            except Refusal as refusal:
                return _page("Billing portal", f"<h1>{html.escape(refusal.message)}</h1>", 410)

    actions = {"cancel": cancel, "renew": renew, "switch": switch}

    @bp.post("/sessions/<session_id>/subscriptions/<sub_id>/<action>")
    def subscription_action(session_id: str, sub_id: str, action: str) -> Response:
        if action not in actions:
            return _page("Billing portal", f"<h1>No such action: {html.escape(action)}</h1>", 404)
        return act(session_id, actions[action], sub_id)

    @bp.post("/sessions/<session_id>/payment_method")
    def payment_method(session_id: str) -> Response:
        return act(session_id, save_card)

    return bp
