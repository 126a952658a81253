"""The account's revenue-recovery settings: when a renewal is charged, when a failed one is
retried, and what the subscription becomes when every retry has failed.

What Stripe does (and the stand-in plays, driven by its test clock):

- A renewal invoice is created as a draft and finalized (then charged) about an hour later:
  "Stripe does everything to drive the invoice towards payment, including automatically
  finalizing draft invoices after one hour. During this wait period, the invoice shows a
  Scheduled status" (https://docs.stripe.com/invoicing/integration/automatic-advancement-collection;
  https://docs.stripe.com/billing/subscriptions/webhooks#successful-invoice-finalization). The
  draft carries ``automatically_finalizes_at``.
- A failed renewal is retried on the account's schedule, Smart Retries or a custom schedule
  ("Billing > Revenue recovery > Retries", https://docs.stripe.com/billing/revenue-recovery/smart-retries).
  Smart Retries picks its times with a model no test can predict, so the stand-in plays a
  custom schedule: retry *n* comes ``retry_schedule_days[n-1]`` days after the attempt before
  it. Each failed attempt sends ``invoice.payment_failed`` with ``attempt_count`` and
  ``next_payment_attempt`` (null once no retry is left). The product must read
  ``next_payment_attempt``, never assume a schedule.
- Stripe does not retry when no payment method is available or the issuer gave a hard decline
  code (same page, "non-retryable decline codes").
- When all retries for a payment fail, the subscription is canceled, marked ``unpaid``, or left
  ``past_due``, as the account's "Subscription status" setting says (same page, "Manage
  failed payments for subscriptions"). A subscription canceled this way has
  ``cancellation_details.reason = payment_failed``
  (https://docs.stripe.com/api/subscriptions/object#subscription_object-cancellation_details-reason).

The settings are the stand-in's options (``StandinConfig`` and ``POST /_standin/config``:
``retry_schedule_days``, ``dunning_end``), so a test picks the account it plays.
"""

from __future__ import annotations

from dataclasses import dataclass

DAY = 86_400
# "automatically finalizing draft invoices after one hour"
FINALIZE_DELAY = 3600
DUNNING_ENDS = ("canceled", "unpaid", "past_due")
# A custom schedule: Stripe's dashboard offers up to this many retries.
MAX_RETRIES = 8
# Decline codes Stripe does not retry ("non-retryable decline codes" on the Smart Retries page).
# None of the stand-in's test cards carries one today (their declines are generic_decline and
# insufficient_funds, both retried); a card added with one is not retried.
NON_RETRYABLE_DECLINES = frozenset(
    {
        "authentication_required",
        "card_not_supported",
        "card_velocity_exceeded",
        "currency_not_supported",
        "do_not_honor",
        "do_not_try_again",
        "fraudulent",
        "incorrect_number",
        "invalid_account",
        "lost_card",
        "merchant_blacklist",
        "new_account_information_available",
        "no_action_taken",
        "not_permitted",
        "pickup_card",
        "restricted_card",
        "revocation_of_all_authorizations",
        "revocation_of_authorization",
        "security_violation",
        "stolen_card",
        "stop_payment_order",
        "transaction_not_allowed",
    }
)


@dataclass(frozen=True)
class DunningSettings:
    # Days after the previous attempt for each retry (Stripe's custom schedule), in order.
    retry_schedule_days: tuple[int, ...] = (3, 5, 7)
    # The subscription's status once every retry failed: canceled | unpaid | past_due.
    end: str = "canceled"

    def __post_init__(self) -> None:
        if self.end not in DUNNING_ENDS:
            raise ValueError(f"dunning_end must be one of {', '.join(DUNNING_ENDS)}")
        if len(self.retry_schedule_days) > MAX_RETRIES or any(
            not isinstance(days, int) or isinstance(days, bool) or days < 1
            for days in self.retry_schedule_days
        ):
            raise ValueError(
                f"retry_schedule_days must be at most {MAX_RETRIES} positive whole numbers of days"
            )

    def next_attempt(self, attempt_count: int, now: int) -> int | None:
        """When the retry after failed attempt ``attempt_count`` (1: the first charge) runs,
        or None when no retry is left."""
        if attempt_count <= len(self.retry_schedule_days):
            return now + self.retry_schedule_days[attempt_count - 1] * DAY
        return None


def retryable(decline_code: str | None, code: str | None) -> bool:
    return not ({decline_code, code} & NON_RETRYABLE_DECLINES)
