"""Stripe's error responses: ``{"error": {"type", "code", "message", "param", ...}}``.

stripe-python picks the exception class from the HTTP status (and ``type`` for idempotency errors),
so the status codes here are the ones Stripe uses.
"""

from __future__ import annotations

from typing import Any

JSONDict = dict[str, Any]

DOCS = "https://docs.stripe.com/error-codes"


class StripeAPIError(Exception):
    """Raised by handlers; the pipeline turns it into Stripe's error body."""

    def __init__(
        self,
        status: int,
        error_type: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        extra: JSONDict | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self, request_id: str | None = None) -> JSONDict:
        error: JSONDict = {}
        if self.code is not None:
            error["code"] = self.code
        if self.decline_code is not None:
            error["decline_code"] = self.decline_code
        if self.code is not None:
            error["doc_url"] = f"{DOCS}#{self.code.replace('_', '-')}"
        error["message"] = self.message
        if self.param is not None:
            error["param"] = self.param
        if request_id is not None:
            error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        error.update(self.extra)
        error["type"] = self.error_type
        return {"error": error}


def invalid_request(
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    status: int = 400,
) -> StripeAPIError:
    return StripeAPIError(status, "invalid_request_error", message, code=code, param=param)


def parameter_unknown(param: str) -> StripeAPIError:
    return invalid_request(
        f"Received unknown parameter: {param}", param=param, code="parameter_unknown"
    )


def parameter_missing(param: str) -> StripeAPIError:
    return invalid_request(
        f"Missing required param: {param}.", param=param, code="parameter_missing"
    )


# How Stripe names each kind of object in "No such ..." messages.
_MISSING_LABELS = {
    "customer": "customer",
    "product": "product",
    "price": "price",
    "payment_method": "PaymentMethod",
    "setup_intent": "setupintent",
    "payment_intent": "payment_intent",
    "subscription": "subscription",
    "invoice": "invoice",
    "event": "event",
}


def resource_missing(
    kind: str, object_id: str, *, param: str = "id", status: int | None = None
) -> StripeAPIError:
    """404 for an id in the URL (param ``id``); 400 for an id passed as a parameter."""
    label = _MISSING_LABELS.get(kind, kind)
    if status is None:
        status = 404 if param == "id" else 400
    return invalid_request(
        f"No such {label}: '{object_id}'", param=param, code="resource_missing", status=status
    )


def card_error(
    code: str,
    message: str,
    *,
    decline_code: str | None = None,
    param: str | None = None,
    extra: JSONDict | None = None,
) -> StripeAPIError:
    return StripeAPIError(
        402, "card_error", message, code=code, decline_code=decline_code, param=param, extra=extra
    )


def api_error(message: str = "An unknown error occurred", status: int = 500) -> StripeAPIError:
    return StripeAPIError(status, "api_error", message)


def unrecognized_url(method: str, path: str) -> StripeAPIError:
    return invalid_request(
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
        "or we can help at https://support.stripe.com/.",
        status=404,
    )
