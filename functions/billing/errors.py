"""Every public error code, declared once, and the exceptions that answer with them.

Each :class:`ErrorCode` below is one code a caller may see in ``{"error": {"code": ...}}``: its
HTTP status, the message it answers with unless the raise gives a more precise one (always
safe to show an end user: no ids of other users, no secrets, no card data), and when it is
answered. ``openapi.yaml`` and ``docs/reference/errors.md`` are generated from this list
(``make docs``), and a test fails when either differs from it. An exception is raised with one
of these entries (``Conflict("...", code=SAME_PRICE)``), so a code that is not declared here
cannot be answered, and a declared code cannot be raised with another status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from core.settings import ConfigError

__all__ = ["ConfigError"]  # re-exported: billing code raises it too

Audience = Literal["browser", "webhook", "any"]


@dataclass(frozen=True)
class ErrorCode:
    code: str
    status: int
    message: str  # the default safe message; a raise may give a more precise one
    when: str  # for the reference: when it is answered
    audience: Audience = "browser"  # who can receive it: the browser API, Stripe, or anyone


ERROR_CODES: list[ErrorCode] = []


def _declare(
    code: str, status: int, message: str, when: str, audience: Audience = "browser"
) -> ErrorCode:
    if any(known.code == code for known in ERROR_CODES):
        raise ValueError(f"error code {code!r} is declared twice")
    entry = ErrorCode(code, status, message, when, audience)
    ERROR_CODES.append(entry)
    return entry


# What each status means, for the reference and openapi.yaml.
STATUSES: dict[int, str] = {
    400: "Bad input: the request cannot be served as sent.",
    401: "No valid Firebase ID token in `Authorization: Bearer <token>`.",
    402: "The card was declined; `message` is safe to show the user.",
    403: "The caller may not do this.",
    404: "No such object for this caller (it does not exist, or is someone else's).",
    405: "Wrong HTTP method; the `Allow` header lists the right one.",
    408: "The request body did not arrive within `BODY_TIMEOUT_SECONDS`.",
    409: "Conflicts with the current state.",
    413: "The request body is larger than `MAX_BODY_BYTES`; refused unread, and the connection "
    "is closed.",
    415: "The request body is not `application/json`.",
    500: "An unexpected error on our side; nothing secret is in the message.",
    503: "Stripe, Firestore, Pub/Sub or the token keys are unavailable: retry after "
    "`Retry-After` seconds.",
}

# --- 400 --------------------------------------------------------------------------------------
INVALID_REQUEST = _declare(
    "invalid_request", 400, "The request is invalid.", "The request is invalid.", "any"
)
MALFORMED_JSON = _declare(
    "malformed_json",
    400,
    "The request body is not valid JSON.",
    "The body is not one JSON object (also NaN/Infinity, numbers over 64 characters, lone "
    "surrogates, nesting over 32 levels).",
)
INVALID_FIELD = _declare(
    "invalid_field",
    400,
    "A request field is invalid.",
    "A field is missing, unknown or invalid; `field` names it. Strings are taken as sent, "
    "never trimmed.",
)
INCOMPLETE_BODY = _declare(
    "incomplete_body",
    400,
    "The request body is shorter than its Content-Length.",
    "The body ended before its `Content-Length`.",
    "any",
)
PRICE_NOT_OFFERED = _declare(
    "price_not_offered",
    400,
    "price_id: this price is not offered.",
    "`price_id` is not in `ALLOWED_PRICE_IDS`.",
)
PROMOTION_CODE_INVALID = _declare(
    "promotion_code_invalid",
    400,
    "promotion_code: this code cannot be used.",
    "The promotion code is unknown, inactive, expired, not yours or not for this plan.",
)
EMAIL_REQUIRED = _declare(
    "email_required",
    400,
    "Your account has no email address; add one before subscribing.",
    "The ID token has no email (receipts go there).",
)
EMAIL_UNVERIFIED = _declare(
    "email_unverified",
    400,
    "Verify your email address before subscribing.",
    "The ID token's email is not verified (`REQUIRE_VERIFIED_EMAIL`).",
)
PAYMENT_PROVIDER_REJECTED = _declare(
    "payment_provider_rejected",
    400,
    "The payment provider rejected the request.",
    "Stripe refused the request as invalid (logged with Stripe's code).",
)
INVALID_SIGNATURE = _declare(
    "invalid_signature",
    400,
    "The Stripe-Signature header is missing or does not match.",
    "The webhook's `Stripe-Signature` is missing, stale or signed with another secret.",
    "webhook",
)
MALFORMED_EVENT = _declare(
    "malformed_event",
    400,
    "The body is not a JSON event.",
    "The webhook's body is not a Stripe event.",
    "webhook",
)

# --- 401 --------------------------------------------------------------------------------------
_TOKEN_REQUIRED = "A valid Firebase ID token is required (Authorization: Bearer <token>)."  # noqa: S105
UNAUTHENTICATED = _declare(
    "unauthenticated", 401, _TOKEN_REQUIRED, "The caller is not authenticated."
)
MISSING_TOKEN = _declare(
    "missing_token", 401, _TOKEN_REQUIRED, "No `Authorization: Bearer` header."
)
INVALID_TOKEN = _declare(
    "invalid_token",
    401,
    "The ID token is invalid.",
    "The token is malformed, forged, for another project or issued in the future (logged at "
    "INFO, never ERROR).",
)
EXPIRED_TOKEN = _declare(
    "expired_token", 401, "The ID token has expired.", "The token has expired."
)

# --- 402: Stripe's decline codes, rephrased for a customer --------------------------------------
CARD_DECLINED = _declare(
    "card_declined",
    402,
    "Your card was declined.",
    "The card was declined (any decline without a code of its own below).",
)
INSUFFICIENT_FUNDS = _declare(
    "insufficient_funds", 402, "Your card has insufficient funds.", "Declined: insufficient funds."
)
EXPIRED_CARD = _declare("expired_card", 402, "Your card has expired.", "Declined: expired card.")
INCORRECT_CVC = _declare(
    "incorrect_cvc", 402, "Your card's security code is incorrect.", "Declined: wrong CVC."
)
INCORRECT_NUMBER = _declare(
    "incorrect_number", 402, "Your card number is incorrect.", "Declined: wrong card number."
)
PROCESSING_ERROR = _declare(
    "processing_error",
    402,
    "An error occurred while processing your card. Please try again.",
    "The card could not be processed; a retry may succeed.",
)
AUTHENTICATION_REQUIRED = _declare(
    "authentication_required",
    402,
    "Your bank requires you to authenticate this payment.",
    "The bank wants 3-D Secure for an off-session payment.",
)
CARD_VELOCITY_EXCEEDED = _declare(
    "card_velocity_exceeded",
    402,
    "Your card was declined: too many attempts. Try again later.",
    "Declined: too many attempts.",
)
DECLINES: dict[str, ErrorCode] = {
    entry.code: entry for entry in ERROR_CODES if entry.status == 402 and entry != CARD_DECLINED
}

# --- 403-415 ----------------------------------------------------------------------------------
FORBIDDEN = _declare(
    "forbidden", 403, "You are not allowed to do this.", "The caller may not do this."
)
ORIGIN_NOT_ALLOWED = _declare(
    "origin_not_allowed",
    403,
    "This origin is not allowed to call the billing API.",
    "The request's `Origin` is not in `ALLOWED_ORIGINS`.",
)
NOT_FOUND = _declare(
    "not_found",
    404,
    "Not found.",
    "No such object for this caller: it does not exist, or belongs to someone else (the answer "
    "reveals nothing).",
)
METHOD_NOT_ALLOWED = _declare(
    "method_not_allowed",
    405,
    "Use POST.",
    "Not `POST` (`Allow` says which); `OPTIONS` preflight is answered for allowed origins.",
    "any",
)
REQUEST_TIMEOUT = _declare(
    "request_timeout",
    408,
    "The request body did not arrive in time.",
    "The body did not arrive within `BODY_TIMEOUT_SECONDS`.",
    "any",
)

# --- 409 --------------------------------------------------------------------------------------
CONFLICT = _declare(
    "conflict",
    409,
    "The request conflicts with the current state.",
    "The request conflicts with the current state (e.g. a subscription with several plans "
    "changed here).",
)
CUSTOMER_REQUIRED = _declare(
    "customer_required",
    409,
    "Create your billing account first.",
    "The caller has no Stripe customer yet: call create-customer first.",
)
CUSTOMER_MISSING = _declare(
    "customer_missing",
    409,
    "Your billing account is no longer available; contact support.",
    "The caller's Stripe customer was deleted in Stripe.",
)
ALREADY_SUBSCRIBED = _declare(
    "already_subscribed",
    409,
    "You already have a subscription.",
    "The caller already has a live subscription.",
)
SUBSCRIPTION_ENDED = _declare(
    "subscription_ended",
    409,
    "This subscription has ended.",
    "The subscription has ended (canceled or expired).",
)
SUBSCRIPTION_NOT_STARTED = _declare(
    "subscription_not_started",
    409,
    "This subscription has not started yet.",
    "The subscription waits for its first payment.",
)
SUBSCRIPTION_NOT_ACTIVE = _declare(
    "subscription_not_active",
    409,
    "This subscription is not active.",
    "The plan of a subscription that is not active cannot change.",
)
SAME_PRICE = _declare(
    "same_price", 409, "You are already on this plan.", "The plan change names the current price."
)
CHANGE_PENDING = _declare(
    "change_pending",
    409,
    "A plan change is already scheduled.",
    "A plan change is already scheduled for the period's end.",
)
PAYMENT_METHOD_NOT_SAVED = _declare(
    "payment_method_not_saved",
    409,
    "Save a card first.",
    "The payment method is not attached to the caller's customer.",
)
NOT_PAYABLE = _declare(
    "not_payable",
    409,
    "This invoice cannot be paid.",
    "The invoice is not open (paid, void, draft or uncollectible).",
)
IN_PROGRESS = _declare(
    "in_progress",
    409,
    "The same request is already in progress. Please retry in a moment.",
    "The same request is still being processed, or Stripe kept answering that another request "
    "is changing the same object (`lock_timeout`, after the SDK's retries): retry after "
    "`Retry-After`.",
)
IDEMPOTENCY_CONFLICT = _declare(
    "idempotency_conflict",
    409,
    "An earlier request for this is still being processed with different details. Retry with "
    "the same details, or try again later.",
    "An earlier request for the same thing with other details is still being processed.",
)

# --- 413-503 ----------------------------------------------------------------------------------
PAYLOAD_TOO_LARGE = _declare(
    "payload_too_large",
    413,
    "The request body is too large.",
    "The body is over `MAX_BODY_BYTES` (webhook: `MAX_WEBHOOK_BODY_BYTES`).",
    "any",
)
UNSUPPORTED_MEDIA_TYPE = _declare(
    "unsupported_media_type",
    415,
    "Send the request body as JSON (Content-Type: application/json).",
    "The body is not `application/json`.",
)
INTERNAL = _declare(
    "internal",
    500,
    "Something went wrong on our side. Please try again later.",
    "An unexpected error; its details are logged, never answered.",
    "any",
)
UPSTREAM_UNAVAILABLE = _declare(
    "upstream_unavailable",
    503,
    "A service we depend on is unavailable. Please try again shortly.",
    "Stripe, Firestore, Pub/Sub or Google's token keys are unavailable: retry after "
    "`Retry-After`. Every operation is safe to retry.",
    "any",
)
EVENT_IN_PROGRESS = _declare(
    "event_in_progress",
    503,
    "Another delivery of this event is being processed; retry later.",
    "Another delivery of the same event is being processed: Stripe retries later.",
    "webhook",
)

PORTAL_NOT_CONFIGURED = _declare(
    "portal_not_configured",
    500,
    "The billing portal is not set up yet. Please contact support.",
    "Stripe has no saved billing portal configuration to open the portal with: "
    "`PORTAL_CONFIGURATION_ID` is unset on an account whose portal settings were never saved, "
    "or names a configuration Stripe does not have (or an inactive one). `terraform apply` "
    "makes it (infra/stripe.tf, output `stripe_portal_configuration`); logged with Stripe's "
    "message.",
)

CLAIMS_REFUSED = _declare(
    "claims_refused",
    500,
    INTERNAL.message,
    "Firebase Auth refused to set a user's custom claims for a reason a retry alone will not "
    "fix (logged).",
    "any",
)

BY_CODE: dict[str, ErrorCode] = {entry.code: entry for entry in ERROR_CODES}


class BillingError(Exception):
    """An answer with a declared code: ``error`` is the class's own, ``code=`` a more precise
    one of the same status."""

    error: ClassVar[ErrorCode] = INTERNAL
    status: ClassVar[int]
    default_message: ClassVar[str]
    retryable: bool = False

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls.status = cls.error.status
        cls.default_message = cls.error.message

    def __init__(
        self,
        message: str | None = None,
        *,
        code: ErrorCode | None = None,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        entry = self.error if code is None else code
        if entry.status != self.status:
            raise TypeError(f"{entry.code} is a {entry.status}, not a {self.status}")
        self.code: str = entry.code
        self.message = message or entry.message
        self.field = field
        self.headers = dict(headers or {})
        super().__init__(self.message)

    def body(self) -> dict[str, dict[str, str]]:
        error = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}


BillingError.status = INTERNAL.status
BillingError.default_message = INTERNAL.message


class BadRequest(BillingError):
    error = INVALID_REQUEST


class Unauthenticated(BillingError):
    error = UNAUTHENTICATED

    def __init__(self, message: str | None = None, *, code: ErrorCode | None = None) -> None:
        super().__init__(message, code=code, headers={"WWW-Authenticate": "Bearer"})


class PaymentFailed(BillingError):
    error = CARD_DECLINED


class Forbidden(BillingError):
    error = FORBIDDEN


class NotFound(BillingError):
    """Also answers for objects that exist but belong to someone else: it reveals nothing."""

    error = NOT_FOUND


class MethodNotAllowed(BillingError):
    error = METHOD_NOT_ALLOWED

    def __init__(self, allowed: list[str]) -> None:
        super().__init__(f"Use {' or '.join(allowed)}.", headers={"Allow": ", ".join(allowed)})


class RequestTimeout(BillingError):
    error = REQUEST_TIMEOUT


class Conflict(BillingError):
    error = CONFLICT


class PayloadTooLarge(BillingError):
    error = PAYLOAD_TOO_LARGE


class UnsupportedMediaType(BillingError):
    error = UNSUPPORTED_MEDIA_TYPE


class NotConfigured(BillingError):
    """A setup step of the deployment is missing: no retry helps until an operator fixes it."""

    error = PORTAL_NOT_CONFIGURED


class UpstreamUnavailable(BillingError):
    """A dependency (Stripe, Firestore, Pub/Sub, token keys) failed transiently: retry later."""

    error = UPSTREAM_UNAVAILABLE
    retryable = True

    def __init__(self, message: str | None = None, *, retry_after: int = 2) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})
