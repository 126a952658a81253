"""Every error the functions answer with, as one flat hierarchy.

Each subclass fixes an HTTP status and a stable machine-readable ``code``; the message is
always safe to show an end user (no ids of other users, no secrets, no card data).
"""

from __future__ import annotations

from core.settings import ConfigError

__all__ = ["ConfigError"]  # re-exported: billing code raises it too


class BillingError(Exception):
    status: int = 500
    code: str = "internal"
    default_message: str = "Something went wrong on our side. Please try again later."
    retryable: bool = False

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        if code is not None:
            self.code = code
        self.field = field
        self.headers = dict(headers or {})
        super().__init__(self.message)

    def body(self) -> dict[str, dict[str, str]]:
        error = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}


class BadRequest(BillingError):
    status = 400
    code = "invalid_request"
    default_message = "The request is invalid."


class Unauthenticated(BillingError):
    status = 401
    code = "unauthenticated"
    default_message = "A valid Firebase ID token is required (Authorization: Bearer <token>)."

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        super().__init__(message, code=code, headers={"WWW-Authenticate": "Bearer"})


class PaymentFailed(BillingError):
    status = 402
    code = "card_declined"
    default_message = "Your card was declined."


class Forbidden(BillingError):
    status = 403
    code = "forbidden"
    default_message = "You are not allowed to do this."


class NotFound(BillingError):
    """Also answers for objects that exist but belong to someone else: it reveals nothing."""

    status = 404
    code = "not_found"
    default_message = "Not found."


class MethodNotAllowed(BillingError):
    status = 405
    code = "method_not_allowed"

    def __init__(self, allowed: list[str]) -> None:
        super().__init__(f"Use {' or '.join(allowed)}.", headers={"Allow": ", ".join(allowed)})


class RequestTimeout(BillingError):
    status = 408
    code = "request_timeout"
    default_message = "The request body did not arrive in time."


class Conflict(BillingError):
    status = 409
    code = "conflict"
    default_message = "The request conflicts with the current state."


class PayloadTooLarge(BillingError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(BillingError):
    status = 415
    code = "unsupported_media_type"
    default_message = "Send the request body as JSON (Content-Type: application/json)."


class UpstreamUnavailable(BillingError):
    """A dependency (Stripe, Firestore, Pub/Sub, token keys) failed transiently: retry later."""

    status = 503
    code = "upstream_unavailable"
    default_message = "A service we depend on is unavailable. Please try again shortly."
    retryable = True

    def __init__(self, message: str | None = None, *, retry_after: int = 2) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})
