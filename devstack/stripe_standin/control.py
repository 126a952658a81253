"""The ``/_standin`` control API: health, request log, faults, config, clock, 3-D Secure,
webhook deliveries. No authentication; never recorded in the request log."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from flask import Blueprint, Response, request

from devstack.stripe_standin import invoicing, seeding
from devstack.stripe_standin.api_errors import StripeAPIError
from devstack.stripe_standin.delivery import ORDERS, Order
from devstack.stripe_standin.dunning import DunningSettings
from devstack.stripe_standin.resources import checkout, setup_intents
from devstack.stripe_standin.routing import ApiContext
from devstack.stripe_standin.state import AUTOMATIC, snapshot

if TYPE_CHECKING:
    from devstack.stripe_standin.server import Standin

JSONDict = dict[str, Any]

# A running subscription moves between these through Stripe's dunning or a pause.
RUNNING_STATUSES = frozenset({"active", "past_due", "unpaid", "paused"})

_CONFIG_FIELDS: dict[str, tuple[type, ...]] = {
    "latency_ms": (int,),
    "webhook_url": (str, type(None)),
    "webhook_secret": (str,),
    "webhook_max_attempts": (int,),
    "webhook_backoff_s": (int, float),
    "webhook_timeout_s": (int, float),
    "webhook_payload": (str,),
    "retry_schedule_days": (list,),
    "dunning_end": (str,),
    "lock_timeout_ms": (int,),
    "rate_limits": (bool,),
}
_PAYLOADS = ("snapshot", "thin")


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, indent=2), status=status, mimetype="application/json")


def _problem(message: str, status: int = 400) -> Response:
    return _json({"error": {"message": message}}, status)


def _body() -> JSONDict:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


def control_blueprint(standin: Standin) -> Blueprint:
    bp = Blueprint("standin_control", __name__, url_prefix="/_standin")
    state = standin.state

    def mutate(action: Callable[[], Any]) -> Response:
        """Run ``action`` under the state lock, then dispatch the events it produced."""
        with state.lock:
            try:
                return _json(action())
            except StripeAPIError as error:
                return _json(error.body(), error.status)
            finally:
                state.flush_events()

    @bp.get("/health")
    def health() -> Response:
        return _json({"ok": True})

    @bp.get("/requests")
    def list_requests() -> Response:
        entries = standin.recorder.list(request.args.get("method"), request.args.get("path_prefix"))
        return _json({"data": entries})

    @bp.delete("/requests")
    def clear_requests() -> Response:
        standin.recorder.clear()
        return _json({"deleted": True})

    @bp.get("/faults")
    def list_faults() -> Response:
        return _json({"data": standin.faults.list()})

    @bp.post("/faults")
    def add_fault() -> Response:
        try:
            rule = standin.faults.add(_body())
        except ValueError as error:
            return _problem(str(error))
        return _json(rule.to_json())

    @bp.get("/faults/<rule_id>")
    def get_fault(rule_id: str) -> Response:
        found = standin.faults.get(rule_id)
        return _json(found) if found else _problem(f"no fault rule {rule_id}", 404)

    @bp.post("/faults/<rule_id>/release")
    def release_fault(rule_id: str) -> Response:
        if not standin.faults.release(rule_id):
            return _problem(f"no hold rule {rule_id}", 404)
        return _json(standin.faults.get(rule_id))

    @bp.delete("/faults")
    def clear_faults() -> Response:
        standin.faults.clear()
        return _json({"deleted": True})

    @bp.get("/config")
    def get_config() -> Response:
        with standin.config_lock:
            config = standin.config
            shown = {field: getattr(config, field) for field in _CONFIG_FIELDS}
        shown["retry_schedule_days"] = list(shown["retry_schedule_days"])
        return _json(shown)

    @bp.post("/config")
    def set_config() -> Response:
        body = _body()
        for field, value in body.items():
            expected = _CONFIG_FIELDS.get(field)
            if expected is None:
                return _problem(f"unknown config field: {field}")
            wrong_bool = isinstance(value, bool) and bool not in expected
            if not isinstance(value, expected) or wrong_bool:
                return _problem(f"invalid value for {field}")
            if field == "webhook_payload" and value not in _PAYLOADS:
                return _problem(f"webhook_payload must be one of {', '.join(_PAYLOADS)}")
            minimum = {"latency_ms": 0, "webhook_max_attempts": 1, "lock_timeout_ms": 0}.get(field)
            if minimum is not None and cast(int, value) < minimum:
                return _problem(f"invalid value for {field}")
        try:
            DunningSettings(
                tuple(body.get("retry_schedule_days", standin.config.retry_schedule_days)),
                body.get("dunning_end", standin.config.dunning_end),
            )
        except ValueError as error:
            return _problem(str(error))
        with standin.config_lock:
            for field, value in body.items():
                setattr(standin.config, field, value)
        with state.lock:
            state.dunning = standin.dunning_settings()
            state.invoice_limits = standin.rate_limited()
        return get_config()

    @bp.post("/entitlements/lag")
    def entitlements_lag() -> Response:
        """``{"on": true}``: active entitlements stop following payments (the lag between a
        payment and Stripe's entitlement summary); ``{"on": false}``: they catch up now, with
        their summary events."""
        on = _body().get("on")
        if not isinstance(on, bool):
            return _problem("on must be true or false")
        with state.lock:
            standin.entitlements_lag = on
            state.flush_events()
        return _json({"on": on})

    @bp.post("/reset")
    def reset() -> Response:
        standin.reset()
        return _json({"reset": True})

    @bp.get("/clock")
    def clock() -> Response:
        return _json({"now": state.now()})

    @bp.post("/clock/advance")
    def advance() -> Response:
        seconds = _body().get("seconds")
        if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 0:
            return _problem("seconds must be a non-negative integer")
        return mutate(
            lambda: {
                "actions": invoicing.advance_clock(state, seconds) + checkout.expire_due(state),
                "now": state.now(),
            }
        )

    def outcome() -> bool | None:
        value = _body().get("outcome", "succeed")
        return {"succeed": True, "fail": False}.get(value)

    # What a customer completing 3-D Secure does, per kind of intent: the collection, the
    # name Stripe uses in "No such ..." errors, and what completing it runs.
    authenticators = {
        "setup_intents": ("setupintent", setup_intents.authenticate),
        "payment_intents": ("payment_intent", invoicing.complete_authentication),
    }

    @bp.post("/<kind>/<intent>/authenticate")
    def authenticate(kind: str, intent: str) -> Response:
        if kind not in authenticators:
            return _problem(f"no such intent kind: {kind}")
        label, complete = authenticators[kind]
        succeed = outcome()
        if succeed is None:
            return _problem('outcome must be "succeed" or "fail"')

        def act() -> JSONDict:
            found: JSONDict | None = getattr(state.data, kind).get(intent)
            if found is None:
                raise StripeAPIError(404, "invalid_request_error", f"No such {label}: '{intent}'")
            complete(state, found, succeed, AUTOMATIC)
            return found

        return mutate(act)

    @bp.post("/subscriptions/<sub_id>/status")
    def set_subscription_status(sub_id: str) -> Response:
        """What Stripe's own machinery does to a running subscription and the stand-in does
        not model on its own: dunning (past_due, then unpaid), or a pause."""
        wanted = _body().get("status")
        if wanted not in RUNNING_STATUSES:
            return _problem(f"status must be one of {', '.join(sorted(RUNNING_STATUSES))}")

        def act() -> JSONDict:
            sub: JSONDict | None = state.data.subscriptions.get(sub_id)
            if sub is None:
                raise StripeAPIError(
                    404, "invalid_request_error", f"No such subscription: '{sub_id}'"
                )
            if sub["status"] not in RUNNING_STATUSES:
                raise StripeAPIError(
                    400,
                    "invalid_request_error",
                    f"This subscription is {sub['status']}; only a running one "
                    f"({', '.join(sorted(RUNNING_STATUSES))}) can change status.",
                )
            before = snapshot(sub)
            sub["status"] = wanted
            state.emit_update("customer.subscription.updated", sub, before, AUTOMATIC)
            return sub

        return mutate(act)

    @bp.get("/events/deliveries")
    def deliveries() -> Response:
        data = standin.dispatcher.deliveries(request.args.get("event_id"))
        return _json({"data": data, **standin.dispatcher.status()})

    @bp.post("/events/<event_id>/redeliver")
    def redeliver(event_id: str) -> Response:
        with state.lock:
            event = state.data.events.get(event_id)
            if event is None:
                return _problem(f"No such event: '{event_id}'", 404)
            if standin.webhook_settings().url is None:
                return _problem("no webhook URL configured")
            standin.dispatcher.redeliver(event)
        return _json({"queued": True, "event_id": event_id})

    @bp.get("/webhooks")
    def webhook_status() -> Response:
        return _json(standin.dispatcher.status())

    @bp.post("/webhooks/pause")
    def pause() -> Response:
        standin.dispatcher.pause()
        return _json(standin.dispatcher.status())

    @bp.post("/webhooks/resume")
    def resume() -> Response:
        order = _body().get("order", "as_is")
        if order not in ORDERS:
            return _problem(f"order must be one of {', '.join(ORDERS)}")
        released = standin.dispatcher.resume(cast(Order, order))
        return _json({"released": released, **standin.dispatcher.status()})

    @bp.post("/checkout/sessions/<session_id>/complete")
    def complete_checkout(session_id: str) -> Response:
        body = _body()
        card = body.get("card", "pm_card_visa")
        authenticate = body.get("authenticate", False)
        if not isinstance(card, str) or not isinstance(authenticate, bool):
            return _problem("card must be a test card id, authenticate a boolean")

        def act() -> JSONDict:
            state.base_url = request.host_url.rstrip("/")
            ctx = ApiContext(state, AUTOMATIC, state.base_url, standin.expander)
            return checkout.complete(ctx, session_id, card, authenticate)

        return mutate(act)

    # A fresh account has no saved portal configuration (resources/billing_portal.py): DELETE
    # forgets every saved one; POST saves the catalog's again, as `terraform apply` does.
    @bp.delete("/billing_portal/configurations")
    def forget_portal_configurations() -> Response:
        with state.lock:
            forgotten = sorted(state.data.portal_configurations)
            state.data.portal_configurations.clear()
        return _json({"deleted": forgotten})

    @bp.post("/billing_portal/configurations")
    def save_portal_configuration() -> Response:
        portal = seeding.entries(standin.config.catalog_path, None)["portal"]
        with state.lock:
            return _json(seeding.save_portal_configuration(state, portal))

    @bp.get("/invoices/<invoice_id>/hosted")
    @bp.get("/invoices/<invoice_id>/pdf")
    def hosted_invoice(invoice_id: str) -> Response:
        with state.lock:
            invoice = state.data.invoices.get(invoice_id)
            if invoice is None:
                return _problem(f"No such invoice: '{invoice_id}'", 404)
            text = (
                f"<h1>Invoice {html.escape(str(invoice['number']))}</h1>"
                f"<p>Status: {html.escape(str(invoice['status']))}; amount due "
                f"{invoice['amount_due']} {html.escape(str(invoice['currency']))}</p>"
            )
        return Response(text, mimetype="text/html")

    return bp
