"""Drive an HTTP function the way functions-framework does: a Flask app, one route, any method."""

from __future__ import annotations

import flask
from flask.testing import FlaskClient

from billing.http.shell import HttpFunction
from billing.runtime import Runtime

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def client_for(endpoint: object, rt: Runtime) -> FlaskClient:
    assert isinstance(endpoint, HttpFunction), endpoint
    app = flask.Flask(endpoint.name)
    app.add_url_rule(
        "/", endpoint.name, lambda: endpoint.handle(flask.request, rt), methods=ALL_METHODS
    )
    return app.test_client()
