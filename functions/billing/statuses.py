"""Which subscription statuses are live, ended or abandoned, and which grant access.

The one home of these rules: ``create_subscription``'s "already subscribed" check, the
payment-method operations and the entitlement sync all read them from here.
"""

from __future__ import annotations

# Statuses in which a subscription still grants, or may again grant, access: a second
# subscription next to one of these would bill the user twice.
LIVE = frozenset({"active", "trialing", "past_due", "unpaid", "paused"})
ENDED = frozenset({"canceled", "incomplete_expired"})
# Checkouts that never started: they do not use up the customer's trial.
ABANDONED = frozenset({"incomplete", "incomplete_expired"})
# Every status Stripe documents; access is granted by configuration from these.
ALL_STATUSES = frozenset(
    {"active", "trialing", "past_due", "unpaid", "paused", "incomplete", "incomplete_expired",
     "canceled"}
)  # fmt: skip
DEFAULT_ACCESS_STATUSES = ("active", "trialing", "past_due")
DAY = 86_400


def grants_access(
    status: str,
    *,
    access_statuses: frozenset[str] | tuple[str, ...] = DEFAULT_ACCESS_STATUSES,
    past_due_since: int | None = None,
    grace_days: int = 0,
    now: int,
) -> bool:
    """Whether a subscription in ``status`` lets its user in at ``now`` (unix seconds).

    ``past_due`` counts only while it is in ``access_statuses`` and, when ``past_due_since``
    (when the unpaid invoice fell due) is known, for ``grace_days`` after that.
    """
    if status not in access_statuses:
        return False
    if status == "past_due" and past_due_since is not None:
        return now < past_due_since + grace_days * DAY
    return True


def rank(status: str) -> int:
    """Orders a customer's subscriptions: the one that best describes their access first."""
    order = ("active", "trialing", "past_due", "unpaid", "paused", "incomplete")
    return order.index(status) if status in order else len(order)
