"""Turns exceptions from Stripe, Google Cloud and validation into :class:`BillingError`.

Closed by default: anything not recognised here becomes a 500 with a generic message, so
an unexpected exception can never leak its text to a caller.

Stripe's and Google's exception classes are looked up only in libraries already loaded: an
exception of a library this instance never imported cannot have been raised, and importing
one just to compare classes would cost a function that does not use it (the email function
has no Stripe) a tenth of a second at start.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

from pydantic import ValidationError

from billing.errors import (
    CARD_DECLINED,
    CUSTOMER_MISSING,
    DECLINES,
    IDEMPOTENCY_CONFLICT,
    IN_PROGRESS,
    INVALID_FIELD,
    PAYMENT_PROVIDER_REJECTED,
    BadRequest,
    BillingError,
    Conflict,
    ErrorCode,
    NotFound,
    PaymentFailed,
    UpstreamUnavailable,
)

if TYPE_CHECKING:
    import stripe

log = logging.getLogger(__name__)


_MESSAGE_CHARS = 500  # Stripe's messages are a sentence or two; a log line stays bounded
STRIPE_UNAVAILABLE = "The payment provider is unavailable. Please try again shortly."

_TRANSIENT_GOOGLE = (
    "ServiceUnavailable",
    "DeadlineExceeded",
    "InternalServerError",
    "TooManyRequests",
    "ResourceExhausted",
    "Aborted",
    "Unknown",
    "RetryError",
)


def _is_transient_google(exc: BaseException) -> bool:
    google_exceptions = sys.modules.get("google.api_core.exceptions")
    if google_exceptions is None:
        return False
    return isinstance(exc, tuple(getattr(google_exceptions, name) for name in _TRANSIENT_GOOGLE))


def is_resource_missing(exc: stripe.StripeError) -> bool:
    """True only for Stripe's "no such object" answer; the one place that decides it."""
    import stripe  # loaded already: ``exc`` is one of its exceptions

    return isinstance(exc, stripe.InvalidRequestError) and exc.code == "resource_missing"


def decline(code: str | None, decline_code: str | None) -> ErrorCode:
    """A decline's public code (with its message, safe to show), from Stripe's code and decline
    code: Stripe's own where it has a declared one of ours (``errors.DECLINES``), else
    ``card_declined``."""
    for key in (decline_code, code):
        if key is not None and key in DECLINES:
            return DECLINES[key]
    return CARD_DECLINED


def card_error(exc: stripe.CardError) -> PaymentFailed:
    return PaymentFailed(code=decline(exc.code, exc.error.decline_code if exc.error else None))


def _error_code(exc: stripe.StripeError) -> str | None:
    """Stripe's ``error.code``; stripe-python leaves ``exc.code`` unset on a RateLimitError."""
    return exc.code or (exc.error.code if exc.error is not None else None)


def from_stripe(exc: stripe.StripeError) -> BillingError:
    import stripe  # loaded already: ``exc`` is one of its exceptions

    if isinstance(exc, stripe.CardError):
        return card_error(exc)
    if isinstance(exc, stripe.IdempotencyError):
        return Conflict(
            "An earlier request for this is still being processed with different details. "
            "Retry with the same details, or try again later.",
            code=IDEMPOTENCY_CONFLICT,
        )
    if isinstance(exc, stripe.RateLimitError) and _error_code(exc) == "lock_timeout":
        # Another request (the customer's other tab, a webhook, Stripe itself) is changing the
        # same object, and the SDK's retries (it retries a lock timeout: Stripe sends
        # Stripe-Should-Retry: true) did not outlast it. Nothing was done: the caller retries
        # in a moment (https://docs.stripe.com/rate-limits#object-lock-timeouts).
        log.warning(
            "stripe object locked by another request",
            extra={"stripe_request_id": exc.request_id},
        )
        return Conflict(
            "Another change to your billing account is in progress. Please retry in a moment.",
            code=IN_PROGRESS,
            headers={"Retry-After": "1"},
        )
    if isinstance(exc, stripe.RateLimitError | stripe.APIConnectionError):
        # A rate limit (sent without Stripe-Should-Retry, so the SDK does not retry it): the
        # account is over Stripe's requests a second; the caller retries a little later.
        return UpstreamUnavailable(STRIPE_UNAVAILABLE)
    if isinstance(exc, stripe.InvalidRequestError):
        if is_resource_missing(exc):
            if exc.param == "customer":
                # Our Firestore link points at a customer deleted in Stripe's dashboard.
                return Conflict(
                    "Your billing account is no longer available; contact support.",
                    code=CUSTOMER_MISSING,
                )
            return NotFound()
        # Stripe's own message and request id tell an operator why (and let Stripe's support
        # find the request: https://docs.stripe.com/api/request_ids); the caller gets neither.
        log.warning(
            "stripe rejected a request",
            extra={
                "stripe_code": exc.code,
                "stripe_param": exc.param,
                "stripe_message": (exc.user_message or "")[:_MESSAGE_CHARS],
                "stripe_request_id": exc.request_id,
            },
        )
        return BadRequest(
            "The payment provider rejected the request.", code=PAYMENT_PROVIDER_REJECTED
        )
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        log.error("stripe refused our credentials; check STRIPE_SECRET_KEY")
        return BillingError()
    if isinstance(exc, stripe.APIError):
        status = exc.http_status or 500
        if status == 409:
            # Another request with the same idempotency key is still running (a double click
            # that outlasted the SDK's retries): the first one will finish the job.
            return Conflict(
                "The same request is already in progress. Please retry in a moment.",
                code=IN_PROGRESS,
                headers={"Retry-After": "1"},
            )
        if status >= 500:
            return UpstreamUnavailable(STRIPE_UNAVAILABLE)
    return BillingError()


def from_validation(exc: ValidationError) -> BadRequest:
    error = exc.errors(include_url=False, include_input=False)[0]
    field = ".".join(str(part) for part in error["loc"]) or None
    message = error["msg"]
    if error["type"] == "missing":
        message = "is required"
    elif error["type"] == "extra_forbidden":
        message = "is not a known field"
    text = f"{field}: {message}" if field else message
    return BadRequest(text, code=INVALID_FIELD, field=field)


def translate(exc: BaseException) -> BillingError:
    if isinstance(exc, BillingError):
        return exc
    stripe = sys.modules.get("stripe")
    if stripe is not None and isinstance(exc, stripe.StripeError):
        return from_stripe(exc)
    if isinstance(exc, ValidationError):
        return from_validation(exc)
    if _is_transient_google(exc):
        return UpstreamUnavailable("Our database is unavailable. Please try again shortly.")
    return BillingError()
