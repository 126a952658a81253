"""Realistic notifications of every type, for the preview command and the tests.

Three currencies whose minor units differ (USD cents, JPY without decimals, KWD fils), names in
three scripts, and one hostile name: markup, quotes, an address, a header break and a
right-to-left override, as a user could type them into a profile.
"""

from __future__ import annotations

from typing import Any

HOSTILE_NAME = (
    '<script>alert("x")</script> O\'Brien & "Bob" <bob@evil.example>\r\n'
    "Bcc: victim@evil.example \u202eexe.pdf"
)
MARCH_1_2026 = 1772323200  # 2026-03-01T00:00:00Z
DAY = 86400


def _invoice(currency: str, amount: int, *, paid: bool, **overrides: Any) -> dict[str, Any]:
    invoice = {
        "id": "in_1QpreviewAbc",
        "number": "ACME-0042",
        "currency": currency,
        "amount_due": amount,
        "amount_paid": amount if paid else 0,
        "period_start": MARCH_1_2026,
        "period_end": MARCH_1_2026 + 31 * DAY,
        "hosted_invoice_url": "https://invoice.stripe.com/i/acct_1Preview/test_preview",
        "invoice_pdf": "https://pay.stripe.com/invoice/acct_1Preview/test_preview/pdf",
        "next_payment_attempt": None,
    }
    return invoice | overrides


def _subscription(**overrides: Any) -> dict[str, Any]:
    subscription = {
        "id": "sub_1QpreviewAbc",
        "status": "active",
        "current_period_end": MARCH_1_2026 + 31 * DAY,
        "cancel_at_period_end": False,
        "ended_at": None,
        "trial_end": None,
    }
    return subscription | overrides


def notification(
    kind: str,
    *,
    event: str = "evt_1Preview",
    name: str | None = "Ada Lovelace",
    email: str | None = "ada@example.com",
    invoice: dict[str, Any] | None = None,
    subscription: dict[str, Any] | None = None,
    livemode: bool = True,
    product: str | None = "Acme Pro",
) -> dict[str, Any]:
    """A notification.v1 document, as the webhook publishes it."""
    return {
        "version": 1,
        "notification_id": f"{event}:{kind}",
        "type": kind,
        "occurred_at": MARCH_1_2026,
        "livemode": livemode,
        "uid": "uid_ada",
        "email": email,
        "customer_name": name,
        "product_name": product,
        "subscription": subscription,
        "invoice": invoice,
    }


SAMPLES: dict[str, dict[str, Any]] = {
    "payment_succeeded-usd": notification(
        "payment_succeeded", invoice=_invoice("usd", 1999, paid=True), subscription=_subscription()
    ),
    "payment_succeeded-jpy": notification(
        "payment_succeeded",
        event="evt_1PreviewJpy",
        name="山田 太郎",
        invoice=_invoice("jpy", 1500, paid=True),
    ),
    "payment_succeeded-kwd": notification(
        "payment_succeeded",
        event="evt_1PreviewKwd",
        name="فاطمة الكويتية",
        invoice=_invoice("kwd", 12345, paid=True),
    ),
    "payment_succeeded-hostile-name": notification(
        "payment_succeeded",
        event="evt_1PreviewHostile",
        name=HOSTILE_NAME,
        invoice=_invoice("usd", 1999, paid=True),
    ),
    "payment_failed-retrying": notification(
        "payment_failed",
        invoice=_invoice("usd", 4900, paid=False, next_payment_attempt=MARCH_1_2026 + 3 * DAY),
        subscription=_subscription(status="past_due"),
    ),
    "payment_failed-final": notification(
        "payment_failed",
        event="evt_1PreviewFinal",
        name=None,
        invoice=_invoice("jpy", 5000, paid=False),
        subscription=_subscription(status="unpaid"),
    ),
    "payment_action_required": notification(
        "payment_action_required",
        invoice=_invoice("kwd", 12340, paid=False),
        subscription=_subscription(status="incomplete"),
    ),
    "subscription_canceled-at-period-end": notification(
        "subscription_canceled", subscription=_subscription(cancel_at_period_end=True)
    ),
    "subscription_canceled-ended": notification(
        "subscription_canceled",
        event="evt_1PreviewEnded",
        subscription=_subscription(status="canceled", ended_at=MARCH_1_2026 + 31 * DAY),
    ),
    "trial_will_end": notification(
        "trial_will_end",
        subscription=_subscription(status="trialing", trial_end=MARCH_1_2026 + 3 * DAY),
        livemode=False,
    ),
}
