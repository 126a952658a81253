"""Cloud Functions entry points: one per deployed function, and nothing else."""

import flask
import functions_framework

from billing.boot import endpoints


@functions_framework.http
def create_customer(request: flask.Request) -> flask.Response:
    return endpoints.create_customer(request)


@functions_framework.http
def create_subscription(request: flask.Request) -> flask.Response:
    return endpoints.create_subscription(request)


@functions_framework.http
def handle_subscription(request: flask.Request) -> flask.Response:
    return endpoints.handle_subscription(request)


@functions_framework.http
def retrieve_subscription(request: flask.Request) -> flask.Response:
    return endpoints.retrieve_subscription(request)


@functions_framework.http
def retrieve_payment_method(request: flask.Request) -> flask.Response:
    return endpoints.retrieve_payment_method(request)


@functions_framework.http
def create_setup_intent(request: flask.Request) -> flask.Response:
    return endpoints.create_setup_intent(request)


@functions_framework.http
def update_payment_method(request: flask.Request) -> flask.Response:
    return endpoints.update_payment_method(request)


@functions_framework.http
def retry_invoice(request: flask.Request) -> flask.Response:
    return endpoints.retry_invoice(request)
