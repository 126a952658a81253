"""What every HTTP function shares: request id, log context, call counts, one error shape.

:class:`HttpFunction` runs a request through ``respond`` (the policy of a kind of function:
the browser API in :mod:`billing.http.browser`, the Stripe webhook in
:mod:`billing.http.stripe_webhook`)
and turns any failure into ``{"error": {"code": "...", "message": "...", "field": "..."}}``
with the status :mod:`billing.translate` gives it. Closed by default: an exception nobody
recognised is a 500 whose text never reaches the caller.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import flask

from billing import translate
from billing.errors import BillingError
from billing.http.body import abandon_unread
from core import call_counts, logs

if TYPE_CHECKING:
    from billing.runtime import Runtime

log = logging.getLogger("billing.http.shell")


class HttpFunction:
    """One HTTP cloud function. Call it with a flask request, as functions-framework does."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.deployed_name = name.replace("_", "-")

    def __call__(self, request: flask.Request) -> flask.Response:
        from billing import runtime  # the clients' module, imported on first request

        return self.handle(request, runtime.current())

    def respond(self, request: flask.Request, rt: Runtime, request_id: str) -> flask.Response:
        raise NotImplementedError

    def finish(self, request: flask.Request, response: flask.Response, rt: Runtime) -> None:
        """Adds the policy's headers to every answer, errors included."""

    def handle(self, request: flask.Request, rt: Runtime) -> flask.Response:
        started = time.monotonic()
        request_id = request_id_of(request)
        with (
            logs.context(
                function=self.deployed_name,
                request_id=request_id,
                **logs.trace_fields(
                    rt.settings.google_cloud_project,
                    {key.lower(): value for key, value in request.headers.items()},
                ),
            ),
            call_counts.measure() as counts,
        ):
            error_code: str | None = None
            try:
                response = self.respond(request, rt, request_id)
            except Exception as exc:  # every failure gets the one error shape
                error = translate.translate(exc)
                if error.status >= 500 and not isinstance(exc, BillingError):
                    log.error("operation failed", exc_info=exc)
                error_code = error.code
                response = json_response(error.body(), error.status, error.headers)
            abandon_unread(request)
            self.finish(request, response, rt)
            response.headers["X-Request-Id"] = request_id
            _log_request(request, response, started, counts, error_code)
        return response


def request_id_of(request: flask.Request) -> str:
    given = request.headers.get("X-Request-Id", "")
    if 8 <= len(given) <= 64 and given.replace("-", "").replace("_", "").isalnum():
        return given
    return uuid.uuid4().hex


def json_response(
    body: Mapping[str, Any], status: int, headers: Mapping[str, str] | None = None
) -> flask.Response:
    response = flask.Response(
        json.dumps(body, separators=(",", ":")), status=status, mimetype="application/json"
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _log_request(
    request: flask.Request,
    response: flask.Response,
    started: float,
    counts: Mapping[str, int],
    error_code: str | None,
) -> None:
    latency = time.monotonic() - started
    fields: dict[str, Any] = {
        "httpRequest": {
            "requestMethod": request.method,
            "status": response.status_code,
            "latency": f"{latency:.3f}s",
            "userAgent": request.headers.get("User-Agent", "")[:200],
        },
        **{
            kind: counts.get(kind, 0)
            for kind in (call_counts.STRIPE, call_counts.FIRESTORE, call_counts.PUBSUB)
        },
    }
    if error_code is not None:
        fields["error_code"] = error_code
    level = logging.WARNING if response.status_code >= 500 else logging.INFO
    log.log(level, "%s %s", request.method, response.status_code, extra=fields)
