"""Cloud Functions entry points: one per row of app.registry, and nothing else."""

import os

# Before any model is built: pydantic looks for plugins on the first model an instance builds,
# a scan of every installed package's entry points (4-8 ms of CPU at start, measured in
# docs/performance.md), unless told there are none; these functions use none
# (https://docs.pydantic.dev/latest/concepts/plugins/#disabling-plugins). A deployment that
# wants a plugin sets PYDANTIC_DISABLE_PLUGINS itself (to "" for all of them).
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

import flask
import functions_framework
from cloudevents.http import CloudEvent

from app.boot import event, http


@functions_framework.http
def create_customer(request: flask.Request) -> flask.Response:
    return http("create_customer")(request)


@functions_framework.http
def create_subscription(request: flask.Request) -> flask.Response:
    return http("create_subscription")(request)


@functions_framework.http
def handle_subscription(request: flask.Request) -> flask.Response:
    return http("handle_subscription")(request)


@functions_framework.http
def retrieve_subscription(request: flask.Request) -> flask.Response:
    return http("retrieve_subscription")(request)


@functions_framework.http
def retrieve_payment_method(request: flask.Request) -> flask.Response:
    return http("retrieve_payment_method")(request)


@functions_framework.http
def create_setup_intent(request: flask.Request) -> flask.Response:
    return http("create_setup_intent")(request)


@functions_framework.http
def update_payment_method(request: flask.Request) -> flask.Response:
    return http("update_payment_method")(request)


@functions_framework.http
def retry_invoice(request: flask.Request) -> flask.Response:
    return http("retry_invoice")(request)


@functions_framework.http
def preview_plan_change(request: flask.Request) -> flask.Response:
    return http("preview_plan_change")(request)


@functions_framework.http
def change_plan(request: flask.Request) -> flask.Response:
    return http("change_plan")(request)


@functions_framework.http
def list_invoices(request: flask.Request) -> flask.Response:
    return http("list_invoices")(request)


@functions_framework.http
def create_checkout_session(request: flask.Request) -> flask.Response:
    return http("create_checkout_session")(request)


@functions_framework.http
def create_portal_session(request: flask.Request) -> flask.Response:
    return http("create_portal_session")(request)


@functions_framework.http
def list_plans(request: flask.Request) -> flask.Response:
    return http("list_plans")(request)


@functions_framework.http
def get_usage(request: flask.Request) -> flask.Response:
    return http("get_usage")(request)


@functions_framework.http
def stripe_webhook(request: flask.Request) -> flask.Response:
    return http("stripe_webhook")(request)


@functions_framework.http
def reconcile(request: flask.Request) -> flask.Response:
    return http("reconcile")(request)


@functions_framework.cloud_event
def send_email(cloud_event: CloudEvent) -> None:
    return event("send_email")(cloud_event)


@functions_framework.cloud_event
def record_usage(cloud_event: CloudEvent) -> None:
    return event("record_usage")(cloud_event)
